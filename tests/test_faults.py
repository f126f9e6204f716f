"""Faults a runs folder must survive: concurrent identical runs and sweeps, a run killed while
fine-tuning, and a user data folder edited between runs. Real `iclft` processes."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from iclft.benchmarks import make_benchmark, save_benchmark
from iclft.config import load_config
from iclft.experiment import run_dir_for
from iclft.io import read_jsonl
from iclft.report.collect import collect
from iclft.runs.layout import CHECKPOINTS, is_finished

SRC = str(Path(__file__).resolve().parents[1] / "src")


def iclft(*args, cwd):
    """Start the `iclft` command (what the console script runs) with this checkout's sources."""
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    command = "import sys; from iclft.cli import main; sys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", command, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return out


def write_config(path, model_dir, condition="ft", steps=3, benchmark=None):
    benchmark = benchmark or "{name: reversal, params: {n_facts: 4, docs_per_fact: 2}}"
    path.write_text(
        f"benchmark: {benchmark}\n"
        f"model: {{name: '{model_dir}', device: cpu}}\n"
        f"condition: {condition}\n"
        f"ft: {{steps: {steps}, batch_size: 4, warmup_steps: 0}}\n"
    )
    return path


def visible(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def start_fine_tuning(config, runs, cwd):
    """Start `iclft run` and return once its partial checkpoint has a training-log line."""
    proc = iclft("run", str(config), "--runs-dir", str(runs), "--quiet", cwd=cwd)
    deadline = time.monotonic() + 300
    while not any(p.stat().st_size for p in (runs / CHECKPOINTS).glob(".*.partial/train_log.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before fine-tuning was seen"
        time.sleep(0.02)
    return proc


def test_two_identical_runs_at_once_make_one_complete_run(tmp_path, tiny_model_dir):
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, "ft+icl")
    runs = tmp_path / "runs"
    procs = [iclft("run", str(config), "--runs-dir", str(runs), "--quiet", cwd=tmp_path) for _ in range(2)]
    outputs = [finish(p) for p in procs]
    run_dir = run_dir_for(load_config(config), runs)
    assert is_finished(run_dir) and outputs[0] == outputs[1]
    assert visible(runs) == sorted([CHECKPOINTS, run_dir.name])
    assert len(list((runs / CHECKPOINTS).iterdir())) == 1
    assert not list(runs.glob(".*.partial")) and not list((runs / CHECKPOINTS).glob(".*.partial"))
    index = collect(runs)
    assert [r.slug for r in index.runs] == [run_dir.name] and not index.missing
    assert len(read_jsonl(run_dir / "samples.jsonl")) == 8


def test_two_identical_sweeps_at_once_finish_every_run(tmp_path, tiny_model_dir):
    sweep = tmp_path / "s.yaml"
    sweep.write_text(
        "runs_dir: runs\n"
        f"base: {{benchmark: {{name: reversal, params: {{n_facts: 4, docs_per_fact: 2}}}}, "
        f"model: {{name: '{tiny_model_dir}', device: cpu}}, ft: {{steps: 2, batch_size: 4, warmup_steps: 0}}}}\n"
        "grid: {condition: [base, icl, ft, ft+icl]}\n"
        "executor: {kind: local, workers: 1}\n"
    )
    procs = [iclft("sweep", str(sweep), "--quiet", cwd=tmp_path) for _ in range(2)]
    for proc in procs:
        finish(proc)
    index = collect(tmp_path / "runs")
    assert sorted(r.config["condition"] for r in index.runs) == ["base", "ft", "ft+icl", "icl"]
    assert not index.missing and index.planned == 4
    assert not list((tmp_path / "runs").glob(".*.partial"))


def test_run_killed_while_fine_tuning_completes_on_rerun_as_if_uninterrupted(tmp_path, tiny_model_dir):
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, "ft", steps=200)
    runs = tmp_path / "runs"
    proc = start_fine_tuning(config, runs, tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((runs / CHECKPOINTS).glob(".*.partial"))  # what the killed process left

    finish(iclft("run", str(config), "--runs-dir", str(runs), "--quiet", cwd=tmp_path))
    fresh = tmp_path / "fresh"
    finish(iclft("run", str(config), "--runs-dir", str(fresh), "--quiet", cwd=tmp_path))
    name = run_dir_for(load_config(config), runs).name
    assert is_finished(runs / name)
    assert not list(runs.glob(".*.partial")) and not list((runs / CHECKPOINTS).glob(".*.partial"))
    resumed, uninterrupted = read_jsonl(runs / name / "samples.jsonl"), read_jsonl(fresh / name / "samples.jsonl")
    assert [s["id"] for s in resumed] == [s["id"] for s in uninterrupted]
    for a, b in zip(resumed, uninterrupted):
        assert a["logprobs"] == pytest.approx(b["logprobs"], abs=1e-4)
    log = read_jsonl(runs / name / "train_log.jsonl")
    assert len(log) == len(read_jsonl(fresh / name / "train_log.jsonl"))  # one clean log, not two appended


def test_edited_data_folder_is_recomputed_with_the_new_answer(tmp_path, tiny_model_dir):
    data = save_benchmark(make_benchmark("reversal", 0, n_facts=4, docs_per_fact=2), tmp_path / "data")
    (data / "manifest.json").unlink()  # a user's own folder: train.jsonl and test.jsonl only
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, "icl", benchmark=f"{{name: folder, path: '{data}'}}")
    runs = tmp_path / "runs"
    finish(iclft("run", str(config), "--runs-dir", str(runs), "--quiet", cwd=tmp_path))
    first = run_dir_for(load_config(config), runs)
    assert is_finished(first)

    items = read_jsonl(data / "test.jsonl")
    items[0]["answers"] = [1 - items[0]["answers"][0]]
    (data / "test.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    finish(iclft("run", str(config), "--runs-dir", str(runs), "--quiet", cwd=tmp_path))
    second = run_dir_for(load_config(config), runs)
    assert second != first and is_finished(second)
    old, new = read_jsonl(first / "samples.jsonl")[0], read_jsonl(second / "samples.jsonl")[0]
    assert old["id"] == new["id"] and new["answers"] == items[0]["answers"] != old["answers"]
    metrics = json.loads((second / "metrics.json").read_text())
    assert metrics["benchmark_sha256"] == load_config(config).hashed_fields()["benchmark"]["sha256"]


def test_ctrl_c_while_fine_tuning_exits_130_without_a_traceback_and_leaves_no_results(tmp_path, tiny_model_dir):
    config = write_config(tmp_path / "c.yaml", tiny_model_dir, "ft", steps=200)
    runs = tmp_path / "runs"
    proc = start_fine_tuning(config, runs, tmp_path)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in out + err
    assert not list(runs.glob(".*.partial")) and not list((runs / CHECKPOINTS).glob(".*.partial"))
    assert visible(runs) == [CHECKPOINTS] and visible(runs / CHECKPOINTS) == []
    assert is_finished(run_dir_for(load_config(config), runs)) is False
