"""Fine-tuning memory: measured on SmolLM2, predicted by `iclft.memory.estimate`, and predicted for larger models.

    python benchmarks/memory.py                          # measure 8 configurations, then the tables
    python benchmarks/memory.py --mmap-threshold 65536   # the same with glibc's MALLOC_MMAP_THRESHOLD_ fixed
    python benchmarks/memory.py --count-only             # only the activations autograd keeps, counted
    python benchmarks/memory.py --predict-only           # only the predictions for 1B, 7B and 70B

Measured: LoRA (rank 16) and full fine-tuning of SmolLM2-135M in fp32, each with and without
gradient checkpointing, on two data settings:
  docs: the reversal documents one per example (11-18 tokens), batch 16;
  long: the reversal documents joined into examples of 512 tokens, batch 2 (activations matter).
Each configuration runs in a fresh process (the peak resident set is a lifetime figure) for 2
optimizer steps (AdamW's states exist from the first step on, so step 2 holds everything).
Before training the process has loaded the model, read all its weights (transformers maps
them from the model file: untouched pages are not resident) and imported peft; its peak
resident set is then reset (/proc/self/clear_refs), and read again when the training loop
ends (before a LoRA adapter is merged into the weights).
On CPU the resident set includes the Python and torch runtime; the training increment
(peak during training minus resident set before) is what `estimate` predicts. glibc's default
allocator keeps freed heap memory, so the resident set runs above the live tensors; with
--mmap-threshold 65536 large blocks go back to the system when freed and the increment follows
the live tensors (docs/performance.md, "Fine-tuning memory", has the figures).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys

SETTINGS = {"docs": {"batch_size": 16, "join_tokens": 0}, "long": {"batch_size": 2, "join_tokens": 512}}
STEPS = 2
GB = 1e9


def status_bytes(field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident since start or last reset) of this process."""
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def examples_for(lm, join_tokens: int):
    """Reversal documents one per example, or joined (blank line between) into examples of
    at least `join_tokens` tokens (fine-tuning cuts them to its max_length)."""
    from iclft.benchmarks.reversal import make_reversal
    from iclft.models import TrainExample

    texts = [d.text for d in make_reversal(seed=0).documents]
    if not join_tokens:
        return [TrainExample(t) for t in texts]
    joined, current = [], []
    for text in texts:
        current.append(text)
        if lm.count_tokens("\n\n".join(current)) >= join_tokens:
            joined.append(TrainExample("\n\n".join(current)))
            current = []
    return joined


def measure_one(setting: str, method: str, checkpointing: bool) -> dict:
    """Run in a fresh process: load SmolLM2, fine-tune STEPS steps, report resident set sizes."""
    import peft  # noqa: F401  (imported before the baseline: LoRA needs it, full does not)

    from iclft.config import FinetuneConfig, ModelConfig
    from iclft.exposure.finetune import finetune, make_batches
    from iclft.models import load_model

    lm = load_model(ModelConfig(name="smollm2-135m", device="cpu"))
    spec = SETTINGS[setting]
    examples = examples_for(lm, spec["join_tokens"])
    cfg = FinetuneConfig(
        method=method,
        steps=STEPS,
        batch_size=spec["batch_size"],
        lora_rank=16,
        lora_alpha=32,
        warmup_steps=1,
        max_length=512,
        gradient_checkpointing=checkpointing,
    )
    batches = make_batches(lm, examples, cfg)[-STEPS:]  # finetune takes the epoch's batches from the end
    widest = max(batches, key=lambda b: b.n_slots)
    for param in lm.module.parameters():  # the weights are mapped from the model file: read them all in
        param.data.sum()
    load_peak = status_bytes("VmHWM")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current resident set
    before = status_bytes("VmRSS")
    peaks = []
    end_training = lm.end_training  # after the training loop; merging LoRA then writes the weights

    def peak_then_end_training():
        peaks.append(status_bytes("VmHWM"))
        end_training()

    lm.end_training = peak_then_end_training
    summary = finetune(lm, examples, cfg, progress=False)
    peak = peaks[0]
    return {
        "setting": setting,
        "method": method,
        "checkpointing": checkpointing,
        "batch": list(widest.input_ids.shape),
        "padded": bool((widest.attention_mask == 0).any()),
        "load_peak_gb": round(load_peak / GB, 3),
        "before_gb": round(before / GB, 3),
        "train_peak_gb": round(peak / GB, 3),
        "increment_gb": round((peak - before) / GB, 3),
        "ru_maxrss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB, 3),
        "summary_peak_memory_gb": summary["peak_memory_gb"],
        "tokens_per_s": summary["tokens_per_s"],
        "threads": __import__("torch").get_num_threads(),
    }


