"""Fine-tuning, full or LoRA: a short training loop with length-bucketed batches.

Each `TrainExample` is tokenized with the model's one tokenization rule
(`encode_segments([context, target])`); the loss is on the target tokens only, never on
the start-of-text token, the unscored context or padding. Examples are cut to
`cfg.max_length` tokens, dropping context from its start first, then target from its end.

Batches are built per epoch: shuffle, sort by length inside pools of 64 batches, cut into
batches, shuffle the batch order. Padding stays small (pad on the right) while batch
composition still changes from epoch to epoch. AdamW, linear warmup then cosine decay to 0
(`iclft.schedule`), gradient norm clipped at 1.0. All randomness comes from `seed`.

The model is any `TrainableLM` (iclft.models.base): this module uses only that interface.

We use our own loop rather than TRL's SFTTrainer: on this workload both run at the same speed
(benchmarks/finetune.py --trl, SmolLM2 LoRA: 51/50 vs 47/51 tokens/s, 1 thread, busy machine),
and ours applies the one tokenization rule and the loss mask directly, without TRL's defaults
(gradient checkpointing on, an end-of-text token appended) or its datasets dependency.
"""

from __future__ import annotations

import json
import math
import random
import resource
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from iclft import distributed
from iclft.config import FinetuneConfig
from iclft.errors import UserError
from iclft.models.base import LoraSpec, TrainableLM, TrainExample
from iclft.models.hf import lora_targets  # noqa: F401  (where it used to live)
from iclft.schedule import lr_factor

IGNORE = -100
GRAD_CLIP = 1.0
POOL_BATCHES = 64  # batches sorted together by length


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, T), padded on the right
    attention_mask: torch.Tensor  # 1 on real tokens
    labels: torch.Tensor  # IGNORE on start-of-text, context and padding


def encode_example(lm, ex: TrainExample, max_length: int) -> tuple[list[int], list[int]]:
    """(input ids, labels) of one example, labels IGNORE where there is no loss."""
    if ex.glued:
        ctx, tgt = lm.encode_glued(ex.context, ex.target)
    elif ex.context:
        ctx, tgt = lm.encode_segments([ex.context, ex.target])
    else:
        (ids,) = lm.encode_segments([ex.target])
        ctx, tgt = ids[:1], ids[1:]  # the start-of-text token is context
    excess = len(ctx) + len(tgt) - max_length
    if excess > 0 and len(ctx) > 1:  # keep the start-of-text token, drop the oldest context
        cut = min(excess, len(ctx) - 1)
        ctx = ctx[:1] + ctx[1 + cut :]
    ids = (ctx + tgt)[:max_length]
    labels = ([IGNORE] * len(ctx) + tgt)[:max_length]
    labels[0] = IGNORE  # the first token is never predicted
    return ids, labels


def collate(rows: list[tuple[list[int], list[int]]], pad_id: int) -> Batch:
    """Pad (ids, labels) rows on the right into one batch."""
    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (row_ids, row_labels) in enumerate(rows):
        ids[i, : len(row_ids)] = torch.tensor(row_ids)
        labels[i, : len(row_labels)] = torch.tensor(row_labels)
        mask[i, : len(row_ids)] = 1
    return Batch(ids, mask, labels)


def epoch_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index lists of one epoch's batches: similar lengths together, batch order shuffled."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * POOL_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def make_batches(lm, examples: list[TrainExample], cfg: FinetuneConfig, seed: int = 0, epochs: int = 1) -> list[Batch]:
    """The batches of the first `epochs` epochs, as `finetune` builds them (for inspection)."""
    rows = [encode_example(lm, ex, cfg.max_length) for ex in examples]
    rng, pad = random.Random(seed), lm.pad_id
    lengths = [len(ids) for ids, _ in rows]
    return [
        collate([rows[i] for i in b], pad) for _ in range(epochs) for b in epoch_batches(lengths, cfg.batch_size, rng)
    ]


def lora_spec(cfg: FinetuneConfig) -> LoraSpec | None:
    """The LoRA adapter `cfg` asks for, or None for full fine-tuning."""
    if cfg.method == "full":
        return None
    return LoraSpec(rank=cfg.lora_rank, alpha=cfg.lora_alpha, dropout=cfg.lora_dropout)


