"""Fine-tuning across processes on the tiny model: `iclft run --processes 2` (DDP through
accelerate, gloo on CPU) and FSDP2 sharding give the loss curve of one process with the same
global batch, and save the same checkpoint formats; gradient accumulation, gradient
checkpointing and bf16 autocast in one process. The multi-process runs start real processes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from iclft.config import FinetuneConfig, load_config
from iclft.errors import UserError
from iclft.experiment import run_experiment
from iclft.exposure.finetune import finetune, step_shares
from iclft.io import read_jsonl
from iclft.models.base import TrainExample

SRC = str(Path(__file__).resolve().parents[1] / "src")
# Two processes sum their gradients in another order than one: the curves agree to float
# rounding (measured: 1.3e-6 on this model); the tolerance leaves room for other CPUs.
LOSS_TOLERANCE = 1e-4


def write_config(path: Path, model_dir, method="lora") -> Path:
    path.write_text(
        "benchmark: {name: reversal, params: {n_facts: 6, docs_per_fact: 2}}\n"
        f"model: {{name: '{model_dir}', device: cpu}}\n"
        "condition: ft\n"
        f"ft: {{method: {method}, steps: 4, batch_size: 5, learning_rate: 0.001, warmup_steps: 1}}\n"
    )
    return path


def iclft_run(config: Path, runs: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}
    command = "import sys; from iclft.cli import main; sys.exit(main())"
    cmd = [sys.executable, "-c", command, "run", str(config), "--runs-dir", str(runs), "--quiet", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def losses(run_dir: Path) -> list[float]:
    return [r["loss"] for r in read_jsonl(run_dir / "train_log.jsonl")]


def logprobs(run_dir: Path) -> list[float]:
    return [lp for s in read_jsonl(run_dir / "samples.jsonl") for lp in s["logprobs"]]


def assert_close(a: list[float], b: list[float], tol: float) -> None:
    assert len(a) == len(b) and a
    assert max(abs(x - y) for x, y in zip(a, b)) <= tol, (a, b)


def checkpoint_files(runs: Path) -> list[str]:
    (ckpt,) = (runs / "checkpoints").iterdir()
    return sorted(p.name for p in ckpt.iterdir())


@pytest.mark.integration
@pytest.mark.parametrize(
    ("method", "sets"),
    [("lora", []), ("full", ["ft.fsdp=true", "ft.gradient_checkpointing=true"])],
    ids=["lora-ddp", "full-fsdp"],
)
def test_two_processes_train_as_one_process_with_the_same_global_batch(tmp_path, tiny_model_dir, method, sets):
    config = write_config(tmp_path / "ft.yaml", tiny_model_dir, method)
    one = run_experiment(load_config(config), tmp_path / "one", progress=False)

    args = ["--processes", "2"] + (["--set", *sets] if sets else [])
    done = iclft_run(config, tmp_path / "two", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    two = tmp_path / "two" / one.name  # FSDP and checkpointing change how, not what: same run
    assert two.is_dir(), done.stdout
    assert done.stdout.count("run directory:") == 1  # only the main process reports
    assert_close(losses(two), losses(one), LOSS_TOLERANCE)
    assert_close(logprobs(two), logprobs(one), 1e-3)
    summary = json.loads((two / "metrics.json").read_text())["finetune"]
    assert summary["processes"] == 2 and summary["steps"] == 4
    assert checkpoint_files(tmp_path / "two") == checkpoint_files(tmp_path / "one")


FACTS = [TrainExample(t) for t in ("The blicket is larger than the dax.", "Zorblat was born in Quenville.")] * 4


@pytest.fixture
def fresh_lm(tiny_model_dir):
    from iclft.models.hf import TransformersModel

    return lambda: TransformersModel(tiny_model_dir, device="cpu", name="tiny")


def train_losses(lm, tmp_path, name, **settings) -> list[float]:
    cfg = FinetuneConfig(steps=3, batch_size=8, learning_rate=1e-3, warmup_steps=0, **settings)
    finetune(lm, FACTS[:7], cfg, log_path=tmp_path / name, progress=False)
    return [r["loss"] for r in read_jsonl(tmp_path / name)]


def test_accumulation_and_checkpointing_change_memory_not_the_steps(fresh_lm, tmp_path):
    plain = train_losses(fresh_lm(), tmp_path, "plain.jsonl")
    assert_close(train_losses(fresh_lm(), tmp_path, "accum.jsonl", gradient_accumulation=3), plain, 1e-5)
    assert_close(train_losses(fresh_lm(), tmp_path, "ckpt.jsonl", gradient_checkpointing=True), plain, 1e-5)
    bf16 = train_losses(fresh_lm(), tmp_path, "bf16.jsonl", mixed_precision="bf16")
    assert_close(bf16, plain, 0.1)  # bfloat16 keeps about 3 significant digits
    assert bf16 != plain


def test_a_checkpointed_model_scores_normally_after_training(fresh_lm):
    lm = fresh_lm()
    finetune(lm, FACTS, FinetuneConfig(steps=2, batch_size=4, gradient_checkpointing=True), progress=False)
    assert not lm.module.training and not any(getattr(m, "gradient_checkpointing", False) for m in lm.module.modules())


def test_step_shares_split_one_global_batch_into_micro_batches():
    rows = list(range(7))
    shares = step_shares(rows, processes=2, accumulation=2)
    assert shares == [[[0], [3, 4]], [[1, 2], [5, 6]]]
    assert sorted(r for share in shares for part in share for r in part) == rows
    assert step_shares([0], processes=2, accumulation=1) == [[[]], [[0]]]  # a process may get none


def test_parallel_settings_are_checked_before_training(fresh_lm):
    with pytest.raises(UserError, match="ft.batch_size 2 is smaller than processes × ft.gradient_accumulation"):
        finetune(fresh_lm(), FACTS, FinetuneConfig(batch_size=2, gradient_accumulation=4), progress=False)
    with pytest.raises(UserError, match="ft.fsdp shards the model over several processes"):
        finetune(fresh_lm(), FACTS, FinetuneConfig(fsdp=True), progress=False)


def test_how_steps_are_computed_is_not_part_of_the_run_hash(tiny_model_dir, tmp_path):
    base = load_config(write_config(tmp_path / "a.yaml", tiny_model_dir))
    data = base.to_dict()
    data["ft"].update(gradient_accumulation=4, gradient_checkpointing=True, fsdp=True)
    assert type(base).model_validate(data).slug() == base.slug()
    data["ft"]["mixed_precision"] = "bf16"  # changes the numbers: another run
    assert type(base).model_validate(data).slug() != base.slug()


def test_processes_must_be_a_positive_number(tmp_path, tiny_model_dir):
    done = iclft_run(write_config(tmp_path / "a.yaml", tiny_model_dir), tmp_path / "runs", "--processes", "0")
    assert done.returncode == 2 and "expected a whole number of at least 1, got '0'" in done.stderr


def test_settings_that_cannot_be_split_fail_before_any_process_starts(tmp_path, tiny_model_dir):
    config = write_config(tmp_path / "a.yaml", tiny_model_dir)
    done = iclft_run(config, tmp_path / "runs", "--processes", "8")  # batch_size 5 < 8 processes
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "iclft: error: ft.batch_size 5 is smaller than processes × ft.gradient_accumulation (8 × 1); "
        "each micro-batch needs an example"
    )
    assert not (tmp_path / "runs").exists()
