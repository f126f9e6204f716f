import json
from collections import Counter

import pytest

from iclft.benchmarks import make_benchmark, save_benchmark
from iclft.benchmarks.schema import DATA_FILES, sha256_text
from iclft.benchmarks.syllogism import candidates, form_name, is_valid, make_syllogism, valid_forms
from iclft.errors import UserError


@pytest.fixture(scope="module")
def bench():
    return make_syllogism(seed=0)


# Classical moods over S (minor), M (middle), P (major): (premises, conclusion).
VALID = {
    "Barbara AAA-1": ([("all", "M", "P"), ("all", "S", "M")], ("all", "S", "P")),
    "Celarent EAE-1": ([("no", "M", "P"), ("all", "S", "M")], ("no", "S", "P")),
    "Darii AII-1": ([("all", "M", "P"), ("some", "S", "M")], ("some", "S", "P")),
    "Ferio EIO-1": ([("no", "M", "P"), ("some", "S", "M")], ("some_not", "S", "P")),
    "Cesare EAE-2": ([("no", "P", "M"), ("all", "S", "M")], ("no", "S", "P")),
    "Camestres AEE-2": ([("all", "P", "M"), ("no", "S", "M")], ("no", "S", "P")),
    "Baroco AOO-2": ([("all", "P", "M"), ("some_not", "S", "M")], ("some_not", "S", "P")),
    "Datisi AII-3": ([("all", "M", "P"), ("some", "M", "S")], ("some", "S", "P")),
    "Disamis IAI-3": ([("some", "M", "P"), ("all", "M", "S")], ("some", "S", "P")),
    "Bocardo OAO-3": ([("some_not", "M", "P"), ("all", "M", "S")], ("some_not", "S", "P")),
    "Camenes AEE-4": ([("all", "P", "M"), ("no", "M", "S")], ("no", "S", "P")),
    "Dimaris IAI-4": ([("some", "P", "M"), ("all", "M", "S")], ("some", "S", "P")),
    # valid only because terms are non-empty (existential import)
    "Darapti AAI-3": ([("all", "M", "P"), ("all", "M", "S")], ("some", "S", "P")),
    "Barbari AAI-1": ([("all", "M", "P"), ("all", "S", "M")], ("some", "S", "P")),
    "Bramantip AAI-4": ([("all", "P", "M"), ("all", "M", "S")], ("some", "S", "P")),
    "Felapton EAO-3": ([("no", "M", "P"), ("all", "M", "S")], ("some_not", "S", "P")),
}

