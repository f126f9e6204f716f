"""Sweep files: the spec, grid expansion and validation (nothing runs here)."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from iclft.config import ExperimentConfig, config_from_dict, validated
from iclft.errors import UserError
from iclft.io import read_yaml
from iclft.overrides import is_field_path, set_dotted


class ExecutorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["local", "ray"] = "local"
    workers: int | Literal["auto"] = Field("auto", description="local: parallel processes (1 = in this process)")

    @field_validator("workers")
    @classmethod
    def _at_least_one(cls, workers: int | str) -> int | str:
        if isinstance(workers, int) and workers < 1:
            raise ValueError(f"expected a number of processes >= 1 or 'auto', got {workers}")
        return workers

    threads: int | None = Field(None, gt=0, description="torch threads per worker (default: cores / workers)")
    address: str | None = Field(None, description="ray: cluster address (ray://host:10001 or auto); none = local")
    num_cpus: float = Field(1, gt=0, description="ray: CPUs requested by each task")
    num_gpus: float = Field(0, ge=0, description="ray: GPUs requested by each task")


class SweepConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    runs_dir: str = "runs"
    base: dict[str, Any] = Field(default_factory=dict)
    grid: dict[str, list[Any]] = Field(default_factory=dict)
    executor: ExecutorConfig = ExecutorConfig()


@dataclass
class Sweep:
    """A validated sweep: its configs in grid order, where runs go, how they run."""

    name: str
    configs: list[ExperimentConfig]
    runs_dir: Path
    executor: ExecutorConfig
    points: list[dict[str, Any]] = field(default_factory=list)  # the grid point of each config


def axis_fields(axis: str) -> list[str] | None:
    """The field paths a grid axis sets, or None for a bundle axis."""
    keys = [k.strip() for k in axis.split(",")]
    return keys if all(is_field_path(ExperimentConfig, k) for k in keys) else None


def apply_value(data: dict[str, Any], axis: str, value: Any) -> None:
    """One grid axis at one value: sets the axis field(s), or a bundle's own dotted keys."""
    keys = axis_fields(axis)
    if keys is None:
        if not isinstance(value, dict):
            raise UserError(f"grid key '{axis}': not a config field, so its values must be mappings of fields")
        for key, sub in value.items():
            set_dotted(data, str(key), sub, option="grid key")
        return
    if isinstance(value, dict) and any("." in str(k) for k in value):
        raise UserError(
            f"grid key '{axis}' is a config field, so a mapping value is that field's value; for a bundle "
            "of dotted keys, name the axis with a word that is not a field (e.g. variant)"
        )
    for key in keys:
        set_dotted(data, key, value, option="grid key")


def expand_grid(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """All combinations, first axis slowest: (grid point, resolved config data) pairs."""
    axes = list(grid)
    out = []
    for values in itertools.product(*(grid[a] for a in axes)):
        data = copy.deepcopy(base)
        for axis, value in zip(axes, values):
            apply_value(data, axis, value)
        out.append((dict(zip(axes, values)), data))
    return out


def describe_point(point: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in point.items()) or "(the base config)"


def sweep_from_dict(data: Any, source: str = "<sweep>", root: Path | None = None) -> Sweep:
    """Validate a sweep mapping and every config it expands to; nothing runs."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping with base, grid, runs_dir, executor")
    spec = validated(SweepConfig, data, source, "sweep fields")
    for axis, values in spec.grid.items():
        if not values:
            raise UserError(f"{source}: grid axis '{axis}' has no values")
    try:
        expanded = expand_grid(spec.base, spec.grid)
    except UserError as e:
        raise UserError(f"{source}: {e}") from None
    configs, points, seen = [], [], set()
    for point, config_data in expanded:
        config = config_from_dict(config_data, f"{source}: grid point {describe_point(point)}")
        _check_benchmark(config, f"{source}: grid point {describe_point(point)}")
        if config.content_hash() in seen:
            continue
        seen.add(config.content_hash())
        configs.append(config)
        points.append(point)
    runs_dir = Path(spec.runs_dir)
    if root is not None and not runs_dir.is_absolute():
        runs_dir = root / runs_dir
    name = spec.name or (Path(source).stem if root is not None else "sweep")
    return Sweep(name, configs, runs_dir, spec.executor, points)


def _check_benchmark(config: ExperimentConfig, where: str) -> None:
    from iclft.benchmarks import GENERATORS, check_params

    if config.benchmark.path is None and config.benchmark.name not in GENERATORS:
        raise UserError(
            f"{where}: unknown benchmark '{config.benchmark.name}' (known: {', '.join(sorted(GENERATORS))})"
        )
    if config.benchmark.path is None:
        try:
            check_params(config.benchmark.name, config.benchmark.params)
        except UserError as e:
            raise UserError(f"{where}: {e}") from None


def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    return sweep_from_dict(read_yaml(path, "sweep file"), str(path), root=path.parent)
