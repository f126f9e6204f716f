"""Audit of generated statements against a benchmark's ground truth (docs/study.md, "Augmentation"; an iclft addition).

Each statement is parsed with its benchmark's own grammar and judged:

    true         every claim it makes follows from the ground truth
    false        it makes a claim (about the benchmark's entities) that does not follow
    unparseable  the grammar finds no claim about the benchmark's entities in it

Covered, all four built-in benchmarks:

    reversal     comparisons, either direction, any lead-in
    syllogism    all / some / no / some ... not, checked by model checking against the
                 example's premises
    semantic     membership ("X are a type of Y", "Y include X", "Among the Y are X", ...) and
                 properties ("X are/can/have P", "Things that can P include X", ...) in the
                 benchmark's own training, test and oracle phrasings, judged against the
                 hierarchy with inheritance (membership transitive, properties inherited)
    celebrities  a known name and a known description in one statement: true when every
                 description found belongs to a person named in it

Other benchmarks (celebrities-published, user data) are reported as not covered.
"""

from __future__ import annotations

import re
from collections import Counter

from iclft.benchmarks.schema import Benchmark

VERDICTS = ("true", "false", "unparseable")


def audit_statements(bench: Benchmark, statements: list[str]) -> tuple[dict, list[str | None]]:
    """(summary, verdict per statement); verdicts are None when the benchmark is not covered."""
    judges = {
        "reversal": ReversalJudge,
        "syllogism": SyllogismJudge,
        "semantic": SemanticJudge,
        "celebrities": CelebritiesJudge,
    }
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
    if isinstance(judge, ReversalJudge):  # what ft_aug can learn a reversal from
        reversed_facts = judge.reversed_facts(statements)
        summary["facts"] = len(bench.facts)
        summary["facts_reversed"] = len(reversed_facts)
        summary["facts_reversed_share"] = round(len(reversed_facts) / len(bench.facts), 4)
    return summary, verdicts


def _combine(claims: list[bool]) -> str:
    if not claims:
        return "unparseable"
    return "true" if all(claims) else "false"


class ReversalJudge:
    """ "X are ⟨comparative⟩ than Y" against the facts (X, Y) and (Y, X)."""

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

        self.reversed_pairs = {(f["b"], f["a"]): f["id"] for f in bench.facts}

    def __call__(self, statement: str) -> str:
        claims = []
        for x, relation, y in self.pattern.findall(statement):
            x, y = x.lower(), y.lower()
            if x in self.nouns and y in self.nouns:
                claims.append(relation.lower() in self.truth.get((x, y), set()))
        return _combine(claims)

    def reversed_facts(self, statements: list[str]) -> set[str]:
        """Ids of the facts that some statement states truly in the reversed direction
        ("B are ⟨converse⟩ than A" for the fact "A are ⟨comparative⟩ than B")."""
        found = set()
        for statement in statements:
            for x, relation, y in self.pattern.findall(statement):
                pair = (x.lower(), y.lower())
                if pair in self.reversed_pairs and relation.lower() in self.truth[pair]:
                    found.add(self.reversed_pairs[pair])
        return found


class SyllogismJudge:
    """ "All / Some / No X are (not) Y" against the premises of the example that names X and Y."""

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


def _alternation(words) -> str:
    return "(" + "|".join(map(re.escape, sorted(set(words), key=len, reverse=True))) + ")"


