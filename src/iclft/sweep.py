"""Sweeps: a base config crossed with a grid, run by a local or a Ray executor.

A sweep file:

    name: reversal-vs-syllogism        # optional; names the plan file
    runs_dir: runs                      # relative to the sweep file
    base:                               # any ExperimentConfig fields
      model: {name: smollm2-135m}
      ft: {steps: 200}
    grid:                               # every combination of the listed values
      benchmark.name: [reversal, syllogism]
      condition: [base, icl, ft]
      seed,benchmark.seed: [0, 1, 2]    # one axis setting several fields to the same value
    executor: {kind: local, workers: auto}

Grid keys are dotted field paths (`benchmark.params.n_facts` reaches into a mapping field), or
several joined by commas. A key that is not a field names a *bundle* axis: its values are
mappings that set several fields at once (their keys are dotted paths too), e.g.

      variant: [{condition: ft}, {condition: ft_aug, augment.method: oracle}]

Every expanded config is validated before anything runs.

Runs are content-addressed (see `iclft.experiment`), so a rerun skips finished experiments and
continues where an interrupted sweep stopped. A failed experiment writes
`<runs_dir>/failed/<slug>.json` (error and traceback) and the others go on; a later success
removes that file. The sweep's plan is written to `<runs_dir>/sweeps/<name>.json` so that
`iclft report` can say which planned runs are missing.

Experiments that share fine-tuned weights (`ft` and `ft+icl` with the same checkpoint key)
form one job and run one after the other, so no checkpoint is trained twice at the same time.
"""

from __future__ import annotations

import copy
import itertools
import os
import shutil
import time
import traceback
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from iclft.config import ExperimentConfig, config_from_dict
from iclft.errors import UserError
from iclft.io import atomic_write_text, write_json
from iclft.runs import layout
from iclft.runs.atomic import atomic_dir
from iclft.runs.layout import is_finished

FAILED_DIR = layout.FAILED
PLANS_DIR = layout.SWEEPS


class ExecutorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["local", "ray"] = "local"
    workers: int | Literal["auto"] = Field("auto", description="local: parallel processes (1 = in this process)")
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


@dataclass
class SweepResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # slug -> one-line error

    def summary(self) -> str:
        return f"done {len(self.done)}, skipped {len(self.skipped)} (finished before), failed {len(self.failed)}"


# -- expansion and validation ------------------------------------------------------------------


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """Set `data['a']['b'] = value` for key 'a.b', creating mappings on the way."""
    *parents, last = key.split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise UserError(f"grid key '{key}': '{part}' is not a group of fields")
        node = child
    node[last] = copy.deepcopy(value)


def is_field_path(path: str) -> bool:
    """Whether dotted `path` names an ExperimentConfig field (or a key inside a mapping field)."""
    model: Any = ExperimentConfig
    for part in path.split("."):
        if model is dict:
            return True
        info = model.model_fields.get(part) if model else None
        if info is None:
            return False
        ann = info.annotation
        if typing.get_origin(ann) is dict:
            model = dict
        else:
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return True


def axis_fields(axis: str) -> list[str] | None:
    """The field paths a grid axis sets, or None for a bundle axis."""
    keys = [k.strip() for k in axis.split(",")]
    return keys if all(is_field_path(k) for k in keys) else None


def apply_value(data: dict[str, Any], axis: str, value: Any) -> None:
    """One grid axis at one value: sets the axis field(s), or a bundle's own dotted keys."""
    keys = axis_fields(axis)
    if keys is None:
        if not isinstance(value, dict):
            raise UserError(f"grid key '{axis}': not a config field, so its values must be mappings of fields")
        for key, sub in value.items():
            set_dotted(data, str(key), sub)
        return
    if isinstance(value, dict) and any("." in str(k) for k in value):
        raise UserError(
            f"grid key '{axis}' is a config field, so a mapping value is that field's value; for a bundle "
            "of dotted keys, name the axis with a word that is not a field (e.g. variant)"
        )
    for key in keys:
        set_dotted(data, key, value)


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
    try:
        spec = SweepConfig.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UserError(f"{source}: field '{where}': {err['msg']}") from None
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
    from iclft.benchmarks import GENERATORS

    if config.benchmark.path is None and config.benchmark.name not in GENERATORS:
        raise UserError(f"{where}: unknown benchmark '{config.benchmark.name}' (known: {', '.join(sorted(GENERATORS))})")


def load_sweep(path: str | Path) -> Sweep:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise UserError(f"{path}: cannot read sweep file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({getattr(e, 'problem', e)})") from None
    return sweep_from_dict(data, str(path), root=path.parent)


