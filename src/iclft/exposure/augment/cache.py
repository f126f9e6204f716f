"""The generation cache: one JSON file per (model, prompt, settings), written atomically.

    <runs_dir>/generations/<sha256>.json   {"model", "prompt", "settings", "outputs",
                                           "prompt_tokens", "generated_tokens"}

Results are written after every batch, so an interrupted or failed augmentation keeps what it
made, and a rerun (or a new fine-tuning setting on the same augmentations) generates nothing
twice. API keys are never part of the key or the record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm

from iclft.io import write_json
from iclft.models.base import GenerationSettings


def settings_record(settings: GenerationSettings) -> dict:
    return asdict(settings)


def cache_key(model_id: str, prompt: str, settings: GenerationSettings) -> str:
    """The key of one generation. For a local model (`model_id` "name|dtype") it holds the
    fingerprint of the weights the name loads now, so new weights at the same path or zoo name
    generate afresh; API models and not yet fetched models are keyed by name only."""
    key = {"model": model_id, "prompt": prompt, "settings": settings_record(settings)}
    if not model_id.startswith("api|"):
        from iclft.provenance import model_fingerprint

        fingerprint = model_fingerprint(model_id.rsplit("|", 1)[0])
        if fingerprint:
            key["weights"] = fingerprint
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


class GenerationCache:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict | None:
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # cannot happen with atomic writes; regenerate if it does

    def put(self, key: str, record: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_json(self.path(key), record)


def generate_cached(
    get_generator: Callable[[], object],
    model_id: str,
    prompts: list[str],
    settings: GenerationSettings,
    cache: GenerationCache,
    batch_size: int = 16,
    progress: bool = True,
) -> tuple[list[dict], dict]:
    """The cache record of every prompt, generating the missing ones in batches.

    `get_generator` is called only when something is missing (loading a model or reaching a
    server is not needed for a fully cached run). Returns (records, counts).
    """
    keys = [cache_key(model_id, p, settings) for p in prompts]
    records = {k: r for k in set(keys) if (r := cache.get(k)) is not None}
    missing = list(dict.fromkeys((k, p) for k, p in zip(keys, prompts) if k not in records))
    if missing:
        generator = get_generator()
        bar = tqdm(total=len(missing), desc="augmenting", unit="prompt", disable=not progress)
        for start in range(0, len(missing), batch_size):
            batch = missing[start : start + batch_size]
            outputs = generator.generate([p for _, p in batch], settings)
            for (key, prompt), texts in zip(batch, outputs):
                record = {
                    "model": model_id,
                    "prompt": prompt,
                    "settings": settings_record(settings),
                    "outputs": list(texts),
                    "prompt_tokens": generator.count_tokens(prompt),
                    "generated_tokens": sum(generator.count_tokens(t) for t in texts),
                }
                cache.put(key, record)
                records[key] = record
            bar.update(len(batch))
        bar.close()
    counts = {"prompts": len(prompts), "generated_now": len(missing), "from_cache": len(prompts) - len(missing)}
    return [records[k] for k in keys], counts
