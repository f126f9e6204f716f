"""Sweeps: grid expansion and validation, then real sweeps on the tiny model (about 1 s a run)."""

import json

import pytest
import yaml

from iclft.cli import main
from iclft.errors import UserError
from iclft.experiment import is_finished, run_dir_for
from iclft.sweep import (
    ExecutorConfig,
    expand_grid,
    load_sweep,
    local_workers,
    make_jobs,
    read_failures,
    run_sweep,
    sweep_from_dict,
)

BASE = {"benchmark": {"name": "reversal"}, "model": {"name": "tiny"}}


def test_expand_grid_crosses_axes_first_axis_slowest():
    points = expand_grid(BASE, {"condition": ["base", "icl"], "seed": [0, 1, 2]})
    assert [(p["condition"], p["seed"]) for p, _ in points] == [(c, s) for c in ["base", "icl"] for s in [0, 1, 2]]
    point, data = points[-1]
    assert data == {**BASE, "condition": "icl", "seed": 2}
    assert BASE == {"benchmark": {"name": "reversal"}, "model": {"name": "tiny"}}  # base untouched


def test_dotted_keys_comma_axes_and_bundles():
    grid = {
        "benchmark.name": ["syllogism"],
        "seed,benchmark.seed": [3],
        "variant": [{"condition": "ft", "ft.steps": 2, "ft.method": "full"}],
        "benchmark.params": [{"n_facts": 4}],
        "benchmark.params.docs_per_fact": [1],
    }
    [(point, data)] = expand_grid(BASE, grid)
    assert data["benchmark"] == {"name": "syllogism", "seed": 3, "params": {"n_facts": 4, "docs_per_fact": 1}}
    assert data["seed"] == 3
    assert data["condition"] == "ft" and data["ft"] == {"steps": 2, "method": "full"}


def test_sweep_validates_every_config_up_front():
    with pytest.raises(UserError, match=r"grid point condition=magic.*field 'condition'"):
        sweep_from_dict({"base": BASE, "grid": {"condition": ["base", "magic"]}}, "s.yaml")
    with pytest.raises(UserError, match=r"s.yaml: grid key 'ft.stepz': not a config field"):
        sweep_from_dict({"base": BASE, "grid": {"ft.stepz": [2]}}, "s.yaml")
    with pytest.raises(UserError, match=r"grid point v=\{'ft.stepz': 2\}.*field 'ft.stepz'"):
        sweep_from_dict({"base": BASE, "grid": {"v": [{"ft.stepz": 2}]}}, "s.yaml")
    with pytest.raises(UserError, match="unknown benchmark 'nope'"):
        sweep_from_dict({"base": BASE, "grid": {"benchmark.name": ["nope"]}}, "s.yaml")
    with pytest.raises(UserError, match="field 'executor.kind'"):
        sweep_from_dict({"base": BASE, "executor": {"kind": "slurm"}}, "s.yaml")
    # the sweep's own fields read like every config's: no pydantic prefix, a count of the rest
    with pytest.raises(UserError, match=r"^s.yaml: field 'executor.workers': expected a number .*got 0$"):
        sweep_from_dict({"base": BASE, "executor": {"workers": 0}}, "s.yaml")
    with pytest.raises(UserError, match=r"\(and 1 more problems\)$"):
        sweep_from_dict({"base": BASE, "executor": {"workers": 0, "kind": "slurm"}}, "s.yaml")
    with pytest.raises(UserError, match="'condition.x': not a config field"):
        sweep_from_dict({"base": BASE, "grid": {"condition.x": [1]}}, "s.yaml")
    with pytest.raises(UserError, match="'benchmark' is a config field.*name the axis"):
        sweep_from_dict({"base": BASE, "grid": {"benchmark": [{"benchmark.name": "reversal"}]}}, "s.yaml")
    with pytest.raises(UserError, match="no values"):
        sweep_from_dict({"base": BASE, "grid": {"seed": []}}, "s.yaml")


def test_duplicates_are_dropped_and_runs_dir_is_relative_to_the_file(tmp_path):
    path = tmp_path / "sub" / "s.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"base": BASE, "grid": {"name": ["a", "b"]}, "runs_dir": "out"}))
    sweep = load_sweep(path)
    assert len(sweep.configs) == 1  # `name` is cosmetic: both points are the same experiment
    assert sweep.runs_dir == tmp_path / "sub" / "out" and sweep.name == "s"