# -- jobs: experiments that must run one after the other ---------------------------------------


def make_jobs(configs: list[ExperimentConfig]) -> list[list[ExperimentConfig]]:
    """Group configs that share a fine-tuning checkpoint into one job; the condition that trains
    without a context (ft) runs before those that reuse its weights with one (ft+icl)."""
    from iclft.experiment import checkpoint_key

    jobs: dict[str, list[ExperimentConfig]] = {}
    for config in configs:
        key = "ckpt:" + checkpoint_key(config) if config.cond.fine_tunes else "run:" + config.content_hash()
        jobs.setdefault(key, []).append(config)
    return [sorted(job, key=lambda c: c.cond.uses_context) for job in jobs.values()]


def failure_path(runs_dir: Path, config: ExperimentConfig) -> Path:
    return layout.failure_path(runs_dir, config.slug())


def run_one(config: ExperimentConfig, runs_dir: Path) -> dict[str, Any]:
    """Run one experiment; never raises except on interrupt. Returns a status record."""
    from iclft.experiment import run_experiment

    start = time.time()
    try:
        run_experiment(config, runs_dir, progress=False)
    except Exception as e:
        error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        record = {"slug": config.slug(), "status": "failed", "error": error, "traceback": traceback.format_exc()}
        record_outcome(runs_dir, config, record)
        return record
    record = {"slug": config.slug(), "status": "done", "seconds": round(time.time() - start, 2)}
    record_outcome(runs_dir, config, record)
    return record


def record_outcome(runs_dir: Path, config: ExperimentConfig, record: dict[str, Any]) -> None:
    """A failure writes `failed/<slug>.json` with error and traceback; a success removes it."""
    path = failure_path(runs_dir, config)
    if record["status"] == "done":
        path.unlink(missing_ok=True)
    else:
        keep = {k: record[k] for k in ("slug", "status", "error", "traceback")}
        write_json(path, {**keep, "config": config.to_dict(), "time": time.time()})


def run_job(job: list[dict[str, Any]], runs_dir: str, threads: int | None = None) -> list[dict[str, Any]]:
    """Worker entry point (picklable arguments): run a job's experiments in order."""
    _set_threads(threads)
    configs = [ExperimentConfig.model_validate(c) for c in job]
    return [run_one(config, Path(runs_dir)) for config in configs]


def _set_threads(threads: int | None) -> None:
    """Torch threads for this worker; also silences library progress bars under the sweep's bar."""
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:
        pass


# -- running -----------------------------------------------------------------------------------


def write_plan(sweep: Sweep) -> Path:
    """Record what this sweep expects in its runs directory, for `iclft report`."""
    path = layout.plan_path(sweep.runs_dir, sweep.name)
    plan = {
        "name": sweep.name,
        "runs": [{"slug": c.slug(), "point": p, "config": c.to_dict()} for c, p in zip(sweep.configs, sweep.points)],
    }
    write_json(path, plan)
    return path


def run_sweep(sweep: Sweep, progress: bool = True) -> SweepResult:
    """Run every unfinished experiment of `sweep`; failures are recorded, not raised."""
    from iclft.experiment import run_dir_for

    sweep.runs_dir.mkdir(parents=True, exist_ok=True)
    write_plan(sweep)
    result = SweepResult()
    todo = []
    for config in sweep.configs:
        if is_finished(run_dir_for(config, sweep.runs_dir)):
            result.skipped.append(config.slug())
            failure_path(sweep.runs_dir, config).unlink(missing_ok=True)
        else:
            todo.append(config)
    jobs = make_jobs(todo)
    bar = _Progress(len(sweep.configs), len(result.skipped), progress)
    try:
        if sweep.executor.kind == "ray":
            records = run_jobs_ray(jobs, sweep.runs_dir, sweep.executor, bar.update)
        else:
            records = run_jobs_local(jobs, sweep.runs_dir, sweep.executor, bar.update)
    finally:
        bar.close()
    for record in records:
        if record["status"] == "done":
            result.done.append(record["slug"])
        else:
            result.failed[record["slug"]] = record["error"]
    return result


