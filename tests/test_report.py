"""Report and compare on hand-made runs: aggregation, tables, figures, HTML, missing runs."""

import csv
import json
import math
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from iclft.cli import main
from iclft.compare import compare_runs, format_comparison, mcnemar_exact
from iclft.config import config_from_dict
from iclft.errors import UserError
from iclft.evaluation.metrics import compute_metrics
from iclft.io import read_jsonl, write_json, write_jsonl
from iclft.report import write_report
from iclft.report.aggregate import benchmark_rows, condition_label, make_cells
from iclft.report.collect import collect, load_run


def record(item_id, split, itype, correct, n_options=2):
    """A sample record whose top-scored option is the answer (index 0) exactly when `correct`."""
    logprobs = [-1.0 if correct else -3.0] + [-2.0] * (n_options - 1)
    return {
        "id": item_id,
        "split": split,
        "inference_type": itype,
        "prefix": f"Q {item_id}",
        "options": [f"o{i}" for i in range(n_options)],
        "answers": [0],
        "fact_ids": [],
        "logprobs": logprobs,
        "n_tokens": [1] * n_options,
        "n_chars": [2] * n_options,
    }


def make_run(runs_dir, condition="base", seed=0, benchmark="reversal", outcomes=None, **extra):
    """A finished run folder with real config.yaml, samples.jsonl and metrics.json.
    `outcomes`: {(split, inference_type): [correct, ...]}."""
    config = config_from_dict(
        {"benchmark": {"name": benchmark, "seed": seed}, "condition": condition, "seed": seed, **extra}
    )
    run_dir = Path(runs_dir) / config.slug()
    samples = [
        record(f"{split}-{itype}-{i}", split, itype, ok)
        for (split, itype), oks in (outcomes or {("reversal", "reversal"): [True, False]}).items()
        for i, ok in enumerate(oks)
    ]
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config.to_yaml())
    write_jsonl(run_dir / "samples.jsonl", samples)
    write_json(run_dir / "metrics.json", {**compute_metrics(samples), "condition": condition, "benchmark": benchmark})
    return run_dir


def k_of(k, n):
    return [True] * k + [False] * (n - k)


def test_seeds_give_mean_and_standard_error(tmp_path):
    for seed, k in enumerate([6, 8, 10]):
        make_run(
            tmp_path, "icl", seed, outcomes={("reversal", "reversal"): k_of(k, 10), ("forward", "forward"): k_of(9, 10)}
        )
    [cell] = make_cells(collect(tmp_path).runs)["reversal"]
    rows = {r.split: r for r in benchmark_rows([cell])}
    rev = rows["reversal"]
    assert (rev.n_seeds, rev.n_items, rev.chance) == (3, 10, 0.5)
    assert rev.accuracy == pytest.approx(0.8)
    assert rev.stderr == pytest.approx(0.2 / math.sqrt(3)) and rev.stderr_over == "seeds"
    assert rows["forward"].stderr == pytest.approx(0.0)
    assert [r.split for r in benchmark_rows([cell])] == ["forward", "reversal"]  # the study's order


def test_one_seed_uses_inference_type_subsets_then_binomial(tmp_path):
    outcomes = {("syllogism", "AA-1"): k_of(4, 4), ("syllogism", "AE-2"): k_of(2, 4), ("other", "x"): k_of(1, 4)}
    make_run(tmp_path, "ft", benchmark="syllogism", outcomes=outcomes)
    [cell] = make_cells(collect(tmp_path).runs)["syllogism"]
    rows = {r.split: r for r in benchmark_rows([cell])}
    assert rows["syllogism"].accuracy == pytest.approx(0.75)
    assert rows["syllogism"].stderr_over == "inference types"
    assert rows["syllogism"].stderr == pytest.approx(math.sqrt(0.125) / math.sqrt(2))  # stdev(1, .5) / sqrt 2
    assert rows["other"].stderr_over == "binomial"
    assert rows["other"].stderr == pytest.approx(math.sqrt(0.25 * 0.75 / 4))


