"""Running a sweep: its plan, the unfinished experiments as jobs, progress, the result."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iclft.io import write_json
from iclft.runs import layout
from iclft.runs.records import PlanEntry, RunStatus
from iclft.sweep.executors import run_jobs_local, run_jobs_ray
from iclft.sweep.grid import Sweep
from iclft.sweep.jobs import failure_path, make_jobs

PLANS_DIR = layout.SWEEPS


@dataclass
class SweepResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)  # slug -> one-line error
    nodes: dict[str, str] = field(default_factory=dict)  # slug -> the Ray node that ran it (Ray executor)

    def summary(self) -> str:
        return f"done {len(self.done)}, skipped {len(self.skipped)} (finished before), failed {len(self.failed)}"


def write_plan(sweep: Sweep) -> Path:
    """Record what this sweep expects in its runs directory, for `iclft report`."""
    path = layout.plan_path(sweep.runs_dir, sweep.name)
    entries = [PlanEntry(c.slug(), p, c.to_dict()) for c, p in zip(sweep.configs, sweep.points)]
    write_json(path, {"name": sweep.name, "runs": [e.to_dict() for e in entries]})
    return path


def run_sweep(sweep: Sweep, progress: bool = True) -> SweepResult:
    """Run every unfinished experiment of `sweep`; failures are recorded, not raised."""
    from iclft.experiment import is_finished, run_dir_for

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
        run_jobs = run_jobs_ray if sweep.executor.kind == "ray" else run_jobs_local
        statuses = run_jobs(jobs, sweep.runs_dir, sweep.executor, bar.update)
    finally:
        bar.close()
    for status in statuses:
        if status.node:
            result.nodes[status.slug] = status.node
        if status.done:
            result.done.append(status.slug)
        else:
            result.failed[status.slug] = status.error or ""
    return result


class _Progress:
    """One overall bar; a line per finished or failed experiment; silent when disabled."""

    def __init__(self, total: int, skipped: int, enabled: bool):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=skipped, desc="sweep", unit="run", dynamic_ncols=True)
            if skipped:
                self.bar.write(f"skipped {skipped} finished run(s)")

    def update(self, status: RunStatus) -> None:
        if not self.bar:
            return
        if status.status == "running":
            self.bar.set_postfix_str(f"running {status.slug}")
            return
        if status.done:
            self.bar.write(f"done    {status.slug} ({status.seconds or 0:.1f} s)")
        else:
            self.bar.write(f"FAILED  {status.slug}: {status.error}")
        self.bar.update(1)
        self.bar.set_postfix_str(status.slug)

    def close(self) -> None:
        if self.bar:
            self.bar.close()
