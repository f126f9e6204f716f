"""KEY=VALUE settings given on the command line, one parser for every command that takes them.

    iclft run exp.yaml --set ft.epochs=5 model.name=organism benchmark.params.n_facts=8
    iclft data make reversal --param n_facts=7 --out DIR
    iclft organism train --set lr=0.002 'stages=[[800,{"copy":1.0}]]' --curriculum 'facts_per_doc=[2,6]'

A value is read as YAML, so `5` is an int, `0.5` and `1e-4` are floats, `true` is a boolean,
`[2, 6]` a list, `{a: 1}` a mapping, an empty value is null and anything else is a string.
A key is a dotted path into nested mappings; where the target's fields are known (a pydantic
model or a dataclass), a path naming no field is refused with the fields that exist there.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import types
import typing
from typing import Any

import yaml
from pydantic import BaseModel

from iclft.errors import UserError


class _ValueLoader(yaml.SafeLoader):
    """YAML with floats also written without a dot (`1e-4`, `2E3`), as in YAML 1.2 and JSON."""


_ValueLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789")
)


def parse_value(text: str) -> Any:
    """`text` read as a YAML value; a UserError if it is not valid YAML."""
    try:
        return yaml.load(text, Loader=_ValueLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as e:
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise UserError(f"value '{text}' is not valid YAML ({problem})") from None


def parse_pairs(pairs: list[str] | None, option: str) -> dict[str, Any]:
    """{key: value} from KEY=VALUE strings; `option` (e.g. --set) starts every error line."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"{option}: expected KEY=VALUE (KEY a name or dotted path), got '{pair}'")
        try:
            out[key] = parse_value(text)
        except UserError as e:
            raise UserError(f"{option} {key}: {e}") from None
    return out


def path_problem(fields_of: type, key: str) -> str | None:
    """Why dotted `key` names no field of `fields_of` (a pydantic model or dataclass), or None.

    Keys below a mapping field (e.g. `benchmark.params.n_facts`) are free and not checked.
    """
    node: Any = fields_of
    parts = key.split(".")
    for depth, part in enumerate(parts):
        known = _fields(node)
        if known is None:  # a mapping or an unknown type: anything goes below here
            return None
        where = ".".join(parts[:depth])
        if not known:
            return f"'{where}' is a single value, it has no field '{part}'"
        if part not in known:
            inside = f" in '{where}'" if where else ""
            return f"unknown field '{part}'{inside} (known: {', '.join(sorted(known))})"
        node = known[part]
    return None


def is_field_path(fields_of: type, key: str) -> bool:
    return path_problem(fields_of, key) is None


def check_path(fields_of: type, key: str, option: str) -> None:
    """A UserError, starting with `option` and `key`, if `key` names no field of `fields_of`."""
    problem = path_problem(fields_of, key)
    if problem:
        raise UserError(f"{option} {key}: {problem}")


def set_dotted(data: dict[str, Any], key: str, value: Any, option: str = "--set") -> None:
    """`data['a']['b'] = value` for key 'a.b', creating mappings on the way."""
    *parents, last = key.split(".")
    node = data
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            where = ".".join(parents[: depth + 1])
            raise UserError(f"{option} {key}: '{where}' is {type(child).__name__} {child!r}, not a group of fields")
        node = child
    node[last] = copy.deepcopy(value)


def apply_overrides(
    data: dict[str, Any], pairs: list[str] | None, fields_of: type | None = None, option: str = "--set"
) -> dict[str, Any]:
    """A copy of `data` with every KEY=VALUE of `pairs` set (keys checked against `fields_of`)."""
    out = copy.deepcopy(data)
    for key, value in parse_pairs(pairs, option).items():
        if fields_of is not None:
            check_path(fields_of, key, option)
        set_dotted(out, key, value, option)
    return out


def _fields(node: Any) -> dict[str, Any] | None:
    """Field name -> type of a model or dataclass; {} for a single value; None when unknown."""
    node = _without_none(node)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return {name: info.annotation for name, info in node.model_fields.items()}
    if isinstance(node, type) and dataclasses.is_dataclass(node):
        try:
            hints = typing.get_type_hints(node)
        except (NameError, TypeError):  # an annotation that does not resolve: names checked only
            hints = {}
        return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(node)}
    if node in (int, float, str, bool) or typing.get_origin(node) in (list, tuple, typing.Literal):
        return {}
    return None


def _without_none(node: Any) -> Any:
    """`X` for `X | None` (and Optional[X]); anything else unchanged."""
    if typing.get_origin(node) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(node) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return node