def local_workers(executor: ExecutorConfig, n_jobs: int) -> tuple[int, int]:
    """(processes, torch threads each): 'auto' gives each worker 2 cores, at most one per job."""
    cores = os.cpu_count() or 1
    workers = max(1, cores // 2) if executor.workers == "auto" else max(1, executor.workers)
    workers = max(1, min(workers, n_jobs))
    return workers, executor.threads or max(1, cores // workers)


def run_jobs_local(jobs, runs_dir: Path, executor: ExecutorConfig, on_record) -> list[dict[str, Any]]:
    workers, threads = local_workers(executor, len(jobs))
    records: list[dict[str, Any]] = []
    payloads = [[c.to_dict() for c in job] for job in jobs]
    if workers == 1:
        _set_threads(executor.threads)
        for config in (c for job in jobs for c in job):
            on_record({"slug": config.slug(), "status": "running"})
            record = run_one(config, runs_dir)
            records.append(record)
            on_record(record)
        return records

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(run_job, payload, str(runs_dir), threads) for payload in payloads]
        for future in as_completed(futures):
            for record in future.result():
                records.append(record)
                on_record(record)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return records


def run_jobs_ray(jobs, runs_dir: Path, executor: ExecutorConfig, on_record) -> list[dict[str, Any]]:
    """Each job as a Ray task with the requested CPUs/GPUs. A task runs in a scratch folder on
    its node and sends back the run's files; they are written here, into `runs_dir`, so no
    shared filesystem is needed (fine-tuned checkpoints stay on the worker and are dropped)."""
    try:
        import ray
    except ImportError:
        raise UserError("executor kind 'ray' needs Ray: pip install 'iclft[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=executor.address, log_to_driver=False, include_dashboard=False)
    try:
        task = ray.remote(num_cpus=executor.num_cpus, num_gpus=executor.num_gpus, max_retries=0)(_ray_job)
        threads = executor.threads or max(1, int(executor.num_cpus))
        pending = {task.remote([c.to_dict() for c in job], threads): job for job in jobs}
        records = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                results = ray.get(ready[0])
            except Exception as e:  # the task itself died (worker crash, lost node)
                error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
                results = [{"slug": c.slug(), "status": "failed", "error": error, "traceback": str(e)} for c in job]
            for config, record in zip(job, results):
                if record["status"] == "done":
                    _write_run_files(runs_dir, config, record.pop("files"))
                record_outcome(runs_dir, config, record)
                records.append(record)
                on_record(record)
        return records
    finally:
        if started:
            ray.shutdown()


def _ray_job(job: list[dict[str, Any]], threads: int) -> list[dict[str, Any]]:
    """Runs on a Ray worker: the job in a scratch runs folder, returning each run's files."""
    import tempfile

    from iclft.experiment import run_dir_for

    with tempfile.TemporaryDirectory(prefix="iclft-ray-") as scratch:
        records = run_job(job, scratch, threads)
        for data, record in zip(job, records):
            if record["status"] == "done":
                run_dir = run_dir_for(ExperimentConfig.model_validate(data), scratch)
                record["files"] = {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}
    return records


def _write_run_files(runs_dir: Path, config: ExperimentConfig, files: dict[str, bytes]) -> None:
    """Place a run's files as `run_experiment` would: an atomic folder, under the run's lock."""
    from iclft.experiment import run_dir_for
    from iclft.runs.lock import exclusive

    final = run_dir_for(config, runs_dir)
    with exclusive(runs_dir, final.name):
        if is_finished(final):
            return
        if final.exists():
            shutil.rmtree(final)
        with atomic_dir(final) as partial:
            for name in sorted(files):
                atomic_write_text(partial / name, files[name].decode("utf-8"))


class _Progress:
    """One overall bar; a line per finished or failed experiment; silent when disabled."""

    def __init__(self, total: int, skipped: int, enabled: bool):
        self.enabled = enabled
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=skipped, desc="sweep", unit="run", dynamic_ncols=True)
            if skipped:
                self.bar.write(f"skipped {skipped} finished run(s)")

    def update(self, record: dict[str, Any]) -> None:
        if not self.bar:
            return
        status, slug = record["status"], record["slug"]
        if status == "running":
            self.bar.set_postfix_str(f"running {slug}")
            return
        if status == "done":
            self.bar.write(f"done    {slug} ({record.get('seconds', 0):.1f} s)")
        else:
            self.bar.write(f"FAILED  {slug}: {record['error']}")
        self.bar.update(1)
        self.bar.set_postfix_str(slug)

    def close(self) -> None:
        if self.bar:
            self.bar.close()


def read_failures(runs_dir: str | Path) -> list[dict[str, Any]]:
    """The failure records in `<runs_dir>/failed/`, oldest first."""
    import json

    folder = Path(runs_dir) / FAILED_DIR
    records = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.is_dir() else []
    return sorted(records, key=lambda r: r.get("time", 0))


__all__ = [
    "ExecutorConfig",
    "Sweep",
    "SweepConfig",
    "SweepResult",
    "expand_grid",
    "load_sweep",
    "make_jobs",
    "read_failures",
    "run_sweep",
    "sweep_from_dict",
]
