"""Fine-tuning speed: LoRA (or full) fine-tuning of an embedded model on the reversal documents.

    python benchmarks/finetune.py                      # SmolLM2, LoRA rank 16, 30 steps of 8, fp32
    python benchmarks/finetune.py --dtype bfloat16
    python benchmarks/finetune.py --trl                # the same run with TRL's SFTTrainer

Prints tokens/s (non-padding tokens through forward + backward + step), the share of padding
tokens, peak memory and the loss. Goals on 2 CPU cores, fp32 LoRA: >= 150 tokens/s, <= 10%
padding, <= 3 GB peak. The machine load is printed too: other work on the cores slows it.

Then tokens/s as a share of the FLOP bound at this machine's matmul peak in the run's dtype
(`flops.py`; P = linear weights + output head, which runs at every position): 6·P per token
(forward 2P, backward 2P for the activations' gradients and 2P for the weights' gradients: a
full fine-tune's bound) and, for LoRA, 4·P + 6·(adapter weights) per token (the frozen weights
get no gradients; the adapters' own work is tiny). Attention is left out (under 1% for these
documents of ~15 tokens).
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from flops import Shape, lora_params, matmul_peak, training_flops_per_token

from iclft.benchmarks.reversal import make_reversal
from iclft.config import FinetuneConfig, ModelConfig
from iclft.exposure.finetune import _peak_memory, finetune
from iclft.models import TrainExample, load_model


def run_trl(lm, texts: list[str], cfg: FinetuneConfig, seed: int) -> dict:
    """The same run through TRL's SFTTrainer (LoRA via PEFT, length-grouped batches)."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    from iclft.exposure.finetune import lora_targets

    if getattr(lm.module, "hf_quantizer", None) is not None:  # a dequantized GGUF still says "gguf"
        lm.module.hf_quantizer, lm.module.is_quantized = None, False
    ids = [sum(lm.encode_segments([t]), []) for t in texts]  # our tokenization rule, pre-tokenized
    data = Dataset.from_dict({"input_ids": ids})
    args = SFTConfig(
        output_dir="/tmp/iclft-trl-bench",
        max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate,
        warmup_steps=cfg.warmup_steps,
        lr_scheduler_type="cosine",
        max_grad_norm=1.0,
        seed=seed,
        logging_steps=10,
        save_strategy="no",
        report_to=[],
        train_sampling_strategy="group_by_length",
        dataloader_num_workers=0,
        use_cpu=lm.device.type == "cpu",
        bf16=False,
        max_length=cfg.max_length,
        gradient_checkpointing=False,  # as in our loop
    )
    lora = LoraConfig(
        r=cfg.lora_rank,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=lora_targets(lm.module),
        task_type="CAUSAL_LM",
    )
    trainer = SFTTrainer(
        model=lm.module, args=args, train_dataset=data, peft_config=lora, processing_class=lm.tokenizer
    )
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start  # includes TRL's own setup inside train()
    logs = [r for r in trainer.state.log_history if "loss" in r]
    tokens = logs[-1]["num_tokens"]  # non-padding tokens, counted by TRL
    return {
        "steps": cfg.steps,
        "tokens": tokens,
        "tokens_per_s": round(tokens / seconds, 1),
        "first_loss (mean of 10 steps)": logs[0]["loss"],
        "last_loss (mean of 10 steps)": logs[-1]["loss"],
        "peak_memory_gb": round(_peak_memory(lm.device) / 1e9, 3),
        "train_s": round(seconds, 2),
    }


def print_flop_share(lm, tokens_per_s: float, method: str, rank: int) -> None:
    shape = Shape.of(lm.module.config)
    peak = matmul_peak(lm.dtype, device=str(lm.device))
    per_token = training_flops_per_token(shape, lora_params(shape, rank) if method == "lora" else 0)
    bounds = {"6P (full)": per_token["full"]}
    if method == "lora":
        bounds["4P + 6 LoRA"] = per_token["lora"]
    print(f"  matmul peak ({lm.dtype}, 2048x2048)  {peak / 1e9:.0f} GFLOP/s")
    for name, flops in bounds.items():
        bound = peak / flops
        print(
            f"  bound {name:14s}     {bound:.0f} tokens/s ({flops / 1e9:.2f} GFLOP/token); measured {tokens_per_s / bound:.1%}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--device", default="auto")
    p.add_argument("--method", default="lora", choices=["lora", "full"])
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--trl", action="store_true", help="train with TRL's SFTTrainer instead of our loop")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    lm = load_model(ModelConfig(name=a.model, dtype=a.dtype, device=a.device))
    texts = [d.text for d in make_reversal(seed=0).documents]
    cfg = FinetuneConfig(
        method=a.method,
        steps=a.steps,
        batch_size=a.batch_size,
        lora_rank=a.rank,
        lora_alpha=2 * a.rank,
        learning_rate=a.lr,
        warmup_steps=min(10, a.steps // 3),
    )
    print(
        f"{a.model} {a.dtype} {a.method}{' (TRL)' if a.trl else ''}, {len(texts)} documents, "
        f"{a.steps} steps x {a.batch_size}, {torch.get_num_threads()} threads, load before: {os.getloadavg()[0]:.2f}"
    )
    if a.trl:
        summary = run_trl(lm, texts, cfg, a.seed)
    else:
        summary = finetune(lm, [TrainExample(t) for t in texts], cfg, seed=a.seed, progress=False)
    for key, value in summary.items():
        print(f"  {key:24s} {value}")
    print_flop_share(lm, summary["tokens_per_s"], a.method, a.rank)
    print(f"  load after (1 min avg)   {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
