"""The quickstart study: reversals and syllogisms under base, icl, ft and ft_aug.

`ft_aug` fine-tunes on the training documents plus the studied model's own local
augmentations (docs/study.md, "Augmentation"): documents rewritten by the model, in context,
as restatements and reversals (an organism: every document; a real model: one per fact).
Settings follow the model: an organism (the default is `organism-wide`) reads every fact in
one context and is fine-tuned in full; a real model (`--model smollm2-135m`) reads the same
context and gets LoRA.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from iclft import conditions
from iclft.accuracy_table import format_accuracy_table, format_seed_table
from iclft.config import ExperimentConfig, config_from_dict
from iclft.experiment import run_experiment
from iclft.models.zoo import DEFAULT_MODEL, is_organism
from iclft.report.aggregate import condition_label

QUICKSTART_BENCHMARKS = ("reversal", "syllogism")
QUICKSTART_CONDITIONS = ("base", "icl", "ft", "ft_aug")


# The fine-tuning budget chosen for each shipped organism (docs/organism.md, "Its fair ft_aug
# study" and "A fair ft_aug study on v2"): fine-tuning on true reversals learns them (the
# oracle) and leaves the fine-tuned organism the most of its in-context reading. An organism
# folder of one's own gets the default organism's.
ORGANISM_FT_BUDGETS = {
    "organism-wide": {"learning_rate": 1e-4, "epochs": 5},
    "organism": {"learning_rate": 1e-4, "epochs": 10},
}


def model_settings(model: str) -> dict:
    """icl / ft / augment settings for `model`.

    Every model reads every fact in one context. An organism is fine-tuned in full, batch 16,
    at its own budget (ORGANISM_FT_BUDGETS); its `ft_aug` gets the exposure the facts get:
    every training document is augmented and repeats are kept.
    A real model gets LoRA for three epochs (with one, SmolLM2 learns only ~70% of the
    forward facts, docs/augmentation.md) and one augmented document per fact.
    """
    if is_organism(model):
        budget = ORGANISM_FT_BUDGETS.get(model, ORGANISM_FT_BUDGETS[DEFAULT_MODEL])
        return {
            "icl": {"one_per_fact": True},
            "ft": {"method": "full", **budget, "batch_size": 16},
            "augment": {"method": "local", "one_per_fact": False, "keep_duplicates": True, "max_new_tokens": 48},
        }
    return {
        "icl": {"one_per_fact": True},
        "ft": {"method": "lora", "learning_rate": 1e-3, "epochs": 3, "batch_size": 16, "lora_rank": 16},
        "augment": {"method": "local", "one_per_fact": True},
    }


def quickstart_configs(model: str = DEFAULT_MODEL, seed: int = 0) -> list[ExperimentConfig]:
    """One config per benchmark and condition, in the order they run."""
    settings = model_settings(model)
    configs = []
    for benchmark in QUICKSTART_BENCHMARKS:
        for condition in QUICKSTART_CONDITIONS:
            data = {
                "benchmark": {"name": benchmark, "seed": seed},
                "model": {"name": model},
                "condition": condition,
                "icl": settings["icl"],
                "ft": settings["ft"],
                "seed": seed,
            }
            if conditions.get(condition).augmented:
                data["augment"] = settings["augment"]
            configs.append(config_from_dict(data, "quickstart"))
    return configs


def quickstart_metrics(
    model: str = DEFAULT_MODEL, runs_dir: str | Path = "runs", seed: int = 0, progress: bool = True
) -> dict[str, dict[str, dict]]:
    """Run the quickstart study for one seed; metrics by benchmark, then condition."""
    metrics: dict[str, dict[str, dict]] = {}
    for config in quickstart_configs(model, seed):
        start = time.time()
        if progress:
            print(f"== {config.benchmark.name} / {config.condition}: {config.slug()}", flush=True)
        run_dir = run_experiment(config, runs_dir, progress=progress)
        label = condition_label(config.to_dict())  # e.g. "icl (4 facts per context)"
        metrics.setdefault(config.benchmark.name, {})[label] = json.loads((run_dir / "metrics.json").read_text())
        if progress:
            print(f"   done in {time.time() - start:.0f} s -> {run_dir}", flush=True)
    return metrics


def quickstart(
    model: str = DEFAULT_MODEL, runs_dir: str | Path = "runs", seeds: Sequence[int] = (0,), progress: bool = True
) -> str:
    """Run the quickstart study for each seed (each generates its own benchmarks); return one
    table per benchmark: one seed's accuracies ± standard errors, or, over several seeds,
    the mean ± standard error of the seeds' accuracies and their range."""
    per_seed = [quickstart_metrics(model, runs_dir, seed, progress) for seed in seeds]
    tables = []
    for name in per_seed[0]:
        if len(per_seed) == 1:
            tables.append(f"{name}\n\n{format_accuracy_table(per_seed[0][name])}")
        else:
            tables.append(f"{name}\n\n{format_seed_table([m[name] for m in per_seed])}")
    return "\n\n".join(tables)


def write_quickstart_report(
    model: str = DEFAULT_MODEL,
    runs_dir: str | Path = "runs",
    seeds: Sequence[int] = (0,),
    report_dir: str | Path | None = None,
):
    """The HTML report (iclft.report) of the quickstart's runs for `seeds`, and of no other run
    in `runs_dir`; unfinished ones are listed as missing. Written to `report_dir`, default
    <runs_dir>/quickstart-report."""
    from iclft.errors import UserError
    from iclft.experiment import run_dir_for
    from iclft.report import write_index_report
    from iclft.report.collect import Missing, RunsIndex, load_run
    from iclft.runs.layout import is_finished

    index = RunsIndex(Path(runs_dir))
    for config in [c for seed in seeds for c in quickstart_configs(model, seed)]:
        run_dir = run_dir_for(config, runs_dir)
        if is_finished(run_dir):
            try:
                index.runs.append(load_run(run_dir))
            except UserError as e:  # a damaged file: listed, not fatal
                index.missing.append(Missing(run_dir.name, "broken", str(e), config=config.to_dict()))
        else:
            index.missing.append(Missing(run_dir.name, "not started", config=config.to_dict()))
    index.planned = len(index.runs) + len(index.missing)
    return write_index_report(index, report_dir or Path(runs_dir) / "quickstart-report")
