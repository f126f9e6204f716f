"""Train the organism: a small-vocabulary tokenizer and a small Llama from scratch.

One short loop (nanoGPT style): AdamW, linear warm-up then cosine decay (`iclft.schedule`),
optional bf16 autocast, `torch.set_num_threads(threads)`, on `device` (default cpu). Each batch row is one curriculum document
(right-padded, never packed), and every token's loss is weighted by its piece's role, so the
loss can focus on the queries' answers. Training runs in stages, each
with its own family mix (`stages`), then the curriculum's mix: list copying first
(induction forms in ~750 steps of it alone, and not in millions of tokens of the relational
families), then mostly forward recall (binding a question's noun to its fact), then all. The result is a normal transformers folder plus
`iclft_organism.json` (config, seed, curriculum params and hash, training curve, evals).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from iclft.models.tiny import byte_level_bpe, small_llama
from iclft.models.zoo import ORGANISM_MANIFEST as MANIFEST
from iclft.organism.curriculum import Curriculum, CurriculumParams, Piece, curriculum_hash, tokenizer_corpus
from iclft.schedule import lr_factor


@dataclass
class TrainConfig:
    # "bpe" (English merges only), "char" (bytes, no merges) or "folded" (bpe, with a word's
    # tokens independent of its case and of a plural "s": `byte_level_bpe`)
    tokenizer: str = "bpe"
    vocab_size: int = 400  # merges beyond the 256 bytes and 2 special tokens
    spelling_words: int = 0  # pretrain-pool words in the tokenizer corpus (syllable merges)
    layers: int = 4
    width: int = 128
    heads: int = 4
    seq_len: int = 512
    batch_size: int = 8
    steps: int = 2000
    lr: float = 2e-3
    init_std: float = 0.02
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.05
    threads: int = 1
    device: str = "cpu"  # cpu, cuda, cuda:1, mps or auto; "cpu" reproduces recorded CPU runs exactly
    bf16: bool = False
    seed: int = 0
    role_weights: dict[str, float] = field(default_factory=lambda: {"fact": 0.1, "prompt": 0.1, "answer": 1.0})
    # (steps, family mix) stages run first, in order; then the curriculum's own mix
    stages: list = field(default_factory=list)
    init_from: str | None = None  # start from this organism folder's weights and tokenizer (exploration)
    log_every: int = 50
    eval_every: int = 0  # 0: evaluate only at the end (if an eval function is given)
    eval_settings: dict = field(default_factory=dict)  # keyword arguments of `evaluate_model`
    unpadded: bool = False  # one forward pass per document (no padding: for long, uneven documents)
    checkpoint_every: int = 0  # save weights and optimizer state this often, to resume after a stop

    def __post_init__(self):
        at_least = {"steps": 1, "batch_size": 1, "seq_len": 2, "layers": 1, "width": 1, "heads": 1, "threads": 1,
                    "vocab_size": 0, "spelling_words": 0, "warmup_steps": 0, "log_every": 1, "eval_every": 0,
                    "checkpoint_every": 0}  # fmt: skip
        for name, least in at_least.items():
            if getattr(self, name) < least:
                raise ValueError(f"{name} must be at least {least}, got {getattr(self, name)}")
        if self.tokenizer not in ("bpe", "char", "folded"):
            raise ValueError(f"tokenizer must be 'bpe', 'char' or 'folded', got {self.tokenizer!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not a multiple of heads {self.heads}")
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1 or self.weight_decay < 0 or self.init_std <= 0:
            raise ValueError("lr and init_std must be positive, min_lr_ratio in [0, 1], weight_decay at least 0")


def build_tokenizer(kind: str, vocab_size: int, spelling_words: int = 0):
    """A byte-level tokenizer: BPE merges learned from the English template text only, or none."""
    from tokenizers import pre_tokenizers

    size = len(pre_tokenizers.ByteLevel.alphabet()) + 2 + (0 if kind == "char" else vocab_size)
    return byte_level_bpe(tokenizer_corpus(spelling_words), size, folded=kind == "folded")


def encode_doc(
    tokenizer, pieces: list[Piece], role_weights: dict[str, float], max_len: int
) -> tuple[list[int], list[float]]:
    """Token ids (start token first) and the loss weight of each token as a target."""
    ids, weights = [tokenizer.bos_token_id], [0.0]
    for piece in pieces:
        piece_ids = tokenizer(piece.text, add_special_tokens=False)["input_ids"]
        ids += piece_ids
        weights += [role_weights.get(piece.role, 0.0)] * len(piece_ids)
    return ids[:max_len], weights[:max_len]


def build_model(cfg: TrainConfig, tokenizer):
    return small_llama(
        tokenizer, cfg.width, cfg.layers, cfg.heads, cfg.heads, 4 * cfg.width, cfg.seq_len, cfg.seed, cfg.init_std
    )


def lr_at(step: int, cfg: TrainConfig) -> float:
    return cfg.lr * lr_factor(step, cfg.warmup_steps, cfg.steps, cfg.min_lr_ratio)


def stage_mix(cfg: TrainConfig, step: int) -> dict[str, float] | None:
    """The family mix of `step`: its stage's, or None (the curriculum's own) after the stages."""
    end = 0
    for steps, mix in cfg.stages:
        end += steps
        if step < end:
            return mix
    return None


def batch_docs(tokenizer, curriculum: Curriculum, cfg: TrainConfig, step: int) -> list[tuple[list, list]]:
    """(token ids, target weights) of each document of batch `step`."""
    mix = stage_mix(cfg, step)
    indices = range(step * cfg.batch_size, (step + 1) * cfg.batch_size)
    return [encode_doc(tokenizer, curriculum.doc(i, mix=mix), cfg.role_weights, cfg.seq_len + 1) for i in indices]


def padded(docs: list[tuple[list, list]], pad: int):
    """Input ids, targets and target weights of `docs`, right-padded to one width."""
    import torch

    width = max(len(ids) for ids, _ in docs)
    ids = torch.tensor([d + [pad] * (width - len(d)) for d, _ in docs])
    weights = torch.tensor([w + [0.0] * (width - len(w)) for _, w in docs])
    return ids[:, :-1], ids[:, 1:], weights[:, 1:]


def weighted_loss(model, inputs, targets, weights, bf16: bool, total_weight=None):
    """Weighted mean cross-entropy; with `total_weight`, the weighted sum over that total
    (so per-document passes add up to the loss of the whole batch)."""
    import torch

    device = next(model.parameters()).device
    inputs, targets, weights = inputs.to(device), targets.to(device), weights.to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=inputs).logits
    losses = torch.nn.functional.cross_entropy(logits.float().transpose(1, 2), targets, reduction="none")
    total = weights.sum() if total_weight is None else torch.tensor(float(total_weight))
    return (losses * weights).sum() / total.clamp(min=1e-6)


def batch_step(model, tokenizer, curriculum, cfg: TrainConfig, step: int) -> tuple[float, int]:
    """Forward and backward of batch `step`: (loss, target tokens). Padded, or one pass per
    document (`unpadded`), with the same loss: the weighted sum over the batch's total weight."""
    docs = batch_docs(tokenizer, curriculum, cfg, step)
    pad = tokenizer.pad_token_id
    if not cfg.unpadded:
        inputs, targets, weights = padded(docs, pad)
        loss = weighted_loss(model, inputs, targets, weights, cfg.bf16)
        loss.backward()
        return loss.item(), int((targets != pad).sum())
    total = sum(sum(w[1:]) for _, w in docs)
    loss_sum, tokens = 0.0, 0
    for doc in docs:
        inputs, targets, weights = padded([doc], pad)
        loss = weighted_loss(model, inputs, targets, weights, cfg.bf16, total_weight=total)
        loss.backward()
        loss_sum += loss.item()
        tokens += targets.numel()
    return loss_sum, tokens


