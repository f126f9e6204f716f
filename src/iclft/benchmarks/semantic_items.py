"""Test items of the semantic-structure benchmark, and the ground-truth check of each.

A `Question` is an item before it is written in words: a relation ("isa" or a property kind),
a fixed side, and the options on the other side, as categories or properties. Forward
questions fix the subject category and offer objects ("Gruds are classified as" → parents);
reversed questions fix the object and offer subjects ("Abmes include" → categories).
`check_question` decides every option under the ground truth of the hierarchy.

Distractors are hard: each one is true of some *other* trained entity for the same relation
(a parent of something, a property some category has, a category with some property of that
kind), false for this one, and the nearest such candidates in the tree are preferred.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from iclft.benchmarks.schema import TestItem
from iclft.benchmarks.semantic_text import Vocabulary, capitalize, slots, slug
from iclft.benchmarks.semantic_tree import Hierarchy, Property
from iclft.errors import UserError

# Test phrasings: (prefix template, option form). Forms: "plural"/"singular" category, "word".
REPHRASED = {
    "isa": (("{S} are classified as", "plural"), ("{a_s} is a kind of", "singular")),
    "are": (("{S} tend to be", "word"), ("It is typical for {S} to be", "word")),
    "can": (("{S} have the ability to", "word"), ("It is typical for {S} to", "word")),
    "have": (("{S} possess", "word"), ("On {a_s} you will find", "word")),
}
# Deductions are asked in the plain trained wording (the sentence itself is never trained).
DEDUCED = {
    "isa": (("{S} are a type of", "plural"),),
    "are": (("{S} are", "word"),),
    "can": (("{S} can", "word"),),
    "have": (("{S} have", "word"),),
}
# Reversed questions; the options are categories.
REVERSED = {
    "isa": (("{O} include", "plural"), ("One kind of {o} is the", "singular")),
    "are": (("Things that are {w} include", "plural"), ("Examples of things that are {w} are", "plural")),
    "can": (("Things that can {w} include", "plural"), ("Examples of things that can {w} are", "plural")),
    "have": (("Things that have {w} include", "plural"), ("Examples of things that have {w} are", "plural")),
}
WORDINGS = {"rephrased": REPHRASED, "deduced": DEDUCED, "reversed": REVERSED}
DISTRACTOR_POOL = 2  # choose distractors among the nearest DISTRACTOR_POOL × (n_options - 1)


@dataclass(frozen=True)
class Question:
    split: str
    inference_type: str
    relation: str  # "isa", "are", "can" or "have"
    reverse: bool
    fixed: str | Property  # forward: the subject category; reversed: the parent or property
    options: tuple  # forward: parent categories or properties; reversed: categories
    answer: int
    fact_ids: tuple[str, ...]
    wording: str  # key of WORDINGS: which phrasings the item is written in

    def statement(self, option) -> tuple[str, str | Property]:
        """(category, object) claimed by choosing `option`."""
        return (option, self.fixed) if self.reverse else (self.fixed, option)


def is_true(h: Hierarchy, category: str, obj: str | Property) -> bool:
    return h.has(category, obj) if isinstance(obj, Property) else h.is_a(category, obj)


def check_question(h: Hierarchy, q: Question) -> list[str]:
    """Problems with the question under the ground truth: the answer must be true, the rest false."""
    problems = []
    for i, option in enumerate(q.options):
        truth = is_true(h, *q.statement(option))
        if i == q.answer and not truth:
            problems.append(f"{q.split}: answer {option} is false for {q.fixed}")
        if i != q.answer and truth:
            problems.append(f"{q.split}: distractor {option} is true for {q.fixed}")
    if len(set(q.options)) != len(q.options):
        problems.append(f"{q.split}: repeated option for {q.fixed}")
    return problems


class ItemBuilder:
    def __init__(self, h: Hierarchy, vocab: Vocabulary, held_out: set[str], n_options: int, rng: random.Random):
        self.h = h
        self.vocab = vocab
        self.held_out = held_out
        self.trained = [c for c in h.names if c not in held_out]
        self.n_options = n_options
        self.rng = rng
        self.owners: dict[Property, list[str]] = {}  # trained categories owning each property
        for c in self.trained:
            for p in h.own(c):
                self.owners.setdefault(p, []).append(c)

    # -- questions --------------------------------------------------------------------

    def questions(self) -> list[Question]:
        out: list[Question] = []
        for c in self.trained:
            out += self._own_facts(c, "rephrased", self._forward)
        for c in self.trained:
            out += self._own_facts(c, "reversal", self._reversed)
        for c in self.trained:
            out += self._syllogism(c, max_steps=2)
        for c in self.h.names:
            if c in self.held_out:
                out += self._holdout(c)
        return out

    def _own_facts(self, c: str, split: str, phrase) -> list[Question]:
        """One item per trained fact of `c` (its parent, its own properties), worded by `phrase`."""
        out = []
        if self.h.parent(c):
            out.append(phrase(split, "membership", c, self.h.parent(c), (_isa_id(c),)))
        for p in self.h.own(c):
            out.append(phrase(split, f"property-{p.kind}", c, p, (_prop_id(c, p),)))
        return out

    def _syllogism(self, c: str, max_steps: int, split: str = "syllogism") -> list[Question]:
        """Inherited properties (n steps: owned by the n-th ancestor) and transitive
        membership (n steps: the (n+1)-th ancestor)."""
        out = []
        ancestors = self.h.ancestors(c)
        for steps in range(1, max_steps + 1):
            if steps < len(ancestors):
                chain = (_isa_id(x) for x in [c, *ancestors[:steps]])
                q = self._forward(split, f"membership-{steps}step", c, ancestors[steps], tuple(chain), "deduced")
                out.append(q)
            if steps <= len(ancestors):
                owner = ancestors[steps - 1]
                chain = tuple(_isa_id(x) for x in [c, *ancestors[: steps - 1]])
                for p in self.h.own(owner):
                    if p not in self.h.own(c):
                        facts = chain + (_prop_id(owner, p),)
                        out.append(self._forward(split, f"property-{steps}step", c, p, facts, "deduced"))
        return out

    def _holdout(self, c: str) -> list[Question]:
        parent = self.h.parent(c)
        out = [
            self._forward("holdout", "membership", c, parent, (_isa_id(c),)),
            self._reversed("holdout", "membership-reversed", c, parent, (_isa_id(c),)),
        ]
        return out + self._syllogism(c, max_steps=len(self.h.ancestors(c)), split="holdout")

    def _forward(self, split, itype, c, answer, fact_ids, wording="rephrased") -> Question:
        relation = answer.kind if isinstance(answer, Property) else "isa"
        distractors = self._forward_distractors(c, answer)
        return self._question(split, itype, relation, False, c, answer, distractors, fact_ids, wording)

    def _reversed(self, split, itype, c, obj, fact_ids) -> Question:
        relation = obj.kind if isinstance(obj, Property) else "isa"
        distractors = self._reverse_distractors(c, obj)
        return self._question(split, itype, relation, True, obj, c, distractors, fact_ids, "reversed")

    def _question(self, split, itype, relation, reverse, fixed, answer, distractors, fact_ids, wording) -> Question:
        options = [answer, *distractors]
        self.rng.shuffle(options)
        return Question(
            split, itype, relation, reverse, fixed, tuple(options), options.index(answer), tuple(fact_ids), wording
        )

    # -- distractors ------------------------------------------------------------------

    def _forward_distractors(self, c: str, answer) -> list:
        if isinstance(answer, Property):
            candidates = {
                p: min(self.h.distance(c, owner) for owner in owners)
                for p, owners in self.owners.items()
                if p.kind == answer.kind and not self.h.has(c, p)
            }
        else:
            parents = {self.h.parent(x) for x in self.trained if self.h.parent(x)}
            candidates = {p: self.h.distance(c, p) for p in parents if p != c and not self.h.is_a(c, p)}
        return self._nearest(candidates, answer)

    def _reverse_distractors(self, c: str, obj) -> list:
        if isinstance(obj, Property):
            candidates = {
                x: self.h.distance(c, x)
                for x in self.trained
                if not self.h.has(x, obj) and any(p.kind == obj.kind for p in self.h.properties(x))
            }
        else:
            candidates = {
                x: self.h.distance(c, x)
                for x in self.trained
                if self.h.parent(x) and x != obj and not self.h.is_a(x, obj) and not self.h.is_a(obj, x)
            }
        return self._nearest(candidates, c)

    def _nearest(self, candidates: dict, answer) -> list:
        candidates.pop(answer, None)
        need = self.n_options - 1
        ranked = sorted(candidates, key=lambda x: (candidates[x], x))
        if len(ranked) < need:
            raise UserError(
                f"semantic: only {len(ranked)} possible distractors for '{answer}'; the hierarchy is too small"
            )
        return self.rng.sample(ranked[: DISTRACTOR_POOL * need], need)


def _isa_id(c: str) -> str:
    return f"isa/{slug(c)}"


def _prop_id(c: str, p: Property) -> str:
    return f"{p.kind}/{slug(c)}/{slug(p.name)}"


def item_id(q: Question, n: int) -> str:
    """Readable, unique: split/type/subject/object/number, in English."""
    answer = q.options[q.answer]
    subject, obj = (answer, q.fixed) if q.reverse else (q.fixed, answer)
    obj_name = obj.name if isinstance(obj, Property) else obj
    return f"{q.split}/{q.inference_type}/{slug(subject)}/{slug(obj_name)}/{n:04d}"


def write_item(q: Question, vocab: Vocabulary, rng: random.Random, n: int) -> TestItem:
    """The question in words: a prefix from its phrasing table and one option per choice."""
    template, form = rng.choice(WORDINGS[q.wording][q.relation])
    if q.reverse:
        values = slots(
            vocab,
            q.options[q.answer],
            parent=None if isinstance(q.fixed, Property) else q.fixed,
            prop=q.fixed if isinstance(q.fixed, Property) else None,
        )
    else:
        values = slots(vocab, q.fixed)
    prefix = capitalize(template.format(**values))
    options = tuple(_option_text(vocab, o, form) + "." for o in q.options)
    return TestItem(item_id(q, n), q.split, q.inference_type, prefix, options, (q.answer,), q.fact_ids)


def _option_text(vocab: Vocabulary, option, form: str) -> str:
    if isinstance(option, Property):
        return vocab.form(option)
    return vocab.plural(option) if form == "plural" else vocab.singular(option)


__all__ = ["Question", "ItemBuilder", "check_question", "is_true", "write_item"]
