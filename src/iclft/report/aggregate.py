"""Runs grouped into cells (the same experiment over seeds) and summarized per split.

A cell is one benchmark under one condition with every other setting equal; its runs differ
only in `seed` and `benchmark.seed`. Per split, a cell's accuracy is the mean over its runs of
the split accuracy (the headline normalization of metrics.json). Three standard errors:

- over seeds: the spread of the per-seed accuracies (needs 2 or more seeds);
- over inference-type subsets: the spread of the per-type accuracies within the split
  (docs/study.md, semantic structure; needs 2 or more types), averaged over seeds;
- binomial: from the item count, for splits with one seed and one inference type.

The whiskers use the first of these that exists; tables show all three.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from iclft import conditions
from iclft.evaluation.metrics import stderr_of_mean
from iclft.report.collect import Run

SEED_FIELDS = ("name", "seed", "benchmark.seed")
SPLIT_ORDER = ("forward", "rephrased", "reversal", "syllogism", "holdout")  # the study's order; others after


@dataclass
class Cell:
    benchmark: str
    label: str
    runs: list[Run] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return sorted(run.config.get("seed", 0) for run in self.runs)


@dataclass
class Row:
    """One cell on one split."""

    benchmark: str
    split: str
    condition: str
    n_seeds: int
    n_items: int
    chance: float
    accuracy: float
    stderr: float
    stderr_over: str  # "seeds", "inference types" or "binomial"
    se_seeds: float | None
    se_inference_types: float | None
    se_binomial: float


def condition_label(config: dict[str, Any]) -> str:
    """`ft`, or `ft_aug(oracle)` when the config names an augmentation method; a condition
    that reads its facts in windows says so: `icl (4 facts per context)`."""
    condition = label = config.get("condition", "?")
    augment = config.get("augment")
    if isinstance(augment, dict):
        method = next((augment[k] for k in ("method", "kind", "name", "augmenter") if augment.get(k)), None)
        method = None if method == "none" else method  # config.yaml lists every field, "none" included
        if method:
            label = f"{label}({method})"
    icl = config.get("icl")
    window = icl.get("facts_per_context") if isinstance(icl, dict) else None
    if window and condition in conditions.names(uses_context=True):
        label = f"{label} ({window} facts per context)"
    return label


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten(value, path + "."))
        else:
            out[path] = value
    return out


def cell_key(config: dict[str, Any]) -> str:
    flat = {k: v for k, v in flatten(config).items() if k not in SEED_FIELDS}
    return json.dumps(flat, sort_keys=True, default=str)


def make_cells(runs: list[Run]) -> dict[str, list[Cell]]:
    """Per benchmark, its cells in condition order, each labelled uniquely."""
    by_benchmark: dict[str, dict[str, Cell]] = {}
    for run in runs:
        cells = by_benchmark.setdefault(run.benchmark, {})
        key = cell_key(run.config)
        cells.setdefault(key, Cell(run.benchmark, condition_label(run.config))).runs.append(run)
    return {bench: _label_uniquely(list(cells.values())) for bench, cells in by_benchmark.items()}


def _label_uniquely(cells: list[Cell]) -> list[Cell]:
    """Cells that share a label get the settings that tell them apart: `ft [ft.steps=200]`."""
    groups: dict[str, list[Cell]] = {}
    for cell in cells:
        groups.setdefault(cell.label, []).append(cell)
    for label, same in groups.items():
        if len(same) < 2:
            continue
        flats = [json.loads(cell_key(c.runs[0].config)) for c in same]
        keys = sorted({k for f in flats for k in f if len({json.dumps(g.get(k), default=str) for g in flats}) > 1})
        for cell, flat in zip(same, flats):
            cell.label = f"{label} [{', '.join(f'{k}={flat.get(k)}' for k in keys)}]"
    return sorted(cells, key=lambda c: (_condition_rank(c.runs[0].config.get("condition", "")), c.label))


def _condition_rank(condition: str) -> int:
    return conditions.report_rank(condition)


def split_order(split: str) -> tuple[int, str]:
    return (SPLIT_ORDER.index(split) if split in SPLIT_ORDER else len(SPLIT_ORDER), split)


def splits_of(cells: list[Cell]) -> list[str]:
    return sorted({s for c in cells for r in c.runs for s in r.metrics.get("splits", {})}, key=split_order)


def summarize(cell: Cell, split: str) -> Row | None:
    entries = [r.metrics["splits"][split] for r in cell.runs if split in r.metrics.get("splits", {})]
    if not entries:
        return None
    accs = [e["accuracy"] for e in entries]
    se_seeds = stderr_of_mean(accs)
    per_type = [_se_types(e) for e in entries]
    se_types = mean(per_type) if all(s is not None for s in per_type) else None
    se_binomial = math.sqrt(sum(e["stderr"] ** 2 for e in entries)) / len(entries)
    stderr, over = next(
        (s, name)
        for s, name in [(se_seeds, "seeds"), (se_types, "inference types"), (se_binomial, "binomial")]
        if s is not None
    )
    return Row(
        benchmark=cell.benchmark,
        split=split,
        condition=cell.label,
        n_seeds=len(entries),
        n_items=round(mean(e["n"] for e in entries)),
        chance=mean(e["chance"] for e in entries),
        accuracy=mean(accs),
        stderr=stderr,
        stderr_over=over,
        se_seeds=se_seeds,
        se_inference_types=se_types,
        se_binomial=se_binomial,
    )


def _se_types(entry: dict[str, Any]) -> float | None:
    return stderr_of_mean(t["accuracy"] for t in entry.get("by_inference_type", {}).values())


def benchmark_rows(cells: list[Cell]) -> list[Row]:
    """Rows split by split, conditions in cell order."""
    rows = []
    for split in splits_of(cells):
        rows.extend(row for cell in cells if (row := summarize(cell, split)) is not None)
    return rows
