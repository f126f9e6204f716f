"""`iclft data audit`: surface heuristics, item checks and the no-context model baseline."""

from __future__ import annotations

import json

import pytest

from iclft.audit_model import run_audit
from iclft.benchmarks.schema import Benchmark, Document, TestItem, save_benchmark
from iclft.benchmarks.userdata import validate_folder
from iclft.benchmarks.validity import (
    audit,
    format_table,
    near_duplicates,
    summary,
    tie_credit,
)
from iclft.cli import main

WORDS = ["blik", "flep", "trim", "sler", "zorb", "quan", "mivo", "darp"]  # one length


def planted_benchmark(n: int = 40) -> Benchmark:
    """Split `cued`: the correct option is always the longest. Split `clean`: options of one
    length, the answer at every position equally often, every option in the training documents."""
    documents, items = [], []
    for i in range(n):
        options = [f"{w}{i:02d}" for w in WORDS[i % 4 : i % 4 + 4]]
        answer = i % 4
        documents.append(Document(f"d{i}", f"Item {i} lists {', '.join(options)}."))
        items.append(TestItem(f"clean/{i}", "clean", "clean", f"Item {i} says", tuple(options), (answer,)))
        cued = list(options)
        cued[answer] += "xx"
        items.append(TestItem(f"cued/{i}", "cued", "cued", f"Item {i} says", tuple(cued), (answer,)))
    return Benchmark("planted", 0, {}, documents, items)


def test_planted_cue_flags_its_split_and_not_the_clean_one():
    report = audit(planted_benchmark())
    cued, clean = report["splits"]["cued"], report["splits"]["clean"]
    assert cued["heuristics"]["longest option"]["accuracy"] == 1.0 and cued["heuristics"]["longest option"]["flag"]
    assert cued["heuristics"]["shortest option"]["accuracy"] == 0.0 and cued["heuristics"]["shortest option"]["flag"]
    assert any(f.startswith("longest option: 1.00 above chance 0.25") for f in cued["flags"])
    assert any(f.startswith("shortest option: 0.00 below chance") for f in cued["flags"])
    assert clean["flags"] == []
    assert all(r["accuracy"] == pytest.approx(0.25) for r in clean["heuristics"].values())
    table = format_table(report)
    assert "longest option" in table and "1.00*" in table and "cued: longest option" in table


def test_chance_and_standard_error_per_item():
    assert tie_credit([3, 3, 1], (0,)) == 0.5 and tie_credit([1, 2], (0,)) == 0.0 and tie_credit([2, 2], (0, 1)) == 1.0
    r = summary([1.0] * 6 + [0.0] * 94, [0.25] * 100)
    assert r["se"] == pytest.approx((0.25 * 0.75) ** 0.5 / 10)
    assert r["z"] < -2 and r["flag"]  # below chance is flagged too
    assert not summary([1.0] * 27 + [0.0] * 73, [0.25] * 100)["flag"]
    mixed = summary([0.0, 1.0], [0.5, 1 / 6])
    assert mixed["chance"] == pytest.approx((0.5 + 1 / 6) / 2)
    assert summary([1.0, 1.0], [1.0, 1.0]) | {"se": 0} == {
        "n": 2,
        "accuracy": 1.0,
        "chance": 1.0,
        "se": 0,
        "z": None,
        "flag": False,
    }


def test_heuristics_that_read_the_training_documents():
    docs = [Document("d0", "The blick is fast. The blick is red. Zorbs are red."), Document("d1", "Quan was a word.")]
    items = [
        TestItem(f"q{i}", "s", "s", "The blick is", ("red and round", "blue sky", "a zorb"), (0,)) for i in range(12)
    ]
    report = audit(Benchmark("t", 0, {}, docs, items))["splits"]["s"]["heuristics"]
    assert report["first word follows prefix in training"]["accuracy"] == 1.0  # "is red" twice, "is blue" never
    assert report["most words shared with training"]["accuracy"] == pytest.approx(
        0.5
    )  # red|and ; blue,sky ; a,zorb: tie red vs a
    assert report["most words shared with prefix"]["accuracy"] == pytest.approx(
        1 / 3
    )  # nothing shared: a three-way tie


def test_repeated_options_and_answers_of_the_same_prefix():
    assert near_duplicates("the composer of 'X'", "The renowned composer of 'X'.")
    assert not near_duplicates("All blicks are fleps.", "Some blicks are fleps.")
    assert not near_duplicates("All blicks are fleps.", "All fleps are blicks.")
    items = [
        TestItem("a", "s", "s", "Blicks are", ("larger than fleps.", "the larger than fleps"), (0,)),
        TestItem("b", "s", "s", "Zorbs are", ("red.", "blue."), (0,)),
        TestItem("c", "s", "s", "Zorbs are", ("green.", "red."), (0,)),  # "red." answers b, same prefix
    ]
    split = audit(Benchmark("t", 0, {}, [Document("d", "x")], items))["splits"]["s"]
    assert split["repeated_options"] == {"count": 1, "examples": ["a"]}
    assert split["answer_of_same_prefix"] == {"count": 1, "examples": ["c"]}
    assert any("repeated" in f for f in split["flags"]) and any("same-prefix" in f for f in split["flags"])


def test_base_is_the_evaluation_accuracy_without_context(tmp_path, tiny_model_dir, tiny_lm):
    from iclft.evaluation.metrics import compute_metrics
    from iclft.evaluation.scoring import score_items

    bench = planted_benchmark(8)
    folder = save_benchmark(bench, tmp_path / "planted")
    report, path = run_audit(str(folder), model=str(tiny_model_dir), progress=False)
    assert path == folder / "audit.json"
    expected = compute_metrics(score_items(tiny_lm, bench.items, progress=False))["splits"]
    for split in ("clean", "cued"):
        base = report["splits"][split]["base"]
        assert base["accuracy"] == pytest.approx(expected[split]["accuracy"]) and base["n"] == 8
        assert base["model"] == str(tiny_model_dir)
    assert json.loads(path.read_text())["splits"]["cued"]["base"]["n"] == 8
    assert "base" in format_table(report)


def test_cli_on_a_folder_and_a_builtin_name(tmp_path, capsys):
    folder = save_benchmark(planted_benchmark(), tmp_path / "planted")
    assert main(["data", "audit", str(folder), "--no-model"]) == 0
    out = capsys.readouterr().out
    assert "cued: longest option: 1.00 above chance" in out and "clean:" not in out
    saved = json.loads((folder / "audit.json").read_text())
    assert validate_folder(folder) == []  # audit.json beside the data is no problem
    assert saved["model"] is None and "base" not in saved["splits"]["cued"]
    assert main(["data", "audit", "syllogism", "--seed", "0", "--no-model", "--out", str(tmp_path / "syl")]) == 0
    saved = json.loads((tmp_path / "syl" / "audit.json").read_text())
    assert saved["benchmark"] == "syllogism" and saved["seed"] == 0 and saved["splits"]["syllogism"]["n"] == 69


def test_cli_unknown_benchmark_is_one_line(tmp_path, capsys):
    assert main(["data", "audit", str(tmp_path / "nothing-here"), "--no-model"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("iclft: error:") and "nothing-here" in err and "\n" not in err
