"""Accuracy per split with chance and standard error, computed from sample records only."""

from __future__ import annotations

import math
from typing import Any

from iclft.evaluation.scoring import NORMALIZATIONS, predict


def is_correct(record: dict[str, Any], normalization: str = "sum") -> bool:
    return predict(record, normalization) in record["answers"]


def binomial_stderr(p: float, n: int) -> float:
    """Standard error of a proportion `p` measured on `n` items: sqrt(p (1 - p) / n)."""
    return math.sqrt(p * (1 - p) / n)


def stderr_of_mean(values) -> float | None:
    """Standard error of the mean of `values` (sample standard deviation / sqrt(k)); None
    below two values, which have no spread."""
    from statistics import stdev

    values = list(values)
    return stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None


def wilson_interval(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95% for z = 1.96) of a proportion `p` measured on `n` items.
    Unlike p ± z·stderr it has width at p = 0 and p = 1, where the standard error is 0."""
    if n <= 0:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    return (0.0 if p == 0 else low), (1.0 if p == 1 else high)  # exact at the ends, not 1 - 1e-16


def accuracy_text(p: float, stderr: float, n: int | None, digits: int = 2) -> str:
    """'0.62 ± 0.05'; at an accuracy of exactly 0 or 1 of `n` items, where the binomial standard
    error is 0, the 95% Wilson interval instead: '1.00 (95% CI 0.96-1.00)', never '± 0.00'."""
    if n and p in (0.0, 1.0):
        low, high = wilson_interval(p, n)
        return f"{p:.{digits}f} (95% CI {low:.{digits}f}-{high:.{digits}f})"
    return f"{p:.{digits}f} ± {stderr:.{digits}f}"


def _summary(records: list[dict[str, Any]], normalization: str) -> dict[str, Any]:
    n = len(records)
    acc = sum(is_correct(r, normalization) for r in records) / n
    chance = sum(len(r["answers"]) / len(r["options"]) for r in records) / n
    return {"n": n, "accuracy": acc, "stderr": binomial_stderr(acc, n), "chance": chance}


def compute_metrics(samples: list[dict[str, Any]], headline: str = "sum") -> dict[str, Any]:
    """Per split: n, chance, accuracy and binomial standard error for each normalization,
    with the same broken down by inference type. `headline` names the normalization that
    tables show by default."""
    splits: dict[str, list[dict[str, Any]]] = {}
    for record in samples:
        splits.setdefault(record["split"], []).append(record)
    out: dict[str, Any] = {"headline": headline, "n_items": len(samples), "splits": {}}
    for split, records in splits.items():
        types: dict[str, list[dict[str, Any]]] = {}
        for record in records:
            types.setdefault(record["inference_type"], []).append(record)
        head = _summary(records, headline)
        out["splits"][split] = {
            "n": head["n"],
            "chance": head["chance"],
            "accuracy": head["accuracy"],
            "stderr": head["stderr"],
            "by_normalization": {norm: _summary(records, norm) for norm in NORMALIZATIONS},
            "by_inference_type": {t: _summary(rs, headline) for t, rs in types.items()},
        }
    return out
