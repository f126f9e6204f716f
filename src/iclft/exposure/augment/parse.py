"""Generations into statements: sentences, complete and distinct, none a copy of the training data."""

from __future__ import annotations

import re

from iclft.exposure.splitting import split_sentences

COMPLETE = re.compile(r"[.?!][\"'”’)\]]*$")
MIN_WORDS = 3


def normalized(sentence: str) -> str:
    return " ".join(sentence.lower().rstrip(".?! ").split())


def parse_statements(generation: str) -> list[str]:
    """The complete sentences of a generation (a cut-off last sentence is dropped)."""
    out = []
    for sentence in split_sentences(generation):
        sentence = " ".join(sentence.split())
        if COMPLETE.search(sentence) and len(sentence.split()) >= MIN_WORDS and ":" not in sentence[:12]:
            out.append(sentence)
    return out


class Deduplicator:
    """Keeps the first occurrence of each statement; `seen` starts with the training sentences."""

    def __init__(self, known: list[str] = ()):
        self.seen = {normalized(s) for s in known}
        self.dropped = 0

    def keep(self, statements: list[str]) -> list[str]:
        kept = []
        for s in statements:
            key = normalized(s)
            if key in self.seen:
                self.dropped += 1
            else:
                self.seen.add(key)
                kept.append(s)
        return kept
