"""Every condition of iclft.conditions.TABLE goes through config, experiment, sweep and report."""

import json

import pytest

from iclft import conditions
from iclft.config import config_from_dict
from iclft.errors import UserError
from iclft.experiment import run_experiment
from iclft.io import read_jsonl
from iclft.report.aggregate import make_cells
from iclft.report.collect import collect
from iclft.sweep import make_jobs

NAMES = conditions.all_names()


def sections(condition):
    """The config sections a condition needs on top of the tiny defaults."""
    row = conditions.get(condition)
    extra = {}
    if row.augmented:
        extra["augment"] = {"method": "oracle"}
    if row.fticl:
        extra["fticl"] = {"k": 2}
    if row.uses_context:
        extra["icl"] = {"one_per_fact": True}
    return extra


def tiny_config(model_dir, condition, seed=0):
    return config_from_dict(
        {
            "benchmark": {"name": "reversal", "params": {"n_facts": 4, "docs_per_fact": 2}},
            "model": {"name": str(model_dir), "device": "cpu"},
            "condition": condition,
            "ft": {"steps": 2, "batch_size": 4, "warmup_steps": 0},
            "seed": seed,
            **sections(condition),
        }
    )


def test_table_has_unique_names_and_ranks():
    assert len(set(NAMES)) == len(NAMES) == 7
    assert sorted(c.report_rank for c in conditions.TABLE) == list(range(len(NAMES)))
    assert set(conditions.report_order()) == set(NAMES)


def test_names_filters_by_properties():
    assert conditions.names(fine_tunes=True) == ("ft", "ft_aug", "fticl", "ft+icl")
    assert conditions.names(uses_context=True) == ("icl", "icl_aug", "ft+icl")
    assert conditions.names(augmented=True) == ("icl_aug", "ft_aug")
    assert conditions.names(fine_tunes=True, uses_context=True) == ("ft+icl",)
    with pytest.raises(TypeError):
        conditions.names(colour=True)


def test_unknown_condition_is_a_user_error():
    with pytest.raises(UserError, match="unknown condition 'magic'"):
        conditions.get("magic")
    with pytest.raises(UserError, match="condition"):
        config_from_dict({"benchmark": {"name": "reversal"}, "condition": "magic"})


@pytest.mark.parametrize("condition", NAMES)
def test_every_condition_validates_and_round_trips_through_yaml(tiny_model_dir, condition):
    import yaml

    config = tiny_config(tiny_model_dir, condition)
    again = config_from_dict(yaml.safe_load(config.to_yaml()))
    assert again == config and again.content_hash() == config.content_hash()
    assert config.cond == conditions.get(condition)


@pytest.mark.parametrize("condition", NAMES)
def test_every_condition_runs_and_is_reported(tmp_path, tiny_model_dir, condition):
    config = tiny_config(tiny_model_dir, condition)
    run_dir = run_experiment(config, tmp_path, progress=False)
    row = config.cond
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["condition"] == condition and len(read_jsonl(run_dir / "samples.jsonl")) == 8
    assert (run_dir / "train_log.jsonl").exists() == row.fine_tunes
    assert (run_dir / "augmentations.jsonl").exists() == row.augmented
    assert (metrics["context_tokens"] > 0) == row.uses_context
    index = collect(tmp_path)
    assert [r.slug for r in index.runs] == [run_dir.name] and not index.missing


def test_sweep_jobs_group_shared_checkpoints_for_every_condition(tiny_model_dir):
    configs = [tiny_config(tiny_model_dir, c) for c in reversed(NAMES)]
    jobs = make_jobs(configs)
    assert sorted(c.condition for job in jobs for c in job) == sorted(NAMES)
    shared = [job for job in jobs if len(job) > 1]
    assert [[c.condition for c in job] for job in shared] == [["ft", "ft+icl"]]
    for job in jobs:
        if len(job) == 1:
            assert job[0].condition != "ft+icl"


def test_report_orders_cells_by_report_rank(tmp_path, tiny_model_dir):
    from test_report import make_run

    for condition in NAMES:
        make_run(tmp_path, condition=condition, **sections(condition))
    cells = make_cells(collect(tmp_path).runs)["reversal"]
    order = [c.runs[0].config["condition"] for c in cells]
    assert order == list(conditions.report_order())
