"""What a runs directory holds: finished runs, runs in progress, failures, and planned runs.

    <runs_dir>/<slug>/                finished when config.yaml and metrics.json exist
    <runs_dir>/.<slug>.<pid>-<random>.partial/   in progress (or interrupted, if <pid> is gone)
    <runs_dir>/failed/<slug>.json     the last failure of an experiment (see iclft.sweep)
    <runs_dir>/sweeps/<name>.json     the plan of a sweep: every run it expects

One broken file does not stop `collect`: a run whose config.yaml or metrics.json cannot be
read is listed as missing with status "broken", and every file skipped is named in
`RunsIndex.problems`. `load_run` on a broken run raises UserError naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

from iclft.errors import UserError
from iclft.io import read_json, read_yaml
from iclft.runs import layout
from iclft.runs.atomic import pid_alive
from iclft.runs.layout import RESERVED, is_finished
from iclft.runs.records import FailureRecord, MetricsRecord, PlanEntry


@dataclass
class Run:
    """A finished run: its folder, resolved config and metrics."""

    path: Path
    config: dict[str, Any]
    metrics: dict[str, Any]

    @property
    def slug(self) -> str:
        return self.path.name

    @property
    def benchmark(self) -> str:
        return self.config["benchmark"]["name"]


@dataclass
class Missing:
    """A run that is expected or was started, but has no finished folder."""

    slug: str
    status: str  # "in progress", "failed", "not started", "incomplete", "broken"
    detail: str = ""
    config: dict[str, Any] | None = None


@dataclass
class RunsIndex:
    runs_dir: Path
    runs: list[Run] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    planned: int = 0
    problems: list[str] = field(default_factory=list)  # one line per file skipped because it is broken

    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(run.benchmark for run in self.runs))


def load_run(path: str | Path) -> Run:
    """A finished run folder; anything else, or a broken config.yaml or metrics.json, raises
    UserError naming the file."""
    path = Path(path)
    if not is_finished(path):
        raise UserError(f"{path}: not a finished run folder (expected config.yaml and metrics.json)")
    config = _run_config(path / layout.CONFIG)
    metrics_path = path / layout.METRICS
    metrics = MetricsRecord.from_dict(read_json(metrics_path, "metrics file"), str(metrics_path))
    _check_splits(metrics.splits, metrics_path)
    return Run(path, config, metrics.to_dict())


def _run_config(path: Path) -> dict[str, Any]:
    config = read_yaml(path, "run config")
    if not isinstance(config, dict):
        raise UserError(f"{path}: expected a mapping, got {type(config).__name__}")
    benchmark = config.get("benchmark")
    if not isinstance(benchmark, dict) or not isinstance(benchmark.get("name"), str):
        raise UserError(f"{path}: field 'benchmark.name' missing or not a string")
    if not isinstance(config.get("condition", ""), str):
        raise UserError(f"{path}: field 'condition' must be a string")
    if not isinstance(config.get("seed", 0), int) or isinstance(config.get("seed"), bool):
        raise UserError(f"{path}: field 'seed' must be an integer")
    return config


def _check_splits(splits: Any, path: Path) -> None:
    """Every split of metrics.json has the numbers the report reads."""
    if not isinstance(splits, dict):
        raise UserError(f"{path}: field 'splits' must be a mapping, got {type(splits).__name__}")
    for name, entry in splits.items():
        if not isinstance(entry, dict):
            raise UserError(f"{path}: field 'splits.{name}' must be a mapping, got {type(entry).__name__}")
        for key in ("n", "accuracy", "stderr", "chance"):
            if not _is_number(entry.get(key)):
                raise UserError(f"{path}: field 'splits.{name}.{key}' missing or not a number")
        types = entry.get("by_inference_type", {})
        if not isinstance(types, dict) or not all(
            isinstance(t, dict) and _is_number(t.get("accuracy")) for t in types.values()
        ):
            raise UserError(f"{path}: field 'splits.{name}.by_inference_type' must map each type to its accuracy")


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def collect(runs_dir: str | Path) -> RunsIndex:
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        raise UserError(f"{runs_dir}: no such runs directory")
    index = RunsIndex(runs_dir)
    finished: set[str] = set()
    missing: dict[str, Missing] = {}
    for child in sorted(runs_dir.iterdir()):
        if not child.is_dir() or child.name in RESERVED:
            continue
        partial = layout.parse_partial(child.name)
        if partial is not None:
            slug, pid = partial
            if pid is not None and pid_alive(pid):
                missing[slug] = Missing(slug, "in progress", f"a partial folder written by process {pid}")
            else:
                missing.setdefault(
                    slug, Missing(slug, "in progress", "a partial folder: interrupted (its process is gone)")
                )
        elif child.name.startswith("."):
            continue
        elif is_finished(child):
            try:
                index.runs.append(load_run(child))
                finished.add(child.name)
            except UserError as e:
                index.problems.append(f"skipped run {child.name}: {e}")
                missing[child.name] = Missing(child.name, "broken", str(e))
        elif (child / layout.CONFIG).is_file():
            missing[child.name] = Missing(child.name, "incomplete", "a run folder without metrics.json")
    for record in _failures(runs_dir, index.problems):
        if record.slug not in finished:
            missing[record.slug] = Missing(record.slug, "failed", record.error, record.config)
    for planned in _planned(runs_dir, index.problems):
        index.planned += 1
        if planned.slug in finished:
            continue
        entry = missing.setdefault(planned.slug, Missing(planned.slug, "not started"))
        entry.config = entry.config or planned.config
    for slug in finished:
        missing.pop(slug, None)
    index.missing = sorted(missing.values(), key=lambda m: (m.status, m.slug))
    return index


def _failures(runs_dir: Path, problems: list[str]) -> list[FailureRecord]:
    folder = runs_dir / layout.FAILED
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = FailureRecord.from_dict(read_json(path, "failure record"), str(path))
            _check_slug(record.slug, path)
        except UserError as e:
            problems.append(f"skipped failure record: {e}")
            continue
        record.error = str(record.error)
        records.append(record)
    return records


def _check_slug(slug: Any, path: Path) -> None:
    if not isinstance(slug, str) or not slug:
        raise UserError(f"{path}: field 'slug' must be a run folder name")


def _planned(runs_dir: Path, problems: list[str]) -> list[PlanEntry]:
    folder = runs_dir / layout.SWEEPS
    runs: dict[str, PlanEntry] = {}
    for plan in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entries = _plan_entries(plan)
        except UserError as e:
            problems.append(f"skipped sweep plan: {e}")
            continue
        for entry in entries:
            runs.setdefault(entry.slug, entry)
    return list(runs.values())


def _plan_entries(plan: Path) -> list[PlanEntry]:
    data = read_json(plan, "sweep plan")
    entries = data.get("runs", []) if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserError(f"{plan}: field 'runs' must be a list of planned runs")
    planned = [PlanEntry.from_dict(entry, str(plan)) for entry in entries]
    for entry in planned:
        _check_slug(entry.slug, plan)
    return planned
