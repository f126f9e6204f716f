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
form one job and run one after the other, so no checkpoint is trained twice at the same time
(and a lock per run and checkpoint keeps two sweeps on one runs folder from doing so). On
Ray a job is one task, on any node: it sends its runs' files and the checkpoint it trained
back to the driver's runs folder, and takes along a checkpoint that folder already holds.

The package: `grid` (spec, expansion, validation), `jobs` (grouping, one experiment, failure
records), `executors` (local processes, Ray), `runner` (plan, progress, result).
"""

from iclft.sweep.executors import local_workers, run_jobs_local, run_jobs_ray
from iclft.sweep.grid import (
    ExecutorConfig,
    Sweep,
    SweepConfig,
    apply_value,
    axis_fields,
    describe_point,
    expand_grid,
    load_sweep,
    sweep_from_dict,
)
from iclft.sweep.jobs import (
    FAILED_DIR,
    failure_path,
    make_jobs,
    read_failures,
    record_outcome,
    run_job,
    run_one,
)
from iclft.sweep.runner import PLANS_DIR, SweepResult, run_sweep, write_plan

__all__ = [
    "FAILED_DIR",
    "PLANS_DIR",
    "ExecutorConfig",
    "Sweep",
    "SweepConfig",
    "SweepResult",
    "apply_value",
    "axis_fields",
    "describe_point",
    "expand_grid",
    "failure_path",
    "load_sweep",
    "local_workers",
    "make_jobs",
    "read_failures",
    "record_outcome",
    "run_job",
    "run_jobs_local",
    "run_jobs_ray",
    "run_one",
    "run_sweep",
    "sweep_from_dict",
    "write_plan",
]
