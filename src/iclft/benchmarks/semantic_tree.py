"""The category hierarchy of the semantic-structure benchmark, and its ground truth.

The hierarchy is a data file (`semantic_hierarchy.yaml`): each category names its parent and
its own properties, of three kinds ("are" an adjective, "can" a verb, "have" a noun).
A category has every property of its ancestors as well (inheritance). This module only knows
English names; the nonsense words are assigned in `semantic.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from iclft.errors import UserError
from iclft.io import read_yaml

KINDS = ("are", "can", "have")
DEFAULT_HIERARCHY = Path(__file__).with_name("semantic_hierarchy.yaml")
MAX_OWN_PROPERTIES = 6


@dataclass(frozen=True, order=True)
class Property:
    """One property: its kind ("are", "can", "have") and its English word or phrase."""

    kind: str
    name: str


@dataclass(frozen=True)
class Category:
    name: str
    parent: str | None
    own: tuple[Property, ...]


class Hierarchy:
    """Categories with parent links; answers every ground-truth question of the benchmark."""

    def __init__(self, categories: list[Category]):
        self.categories = {c.name: c for c in categories}
        self.names = [c.name for c in categories]
        self._ancestors: dict[str, tuple[str, ...]] = {}
        self._distance: dict[tuple[str, str], int] = {}

    def parent(self, name: str) -> str | None:
        return self.categories[name].parent

    def ancestors(self, name: str) -> tuple[str, ...]:
        """Ancestors, nearest first."""
        if name not in self._ancestors:
            out = []
            parent = self.parent(name)
            while parent is not None and parent not in out:
                out.append(parent)
                parent = self.parent(parent)
            self._ancestors[name] = tuple(out)
        return self._ancestors[name]

    def depth(self, name: str) -> int:
        return len(self.ancestors(name))

    @cached_property
    def _children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {n: [] for n in self.names}
        for name in self.names:
            if self.parent(name) is not None:
                kids[self.parent(name)].append(name)
        return kids

    def children(self, name: str) -> list[str]:
        return self._children[name]

    def siblings(self, name: str) -> list[str]:
        parent = self.parent(name)
        return [] if parent is None else [s for s in self.children(parent) if s != name]

    def is_leaf(self, name: str) -> bool:
        return not self.children(name)

    def is_a(self, name: str, other: str) -> bool:
        """True when `name` is a kind of `other` (a strict ancestor)."""
        return other in self.ancestors(name)

    def own(self, name: str) -> tuple[Property, ...]:
        return self.categories[name].own

    @cached_property
    def _properties(self) -> dict[str, frozenset[Property]]:
        return {n: frozenset(p for c in [n, *self.ancestors(n)] for p in self.own(c)) for n in self.names}

    def properties(self, name: str) -> frozenset[Property]:
        """Own and inherited properties."""
        return self._properties[name]

    def has(self, name: str, prop: Property) -> bool:
        return prop in self._properties[name]

    def all_properties(self) -> list[Property]:
        """Every property of the hierarchy, sorted."""
        return sorted({p for c in self.categories.values() for p in c.own})

    def distance(self, a: str, b: str) -> int:
        """Steps along the tree between two categories (different roots: through a virtual root)."""
        if (a, b) not in self._distance:
            up_a = [a, *self.ancestors(a)]
            up_b = [b, *self.ancestors(b)]
            common = next((cat for cat in up_a if cat in up_b), None)
            steps = up_a.index(common) + up_b.index(common) if common else len(up_a) + len(up_b)
            self._distance[(a, b)] = steps
        return self._distance[(a, b)]


def load_hierarchy(path: str | Path | None = None) -> Hierarchy:
    """Read and check a hierarchy file; every problem raises UserError naming the file."""
    path = Path(path) if path is not None else DEFAULT_HIERARCHY
    if not path.is_file():
        raise UserError(f"{path}: hierarchy file not found")
    raw = read_yaml(path, "hierarchy file")
    if not isinstance(raw, dict) or not raw:
        raise UserError(f"{path}: expected a mapping of category name to {{parent, are, can, have}}")
    categories = [_category(path, str(name), entry) for name, entry in raw.items()]
    hierarchy = Hierarchy(categories)
    _check(path, hierarchy)
    return hierarchy


def _category(path: Path, name: str, entry) -> Category:
    if not isinstance(entry, dict):
        raise UserError(f"{path}: category '{name}': expected a mapping")
    unknown = set(entry) - {"parent", *KINDS}
    if unknown:
        raise UserError(f"{path}: category '{name}': unknown field(s) {', '.join(sorted(unknown))}")
    own = []
    for kind in KINDS:
        words = entry.get(kind) or []
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise UserError(f"{path}: category '{name}': '{kind}' must be a list of words")
        own.extend(Property(kind, w.strip()) for w in words)
    if not 1 <= len(own) <= MAX_OWN_PROPERTIES:
        raise UserError(f"{path}: category '{name}': needs 1-{MAX_OWN_PROPERTIES} own properties, has {len(own)}")
    if len(set(own)) != len(own):
        raise UserError(f"{path}: category '{name}': a property is listed twice")
    parent = entry.get("parent")
    return Category(name, None if parent is None else str(parent), tuple(own))


def _check(path: Path, h: Hierarchy) -> None:
    seen: set[str] = set()
    for name in h.names:
        parent = h.parent(name)
        if parent is not None and parent not in seen:
            raise UserError(f"{path}: category '{name}': parent '{parent}' must be listed before it")
        seen.add(name)
    for name in h.names:
        for prop in h.own(name):
            inherited = next((a for a in h.ancestors(name) if prop in h.own(a)), None)
            if inherited:
                raise UserError(
                    f"{path}: category '{name}': '{prop.kind} {prop.name}' is already inherited from '{inherited}'"
                )
    nouns = {p.name for p in h.all_properties() if p.kind == "have"}
    clash = sorted(nouns & set(h.names))
    if clash:
        raise UserError(f"{path}: '{clash[0]}' is both a category and a 'have' noun")
