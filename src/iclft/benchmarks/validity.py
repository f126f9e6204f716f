"""Can a benchmark's answers be guessed without knowing the facts? Pure data, no torch.

`audit(bench)` reports, per split:

- surface heuristics, each with the accuracy it achieves alone: the longest option, the
  shortest, the option sharing most words with the prefix, the option sharing most words
  with the training documents, the option whose first word most often follows the prefix's
  last word in the training documents, and each fixed position. A heuristic that ties
  between options is scored as a random pick among the tied ones (its expected accuracy),
  so a heuristic that cannot tell the options apart sits exactly at chance;
- items whose options repeat or nearly repeat each other;
- items with a wrong option that is the correct answer of another item with the same prefix.

Anything whose accuracy is away from chance by more than two standard errors, above or below,
is flagged. Chance per item is (correct options) / (options), as in evaluation/metrics.py; the
standard error is the binomial one over the split's items under chance,
sqrt(sum c_i (1 - c_i)) / n. The model baseline (`base`) lives in iclft.audit_model and is
merged in with `add_accuracy`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable
from itertools import pairwise
from typing import Any

from iclft.benchmarks.schema import Benchmark, TestItem

WORD = re.compile(r"[a-z0-9']+")
MAX_INSERTED = 2  # words one option may add to another and still count as a near-repeat
MAX_EXAMPLES = 5


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def normalized(option: str) -> str:
    return " ".join(words(option))


# -- scoring one heuristic ----------------------------------------------------------------------


def tie_credit(values: list[float], answers: tuple[int, ...]) -> float:
    """Expected accuracy of picking the highest value, ties broken at random."""
    best = max(values)
    top = [i for i, v in enumerate(values) if v == best]
    return sum(i in answers for i in top) / len(top)


def summary(credits: list[float], chances: list[float]) -> dict[str, Any]:
    """n, accuracy, chance, the standard error under chance, z and whether |z| > 2."""
    n = len(credits)
    accuracy, chance = sum(credits) / n, sum(chances) / n
    se = math.sqrt(sum(c * (1 - c) for c in chances)) / n
    z = (accuracy - chance) / se if se > 0 else None  # None: every item all-correct (or none)
    flag = abs(z) > 2 if z is not None else accuracy != chance
    return {"n": n, "accuracy": accuracy, "chance": chance, "se": se, "z": z, "flag": flag}


class Corpus:
    """Word statistics of the training documents."""

    def __init__(self, texts: list[str]):
        self.vocabulary: set[str] = set()
        self.bigrams: Counter[tuple[str, str]] = Counter()
        for text in texts:
            ws = words(text)
            self.vocabulary.update(ws)
            self.bigrams.update(pairwise(ws))


def heuristic_scores(corpus: Corpus) -> dict[str, Callable[[TestItem], list[float]]]:
    """Heuristic name → function giving each option of an item a score (highest is picked)."""

    def shared_with_prefix(item: TestItem) -> list[float]:
        prefix = set(words(item.prefix))
        return [len(set(words(o)) & prefix) for o in item.options]

    def shared_with_training(item: TestItem) -> list[float]:
        return [len(set(words(o)) & corpus.vocabulary) for o in item.options]

    def follows_prefix(item: TestItem) -> list[float]:
        last = (words(item.prefix) or [""])[-1]
        return [corpus.bigrams[(last, (words(o) or [""])[0])] for o in item.options]

    return {
        "longest option": lambda item: [len(o) for o in item.options],
        "shortest option": lambda item: [-len(o) for o in item.options],
        "most words shared with prefix": shared_with_prefix,
        "most words shared with training": shared_with_training,
        "first word follows prefix in training": follows_prefix,
    }


def heuristic_results(items: list[TestItem], corpus: Corpus) -> dict[str, dict[str, Any]]:
    results = {}
    for name, score in heuristic_scores(corpus).items():
        results[name] = summary([tie_credit(score(i), i.answers) for i in items], [i.chance for i in items])
    for k in range(max(len(i.options) for i in items)):
        having = [i for i in items if len(i.options) > k]
        results[f"position {k}"] = summary([float(k in i.answers) for i in having], [i.chance for i in having])
    return results


# -- item checks ------------------------------------------------------------------------------


def near_duplicates(a: str, b: str) -> bool:
    """Equal after lowercasing and dropping punctuation, or equal but for up to MAX_INSERTED
    words inserted into one of them ("the composer of X" / "the renowned composer of X")."""
    short, long = sorted((words(a), words(b)), key=len)
    if len(long) - len(short) > MAX_INSERTED:
        return False
    rest = iter(long)
    return all(w in rest for w in short)  # short is a subsequence of long


def repeated_options(items: list[TestItem]) -> list[str]:
    """Ids of items with two options that are equal or nearly so."""
    return [
        i.id for i in items if any(near_duplicates(a, b) for k, a in enumerate(i.options) for b in i.options[k + 1 :])
    ]


def answers_of_same_prefix(items: list[TestItem]) -> list[str]:
    """Ids of items with a wrong option that is the correct answer of another item with the same prefix."""
    by_prefix: dict[str, list[TestItem]] = {}
    for item in items:
        by_prefix.setdefault(normalized(item.prefix), []).append(item)
    found = []
    for item in items:
        correct_elsewhere = {
            normalized(other.options[a])
            for other in by_prefix[normalized(item.prefix)]
            if other is not item
            for a in other.answers
        }
        wrong = {normalized(o) for k, o in enumerate(item.options) if k not in item.answers}
        if wrong & correct_elsewhere:
            found.append(item.id)
    return found


def _ids(found: list[str]) -> dict[str, Any]:
    return {"count": len(found), "examples": found[:MAX_EXAMPLES]}


# -- the report -------------------------------------------------------------------------------


def audit(bench: Benchmark) -> dict[str, Any]:
    """Per split: heuristics with their accuracies, repeated options, answers of the same prefix, flags.

    Items are grouped by split, but the answer-of-the-same-prefix check looks across all splits."""
    corpus = Corpus([d.text for d in bench.documents])
    across = set(answers_of_same_prefix(bench.items))
    splits = {}
    for split in bench.splits:
        items = bench.items_in(split)
        splits[split] = {
            "n": len(items),
            "chance": sum(i.chance for i in items) / len(items),
            "heuristics": heuristic_results(items, corpus),
            "repeated_options": _ids(repeated_options(items)),
            "answer_of_same_prefix": _ids([i.id for i in items if i.id in across]),
        }
    report = {"benchmark": bench.name, "seed": bench.seed, "n_items": len(bench.items), "splits": splits}
    return with_flags(report)


def add_accuracy(report: dict[str, Any], name: str, per_split: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Add a measured accuracy (e.g. the model baseline) per split: {split: {"credits", "chances"}}."""
    for split, result in per_split.items():
        report["splits"][split][name] = summary(result["credits"], result["chances"]) | result.get("extra", {})
    return with_flags(report)