def freeze_all_but(module, parts: list[str]) -> None:
    """Leave trainable only the weights whose name contains one of `parts`. A part that names
    no weight is an error (a typo would otherwise freeze the whole model, or silently train
    less than asked)."""
    names = [name for name, _ in module.named_parameters()]
    unmatched = [part for part in parts if not any(part in name for name in names)]
    if unmatched:
        example = names[len(names) // 2] if names else "none"
        raise UserError(f"ft.train_only: {', '.join(map(repr, unmatched))} is in no weight name (one is {example!r})")
    for name, p in module.named_parameters():
        p.requires_grad_(any(part in name for part in parts))


def step_shares(rows: list, processes: int, accumulation: int) -> list[list[list]]:
    """The rows of one optimizer step split into processes × accumulation micro-batches:
    `shares[p][a]` is micro-batch `a` of process `p`. Rows arrive sorted by length, so
    contiguous chunks keep padding small; the processes' chunks of one micro-step are
    neighbours, so they take about the same time. A chunk may be empty (a short last batch)."""
    parts = processes * accumulation
    chunks = [rows[k * len(rows) // parts : (k + 1) * len(rows) // parts] for k in range(parts)]
    return [[chunks[a * processes + p] for a in range(accumulation)] for p in range(processes)]


def finetune(
    lm: TrainableLM,
    examples: list[TrainExample],
    cfg: FinetuneConfig,
    seed: int = 0,
    log_path: Path | None = None,
    progress: bool = True,
) -> dict:
    """Train `lm` in place on `examples`; returns a summary of the run.

    Afterwards `lm.module` is in eval mode with no trainable parameters; a LoRA adapter is
    merged into the weights, so `lm` scores and generates with the fine-tuned model, and
    `lm.save_finetuned(folder)` writes the result.

    Among several processes (`iclft.distributed`) every process calls this with the same
    examples: each global batch of `cfg.batch_size` examples is split into processes ×
    `cfg.gradient_accumulation` micro-batches, and the loss of each is its summed token
    cross-entropy over the global batch's scored tokens, so the gradient is that of one
    process taking the whole batch. Only the main process ends up with the trained model
    when `cfg.fsdp` shards it.
    """
    t_start = time.perf_counter()
    processes, main = distributed.world_size(), distributed.is_main()
    check_parallel(cfg, processes)
    rows = [encode_example(lm, ex, cfg.max_length) for ex in examples]
    rows = [r for r in rows if any(label != IGNORE for label in r[1])]
    if not rows:
        raise UserError(f"fine-tuning: none of the {len(examples)} examples has a target token to train on")
    lengths = [len(ids) for ids, _ in rows]
    n_batches = math.ceil(len(rows) / cfg.batch_size)
    total = cfg.steps or math.ceil(cfg.epochs * n_batches)
    device, pad = lm.device, lm.pad_id
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)

    with torch.random.fork_rng(devices=[device] if cuda else []):
        torch.manual_seed(seed)  # the same on every process: the same LoRA initialisation
        lm.start_training(lora_spec(cfg), cfg.gradient_checkpointing)
        if cfg.train_only:
            freeze_all_but(lm.module, cfg.train_only)
        model = _parallel_module(lm, cfg)
        params = [p for p in model.parameters() if p.requires_grad]
        trainable = sum(p.numel() for p in params)
        opt = torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: lr_factor(s, cfg.warmup_steps, total, decay=cfg.lr_decay)
        )
        rng = random.Random(seed)
        log = open(log_path, "a", encoding="utf-8") if log_path and main else None
        losses: list[float] = []
        tokens = slots = 0
        t_loop = time.perf_counter()
        bar = tqdm(total=total, desc="fine-tuning", disable=not (progress and main), dynamic_ncols=True)
        try:
            batches: list[list[int]] = []
            for step in range(total):
                if not batches:
                    batches = epoch_batches(lengths, cfg.batch_size, rng)
                step_rows = [rows[i] for i in batches.pop()]
                scored = sum(label != IGNORE for _, labels in step_rows for label in labels)
                shares = step_shares(step_rows, processes, cfg.gradient_accumulation)
                mine = shares[distributed.rank()]
                loss_sum = 0.0
                for a, part in enumerate(mine):
                    if not part and processes == 1:
                        continue
                    with _gradient_sync(model, cfg, sync=a == len(mine) - 1):
                        with torch.autocast(device.type, torch.bfloat16, enabled=cfg.mixed_precision == "bf16"):
                            ce = _loss_sum(model, collate(part, pad) if part else None, pad, device)
                        (ce * processes / scored).backward()  # processes average their gradients
                    loss_sum += ce.item()
                torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
                lr = opt.param_groups[0]["lr"]
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                losses.append(distributed.sum_across(loss_sum, device) / scored)
                tokens += sum(len(ids) for ids, _ in step_rows)
                slots += sum(len(part) * max(len(ids) for ids, _ in part) for share in shares for part in share if part)
                if log:
                    rec = {
                        "step": step + 1,
                        "loss": losses[-1],
                        "lr": lr,
                        "tokens": tokens,
                        "elapsed": round(time.perf_counter() - t_loop, 3),
                    }
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                bar.update()
                bar.set_postfix(loss=f"{_smooth(losses, -1):.3f}")
        finally:
            bar.close()
            if log:
                log.close()
        t_train = time.perf_counter() - t_loop
        if cfg.fsdp:
            _unshard(lm, model, main)
        del opt, sched, params, model
        if distributed.is_distributed():
            distributed.accelerator(device).free_memory()

    if main or not cfg.fsdp:
        lm.end_training()
    return {
        "method": cfg.method,
        "trainable_weights": trainable,
        "steps": total,
        "epochs": round(total / n_batches, 3),
        "examples": len(rows),
        "dropped_examples": len(examples) - len(rows),
        "batches_per_epoch": n_batches,
        "tokens": tokens,
        "tokens_per_s": round(tokens / t_train, 1),
        "padding_share": round(1 - tokens / slots, 4),
        "first_loss": _smooth(losses, 0),
        "last_loss": _smooth(losses, -1),
        "processes": processes,
        "peak_memory_gb": round(_peak_memory(device) / 1e9, 3),  # of this process
        "train_s": round(t_train, 2),
        "wall_s": round(time.perf_counter() - t_start, 2),
    }


def check_parallel(cfg: FinetuneConfig, processes: int) -> None:
    """Fine-tuning settings that cannot work with `processes` processes fail here, before any work."""
    parts = processes * cfg.gradient_accumulation
    if cfg.batch_size < parts:
        raise UserError(
            f"ft.batch_size {cfg.batch_size} is smaller than processes × ft.gradient_accumulation "
            f"({processes} × {cfg.gradient_accumulation}); each micro-batch needs an example"
        )
    if cfg.fsdp and processes < 2:
        raise UserError("ft.fsdp shards the model over several processes; run with --processes N (N ≥ 2)")


def _parallel_module(lm: TrainableLM, cfg: FinetuneConfig):
    """The module the loop trains: `lm.module` itself in one process; across processes wrapped
    for data parallelism by accelerate (DDP), or sharded with torch's FSDP2 (`cfg.fsdp`)."""
    if not distributed.is_distributed():
        return lm.module
    accelerator = distributed.accelerator(lm.device)
    if cfg.fsdp:
        return _fully_shard(lm.module)
    return accelerator.prepare_model(lm.module)


def _fully_shard(module):
    """FSDP2: each transformer block is one shard unit, the rest (embeddings, head) the root's.

    accelerate applies FSDP only on GPUs; iclft calls torch's `fully_shard` itself, so the same
    sharding runs on CPU processes (gloo) and on GPUs."""
    from torch.distributed.fsdp import fully_shard

    base = module.get_base_model() if hasattr(module, "get_base_model") else module
    blocks = set(getattr(base, "_no_split_modules", None) or [])
    for layer in module.modules():
        if type(layer).__name__ in blocks:
            fully_shard(layer)
    return fully_shard(module)


def _unshard(lm: TrainableLM, model, main: bool) -> None:
    """Gather the sharded weights on the main process and give `lm` a plain module again."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if main:
        lm.reset_trained_module(full)


@contextmanager
def _gradient_sync(model, cfg: FinetuneConfig, sync: bool):
    """Gradients are exchanged between processes only on a step's last micro-batch."""
    if sync or not distributed.is_distributed():
        yield
    elif cfg.fsdp:
        model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)
    else:
        with model.no_sync():
            yield


