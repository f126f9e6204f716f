#!/usr/bin/env bash
# iclft's benchmarks on a CUDA device in bf16: scoring (prefix reuse vs naive forwards; side by
# side with lm-eval and against the FLOP floor), LoRA fine-tuning and generation.
#
#   bash benchmarks/gpu.sh [MODEL]        # default smollm2-135m; run from the repository root
#
# STUDY=data/task-study (a folder from `iclft data import task-study`) times the task study's
# greedy generation against plain transformers generate; without it, reversal answers are timed.
# PYTHON picks the interpreter (default: python). Each script prints its own figures.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
MODEL=${1:-smollm2-135m}
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "benchmarks/gpu.sh: error: no CUDA device (torch.cuda.is_available() is False)" >&2
  exit 2
fi
"$PYTHON" -c 'import torch; print("device:", torch.cuda.get_device_name(0), "| torch", torch.__version__)'

run() {
  echo
  echo "== $*"
  "$PYTHON" "$@"
}
run benchmarks/scoring.py --model "$MODEL" --device cuda --dtype bfloat16
run benchmarks/vs_lmeval.py --model "$MODEL" --device cuda --dtype bfloat16 --items 20
run benchmarks/finetune.py --model "$MODEL" --device cuda --dtype bfloat16
if [[ -n "${STUDY:-}" ]]; then
  run benchmarks/generation.py --model "$MODEL" --device cuda --dtype bfloat16 --data "$STUDY"
else
  run benchmarks/generation.py --model "$MODEL" --device cuda --dtype bfloat16 --reversal
fi
