"""The prompts of the model-written augmenters.

local   one prompt per document (or per sentence): the template with {text}
global  one prompt per document: {corpus} holds the other documents (a seeded subsample that
        fits the token budget, in their original order), {text} the target document
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from iclft.benchmarks.schema import Document
from iclft.errors import UserError
from iclft.exposure.splitting import split_sentences

from .templates import fill


@dataclass(frozen=True)
class Prompt:
    method: str  # local or global
    source: str  # document id
    fact_ids: tuple[str, ...]
    text: str


def local_prompts(targets: list[Document], template: str, unit: str) -> list[Prompt]:
    prompts = []
    for doc in targets:
        pieces = split_sentences(doc.text) if unit == "sentence" else [doc.text.strip()]
        prompts += [
            Prompt("local", doc.id, doc.fact_ids, fill(template, text=piece)) for piece in pieces or [doc.text.strip()]
        ]
    return prompts


def global_prompts(
    documents: list[Document],
    targets: list[Document],
    template: str,
    count_tokens: Callable[[str], int],
    budget: int,
    subsample: float,
    seed: int,
) -> list[Prompt]:
    """One prompt per target; the corpus takes at most `budget` tokens of the generator."""
    prompts = []
    for target in targets:
        rng = random.Random(f"global:{seed}:{target.id}")
        others = [i for i, d in enumerate(documents) if d.id != target.id]
        others = rng.sample(others, max(1, round(len(others) * subsample))) if others else []
        room = budget - count_tokens(fill(template, corpus="", text=target.text.strip()))
        chosen, used = [], 0
        for i in others:
            cost = count_tokens(documents[i].text.strip()) + 2
            if used + cost > room:
                break
            chosen.append(i)
            used += cost
        if others and not chosen:
            raise UserError(
                f"augment global: no room for any corpus document next to {target.id} "
                f"(budget {budget} tokens); raise augment.global_context_tokens or shorten the template"
            )
        corpus = "\n\n".join(documents[i].text.strip() for i in sorted(chosen))
        prompts.append(
            Prompt("global", target.id, target.fact_ids, fill(template, corpus=corpus, text=target.text.strip()))
        )
    return prompts