def _loss_sum(model, batch: Batch | None, pad: int, device) -> torch.Tensor:
    """Summed cross-entropy over the scored tokens of `batch`.

    Logits are computed only from the first scored position on: with long unscored
    contexts (FTICL), the output head over a large vocabulary is most of the cost.
    A process with no rows in a micro-batch (`None`) still runs the model on one padding
    token, with a zero loss, so that every process takes part in exchanging gradients.
    """
    if batch is None:
        out = model(input_ids=torch.tensor([[pad]], device=device), use_cache=False)
        return out.logits.sum() * 0.0
    labels = batch.labels.to(device)
    first = int((batch.labels != IGNORE).int().argmax(dim=1).min())  # >= 1: labels[:, 0] is ignored
    width = labels.shape[1]
    extra = {"logits_to_keep": width - first + 1} if first > 1 else {}
    out = model(
        input_ids=batch.input_ids.to(device),
        attention_mask=batch.attention_mask.to(device),
        use_cache=False,
        **extra,
    )
    logits = out.logits[:, -(width - first + 1) : -1]  # positions first-1 .. T-2 predict first .. T-1
    return F.cross_entropy(
        logits.float().flatten(0, 1), labels[:, first:].flatten(), ignore_index=IGNORE, reduction="sum"
    )


def _smooth(losses: list[float], end: int) -> float:
    """Mean loss of the first (end=0) or last (end=-1) tenth of the steps, at most 10 steps."""
    k = max(1, min(10, len(losses) // 10))
    window = losses[:k] if end == 0 else losses[-k:]
    return round(sum(window) / len(window), 4)


def _peak_memory(device) -> int:
    """Peak bytes: GPU memory allocated on CUDA, else the process's peak resident set."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024
