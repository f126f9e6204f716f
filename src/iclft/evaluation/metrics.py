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
