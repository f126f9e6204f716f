"""Semantic structure (docs/study.md, "The benchmarks"): a real-world category hierarchy in nonsense words.

About 110 categories of animals, plants and objects (`semantic_hierarchy.yaml`) with parent
links and 1-6 own properties each ("are ⟨adjective⟩", "can ⟨verb⟩", "have ⟨noun⟩"), inherited
down the tree. Every English word becomes a seeded nonsense word. Training documents state each
category's parent and own properties in five styles (`semantic_docs.py`); held-out leaf
categories appear only through their parent fact. Test splits (`semantic_items.py`):

    rephrased   trained facts, trained direction, wording never used in training
    reversal    trained facts reversed ("abmes include gruds")
    syllogism   inherited properties and transitive membership, 1 and 2 steps
    holdout     everything about held-out categories that follows from their parent fact

4 options per item by default, hard distractors. `check_benchmark` re-checks the written
benchmark (fact coverage, held-out isolation, no test sentence in training); the generator
refuses to return a benchmark that fails it.
"""

from __future__ import annotations

import random
import re
from typing import Any

from iclft.benchmarks.schema import Benchmark
from iclft.benchmarks.semantic_docs import MAX_SENTENCES, MIN_SENTENCES, write_documents
from iclft.benchmarks.semantic_items import ItemBuilder, check_question, write_item
from iclft.benchmarks.semantic_text import Vocabulary, own_facts, render, slug
from iclft.benchmarks.semantic_tree import Hierarchy, load_hierarchy
from iclft.errors import UserError

DEFAULTS: dict[str, Any] = {"held_out_share": 0.1, "n_documents": 2200, "n_options": 4, "hierarchy": None}
SPLITS = ("rephrased", "reversal", "syllogism", "holdout")


def make_semantic(seed: int = 0, **params: Any) -> Benchmark:
    """The semantic-structure benchmark. Parameters (all optional): held_out_share (0.1),
    n_documents (2200), n_options (4), hierarchy (a YAML file like semantic_hierarchy.yaml)."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise UserError(f"semantic: unknown parameter(s) {', '.join(unknown)} (accepted: {', '.join(DEFAULTS)})")
    p = {**DEFAULTS, **params}
    _check_params(p)
    h = load_hierarchy(p["hierarchy"])
    vocab = Vocabulary(h, seed=random.Random(f"semantic:{seed}:words").getrandbits(64))
    held_out = choose_held_out(h, p["held_out_share"], random.Random(f"semantic:{seed}:held-out"))
    n_trained = len(h.names) - len(held_out)
    if p["n_documents"] < n_trained:
        raise UserError(f"semantic: n_documents must be at least {n_trained} (one per trained category)")
    documents = write_documents(h, vocab, held_out, p["n_documents"], random.Random(f"semantic:{seed}:docs"))
    questions = ItemBuilder(h, vocab, held_out, p["n_options"], random.Random(f"semantic:{seed}:items")).questions()
    problems = [problem for q in questions for problem in check_question(h, q)]
    wording_rng = random.Random(f"semantic:{seed}:wording")
    items = [write_item(q, vocab, wording_rng, n) for n, q in enumerate(questions)]
    facts = vocab.records() + category_records(h, held_out) + statement_records(h, vocab, held_out)
    params_out = {**p, "hierarchy": None if p["hierarchy"] is None else str(p["hierarchy"])}
    bench = Benchmark("semantic", seed, params_out, documents, items, facts)
    problems += check_benchmark(bench)
    if problems:
        raise RuntimeError(f"semantic benchmark failed {len(problems)} check(s); first: {problems[0]}")
    return bench


def _check_params(p: dict[str, Any]) -> None:
    share = p["held_out_share"]
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 0.5:
        raise UserError(f"semantic: held_out_share must be a number in [0, 0.5], not {share!r}")
    for name, low in (("n_documents", 1), ("n_options", 2)):
        value = p[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise UserError(f"semantic: {name} must be an integer ≥ {low}, not {value!r}")


def choose_held_out(h: Hierarchy, share: float, rng: random.Random) -> set[str]:
    """round(share × categories) leaf categories, chosen at random (leaves only: a held-out
    category with children would appear in its children's parent facts)."""
    leaves = [c for c in h.names if h.is_leaf(c) and h.parent(c)]
    n = round(share * len(h.names))
    if n > len(leaves):
        raise UserError(f"semantic: held_out_share={share} needs {n} leaf categories, the hierarchy has {len(leaves)}")
    return set(rng.sample(leaves, n))


def category_records(h: Hierarchy, held_out: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "id": f"category/{slug(c)}",
            "type": "category",
            "name": c,
            "parent": h.parent(c),
            "depth": h.depth(c),
            "held_out": c in held_out,
        }
        for c in h.names
    ]