INVALID = {
    "undistributed middle": ([("all", "A", "B"), ("all", "C", "B")], ("all", "A", "C")),
    "undistributed middle, some": ([("all", "P", "M"), ("all", "S", "M")], ("some", "S", "P")),
    "illicit major": ([("all", "M", "P"), ("no", "S", "M")], ("no", "S", "P")),
    "illicit minor": ([("all", "M", "P"), ("all", "M", "S")], ("all", "S", "P")),
    "two negatives": ([("no", "M", "P"), ("no", "S", "M")], ("no", "S", "P")),
    "two particulars": ([("some", "M", "P"), ("some", "S", "M")], ("some", "S", "P")),
    "affirmative from negative": ([("no", "M", "P"), ("all", "S", "M")], ("some", "S", "P")),
    "converting all": ([("all", "M", "P"), ("all", "S", "M")], ("all", "P", "S")),
    "negative from affirmatives": ([("all", "M", "P"), ("all", "S", "M")], ("no", "S", "P")),
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_checker_accepts_valid_moods(name):
    premises, conclusion = VALID[name]
    assert is_valid(premises, conclusion)


@pytest.mark.parametrize("name", sorted(INVALID))
def test_checker_rejects_invalid_moods(name):
    premises, conclusion = INVALID[name]
    assert not is_valid(premises, conclusion)


def test_checker_basics():
    assert is_valid([("all", "A", "B")], ("some", "A", "B"))  # non-empty A
    assert is_valid([("some", "A", "B")], ("some", "B", "A"))
    assert is_valid([("no", "A", "B")], ("no", "B", "A"))
    assert not is_valid([("some", "A", "B")], ("all", "A", "B"))
    assert not is_valid([("all", "A", "B")], ("all", "B", "A"))
    with pytest.raises(ValueError):
        is_valid([("most", "A", "B")], ("some", "A", "B"))


def test_form_names_and_valid_forms():
    assert form_name([("all", "M", "P"), ("all", "S", "M")], "M") == "AA-1"
    assert form_name([("all", "S", "M"), ("no", "M", "P")], "M") == "EA-1"
    assert form_name([("no", "P", "M"), ("all", "S", "M")], "M") == "AE-2"
    assert form_name([("some", "M", "P"), ("all", "M", "S")], "M") == "AI-3"
    forms = valid_forms()
    assert {"AA-1", "EA-1", "AI-1", "AE-2", "AA-3", "AI-3"} == set(forms)
    for premises in forms.values():
        assert any(is_valid(premises, c) for c in candidates("S", "P"))


def test_same_seed_byte_identical_files(tmp_path):
    a = save_benchmark(make_syllogism(seed=1), tmp_path / "a")
    b = save_benchmark(make_benchmark("syllogism", seed=1), tmp_path / "b")
    c = save_benchmark(make_syllogism(seed=2), tmp_path / "c")
    for name in (*DATA_FILES, "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    for name in DATA_FILES:
        assert (a / name).read_bytes() != (c / name).read_bytes(), name


def test_manifest_hashes_match_files(tmp_path, bench):
    folder = save_benchmark(bench, tmp_path / "s")
    man = json.loads((folder / "manifest.json").read_text())
    for name in DATA_FILES:
        assert man["files"][name]["sha256"] == sha256_text((folder / name).read_text(encoding="utf-8"))
    assert man["params"] == {"n_train": 69}
    assert man["n_documents"] == man["n_items"] == man["n_facts"] == 69


def test_counts_and_balance(bench):
    assert len(bench.documents) == len(bench.items) == len(bench.facts) == 69
    assert bench.splits == ["syllogism"]
    uses = Counter(item.inference_type for item in bench.items)
    assert set(uses) == set(valid_forms())
    assert max(uses.values()) - min(uses.values()) <= 1


def test_every_item_is_checked_by_the_checker(bench):
    facts = {f["id"]: f for f in bench.facts}
    for item in bench.items:
        fact = facts[item.fact_ids[0]]
        premises = [tuple(p) for p in fact["premises"]]
        first, second = item.prefix.removeprefix("The relationships between ").removesuffix(" are:").split(" and ")
        statements = candidates(first, second)
        assert len(item.options) == 6 and len(set(item.options)) == 6
        assert item.answers, item.id
        assert sorted(item.options) == sorted(f"{q.capitalize()} {s} are {p}." for q, s, p in statements)
        for statement in statements:
            q, s, p = statement
            i = item.options.index(f"{q.capitalize()} {s} are {p}.")
            assert (i in item.answers) == is_valid(premises, statement), (item.id, i)
        assert {first, second} == {fact["terms"]["S"], fact["terms"]["P"]}
        assert item.inference_type == fact["form"] == form_name(premises, fact["terms"]["M"])


def test_documents_state_the_premises(bench):
    facts = {f["id"]: f for f in bench.facts}
    for doc in bench.documents:
        fact = facts[doc.fact_ids[0]]
        head, body = doc.text.split(": ")
        assert head.startswith("The relationships between ") and head.endswith(" are")
        named = head.removeprefix("The relationships between ").removesuffix(" are").replace(" and ", ", ")
        assert sorted(named.split(", ")) == sorted(fact["terms"].values())
        assert body == " ".join(f"{q.capitalize()} {s} are {p}." for q, s, p in fact["premises"])
    words = [w for f in bench.facts for w in f["terms"].values()]
    assert len(words) == len(set(words)) == 3 * 69


def test_premise_order_and_term_order_vary(bench):
    s_premise_first = sum(f["terms"]["S"] in f["premises"][0] for f in bench.facts)
    assert 15 < s_premise_first < 54
    s_first = sum(
        item.prefix.startswith(f"The relationships between {f['terms']['S']} ")
        for item, f in zip(bench.items, bench.facts)
    )
    assert 15 < s_first < 54


def test_params_and_unknown_params():
    small = make_syllogism(seed=0, n_train=7)
    assert small.params == {"n_train": 7} and len(small.items) == 7
    with pytest.raises(UserError, match="n_examples.*accepted: n_train"):
        make_syllogism(seed=0, n_examples=5)
    with pytest.raises(UserError, match="n_train"):
        make_syllogism(seed=0, n_train=0)


def test_no_option_position_gives_the_answer_away(bench):
    """The candidates are shuffled per item: each position is valid about as often as chance
    (in a fixed order, two positions were valid in 67% of items, against a chance of 0.36)."""
    n = len(bench.items)
    chance = sum(item.chance for item in bench.items) / n
    orders = {tuple(sorted(item.options).index(o) for o in item.options) for item in bench.items}
    assert len(orders) > n // 2
    for position in range(6):
        share = sum(position in item.answers for item in bench.items) / n
        assert abs(share - chance) < 0.15, (position, share, chance)
