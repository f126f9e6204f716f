import math

import pytest

from iclft.benchmarks.schema import TestItem
from iclft.evaluation.metrics import accuracy_text, compute_metrics, wilson_interval
from iclft.evaluation.scoring import predict, sample_record
from iclft.models.base import OptionScore


def record(split, logprobs, answers, n_tokens=None, n_chars=None, kind="t"):
    n_tokens = n_tokens or [1] * len(logprobs)
    n_chars = n_chars or [1] * len(logprobs)
    item = TestItem(
        f"{split}-{len(logprobs)}-{logprobs}",
        split,
        kind,
        "p",
        tuple("o" * (i + 1) for i in range(len(logprobs))),
        tuple(answers),
    )
    return sample_record(item, [OptionScore(lp, t, c) for lp, t, c in zip(logprobs, n_tokens, n_chars)])


def test_normalizations_can_disagree():
    r = record("s", [-4.0, -3.0], [0], n_tokens=[4, 1], n_chars=[8, 2])
    assert predict(r, "sum") == 1
    assert predict(r, "mean") == 0  # -1.0 per token beats -3.0
    assert predict(r, "char") == 0  # -0.5 per char beats -1.5
    assert r["pred"] == {"sum": 1, "mean": 0, "char": 0}


def test_accuracy_chance_and_stderr_per_split():
    samples = [
        record("a", [-1.0, -2.0], [0]),
        record("a", [-1.0, -2.0], [1]),
        record("a", [-1.0, -2.0, -3.0, -4.0], [0]),
        record("a", [-3.0, -2.0, -1.0, -5.0], [0, 1]),
        record("b", [-1.0, -2.0], [0], kind="u"),
    ]
    metrics = compute_metrics(samples)
    a = metrics["splits"]["a"]
    assert a["n"] == 4
    assert a["accuracy"] == pytest.approx(0.5)
    assert a["chance"] == pytest.approx((0.5 + 0.5 + 0.25 + 0.5) / 4)
    assert a["stderr"] == pytest.approx(math.sqrt(0.25 / 4))
    assert metrics["splits"]["b"]["accuracy"] == 1.0
    assert metrics["splits"]["b"]["by_inference_type"]["u"]["n"] == 1
    assert set(a["by_normalization"]) == {"sum", "mean", "char"}


def test_wilson_interval_has_width_at_0_and_1():
    low, high = wilson_interval(1.0, 100)
    assert high == 1.0 and low == pytest.approx(0.963, abs=5e-4)
    assert wilson_interval(0.0, 20) == (0.0, pytest.approx(0.161, abs=5e-4))
    low, high = wilson_interval(0.5, 100)  # near p ± 1.96 se in the middle
    assert (low, high) == (pytest.approx(0.404, abs=5e-4), pytest.approx(0.596, abs=5e-4))
    assert accuracy_text(1.0, 0.0, 100) == "1.00 (95% CI 0.96-1.00)"
    assert accuracy_text(0.62, 0.0485, 100) == "0.62 ± 0.05"


def test_accuracy_table_never_prints_a_zero_error_at_0_or_1():
    from iclft.accuracy_table import format_accuracy_table

    split = {"n": 40, "chance": 0.5, "accuracy": 1.0, "stderr": 0.0}
    table = format_accuracy_table({"icl": {"splits": {"reversal": split}}})
    assert "1.00 (95% CI 0.91-1.00)" in table and "± 0.00" not in table
