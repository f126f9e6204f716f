"""Simple syllogisms (docs/study.md, "The benchmarks"), with validity decided by exhaustive model checking.

A statement is a tuple (quantifier, subject, predicate), quantifier one of "all", "some", "no",
"some_not" (the generator never writes "some_not", but the checker understands it). A model
says which Venn regions of the terms are inhabited; terms are non-empty. A conclusion is valid
iff it holds in every model where the premises hold (for three terms: 2^7 = 128 models).

Premise pairs are named by their form: two letters (A = all, E = no, I = some) and a figure.
With S, P the conclusion terms and M the middle term: figure 1 has one premise with M as subject
and one with M as predicate (letters in that order; this also covers the classical figure 4,
as the conclusion may run either way), figure 2 has M as predicate in both, figure 3 has M as
subject in both (letters sorted). E.g. "AA-1" is All M are P, All S are M.
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from iclft.benchmarks.lexicon import nonsense_words, plural
from iclft.benchmarks.schema import Benchmark, Document, TestItem
from iclft.errors import UserError

Statement = tuple[str, str, str]

QUANTIFIERS = ("all", "some", "no", "some_not")
WRITTEN = ("all", "some", "no")  # quantifiers used in premises and candidate conclusions
LETTERS = {"all": "A", "no": "E", "some": "I", "some_not": "O"}
DEFAULTS = {"n_train": 69}


def holds(statement: Statement, model: Sequence[frozenset[str]]) -> bool:
    """Whether a statement is true in a model (the list of inhabited regions)."""
    quantifier, subject, predicate = statement
    with_subject = [region for region in model if subject in region]
    if quantifier == "all":
        return all(predicate in region for region in with_subject)
    if quantifier == "some":
        return any(predicate in region for region in with_subject)
    if quantifier == "no":
        return not any(predicate in region for region in with_subject)
    if quantifier == "some_not":
        return any(predicate not in region for region in with_subject)
    raise ValueError(f"unknown quantifier {quantifier!r} (known: {', '.join(QUANTIFIERS)})")


def models(terms: Sequence[str]):
    """Every model over `terms` in which each term is non-empty."""
    regions = [
        frozenset(t for t, inside in zip(terms, membership) if inside)
        for membership in itertools.product((False, True), repeat=len(terms))
        if any(membership)
    ]
    for inhabited in itertools.product((False, True), repeat=len(regions)):
        model = [region for region, on in zip(regions, inhabited) if on]
        if all(any(t in region for region in model) for t in terms):
            yield model


def is_valid(premises: Sequence[Statement], conclusion: Statement) -> bool:
    """True iff the conclusion holds in every model (non-empty terms) of the premises."""
    terms = sorted({term for _, *pair in (*premises, conclusion) for term in pair})
    return all(
        holds(conclusion, model) for model in models(terms) if all(holds(premise, model) for premise in premises)
    )


def candidates(first: str, second: str) -> list[Statement]:
    """The 6 candidate conclusions: {all, some, no} × (first→second, second→first)."""
    return [(q, first, second) for q in WRITTEN] + [(q, second, first) for q in WRITTEN]


def form_name(premises: Sequence[Statement], middle: str) -> str:
    """The form of a premise pair, e.g. "AA-1" (see the module docstring)."""
    m_subject = [p for p in premises if p[1] == middle]
    m_predicate = [p for p in premises if p[2] == middle]
    if len(m_subject) == 1:
        return f"{LETTERS[m_subject[0][0]]}{LETTERS[m_predicate[0][0]]}-1"
    figure = "3" if m_subject else "2"
    return "".join(sorted(LETTERS[p[0]] for p in premises)) + "-" + figure


@lru_cache(maxsize=1)
def valid_forms() -> dict[str, tuple[Statement, Statement]]:
    """One premise pair over roles S, M, P per form that has ≥1 valid candidate; sorted by name."""
    forms: dict[str, tuple[Statement, Statement]] = {}
    for q1, q2 in itertools.product(WRITTEN, repeat=2):
        for major in ((q1, "M", "P"), (q1, "P", "M")):
            for minor in ((q2, "S", "M"), (q2, "M", "S")):
                premises = (major, minor)
                name = form_name(premises, "M")
                if name not in forms and any(is_valid(premises, c) for c in candidates("S", "P")):
                    forms[name] = premises
    return dict(sorted(forms.items()))


def no_forms() -> set[str]:
    """The valid forms with a "No" premise: every valid conclusion of theirs is "No ..."."""
    return {name for name, premises in valid_forms().items() if any(q == "no" for q, _, _ in premises)}


def make_syllogism(seed: int = 0, n_train: int = 69, **unknown: Any) -> Benchmark:
    """n_train examples: one premise document and one 6-option test item (split `syllogism`) each."""
    if unknown:
        names = ", ".join(sorted(unknown))
        raise UserError(f"syllogism: unknown parameter(s) {names} (accepted: {', '.join(DEFAULTS)})")
    if isinstance(n_train, bool) or not isinstance(n_train, int) or n_train < 1:
        raise UserError(f"syllogism: n_train must be a positive integer, not {n_train!r}")
    rng = random.Random(f"syllogism:{seed}")
    order_rng = random.Random(f"syllogism-options:{seed}")  # its own stream: items are as before, reordered
    try:
        words = [plural(w) for w in nonsense_words(3 * n_train, seed=rng.getrandbits(64))]
    except ValueError as e:
        raise UserError(f"syllogism: n_train={n_train} is too large ({e})") from None
    facts, documents, items = [], [], []
    for i, form in enumerate(_balanced_forms(rng, n_train)):
        fact, document, item = _example(rng, f"s{i:03d}", form, words[3 * i : 3 * i + 3])
        item = _shuffled_options(order_rng, item)
        facts.append(fact)
        documents.append(document)
        items.append(item)
    return Benchmark("syllogism", seed, {"n_train": n_train}, documents, items, facts)


def _shuffled_options(rng: random.Random, item: TestItem) -> TestItem:
    """The candidate conclusions in a seeded random order, so that no position is valid more
    often than chance (in their fixed order the two "Some" conclusions, valid in most items,
    always sat at the same positions: `iclft data audit` flagged it)."""
    order = list(range(len(item.options)))
    rng.shuffle(order)
    options = tuple(item.options[i] for i in order)
    answers = tuple(sorted(order.index(a) for a in item.answers))
    return dataclasses.replace(item, options=options, answers=answers)


def _balanced_forms(rng: random.Random, n: int) -> list[str]:
    """n form names: whole shuffled rounds over all valid forms, the last round cut short."""
    names = list(valid_forms())
    chosen: list[str] = []
    while len(chosen) < n:
        rng.shuffle(names)
        chosen += names[: n - len(chosen)]
    return chosen


def _example(rng: random.Random, example_id: str, form: str, words: list[str]):
    roles = dict(zip("SMP", words))
    first_role, second_role = rng.sample(["S", "P"], 2)
    answers = _valid_answers(form, first_role, second_role)
    premises = [(q, roles[s], roles[p]) for q, s, p in valid_forms()[form]]
    rng.shuffle(premises)
    first, second = roles[first_role], roles[second_role]
    options = candidates(first, second)
    named = list(dict.fromkeys(term for _, s, p in premises for term in (s, p)))
    text = f"The relationships between {named[0]}, {named[1]} and {named[2]} are: " + " ".join(map(_sentence, premises))
    fact = {
        "id": example_id,
        "form": form,
        "terms": roles,
        "premises": [list(p) for p in premises],
        "valid": [_sentence(options[i]) for i in answers],
    }
    document = Document(f"d{example_id[1:]}", text, (example_id,))
    item = TestItem(
        id=f"syllogism-{example_id}",
        split="syllogism",
        inference_type=form,
        prefix=f"The relationships between {first} and {second} are:",
        options=tuple(map(_sentence, options)),
        answers=answers,
        fact_ids=(example_id,),
    )
    return fact, document, item


@cache
def _valid_answers(form: str, first_role: str, second_role: str) -> tuple[int, ...]:
    """Indices of the valid candidates, computed once per form and term order."""
    premises = valid_forms()[form]
    return tuple(i for i, c in enumerate(candidates(first_role, second_role)) if is_valid(premises, c))


def _sentence(statement: Statement) -> str:
    quantifier, subject, predicate = statement
    return f"{quantifier.capitalize()} {subject} are {predicate}."
