"""The task-study runner (iclft.tasks.plan, runner, training): plans and tiers, training
sequences (glued targets, FTICL's loss mask, inputs cut but never targets), weight drift, and
real runs on the tiny model over a small folder in the released layout: one checkpoint per
trained model serves every test set, reruns skip finished units, edited data is recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from iclft.errors import UserError
from iclft.exposure.finetune import IGNORE, encode_example
from iclft.tasks import load_study
from iclft.tasks.plan import plan_from_dict, tier_plan
from iclft.tasks.prompts import demo_context
from iclft.tasks.release import import_release
from iclft.tasks.report import write_report
from iclft.tasks.runner import RESULT, plan_units, run_plan
from iclft.tasks.training import training_examples, weight_drift
from tests.test_tasks import run_cli, write_release

FT = {"epochs": 1, "batch_size": 4, "gradient_accumulation": 1, "max_length": 256, "learning_rate": 1e-3}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("task-study")
    import_release(write_release(root / "release"), root / "study")
    return load_study(root / "study")


def small_plan(study, model_dir, **changes) -> dict:
    plan = {
        "name": "small",
        "data": str(study.folder),
        "model": {"name": str(model_dir), "device": "cpu"},
        "rows": 4,
        "ft": FT,
        "train": [{"set": "amazon", "size": 5}, {"set": "amazon", "size": 5, "fticl": 2}],
        "evaluate": [
            {"models": ["base", "ft-amazon-5", "fticl2-amazon-5"], "sets": ["amazon", "sst2"], "shots": [0, 2]},
            {"models": ["ft-amazon-5"], "sets": ["paws"], "templates": [1, 2], "shots": [0]},
        ],
    }
    return plan | changes


# ---- training sequences


def test_a_training_sequence_is_prompt_then_target_and_end_token_with_loss_on_the_target_only(study, tiny_lm):
    task = study.task("amazon")
    record = task.train_records(5)[0]
    (ex,), cut = training_examples(tiny_lm, task, [record], "", 256)
    assert cut == 0 and ex.glued and ex.context == "## Text:\namazon review 500.\n## Mood:" and ex.target == "positive"
    ids, labels = encode_example(tiny_lm, ex, 256)
    scored = [i for i, label in zip(ids, labels) if label != IGNORE]
    assert scored[-1] == tiny_lm.tokenizer.eos_token_id
    assert tiny_lm.tokenizer.decode(scored[:-1]) == "positive"  # glued: no space before the label
    assert tiny_lm.tokenizer.decode(ids[1 : len(ids) - len(scored)]) == ex.context


def test_training_may_use_another_template(study, tiny_lm):
    task = study.task("amazon")
    (ex,), _ = training_examples(tiny_lm, task, task.train_records(5)[:1], "", 256, template=2)
    assert ex.context == "Mood of:amazon review 500.\nMood:" and ex.target == "positive"
    plan = plan_from_dict(
        small_plan(
            study,
            "tiny",
            train=[{"set": "amazon", "size": 5, "template": 2}],
            evaluate=[{"models": ["ft-amazon-5-p2"], "sets": ["amazon"]}],
        ),
        "p",
    )
    assert plan.train[0].model_name == "ft-amazon-5-p2"


def test_fticl_masks_the_demonstrations_and_the_query_prompt(study, tiny_lm):
    task = study.task("amazon")
    context = demo_context(task, task.demo_records(), 2)
    examples, _ = training_examples(tiny_lm, task, task.train_records(5), context, 256)
    for ex, record in zip(examples, task.train_records(5)):
        assert ex.context.startswith(context) and ex.context.count("## Mood:") == 3
        ids, labels = encode_example(tiny_lm, ex, 256)
        scored = [i for i, label in zip(ids, labels) if label != IGNORE]
        assert tiny_lm.tokenizer.decode(scored[:-1]) == record["output"]
        assert len(ids) - len(scored) == len(tiny_lm.encode_glued(ex.context, ex.target)[0])


def test_a_long_input_is_cut_never_the_target(study, tiny_lm):
    task = study.task("amazon")
    record = dict(task.train_records(5)[1]) | {"input": "word " * 400}
    (ex,), cut = training_examples(tiny_lm, task, [record], "", 64)
    ids, labels = encode_example(tiny_lm, ex, 64)
    assert cut == 1 and len(ids) <= 64 and ex.target == record["output"]
    assert tiny_lm.tokenizer.decode([i for i, lab in zip(ids, labels) if lab != IGNORE][:-1]) == record["output"]
    with pytest.raises(UserError, match="does not fit in 3 tokens"):
        training_examples(tiny_lm, task, [record], "", 3)


def test_weight_drift_counts_only_changed_tensors_as_adapted():
    import torch

    module = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2))
    before = {n: p.detach().clone() for n, p in module.named_parameters()}
    assert weight_drift(before, module)["all"] == 0.0
    with torch.no_grad():
        module[0].weight += 0.5
    drift = weight_drift(before, module)
    n = sum(p.numel() for p in module.parameters())
    assert drift["adapted"] == pytest.approx(0.5) and drift["all"] == pytest.approx(0.5 * 16 / n)
    assert drift["changed_parameters"] == 16 and drift["parameters"] == n


# ---- plans and tiers


def test_core_tier_trains_five_models_and_runs_the_three_settings(study):
    plan = tier_plan("core", study, "smollm2-135m", str(study.folder))
    assert [t.model_name for t in plan.train] == [
        "ft-amazon-1000",
        "ft-paws-1000",
        "ft-multinli-1000",
        "ft-socialqa-1000",
        "fticl1-socialqa-1000",
    ]
    units = plan_units(plan, study)
    assert len(units) == len(set(units)) == 260
    # cross-task: the question set under the three classification models, both templates
    cross = {(u.model, u.template) for u in units if u.test_set == "socialqa" and u.model != "base"}
    assert ("ft-amazon-1000", 2) in cross and ("ft-multinli-1000", 1) in cross
    assert {u.shots for u in units if u.test_set == "multinli"} == {0, 3, 5, 7}
    assert plan.ft_config(plan.train[0]).learning_rate == 2e-4 and plan.rows == 100


@pytest.mark.parametrize("tier", ["extended", "paper"])
def test_larger_tiers_validate(study, tier):
    plan = tier_plan(tier, study, "smollm2-135m", str(study.folder))
    assert plan_units(plan, study)
    if tier == "paper":
        assert plan.ft_config(plan.train[0]).method == "full" and plan.rows == 250


@pytest.mark.parametrize(
    "change, message",
    [
        ({"evaluate": [{"models": ["ft-nope"], "sets": ["amazon"]}]}, "evaluate names model 'ft-nope'"),
        ({"ft": {"learning_rate": -1}}, "ft.learning_rate"),
        ({"train": [{"set": "amazon", "size": 0}]}, "train.0.size"),
        ({"evaluate": [{"models": ["base"], "sets": ["amazon"], "templates": [0]}]}, "numbered from 1"),
    ],
)
def test_a_bad_plan_names_its_field(study, tiny_model_dir, change, message):
    with pytest.raises(UserError, match=message):
        plan_from_dict(small_plan(study, tiny_model_dir, **change), "plan.yaml")


def test_a_plan_naming_a_set_the_study_lacks_fails_before_any_work(study, tiny_model_dir, tmp_path):
    plan = plan_from_dict(
        small_plan(
            study,
            tiny_model_dir,
            train=[{"set": "nope", "size": 5}],
            evaluate=[{"models": ["base"], "sets": ["amazon"]}],
        ),
        "p",
    )
    with pytest.raises(UserError, match="train set 'nope' is not in"):
        run_plan(plan, tmp_path / "runs", progress=False)
    assert not (tmp_path / "runs" / "checkpoints").exists()


# ---- real runs on the tiny model


def results(out: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "evals").glob(f"*/{RESULT}")}


def test_a_plan_trains_each_model_once_and_evaluates_it_everywhere(study, tiny_model_dir, tmp_path):
    plan = plan_from_dict(small_plan(study, tiny_model_dir), "p")
    runs = tmp_path / "runs"
    out = run_plan(plan, runs, progress=False)
    got = results(out)
    assert len(got) == len(plan_units(plan, study)) == 3 * 2 * 2 + 2
    assert len(list((runs / "checkpoints").iterdir())) == 2  # one per trained model, not per test set
    paws = [r for r in got.values() if r["test_set"] == "paws"]
    assert {r["setting"] for r in paws} == {"cross-task"} and {r["template"] for r in paws} == {1, 2}
    r = next(r for r in got.values() if r["model"] == "fticl2-amazon-5" and r["test_set"] == "sst2" and r["shots"] == 2)
    assert r["train"] == {"set": "amazon", "family": "sentiment", "size": 5, "condition": "fticl", "k": 2}
    assert r["setting"] == "out-of-domain" and r["n"] == 4 and r["primary"]["metric"] == "accuracy"
    assert r["primary"]["value"] == r["metrics"]["first_token"]["accuracy"]
    samples = (out / "evals" / next(k for k, v in got.items() if v is r) / "samples.jsonl").read_text().splitlines()
    assert len(samples) == 4 and json.loads(samples[0])["prompt"].count("## Mood:") == 3
    correct = [json.loads(line)["correct"]["first_token"] for line in samples]
    assert sum(correct) / 4 == r["metrics"]["first_token"]["accuracy"]
    model = json.loads((out / "models" / "ft-amazon-5.json").read_text())
    assert model["weight_drift"]["adapted"] > model["weight_drift"]["all"] > 0
    assert model["truncated_inputs"] == 0 and model["summary"]["examples"] == 5
    assert model["train"] | {"ft": None} == {
        "set": "amazon",
        "family": "sentiment",
        "size": 5,
        "condition": "ft",
        "k": 0,
        "template": 1,
        "ft": None,
    }
    write_report(out)
    row = next(line for line in (out / "report" / "models.md").read_text().splitlines() if "| ft-amazon-5 |" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:6] == ["amazon", "5", "ft", "0", str(model["summary"]["steps"])] and all(
        cells
    )  # every column filled
    assert yaml.safe_load((out / "plan.yaml").read_text())["name"] == "small"

    # a rerun computes nothing; a changed test file recomputes only its own units
    stamps = {p: p.stat().st_mtime_ns for p in (out / "evals").glob(f"*/{RESULT}")}
    run_plan(plan, runs, progress=False)
    assert {p: p.stat().st_mtime_ns for p in (out / "evals").glob(f"*/{RESULT}")} == stamps
    test_file = study.folder / "sst2" / "test.jsonl"
    lines = test_file.read_text().splitlines()
    test_file.write_text("\n".join([lines[1], lines[0], *lines[2:]]) + "\n")
    try:
        run_plan(plan, runs, progress=False)
    finally:
        test_file.write_text("\n".join(lines) + "\n")
    current = json.loads((out / "units.json").read_text())["units"]
    new = [u for u in current if (out / "evals" / u / RESULT) not in stamps]
    assert len(new) == 3 * 2 and all("-sst2-" in u for u in new)
    assert len(list((runs / "checkpoints").iterdir())) == 2

    # the report reads the plan's current units only: the units of the old sst2 file are left out
    from iclft.tasks.report import load_results

    assert len(load_results(out)) == len(current) < len(list((out / "evals").iterdir()))
    written = write_report(out)
    assert (out / "report" / "change_from_base.png") in written
    csv = (out / "report" / "results.csv").read_text().splitlines()
    assert len(csv) == 1 + len(current)


def test_cli_dry_run_prints_a_tier_and_what_it_leaves_out(study, capsys):
    code, out, err = run_cli(
        capsys, "study", "task-generalization", "--tier", "paper", "--data", study.folder, "--dry-run"
    )
    assert code == 0, err
    assert "ft-paws-6000" in out and "ft-xsum-2000" in out and "ft-xsum-4000" not in out
    assert "note: xsum: no training file of 4000 or 6000 records" in out
    # the core tier trains on 1,000 records, which this small study lacks: it stops before any work
    code, out, err = run_cli(
        capsys, "study", "task-generalization", "--tier", "core", "--data", study.folder, "--dry-run"
    )
    assert code == 2 and err.strip().endswith("no training file has 1000 records")


def test_cli_needs_a_tier_or_a_plan(study, capsys):
    code, _, err = run_cli(capsys, "study", "task-generalization", "--data", study.folder)
    assert code == 2 and err.count("\n") == 1 and "--tier" in err


def test_two_processes_run_one_plan_together(study, tiny_model_dir, tmp_path):
    import subprocess
    import sys

    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(small_plan(study, tiny_model_dir)))
    argv = [sys.executable, "-m", "iclft", "study", "task-generalization", "--plan", str(plan_file)]
    argv += ["--runs-dir", str(tmp_path / "runs"), "--quiet"]
    procs = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    out = tmp_path / "runs" / "task-study" / "small"
    units = json.loads((out / "units.json").read_text())["units"]
    assert sorted(p.name for p in (out / "evals").iterdir()) == sorted(units)
    assert all((out / "evals" / u / RESULT).is_file() for u in units)
    assert len(list((tmp_path / "runs" / "checkpoints").iterdir())) == 2
    assert (out / "report" / "index.md").is_file()


@pytest.mark.slow
def test_smollm2_trains_and_answers_a_classification_and_a_generation_set(study, tmp_path):
    plan = small_plan(study, "smollm2-135m", rows=3)
    plan |= {"model": {"name": "smollm2-135m"}, "ft": FT | {"steps": 2}}
    plan |= {
        "train": [{"set": "amazon", "size": 5}],
        "evaluate": [{"models": ["base", "ft-amazon-5"], "sets": ["sst2", "socialqa"], "shots": [0, 1]}],
    }
    out = run_plan(plan_from_dict(plan, "p"), tmp_path / "runs", progress=False)
    got = results(out)
    assert len(got) == 2 * 2 * 2
    generated = [r for r in got.values() if r["kind"] == "generation"]
    assert generated and all(0 <= r["primary"]["value"] <= 1 and r["primary"]["metric"] == "rougeL" for r in generated)
    folder = next(k for k, r in got.items() if r["kind"] == "generation" and r["shots"] == 1)
    item = json.loads((out / "evals" / folder / "samples.jsonl").read_text().splitlines()[0])
    assert item["prompt"].endswith("Ask:") and "\n\n" not in item["generation"] and "rougeL" in item


def test_evaluation_under_bf16_autocast_is_its_own_unit(study, tiny_model_dir, tmp_path):
    blocks = [{"models": ["base"], "sets": ["sst2", "socialqa"], "shots": [0, 1]}]
    plain = plan_from_dict(small_plan(study, tiny_model_dir, train=[], evaluate=blocks), "p")
    bf16 = plain.model_copy(update={"eval_mixed_precision": "bf16"})
    a = results(run_plan(plain, tmp_path / "runs", progress=False))
    out = run_plan(bf16, tmp_path / "runs", progress=False)  # the same plan name: the same folder
    current = json.loads((out / "units.json").read_text())["units"]
    b = {k: v for k, v in results(out).items() if k in current}
    assert len(a) == len(b) == 4 and not set(a) & set(b)
    for r in b.values():
        same = next(x for x in a.values() if (x["test_set"], x["shots"]) == (r["test_set"], r["shots"]))
        assert 0 <= r["primary"]["value"] <= 1 and r["n"] == same["n"] == 4


def test_train_only_trains_each_model_once_and_evaluates_nothing(study, tiny_model_dir, tmp_path, capsys):
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text(yaml.safe_dump(small_plan(study, tiny_model_dir)))
    argv = ["study", "task-generalization", "--plan", plan_file, "--runs-dir", tmp_path / "runs", "--quiet"]
    code, out, err = run_cli(capsys, *argv, "--train-only")
    assert code == 0, err
    checkpoints = sorted((tmp_path / "runs" / "checkpoints").iterdir())
    stamps = [(c / "summary.json").stat().st_mtime_ns for c in checkpoints]
    assert len(checkpoints) == 2 and not (tmp_path / "runs" / "task-study" / "small" / "evals").exists()
    code, out, err = run_cli(capsys, *argv)  # the evaluations reuse both checkpoints
    assert code == 0, err
    assert [(c / "summary.json").stat().st_mtime_ns for c in checkpoints] == stamps
    assert "report:" in out


def test_a_unit_another_process_holds_is_left_for_last(study, tiny_model_dir, tmp_path):
    import threading
    import time

    from iclft.runs.lock import exclusive
    from iclft.tasks.runner import unit_folder

    blocks = [{"models": ["base"], "sets": ["sst2"], "shots": [0, 1, 2]}]
    plan = plan_from_dict(small_plan(study, tiny_model_dir, train=[], evaluate=blocks), "p")
    runs, evals = tmp_path / "runs", tmp_path / "runs" / "task-study" / "small" / "evals"
    first, *others = [unit_folder(plan, study, u) for u in plan_units(plan, study)]
    seen_while_held = []
    with exclusive(runs, f"task-study-small-{first}") as held:  # as another process scoring the first unit would
        assert held is not None
        with exclusive(runs, f"task-study-small-{first}", wait=False) as again:
            assert again is None  # taken: not waited for
        worker = threading.Thread(target=run_plan, args=(plan, runs, False))
        worker.start()
        deadline = time.monotonic() + 120
        while not all((evals / u / RESULT).is_file() for u in others):
            assert worker.is_alive() and time.monotonic() < deadline, "the free units waited for the held one"
            worker.join(0.05)
        seen_while_held = sorted(p.name for p in evals.iterdir())
    worker.join(120)
    assert not worker.is_alive()
    assert first not in seen_while_held and sorted(others) == seen_while_held  # the others ran first
    assert (evals / first / RESULT).is_file()  # and the held one once it was free
