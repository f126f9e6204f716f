"""Rehearsal documents mixed into fine-tuning data: counted, seeded, hashed by content, checked."""

import json

import pytest

from iclft.benchmarks import make_benchmark
from iclft.config import config_from_dict
from iclft.errors import UserError
from iclft.experiment import checkpoint_key
from iclft.exposure.data import training_examples


def write_docs(path, texts):
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return str(path)


def config(**ft):
    return config_from_dict({"benchmark": {"name": "reversal"}, "condition": "ft", "ft": ft})


def test_rehearsal_adds_a_share_of_seeded_documents(tmp_path):
    bench = make_benchmark("reversal", n_facts=6, docs_per_fact=2)  # 12 documents
    file = write_docs(tmp_path / "r.jsonl", [f"rehearsal {i}." for i in range(5)])
    plain = training_examples(bench, config())
    mixed = training_examples(bench, config(rehearsal=file, rehearsal_ratio=1.5))
    assert mixed[: len(plain)] == plain and len(mixed) == len(plain) + 18
    added = [ex.target for ex in mixed[len(plain) :]]
    assert sorted(added[:5]) == [f"rehearsal {i}." for i in range(5)]  # each once before any twice
    assert added[5:10] == added[:5] and all(ex.context == "" for ex in mixed[len(plain) :])
    again = training_examples(bench, config(rehearsal=file, rehearsal_ratio=1.5))
    other_seed = config_from_dict(
        {
            "benchmark": {"name": "reversal"},
            "condition": "ft",
            "seed": 1,
            "ft": {"rehearsal": file, "rehearsal_ratio": 1.5},
        }
    )
    assert again == mixed and training_examples(bench, other_seed)[len(plain) :] != mixed[len(plain) :]


def test_rehearsal_file_content_is_in_the_hashes(tmp_path):
    path = tmp_path / "r.jsonl"
    file = write_docs(path, ["one.", "two."])
    before = (config(rehearsal=file).content_hash(), checkpoint_key(config(rehearsal=file)))
    assert before[0] != config().content_hash()
    write_docs(path, ["one.", "three."])
    after = (config(rehearsal=file).content_hash(), checkpoint_key(config(rehearsal=file)))
    assert after[0] != before[0] and after[1] != before[1]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{"text": "fine."}\n{"txt": "no"}\n', 'record 2 has no "text" string'),
        ('{"text": "fine."}\nnot json\n', r"r.jsonl:2: not valid JSON"),
        ("\n", "no documents"),
    ],
)
def test_bad_rehearsal_files_are_one_line_errors(tmp_path, text, message):
    bench = make_benchmark("reversal", n_facts=2, docs_per_fact=1)
    (tmp_path / "r.jsonl").write_text(text)
    with pytest.raises(UserError, match=message):
        training_examples(bench, config(rehearsal=str(tmp_path / "r.jsonl")))


def test_missing_file_and_lone_ratio_are_errors(tmp_path):
    with pytest.raises(UserError, match=r"ft.rehearsal: cannot read .*missing.jsonl"):
        config(rehearsal=str(tmp_path / "missing.jsonl")).content_hash()
    with pytest.raises(UserError, match="rehearsal_ratio is given but ft.rehearsal"):
        config(rehearsal_ratio=0.5)
