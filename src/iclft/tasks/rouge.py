"""ROUGE scoring of the task study's generation sets (docs/task-study.md, "Scoring").

Per item: rouge-score's F-measures (ROUGE-1, ROUGE-2, ROUGE-L; no stemming; rouge-score
lowercases, replaces every run of characters other than a-z and 0-9 with a space and splits)
of the generation cut at its first blank line. Per set: the mean over items and a bootstrap
standard error over items. `lcs_fmeasure` is ROUGE-L without rouge-score, equal to it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
BLANK_LINE = "\n\n"


def cut_generation(text: str) -> str:
    """A generation as the study scores it: stripped, up to its first blank line, stripped."""
    return text.strip().split(BLANK_LINE)[0].strip()


@cache
def _scorer():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(ROUGE_TYPES), use_stemmer=False)


def rouge_item(reference: str, prediction: str) -> dict[str, float]:
    """F-measure of each ROUGE type, {rouge1, rouge2, rougeL}, on a 0-1 scale."""
    scores = _scorer().score(reference, prediction)
    return {kind: scores[kind].fmeasure for kind in ROUGE_TYPES}


def mean_and_stderr(values: Sequence[float], resamples: int = 1000, seed: int = 0) -> tuple[float, float]:
    """The mean of `values` and its bootstrap standard error: the standard deviation of the
    means of `resamples` resamples of the items, drawn with replacement (seeded)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return float("nan"), float("nan")
    draws = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    return float(values.mean()), float(values[draws].mean(axis=1).std(ddof=1))


def rouge_metrics(items: Sequence[dict[str, float]], resamples: int = 1000, seed: int = 0) -> dict:
    """Per-set metrics from `rouge_item` results: {n, rougeL: {mean, stderr}, ...}."""
    metrics: dict = {"n": len(items)}
    for kind in ROUGE_TYPES:
        mean, stderr = mean_and_stderr([item[kind] for item in items], resamples, seed)
        metrics[kind] = {"mean": mean, "stderr": stderr}
    return metrics


# ---- ROUGE-L without rouge-score

_NON_ALPHANUMERIC = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokenization without a stemmer."""
    return _NON_ALPHANUMERIC.sub(" ", text.lower()).split()


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    row = [0] * (len(b) + 1)
    for x in a:
        diagonal = 0
        for j, y in enumerate(b, 1):
            diagonal, row[j] = row[j], diagonal + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def lcs_fmeasure(reference: str, prediction: str) -> float:
    """ROUGE-L F-measure, as rouge-score computes it (0 when either text has no tokens)."""
    ref, pred = rouge_tokens(reference), rouge_tokens(prediction)
    common = lcs_length(ref, pred) if ref and pred else 0
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)