def predicted_increment(run: dict) -> dict:
    """`estimate` for a measured run; the increment is everything but the base weights."""
    from iclft.memory import SMOLLM2_135M, estimate, parameter_count

    batch, seq = run["batch"]
    parts = estimate(
        SMOLLM2_135M,
        method=run["method"],
        lora_rank=16,
        batch_size=batch,
        seq_len=seq,
        gradient_checkpointing=run["checkpointing"],
        padded=run["padded"],
        foreach_optimizer=False,  # on CPU, torch's AdamW steps one tensor at a time
    )
    parts["increment"] = parts["peak"] - parameter_count(SMOLLM2_135M) * 4
    return parts


def counted_activations(setting: str, method: str) -> tuple[int, int, bool]:
    """Bytes autograd keeps for backward in one forward pass of SmolLM2 over the setting's widest
    batch (without checkpointing), counted by storage through `saved_tensors_hooks`; weights
    excluded. Returns (bytes, tokens per sequence, padded)."""
    import torch

    from iclft.config import FinetuneConfig, ModelConfig
    from iclft.exposure.finetune import lora_spec, make_batches
    from iclft.models import load_model

    lm = load_model(ModelConfig(name="smollm2-135m", device="cpu"))
    spec = SETTINGS[setting]
    cfg = FinetuneConfig(method=method, batch_size=spec["batch_size"], lora_rank=16, lora_alpha=32, max_length=512)
    batch = max(make_batches(lm, examples_for(lm, spec["join_tokens"]), cfg), key=lambda b: b.n_slots)
    lm.start_training(lora_spec(cfg))
    storages: dict[int, int] = {}

    def keep(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
        lm.module(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    weights = {p.untyped_storage().data_ptr() for p in lm.module.parameters()}
    lm.end_training()
    padded = bool((batch.attention_mask == 0).any())
    return sum(n for ptr, n in storages.items() if ptr not in weights), list(batch.input_ids.shape), padded


def print_counted() -> None:
    from iclft.memory import SMOLLM2_135M, estimate

    print("\nActivations kept for backward, one forward pass, no checkpointing (GB): counted vs estimate")
    for setting in SETTINGS:
        for method in ("lora", "full"):
            counted, (b, t), padded = counted_activations(setting, method)
            pred = estimate(SMOLLM2_135M, method=method, batch_size=b, seq_len=t, padded=padded)["activations"]
            print(
                f"  {setting:5s} {method:5s} {b}×{t}  counted {counted / GB:.3f}  estimate {pred / GB:.3f}  ratio {pred / counted:.3f}"
            )


def measure_all(settings: list[str], mmap_threshold: int | None) -> list[dict]:
    env = dict(os.environ)
    if mmap_threshold:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    runs = []
    for setting in settings:
        for method in ("lora", "full"):
            for checkpointing in (False, True):
                args = [sys.executable, __file__, "--one", json.dumps([setting, method, checkpointing])]
                out = subprocess.run(args, capture_output=True, text=True, check=True, env=env).stdout
                run = json.loads(out.strip().splitlines()[-1])
                runs.append(run)
                print(json.dumps(run), flush=True)
    return runs


def print_comparison(runs: list[dict]) -> None:
    print("\nSmolLM2-135M fp32, 2 steps, CPU: resident set (GB) and predicted training increment")
    head = "setting  method  ckpt  batch×seq  before  train peak  increment  predicted  pred/meas"
    print(head)
    for r in runs:
        pred = predicted_increment(r)["increment"] / GB
        b, t = r["batch"]
        print(
            f"{r['setting']:8s} {r['method']:6s} {'on ' if r['checkpointing'] else 'off'}  {b:3d}×{t:<5d}  "
            f"{r['before_gb']:6.2f}  {r['train_peak_gb']:10.2f}  {r['increment_gb']:9.2f}  {pred:9.2f}  "
            f"{pred / r['increment_gb']:9.2f}"
        )


def print_predictions() -> None:
    from iclft.memory import LLAMA_2_7B, LLAMA_3_2_1B, LLAMA_3_70B, estimate, parameter_count

    models = {"Llama-3.2-1B": LLAMA_3_2_1B, "Llama-2-7B": LLAMA_2_7B, "Llama-3-70B": LLAMA_3_70B}
    cols = ["weights", "fsdp_gathered", "gradients", "optimizer", "activations", "logits", "peak"]
    print(
        "\nPredicted per process (GB): bf16 weights (no autocast), micro-batch 8 × 2048 tokens per process, SDPA, padded"
    )
    print(f"{'model':13s} {'params':>7s} {'method':6s} {'ckpt':4s} {'FSDP':4s} " + " ".join(f"{c:>11s}" for c in cols))
    for name, shape in models.items():
        for method in ("lora", "full"):
            for fsdp in (False, True):
                for ckpt in (False, True):
                    parts = estimate(
                        shape,
                        method=method,
                        weight_dtype="bfloat16",
                        batch_size=8,
                        seq_len=2048,
                        gradient_checkpointing=ckpt,
                        processes=8 if fsdp else 1,
                        fsdp=fsdp,
                    )
                    print(
                        f"{name:13s} {parameter_count(shape) / 1e9:6.2f}B {method:6s} {'on' if ckpt else 'off':4s} "
                        f"{'8' if fsdp else '-':4s} " + " ".join(f"{parts[c] / GB:11.1f}" for c in cols)
                    )
    n = parameter_count(LLAMA_2_7B)
    print(f"\nLlama-2-7B has {n / 1e9:.2f}B parameters. AdamW's 2 states per parameter alone:")
    print(f"  in bf16 (torch's AdamW on bf16 weights, as iclft trains them): 2 × 2 B × {n:.3g} = {4 * n / GB:.0f} GB")
    print(f"  in fp32: 2 × 4 B × {n:.3g} = {8 * n / GB:.0f} GB")
    print(f"  with an fp32 master copy counted as optimizer state (12 B per parameter): {12 * n / GB:.0f} GB")
    print(
        f"  16 B per parameter is weights + gradients + states: fp32 4 + 4 + 8, or mixed precision with a master "
        f"copy 2 + 2 + 12: {16 * n / GB:.0f} GB (16 B × 7e9 = 112 GB)"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--one", help=argparse.SUPPRESS)  # [setting, method, checkpointing]: a child process
    p.add_argument("--predict-only", action="store_true")
    p.add_argument("--count-only", action="store_true", help="only count the activations kept for backward")
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    p.add_argument(
        "--mmap-threshold",
        type=int,
        help="run the measured processes with glibc's MALLOC_MMAP_THRESHOLD_ set to this many bytes: "
        "larger blocks then go back to the system when freed, so the resident set follows the live tensors",
    )
    a = p.parse_args()
    if a.one:
        print(json.dumps(measure_one(*json.loads(a.one))))
        return
    if a.count_only:
        print_counted()
        return
    if not a.predict_only:
        print(f"load before: {os.getloadavg()[0]:.2f}")
        runs = measure_all(a.settings, a.mmap_threshold)
        print(f"load after (1 min avg): {os.getloadavg()[0]:.2f}")
        print_comparison(runs)
        print_counted()
    print_predictions()


if __name__ == "__main__":
    main()
