"""Names inside a runs folder, defined once.

<runs_dir>/<slug>/                       a run: finished when config.yaml and metrics.json exist
    config.yaml, samples.jsonl, metrics.json, train_log.jsonl, ...
<runs_dir>/.<slug>.<pid>-<random>.partial/   a run being written by process <pid>
<runs_dir>/checkpoints/<key>/            fine-tuned weights (iclft.exposure.checkpoint)
<runs_dir>/generations/                  the augmenters' generation cache
<runs_dir>/failed/<slug>.json            the last failure of an experiment
<runs_dir>/sweeps/<name>.json            the plan of a sweep
<runs_dir>/task-study/<name>/            a task-study plan's results (iclft.tasks.runner)
<runs_dir>/.locks/<name>.lock            held while a run or checkpoint is computed
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG = "config.yaml"
METRICS = "metrics.json"
SAMPLES = "samples.jsonl"
TRAIN_LOG = "train_log.jsonl"
CHECKPOINTS = "checkpoints"
CHECKPOINT_SUMMARY = "summary.json"
GENERATIONS = "generations"
FAILED = "failed"
SWEEPS = "sweeps"
TASK_STUDY = "task-study"
LOCKS = ".locks"
PARTIAL_SUFFIX = ".partial"

RESERVED = frozenset({CHECKPOINTS, GENERATIONS, FAILED, SWEEPS, TASK_STUDY, LOCKS})

# .<name>.<pid>-<random>.partial (this version) or .<name>.partial (earlier versions)
_PARTIAL = re.compile(r"^\.(?P<name>.+?)(?:\.(?P<pid>\d+)-[0-9a-f]+)?\.partial$")


def is_finished(run_dir: Path) -> bool:
    """A run folder counts as finished only with both its config and its metrics."""
    return (run_dir / CONFIG).is_file() and (run_dir / METRICS).is_file()


def checkpoint_dir(runs_dir: Path, key: str) -> Path:
    return Path(runs_dir) / CHECKPOINTS / key


def checkpoint_lock(key: str) -> str:
    """The lock name (`iclft.runs.lock.exclusive`) held while checkpoint `key` is trained or placed."""
    return f"{CHECKPOINTS}-{key}"


def failure_path(runs_dir: Path, slug: str) -> Path:
    return Path(runs_dir) / FAILED / f"{slug}.json"


def plan_path(runs_dir: Path, sweep_name: str) -> Path:
    return Path(runs_dir) / SWEEPS / f"{sweep_name}.json"


def lock_path(runs_dir: Path, name: str) -> Path:
    return Path(runs_dir) / LOCKS / f"{name}.lock"


def partial_name(final_name: str, pid: int, token: str) -> str:
    return f".{final_name}.{pid}-{token}{PARTIAL_SUFFIX}"


def parse_partial(folder_name: str) -> tuple[str, int | None] | None:
    """(final name, writer pid or None) of a partial folder name; None for other names."""
    match = _PARTIAL.match(folder_name)
    if not match:
        return None
    return match["name"], int(match["pid"]) if match["pid"] else None
