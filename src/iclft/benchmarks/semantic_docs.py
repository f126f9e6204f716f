"""Training documents of the semantic-structure benchmark, in five visibly different styles.

Every document is about one focal category: it states some of the focal category's own facts
(its parent and own properties) and, as context, facts of its parent, siblings and children.
A document never states an inherited property or a grandparent, never a fact in the reversed
direction, and mentions a held-out category only through its parent fact.

Styles: encyclopedia prose, a bulleted fact list, question-answer pairs, a comparison of two
siblings, and short field notes. Each document has 4-20 sentences (headings are not sentences;
every sentence ends with exactly one '.' or '?').
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from iclft.benchmarks.schema import Document
from iclft.benchmarks.semantic_text import Fact, Vocabulary, article, capitalize, clause, isa_fact, own_facts, render
from iclft.benchmarks.semantic_tree import Hierarchy

STYLES = ("prose", "list", "qa", "comparison", "notes")
MIN_SENTENCES, MAX_SENTENCES = 4, 20

# Sentence-count ranges per style (inclusive), inside MIN_SENTENCES..MAX_SENTENCES.
LENGTHS = {"prose": (6, 20), "list": (4, 10), "qa": (4, 14), "comparison": (4, 10), "notes": (5, 14)}

PROSE_FILLERS = (
    "{S} have been described in many reference works.",
    "Much has been written about {S}.",
    "This entry gives a short overview.",
    "Specialists have studied {S} for a long time.",
    "{S} are easy to recognize once you know them.",
    "Further details are given in the sections below.",
)
NOTES_OPENINGS = ("Field notes, day {n}.", "Notebook entry {n}.", "Observation log, page {n}.")
NOTES_FILLERS = (
    "Today we looked closely at several {S}.",
    "We took careful notes.",
    "The light was good for observing.",
    "More observations tomorrow.",
    "We compared what we saw with the handbook.",
    "A colleague joined us in the afternoon.",
)
QUESTIONS = {
    "isa": ("What are {S}?", "What kind of thing is {a_s}?"),
    "are": ("What are {S} like?", "How would you describe {S}?"),
    "can": ("What can {S} do?", "What are {S} capable of?"),
    "have": ("What do {S} have?", "What parts do {S} have?"),
}


@dataclass
class Draft:
    """A document being written: its text, its sentence count and the facts it states."""

    text: str
    n_sentences: int
    facts: list[Fact]


class DocumentWriter:
    def __init__(self, hierarchy: Hierarchy, vocab: Vocabulary, held_out: set[str], rng: random.Random):
        self.h = hierarchy
        self.vocab = vocab
        self.held_out = held_out
        self.rng = rng

    # -- which facts a document about `category` may state -------------------------------

    def focal_facts(self, category: str) -> list[Fact]:
        return own_facts(self.h, category)

    def context_facts(self, category: str) -> list[Fact]:
        """Facts of the parent, siblings and children; held-out categories only by their parent."""
        related = [self.h.parent(category)] if self.h.parent(category) else []
        related += self.h.siblings(category) + self.h.children(category)
        facts: list[Fact] = []
        for other in related:
            if other in self.held_out:
                facts.append(isa_fact(self.h, other))
            else:
                facts.extend(own_facts(self.h, other))
        return facts

    def trained_siblings(self, category: str) -> list[str]:
        return [s for s in self.h.siblings(category) if s not in self.held_out]

    # -- documents ---------------------------------------------------------------------

    def write(self, doc_id: str, category: str, style: str, complete: bool) -> Document:
        """A document about `category`; `complete` ones state every focal fact (and, for a
        parent of held-out categories, their parent facts)."""
        if style == "comparison" and not self.trained_siblings(category):
            style = "prose"
        n = self.rng.randint(*LENGTHS[style])
        draft = getattr(self, f"_{style}")(category, n, complete)
        assert MIN_SENTENCES <= draft.n_sentences <= MAX_SENTENCES, (style, draft.n_sentences)
        fact_ids = tuple(dict.fromkeys(f.id for f in draft.facts))
        return Document(doc_id, draft.text, fact_ids)

    def _choose_facts(self, category: str, n: int, complete: bool) -> list[Fact]:
        """Up to n facts: focal ones first (all if complete, else a random non-empty share),
        then context facts; in complete documents also the held-out children's parent facts."""
        focal = self.focal_facts(category)
        if not complete:
            focal = self.rng.sample(focal, self.rng.randint(1, len(focal)))
        must = [isa_fact(self.h, c) for c in self.h.children(category) if c in self.held_out] if complete else []
        context = [f for f in self.context_facts(category) if f not in must]
        self.rng.shuffle(context)
        chosen = focal + must
        return chosen + context[: max(0, n - len(chosen))]

    def _with_fillers(self, sentences: list[str], fillers: list[str], n: int) -> list[str]:
        """Insert fillers at random places until there are n sentences (or fillers run out)."""
        out = list(sentences)
        for filler in self.rng.sample(fillers, min(len(fillers), max(0, n - len(out)))):
            out.insert(self.rng.randint(1, len(out)), filler)
        return out

    def _fill(self, templates: tuple[str, ...], category: str) -> list[str]:
        return [capitalize(t.format(S=self.vocab.plural(category))) for t in templates]

    def _prose(self, category: str, n: int, complete: bool) -> Draft:
        n_fillers = self.rng.randint(0, min(3, n - MIN_SENTENCES))
        facts = self._choose_facts(category, n - n_fillers, complete)
        sentences = [render(self.vocab, f, self.rng) for f in facts]
        sentences = self._with_fillers(sentences, self._fill(PROSE_FILLERS, category), max(n, MIN_SENTENCES))
        title = capitalize(self.vocab.plural(category))
        cut = len(sentences) // 2 if len(sentences) >= 8 else len(sentences)
        body = " ".join(sentences[:cut]) + ("\n\n" + " ".join(sentences[cut:]) if cut < len(sentences) else "")
        return Draft(f"{title}\n\n{body}", len(sentences), facts)

    def _list(self, category: str, n: int, complete: bool) -> Draft:
        facts = self._choose_facts(category, n, complete)
        sentences = [render(self.vocab, f, self.rng) for f in facts]
        sentences = self._with_fillers(sentences, self._fill(PROSE_FILLERS[:2], category), MIN_SENTENCES)
        heading = self.rng.choice(("{S}: key facts", "Facts about {S}", "{S} at a glance"))
        heading = capitalize(heading.format(S=self.vocab.plural(category)))
        return Draft(heading + "\n" + "\n".join(f"- {s}" for s in sentences), len(sentences), facts)

    def _qa(self, category: str, n: int, complete: bool) -> Draft:
        facts = self._choose_facts(category, max(2, n // 2), complete)
        lines = []
        for fact in facts:
            question = self.rng.choice(QUESTIONS[fact.relation])
            values = {"S": self.vocab.plural(fact.subject), "a_s": article(self.vocab.singular(fact.subject))}
            lines.append(f"Q: {question.format(**values)}\nA: {render(self.vocab, fact, self.rng)}")
        return Draft("\n\n".join(lines), 2 * len(lines), facts)

    def _comparison(self, category: str, n: int, complete: bool) -> Draft:
        """Two trained siblings; `complete` is ignored (complete documents are prose)."""
        other = self.rng.choice(self.trained_siblings(category))
        parent = self.h.parent(category)
        first, second = isa_fact(self.h, category), isa_fact(self.h, other)
        S, T, P = (self.vocab.plural(c) for c in (category, other, parent))
        sentences = [
            self.rng.choice(
                (
                    f"{capitalize(S)} and {T} are both a type of {P}.",
                    f"Like {T}, {S} are a type of {P}.",
                )
            )
        ]
        facts = [first, second]
        mine = [f for f in self.focal_facts(category) if f.prop]
        theirs = [f for f in own_facts(self.h, other) if f.prop]
        self.rng.shuffle(mine)
        self.rng.shuffle(theirs)
        for a, b in zip(mine, theirs):
            if self.h.has(other, a.prop) or self.h.has(category, b.prop):
                continue  # "while" would suggest a difference that is not there
            sentences.append(capitalize(f"{clause(self.vocab, a, self.rng)}, while {clause(self.vocab, b, self.rng)}."))
            facts += [a, b]
        rest = [f for f in mine + theirs if f not in facts]
        for fact in rest[: max(0, n - 2 - len(sentences))]:
            sentences.append(render(self.vocab, fact, self.rng))
            facts.append(fact)
        opening = f"How do {S} differ from {T}?"
        closing = f"In short, {S} and {T} have a lot in common."
        sentences = [opening, *sentences, closing]
        while len(sentences) < MIN_SENTENCES:
            sentences.insert(1, f"Both {S} and {T} are worth a closer look.")
        heading = capitalize(f"{S} and {T} compared")
        return Draft(heading + "\n\n" + " ".join(sentences), len(sentences), facts)

    def _notes(self, category: str, n: int, complete: bool) -> Draft:
        n_fillers = self.rng.randint(2, min(4, n - 3))
        facts = self._choose_facts(category, n - n_fillers - 1, complete)
        sentences = [render(self.vocab, f, self.rng) for f in facts]
        sentences = self._with_fillers(sentences, self._fill(NOTES_FILLERS, category), n - 1)
        opening = self.rng.choice(NOTES_OPENINGS).format(n=self.rng.randint(2, 60))
        sentences = [opening, *sentences]
        while len(sentences) < MIN_SENTENCES:
            sentences.append("More observations tomorrow.")
        return Draft("\n".join(sentences), len(sentences), facts)


def write_documents(
    hierarchy: Hierarchy, vocab: Vocabulary, held_out: set[str], n_documents: int, rng: random.Random
) -> list[Document]:
    """n_documents documents spread evenly over the trained categories and the five styles.

    The first document of every trained category is complete prose (it states all its own
    facts), so every trained fact appears at least once. Documents are shuffled; ids follow
    the order.
    """
    writer = DocumentWriter(hierarchy, vocab, held_out, rng)
    trained = [c for c in hierarchy.names if c not in held_out]
    plan = []
    for i in range(n_documents):
        category = trained[i % len(trained)]
        round_ = i // len(trained)
        style = "prose" if round_ == 0 else STYLES[(round_ + i) % len(STYLES)]
        plan.append((category, style, round_ == 0))
    drafts = [writer.write("", c, s, complete) for c, s, complete in plan]
    rng.shuffle(drafts)
    return [Document(f"doc-{i:05d}", d.text, d.fact_ids) for i, d in enumerate(drafts)]