def test_cells_are_ordered_and_labelled_uniquely(tmp_path):
    make_run(tmp_path, "ft", ft={"steps": 5})
    make_run(tmp_path, "ft", ft={"steps": 9})
    make_run(tmp_path, "icl")
    make_run(tmp_path, "base")
    make_run(tmp_path, "base", seed=1)
    labels = [c.label for c in make_cells(collect(tmp_path).runs)["reversal"]]
    assert labels == ["base", "icl", "ft [ft.steps=5]", "ft [ft.steps=9]"]
    assert condition_label({"condition": "ft_aug", "augment": {"method": "oracle"}}) == "ft_aug(oracle)"
    windowed = {"icl": {"facts_per_context": 4}}
    assert condition_label({"condition": "icl", **windowed}) == "icl (4 facts per context)"
    assert condition_label({"condition": "ft+icl", **windowed}) == "ft+icl (4 facts per context)"
    assert condition_label({"condition": "ft", **windowed}) == "ft"  # reads no context
    assert condition_label({"condition": "icl", "icl": {"facts_per_context": None}}) == "icl"


def study(runs_dir):
    """reversal and syllogism under base/icl/ft, 3 seeds each."""
    for benchmark, splits in [("reversal", ["reversal", "forward"]), ("syllogism", ["syllogism"])]:
        for c, condition in enumerate(["base", "icl", "ft"]):
            for seed in range(3):
                outcomes = {(s, t): k_of(3 + 2 * c + seed + j, 12) for j, s in enumerate(splits) for t in ["a", "b"]}
                make_run(runs_dir, condition, seed, benchmark, outcomes)


def test_report_writes_figures_tables_and_a_self_contained_page(tmp_path):
    runs = tmp_path / "runs"
    study(runs)
    report = write_report(runs, tmp_path / "out")
    assert set(report.files) == {"reversal", "syllogism"}
    for paths in report.files.values():
        assert all(p.is_file() and p.stat().st_size > 200 for p in paths)
    png = (tmp_path / "out" / "figures" / "reversal.png").read_bytes()
    assert png.startswith(b"\x89PNG")
    assert b"<svg" in (tmp_path / "out" / "figures" / "reversal.svg").read_bytes()

    rows = list(csv.DictReader((tmp_path / "out" / "tables" / "reversal.csv").open()))
    assert [(r["split"], r["condition"]) for r in rows] == [
        (s, c) for s in ["forward", "reversal"] for c in ["base", "icl", "ft"]
    ]
    assert all(r["n_seeds"] == "3" and r["stderr_over"] == "seeds" for r in rows)
    md = (tmp_path / "out" / "tables" / "reversal.md").read_text()
    assert "| split" in md and "±" in md and "mean over 3 seed(s)" in md

    html = report.html.read_text()
    assert html.count('src="data:image/svg+xml;base64,') == 2
    assert not re.search(r'<(script|link)[^>]+(src|href)="(?!data:)', html)  # nothing external to load
    hrefs = [unquote(h) for h in re.findall(r'href="([^"]+)"', html) if not h.startswith("data:")]
    assert sum(h.endswith("samples.jsonl") for h in hrefs) == 18
    assert all((report.html.parent / h).is_file() for h in hrefs)  # every link resolves from disk
    assert "Every run is finished (all" not in html and "Every run is finished" in html
    assert "benchmark:" in html  # each run's config


