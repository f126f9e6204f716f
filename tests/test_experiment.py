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
    assert (checkpoint / "adapter_model.safetensors").is_file()  # training is not lost (a LoRA adapter)

    monkeypatch.setattr(experiment, "write_jsonl", real_write)
    monkeypatch.setattr(experiment, "finetune", lambda *a, **k: pytest.fail("must reuse the checkpoint"))
    assert is_finished(run_experiment(config, tmp_path, progress=False))


def test_ft_and_ft_icl_share_fine_tuned_weights(tmp_path, tiny_model_dir):
    ft = tiny_config(tiny_model_dir, "ft")
    both = tiny_config(tiny_model_dir, "ft+icl")
    assert checkpoint_key(ft) == checkpoint_key(both)
    ft_samples = read_jsonl(run_experiment(ft, tmp_path, progress=False) / "samples.jsonl")
    base_samples = read_jsonl(
        run_experiment(tiny_config(tiny_model_dir, "base"), tmp_path, progress=False) / "samples.jsonl"
    )
    assert [s["logprobs"] for s in ft_samples] != [s["logprobs"] for s in base_samples]
    run_experiment(both, tmp_path, progress=False)
    assert len(list((tmp_path / "checkpoints").iterdir())) == 1


def test_context_too_long_fails_before_any_directory(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, "icl")
    config = config.model_copy(
        update={"benchmark": config.benchmark.model_copy(update={"params": {"n_facts": 60, "docs_per_fact": 10}})}
    )
    with pytest.raises(UserError, match="context needs .* tokens"):
        run_experiment(config, tmp_path, progress=False)
    assert [p.name for p in tmp_path.iterdir()] in ([], [".locks"])  # the run's (empty) lock file only


def test_grouped_contexts_score_every_item_after_its_own_facts(tmp_path, tiny_model_dir):
    config = tiny_config(tiny_model_dir, "icl", icl={"facts_per_context": 4, "one_per_fact": True})
    config = config.model_copy(
        update={"benchmark": config.benchmark.model_copy(update={"params": {"n_facts": 60, "docs_per_fact": 10}})}
    )
    assert "facts_per_context" in config.to_dict()["icl"]
    metrics = json.loads((run_experiment(config, tmp_path, progress=False) / "metrics.json").read_text())
    assert metrics["contexts"] == 15 and metrics["context_tokens"] < 512
    assert len(read_jsonl(tmp_path / config.slug() / "samples.jsonl")) == 120


def test_unknown_model_fails_before_any_directory(tmp_path):
    config = config_from_dict({"benchmark": {"name": "reversal"}, "model": {"name": "no-such-model"}})
    with pytest.raises(UserError, match="no-such-model"):
        run_experiment(config, tmp_path, progress=False)
    assert [p.name for p in tmp_path.iterdir()] in ([], [".locks"])  # the run's (empty) lock file only


# -- augmentation, sentence splitting and FTICL ------------------------------------------------


def short_templates(tmp_path):
    local, global_ = tmp_path / "local.txt", tmp_path / "global.txt"
    local.write_text("Say it again: {text}\n")
    global_.write_text("{corpus}\nSo, given {text}:\n")
    return {"local_template": str(local), "global_template": str(global_), "max_new_tokens": 12}


@pytest.mark.parametrize(
    "condition, augment, ft",
    [
        ("ft_aug", {"method": "oracle", "samples": 2}, {}),
        ("ft_aug", {"method": "local"}, {"split": "cumulative"}),
        ("ft_aug", {"method": "global", "samples": 2, "temperature": 1.0}, {"split": "independent"}),
        ("icl_aug", {"method": "both"}, {}),
        ("icl_aug", {"method": "oracle"}, {}),
    ],
)
def test_augmented_conditions_write_augmentations_audit_and_accounting(
    tmp_path, tiny_model_dir, condition, augment, ft
):
    if augment["method"] != "oracle":
        augment = {**augment, **short_templates(tmp_path)}
    icl = {"one_per_fact": True} if condition == "icl_aug" else {}
    config = tiny_config(tiny_model_dir, condition, augment=augment, icl=icl)
    config = config.model_copy(update={"ft": config.ft.model_copy(update=ft)})
    run_dir = run_experiment(config, tmp_path / "runs", progress=False)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    summary = json.loads((run_dir / "augmentation.json").read_text())
    assert metrics["augmentation"] == summary
    assert (
        summary["audit"]["covered"]
        and summary["audit"]["statements"] == summary["accounting"]["augmentation"]["statements"]
    )
    assert summary["accounting"]["icl_test_time"]["context_tokens"] > 0
    records = read_jsonl(run_dir / "augmentations.jsonl")
    assert all(len(r["verdicts"]) == len(r["statements"]) for r in records)
    if augment["method"] == "oracle":
        assert len(records) > 0 and all(v == "true" for r in records for v in r["verdicts"])
    else:
        assert list((tmp_path / "runs" / "generations").glob("*.json"))
    assert (run_dir / "train_log.jsonl").exists() == (condition == "ft_aug")
    assert (metrics["context_tokens"] > 0) == (condition == "icl_aug")


