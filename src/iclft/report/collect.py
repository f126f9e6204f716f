"""What a runs directory holds: finished runs, runs in progress, failures, and planned runs.

    <runs_dir>/<slug>/                finished when config.yaml and metrics.json exist
    <runs_dir>/.<slug>.<pid>-<random>.partial/   in progress (or interrupted, if <pid> is gone)
    <runs_dir>/failed/<slug>.json     the last failure of an experiment (see iclft.sweep)
    <runs_dir>/sweeps/<name>.json     the plan of a sweep: every run it expects
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from iclft.errors import UserError
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
    status: str  # "in progress", "failed", "not started", "incomplete"
    detail: str = ""
    config: dict[str, Any] | None = None


@dataclass
class RunsIndex:
    runs_dir: Path
    runs: list[Run] = field(default_factory=list)
    missing: list[Missing] = field(default_factory=list)
    planned: int = 0

    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(run.benchmark for run in self.runs))


def load_run(path: str | Path) -> Run:
    """A finished run folder; anything else raises UserError."""
    path = Path(path)
    if not is_finished(path):
        raise UserError(f"{path}: not a finished run folder (expected config.yaml and metrics.json)")
    config = yaml.safe_load((path / layout.CONFIG).read_text(encoding="utf-8"))
    metrics = MetricsRecord.from_dict(json.loads((path / layout.METRICS).read_text(encoding="utf-8")), str(path / layout.METRICS))
    return Run(path, config, metrics.to_dict())


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
                missing.setdefault(slug, Missing(slug, "in progress", "a partial folder: interrupted (its process is gone)"))
        elif child.name.startswith("."):
            continue
        elif is_finished(child):
            index.runs.append(load_run(child))
            finished.add(child.name)
        elif (child / layout.CONFIG).is_file():
            missing[child.name] = Missing(child.name, "incomplete", "a run folder without metrics.json")
    for record in _failures(runs_dir):
        if record.slug not in finished:
            missing[record.slug] = Missing(record.slug, "failed", record.error, record.config)
    for planned in _planned(runs_dir):
        index.planned += 1
        if planned.slug in finished:
            continue
        entry = missing.setdefault(planned.slug, Missing(planned.slug, "not started"))
        entry.config = entry.config or planned.config
    for slug in finished:
        missing.pop(slug, None)
    index.missing = sorted(missing.values(), key=lambda m: (m.status, m.slug))
    return index


def _failures(runs_dir: Path) -> list[FailureRecord]:
    folder = runs_dir / layout.FAILED
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return [FailureRecord.from_dict(json.loads(p.read_text()), str(p)) for p in paths]


def _planned(runs_dir: Path) -> list[PlanEntry]:
    folder = runs_dir / layout.SWEEPS
    runs: dict[str, PlanEntry] = {}
    for plan in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        for data in json.loads(plan.read_text()).get("runs", []):
            entry = PlanEntry.from_dict(data, str(plan))
            runs.setdefault(entry.slug, entry)
    return list(runs.values())
