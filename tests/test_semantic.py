"""The semantic-structure benchmark: sizes, styles, ground truth, fact coverage, held-out
isolation, untrained test sentences, determinism, and the checks themselves."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import pytest

from iclft.benchmarks.schema import Document, load_benchmark, save_benchmark
from iclft.benchmarks.semantic import check_benchmark, make_semantic
from iclft.benchmarks.semantic_items import ItemBuilder, check_question
from iclft.benchmarks.semantic_text import Vocabulary
from iclft.benchmarks.semantic_tree import load_hierarchy
from iclft.benchmarks.userdata import validate_folder
from iclft.errors import UserError

WORD = re.compile(r"[a-z]+")


@pytest.fixture(scope="module")
def bench():
    return make_semantic(seed=0)


@pytest.fixture(scope="module")
def truth(bench):
    """Ground truth rebuilt from facts.jsonl alone: parents, own properties, word meanings."""
    parent = {r["name"]: r["parent"] for r in bench.facts if r["type"] == "category"}
    own = {c: set() for c in parent}
    for r in bench.facts:
        if r["type"] == "property":
            own[r["subject"]].add((r["kind"], r["object"]))
    meaning = {}
    for r in bench.facts:
        if r["type"] == "word":
            entity = ("category", r["english"]) if r["kind"] == "category" else ("property", (r["kind"], r["english"]))
            meaning[r["form"]] = meaning[r["word"]] = entity

    def lineage(c):
        out = [c]
        while parent[out[-1]] is not None:
            out.append(parent[out[-1]])
        return out

    def has(c, prop):
        return any(prop in own[a] for a in lineage(c))

    def is_a(c, other):
        return other in lineage(c)[1:]

    held_out = {r["name"] for r in bench.facts if r["type"] == "category" and r["held_out"]}
    return dict(parent=parent, own=own, meaning=meaning, has=has, is_a=is_a, held_out=held_out)


def is_reversed(item):
    return item.split == "reversal" or item.inference_type == "membership-reversed"


def option_entity(truth, option):
    return truth["meaning"][option.rstrip(".")]


def test_sizes_and_splits(bench, truth):
    assert 100 <= len(truth["parent"]) <= 120
    assert len(bench.documents) == 2200
    assert bench.splits == ["rephrased", "reversal", "syllogism", "holdout"]
    counts = Counter((i.split, i.inference_type) for i in bench.items)
    for key in [
        ("rephrased", "membership"),
        ("rephrased", "property-can"),
        ("reversal", "property-have"),
        ("syllogism", "property-1step"),
        ("syllogism", "property-2step"),
        ("syllogism", "membership-1step"),
        ("syllogism", "membership-2step"),
        ("holdout", "membership"),
        ("holdout", "membership-reversed"),
        ("holdout", "property-1step"),
    ]:
        assert counts[key] >= 5, key
    assert all(len(i.options) == 4 and i.chance == 0.25 for i in bench.items)
    assert 8 <= len(truth["held_out"]) <= 14  # about 10% of ~110
    own_counts = [len(v) for v in truth["own"].values()]
    assert min(own_counts) >= 1 and max(own_counts) <= 6


def test_documents_have_4_to_20_sentences_in_five_styles(bench):
    styles = Counter()
    for doc in bench.documents:
        assert 4 <= sum(doc.text.count(m) for m in ".?!") <= 20, doc.text
        if doc.text.startswith("Q: "):
            styles["qa"] += 1
        elif "\n- " in doc.text:
            styles["list"] += 1
        elif doc.text.split("\n")[0].endswith(" compared"):
            styles["comparison"] += 1
        elif re.match(r"(Field notes|Notebook entry|Observation log)", doc.text):
            styles["notes"] += 1
        elif "\n\n" in doc.text:
            styles["prose"] += 1
    assert set(styles) == {"qa", "list", "comparison", "notes", "prose"}
    assert min(styles.values()) >= 150, styles
    assert sum(styles.values()) == len(bench.documents)


def test_several_training_phrasings_per_relation(bench):
    text = "\n".join(d.text for d in bench.documents)
    for phrase in (
        "are a type of",
        "belong to the group of",
        "is one sort of",  # isa
        "are known to be",
        "can ",
        "is able to",
        "are able to",  # are, can
        "come with",
        " has ",
    ):  # have
        assert text.count(phrase) >= 50, phrase


def test_every_option_is_decided_by_the_ground_truth(bench, truth):
    for item in bench.items:
        split, itype, subject, obj = item.id.split("/")[:4]
        subject, obj = subject.replace("_", " "), obj.replace("_", " ")
        for i, option in enumerate(item.options):
            kind, entity = option_entity(truth, option)
            if is_reversed(item):
                assert kind == "category"
                fixed = option_entity(truth, item.options[item.answers[0]])  # sanity: answer is the subject
                assert fixed == ("category", subject)
                target = ("category", obj) if itype.startswith("membership") else None
                value = truth["is_a"](entity, obj) if target else _has_named(truth, entity, obj)
            elif kind == "category":
                value = truth["is_a"](subject, entity)
            else:
                value = truth["has"](subject, entity)
            assert value == (i in item.answers), (item.id, option)


def _has_named(truth, category, prop_name):
    return any(truth["has"](category, (kind, prop_name)) for kind in ("are", "can", "have"))


def test_distractors_are_true_of_some_other_trained_entity(bench, truth):
    trained = [c for c in truth["parent"] if c not in truth["held_out"]]
    trained_props = {p for c in trained for p in truth["own"][c]}
    parents = {truth["parent"][c] for c in trained}
    for item in bench.items:
        for i, option in enumerate(item.options):
            if i in item.answers:
                continue
            kind, entity = option_entity(truth, option)
            if kind == "property":
                assert entity in trained_props, item.id
            elif is_reversed(item):
                assert entity in trained, item.id
            else:
                assert entity in parents, item.id


def test_every_needed_fact_is_trained_and_held_out_only_by_parent(bench, truth):
    trained_facts = {f for d in bench.documents for f in d.fact_ids}
    for item in bench.items:
        assert set(item.fact_ids) <= trained_facts, item.id
    words = {
        r["english"]: {r["word"], r["form"]} for r in bench.facts if r["type"] == "word" and r["kind"] == "category"
    }
    nonsense = set(truth["meaning"])
    for h in truth["held_out"]:
        assert {f for f in trained_facts if f.split("/")[1] == h.replace(" ", "_")} == {f"isa/{h.replace(' ', '_')}"}
        mentions = [d for d in bench.documents if words[h] & set(WORD.findall(d.text))]
        assert mentions, h
        allowed = words[h] | words[truth["parent"][h]]
        for doc in mentions:
            assert f"isa/{h.replace(' ', '_')}" in doc.fact_ids
            for sentence in re.split(r"(?<=[.?])\s+", doc.text):
                found = set(WORD.findall(sentence))
                if words[h] & found:
                    assert found & nonsense <= allowed, sentence  # no property, no other category


def test_test_wordings_and_sentences_never_occur_in_training(bench):
    text = "\n".join(d.text for d in bench.documents).lower()
    for phrase in (
        "classified as",
        "a kind of",
        "tend to be",
        "ability to",
        "typical for",
        "possess",
        "you will find",
        "include",
        "examples of",
    ):
        assert phrase not in text, phrase
    texts_with = {}  # nonsense word -> lower-cased texts containing it
    for doc in bench.documents:
        lower = doc.text.lower()
        for word in set(WORD.findall(lower)):
            texts_with.setdefault(word, []).append(lower)
    for item in bench.items:
        sentence = f"{item.prefix} {item.options[item.answers[0]]}".rstrip(".").lower()
        answer = item.options[item.answers[0]].rstrip(".")
        assert not any(sentence in text for text in texts_with.get(answer, [])), item.id


def test_same_seed_same_bytes_other_seed_differs(bench, tmp_path):
    a = save_benchmark(bench, tmp_path / "a")
    b = save_benchmark(make_semantic(seed=0), tmp_path / "b")
    for name in ("train.jsonl", "test.jsonl", "facts.jsonl", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert validate_folder(a) == []
    again = load_benchmark(a)
    assert again.items == bench.items and again.documents == bench.documents


def test_other_seed_gives_other_words_and_held_out(bench):
    other = make_semantic(seed=1, n_documents=150)
    assert len(other.documents) == 150
    assert other.items[0].prefix != bench.items[0].prefix
    held = lambda b: {r["name"] for r in b.facts if r["type"] == "category" and r["held_out"]}  # noqa: E731
    assert held(other) != held(bench)


def test_checks_catch_planted_problems(bench):
    item = bench.items[0]
    leaked = Document("leak", f"Some text. More text. {item.prefix} {item.options[item.answers[0]]} Fine. End.", ())
    problems = check_benchmark(dataclasses.replace(bench, documents=[*bench.documents, leaked]))
    assert any("occurs in training" in p for p in problems)

    needed = item.fact_ids[0]
    kept = [d for d in bench.documents if needed not in d.fact_ids]
    problems = check_benchmark(dataclasses.replace(bench, documents=kept))
    assert any(f"needs fact {needed}" in p for p in problems)

    held = next(r for r in bench.facts if r["type"] == "category" and r["held_out"])
    word = next(r["form"] for r in bench.facts if r["id"] == f"word/category/{held['name'].replace(' ', '_')}")
    stray = Document("stray", f"One. Two. Three. {word.capitalize()} are seen here.", ())
    problems = check_benchmark(dataclasses.replace(bench, documents=[*bench.documents, stray]))
    assert any("outside its parent fact" in p for p in problems)


def test_check_question_rejects_a_false_answer():
    h = load_hierarchy()
    builder = ItemBuilder(h, Vocabulary(h, seed=0), set(), 4, __import__("random").Random(0))
    questions = (
        builder._own_facts("eagle", "rephrased", builder._forward)
        + builder._own_facts("eagle", "reversal", builder._reversed)
        + builder._syllogism("eagle", 2)
    )
    assert questions and all(check_question(h, q) == [] for q in questions)
    wrong = dataclasses.replace(questions[0], answer=(questions[0].answer + 1) % 4)
    assert len(check_question(h, wrong)) == 2  # the new answer is false and the old one true


def test_parameters_are_checked():
    with pytest.raises(UserError, match="unknown parameter.*colour"):
        make_semantic(seed=0, colour="red")
    with pytest.raises(UserError, match="held_out_share"):
        make_semantic(seed=0, held_out_share=0.9)
    with pytest.raises(UserError, match="n_documents must be at least"):
        make_semantic(seed=0, n_documents=10)


def test_no_held_out_means_no_holdout_split():
    b = make_semantic(seed=0, held_out_share=0, n_documents=120)
    assert "holdout" not in b.splits and len(b.documents) == 120


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: {parent: null, can: [x]}\nb: {parent: c, can: [y]}\n", "parent 'c' must be listed before"),
        ("a: {parent: null, can: [x]}\nb: {parent: a, can: [x]}\n", "already inherited from 'a'"),
        ("a: {parent: null}\n", "needs 1-6 own properties"),
        ("a: {parent: null, can: [x], colour: [red]}\n", "unknown field"),
        ("a: [1, 2\n", "not valid YAML"),
    ],
)
def test_bad_hierarchy_files_are_user_errors(tmp_path, text, message):
    path = tmp_path / "h.yaml"
    path.write_text(text)
    with pytest.raises(UserError, match=message):
        load_hierarchy(path)
