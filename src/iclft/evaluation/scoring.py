"""Multiple-choice scoring: every item's options scored by the model, one record per item."""

from __future__ import annotations

from typing import Any

from iclft.benchmarks.schema import TestItem
from iclft.models.base import LanguageModel, OptionScore, ScoreRequest


def score_items(
    lm: LanguageModel, items: list[TestItem], context: str = "", progress: bool = True
) -> list[dict[str, Any]]:
    """Score all options of all items after `context`; returns the per-item sample records."""
    requests = [ScoreRequest(item.prefix, item.options) for item in items]
    scores = lm.score(requests, context=context, progress=progress)
    return [sample_record(item, option_scores) for item, option_scores in zip(items, scores)]


def sample_record(item: TestItem, scores: list[OptionScore]) -> dict[str, Any]:
    """What samples.jsonl holds for one item: the item, every option's score, the predictions."""
    record = {
        "id": item.id,
        "split": item.split,
        "inference_type": item.inference_type,
        "prefix": item.prefix,
        "options": list(item.options),
        "answers": list(item.answers),
        "fact_ids": list(item.fact_ids),
        "logprobs": [s.logprob for s in scores],
        "n_tokens": [s.n_tokens for s in scores],
        "n_chars": [s.n_chars for s in scores],
    }
    record["pred"] = {norm: predict(record, norm) for norm in NORMALIZATIONS}
    return record


NORMALIZATIONS = ("sum", "mean", "char")


def option_values(record: dict[str, Any], normalization: str) -> list[float]:
    """Summed log-prob, or its mean per token, or per character."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}")
    logprobs = record["logprobs"]
    if normalization == "sum":
        return list(logprobs)
    counts = record["n_tokens"] if normalization == "mean" else record["n_chars"]
    return [lp / max(n, 1) for lp, n in zip(logprobs, counts)]


def predict(record: dict[str, Any], normalization: str = "sum") -> int:
    """Index of the highest-scoring option (the first one on ties)."""
    values = option_values(record, normalization)
    return max(range(len(values)), key=values.__getitem__)
