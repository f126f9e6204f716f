"""Words and sentences of the semantic-structure benchmark.

`Vocabulary` maps every English category and property of the hierarchy to a nonsense word.
`Fact` is one trained statement (a category's parent, or one of its own properties), and
`render` writes it as a sentence with one of several training phrasings. Test phrasings live
in `semantic_items.py` and never occur here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from iclft.benchmarks.lexicon import nonsense_words, plural
from iclft.benchmarks.semantic_tree import Hierarchy, Property
from iclft.errors import UserError

# Training phrasings. {S}/{s}: the subject in plural/singular, {a_s}: singular with its
# article; {O}/{o}/{a_o}: the parent category likewise; {w}: the property word.
TRAIN_PHRASINGS = {
    "isa": (
        "{S} are a type of {O}.",
        "Every {s} is {a_o}.",
        "{S} belong to the group of {O}.",
        "{a_s} is one sort of {o}.",
    ),
    "are": ("{S} are {w}.", "{a_s} is {w}.", "{S} are known to be {w}.", "All {S} are {w}."),
    "can": ("{S} can {w}.", "{a_s} is able to {w}.", "{S} are able to {w}.", "All {S} can {w}."),
    "have": ("{S} have {w}.", "{a_s} has {w}.", "{S} come with {w}.", "Every {s} has {w}."),
}


def article(word: str) -> str:
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"


def capitalize(text: str) -> str:
    return text[:1].upper() + text[1:]


def slug(name: str) -> str:
    return name.replace(" ", "_")


class Vocabulary:
    """One nonsense word per category and per property (seeded); surface forms for text."""

    def __init__(self, hierarchy: Hierarchy, seed: int):
        properties = hierarchy.all_properties()
        words = nonsense_words(len(hierarchy.names) + len(properties), seed=seed)
        self.category_word = dict(zip(hierarchy.names, words))
        self.property_word = dict(zip(properties, words[len(hierarchy.names) :]))
        self._check_distinct()

    def singular(self, category: str) -> str:
        return self.category_word[category]

    def plural(self, category: str) -> str:
        return plural(self.category_word[category])

    def form(self, prop: Property) -> str:
        """The property word as it is written: nouns ("have") in the plural."""
        word = self.property_word[prop]
        return plural(word) if prop.kind == "have" else word

    def _check_distinct(self) -> None:
        forms = [w for c in self.category_word for w in (self.singular(c), self.plural(c))]
        forms += [self.form(p) for p in self.property_word]
        if len(set(forms)) != len(forms):
            raise UserError("semantic: two words of the vocabulary have the same written form; try another seed")

    def records(self) -> list[dict]:
        """One facts.jsonl record per word: which English word it stands for."""
        out = [
            {
                "id": f"word/category/{slug(c)}",
                "type": "word",
                "kind": "category",
                "english": c,
                "word": w,
                "form": self.plural(c),
            }
            for c, w in self.category_word.items()
        ]
        out += [
            {
                "id": f"word/{p.kind}/{slug(p.name)}",
                "type": "word",
                "kind": p.kind,
                "english": p.name,
                "word": w,
                "form": self.form(p),
            }
            for p, w in self.property_word.items()
        ]
        return out


@dataclass(frozen=True)
class Fact:
    """A trained statement: `subject` is a kind of `parent`, or `subject` has `prop`."""

    subject: str
    parent: str | None = None
    prop: Property | None = None

    @property
    def relation(self) -> str:
        return "isa" if self.prop is None else self.prop.kind

    @property
    def id(self) -> str:
        if self.prop is None:
            return f"isa/{slug(self.subject)}"
        return f"{self.prop.kind}/{slug(self.subject)}/{slug(self.prop.name)}"


def isa_fact(hierarchy: Hierarchy, category: str) -> Fact:
    return Fact(category, parent=hierarchy.parent(category))


def own_facts(hierarchy: Hierarchy, category: str) -> list[Fact]:
    """The category's parent fact (unless it is a root) and one fact per own property."""
    facts = [isa_fact(hierarchy, category)] if hierarchy.parent(category) else []
    return facts + [Fact(category, prop=p) for p in hierarchy.own(category)]


def slots(vocab: Vocabulary, subject: str, parent: str | None = None, prop: Property | None = None) -> dict[str, str]:
    """Template values for a subject category and, optionally, a parent category or a property."""
    values = {"S": vocab.plural(subject), "s": vocab.singular(subject), "a_s": article(vocab.singular(subject))}
    if parent is not None:
        values.update(O=vocab.plural(parent), o=vocab.singular(parent), a_o=article(vocab.singular(parent)))
    if prop is not None:
        values["w"] = vocab.form(prop)
    return values


def render(vocab: Vocabulary, fact: Fact, rng: random.Random, phrasing: int | None = None) -> str:
    """The fact as a training sentence, in a random (or the given) training phrasing."""
    templates = TRAIN_PHRASINGS[fact.relation]
    template = templates[rng.randrange(len(templates)) if phrasing is None else phrasing]
    return capitalize(template.format(**slots(vocab, fact.subject, fact.parent, fact.prop)))


def clause(vocab: Vocabulary, fact: Fact, rng: random.Random) -> str:
    """The fact in the plain plural phrasing, lower case, without the final period."""
    sentence = render(vocab, fact, rng, phrasing=0)
    return sentence[0].lower() + sentence[1:-1]
