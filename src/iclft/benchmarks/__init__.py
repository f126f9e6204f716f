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
    if name not in GENERATORS:
        raise UserError(f"unknown benchmark '{name}' (known: {', '.join(sorted(GENERATORS))})")
    module, func = GENERATORS[name].split(":")
    return getattr(importlib.import_module(module), func)(seed=seed, **params)


def get_benchmark(name: str, seed: int = 0, params: dict[str, Any] | None = None, path: str | Path | None = None) -> Benchmark:
    """A saved benchmark folder if `path` is given, else a freshly generated one."""
    if path is not None:
        return load_benchmark(path)
    return make_benchmark(name, seed, **(params or {}))


__all__ = ["Benchmark", "Document", "TestItem", "GENERATORS", "make_benchmark", "get_benchmark", "load_benchmark", "save_benchmark"]
