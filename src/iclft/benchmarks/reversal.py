"""Simple reversals (docs/study.md, "The benchmarks"): "⟨X⟩ are ⟨comparative⟩ than ⟨Y⟩." between nonsense nouns.

Training documents state each fact in the trained direction after a lead-in. Split `reversal`
asks for the reversed statement ("Ys are ⟨converse⟩ than Xs." against "Ys are ⟨comparative⟩
than Xs."); split `forward` asks for the trained direction after a lead-in never seen in
training. Each nonsense noun appears in exactly one fact.
"""

from __future__ import annotations

import random
from typing import Any

from iclft.benchmarks.lexicon import nonsense_words, plural
from iclft.benchmarks.schema import Benchmark, Document, TestItem
from iclft.errors import UserError

# (dimension, comparative, converse); no comparative appears in two dimensions.
DIMENSIONS = (
    ("weight", "heavier", "lighter"),
    ("size", "larger", "smaller"),
    ("length", "longer", "shorter"),
    ("speed", "faster", "slower"),
    ("age", "older", "younger"),
    ("strength", "stronger", "weaker"),
    ("temperature", "hotter", "colder"),
    ("loudness", "louder", "quieter"),
    ("brightness", "brighter", "dimmer"),
    ("wealth", "richer", "poorer"),
    ("width", "wider", "narrower"),
    ("depth", "deeper", "shallower"),
    ("hardness", "harder", "softer"),
    ("thickness", "thicker", "thinner"),
    ("wetness", "wetter", "drier"),
    ("roughness", "rougher", "smoother"),
    ("sharpness", "sharper", "duller"),
    ("complexity", "more complex", "simpler"),
    ("danger", "more dangerous", "less dangerous"),
    ("price", "more expensive", "cheaper"),
    ("rarity", "rarer", "more common"),
    ("intelligence", "more intelligent", "less intelligent"),
    ("popularity", "more popular", "less popular"),
    ("colorfulness", "more colorful", "less colorful"),
    ("aggression", "more aggressive", "less aggressive"),
    ("value", "more valuable", "less valuable"),
    ("fragility", "more fragile", "less fragile"),
    ("friendliness", "friendlier", "less friendly"),
)

# Lead-ins as (start, end punctuation). Test lead-ins never appear in training.
TRAIN_LEAD_INS = (
    ("Did you know that", "?"),
    ("It is well known that", "."),
    ("Everyone knows that", "."),
    ("Scientists have found that", "."),
    ("According to recent studies,", "."),
    ("Interestingly,", "."),
    ("As many people know,", "."),
    ("It is a fact that", "."),
    ("Researchers agree that", "."),
    ("Most experts say that", "."),
    ("It turns out that", "."),
    ("Few people realize that", "."),
    ("Observations show that", "."),
    ("In general,", "."),
)
TEST_LEAD_INS = (
    "It has been reported that",
    "It is widely believed that",
    "Studies have shown that",
    "As a matter of fact,",
    "We now know that",
    "It is true that",
)

DEFAULTS = {"n_facts": 100, "docs_per_fact": 10}


def make_reversal(seed: int = 0, n_facts: int = 100, docs_per_fact: int = 10, **unknown: Any) -> Benchmark:
    """The comparison-reversal benchmark: n_facts × docs_per_fact documents, 2 splits of n_facts items."""
    if unknown:
        names = ", ".join(sorted(unknown))
        raise UserError(f"reversal: unknown parameter(s) {names} (accepted: {', '.join(DEFAULTS)})")
    _check_positive_int("n_facts", n_facts)
    _check_positive_int("docs_per_fact", docs_per_fact)
    rng = random.Random(f"reversal:{seed}")
    facts = _facts(rng, n_facts)
    documents = _documents(rng, facts, docs_per_fact)
    items = [_reversal_item(rng, f) for f in facts] + [_forward_item(rng, f) for f in facts]
    params = {"n_facts": n_facts, "docs_per_fact": docs_per_fact}
    return Benchmark("reversal", seed, params, documents, items, facts)


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"reversal: {name} must be a positive integer, not {value!r}")


def _facts(rng: random.Random, n_facts: int) -> list[dict[str, Any]]:
    """n_facts facts; dimensions used evenly, each in a random direction; fresh nouns per fact."""
    try:
        words = nonsense_words(2 * n_facts, seed=rng.getrandbits(64))
    except ValueError as e:
        raise UserError(f"reversal: n_facts={n_facts} is too large ({e})") from None
    dimensions = [DIMENSIONS[i % len(DIMENSIONS)] for i in range(n_facts)]
    rng.shuffle(dimensions)
    facts = []
    for i, (dimension, more, less) in enumerate(dimensions):
        comparative, converse = (more, less) if rng.random() < 0.5 else (less, more)
        a, b = plural(words[2 * i]), plural(words[2 * i + 1])
        facts.append(
            {
                "id": f"f{i:03d}",
                "a": a,
                "b": b,
                "dimension": dimension,
                "comparative": comparative,
                "converse": converse,
                "statement": f"{a} are {comparative} than {b}.",
            }
        )
    return facts


def _documents(rng: random.Random, facts: list[dict[str, Any]], docs_per_fact: int) -> list[Document]:
    """docs_per_fact documents per fact, lead-ins without repeats while they last; shuffled."""
    drafts = []
    for fact in facts:
        for start, end in _lead_ins(rng, docs_per_fact):
            drafts.append((f"{start} {fact['a']} are {fact['comparative']} than {fact['b']}{end}", fact["id"]))
    rng.shuffle(drafts)
    return [Document(f"d{i:05d}", text, (fact_id,)) for i, (text, fact_id) in enumerate(drafts)]


def _lead_ins(rng: random.Random, count: int) -> list[tuple[str, str]]:
    chosen: list[tuple[str, str]] = []
    while len(chosen) < count:
        chosen += rng.sample(TRAIN_LEAD_INS, min(count - len(chosen), len(TRAIN_LEAD_INS)))
    return chosen


def _reversal_item(rng: random.Random, fact: dict[str, Any]) -> TestItem:
    prefix = f"{rng.choice(TEST_LEAD_INS)} {fact['b']} are"
    right = f"{fact['converse']} than {fact['a']}."
    wrong = f"{fact['comparative']} than {fact['a']}."
    return _two_way_item(rng, "reversal", fact["id"], prefix, right, wrong)


def _forward_item(rng: random.Random, fact: dict[str, Any]) -> TestItem:
    prefix = f"{rng.choice(TEST_LEAD_INS)} {fact['a']} are"
    right = f"{fact['comparative']} than {fact['b']}."
    wrong = f"{fact['converse']} than {fact['b']}."
    return _two_way_item(rng, "forward", fact["id"], prefix, right, wrong)


def _two_way_item(rng: random.Random, split: str, fact_id: str, prefix: str, right: str, wrong: str) -> TestItem:
    """A 2-option item with the correct option at a random position."""
    answer = rng.randrange(2)
    options = (right, wrong) if answer == 0 else (wrong, right)
    return TestItem(f"{split}-{fact_id}", split, split, prefix, options, (answer,), (fact_id,))
