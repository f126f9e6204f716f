"""The augmentation audit on the semantic and celebrities benchmarks."""

import pytest

from iclft.benchmarks import make_benchmark
from iclft.exposure.augment.audit import audit_statements
from iclft.exposure.augment.oracle import oracle_augmentations


@pytest.fixture(scope="module")
def semantic():
    return make_benchmark("semantic", n_documents=300)


@pytest.fixture(scope="module")
def celebrities():
    return make_benchmark("celebrities", n_per_group=4)


def verdicts(bench, statements):
    summary, out = audit_statements(bench, statements)
    assert summary["covered"] is True
    return out


def oracle_statements(bench):
    return [s for a in oracle_augmentations(bench) for s in a.statements]


def item_sentences(bench):
    """(sentence with the answer, sentences with each distractor) per item."""
    for item in bench.items:
        yield (
            f"{item.prefix} {item.options[item.answers[0]]}",
            [f"{item.prefix} {o}" for i, o in enumerate(item.options) if i not in item.answers],
        )


# -- semantic ---------------------------------------------------------------------------------


def test_semantic_oracle_statements_are_all_true(semantic):
    statements = oracle_statements(semantic)
    summary, out = audit_statements(semantic, statements)
    assert statements and summary["true_share"] == 1.0, [s for s, v in zip(statements, out) if v != "true"][:5]


def test_semantic_training_statements_and_documents_are_true(semantic):
    texts = [r["text"] for r in semantic.facts if r["type"] in ("isa", "property")]
    assert set(verdicts(semantic, texts)) == {"true"}
    docs = [d.text for d in semantic.documents]
    bad = [(d, v) for d, v in zip(docs, verdicts(semantic, docs)) if v != "true"]
    assert not bad, bad[0]


def test_semantic_test_items_answers_true_distractors_false(semantic):
    answers, distractors = [], []
    for answer, others in item_sentences(semantic):
        answers.append(answer)
        distractors += others
    assert set(verdicts(semantic, answers)) == {"true"}
    bad = [s for s, v in zip(distractors, verdicts(semantic, distractors)) if v != "false"]
    assert not bad, bad[:5]


def _isa_pair(bench):
    words = {r["english"]: r for r in bench.facts if r["type"] == "word" and r["kind"] == "category"}
    rec = next(r for r in bench.facts if r["type"] == "isa")
    return words[rec["subject"]], words[rec["object"]]


def test_semantic_swapped_and_wrong_statements_are_false(semantic):
    child, parent = _isa_pair(semantic)
    C, P = child["form"], parent["form"]
    prop = next(r for r in semantic.facts if r["type"] == "property" and r["subject"] == child["english"])
    word = next(
        r["form"]
        for r in semantic.facts
        if r["type"] == "word" and r["kind"] == prop["kind"] and r["english"] == prop["object"]
    )
    parent_owns = any(
        r["type"] == "property" and r["subject"] == parent["english"] and r["object"] == prop["object"]
        for r in semantic.facts
    )
    statements = [
        f"{C.capitalize()} are a type of {P}.",  # true
        f"Among the {P} are {C}.",  # true (not also read as "P are C")
        f"{P.capitalize()} are a type of {C}.",  # swapped
        f"{P.capitalize()} include {C}.",  # true
        f"{C.capitalize()} include {P}.",  # swapped
        f"{C.capitalize()} {prop['kind']} {word}.",  # the child's own property: true
        f"Every {child['word']} is {'an' if parent['word'][0] in 'aeiou' else 'a'} {parent['word']}.",  # true
    ]
    expected = ["true", "true", "false", "true", "false", "true", "true"]
    if not parent_owns:
        statements.append(f"{P.capitalize()} {prop['kind']} {word}.")  # not inherited upwards
        expected.append("false")
    assert verdicts(semantic, statements) == expected
    # one false claim makes the whole statement false
    assert verdicts(semantic, [f"{C.capitalize()} are a type of {P}, and {P} are a type of {C}."]) == ["false"]


def test_semantic_gibberish_is_unparseable(semantic):
    child, _ = _isa_pair(semantic)
    assert (
        verdicts(
            semantic,
            [
                "Wugs are a type of daxes.",
                "The weather was good today.",
                "",
                f"{child['form'].capitalize()} are easy to recognize.",
            ],
        )
        == ["unparseable"] * 4
    )


# -- celebrities ------------------------------------------------------------------------------


def test_celebrities_oracle_statements_are_all_true(celebrities):
    statements = oracle_statements(celebrities)
    summary, _ = audit_statements(celebrities, statements)
    assert statements and summary["true_share"] == 1.0


def test_celebrities_training_documents_and_items(celebrities):
    docs = [d.text for d in celebrities.documents]
    assert set(verdicts(celebrities, docs)) == {"true"}  # descriptions with training adjectives
    answers, distractors = [], []
    for answer, others in item_sentences(celebrities):
        answers.append(answer)
        distractors += others
    assert set(verdicts(celebrities, answers)) == {"true"}
    assert set(verdicts(celebrities, distractors)) == {"false"}


def test_celebrities_wrong_person_is_false_and_gibberish_unparseable(celebrities):
    a, b = [r for r in celebrities.facts if r["type"] == "person"][:2]
    desc = a["description"][0].upper() + a["description"][1:]
    assert verdicts(
        celebrities,
        [
            f"{desc} is {a['name']}.",
            f"{desc} is {b['name']}.",
            f"{b['name']} is {a['description'].replace(chr(39), chr(8217))}.",  # curly quotes
            f"{a['name']} is a famous person.",
            f"{desc} is someone.",
            "Someone is someone.",
        ],
    ) == ["true", "false", "false", "unparseable", "unparseable", "unparseable"]


def test_the_reversal_audit_counts_the_facts_stated_truly_in_the_reversed_direction():
    bench = make_benchmark("reversal", seed=3, n_facts=4, docs_per_fact=1)
    f0, f1, f2 = bench.facts[:3]
    statements = [
        f"Note that {f0['b']} are {f0['converse']} than {f0['a']}.",  # reversed, true
        f"{f1['a']} are {f1['comparative']} than {f1['b']}.",  # restated, true: not a reversal
        f"{f2['b']} are {f2['comparative']} than {f2['a']}.",  # reversed, false
        f"Also {f0['b']} are {f0['converse']} than {f0['a']}.",  # the same fact again
    ]
    summary, _ = audit_statements(bench, statements)
    assert summary["true"] == 3 and summary["false"] == 1
    assert (summary["facts"], summary["facts_reversed"], summary["facts_reversed_share"]) == (4, 1, 0.25)