class SemanticJudge:
    """Membership and property statements in the benchmark's own phrasings, against the hierarchy.

    The patterns are the benchmark's: the training phrasings of `semantic_text.py`, the test
    prefixes of `semantic_items.py` followed by their option, and the oracle's reversed
    phrasings ("Among the {O} are {S}."). Slots only match words of the vocabulary (category
    words singular or plural, property words as written), so a match is always a claim. In
    "are" phrasings a category word in the property slot is a membership claim ("Gruds are
    abmes."). Longer phrasings are matched first and their text is then skipped, so that
    "Among the abmes are gruds" is not also read as "abmes are gruds". A property word in a
    phrasing of another kind ("Gruds can ⟨noun⟩") is not a claim.
    """

    def __init__(self, bench: Benchmark):
        from iclft.benchmarks.semantic_items import DEDUCED, REPHRASED, REVERSED
        from iclft.benchmarks.semantic_text import TRAIN_PHRASINGS

        self.parent = {r["name"]: r["parent"] for r in bench.facts if r["type"] == "category"}
        self.own: dict[str, set[tuple[str, str]]] = {}
        for r in bench.facts:
            if r["type"] == "property":
                self.own.setdefault(r["subject"], set()).add((r["kind"], r["object"]))
        self.category_of: dict[str, str] = {}
        self.property_of: dict[tuple[str, str], str] = {}  # (kind, written form) -> English
        for r in bench.facts:
            if r["type"] != "word":
                continue
            if r["kind"] == "category":
                self.category_of[r["word"].lower()] = r["english"]
                self.category_of[r["form"].lower()] = r["english"]
            else:
                self.property_of[(r["kind"], r["form"].lower())] = r["english"]

        templates: list[tuple[str, str]] = []  # (relation, template with {S}/{s}/{a_s}, {O}/{o}/{a_o}, {w})
        for relation, phrasings in TRAIN_PHRASINGS.items():
            templates += [(relation, t) for t in phrasings]
        for table in (REPHRASED, DEDUCED):  # forward: the option is the object
            for relation, rows in table.items():
                slot = {"plural": "{O}", "singular": "{o}", "word": "{w}"}
                templates += [(relation, f"{prefix} {slot[form]}") for prefix, form in rows]
        for relation, rows in REVERSED.items():  # reversed: the option is the subject
            templates += [(relation, f"{prefix} {'{S}' if form == 'plural' else '{s}'}") for prefix, form in rows]
        templates.append(("isa", "Among the {O} are {S}"))  # the oracle's reversed phrasings
        for kind in ("are", "can", "have"):
            templates.append((kind, f"Among the things that {kind} {{w}} are {{S}}"))
        literal = lambda t: len(re.sub(r"\{\w+\}", "", t))  # noqa: E731
        templates.sort(key=lambda rt: literal(rt[1]), reverse=True)
        self.patterns = [(relation, self._compile(relation, t)) for relation, t in templates]

    def _compile(self, relation: str, template: str) -> re.Pattern:
        category = _alternation(self.category_of)
        words = [form for kind, form in self.property_of if kind == relation]
        if relation == "are":
            words += list(self.category_of)
        prop = _alternation(words) if words else "(?!)"
        slots = {
            "S": ("S", category),
            "s": ("S", category),
            "a_s": ("S", r"an?\s+" + category),
            "O": ("O", category),
            "o": ("O", category),
            "a_o": ("O", r"an?\s+" + category),
            "w": ("O", prop),
        }
        out, seen = [], set()
        for piece in re.split(r"(\{\w+\})", template.rstrip(".")):
            if piece.startswith("{") and piece.endswith("}"):
                name, body = slots[piece[1:-1]]
                out.append(f"(?P<{name}>{body})" if name not in seen else f"(?:{body})")
                seen.add(name)
            else:
                out.append(r"\s+".join(map(re.escape, piece.split(" "))))
        return re.compile(r"(?<![a-z])" + "".join(out) + r"(?![a-z])", re.I)

    def ancestors(self, category: str) -> list[str]:
        out, parent = [], self.parent.get(category)
        while parent is not None and parent not in out:
            out.append(parent)
            parent = self.parent.get(parent)
        return out

    def _claim(self, relation: str, subject: str, obj: str) -> bool | None:
        subject_cat = self.category_of.get(subject.lower())
        if subject_cat is None:
            return None
        obj = re.sub(r"^an?\s+", "", obj.lower())
        if relation == "isa" or (relation == "are" and obj in self.category_of):
            return self.category_of.get(obj) in self.ancestors(subject_cat)
        prop = self.property_of.get((relation, obj))
        if prop is None:
            return None
        return any((relation, prop) in self.own.get(c, ()) for c in [subject_cat, *self.ancestors(subject_cat)])

    def __call__(self, statement: str) -> str:
        text = " ".join(statement.replace("\u2019", "'").split())
        claims = []
        for relation, pattern in self.patterns:
            spans = []
            for m in pattern.finditer(text):
                subject = re.sub(r"^an?\s+", "", m.group("S").lower())
                claim = self._claim(relation, subject, m.group("O"))
                if claim is not None:
                    claims.append(claim)
                    spans.append(m.span())
            for start, end in spans:
                text = text[:start] + "\0" * (end - start) + text[end:]
        return _combine(claims)


class CelebritiesJudge:
    """A known full name and a known description (any adjective before it, as in training).

    Every description found is a claim: true when the person it belongs to is named in the
    statement. A statement without both a known name and a known description is unparseable.
    """

    QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})

    def __init__(self, bench: Benchmark):
        people = [r for r in bench.facts if r.get("type") == "person" and r.get("description")]
        self.person_of_name = {self._norm(p["name"]): p["id"] for p in people}
        # descriptions are "the ⟨core⟩"; training writes "the ⟨adjective⟩ ⟨core⟩": match the core
        self.person_of_core = {
            self._norm(re.sub(r"^the\s+", "", p["description"], flags=re.I)): p["id"] for p in people
        }
        self.names = re.compile(r"(?<!\w)" + _alternation(self.person_of_name) + r"(?!\w)") if people else None
        self.cores = re.compile(r"(?<!\w)" + _alternation(self.person_of_core) + r"(?!\w)") if people else None

    def _norm(self, text: str) -> str:
        return " ".join(text.translate(self.QUOTES).lower().split())

    def __call__(self, statement: str) -> str:
        if self.names is None:
            return "unparseable"
        text = self._norm(statement)
        named = {self.person_of_name[m] for m in self.names.findall(text)}
        described = [self.person_of_core[m] for m in self.cores.findall(text)]
        if not named or not described:
            return "unparseable"
        return _combine([person in named for person in described])