def test_icl_aug_context_holds_the_augmentations(tmp_path, tiny_model_dir, monkeypatch):
    seen = {}
    real = experiment.score_items

    def spy(lm, items, context="", progress=False):
        seen["context"] = context
        return real(lm, items, context=context, progress=progress)

    monkeypatch.setattr(experiment, "score_items", spy)
    config = tiny_config(tiny_model_dir, "icl_aug", augment={"method": "oracle"}, icl={"one_per_fact": True})
    run_dir = run_experiment(config, tmp_path, progress=False)
    for record in read_jsonl(run_dir / "augmentations.jsonl"):
        assert record["statements"][0] in seen["context"]


def test_fticl_condition_trains_with_demonstrations(tmp_path, tiny_model_dir, monkeypatch):
    captured = {}
    real = experiment.finetune

    def spy(lm, examples, *args, **kwargs):
        captured["examples"] = examples
        return real(lm, examples, *args, **kwargs)

    monkeypatch.setattr(experiment, "finetune", spy)
    config = tiny_config(tiny_model_dir, "fticl", fticl={"k": 2})
    assert is_finished(run_experiment(config, tmp_path, progress=False))
    assert len(captured["examples"]) == 12 and all(e.context.count("\n\n") == 2 for e in captured["examples"])


def test_checkpoint_key_follows_what_changes_the_training_data(tiny_model_dir):
    ft = tiny_config(tiny_model_dir, "ft")
    keys = {
        checkpoint_key(ft),
        checkpoint_key(ft.model_copy(update={"ft": ft.ft.model_copy(update={"split": "independent"})})),
        checkpoint_key(tiny_config(tiny_model_dir, "ft_aug", augment={"method": "oracle"})),
        checkpoint_key(tiny_config(tiny_model_dir, "ft_aug", augment={"method": "oracle", "samples": 3})),
        checkpoint_key(tiny_config(tiny_model_dir, "fticl")),
        checkpoint_key(tiny_config(tiny_model_dir, "fticl", fticl={"k": 3})),
    }
    assert len(keys) == 6
    assert checkpoint_key(ft) == checkpoint_key(tiny_config(tiny_model_dir, "ft+icl"))


def test_hash_covers_only_fields_away_from_their_defaults():
    """config.yaml lists every field; the hash covers the non-default ones (and always the
    model's name, whose default moves), so a new field with a default keeps every existing hash."""
    config = config_from_dict({"benchmark": {"name": "reversal"}, "condition": "ft"})
    assert {"augment", "fticl"} <= set(config.to_dict()) and config.to_dict()["ft"]["split"] == "none"
    assert config.hashed_fields() == {
        "benchmark": {"name": "reversal"},
        "condition": "ft",
        "model": {"name": config.model.name},
        "hash_schema": 2,
    }
    explicit = config_from_dict({"benchmark": {"name": "reversal"}, "condition": "ft", "ft": {"split": "none"}})
    assert explicit.content_hash() == config.content_hash()
    aug = config_from_dict({"benchmark": {"name": "reversal"}, "condition": "ft_aug", "augment": {"method": "oracle"}})
    assert aug.hashed_fields()["augment"] == {"method": "oracle"}
    assert config_from_dict(aug.to_dict()) == aug


@pytest.mark.parametrize(
    "data, message",
    [
        ({"condition": "ft_aug"}, "needs augment.method"),
        ({"condition": "ft", "augment": {"method": "local"}}, "does not use them"),
        ({"condition": "ft", "fticl": {"k": 3}}, "fticl settings"),
        ({"condition": "ft", "ft": {"split": "paragraphs"}}, "ft.split"),
        ({"condition": "ft_aug", "augment": {"method": "magic"}}, "augment.method"),
    ],
)
def test_bad_augmentation_configs_are_user_errors(data, message):
    with pytest.raises(UserError, match=message):
        config_from_dict({"benchmark": {"name": "reversal"}, **data})


def test_bad_template_fails_before_any_directory(tmp_path, tiny_model_dir):
    template = tmp_path / "t.txt"
    template.write_text("no placeholder here\n")
    config = tiny_config(tiny_model_dir, "ft_aug", augment={"method": "local", "local_template": str(template)})
    runs = tmp_path / "runs"
    with pytest.raises(UserError, match=r"t\.txt lacks placeholder"):
        run_experiment(config, runs, progress=False)
    assert not runs.exists() or [p.name for p in runs.iterdir()] == [".locks"]  # the run's lock file only
