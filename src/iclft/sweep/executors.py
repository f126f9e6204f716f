"""Executors: run jobs here (one process, or a pool of processes) or as Ray tasks."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from iclft.config import ExperimentConfig
from iclft.errors import UserError
from iclft.io import atomic_write_text
from iclft.runs import layout
from iclft.runs.atomic import atomic_dir
from iclft.runs.lock import exclusive
from iclft.runs.records import RunStatus
from iclft.sweep.grid import ExecutorConfig
from iclft.sweep.jobs import record_outcome, run_job, run_one, set_threads


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


def run_jobs_ray(jobs, runs_dir: Path, executor: ExecutorConfig, on_status) -> list[RunStatus]:
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
        statuses = []
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            job = pending.pop(ready[0])
            try:
                results = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - the task itself died (worker crash, lost node)
                error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
                results = [(RunStatus(c.slug(), "failed", error=error, traceback=str(e)), None) for c in job]
            for config, (status, files) in zip(job, results):
                if status.done:
                    write_run_files(runs_dir, config, files)
                record_outcome(runs_dir, config, status)
                statuses.append(status)
                on_status(status)
        return statuses
    finally:
        if started:
            ray.shutdown()


def _ray_job(job: list[dict[str, Any]], threads: int) -> list[tuple[RunStatus, dict[str, bytes] | None]]:
    """Runs on a Ray worker: the job in a scratch runs folder; each run's status and files."""
    import tempfile

    from iclft.experiment import run_dir_for

    out = []
    with tempfile.TemporaryDirectory(prefix="iclft-ray-") as scratch:
        for data, status in zip(job, run_job(job, scratch, threads)):
            files = None
            if status.done:
                run_dir = run_dir_for(ExperimentConfig.model_validate(data), scratch)
                files = {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}
            out.append((status, files))
    return out


def write_run_files(runs_dir: Path, config: ExperimentConfig, files: dict[str, bytes]) -> None:
    """Place a run's files as `run_experiment` would: an atomic folder, under the run's lock."""
    from iclft.experiment import is_finished, run_dir_for

    final = run_dir_for(config, runs_dir)
    with exclusive(runs_dir, final.name):
        if is_finished(final):
            return
        if final.exists() and not layout.is_finished(final):
            shutil.rmtree(final)
        with atomic_dir(final, replace=True) as partial:  # a run scored with other weights goes last
            for name in sorted(files):
                atomic_write_text(partial / name, files[name].decode("utf-8"))
