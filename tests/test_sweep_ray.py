"""The Ray executor, for real: a local Ray instance on loopback with 2 CPUs, a small sweep on
the tiny model, results gathered into the usual run-directory layout. Needs `iclft[ray]`."""

import os

import pytest

pytestmark = pytest.mark.integration

ray = pytest.importorskip("ray")

from iclft.experiment import is_finished, run_dir_for  # noqa: E402
from iclft.io import read_jsonl  # noqa: E402
from iclft.sweep import read_failures, run_sweep, sweep_from_dict  # noqa: E402


@pytest.fixture(scope="module")
def local_ray():
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(
        num_cpus=2,
        num_gpus=0,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
        configure_logging=False,
    )
    yield
    ray.shutdown()


def test_ray_sweep_writes_the_same_runs_as_local(local_ray, tiny_model_dir, tmp_path):
    base = {
        "model": {"name": str(tiny_model_dir)},
        "ft": {"steps": 2, "batch_size": 4, "warmup_steps": 0},
    }
    grid = {
        "bench": [
            {"benchmark.name": "reversal", "benchmark.params": {"n_facts": 6, "docs_per_fact": 2}},
            {"benchmark.name": "syllogism", "benchmark.params": {"n_train": 6}},
        ],
        "condition": ["base", "ft", "ft+icl"],
    }
    missing = str(tmp_path / "no-such-model")
    sweep = sweep_from_dict(
        {
            "runs_dir": str(tmp_path / "ray-runs"),
            "base": base,
            "grid": {**grid, "model.name": [str(tiny_model_dir), missing]},
            "executor": {"kind": "ray", "num_cpus": 1},
        }
    )
    result = run_sweep(sweep, progress=False)
    good = [c for c in sweep.configs if c.model.name != missing]
    assert sorted(result.done) == sorted(c.slug() for c in good)
    assert len(result.failed) == 6 and all("unknown model" in e for e in result.failed.values())
    assert len(read_failures(sweep.runs_dir)) == 6
    for config in good:
        run_dir = run_dir_for(config, sweep.runs_dir)
        assert is_finished(run_dir)
        names = {p.name for p in run_dir.iterdir()}
        assert {"config.yaml", "samples.jsonl", "metrics.json"} <= names
        assert ("train_log.jsonl" in names) == (config.condition != "base")
    assert not list(sweep.runs_dir.glob(".*.partial"))

    # The same base experiments run locally give the same items, predictions and scores
    # (up to float noise: torch thread counts differ, so reductions run in another order).
    local = sweep_from_dict(
        {"runs_dir": str(tmp_path / "local-runs"), "base": base, "grid": {**grid, "condition": ["base"]}}
    )
    run_sweep(local, progress=False)
    for config in local.configs:
        ray_samples = read_jsonl(run_dir_for(config, sweep.runs_dir) / "samples.jsonl")
        local_samples = read_jsonl(run_dir_for(config, local.runs_dir) / "samples.jsonl")
        assert [(r["id"], r["pred"]) for r in ray_samples] == [(r["id"], r["pred"]) for r in local_samples]
        for r, l in zip(ray_samples, local_samples):
            assert r["logprobs"] == pytest.approx(l["logprobs"], abs=1e-4)

    # A rerun through Ray skips everything finished and retries only the failures.
    again = run_sweep(sweep, progress=False)
    assert len(again.skipped) == len(good) and len(again.failed) == 6 and not again.done