def test_report_on_an_unfinished_sweep_says_what_is_missing(tmp_path, capsys):
    runs = tmp_path / "runs"
    done = make_run(runs, "base")
    (runs / ".reversal-icl-x-s0-0123456789.partial").mkdir()
    write_json(
        runs / "failed" / "reversal-ft-x-s0-abc.json",
        {"slug": "reversal-ft-x-s0-abc", "status": "failed", "error": "RuntimeError: out of memory", "time": 1},
    )
    plan = [
        {"slug": s}
        for s in [done.name, "reversal-icl-x-s0-0123456789", "reversal-ft-x-s0-abc", "syllogism-ft-x-s1-def"]
    ]
    write_json(runs / "sweeps" / "study.json", {"name": "study", "runs": plan})
    (runs / "checkpoints" / "something").mkdir(parents=True)

    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "1 finished run(s)" in out
    assert "missing 3 run(s) of 4 planned: 1 failed, 1 in progress, 1 not started" in out
    assert "failed: reversal-ft-x-s0-abc (RuntimeError: out of memory)" in out
    html = (tmp_path / "out" / "report.html").read_text()
    assert "3 run(s) missing of 4 planned" in html and "syllogism-ft-x-s1-def" in html
    assert "error and traceback" in html


def test_report_before_any_run_finished(tmp_path):
    runs = tmp_path / "runs"
    write_json(runs / "sweeps" / "study.json", {"name": "study", "runs": [{"slug": "a-1"}, {"slug": "b-2"}]})
    report = write_report(runs, tmp_path / "out")
    assert report.files == {} and "missing 2 run(s) of 2 planned: 2 not started" in report.summary()
    assert "2 run(s) missing of 2 planned" in report.html.read_text()


def test_report_of_nothing_is_a_user_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="no runs found"):
        write_report(tmp_path / "empty", tmp_path / "o")


def test_mcnemar_exact():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)


def test_compare_pairs_items_per_split(tmp_path, capsys):
    a = make_run(
        tmp_path,
        "base",
        outcomes={("reversal", "r"): [True, False, False, False, True, False], ("forward", "f"): [True, True]},
    )
    b = make_run(
        tmp_path,
        "icl",
        outcomes={("reversal", "r"): [True, True, True, True, False, True], ("forward", "f"): [True, True]},
    )
    comparison = compare_runs(a, b)
    forward, rev = comparison.splits  # the study's split order
    assert (rev.split, rev.n, rev.only_a, rev.only_b) == ("reversal", 6, 1, 4)
    assert rev.diff == pytest.approx(3 / 6) and rev.p_value == pytest.approx(mcnemar_exact(1, 4))
    assert forward.diff == 0 and forward.p_value == 1.0
    assert "only B right" in format_comparison(comparison)

    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "A: base" in out and "B: icl" in out and "+0.500" in out

    other = make_run(tmp_path, "ft", benchmark="syllogism", outcomes={("syllogism", "s"): [True]})
    assert main(["compare", str(a), str(other)]) == 2
    assert "share no test items" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path)]) == 2


def test_run_records_round_trip_and_name_a_broken_file(tmp_path):
    from iclft.runs.records import MetricsRecord, SampleRecord

    run_dir = make_run(tmp_path, "icl")
    sample = read_jsonl(run_dir / "samples.jsonl")[0]
    assert SampleRecord.from_dict(sample).to_dict() == {**sample, "pred": {}}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert MetricsRecord.from_dict(metrics).to_dict() == metrics
    write_json(run_dir / "metrics.json", {"condition": "icl"})
    with pytest.raises(UserError, match=r"metrics\.json: missing field 'headline'"):
        load_run(run_dir)
    [broken] = collect(tmp_path).missing  # the report skips the run and says why
    assert (broken.slug, broken.status) == (run_dir.name, "broken") and "missing field 'headline'" in broken.detail


BROKEN_RUN_FILES = {
    "metrics-not-json": ("metrics.json", "{oops", "metrics.json:1: not valid JSON"),
    "metrics-a-list": ("metrics.json", "[]", "metrics.json: expected a mapping"),
    "metrics-missing-field": ("metrics.json", '{"condition": "icl"}', "metrics.json: missing field 'headline'"),
    "metrics-split-no-accuracy": (
        "metrics.json",
        '{"headline": "sum", "n_items": 1, "splits": {"reversal": {"n": 1}}}',
        "metrics.json: field 'splits.reversal.accuracy'",
    ),
    "metrics-not-utf8": ("metrics.json", b'{"headline": "s\xe9"}', "metrics.json: not UTF-8"),
    "config-not-a-mapping": ("config.yaml", "- icl\n", "config.yaml: expected a mapping"),
    "config-bad-yaml": ("config.yaml", "benchmark: {name: reversal\n", "config.yaml:"),
    "config-no-benchmark": ("config.yaml", "condition: icl\n", "config.yaml: field 'benchmark.name'"),
}


