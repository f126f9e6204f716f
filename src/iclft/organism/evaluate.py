"""Evaluate an organism on benchmarks drawn from the TEST word pool.

The reversal and syllogism generators draw their words with `nonsense_words(...)`, whose
default pool is "test"; `_check_test_pool` asserts it for every benchmark made here. Contexts
are small (a few facts each, one document per fact) so they fit the organism's length; each
item is scored after the `icl_context` of its own group of facts, by `score_items`, exactly
as the `icl` condition scores (likelihood of each option, summed log-probs).

Reported accuracies: `base_*` (no context: should be at chance), `icl_forward`,
`icl_reversal`, `base_syllogism`, `icl_syllogism` (and `icl_syllogism_no_forms`, on the
items whose every valid conclusion is "No ...", `icl_syllogism_other_forms` on the rest, and
`syllogism_some_heuristic`, what always answering "Some ..." would score, and
`icl_syllogism_binding`, the two form accuracies' sum minus 1), `pretrain_pool_*` (the same
items with pretrain-pool words, a diagnostic), `probe_*` (`curriculum_probe`: the training format
itself), and `heldout_dim_forward` / `heldout_dim_reversal` on facts
whose dimension the curriculum never writes; `semantic_<split>` (`semantic_items`): the
semantic-structure benchmark's splits, each item after a short context of the facts it needs
plus one fact naming each wrong option (so copying an option from the context is no help).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from iclft.benchmarks.lexicon import pool_of
from iclft.benchmarks.reversal import make_reversal
from iclft.benchmarks.schema import Benchmark, Document, TestItem
from iclft.benchmarks.semantic import SPLITS, make_semantic
from iclft.benchmarks.syllogism import make_syllogism, no_forms
from iclft.config import IclConfig
from iclft.evaluation.scoring import score_items
from iclft.exposure.icl import fact_groups, icl_context
from iclft.organism.curriculum import HELD_OUT_DIMENSIONS


def _check_test_pool(bench: Benchmark) -> None:
    plurals = {f[k] for f in bench.facts for k in ("a", "b") if k in f}
    plurals |= {w for f in bench.facts for w in f.get("terms", {}).values()}
    words = {w[:-1] for w in plurals} | {f["word"] for f in bench.facts if f.get("type") == "word"}
    assert words and all(pool_of(w) == "test" for w in words), "benchmark word outside the test pool"
    nouns = {w for d in bench.documents for w in re.findall(r"\b[a-z]+s\b", d.text)}
    assert nouns >= plurals  # the fact records name the nouns the documents use


def _to_pretrain_pool(bench: Benchmark, seed: int) -> Benchmark:
    """The same benchmark with every test-pool noun replaced by a pretrain-pool noun (a diagnostic:
    separates "no in-context circuit" from "test words tokenize unlike training words")."""
    from dataclasses import replace

    from iclft.organism.curriculum import pretrain_words

    old = sorted({f[k] for f in bench.facts for k in ("a", "b")})
    mapping = dict(zip(old, pretrain_words(len(old), seed)))
    swap = lambda text: re.sub(r"\b[a-z]+s\b", lambda m: mapping.get(m.group(0), m.group(0)), text)
    docs = [replace(d, text=swap(d.text)) for d in bench.documents]
    items = [replace(it, prefix=swap(it.prefix), options=tuple(map(swap, it.options))) for it in bench.items]
    return replace(bench, documents=docs, items=items)


def _with_held_out_lead_ins(bench: Benchmark) -> Benchmark:
    """The same benchmark with every fact and question led in by a lead-in the curriculum
    never writes ("It seems that", "Evidently,"): a held-out-template check."""
    from dataclasses import replace

    from iclft.organism.curriculum import HELD_OUT_LEAD_INS

    nouns = sorted({f[k] for f in bench.facts for k in ("a", "b")}, key=len, reverse=True)
    pattern = re.compile(r"^.*?\b(" + "|".join(map(re.escape, nouns)) + r") are\b")

    def relead(text: str, i: int) -> str:
        lead = HELD_OUT_LEAD_INS[i % len(HELD_OUT_LEAD_INS)][0]
        text = pattern.sub(lambda m: f"{lead} {m.group(1)} are", text.strip(), count=1)
        return text[:-1] + "." if text.endswith("?") else text

    docs = [replace(d, text=relead(d.text, i)) for i, d in enumerate(bench.documents)]
    items = [replace(it, prefix=relead(it.prefix, i + 1)) for i, it in enumerate(bench.items)]
    return replace(bench, documents=docs, items=items)


def _accuracy(records: list[dict]) -> float:
    return sum(r["pred"]["sum"] in r["answers"] for r in records) / max(1, len(records))


def _grouped(bench: Benchmark, per_context: int, seed: int) -> list[tuple[str, list[TestItem]]]:
    """(context, items) per group of `per_context` facts, as `icl.facts_per_context` groups
    them; `per_context` 0: every fact in one context."""
    cfg = IclConfig(one_per_fact=True)
    groups = fact_groups(bench.documents, bench.items, per_context or None)
    return [(icl_context(docs, cfg, seed), items) for docs, items in groups]


def context_curve(lm, seed: int = 1000, n_facts: int = 100, sizes=(4, 16, 64, 0)) -> list[dict]:
    """In-context forward and reversal accuracy on one reversal benchmark with `size` facts
    per context (0: all `n_facts` at once): how reading holds up as the context grows."""
    rev = make_reversal(seed=seed, n_facts=n_facts, docs_per_fact=1)
    _check_test_pool(rev)
    rows = []
    for size in [s for s in sizes if 0 < s < n_facts] + [0]:
        records = _score_groups(lm, _grouped(rev, size, seed))
        rows.append({"facts_in_context": size or n_facts, "n_items": len(records),
                     **{s: _accuracy([r for r in records if r["split"] == s]) for s in ("forward", "reversal")}})  # fmt: skip
    return rows


def _score_groups(lm, groups) -> list[dict]:
    records = []
    for context, items in groups:
        records += score_items(lm, items, context, progress=False)
    return records


def semantic_items(bench: Benchmark, per_split: int, seed: int) -> list[tuple[str, list[TestItem]]]:
    """(context, [item]) for `per_split` seeded items of each semantic split. The context
    states the item's own facts (its parent chain and the property asked about) and, for each
    wrong option, one fact about another category that names it, in shuffled order."""
    rng = random.Random(f"semantic-eval:{seed}")
    statements = [f for f in bench.facts if "text" in f]
    by_id = {f["id"]: f for f in statements}
    naming: dict[str, list[dict]] = {}
    for f in statements:
        for word in set(re.findall(r"[a-z]+", f["text"].lower())):
            naming.setdefault(word, []).append(f)
    groups = []
    for split in SPLITS:
        items = [it for it in bench.items if it.split == split and all(f in by_id for f in it.fact_ids)]
        for item in rng.sample(items, min(per_split, len(items))):
            own = [by_id[f] for f in item.fact_ids]
            subjects = {f["subject"] for f in own}
            chosen = list(own)
            for k, option in enumerate(item.options):
                others = [
                    f
                    for f in naming.get(option.strip(" .").lower(), [])
                    if f["subject"] not in subjects and f not in chosen
                ]
                if k not in item.answers and others:
                    chosen.append(rng.choice(others))
            rng.shuffle(chosen)
            docs = [Document(f["id"], f["text"], (f["id"],)) for f in chosen]
            groups.append((icl_context(docs, IclConfig(one_per_fact=True), seed), [item]))
    return groups


def evaluate_model(
    lm,
    seed: int = 1000,
    n_facts: int = 56,
    facts_per_context: int = 4,
    n_syllogisms: int = 30,
    syllogisms_per_context: int = 2,
    semantic_per_split: int = 40,
) -> dict:
    """Accuracies of a loaded `LanguageModel` on fresh test-pool benchmarks."""
    rev = make_reversal(seed=seed, n_facts=n_facts, docs_per_fact=1)
    syl = make_syllogism(seed=seed, n_train=n_syllogisms)
    sem = make_semantic(seed=seed, n_documents=200)
    for bench in (rev, syl, sem):
        _check_test_pool(bench)
    dims = {f["id"]: f["dimension"] for f in rev.facts}
    base = score_items(lm, rev.items, "", progress=False)
    icl = _score_groups(lm, _grouped(rev, facts_per_context, seed))
    syl_records = _score_groups(lm, _grouped(syl, syllogisms_per_context, seed))
    syl_base = score_items(lm, syl.items, "", progress=False)
    pre = _score_groups(lm, _grouped(_to_pretrain_pool(rev, seed), facts_per_context, seed))
    held = _score_groups(lm, _grouped(_with_held_out_lead_ins(rev), facts_per_context, seed))
    semantic_groups = semantic_items(sem, semantic_per_split, seed)
    semantic = _score_groups(lm, semantic_groups)
    semantic_base = score_items(lm, [it for _, items in semantic_groups for it in items], "", progress=False)

    def pick(records, split, held=None):
        return [
            r
            for r in records
            if r["split"] == split and (held is None or (dims[r["fact_ids"][0]] in HELD_OUT_DIMENSIONS) == held)
        ]

    with_no = no_forms()  # an item's inference type is its form
    no_form_accuracy = _accuracy([r for r in syl_records if r["inference_type"] in with_no])
    other_form_accuracy = _accuracy([r for r in syl_records if r["inference_type"] not in with_no])
    return {
        "base_forward": _accuracy(pick(base, "forward")),
        "base_reversal": _accuracy(pick(base, "reversal")),
        "icl_forward": _accuracy(pick(icl, "forward", held=False)),
        "icl_reversal": _accuracy(pick(icl, "reversal", held=False)),
        "base_syllogism": _accuracy(syl_base),
        "icl_syllogism": _accuracy(syl_records),
        "syllogism_chance": sum(it.chance for it in syl.items) / len(syl.items),
        # a reader that always answers "Some ..." is right on every form with a valid "Some"
        # conclusion; only the "No" forms (every valid conclusion "No ...") test the reading
        "syllogism_some_heuristic": sum(
            any(r["options"][a].startswith("Some ") for a in r["answers"]) for r in syl_records
        )
        / max(1, len(syl_records)),
        "icl_syllogism_no_forms": no_form_accuracy,
        "icl_syllogism_other_forms": other_form_accuracy,
        # a fixed lean between "No" and "Some" scores 0 here whatever the lean; reading the
        # right premise pair for every item scores 1
        "icl_syllogism_binding": no_form_accuracy + other_form_accuracy - 1,
        "heldout_dim_forward": _accuracy(pick(icl, "forward", held=True)),
        "heldout_dim_reversal": _accuracy(pick(icl, "reversal", held=True)),
        "heldout_template_forward": _accuracy(pick(held, "forward", held=False)),
        "heldout_template_reversal": _accuracy(pick(held, "reversal", held=False)),
        "pretrain_pool_forward": _accuracy(pick(pre, "forward", held=False)),
        "pretrain_pool_reversal": _accuracy(pick(pre, "reversal", held=False)),
        **{f"semantic_{split}": _accuracy([r for r in semantic if r["split"] == split]) for split in SPLITS},
        **{f"base_semantic_{split}": _accuracy([r for r in semantic_base if r["split"] == split]) for split in SPLITS},
        "semantic_chance": sum(it.chance for _, items in semantic_groups for it in items) / max(1, len(semantic)),
    }


def evaluate_folder(folder: str | Path, **kwargs) -> dict:
    from iclft.models.hf import TransformersModel

    lm = TransformersModel(folder, device="cpu")
    result = {**evaluate_model(lm, **kwargs), **curriculum_probe(lm)}
    return {k: round(v, 3) for k, v in result.items()}


def evaluate_over_seeds(
    folder: str | Path, seeds: list[int], curve: bool = False, max_length: int | None = None, **kwargs
) -> dict:
    """Each measure of `evaluate_model` (and, with `curve`, of `context_curve`, as
    `curve_<facts>_<split>`) on fresh benchmarks of every seed: {measure: {mean, stderr, values}}.
    `max_length` lets contexts run past the organism's trained length (a diagnostic)."""
    from iclft.evaluation.metrics import stderr_of_mean
    from iclft.models.hf import TransformersModel

    lm = TransformersModel(folder, device="cpu")
    if max_length:
        lm.allow_length(max_length)
    per_seed = []
    for seed in seeds:
        result = evaluate_model(lm, seed=seed, **kwargs)
        if curve:
            for row in context_curve(lm, seed=seed, n_facts=kwargs.get("n_facts", 100)):
                for split in ("forward", "reversal"):
                    result[f"curve_{row['facts_in_context']}_{split}"] = row[split]
        per_seed.append(result)
    summary = {}
    for measure in per_seed[0]:
        values = [round(r[measure], 4) for r in per_seed]
        mean, se = sum(values) / len(values), stderr_of_mean(values) or 0.0  # one seed: no spread
        summary[measure] = {"mean": round(mean, 4), "stderr": round(se, 4), "values": values}
    return summary


