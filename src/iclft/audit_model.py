"""`iclft data audit`: the validity report of a benchmark, with a no-context model baseline.

The surface heuristics are in iclft.benchmarks.validity (no torch); this module adds `base`:
every item's options scored by a model with no context at all, the prediction being the
option with the highest summed log-probability (the first one on ties), as in evaluation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from iclft.benchmarks import GENERATORS, load_benchmark, make_benchmark
from iclft.benchmarks.schema import Benchmark
from iclft.benchmarks.validity import add_accuracy, audit
from iclft.errors import UserError
from iclft.io import write_json


def resolve_benchmark(target: str, seed: int) -> tuple[Benchmark, Path]:
    """A built-in benchmark name (generated with `seed`) or a benchmark folder; with where
    audit.json goes by default: inside the folder, or ./NAME-seedN-audit for a name."""
    if Path(target).is_dir():
        return load_benchmark(target), Path(target)
    if target in GENERATORS:
        return make_benchmark(target, seed), Path(f"{target}-seed{seed}-audit")
    raise UserError(f"{target}: neither a benchmark folder nor a built-in benchmark ({', '.join(sorted(GENERATORS))})")


def base_results(bench: Benchmark, model_name: str, progress: bool = True) -> dict[str, dict[str, Any]]:
    """Per split: the no-context model's credit (1 or 0) and the chance of every item."""
    from iclft.config import ModelConfig
    from iclft.evaluation.metrics import is_correct
    from iclft.evaluation.scoring import score_items
    from iclft.models import load_model

    lm = load_model(ModelConfig(name=model_name))
    records = score_items(lm, bench.items, context="", progress=progress)
    per_split: dict[str, dict[str, Any]] = {}
    for record in records:
        result = per_split.setdefault(record["split"], {"credits": [], "chances": [], "extra": {"model": model_name}})
        result["credits"].append(float(is_correct(record, "sum")))
        result["chances"].append(len(record["answers"]) / len(record["options"]))
    return per_split


def run_audit(
    target: str, seed: int = 0, model: str | None = None, out: Path | None = None, progress: bool = True
) -> tuple[dict[str, Any], Path]:
    """The report (heuristics, item checks, and `base` unless model is None) and the audit.json written."""
    bench, default_out = resolve_benchmark(target, seed)
    report = audit(bench)
    report["source"] = target
    report["model"] = model
    if model is not None:
        report = add_accuracy(report, "base", base_results(bench, model, progress))
    folder = out or default_out
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "audit.json", report)
    return report, folder / "audit.json"
