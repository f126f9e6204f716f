"""The in-context condition: training documents put in the prompt with a short instruction."""

from __future__ import annotations

import random

from iclft.benchmarks.schema import Document, TestItem
from iclft.config import IclConfig


def select_documents(documents: list[Document], cfg: IclConfig, seed: int) -> list[Document]:
    """The documents that go in context, in their original order.

    `one_per_fact` keeps one random document for each fact (documents stating no fact are
    kept); `subsample` then keeps a random share of what is left.
    """
    rng = random.Random(seed)
    chosen = list(range(len(documents)))
    if cfg.one_per_fact:
        by_fact: dict[str, list[int]] = {}
        free: list[int] = []
        for i, doc in enumerate(documents):
            if doc.fact_ids:
                by_fact.setdefault(doc.fact_ids[0], []).append(i)
            else:
                free.append(i)
        chosen = sorted(free + [rng.choice(indices) for indices in by_fact.values()])
    if cfg.subsample < 1.0:
        keep = max(1, round(len(chosen) * cfg.subsample))
        chosen = sorted(rng.sample(chosen, keep))
    return [documents[i] for i in chosen]


def icl_context(documents: list[Document], cfg: IclConfig, seed: int) -> str:
    """Instruction, then the documents separated by blank lines, then a blank line before the question."""
    texts = [doc.text.strip() for doc in select_documents(documents, cfg, seed)]
    return cfg.instruction.strip() + "\n\n" + "\n\n".join(texts) + "\n\n"


def icl_aug_context(documents: list[Document], augmentations, cfg: IclConfig, seed: int) -> str:
    """`icl_context`, then the augmentations of the documents in it: those written for a
    chosen document, or (oracle) for a fact that a chosen document states."""
    chosen = select_documents(documents, cfg, seed)
    ids = {doc.id for doc in chosen}
    facts = {f for doc in chosen for f in doc.fact_ids}
    kept = [
        a.text for a in augmentations if a.source in ids or (a.source.startswith("fact:") and facts & set(a.fact_ids))
    ]
    texts = [doc.text.strip() for doc in chosen] + kept
    return cfg.instruction.strip() + "\n\n" + "\n\n".join(texts) + "\n\n"


def fact_groups(documents: list[Document], items: list[TestItem], facts_per_context: int | None):
    """(documents, items) per context. One group holds everything unless `facts_per_context`
    is set: then facts are taken in order of first mention, `facts_per_context` at a time;
    a group holds the documents stating its facts (plus every document stating none) and the
    items whose first fact is among them (items naming no fact go with the first group)."""
    if not facts_per_context:
        return [(documents, items)]
    order = list(dict.fromkeys(f for doc in documents for f in doc.fact_ids))
    stated = set(order)
    order += [f for f in dict.fromkeys(f for it in items for f in it.fact_ids) if f not in stated]
    chunks = [set(order[i : i + facts_per_context]) for i in range(0, len(order), facts_per_context)] or [set()]
    group_of = {f: k for k, chunk in enumerate(chunks) for f in chunk}
    groups = []
    for k, chunk in enumerate(chunks):
        docs = [d for d in documents if not d.fact_ids or chunk & set(d.fact_ids)]
        its = [it for it in items if group_of.get(it.fact_ids[0] if it.fact_ids else None, 0) == k]
        if its:
            groups.append((docs, its))
    return groups
