"""Benchmarks: pure data, no torch. Each generator is `make_<name>(seed=0, **params) -> Benchmark`.

Generators are named here and imported on first use, so listing them stays cheap.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from iclft.benchmarks.schema import Benchmark, Document, TestItem, load_benchmark, save_benchmark
from iclft.errors import UserError

GENERATORS: dict[str, str] = {
    "reversal": "iclft.benchmarks.reversal:make_reversal",
    "syllogism": "iclft.benchmarks.syllogism:make_syllogism",
    "semantic": "iclft.benchmarks.semantic:make_semantic",
    "celebrities": "iclft.benchmarks.celebrities:make_celebrities",
}


def make_benchmark(name: str, seed: int = 0, **params: Any) -> Benchmark:
    """Generate benchmark `name`; unknown names or parameters raise UserError."""
    check_params(name, params)
    module, func = GENERATORS[name].split(":")
    return getattr(importlib.import_module(module), func)(seed=seed, **params)


def check_params(name: str, params: dict[str, Any]) -> None:
    """Raise UserError for an unknown benchmark, an unknown parameter, or a parameter of the
    wrong type (the type of its default; a default of None stands for a file path). Cheap:
    nothing is generated, so sweeps can check every grid point before running any."""
    if name not in GENERATORS:
        raise UserError(f"unknown benchmark '{name}' (known: {', '.join(sorted(GENERATORS))})")
    defaults = importlib.import_module(GENERATORS[name].split(":")[0]).DEFAULTS
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise UserError(f"{name}: unknown parameter(s) {', '.join(unknown)} (accepted: {', '.join(defaults)})")
    for key, value in params.items():
        expected = _kind(defaults[key])
        if not _fits(value, expected):
            raise UserError(f"{name}: parameter '{key}' must be {expected}, not {value!r}")


def _kind(default: Any) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    return "a string (a file path)" if default is None else "a string"


def _fits(value: Any, kind: str) -> bool:
    if isinstance(value, bool):
        return kind == "true or false"
    if kind == "an integer":
        return isinstance(value, int)
    if kind == "a number":
        return isinstance(value, (int, float))
    return isinstance(value, str) if kind.startswith("a string") else False


def get_benchmark(
    name: str, seed: int = 0, params: dict[str, Any] | None = None, path: str | Path | None = None
) -> Benchmark:
    """A saved benchmark folder if `path` is given, else a freshly generated one."""
    if path is not None:
        return load_benchmark(path)
    return make_benchmark(name, seed, **(params or {}))


__all__ = [
    "Benchmark",
    "Document",
    "TestItem",
    "GENERATORS",
    "check_params",
    "make_benchmark",
    "get_benchmark",
    "load_benchmark",
    "save_benchmark",
]
