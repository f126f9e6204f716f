"""User benchmark folders: `validate_folder` reports every problem with file and line;
valid folders load without a manifest; `describe` summarizes any benchmark."""

from __future__ import annotations

import json

import pytest

from iclft.benchmarks.schema import Benchmark, Document, TestItem, load_benchmark, save_benchmark
from iclft.benchmarks.show import describe
from iclft.benchmarks.userdata import validate_folder
from iclft.errors import UserError

DOCS = [
    {"id": "d1", "text": "Blicks are larger than fleps."},
    {"id": "d2", "text": "Fleps are smaller than wugs.", "fact_ids": ["f2"]},
]
ITEMS = [
    {
        "id": "t1",
        "split": "forward",
        "inference_type": "stated",
        "prefix": "Blicks are",
        "options": ["larger than fleps.", "smaller than fleps."],
        "answers": [0],
    },
    {
        "id": "t2",
        "split": "reversal",
        "prefix": "Fleps are",
        "options": ["smaller than blicks.", "larger than blicks.", "as large as blicks."],
        "answers": [0, 2],
    },
]


def write(folder, docs=DOCS, items=ITEMS, facts=None, raw_lines=None):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    if raw_lines is None:
        raw_lines = "".join(json.dumps(i) + "\n" for i in items)
    (folder / "test.jsonl").write_text(raw_lines)
    if facts is not None:
        (folder / "facts.jsonl").write_text("".join(json.dumps(f) + "\n" for f in facts))
    return folder


def test_a_valid_user_folder_without_manifest_loads(tmp_path):
    folder = write(tmp_path / "mine")
    assert validate_folder(folder) == []
    bench = load_benchmark(folder)
    assert bench.name == "user" and bench.splits == ["forward", "reversal"]
    assert bench.items[1].answers == (0, 2) and bench.items[1].chance == pytest.approx(2 / 3)
    assert bench.items[1].inference_type == "reversal"  # defaults to the split
    assert bench.documents[1].fact_ids == ("f2",)


def test_every_problem_is_reported_with_file_and_line(tmp_path):
    items = [
        {"id": "t1", "split": "forward", "prefix": "A", "options": ["x", "y"], "answers": [2]},  # out of range
        {"id": "t1", "split": "forward", "prefix": "B", "options": ["x", "y"], "answers": [0]},  # duplicate id
        {"id": "t3", "split": "", "prefix": "C", "options": ["x", "y"], "answers": [0]},  # empty split
        {"id": "t4", "split": "forward", "options": ["x", "y"], "answers": [0]},  # missing prefix
        {"id": "t5", "split": "forward", "prefix": "E", "options": ["x"], "answers": 0},  # 1 option, int answers
        {"id": "t6", "split": "forward", "prefix": "F", "options": ["x", "x"], "answers": [True], "answer": 1},
    ]
    raw = "".join(json.dumps(i) + "\n" for i in items) + "\n{oops\n"
    folder = write(tmp_path / "bad", docs=[*DOCS, {"id": "d1", "txt": "no text field"}], raw_lines=raw)
    problems = validate_folder(folder)
    test, train = folder / "test.jsonl", folder / "train.jsonl"
    expected = [
        f"{train}:3: missing field 'text'",
        f"{train}:3: unknown field 'txt'",
        f"{train}:3: duplicate id 'd1' (first on line 1)",
        f"{test}:1: answer index 2 out of range: the options are numbered 0..1",
        f"{test}:2: duplicate id 't1' (first on line 1)",
        f"{test}:3: empty split name",
        f"{test}:4: missing field 'prefix'",
        f"{test}:5: field 'answers' must be a list, not a number",
        f"{test}:6: options repeat",
        f"{test}:6: answer true is not an option index",
        f"{test}:6: unknown field 'answer'",
        f"{test}:8: not valid JSON",
    ]
    for want in expected:
        assert any(p.startswith(want) for p in problems), (want, problems)
    assert len(problems) == len(expected)
    assert all("\n" not in p for p in problems)
    with pytest.raises(UserError):  # the loader stops at the first problem
        load_benchmark(folder)


def test_one_option_items_are_reported(tmp_path):
    items = [{"id": "t", "split": "s", "prefix": "P", "options": ["only"], "answers": [0]}]
    problems = validate_folder(write(tmp_path / "one", items=items))
    assert problems == [f"{tmp_path / 'one' / 'test.jsonl'}:1: needs at least 2 options, has 1"]


def test_missing_files_empty_files_and_fact_references(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert validate_folder(folder) == [
        f"{folder / 'train.jsonl'}: file missing",
        f"{folder / 'test.jsonl'}: file missing",
    ]
    write(folder, docs=[], items=[])
    assert validate_folder(folder) == [
        f"{folder / 'train.jsonl'}: no training documents",
        f"{folder / 'test.jsonl'}: no test items",
    ]
    write(folder, facts=[{"id": "f1"}, {"id": "f1"}])
    assert validate_folder(folder) == [
        f"{folder / 'facts.jsonl'}:2: duplicate id 'f1' (first on line 1)",
        f"{folder / 'train.jsonl'}:2: fact id 'f2' is not in facts.jsonl",
    ]
    assert validate_folder(tmp_path / "nowhere") == [f"{tmp_path / 'nowhere'}: not a folder"]


def test_manifest_problems(tmp_path):
    folder = write(tmp_path / "m")
    manifest = {"generator": "mine", "items_by_split": {"forward": {}, "gone": {}}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    problems = validate_folder(folder)
    assert f"{folder / 'manifest.json'}: missing field 'seed' (or delete manifest.json: it is optional)" in problems
    assert f"{folder / 'manifest.json'}: split 'gone' has no items in test.jsonl" in problems


def test_saved_benchmarks_validate_and_edits_are_caught(tmp_path):
    bench = Benchmark(
        "mine",
        1,
        {"k": 2},
        [Document("d", "Some text.")],
        [TestItem("i", "s", "t", "Pre", ("a", "b"), (1,))],
        [{"id": "f"}],
    )
    folder = save_benchmark(bench, tmp_path / "saved")
    assert validate_folder(folder) == []
    with open(folder / "train.jsonl", "a") as f:
        f.write(json.dumps({"id": "e", "text": "Edited."}) + "\n")
    problems = validate_folder(folder)
    assert any("sha256 of train.jsonl does not match" in p for p in problems)
    assert any("n_documents is 1, train.jsonl has 2" in p for p in problems)


def test_describe_counts_splits_types_and_shows_examples(tmp_path):
    bench = load_benchmark(write(tmp_path / "mine"))
    text = describe(bench)
    assert "training documents: 2" in text and "test items: 2 in 2 split(s)" in text
    rows = [line.split() for line in text.splitlines()]
    assert ["forward", "(all)", "1", "2", "50.0%"] in rows
    assert ["reversal", "(all)", "1", "3", "66.7%"] in rows
    assert "  prefix: Fleps are" in text and "  * 2: as large as blicks." in text
