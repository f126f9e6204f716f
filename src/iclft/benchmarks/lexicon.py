"""Nonsense words: short, pronounceable, seeded, not English, and far apart from each other.

Words are built from slot templates (C consonant, V vowel, O onset cluster, M medial cluster,
F final consonant, K final cluster): "CVCV" → "dalo", "OVF" → "grud", "VMV" → "alpo", ...
A candidate is rejected when it, `word + "s"` or its plural is English. English is the union
of the "web2" and "gcide" lists of the PyPI package `english-words` 2.0.2 (package code: MIT
licence, © 2018 Matt Wiens; word lists: Webster's Second International, public domain, and
GCIDE 0.53, GPL), plus EXTRA_ENGLISH, a few modern words and brands those lists lack. The lists
are only a filter at generation time; nothing of them is shipped.

Every possible word belongs to exactly one of two pools, "test" or "pretrain", decided by a
stable hash of the word, so a pretraining curriculum drawn from the "pretrain" pool never uses
a benchmark word.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import defaultdict
from collections.abc import Collection
from functools import cache, lru_cache

POOLS = ("test", "pretrain")

VOWELS = "aeiou"
CONSONANTS = "bdfgjklmnprstvz"  # inside a word, before a vowel
FINALS = "bdfgklmnprt"  # word-final: no s/z/x, so every plural is just "+s"
ONSET_CLUSTERS = tuple("bl br dr fl fr gl gr kl kr pl pr sk sl sm sn sp st tr".split())
MEDIAL_CLUSTERS = tuple("lb ld lf lk lm lp lt mb mp nd ng nk nt rb rd rg rk rm rn rp rt sk sp st".split())
FINAL_CLUSTERS = tuple("ld lk lm lp lt mp nd nk nt rd rk rm rn rp rt".split())

SLOTS = {"C": CONSONANTS, "V": VOWELS, "F": FINALS, "O": ONSET_CLUSTERS, "M": MEDIAL_CLUSTERS, "K": FINAL_CLUSTERS}

# Each template lists slots; every template gives words of 4 or 5 letters.
TEMPLATES = (
    "CVCV",  # dalo
    "OVF",  # grud
    "CVK",  # dalk
    "VCVF",  # odam
    "VMV",  # alpo
    "CVCVF",  # gorup
    "OVCV",  # brada
    "CVMV",  # dalko
    "VCVCV",  # adoma
    "OVK",  # grund
)


# Modern words, brands and places missing from the (older) English lists.
EXTRA_ENGLISH = frozenset(
    "aldi atari audi bento bimbo blog dacia disco dubai ebay elmo emoji fanta fedex gabon gamer "
    "ikea intel ipod jedi kombi kyoto lada lagos lego lenin lidl linux lyft meme miso moped "
    "natto nauru nerd nikon nivea nokia osaka perl pinot prada promo quito ramen ryzen salsa "
    "samoa sega skoda skype sony sumi tata tesla tivo togo tokyo twix uber udon unix vape vimeo "
    "vlog volvo wiki zara zelda zumba".split()
)


def plural(word: str) -> str:
    """English-style plural: "es" after s, x, z, sh, ch; otherwise "s"."""
    if word.endswith(("s", "x", "z", "sh", "ch")):
        return word + "es"
    return word + "s"


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Lower-case, letters-only English words (web2 ∪ gcide from `english-words`, plus EXTRA_ENGLISH)."""
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2", "gcide"], alpha=True, lower=True)) | EXTRA_ENGLISH


def is_english(word: str) -> bool:
    """True if the word, word + "s" or its plural is in the English lists."""
    english = english_words()
    return word in english or word + "s" in english or plural(word) in english


def pool_of(word: str) -> str:
    """The pool ("test" or "pretrain") a word belongs to, by a stable hash."""
    return POOLS[hashlib.sha256(word.encode("utf-8")).digest()[0] & 1]


@cache
def template_words(template: str) -> tuple[str, ...]:
    """Every word a template can spell, in a fixed order."""
    return tuple("".join(parts) for parts in itertools.product(*(SLOTS[slot] for slot in template)))


@cache
def reserved_words() -> frozenset[str]:
    """Every word of iclft's own prompt text: the built-in augmentation templates and the
    organism's tokenizer corpus (its instruction, lead-ins, phrasings). A model, the organism
    above all, has seen these words, so the test pool never returns one (nor its plural)."""
    from iclft.exposure.augment.templates import BUILT_IN
    from iclft.organism.curriculum import tokenizer_corpus  # (imports this module: so here)

    text = " ".join(p.read_text(encoding="utf-8") for p in sorted(BUILT_IN.glob("*.txt")))
    return frozenset(re.findall(r"[a-z]+", (text + " " + " ".join(tokenizer_corpus(0))).lower()))


def nonsense_words(
    n: int,
    seed: int,
    pool: str = "test",
    min_distance: int = 2,
    exclude: Collection[str] = (),
) -> list[str]:
    """`n` distinct singular nonsense words from `pool`, pairwise edit distance ≥ `min_distance`.

    Words in `exclude` are never returned, and returned words also keep `min_distance` from
    them. The test pool never returns a word of iclft's own prompt text (`reserved_words`). Each draw picks a template at random, then the next word of that template's seeded
    shuffle, so the list for `n` is a prefix of the list for `n + 1`. Raises ValueError when
    the candidates run out before `n` words are found.
    """
    if pool not in POOLS:
        raise ValueError(f"pool must be one of {POOLS}, not {pool!r}")
    if n < 0 or min_distance < 1:
        raise ValueError(f"need n ≥ 0 and min_distance ≥ 1 (got n={n}, min_distance={min_distance})")
    rng = random.Random(seed)
    queues = []
    for template in TEMPLATES:
        queue = list(template_words(template))
        rng.shuffle(queue)
        queues.append(queue)
    taken = _NeighbourIndex(min_distance)
    for word in exclude:
        taken.add(word)
    reserved = reserved_words() if pool == "test" else frozenset()
    words: list[str] = []
    while len(words) < n:
        if not queues:
            raise ValueError(f"cannot make {n} nonsense words with min_distance={min_distance} (found {len(words)})")
        queue = rng.choice(queues)
        word = queue.pop()
        if not queue:
            queues.remove(queue)
        if word in reserved or plural(word) in reserved:
            continue
        if pool_of(word) == pool and not is_english(word) and not taken.too_close(word):
            taken.add(word)
            words.append(word)
    return words


def _deletions(word: str, k: int) -> set[str]:
    """The word and every string made from it by deleting up to k letters."""
    variants = {word}
    frontier = {word}
    for _ in range(k):
        frontier = {w[:i] + w[i + 1 :] for w in frontier for i in range(len(w))}
        variants |= frontier
    return variants


class _NeighbourIndex:
    """Finds words closer than `min_distance` without comparing against every word.

    Two words within distance k share a string reachable from each by ≤ k deletions
    (a substitution is one deletion on each side), so only words sharing such a string are
    checked exactly.
    """

    def __init__(self, min_distance: int):
        self.min_distance = min_distance
        self.by_variant: dict[str, list[str]] = defaultdict(list)

    def add(self, word: str) -> None:
        for variant in _deletions(word, self.min_distance - 1):
            self.by_variant[variant].append(word)

    def too_close(self, word: str) -> bool:
        for variant in _deletions(word, self.min_distance - 1):
            for other in self.by_variant.get(variant, ()):
                if edit_distance(word, other) < self.min_distance:
                    return True
        return False
