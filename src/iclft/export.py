"""`iclft export RUN_DIR --out DIR`: a fine-tuned run's weights as a folder other tools load.

    LoRA runs   a PEFT adapter:  PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), DIR)
    full runs   a model folder:  AutoModelForCausalLM.from_pretrained(DIR)

Both hold the tokenizer and a README.md model card naming the benchmark, the condition, the
fine-tuning settings and the run's accuracy per split.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from iclft.errors import UserError
from iclft.exposure.checkpoint import checkpoint_meta, is_checkpoint
from iclft.runs.atomic import atomic_dir


def checkpoint_of(run_dir: Path, config) -> Path:
    """The checkpoint folder a fine-tuned run was scored with."""
    from iclft.experiment import checkpoint_key

    return run_dir.parent / "checkpoints" / checkpoint_key(config)


def export_run(run_dir: str | Path, out: str | Path) -> Path:
    """Copy the fine-tuned weights of the finished run `run_dir` into `out`, with a model card."""
    from iclft.config import load_config
    from iclft.runs import layout

    run_dir, out = Path(run_dir), Path(out)
    if not layout.is_finished(run_dir):
        raise UserError(f"{run_dir}: not a finished run directory (no config.yaml and metrics.json)")
    config = load_config(run_dir / layout.CONFIG)
    if not config.cond.fine_tunes:
        raise UserError(f"{run_dir}: condition '{config.condition}' does not fine-tune; there are no weights to export")
    ckpt = checkpoint_of(run_dir, config)
    if not is_checkpoint(ckpt):
        raise UserError(
            f"{ckpt}: fine-tuned weights missing or in an older format; run the experiment again to write them"
        )
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        raise UserError(f"--out {out}: folder is not empty")

    metrics = json.loads((run_dir / "metrics.json").read_text())
    if out.is_dir():
        out.rmdir()
    with atomic_dir(out) as tmp:
        shutil.copytree(ckpt, tmp, dirs_exist_ok=True)
        card = model_card(config, metrics, checkpoint_meta(ckpt) or {}, run_dir)
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return out


def model_card(config, metrics: dict, meta: dict, run_dir: Path) -> str:
    """README.md of an exported run: what was trained on what, how it scored, how to load it."""
    lora = config.ft.method == "lora"
    ft = config.ft.model_dump()
    base = config.model.name
    rows = "\n".join(
        f"| {split} | {m['n']} | {m['accuracy']:.3f} | {m['stderr']:.3f} | {m['chance']:.3f} |"
        for split, m in sorted(metrics.get("splits", {}).items())
    )
    if lora:
        from iclft.models.zoo import ZOO

        where = f"iclft.models.zoo.model_folder({base!r})" if base in ZOO else base
        load = (
            f"from peft import PeftModel\nfrom transformers import AutoModelForCausalLM\n\n"
            f"base = AutoModelForCausalLM.from_pretrained(BASE_MODEL_FOLDER)  # {where}\n"
            f"model = PeftModel.from_pretrained(base, THIS_FOLDER)"
        )
    else:
        load = (
            "from transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            "model = AutoModelForCausalLM.from_pretrained(THIS_FOLDER)\n"
            "tokenizer = AutoTokenizer.from_pretrained(THIS_FOLDER)"
        )
    settings = ", ".join(f"{k}={v}" for k, v in sorted(ft.items()) if v is not None)
    return f"""---
library_name: {"peft" if lora else "transformers"}
tags:
- iclft
---

# {config.benchmark.name} / {config.condition}: {"a LoRA adapter" if lora else "a fully fine-tuned model"}

Exported by `iclft export` from the run `{run_dir.name}`.

- Benchmark: {config.benchmark.name} (seed {config.benchmark.seed}, sha256 {metrics.get("benchmark_sha256", "unknown")})
- Condition: {config.condition}
- Base model: {base} ({config.model.dtype}; weights fingerprint {meta.get("base_fingerprint") or "unknown"})
- Fine-tuning: {settings}; seed {config.seed}

## Metrics

Accuracy per split ({metrics.get("headline", "sum")} log-likelihood), as the run scored this model:

| split | n | accuracy | stderr | chance |
|---|---|---|---|---|
{rows}

## Loading

```python
{load}
```

Texts start with the base model's start-of-text token; each option is scored after the
question with a space between them, as iclft scores it.
"""