def curriculum_probe(lm, params=None, n_docs: int = 40, seed: int = 777) -> dict:
    """In-distribution check: 2-way accuracy (comparative vs its converse) on the queries of
    fresh `compare` documents (pretrain words, training format), forward and reversed."""
    from iclft.benchmarks.reversal import DIMENSIONS
    from iclft.models.base import ScoreRequest
    from iclft.organism.curriculum import Curriculum, CurriculumParams

    flip = {a: b for _, x, y in DIMENSIONS for a, b in ((x, y), (y, x))}
    words = sorted(flip, key=len, reverse=True)
    cur = Curriculum(params or CurriculumParams(seed=seed))
    hits: dict[str, list[bool]] = {"forward": [], "reversal": []}
    for i in range(n_docs):
        pieces = cur.doc(i, "compare")
        context = pieces[0].text
        for prompt, answer in zip(pieces[1::2], pieces[2::2]):
            right = answer.text.strip()
            word = next(w for w in words if right.startswith(w + " "))
            wrong = flip[word] + right[len(word) :]
            scores = lm.score([ScoreRequest(prompt.text, (right, wrong))], context=context)[0]
            kind = "reversal" if f"than {prompt.text.split()[-2]}" in context else "forward"
            hits[kind].append(scores[0].logprob > scores[1].logprob)
    return {f"probe_{k}": sum(v) / max(1, len(v)) for k, v in hits.items()}
