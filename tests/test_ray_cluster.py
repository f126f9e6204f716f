"""The Ray executor on a real two-node cluster on this machine: a head node and a worker node,
each with one CPU and its own processes, the worker with one (declared) GPU. Runs spread over
both nodes, their files and fine-tuned checkpoints come back to the driver's runs folder, and
`num_gpus` decides where tasks may run. Needs `iclft[ray]`; about a minute on two cores."""

import json
import os
import shutil

import pytest
import yaml

pytestmark = pytest.mark.integration

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from iclft.cli import main  # noqa: E402
from iclft.errors import UserError  # noqa: E402
from iclft.experiment import checkpoint_key, is_finished, run_dir_for, run_experiment  # noqa: E402
from iclft.exposure.checkpoint import is_checkpoint  # noqa: E402
from iclft.io import read_jsonl  # noqa: E402
from iclft.runs import layout  # noqa: E402
from iclft.sweep import run_sweep, sweep_from_dict  # noqa: E402


@pytest.fixture(scope="module")
def node_names():
    """Start the cluster, connect to it, and name its nodes: Ray node id -> head or worker."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "num_gpus": 0, "resources": {"head": 1}, "include_dashboard": False},
    )
    try:
        cluster.add_node(num_cpus=1, num_gpus=1, resources={"worker": 1})
        ray.init(address=cluster.address, log_to_driver=False, configure_logging=False)
        cluster.wait_for_nodes()
        nodes = [n for n in ray.nodes() if n["Alive"]]
        yield {n["NodeID"]: "head" if "head" in n["Resources"] else "worker" for n in nodes}
    finally:
        ray.shutdown()
        cluster.shutdown()


def sweep_spec(model_dir, runs_dir, grid, executor):
    return {
        "runs_dir": str(runs_dir),
        "base": {
            "model": {"name": str(model_dir)},
            "benchmark": {"name": "reversal", "params": {"n_facts": 6, "docs_per_fact": 2}},
            "ft": {"steps": 2, "batch_size": 4, "warmup_steps": 0},
        },
        "grid": grid,
        "executor": executor,
    }


def metrics(run_dir):
    return json.loads((run_dir / layout.METRICS).read_text())


def accuracies(run_dir):
    return {split: m["accuracy"] for split, m in metrics(run_dir)["splits"].items()}


def test_a_sweep_spreads_over_both_nodes_and_brings_back_runs_and_checkpoints(node_names, tiny_model_dir, tmp_path):
    assert sorted(node_names.values()) == ["head", "worker"]
    grid = {"condition": ["base", "icl", "ft", "ft+icl"]}
    ray_executor = {"kind": "ray", "num_cpus": 1, "threads": 1}
    sweep = sweep_from_dict(sweep_spec(tiny_model_dir, tmp_path / "ray-runs", grid, ray_executor))
    result = run_sweep(sweep, progress=False)

    by_condition = {c.condition: c for c in sweep.configs}
    assert sorted(result.done) == sorted(c.slug() for c in sweep.configs) and not result.failed
    ran_on = {c.condition: node_names[result.nodes[c.slug()]] for c in sweep.configs}
    assert set(ran_on.values()) == {"head", "worker"}
    assert ran_on["ft"] == ran_on["ft+icl"]  # one job: the checkpoint is trained once, then reused

    # Every run is complete in the driver's folder, scored on the CPU (no task asked for a GPU).
    for config in sweep.configs:
        run_dir = run_dir_for(config, sweep.runs_dir)
        assert is_finished(run_dir)
        assert metrics(run_dir)["provenance"]["device"] == "cpu"
        assert ((run_dir / layout.TRAIN_LOG).is_file()) == config.cond.fine_tunes
    assert not list(sweep.runs_dir.glob(".*.partial"))

    # The checkpoint came back: both fine-tuned runs were scored with its weights.
    ft, ft_icl = by_condition["ft"], by_condition["ft+icl"]
    ckpt = layout.checkpoint_dir(sweep.runs_dir, checkpoint_key(ft))
    assert [p.name for p in (sweep.runs_dir / layout.CHECKPOINTS).iterdir()] == [ckpt.name]
    assert is_checkpoint(ckpt)
    summary = json.loads((ckpt / layout.CHECKPOINT_SUMMARY).read_text())
    for config in (ft, ft_icl):
        run_dir = run_dir_for(config, sweep.runs_dir)
        assert metrics(run_dir)["finetune"] == summary
        assert (run_dir / layout.TRAIN_LOG).read_bytes() == (ckpt / layout.TRAIN_LOG).read_bytes()

    # The same sweep run locally (same torch threads) scores every item the same way.
    local_executor = {"kind": "local", "workers": 1, "threads": 1}
    local = sweep_from_dict(sweep_spec(tiny_model_dir, tmp_path / "local-runs", grid, local_executor))
    run_sweep(local, progress=False)
    for config in sweep.configs:
        ray_run, local_run = run_dir_for(config, sweep.runs_dir), run_dir_for(config, local.runs_dir)
        assert accuracies(ray_run) == accuracies(local_run)
        ray_samples, local_samples = read_jsonl(ray_run / layout.SAMPLES), read_jsonl(local_run / layout.SAMPLES)
        assert [(r["id"], r["pred"]) for r in ray_samples] == [(r["id"], r["pred"]) for r in local_samples]
        for r, l in zip(ray_samples, local_samples):
            assert r["logprobs"] == pytest.approx(l["logprobs"], abs=1e-4)

    # The checkpoint is reused, never retrained: by a Ray task (it is sent along), then by a run here.
    ft_icl_run = run_dir_for(ft_icl, sweep.runs_dir)
    expected = accuracies(ft_icl_run)
    before = (ckpt.stat().st_ino, (ckpt / layout.CHECKPOINT_SUMMARY).stat().st_mtime_ns)
    for rerun in ("ray", "here"):
        shutil.rmtree(ft_icl_run)
        if rerun == "ray":
            again = run_sweep(sweep, progress=False)
            assert again.done == [ft_icl.slug()] and len(again.skipped) == 3
        else:
            run_experiment(ft_icl, sweep.runs_dir, progress=False)
        assert metrics(ft_icl_run)["finetune"] == summary  # a new training would log other timings
        assert (ft_icl_run / layout.TRAIN_LOG).read_bytes() == (ckpt / layout.TRAIN_LOG).read_bytes()
        assert accuracies(ft_icl_run) == expected
        assert (ckpt.stat().st_ino, (ckpt / layout.CHECKPOINT_SUMMARY).stat().st_mtime_ns) == before


def test_num_gpus_runs_every_task_on_a_node_with_a_gpu(node_names, tiny_model_dir, tmp_path):
    executor = {"kind": "ray", "num_cpus": 1, "num_gpus": 1, "threads": 1}
    grid = {"condition": ["base", "icl"]}
    sweep = sweep_from_dict(sweep_spec(tiny_model_dir, tmp_path / "runs", grid, executor))
    result = run_sweep(sweep, progress=False)  # two tasks, one CPU on the GPU node: the second waits for it
    assert len(result.done) == 2 and not result.failed
    assert {node_names[result.nodes[slug]] for slug in result.done} == {"worker"}


def test_more_gpus_than_any_node_has_stops_with_one_line(node_names, tiny_model_dir, tmp_path, capsys):
    executor = {"kind": "ray", "num_cpus": 1, "num_gpus": 2}
    sweep = sweep_from_dict(sweep_spec(tiny_model_dir, tmp_path / "runs", {"condition": ["base"]}, executor))
    with pytest.raises(UserError, match=r"^executor.num_gpus: each task asks for 2 GPU, more than any Ray node"):
        run_sweep(sweep, progress=False)

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep_spec(tiny_model_dir, "runs", {"condition": ["base"]}, executor)))
    assert main(["sweep", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("iclft: error: executor.num_gpus:") and "1 CPU, 0 GPU" in err and "1 CPU, 1 GPU" in err
    assert not list((tmp_path / "runs").glob(f"*{layout.PARTIAL_SUFFIX}"))
