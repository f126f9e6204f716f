"""FTICL (Yang et al. 2024; docs/study.md): k demonstrations prepended to every training input, with no loss on them.

The demonstrations are other training documents, joined by blank lines, in front of the
example's own unscored context (if sentence splitting gave it one). `source`:

    documents   k documents drawn for each example (never the example's own document)
    fixed       one seeded draw of k documents for every example, as in Yang et al.'s fixed pool
                (an example whose document is in the pool gets the next pool document instead)
"""

from __future__ import annotations

import random

from iclft.benchmarks.schema import Document
from iclft.config import FticlConfig
from iclft.errors import UserError
from iclft.models.base import TrainExample

SEPARATOR = "\n\n"


class DemonstrationPicker:
    def __init__(self, documents: list[Document], cfg: FticlConfig, seed: int):
        if len(documents) <= cfg.k:
            raise UserError(
                f"fticl.k={cfg.k} needs more than {cfg.k} training documents, the benchmark has {len(documents)}"
            )
        self.documents = documents
        self.cfg = cfg
        self.rng = random.Random(f"fticl:{seed}")
        self.pool = self.rng.sample(range(len(documents)), cfg.k + 1)
        self.pool_ids = {documents[i].id for i in self.pool}

    def pick(self, own: int) -> list[Document]:
        """The demonstrations for an example of document number `own`."""
        if self.cfg.source == "fixed":
            chosen = [i for i in self.pool if i != own][: self.cfg.k]
        else:
            chosen = []
            while len(chosen) < self.cfg.k:
                i = self.rng.randrange(len(self.documents))
                if i != own and i not in chosen:
                    chosen.append(i)
        return [self.documents[i] for i in chosen]


def with_demonstrations(example: TrainExample, demonstrations: list[Document]) -> TrainExample:
    """`example` with the demonstrations in front of its context."""
    demos = SEPARATOR.join(doc.text.strip() for doc in demonstrations)
    context = demos + SEPARATOR + example.context if example.context else demos + SEPARATOR
    return TrainExample(example.target, context)
