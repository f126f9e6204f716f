import json
from collections import Counter

import pytest

from iclft.benchmarks import make_benchmark, save_benchmark
from iclft.benchmarks.lexicon import english_words
from iclft.benchmarks.reversal import DIMENSIONS, TEST_LEAD_INS, TRAIN_LEAD_INS, make_reversal
from iclft.benchmarks.schema import DATA_FILES, load_benchmark, sha256_text
from iclft.errors import UserError


@pytest.fixture(scope="module")
def bench():
    return make_reversal(seed=0)


def _folder_bytes(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_same_seed_byte_identical_files(tmp_path):
    a = save_benchmark(make_reversal(seed=1), tmp_path / "a")
    b = save_benchmark(make_benchmark("reversal", seed=1), tmp_path / "b")
    c = save_benchmark(make_reversal(seed=2), tmp_path / "c")
    assert _folder_bytes(a) == _folder_bytes(b)
    for name in DATA_FILES:
        assert (a / name).read_bytes() != (c / name).read_bytes(), name


def test_manifest_hashes_match_files(tmp_path, bench):
    folder = save_benchmark(bench, tmp_path / "r")
    man = json.loads((folder / "manifest.json").read_text())
    for name in DATA_FILES:
        assert man["files"][name]["sha256"] == sha256_text((folder / name).read_text(encoding="utf-8"))
    assert man["params"] == {"n_facts": 100, "docs_per_fact": 10}
    assert man["n_documents"] == 1000 and man["n_facts"] == 100
    assert man["items_by_split"] == {"reversal": {"reversal": 100}, "forward": {"forward": 100}}
    loaded = load_benchmark(folder)
    assert loaded.items == bench.items and loaded.documents == bench.documents


def test_counts(bench):
    assert len(bench.facts) == 100
    assert len(bench.documents) == 1000
    assert bench.splits == ["reversal", "forward"]
    assert len(bench.items_in("reversal")) == 100
    assert len(bench.items_in("forward")) == 100
    per_fact = Counter(d.fact_ids for d in bench.documents)
    assert set(per_fact.values()) == {10}


def test_dimensions_are_28_pairs_without_shared_comparatives():
    assert len(DIMENSIONS) == 28
    comparatives = [c for _, more, less in DIMENSIONS for c in (more, less)]
    assert len(comparatives) == len(set(comparatives)) == 56
    assert len({name for name, _, _ in DIMENSIONS}) == 28


def test_dimensions_used_evenly(bench):
    uses = Counter(f["dimension"] for f in bench.facts)
    assert len(uses) == 28
    assert max(uses.values()) - min(uses.values()) <= 1


def test_each_noun_in_one_fact_and_not_english(bench):
    nouns = [f[k] for f in bench.facts for k in ("a", "b")]
    assert len(nouns) == len(set(nouns)) == 200
    english = english_words()
    assert not [n for n in nouns if n in english]


def test_documents_state_the_fact_after_a_training_lead_in(bench):
    facts = {f["id"]: f for f in bench.facts}
    for doc in bench.documents:
        fact = facts[doc.fact_ids[0]]
        body = f"{fact['a']} are {fact['comparative']} than {fact['b']}"
        starts = [start for start, end in TRAIN_LEAD_INS if doc.text == f"{start} {body}{end}"]
        assert len(starts) == 1, doc.text
    # ten documents per fact, no lead-in repeated within a fact
    texts_by_fact = Counter(doc.fact_ids[0] for doc in bench.documents)
    assert len(set(d.text for d in bench.documents)) == len(bench.documents) == 10 * len(texts_by_fact)


def test_reversal_items_correct_option_is_the_converse(bench):
    facts = {f["id"]: f for f in bench.facts}
    for item in bench.items_in("reversal"):
        fact = facts[item.fact_ids[0]]
        assert item.prefix.endswith(f" {fact['b']} are")
        assert len(item.options) == 2 and len(item.answers) == 1
        right = item.options[item.answers[0]]
        wrong = item.options[1 - item.answers[0]]
        assert right == f"{fact['converse']} than {fact['a']}."
        assert wrong == f"{fact['comparative']} than {fact['a']}."


def test_forward_items_use_trained_direction_and_new_lead_ins(bench):
    facts = {f["id"]: f for f in bench.facts}
    train_starts = {start for start, _ in TRAIN_LEAD_INS}
    for item in bench.items_in("forward"):
        fact = facts[item.fact_ids[0]]
        lead_in = item.prefix[: -len(f" {fact['a']} are")]
        assert item.prefix.endswith(f" {fact['a']} are")
        assert lead_in in TEST_LEAD_INS and lead_in not in train_starts
        assert item.options[item.answers[0]] == f"{fact['comparative']} than {fact['b']}."
        assert item.options[1 - item.answers[0]] == f"{fact['converse']} than {fact['b']}."
    for item in bench.items_in("reversal"):
        assert not any(item.prefix.startswith(start + " ") for start in train_starts)


def test_answer_positions_are_shuffled(bench):
    positions = Counter(item.answers[0] for item in bench.items)
    assert 60 < positions[0] < 140 and positions[0] + positions[1] == 200


def test_both_directions_of_a_dimension_are_trained(bench):
    trained = Counter(f["comparative"] for f in bench.facts)
    more = sum(trained[m] for _, m, _ in DIMENSIONS)
    less = sum(trained[l] for _, _, l in DIMENSIONS)
    assert 25 < more < 75 and more + less == 100


def test_params_and_unknown_params():
    small = make_reversal(seed=0, n_facts=5, docs_per_fact=20)
    assert small.params == {"n_facts": 5, "docs_per_fact": 20}
    assert len(small.documents) == 100 and len(small.items) == 10
    with pytest.raises(UserError, match="n_fact.*accepted: n_facts, docs_per_fact"):
        make_reversal(seed=0, n_fact=5)
    with pytest.raises(UserError, match="n_facts"):
        make_reversal(seed=0, n_facts=0)
