"""One experiment end to end on the tiny model: run directory layout, reuse, crash safety."""

import json

import pytest

import iclft.experiment as experiment
from iclft.config import config_from_dict
from iclft.errors import UserError
from iclft.experiment import checkpoint_key, is_finished, run_experiment
from iclft.io import read_jsonl


def tiny_config(model_dir, condition, **extra):
    return config_from_dict(
        {
            "benchmark": {"name": "reversal", "params": {"n_facts": 6, "docs_per_fact": 2}},
            "model": {"name": str(model_dir), "device": "cpu"},
            "condition": condition,
            "ft": {"steps": 3, "batch_size": 4, "warmup_steps": 0},
            **extra,
        }
    )


@pytest.mark.parametrize("condition", ["base", "icl", "ft", "ft+icl"])
def test_every_condition_writes_a_complete_run(tmp_path, tiny_model_dir, condition):
    config = tiny_config(tiny_model_dir, condition)
    run_dir = run_experiment(config, tmp_path, progress=False)
    assert run_dir.name == config.slug()
    samples = read_jsonl(run_dir / "samples.jsonl")
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert len(samples) == 12 and set(metrics["splits"]) == {"forward", "reversal"}
    for s in samples:
        assert len(s["logprobs"]) == len(s["options"]) == len(s["n_tokens"]) == 2
        assert all(lp < 0 for lp in s["logprobs"]) and all(n > 0 for n in s["n_tokens"])
    assert (run_dir / "config.yaml").read_text() == config.to_yaml()
    assert (run_dir / "train_log.jsonl").exists() == condition.startswith("ft")
    assert (metrics["context_tokens"] > 0) == condition.endswith("icl")
    assert not list(tmp_path.glob(".*.partial"))


def test_finished_run_is_reused_not_recomputed(tmp_path, tiny_model_dir, monkeypatch):
    config = tiny_config(tiny_model_dir, "base")
    first = run_experiment(config, tmp_path, progress=False)
    stamp = (first / "metrics.json").stat().st_mtime_ns

    def explode(*args, **kwargs):
        raise AssertionError("a finished run must not be scored again")

    monkeypatch.setattr(experiment, "score_items", explode)
    assert run_experiment(config, tmp_path, progress=False) == first
    assert (first / "metrics.json").stat().st_mtime_ns == stamp


def test_crash_mid_run_leaves_no_results_and_rerun_completes(tmp_path, tiny_model_dir, monkeypatch):
    config = tiny_config(tiny_model_dir, "ft")
    real_write = experiment.write_jsonl

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while writing samples")

    monkeypatch.setattr(experiment, "write_jsonl", crash)
    with pytest.raises(RuntimeError):
        run_experiment(config, tmp_path, progress=False)
    run_dir = tmp_path / config.slug()
    assert not run_dir.exists() and not is_finished(run_dir)
    assert not list(tmp_path.glob(".*.partial"))
    checkpoint = tmp_path / "checkpoints" / checkpoint_key(config)
    assert (checkpoint / "model.safetensors").is_file()  # training is not lost

    monkeypatch.setattr(experiment, "write_jsonl", real_write)
    monkeypatch.setattr(experiment, "finetune", lambda *a, **k: pytest.fail("must reuse the checkpoint"))
    assert is_finished(run_experiment(config, tmp_path, progress=False))


def test_ft_and_ft_icl_share_fine_tuned_weights(tmp_path, tiny_model_dir):
    ft = tiny_config(tiny_model_dir, "ft")
    both = tiny_config(tiny_model_dir, "ft+icl")
    assert checkpoint_key(ft) == checkpoint_key(both)
    ft_samples = read_jsonl(run_experiment(ft, tmp_path, progress=False) / "samples.jsonl")
    base_samples = read_jsonl(run_experiment(tiny_config(tiny_model_dir, "base"), tmp_path, progress=False) / "samples.jsonl")
    assert [s["logprobs"] for s in ft_samples] != [s["logprobs"] for s in base_samples]
    run_experiment(both, tmp_path, progress=False)
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1


def test_context_too_long_fails_before_any_directory(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, "icl")
    config = config.model_copy(update={"benchmark": config.benchmark.model_copy(update={"params": {"n_facts": 60, "docs_per_fact": 10}})})
    with pytest.raises(UserError, match="context needs .* tokens"):
        run_experiment(config, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unknown_model_fails_before_any_directory(tmp_path):
    config = config_from_dict({"benchmark": {"name": "reversal"}, "model": {"name": "no-such-model"}})
    with pytest.raises(UserError, match="no-such-model"):
        run_experiment(config, tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []
