"""Fine-tuned weights on disk, in the formats other tools read.

    <checkpoint>/
        adapter_config.json, adapter_model.safetensors   LoRA: a PEFT adapter
                                                         (PeftModel.from_pretrained(base, folder))
        config.json, model.safetensors, ...              full: a transformers model folder
                                                         (AutoModelForCausalLM.from_pretrained)
        tokenizer files                                  the base model's tokenizer
        summary.json                                     what `finetune` returned
        train_log.jsonl                                  one line per optimizer step
        iclft-checkpoint.json                            format, method, base model fingerprint

A folder without `iclft-checkpoint.json` of the current format (e.g. the older layout that
kept LoRA runs as full merged weights in model.safetensors), or one trained from other base
weights than the model's current ones, is not a checkpoint: the caller trains again.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors import SafetensorError

from iclft.errors import UserError
from iclft.io import write_json

META = "iclft-checkpoint.json"
FORMAT = 2


def checkpoint_meta(folder: Path) -> dict | None:
    try:
        meta = json.loads((Path(folder) / META).read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def is_checkpoint(folder: Path, base_fingerprint: str | None = None, benchmark_sha256: str | None = None) -> bool:
    """A complete checkpoint in the current format, trained from `base_fingerprint`'s weights
    on the benchmark with content `benchmark_sha256` (each checked when both it and the
    recorded value are known)."""
    meta = checkpoint_meta(folder)
    if meta is None or meta.get("format") != FORMAT or not (Path(folder) / "summary.json").is_file():
        return False
    for given, recorded in (
        (base_fingerprint, meta.get("base_fingerprint")),
        (benchmark_sha256, meta.get("benchmark_sha256")),
    ):
        if given and recorded and given != recorded:
            return False
    return True


def save_checkpoint(
    lm, folder: Path, summary: dict, base_fingerprint: str | None = None, benchmark_sha256: str | None = None
) -> None:
    """Write `lm`'s fine-tuned weights (a TrainableLM after `finetune`), the summary and the
    format marker into `folder`."""
    folder = Path(folder)
    lm.save_finetuned(folder)
    write_json(folder / "summary.json", summary)
    write_json(
        folder / META,
        {
            "format": FORMAT,
            "method": summary.get("method"),
            "base_model": lm.name,
            "base_fingerprint": base_fingerprint,
            "benchmark_sha256": benchmark_sha256,
        },
    )


def load_checkpoint(lm, folder: Path) -> dict:
    """Put the checkpoint's weights into `lm`; returns the fine-tuning summary."""
    folder = Path(folder)
    try:
        lm.load_finetuned(folder)
        return json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError, RuntimeError, SafetensorError) as e:  # a truncated or edited checkpoint
        raise UserError(
            f"{folder}: fine-tuned checkpoint cannot be loaded ({e}); delete the folder and run again"
        ) from None
