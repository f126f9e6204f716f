"""Executors: run jobs here (one process, or a pool of processes) or as Ray tasks."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from iclft.config import ExperimentConfig
from iclft.errors import UserError
from iclft.exposure.checkpoint import META, is_checkpoint
from iclft.runs import layout
from iclft.runs.atomic import atomic_dir
from iclft.runs.lock import exclusive
from iclft.runs.records import RunStatus
from iclft.sweep.grid import ExecutorConfig
from iclft.sweep.jobs import record_outcome, run_job, run_one, set_threads

Files = dict[str, bytes]  # a folder's files: path relative to the folder -> content


def local_workers(executor: ExecutorConfig, n_jobs: int) -> tuple[int, int]:
    """(processes, torch threads each): 'auto' gives each worker 2 cores, at most one per job."""
    cores = os.cpu_count() or 1
    workers = max(1, cores // 2) if executor.workers == "auto" else executor.workers
    workers = max(1, min(workers, n_jobs))
    return workers, executor.threads or max(1, cores // workers)


def run_jobs_local(jobs, runs_dir: Path, executor: ExecutorConfig, on_status) -> list[RunStatus]:
    workers, threads = local_workers(executor, len(jobs))
    statuses: list[RunStatus] = []
    if workers == 1:
        set_threads(executor.threads)
        for config in (c for job in jobs for c in job):
            on_status(RunStatus(config.slug(), "running"))
            status = run_one(config, runs_dir)
            statuses.append(status)
            on_status(status)
        return statuses

    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    payloads = [[c.to_dict() for c in job] for job in jobs]
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = [pool.submit(run_job, payload, str(runs_dir), threads) for payload in payloads]
        for future in as_completed(futures):
            for status in future.result():
                statuses.append(status)
                on_status(status)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return statuses


@dataclass
class RayJobResult:
    """What a Ray task sends back: where it ran, each run's status and files (when done), and
    the checkpoints it trained."""

    node: str | None
    runs: list[tuple[RunStatus, Files | None]]
    checkpoints: dict[str, Files] = field(default_factory=dict)  # checkpoint key -> files


def run_jobs_ray(jobs, runs_dir: Path, executor: ExecutorConfig, on_status) -> list[RunStatus]:
    """Each job as a Ray task with the requested CPUs/GPUs, spread over the cluster's nodes.

    A task runs in a scratch folder on its node. It takes along the checkpoints of its job that
    `runs_dir` holds already, and sends back each run's files and the checkpoints it trained;
    they are written here, into `runs_dir`, as a local run writes them, so no shared filesystem
    is needed. Each status names the Ray node that ran it."""
    try:
        import ray
    except ImportError:
        raise UserError("executor kind 'ray' needs Ray: pip install 'iclft[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=executor.address, log_to_driver=False, include_dashboard=False)
    try:
        check_a_node_fits(executor, ray.nodes())
        options = {"num_cpus": executor.num_cpus, "num_gpus": executor.num_gpus, "max_retries": 0}
        task = ray.remote(**options, scheduling_strategy="SPREAD")(_ray_job)
        threads = executor.threads or max(1, int(executor.num_cpus))
        pending = {}
        for job in jobs:
            pending[task.remote([c.to_dict() for c in job], known_checkpoints(job, runs_dir), threads)] = job
        statuses = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            for status in _collect(ray, ready[0], job, runs_dir):
                statuses.append(status)
                on_status(status)
        return statuses
    finally:
        if started:
            ray.shutdown()


def _collect(ray, ref, job: list[ExperimentConfig], runs_dir: Path) -> list[RunStatus]:
    """Write what a finished task sent into `runs_dir`: checkpoints first, then runs and failures."""
    try:
        result: RayJobResult = ray.get(ref)
    except Exception as e:  # noqa: BLE001 - the task itself died (worker crash, lost node)
        error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        result = RayJobResult(None, [(RunStatus(c.slug(), "failed", error=error, traceback=str(e)), None) for c in job])
    for key, files in result.checkpoints.items():
        write_checkpoint_files(runs_dir, key, files)
    statuses = []
    for config, (status, files) in zip(job, result.runs):
        status.node = result.node
        if status.done:
            write_run_files(runs_dir, config, files)
        record_outcome(runs_dir, config, status)
        statuses.append(status)
    return statuses


def check_a_node_fits(executor: ExecutorConfig, nodes: list[dict[str, Any]]) -> None:
    """A task that no live node can hold would wait forever; say so in one line instead."""
    have = [n.get("Resources", {}) for n in nodes if n.get("Alive")]
    if any(r.get("CPU", 0) >= executor.num_cpus and r.get("GPU", 0) >= executor.num_gpus for r in have):
        return
    if not any(r.get("GPU", 0) >= executor.num_gpus for r in have):
        where, asked = "executor.num_gpus", f"{executor.num_gpus:g} GPU"
    elif not any(r.get("CPU", 0) >= executor.num_cpus for r in have):
        where, asked = "executor.num_cpus", f"{executor.num_cpus:g} CPU"
    else:
        where, asked = "executor.num_cpus, num_gpus", f"{executor.num_cpus:g} CPU and {executor.num_gpus:g} GPU"
    nodes_have = "; ".join(f"{r.get('CPU', 0):g} CPU, {r.get('GPU', 0):g} GPU" for r in have) or "none alive"
    raise UserError(f"{where}: each task asks for {asked}, more than any Ray node has (nodes: {nodes_have})")


def known_checkpoints(job: list[ExperimentConfig], runs_dir: Path) -> dict[str, Files]:
    """The checkpoints `runs_dir` holds for `job`, sent along so the task reuses them."""
    from iclft.experiment import checkpoint_key

    found: dict[str, Files] = {}
    for key in {checkpoint_key(c) for c in job if c.cond.fine_tunes}:
        folder = layout.checkpoint_dir(runs_dir, key)
        try:
            if is_checkpoint(folder):  # the task checks base weights and benchmark, and retrains if stale
                found[key] = read_files(folder)
        except OSError:  # replaced while being read: the task trains its own
            continue
    return found


def _ray_job(job: list[dict[str, Any]], checkpoints: dict[str, Files], threads: int) -> RayJobResult:
    """Runs on a Ray worker: the job in a scratch runs folder, seeded with `checkpoints`."""
    import ray

    from iclft.experiment import checkpoint_key, run_dir_for

    if not ray.get_gpu_ids():  # a task that asked for no GPU uses none (model.device: auto)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    configs = [ExperimentConfig.model_validate(data) for data in job]
    with tempfile.TemporaryDirectory(prefix="iclft-ray-") as tmp:
        scratch = Path(tmp)
        for key, files in checkpoints.items():
            write_files(layout.checkpoint_dir(scratch, key), files)
        statuses = run_job(job, tmp, threads)
        runs = [(s, read_files(run_dir_for(c, scratch)) if s.done else None) for c, s in zip(configs, statuses)]
        trained = {}
        for key in {checkpoint_key(c) for c in configs if c.cond.fine_tunes}:
            folder = layout.checkpoint_dir(scratch, key)
            if is_checkpoint(folder) and (folder / META).read_bytes() != checkpoints.get(key, {}).get(META):
                trained[key] = read_files(folder)
    return RayJobResult(ray.get_runtime_context().get_node_id(), runs, trained)


def read_files(folder: Path) -> Files:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def write_files(folder: Path, files: Files) -> None:
    for name in sorted(files):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])


def write_run_files(runs_dir: Path, config: ExperimentConfig, files: Files) -> None:
    """Place a run's files as `run_experiment` would: an atomic folder, under the run's lock."""
    from iclft.experiment import is_finished, run_dir_for

    final = run_dir_for(config, runs_dir)
    with exclusive(runs_dir, final.name):
        if is_finished(final):
            return
        if final.exists() and not layout.is_finished(final):
            shutil.rmtree(final)
        with atomic_dir(final, replace=True) as partial:  # a run scored with other weights goes last
            write_files(partial, files)


def write_checkpoint_files(runs_dir: Path, key: str, files: Files) -> None:
    """Place a checkpoint a task trained as fine-tuning here would: an atomic folder, under the
    checkpoint's lock. One already there for the same base weights and benchmark (trained by
    another process meanwhile) is kept, as a local run keeps it; a stale one is replaced."""
    folder = layout.checkpoint_dir(runs_dir, key)
    meta = json.loads(files[META])  # what the checkpoint was trained from
    with exclusive(runs_dir, layout.checkpoint_lock(key)):  # the lock fine-tuning takes
        if is_checkpoint(folder, meta.get("base_fingerprint"), meta.get("benchmark_sha256")):
            return
        with atomic_dir(folder, replace=True) as partial:
            write_files(partial, files)