def test_jobs_keep_shared_checkpoints_together():
    sweep = sweep_from_dict({"base": BASE, "grid": {"seed": [0, 1], "condition": ["ft+icl", "base", "ft"]}})
    jobs = make_jobs(sweep.configs)
    assert sorted(len(j) for j in jobs) == [1, 1, 2, 2]
    for job in jobs:
        if len(job) == 2:
            assert [c.condition for c in job] == ["ft", "ft+icl"] and job[0].seed == job[1].seed


def test_local_workers_default_leaves_two_cores_each(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert local_workers(ExecutorConfig(), 100) == (8, 2)
    assert local_workers(ExecutorConfig(), 3) == (3, 5)
    assert local_workers(ExecutorConfig(workers=1), 100) == (1, 16)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert local_workers(ExecutorConfig(), 10) == (1, 2)


def small_sweep(tiny_model_dir, runs_dir, **extra):
    """Reversals with 6 facts under base, ft and ft+icl on the tiny model: about 1 s per run."""
    return {
        "name": "small",
        "runs_dir": str(runs_dir),
        "base": {
            "benchmark": {"name": "reversal", "params": {"n_facts": 6, "docs_per_fact": 2}},
            "model": {"name": str(tiny_model_dir)},
            "ft": {"steps": 2, "batch_size": 4, "warmup_steps": 0},
        },
        "grid": {"condition": ["base", "ft", "ft+icl"]},
        **extra,
    }


def test_sweep_skips_finished_records_failures_and_resumes(tiny_model_dir, tmp_path):
    runs = tmp_path / "runs"
    later = tmp_path / "model-not-there-yet"
    data = small_sweep(tiny_model_dir, runs)
    data["grid"] = {"model.name": [str(tiny_model_dir), str(later)], "condition": ["base", "ft"]}
    sweep = sweep_from_dict(data)
    result = run_sweep(sweep, progress=False)
    assert sorted(result.done) == sorted(c.slug() for c in sweep.configs[:2])
    assert sorted(result.failed) == sorted(c.slug() for c in sweep.configs[2:])
    failures = read_failures(runs)
    assert len(failures) == 2 and all("unknown model" in f.error and "Traceback" in f.traceback for f in failures)
    assert failures[0].config["model"]["name"] == str(later)
    plan = json.loads((runs / "sweeps" / "small.json").read_text())
    assert [r["slug"] for r in plan["runs"]] == [c.slug() for c in sweep.configs]

    # Interrupted: one run lost, a half-written folder left. The failed ones can succeed now.
    lost = run_dir_for(sweep.configs[0], runs)
    for f in lost.iterdir():
        f.unlink()
    lost.rmdir()
    (runs / f".{lost.name}.partial").mkdir()
    later.symlink_to(tiny_model_dir)
    again = run_sweep(sweep_from_dict(data), progress=False)
    assert sorted(again.done) == sorted(c.slug() for c in [sweep.configs[0], *sweep.configs[2:]])
    assert again.skipped == [sweep.configs[1].slug()] and not again.failed
    assert read_failures(runs) == []  # a success clears the failure record
    assert all(is_finished(run_dir_for(c, runs)) for c in sweep.configs)
    assert not list(runs.glob(".*.partial"))


def test_sweep_process_pool_shares_the_checkpoint(tiny_model_dir, tmp_path):
    data = small_sweep(tiny_model_dir, tmp_path / "pool", executor={"kind": "local", "workers": 2, "threads": 1})
    result = run_sweep(sweep_from_dict(data), progress=False)
    assert len(result.done) == 3 and not result.failed
    checkpoints = list((tmp_path / "pool" / "checkpoints").iterdir())
    assert len(checkpoints) == 1  # ft and ft+icl ran in one job: one fine-tuning


def test_cli_sweep_prints_summary(tiny_model_dir, tmp_path, capsys):
    data = small_sweep(tiny_model_dir, "runs")
    data["grid"] = {"benchmark.params": [{"n_facts": 4, "docs_per_fact": 1}], "condition": ["base"]}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["sweep", str(path), "--quiet"]) == 0
    assert "done 1, skipped 0" in capsys.readouterr().out
    assert main(["sweep", str(path)]) == 0
    assert "done 0, skipped 1" in capsys.readouterr().out
    failing = tmp_path / "failing.yaml"
    failing.write_text(yaml.safe_dump({**data, "base": {**data["base"], "model": {"name": str(tmp_path / "none")}}}))
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", str(failing), "--quiet"])
    assert exit_info.value.code == 1
    assert "failed 1" in capsys.readouterr().out
    path.write_text(yaml.safe_dump({**data, "grid": {"condition": ["nope"]}}))
    assert main(["sweep", str(path)]) == 2
    assert "grid point condition=nope" in capsys.readouterr().err