def make_optimizer(model, cfg: TrainConfig):
    """AdamW, with weight decay on matrices only."""
    import torch

    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
        betas=(0.9, 0.95),
    )


def train_step(model, tokenizer, curriculum, optimizer, cfg: TrainConfig, step: int) -> tuple[float, int]:
    """One optimizer step on batch `step` at its scheduled learning rate: (loss, target tokens)."""
    import torch

    for group in optimizer.param_groups:
        group["lr"] = lr_at(step, cfg)
    optimizer.zero_grad(set_to_none=True)
    loss, batch_tokens = batch_step(model, tokenizer, curriculum, cfg, step)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss, batch_tokens


def train(
    cfg: TrainConfig,
    params: CurriculumParams,
    out: str | Path,
    evaluate: Callable[[Path], dict] | None = None,
    progress: bool = True,
    command: str | None = None,
    recipe: dict | None = None,
) -> Path:
    """Train and save the organism to `out`; `evaluate(folder)` is run on saved checkpoints.
    `command` (the command line that ran this) and `recipe` (its recipe and phase, if any)
    are recorded in the manifest."""
    import torch

    from iclft.models.hf import pick_device

    torch.set_num_threads(cfg.threads)
    out = Path(out)
    curriculum = Curriculum(params)
    if cfg.init_from:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(cfg.init_from)
        model = AutoModelForCausalLM.from_pretrained(cfg.init_from)
    else:
        tokenizer = build_tokenizer(cfg.tokenizer, cfg.vocab_size, cfg.spelling_words)
        model = build_model(cfg, tokenizer)
    tokenizer.model_max_length = cfg.seq_len
    model.config.max_position_embeddings = max(model.config.max_position_embeddings, cfg.seq_len)
    model.to(pick_device(cfg.device))
    optimizer = make_optimizer(model, cfg)
    state = {"step": 0, "tokens": 0, "running": None, "seconds": 0.0, "curve": [], "evals": []}
    resumed = load_checkpoint(out, cfg, params, model, optimizer)
    if resumed:
        state = resumed
        if progress:
            print(json.dumps({"resumed_at_step": state["step"]}), flush=True)
    curve, evals, tokens, running = state["curve"], state["evals"], state["tokens"], state["running"]
    start = time.time() - state["seconds"]
    for step in range(state["step"], cfg.steps):
        loss, batch_tokens = train_step(model, tokenizer, curriculum, optimizer, cfg, step)
        tokens += batch_tokens
        running = loss if running is None else 0.9 * running + 0.1 * loss
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps:
            row = {
                "step": step + 1,
                "tokens": tokens,
                "loss": round(running, 4),
                "seconds": round(time.time() - start, 1),
            }
            curve.append(row)
            if progress:
                print(json.dumps(row), flush=True)
        if evaluate and cfg.eval_every and (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.steps:
            _save(model, tokenizer, out, cfg, params, curve, evals, command, recipe)
            evals.append({"step": step + 1, "tokens": tokens, **evaluate(out)})
            if progress:
                print(json.dumps(evals[-1]), flush=True)
        if cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            seconds = time.time() - start
            save_checkpoint(out, cfg, params, model, optimizer, dict(state, step=step + 1, tokens=tokens,
                            running=running, seconds=seconds, curve=curve, evals=evals))  # fmt: skip
    _save(model, tokenizer, out, cfg, params, curve, evals, command, recipe)
    if evaluate:
        evals.append({"step": cfg.steps, "tokens": tokens, **evaluate(out)})
        if progress:
            print(json.dumps(evals[-1]), flush=True)
        _write_manifest(out, cfg, params, curve, evals, command, recipe)
    (out / CHECKPOINT).unlink(missing_ok=True)
    return out


CHECKPOINT = "checkpoint.pt"


def _run_key(cfg: TrainConfig, params: CurriculumParams) -> str:
    """What a checkpoint must match to be resumed: every setting but the progress ones."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("threads", "device", "log_every")}
    return json.dumps([settings, params.to_dict()], sort_keys=True, default=str)


def save_checkpoint(out: Path, cfg, params, model, optimizer, state: dict) -> None:
    """Weights, optimizer state and progress, written atomically to `out/checkpoint.pt`."""
    import torch

    out.mkdir(parents=True, exist_ok=True)
    payload = {"key": _run_key(cfg, params), "model": model.state_dict(), "optimizer": optimizer.state_dict(), **state}
    tmp = out / (CHECKPOINT + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(out / CHECKPOINT)


def load_checkpoint(out: Path, cfg, params, model, optimizer) -> dict | None:
    """The progress of a checkpoint in `out` from a run with the same settings (weights and
    optimizer state loaded), or None. A checkpoint of other settings is an error, not reused."""
    import torch

    path = out / CHECKPOINT
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if payload.get("key") != _run_key(cfg, params):
        raise ValueError(f"{path} is a checkpoint of other settings: remove it, or train into another folder")
    model.load_state_dict(payload.pop("model"))
    optimizer.load_state_dict(payload.pop("optimizer"))
    payload.pop("key")
    return payload


def _save(model, tokenizer, out: Path, cfg, params, curve, evals, command, recipe) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _write_manifest(out, cfg, params, curve, evals, command, recipe)


def _write_manifest(out: Path, cfg: TrainConfig, params: CurriculumParams, curve, evals, command=None, recipe=None):
    parent = Path(cfg.init_from) / MANIFEST if cfg.init_from else None
    manifest = {
        "command": command,
        "parent": json.loads(parent.read_text()) if parent and parent.is_file() else None,
        "train_config": asdict(cfg),
        "seed": cfg.seed,
        "curriculum": params.to_dict(),
        "curriculum_params_hash": params.hash(),
        "curriculum_hash": curriculum_hash(params),
        "curve": curve,
        "evals": evals,
    }
    if recipe:
        manifest["recipe"] = recipe
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    tmp.replace(out / MANIFEST)
