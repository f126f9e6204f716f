"""Jobs: experiments that must run one after the other, and running one experiment of a sweep."""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path

from iclft.config import ExperimentConfig
from iclft.io import write_json
from iclft.runs import layout
from iclft.runs.records import FailureRecord, RunStatus

FAILED_DIR = layout.FAILED


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


def run_one(config: ExperimentConfig, runs_dir: Path) -> RunStatus:
    """Run one experiment; never raises except on interrupt. Returns its status."""
    from iclft.experiment import run_experiment

    start = time.time()
    try:
        run_experiment(config, runs_dir, progress=False)
    except Exception as e:  # noqa: BLE001 - a sweep records every failure and goes on
        error = f"{type(e).__name__}: {e}".strip().splitlines()[0]
        status = RunStatus(config.slug(), "failed", error=error, traceback=traceback.format_exc())
    else:
        status = RunStatus(config.slug(), "done", seconds=round(time.time() - start, 2))
    record_outcome(runs_dir, config, status)
    return status


def record_outcome(runs_dir: Path, config: ExperimentConfig, status: RunStatus) -> None:
    """A failure writes `failed/<slug>.json` with error and traceback; a success removes it."""
    path = failure_path(runs_dir, config)
    if status.done:
        path.unlink(missing_ok=True)
    else:
        record = FailureRecord(status.slug, status.error or "", status.traceback or "", config.to_dict(), time.time())
        write_json(path, record.to_dict())


def run_job(job: list[dict], runs_dir: str, threads: int | None = None) -> list[RunStatus]:
    """Worker entry point (picklable arguments): run a job's experiments in order."""
    set_threads(threads)
    configs = [ExperimentConfig.model_validate(c) for c in job]
    return [run_one(config, Path(runs_dir)) for config in configs]


def set_threads(threads: int | None) -> None:
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


def read_failures(runs_dir: str | Path) -> list[FailureRecord]:
    """The failure records in `<runs_dir>/failed/`, oldest first."""
    folder = Path(runs_dir) / FAILED_DIR
    paths = sorted(folder.glob("*.json")) if folder.is_dir() else []
    records = [FailureRecord.from_dict(json.loads(p.read_text()), str(p)) for p in paths]
    return sorted(records, key=lambda r: r.time)