@pytest.mark.parametrize("file, content, culprit", BROKEN_RUN_FILES.values(), ids=BROKEN_RUN_FILES)
def test_report_skips_a_broken_run_and_keeps_the_good_ones(tmp_path, capsys, file, content, culprit):
    runs = tmp_path / "runs"
    good = make_run(runs, "base")
    bad = make_run(runs, "icl")
    (bad / file).write_bytes(content if isinstance(content, bytes) else content.encode())

    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    [warning] = err.strip().splitlines()
    assert warning.startswith(f"iclft: warning: skipped run {bad.name}: {bad}/") and culprit in warning
    assert "1 finished run(s)" in out and f"broken: {bad.name}" in out
    html = (tmp_path / "out" / "report.html").read_text()
    assert good.name in html and "<b>broken</b>" in html and bad.name in html
    rows = list(csv.DictReader((tmp_path / "out" / "tables" / "reversal.csv").open()))
    assert [r["condition"] for r in rows] == ["base"]  # the good run, and only it


@pytest.mark.parametrize(
    "content, culprit",
    [
        ("{oops", "not valid JSON"),
        ('["slug"]', "expected a mapping"),
        ('{"error": "boom"}', "missing field 'slug'"),
        (b'{"slug": "x", "error": "\xe9"}', "not UTF-8"),
    ],
)
def test_report_skips_a_broken_failure_record(tmp_path, capsys, content, culprit):
    runs = tmp_path / "runs"
    good = make_run(runs, "base")
    write_json(
        runs / "failed" / "reversal-ft-ok.json", {"slug": "reversal-ft-ok", "error": "RuntimeError: out of memory"}
    )
    broken = runs / "failed" / "reversal-ft-bad.json"
    broken.write_bytes(content if isinstance(content, bytes) else content.encode())

    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    [warning] = err.strip().splitlines()
    assert warning.startswith(f"iclft: warning: skipped failure record: {broken}") and culprit in warning
    assert "1 finished run(s)" in out and "failed: reversal-ft-ok (RuntimeError: out of memory)" in out
    assert good.name in (tmp_path / "out" / "report.html").read_text()


def test_report_skips_a_broken_sweep_plan(tmp_path, capsys):
    runs = tmp_path / "runs"
    make_run(runs, "base")
    write_json(runs / "sweeps" / "good.json", {"name": "good", "runs": [{"slug": "syllogism-ft-1"}]})
    (runs / "sweeps" / "bad.json").write_text('{"name": "bad", "runs": {"slug": 1}}')

    assert main(["report", str(runs), "--out", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert (
        err.strip()
        == f"iclft: warning: skipped sweep plan: {runs / 'sweeps' / 'bad.json'}: field 'runs' must be a list of planned runs"
    )
    assert "not started: syllogism-ft-1" in out


def test_compare_names_the_broken_file_of_a_run(tmp_path, capsys):
    good, bad = make_run(tmp_path, "base"), make_run(tmp_path, "icl")
    (bad / "samples.jsonl").write_text('{"id": "x", "split": "reversal"}\n')
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"iclft: error: {bad / 'samples.jsonl'}: record 1: missing field") and "\n" not in err
    (bad / "metrics.json").write_text("[]")
    assert main(["compare", str(good), str(bad)]) == 2
    assert capsys.readouterr().err.strip() == f"iclft: error: {bad / 'metrics.json'}: expected a mapping, got list"
