"""The oracle augmenter: true reversals and deductions written from a benchmark's ground truth.

An upper bound and a control for the model-written augmentations (docs/study.md, "Augmentation"; an iclft addition): it shows
what fine-tuning gains when the augmentations are all true and complete. Each statement is
its own augmentation, tied to the facts it follows from. `samples` is the number of phrasings
per inference where the benchmark has several (reversal lead-ins).

    reversal     "B are ⟨converse⟩ than A.", after training lead-ins, per fact
    syllogism    every valid conclusion of each premise pair (both term orders where valid)
    semantic     reversed memberships and properties ("Among the abmes are gruds."), inherited
                 properties and memberships up the tree (also for held-out categories)
    celebrities  the unseen direction of every person: description → name, name → description
"""

from __future__ import annotations

import random

from iclft.benchmarks.schema import Benchmark
from iclft.errors import UserError

from .records import Augmentation


def oracle_augmentations(bench: Benchmark, samples: int = 1, seed: int = 0) -> list[Augmentation]:
    writers = {"reversal": _reversal, "syllogism": _syllogism, "semantic": _semantic, "celebrities": _celebrities}
    if bench.name not in writers or not bench.facts:
        raise UserError(
            f"augment.method oracle: needs the ground-truth facts of a built-in benchmark "
            f"({', '.join(writers)}); benchmark '{bench.name}' has {len(bench.facts)} facts it can use"
        )
    rng = random.Random(f"oracle:{seed}")
    rows = writers[bench.name](bench, samples, rng)
    return [Augmentation("oracle", f"fact:{fact_id}", (fact_id,), 0, (text,)) for fact_id, text in rows]


def _reversal(bench: Benchmark, samples: int, rng: random.Random) -> list[tuple[str, str]]:
    from iclft.benchmarks.reversal import TRAIN_LEAD_INS

    rows = []
    for fact in bench.facts:
        core = f"{fact['b']} are {fact['converse']} than {fact['a']}"
        phrasings = [f"{core[0].upper()}{core[1:]}."] + [f"{start} {core}{end}" for start, end in TRAIN_LEAD_INS]
        chosen = [phrasings[0]] + rng.sample(phrasings[1:], min(samples, len(phrasings)) - 1)
        rows += [(fact["id"], text) for text in chosen]
    return rows


def _syllogism(bench: Benchmark, samples: int, rng: random.Random) -> list[tuple[str, str]]:
    return [(fact["id"], sentence) for fact in bench.facts for sentence in fact["valid"]]


VERB = {"are": "are", "can": "can", "have": "have"}


def _semantic(bench: Benchmark, samples: int, rng: random.Random) -> list[tuple[str, str]]:
    words = {(r["kind"], r["english"]): r for r in bench.facts if r["type"] == "word"}
    parent = {r["name"]: r["parent"] for r in bench.facts if r["type"] == "category"}
    held_out = {r["name"] for r in bench.facts if r["type"] == "category" and r["held_out"]}
    own: dict[str, list[dict]] = {}
    for r in bench.facts:
        if r["type"] == "property":
            own.setdefault(r["subject"], []).append(r)

    def cat(name: str) -> str:
        return words[("category", name)]["form"]

    def prop(r: dict) -> str:
        return words[(r["kind"], r["object"])]["form"]

    rows = []
    for c in parent:
        C = cat(c)[0].upper() + cat(c)[1:]
        if parent[c] and c not in held_out:
            rows.append((f"isa/{c}", f"Among the {cat(parent[c])} are {cat(c)}."))
        for r in own.get(c, []) if c not in held_out else []:
            rows.append((r["id"], f"Among the things that {VERB[r['kind']]} {prop(r)} are {cat(c)}."))
        ancestor, steps = parent[c], 1
        while ancestor:
            if steps > 1:
                rows.append((f"isa/{c}", f"{C} are a type of {cat(ancestor)}."))
            rows += [(r["id"], f"{C} {VERB[r['kind']]} {prop(r)}.") for r in own.get(ancestor, [])]
            ancestor, steps = parent[ancestor], steps + 1
    return [(fid.replace(" ", "_"), text) for fid, text in rows]


def _celebrities(bench: Benchmark, samples: int, rng: random.Random) -> list[tuple[str, str]]:
    rows = []
    for person in (r for r in bench.facts if r["type"] == "person"):
        description = person["description"]
        if person["group"] in ("p2d", "both"):
            rows.append((person["id"], f"{description[0].upper()}{description[1:]} is {person['name']}."))
        if person["group"] in ("d2p", "both"):
            rows.append((person["id"], f"{person['name']} is {description}."))
    return rows
