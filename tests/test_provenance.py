"""Provenance in metrics.json, weights fingerprints, and runs redone when the weights change."""

import dataclasses
import json

import pytest

import iclft.experiment as experiment
from iclft.config import config_from_dict
from iclft.experiment import checkpoint_key, is_finished, run_experiment
from iclft.exposure.augment.cache import cache_key
from iclft.models import GenerationSettings
from iclft.models.tiny import build_tiny_model
from iclft.provenance import file_sha256, is_current, model_fingerprint, weights_fingerprint


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ICLFT_CACHE", str(tmp_path / "cache"))


def config(model_dir, condition="base"):
    return config_from_dict(
        {
            "benchmark": {"name": "reversal", "params": {"n_facts": 4, "docs_per_fact": 2}},
            "model": {"name": str(model_dir), "device": "cpu"},
            "condition": condition,
            "ft": {"steps": 2, "batch_size": 4, "warmup_steps": 0},
        }
    )


def test_fingerprint_is_the_weights_hash_and_is_cached(tmp_path):
    import hashlib

    folder = build_tiny_model(tmp_path / "a")
    weights = folder / "model.safetensors"
    assert file_sha256(weights) == hashlib.sha256(weights.read_bytes()).hexdigest()
    cached = json.loads((tmp_path / "cache" / "fingerprints.json").read_text())
    assert cached[str(weights.resolve())]["sha256"] == file_sha256(weights)
    assert model_fingerprint(str(folder)) == weights_fingerprint(folder) is not None
    assert model_fingerprint(str(build_tiny_model(tmp_path / "b", seed=1))) != model_fingerprint(str(folder))
    assert model_fingerprint("some-org/some-hub-model") is None


def test_metrics_record_provenance(tmp_path, tiny_model_dir):
    run_dir = run_experiment(config(tiny_model_dir), tmp_path / "runs", progress=False)
    prov = json.loads((run_dir / "metrics.json").read_text())["provenance"]
    assert prov["model_fingerprint"] == model_fingerprint(str(tiny_model_dir))
    assert prov["device"] == "cpu" and prov["dtype"] == "float32" and prov["torch_threads"] >= 1
    assert set(prov["versions"]) >= {"iclft", "torch", "transformers"}
    assert prov["git"] is None or set(prov["git"]) == {"commit", "dirty"}


@pytest.mark.parametrize("condition", ["base", "ft"])
def test_new_weights_at_the_same_path_are_not_reused(tmp_path, monkeypatch, condition):
    model = build_tiny_model(tmp_path / "model", seed=0)
    cfg = config(model, condition)
    run_dir = run_experiment(cfg, tmp_path / "runs", progress=False)
    first = json.loads((run_dir / "metrics.json").read_text())
    assert is_current(run_dir, cfg.model)

    build_tiny_model(tmp_path / "model", seed=1)  # other weights, same folder
    assert not is_current(run_dir, cfg.model) and not is_current(run_dir)
    assert not is_finished(run_dir)  # what sweeps check before skipping a run
    trained = []
    real = experiment.finetune
    monkeypatch.setattr(experiment, "finetune", lambda *a, **k: trained.append(1) or real(*a, **k))
    run_experiment(cfg, tmp_path / "runs", progress=False)
    second = json.loads((run_dir / "metrics.json").read_text())
    assert second["provenance"]["model_fingerprint"] != first["provenance"]["model_fingerprint"]
    assert is_current(run_dir, cfg.model)
    assert trained == ([1] if condition == "ft" else [])  # the old checkpoint is not reused either


def test_a_failing_recompute_keeps_the_run_scored_with_the_old_weights(tmp_path, monkeypatch):
    model = build_tiny_model(tmp_path / "model", seed=0)
    cfg = config(model)
    run_dir = run_experiment(cfg, tmp_path / "runs", progress=False)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    build_tiny_model(tmp_path / "model", seed=1)

    def broken(*args, **kwargs):
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(experiment, "score_items", broken)
    with pytest.raises(RuntimeError, match="scoring failed"):
        run_experiment(cfg, tmp_path / "runs", progress=False)
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    assert not [p for p in (tmp_path / "runs").iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize("condition", ["base", "ft"])
def test_a_generator_that_now_writes_other_items_is_not_reused(tmp_path, tiny_model_dir, monkeypatch, condition):
    """Same benchmark name, seed and parameters, other items (a newer generator): recomputed."""
    import iclft.benchmarks.reversal as reversal

    cfg = config(tiny_model_dir, condition)
    run_dir = run_experiment(cfg, tmp_path / "runs", progress=False)
    first = json.loads((run_dir / "metrics.json").read_text())["benchmark_sha256"]
    real = reversal.make_reversal

    def other_items(**kwargs):  # the first item's options in the other order
        bench = real(**kwargs)
        item = bench.items[0]
        n = len(item.options)
        flipped = dataclasses.replace(item, options=item.options[::-1], answers=tuple(n - 1 - a for a in item.answers))
        return dataclasses.replace(bench, items=[flipped, *bench.items[1:]])

    monkeypatch.setattr(reversal, "make_reversal", other_items)
    experiment._generated_sha256.cache_clear()
    assert not is_finished(run_dir)
    trained = []
    real_finetune = experiment.finetune
    monkeypatch.setattr(experiment, "finetune", lambda *a, **k: trained.append(1) or real_finetune(*a, **k))
    run_experiment(cfg, tmp_path / "runs", progress=False)
    assert json.loads((run_dir / "metrics.json").read_text())["benchmark_sha256"] != first
    assert is_finished(run_dir)
    assert trained == ([1] if condition == "ft" else [])


def test_old_checkpoint_format_is_retrained(tmp_path, tiny_model_dir, monkeypatch):
    """Older iclft kept LoRA runs as full merged weights in model.safetensors: train again."""
    cfg = config(tiny_model_dir, "ft")
    ckpt = tmp_path / "runs" / "checkpoints" / checkpoint_key(cfg)
    ckpt.mkdir(parents=True)
    (ckpt / "model.safetensors").write_bytes(b"not what the new loader reads")
    (ckpt / "summary.json").write_text("{}")
    (ckpt / "train_log.jsonl").write_text("")
    run_dir = run_experiment(cfg, tmp_path / "runs", progress=False)
    assert json.loads((run_dir / "metrics.json").read_text())["finetune"]["steps"] == 2
    assert (ckpt / "adapter_config.json").is_file() and not (ckpt / "model.safetensors").exists()


def test_truncated_checkpoint_names_the_folder_to_delete(tmp_path, tiny_model_dir):
    from iclft.errors import UserError

    cfg = config(tiny_model_dir, "ft")
    run_experiment(cfg, tmp_path / "runs", progress=False)
    ckpt = tmp_path / "runs" / "checkpoints" / checkpoint_key(cfg)
    weights = ckpt / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UserError, match=f"{ckpt}.*delete the folder"):
        run_experiment(config(tiny_model_dir, "ft+icl"), tmp_path / "runs", progress=False)


def test_generation_cache_key_follows_the_weights(tmp_path):
    settings = GenerationSettings()
    model = build_tiny_model(tmp_path / "model", seed=0)
    before = cache_key(f"{model}|float32", "prompt", settings)
    assert before == cache_key(f"{model}|float32", "prompt", settings)
    build_tiny_model(model, seed=1)
    assert cache_key(f"{model}|float32", "prompt", settings) != before
    api = "api|http://x/v1|m|completions"
    assert cache_key(api, "prompt", settings) == cache_key(api, "prompt", settings)