def with_flags(report: dict[str, Any]) -> dict[str, Any]:
    """One line per finding, per split, in report["splits"][split]["flags"]."""
    for result in report["splits"].values():
        flags = []
        measured = dict(result["heuristics"])
        if "base" in result:
            measured["base"] = result["base"]
        for name, r in measured.items():
            if r["flag"]:
                side = "above" if r["accuracy"] > r["chance"] else "below"
                z = f"z = {r['z']:+.1f}" if r["z"] is not None else "no spread"
                flags.append(f"{name}: {r['accuracy']:.2f} {side} chance {r['chance']:.2f} ({z}, n = {r['n']})")
        if result["repeated_options"]["count"]:
            flags.append(f"repeated or near-repeated options in {result['repeated_options']['count']} item(s)")
        if result["answer_of_same_prefix"]["count"]:
            flags.append(
                f"a wrong option is another same-prefix item's answer in {result['answer_of_same_prefix']['count']} item(s)"
            )
        result["flags"] = flags
    return report


def format_table(report: dict[str, Any]) -> str:
    """Accuracy of every heuristic (and base) per split; * marks |z| > 2; then the flags."""
    splits = list(report["splits"])
    rows = list(dict.fromkeys(r for s in splits for r in report["splits"][s]["heuristics"]))
    if any("base" in report["splits"][s] for s in splits):
        rows.append("base")
    width = max(len(r) for r in rows + ["n / chance"])
    header = f"{'':<{width}}  " + "  ".join(f"{s:>14}" for s in splits)
    lines = [
        header,
        f"{'n / chance':<{width}}  "
        + "  ".join(
            f"{str(report['splits'][s]['n']) + ' / ' + format(report['splits'][s]['chance'], '.2f'):>14}"
            for s in splits
        ),
    ]
    for row in rows:
        cells = []
        for s in splits:
            r = report["splits"][s]["heuristics"].get(row) if row != "base" else report["splits"][s].get("base")
            cells.append(f"{'-':>14}" if r is None else f"{r['accuracy']:.2f}{'*' if r['flag'] else ' '}".rjust(14))
        lines.append(f"{row:<{width}}  " + "  ".join(cells))
    lines.append("* away from chance by more than two standard errors")
    for s in splits:
        for flag in report["splits"][s]["flags"]:
            lines.append(f"{s}: {flag}")
    return "\n".join(lines)
