"""The quickstart study: simple reversals on an embedded model under base, icl, ft and ft+icl."""

from __future__ import annotations

import json
import time
from pathlib import Path

from iclft.config import ExperimentConfig, config_from_dict
from iclft.experiment import run_experiment
from iclft.tables import format_accuracy_table

QUICKSTART_CONDITIONS = ("base", "icl", "ft", "ft+icl")


def quickstart_configs(model: str = "smollm2-135m", seed: int = 0) -> list[ExperimentConfig]:
    """The reversal study: all 100 facts once each in context; LoRA fine-tuning on all documents.

    Three epochs: with one, SmolLM2 learns only ~70% of the forward facts (docs/augmentation.md).
    """
    base = {
        "benchmark": {"name": "reversal", "seed": seed},
        "model": {"name": model},
        "icl": {"one_per_fact": True},
        "ft": {"method": "lora", "learning_rate": 1e-3, "epochs": 3, "batch_size": 16, "lora_rank": 16},
        "seed": seed,
    }
    return [config_from_dict({**base, "condition": c}, "quickstart") for c in QUICKSTART_CONDITIONS]


def quickstart(model: str = "smollm2-135m", runs_dir: str | Path = "runs", seed: int = 0, progress: bool = True) -> str:
    """Run the quickstart study and return its accuracy table (Markdown)."""
    metrics = {}
    for config in quickstart_configs(model, seed):
        start = time.time()
        if progress:
            print(f"== {config.condition}: {config.slug()}", flush=True)
        run_dir = run_experiment(config, runs_dir, progress=progress)
        metrics[config.condition] = json.loads((run_dir / "metrics.json").read_text())
        if progress:
            print(f"   done in {time.time() - start:.0f} s -> {run_dir}", flush=True)
    return format_accuracy_table(metrics)