def statement_records(h: Hierarchy, vocab: Vocabulary, held_out: set[str]) -> list[dict[str, Any]]:
    """Every own fact of the hierarchy, in the plain phrasing; `trained` says whether
    training documents state it (a held-out category's own properties are never stated)."""
    rng = random.Random(0)  # phrasing 0 is fixed: no randomness is used
    out = []
    for c in h.names:
        for fact in own_facts(h, c):
            out.append(
                {
                    "id": fact.id,
                    "type": "isa" if fact.prop is None else "property",
                    "kind": fact.relation,
                    "subject": c,
                    "object": fact.parent if fact.prop is None else fact.prop.name,
                    "trained": fact.prop is None or c not in held_out,
                    "text": render(vocab, fact, rng, phrasing=0),
                }
            )
    return out


# -- checks on the written benchmark ---------------------------------------------------------

WORD = re.compile(r"[a-z]+")


def check_benchmark(bench: Benchmark) -> list[str]:
    """Problems with a semantic benchmark, one line each (empty when it is sound)."""
    words = {r["id"]: r for r in bench.facts if r["type"] == "word"}
    statements = {r["id"]: r for r in bench.facts if r["type"] in ("isa", "property")}
    held_out = {r["name"] for r in bench.facts if r["type"] == "category" and r["held_out"]}

    def forms(kind: str, english: str) -> set[str]:
        rec = words[f"word/{kind}/{slug(english)}"]
        return {rec["word"], rec["form"]}

    problems = []
    trained_ids = {f for d in bench.documents for f in d.fact_ids}
    for item in bench.items:
        for fid in item.fact_ids:
            if fid not in trained_ids:
                problems.append(f"{item.id}: needs fact {fid}, which no training document states")
        if len(set(item.options)) != len(item.options) or len(item.answers) != 1:
            problems.append(f"{item.id}: options must be distinct with one answer")
    for h in sorted(held_out):
        for fid in trained_ids:
            rec = statements[fid]
            if rec["subject"] == h and rec["type"] != "isa":
                problems.append(f"held-out category {h}: training states {fid}")
    for doc in bench.documents:
        problems += _check_document(doc, statements, held_out, forms)
    return problems + _check_test_sentences_untrained(bench)


def _check_test_sentences_untrained(bench: Benchmark) -> list[str]:
    """No item's prefix + answer (without the final period) occurs in any training text."""
    texts = [d.text.lower() for d in bench.documents]
    docs_with: dict[str, set[int]] = {}
    for i, text in enumerate(texts):
        for word in set(WORD.findall(text)):
            docs_with.setdefault(word, set()).add(i)
    problems = []
    for item in bench.items:
        sentence = f"{item.prefix} {item.options[item.answers[0]]}".rstrip(".").lower()
        candidates = set.intersection(*(docs_with.get(w, set()) for w in set(WORD.findall(sentence))))
        if any(sentence in texts[i] for i in candidates):
            problems.append(f"{item.id}: test sentence '{sentence}' occurs in training")
    return problems


def _check_document(doc, statements, held_out, forms) -> list[str]:
    problems = []
    present = set(WORD.findall(doc.text.lower()))
    n_sentences = sum(doc.text.count(mark) for mark in ".?!")
    if not MIN_SENTENCES <= n_sentences <= MAX_SENTENCES:
        problems.append(f"{doc.id}: {n_sentences} sentences")
    for fid in doc.fact_ids:
        rec = statements[fid]
        obj_kind = "category" if rec["type"] == "isa" else rec["kind"]
        if not (forms("category", rec["subject"]) & present and forms(obj_kind, rec["object"]) & present):
            problems.append(f"{doc.id}: claims {fid} but its words are missing")
    for h in held_out:
        if forms("category", h) & present and f"isa/{slug(h)}" not in doc.fact_ids:
            problems.append(f"{doc.id}: mentions held-out category {h} outside its parent fact")
    return problems


__all__ = ["make_semantic", "check_benchmark", "choose_held_out", "SPLITS"]
