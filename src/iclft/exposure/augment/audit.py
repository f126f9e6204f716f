"""Audit of generated statements against a benchmark's ground truth (STUDY.md 4, ours).

Each statement is parsed with its benchmark's own grammar and judged:

    true         every claim it makes follows from the ground truth
    false        it makes a claim (about the benchmark's entities) that does not follow
    unparseable  the grammar finds no claim about the benchmark's entities in it

Covered: reversal (comparisons, either direction, any lead-in) and syllogism (all / some /
no / some ... not, checked by model checking against the example's premises). Other
benchmarks are reported as not covered.
"""

from __future__ import annotations

import re
from collections import Counter

from iclft.benchmarks.schema import Benchmark

VERDICTS = ("true", "false", "unparseable")


def audit_statements(bench: Benchmark, statements: list[str]) -> tuple[dict, list[str | None]]:
    """(summary, verdict per statement); verdicts are None when the benchmark is not covered."""
    judges = {"reversal": ReversalJudge, "syllogism": SyllogismJudge}
    if bench.name not in judges or not bench.facts:
        return {"covered": False, "benchmark": bench.name, "statements": len(statements)}, [None] * len(statements)
    judge = judges[bench.name](bench)
    verdicts = [judge(s) for s in statements]
    counts = Counter(verdicts)
    n = len(statements)
    summary = {"covered": True, "benchmark": bench.name, "statements": n}
    for v in VERDICTS:
        summary[v] = counts[v]
        summary[f"{v}_share"] = round(counts[v] / n, 4) if n else 0.0
    return summary, verdicts


def _combine(claims: list[bool]) -> str:
    if not claims:
        return "unparseable"
    return "true" if all(claims) else "false"


class ReversalJudge:
    """"X are ⟨comparative⟩ than Y" against the facts (X, Y) and (Y, X)."""

    def __init__(self, bench: Benchmark):
        from iclft.benchmarks.reversal import DIMENSIONS

        self.truth: dict[tuple[str, str], set[str]] = {}
        self.nouns: set[str] = set()
        for f in bench.facts:
            self.truth[(f["a"], f["b"])] = {f["comparative"]}
            self.truth[(f["b"], f["a"])] = {f["converse"]}
            self.nouns |= {f["a"], f["b"]}
        words = sorted({w for _, more, less in DIMENSIONS for w in (more, less)}, key=len, reverse=True)
        self.pattern = re.compile(r"\b([a-z]+) are (" + "|".join(map(re.escape, words)) + r") than ([a-z]+)\b", re.I)

    def __call__(self, statement: str) -> str:
        claims = []
        for x, relation, y in self.pattern.findall(statement):
            x, y = x.lower(), y.lower()
            if x in self.nouns and y in self.nouns:
                claims.append(relation.lower() in self.truth.get((x, y), set()))
        return _combine(claims)


class SyllogismJudge:
    """"All / Some / No X are (not) Y" against the premises of the example that names X and Y."""

    PATTERN = re.compile(r"\b(all|some|no) ([a-z]+) are (not )?([a-z]+)\b", re.I)

    def __init__(self, bench: Benchmark):
        self.example_of: dict[str, dict] = {}
        for f in bench.facts:
            for term in f["terms"].values():
                self.example_of[term] = f

    def __call__(self, statement: str) -> str:
        from iclft.benchmarks.syllogism import is_valid

        claims = []
        for quantifier, x, negated, y in self.PATTERN.findall(statement):
            x, y, quantifier = x.lower(), y.lower(), quantifier.lower()
            if x not in self.example_of or y not in self.example_of:
                continue
            if negated:
                if quantifier != "some":
                    continue  # "all X are not Y" is ambiguous; "no X are not Y" is not in the grammar
                quantifier = "some_not"
            fact = self.example_of[x]
            if self.example_of[y] is not fact or x == y:
                claims.append(False)
                continue
            claims.append(is_valid([tuple(p) for p in fact["premises"]], (quantifier, x, y)))
        return _combine(claims)
