"""`iclft compare RUN_A RUN_B`: per-split accuracy of two runs on the same items, with a paired test.

Items are paired by id and must be the same question with the same options and answers in
both runs. Per split: both accuracies, the difference B − A with a 95% interval from the
paired per-item differences, the discordant counts, and McNemar's exact test (two-sided
binomial test on the items that exactly one run gets right).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from iclft.errors import UserError
from iclft.evaluation.metrics import is_correct
from iclft.evaluation.scoring import NORMALIZATIONS
from iclft.io import read_jsonl
from iclft.report.aggregate import condition_label, split_order
from iclft.report.collect import load_run
from iclft.runs.layout import METRICS, SAMPLES
from iclft.runs.records import SampleRecord


@dataclass
class SplitComparison:
    split: str
    n: int
    acc_a: float
    acc_b: float
    only_a: int  # items A gets right and B wrong
    only_b: int
    ci95: float  # half-width of the 95% interval of acc_b - acc_a
    p_value: float

    @property
    def diff(self) -> float:
        return self.acc_b - self.acc_a


@dataclass
class Comparison:
    a: str
    b: str
    normalization: tuple[str, str]
    splits: list[SplitComparison]
    unpaired: int  # items in only one of the runs


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact p-value: is one run right more often on the discordant items?"""
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare_runs(run_a: str | Path, run_b: str | Path, normalization: str | None = None) -> Comparison:
    a, b = load_run(run_a), load_run(run_b)
    norm_a = normalization or _headline(a)
    norm_b = normalization or _headline(b)
    samples_a, samples_b = read_samples(a.path / SAMPLES), read_samples(b.path / SAMPLES)
    paired = [i for i in samples_a if i in samples_b]
    if not paired:
        raise UserError(f"{a.path} and {b.path} share no test items: compare runs of the same benchmark")
    for item_id in paired:
        ra, rb = samples_a[item_id], samples_b[item_id]
        if (ra["prefix"], ra["options"], ra["answers"]) != (rb["prefix"], rb["options"], rb["answers"]):
            raise UserError(f"item {item_id} differs between the runs: they were scored on different benchmarks")
    splits: dict[str, list[tuple[bool, bool]]] = {}
    for item_id in paired:
        ra = samples_a[item_id]
        outcome = (is_correct(ra, norm_a), is_correct(samples_b[item_id], norm_b))
        splits.setdefault(ra["split"], []).append(outcome)
    unpaired = len(samples_a) + len(samples_b) - 2 * len(paired)
    return Comparison(
        _name(a), _name(b), (norm_a, norm_b), [_split(s, splits[s]) for s in sorted(splits, key=split_order)], unpaired
    )


def _headline(run) -> str:
    headline = run.metrics.get("headline", "sum")
    if headline not in NORMALIZATIONS:
        raise UserError(f"{run.path / METRICS}: field 'headline' must be one of {', '.join(NORMALIZATIONS)}")
    return headline


def read_samples(path: Path) -> dict[str, dict]:
    """The sample records of samples.jsonl by id; a broken record raises UserError naming the file."""
    samples = {}
    for i, data in enumerate(read_jsonl(path), 1):
        source = f"{path}: record {i}"
        record = SampleRecord.from_dict(data, source).to_dict()
        _check_sample(record, source)
        samples[str(record["id"])] = record
    return samples


def _check_sample(record: dict, source: str) -> None:
    """The fields compare reads: a split name, option scores of one length, answer indices."""
    options = record["options"]
    n = len(options) if isinstance(options, list) else 0
    if not isinstance(record["split"], str):
        raise UserError(f"{source}: field 'split' must be a string")
    for key in ("logprobs", "n_tokens", "n_chars"):
        values = record[key]
        if n == 0 or not isinstance(values, list) or len(values) != n or not all(_is_number(v) for v in values):
            raise UserError(f"{source}: field '{key}' must hold one number per option")
    answers = record["answers"]
    if not isinstance(answers, list) or not all(isinstance(k, int) and 0 <= k < n for k in answers):
        raise UserError(f"{source}: field 'answers' must list option indices")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _name(run) -> str:
    return f"{condition_label(run.config)} ({run.path})"


def _split(split: str, outcomes: list[tuple[bool, bool]]) -> SplitComparison:
    n = len(outcomes)
    diffs = [int(b) - int(a) for a, b in outcomes]
    mean_diff = sum(diffs) / n
    var = sum((d - mean_diff) ** 2 for d in diffs) / (n - 1) if n > 1 else 0.0
    only_a = sum(a and not b for a, b in outcomes)
    only_b = sum(b and not a for a, b in outcomes)
    return SplitComparison(
        split=split,
        n=n,
        acc_a=sum(a for a, _ in outcomes) / n,
        acc_b=sum(b for _, b in outcomes) / n,
        only_a=only_a,
        only_b=only_b,
        ci95=1.96 * math.sqrt(var / n),
        p_value=mcnemar_exact(only_a, only_b),
    )


def format_comparison(c: Comparison) -> str:
    header = ["split", "n", "A", "B", "B − A", "95% CI", "only A right", "only B right", "p (McNemar)"]
    lines = [header]
    for s in c.splits:
        lines.append(
            [
                s.split,
                str(s.n),
                f"{s.acc_a:.3f}",
                f"{s.acc_b:.3f}",
                f"{s.diff:+.3f}",
                f"[{s.diff - s.ci95:+.3f}, {s.diff + s.ci95:+.3f}]",
                str(s.only_a),
                str(s.only_b),
                f"{s.p_value:.3g}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    table = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(line, widths)) + " |" for line in lines]
    table.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    norms = (
        c.normalization[0]
        if c.normalization[0] == c.normalization[1]
        else f"{c.normalization[0]} / {c.normalization[1]}"
    )
    out = [f"A: {c.a}", f"B: {c.b}", f"paired over items; normalization: {norms}", "", *table]
    if c.unpaired:
        out.append(f"\n{c.unpaired} item(s) appear in only one run and are left out")
    return "\n".join(out)
