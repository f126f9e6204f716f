"""Run a task-study plan: fine-tune each model once, evaluate every model on its test sets.

    <runs>/task-study/<plan name>/plan.yaml            the plan as run
    <runs>/task-study/<plan name>/units.json           the evaluation units of the plan, by folder
    <runs>/task-study/<plan name>/models/<model>.json   a fine-tuned model: training summary, weight drift
    <runs>/task-study/<plan name>/evals/<unit>/        result.json and samples.jsonl of one evaluation
    <runs>/checkpoints/task-<model>-...-<key>/          the fine-tuned weights (iclft.exposure.checkpoint)

An evaluation unit is one model × test set × template × shot count. Its folder name ends in a
hash of what decides its result (the model's weights or checkpoint key, the test set's files,
template, shots, rows, decoding), so a rerun skips finished units, recomputes the ones whose
data changed, and never mixes the two. A checkpoint is keyed by the training data and settings,
not by any evaluation: one fine-tuned model serves every test set. Units are written
atomically, each under its own lock, and the checkpoint lock keeps two processes from training
the same model at once, so two processes may run one plan together.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from iclft.config import COMPUTE_ONLY_FT_FIELDS, FinetuneConfig
from iclft.errors import UserError
from iclft.exposure.checkpoint import is_checkpoint, load_checkpoint, save_checkpoint
from iclft.io import atomic_write_text, write_json, write_jsonl
from iclft.provenance import file_sha256, model_fingerprint
from iclft.runs import layout
from iclft.runs.atomic import atomic_dir
from iclft.runs.lock import exclusive
from iclft.tasks.format import TASK_FILE, Study, TaskSet, load_study
from iclft.tasks.plan import BASE, TaskStudyPlan, TrainSpec, check_plan
from iclft.tasks.prompts import demo_context

SCHEMA = 1  # bumped when what a unit's or checkpoint's hash covers changes meaning
KEYED_FT_FIELDS = (  # the `ft` fields of SCHEMA 1: each is in every checkpoint key
    *("method", "learning_rate", "epochs", "steps", "batch_size", "lora_rank", "lora_alpha", "lora_dropout"),
    *("weight_decay", "warmup_steps", "lr_decay", "max_length", "split", "mixed_precision"),
)
RESULT = "result.json"
SAMPLES = "samples.jsonl"


@dataclass(frozen=True)
class Unit:
    """One evaluation: `model` asked test set `test_set` with template `template` and `shots` demonstrations."""

    model: str
    test_set: str
    template: int
    shots: int
    rows: int | None


def study_dir(runs_dir: Path, plan: TaskStudyPlan) -> Path:
    return Path(runs_dir) / layout.TASK_STUDY / plan.name


def plan_units(plan: TaskStudyPlan, study: Study) -> list[Unit]:
    """Every evaluation of the plan once, base model first, then in training order."""
    units: dict[Unit, None] = {}
    for block in plan.evaluate:
        for model in block.models:
            for name in block.sets:
                family = study.task(name).family
                for template in block.templates:
                    for shots in plan.shots_for(family, block):
                        units[Unit(model, name, template, shots, plan.rows_for(family))] = None
    order = [BASE, *(t.model_name for t in plan.train)]
    return sorted(units, key=lambda u: order.index(u.model))


# ---- keys


def _digest(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def set_sha256(task: TaskSet, roles: tuple[str, ...] = ("test", "demos")) -> str:
    """sha256 over task.yaml and the set's files of `roles` ("train": every training file)."""
    files = [TASK_FILE]
    for role in roles:
        files += [t.file for t in task.train] if role == "train" else [getattr(task, role)]
    return _digest({f: file_sha256(task.folder / f) for f in files if f})


def _base_key(plan: TaskStudyPlan) -> dict:
    return {"model": plan.model.name, "dtype": plan.model.dtype, "weights": model_fingerprint(plan.model.name)}


def checkpoint_key(plan: TaskStudyPlan, spec: TrainSpec, task: TaskSet) -> str:
    """What decides the fine-tuned weights: base model, training data, FTICL k, settings, seed."""
    ft = plan.ft_config(spec).model_dump(mode="json")
    defaults = FinetuneConfig().model_dump(mode="json")
    # every field known at SCHEMA 1, and a later one only away from its default, so that adding
    # a field to `ft` keeps every key
    ft = {k: v for k, v in ft.items() if k not in COMPUTE_ONLY_FT_FIELDS and (k in KEYED_FT_FIELDS or v != defaults[k])}
    roles = ("train", "demos") if spec.fticl else ("train",)
    data = {"base": _base_key(plan), "data": set_sha256(task, roles), "size": spec.size, "fticl": spec.fticl}
    if spec.template != 1:  # the paper's template 1 adds nothing to the key
        data["template"] = spec.template
    digest = _digest(data | {"ft": ft, "seed": plan.seed, "schema": SCHEMA})[:16]
    return f"task-{spec.model_name}-{Path(plan.model.name).name}-{digest}"


def _checkpoint_key_of(plan: TaskStudyPlan, study: Study, model: str) -> str:
    spec = plan.trained(model)
    return checkpoint_key(plan, spec, study.task(spec.set))


def unit_folder(plan: TaskStudyPlan, study: Study, unit: Unit) -> str:
    task = study.task(unit.test_set)
    model = _base_key(plan) if unit.model == BASE else _checkpoint_key_of(plan, study, unit.model)
    what = {"model": model, "set": set_sha256(task), "template": unit.template, "shots": unit.shots}
    what |= {"rows": unit.rows, "schema": SCHEMA}
    if plan.eval_mixed_precision != "no":
        what["eval_mixed_precision"] = plan.eval_mixed_precision
    if task.kind == "generation":
        what["max_new_tokens"] = plan.max_new_tokens
    return f"{unit.model}-{unit.test_set}-p{unit.template}-k{unit.shots}-{_digest(what)[:10]}"


# ---- running


def run_plan(plan: TaskStudyPlan, runs_dir: str | Path = "runs", progress: bool = True) -> Path:
    """Run every unit of `plan` that has no result yet; returns the plan's folder."""
    study = load_study(plan.data)
    check_plan(plan, study)
    out = study_dir(Path(runs_dir), plan)
    units = plan_units(plan, study)
    folders = {u: unit_folder(plan, study, u) for u in units}
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "plan.yaml", plan.to_yaml())
    write_json(out / "units.json", {"units": [folders[u] for u in units]})
    done = lambda unit: (out / "evals" / folders[unit] / RESULT).is_file()  # noqa: E731
    for model in dict.fromkeys(u.model for u in units):
        todo = [u for u in units if u.model == model and not done(u)]
        if not todo:
            continue
        _score_model(model, todo, plan, study, out, folders, runs_dir, progress)
    return out


def _score_model(model: str, todo: list[Unit], plan, study, out: Path, folders, runs_dir, progress: bool) -> None:
    """Load (and fine-tune, or find the checkpoint of) one model and evaluate its units. A unit
    another process is scoring is left for last and then waited for, so two processes share the work."""
    from iclft.models import load_model

    lm = load_model(plan.model)
    if model != BASE:
        _fine_tuned(lm, plan, study, plan.trained(model), Path(runs_dir), out, progress)
    args = lambda unit: (lm, plan, study, unit, out / "evals" / folders[unit], runs_dir, progress)  # noqa: E731
    for unit in [u for u in todo if not _score_if_free(*args(u), wait=False)]:
        _score_if_free(*args(unit), wait=True)


def _score_if_free(lm, plan, study, unit: Unit, folder: Path, runs_dir, progress: bool, wait: bool) -> bool:
    """Evaluate `unit` into `folder` unless it has a result; False, with nothing done, when another
    process holds the unit and not `wait`."""
    with exclusive(runs_dir, f"task-study-{plan.name}-{folder.name}", wait=wait) as held:
        if held is None:
            return False
        if not (folder / RESULT).is_file():  # another process may have done it
            if progress:
                print(f"[{unit.model}] {unit.test_set} P{unit.template} {unit.shots}-shot", flush=True)
            evaluate_unit(lm, plan, study, unit, folder)
    return True


def train_models(plan: TaskStudyPlan, runs_dir: str | Path = "runs", progress: bool = True) -> Path:
    """Fine-tune every model of `plan` that has no checkpoint yet, evaluating nothing (e.g. on a
    GPU machine, before the evaluations run elsewhere); returns the plan's folder."""
    from iclft.models import load_model

    study = load_study(plan.data)
    check_plan(plan, study)
    out = study_dir(Path(runs_dir), plan)
    for spec in plan.train:
        _, ckpt, recorded = _checkpoint(plan, spec, study.task(spec.set), Path(runs_dir))
        if not is_checkpoint(ckpt, *recorded):
            _fine_tuned(load_model(plan.model), plan, study, spec, Path(runs_dir), out, progress)
    return out


def evaluate_unit(lm, plan: TaskStudyPlan, study: Study, unit: Unit, folder: Path) -> dict:
    """Score one unit and write its folder (result.json, samples.jsonl) atomically."""
    task = study.task(unit.test_set)
    records = task.test_records()[: unit.rows]
    demos = task.demo_records() if unit.shots else []
    t = time.perf_counter()
    with torch.autocast(lm.device.type, torch.bfloat16, enabled=plan.eval_mixed_precision == "bf16"):
        samples, metrics, primary = _score_unit(lm, plan, task, records, demos, unit)
    result = {
        "model": unit.model,
        "train": _train_record(plan, study, unit.model),
        "test_set": unit.test_set,
        "family": task.family,
        "kind": task.kind,
        "setting": _setting(plan, study, unit),
        "template": unit.template,
        "shots": unit.shots,
        "n": len(samples),
        "metrics": metrics,
        "primary": primary,
        "seconds": round(time.perf_counter() - t, 2),
    }
    with atomic_dir(folder, replace=True) as tmp:
        write_jsonl(tmp / SAMPLES, samples)
        write_json(tmp / RESULT, result)
    return result


def _score_unit(lm, plan: TaskStudyPlan, task: TaskSet, records: list, demos: list, unit: Unit):
    """(samples, metrics, primary metric) of one unit: classification or generation."""
    if task.kind == "classification":
        from iclft.tasks.classify import accuracy_metrics, classify_records

        samples = classify_records(lm, task, records, demos, unit.shots, unit.template)
        for s in samples:  # the item's metric, per reading
            s["correct"] = {r: s[f"{r}_pred"] == s["gold"] for r in ("first_token", "full_label")}
        golds = [s["gold"] for s in samples]
        metrics = {
            reading: accuracy_metrics(golds, [s[f"{reading}_pred"] for s in samples], task.unlabelled)
            for reading in ("first_token", "full_label")
        }
        primary = {"metric": "accuracy", "value": metrics["first_token"]["accuracy"]}
        primary["stderr"] = metrics["first_token"]["stderr"]
    else:
        from iclft.tasks.generate import generate_records
        from iclft.tasks.rouge import rouge_metrics

        samples = generate_records(lm, task, records, demos, unit.shots, unit.template, plan.max_new_tokens)
        metrics = rouge_metrics(samples)
        primary = {"metric": "rougeL", "value": metrics["rougeL"]["mean"], "stderr": metrics["rougeL"]["stderr"]}
    return samples, metrics, primary


def _train_record(plan: TaskStudyPlan, study: Study, model: str) -> dict | None:
    if model == BASE:
        return None
    spec = plan.trained(model)
    condition = "fticl" if spec.fticl else "ft"
    return {
        "set": spec.set,
        "family": study.task(spec.set).family,
        "size": spec.size,
        "condition": condition,
        "k": spec.fticl,
    }


def _setting(plan: TaskStudyPlan, study: Study, unit: Unit) -> str:
    if unit.model == BASE:
        return "base"
    train_family = study.task(plan.trained(unit.model).set).family
    family = next((f for f in study.families if f.name == train_family), None)
    if family and unit.test_set in family.in_domain:
        return "in-domain"
    if family and unit.test_set in family.out_of_domain:
        return "out-of-domain"
    return "in-domain" if study.task(unit.test_set).family == train_family else "cross-task"


# ---- fine-tuning


def _fine_tuned(
    lm, plan: TaskStudyPlan, study: Study, spec: TrainSpec, runs_dir: Path, out: Path, progress: bool
) -> None:
    """Put `spec`'s fine-tuned weights into `lm`: train them, or load an earlier checkpoint."""
    task = study.task(spec.set)
    key, ckpt, recorded = _checkpoint(plan, spec, task, runs_dir)
    with exclusive(runs_dir, layout.checkpoint_lock(key)):
        if is_checkpoint(ckpt, *recorded):
            summary = load_checkpoint(lm, ckpt)
        else:
            if ckpt.exists():
                shutil.rmtree(ckpt)
            summary = _train(lm, plan, spec, task, ckpt, recorded, progress)
    summary = dict(summary)
    record = {
        "name": spec.model_name,
        "train": _train_record(plan, study, spec.model_name) | {"template": spec.template, "ft": spec.ft},
        "checkpoint": key,
        "weight_drift": summary.pop("weight_drift", None),
        "truncated_inputs": summary.pop("truncated_inputs", None),
        "summary": summary,  # the fine-tuning summary: steps, tokens/s, losses, seconds, peak memory
    }
    write_json(out / "models" / f"{spec.model_name}.json", record)


def _checkpoint(plan: TaskStudyPlan, spec: TrainSpec, task: TaskSet, runs_dir: Path) -> tuple[str, Path, tuple]:
    """`spec`'s checkpoint key, its folder, and what its metadata must record (base weights, data)."""
    key = checkpoint_key(plan, spec, task)
    recorded = (model_fingerprint(plan.model.name), set_sha256(task, ("train", "demos")))
    return key, layout.checkpoint_dir(runs_dir, key), recorded


def _train(lm, plan: TaskStudyPlan, spec: TrainSpec, task: TaskSet, ckpt: Path, recorded, progress: bool) -> dict:
    from iclft.exposure.finetune import finetune
    from iclft.tasks.training import training_examples, weight_drift

    cfg = plan.ft_config(spec)
    records = task.train_records(spec.size)
    context = demo_context(task, task.demo_records(), spec.fticl, spec.template) if spec.fticl else ""
    examples, truncated = training_examples(lm, task, records, context, cfg.max_length, spec.template)
    before = {n: p.detach().to("cpu", copy=True) for n, p in lm.module.named_parameters()}
    with atomic_dir(ckpt) as tmp:
        summary = finetune(lm, examples, cfg, seed=plan.seed, log_path=tmp / layout.TRAIN_LOG, progress=progress)
        summary |= {"truncated_inputs": truncated, "weight_drift": weight_drift(before, lm.module)}
        summary["fticl_context_tokens"] = lm.count_tokens(context) if context else 0
        save_checkpoint(lm, tmp, summary, *recorded)
    return summary


def require_study(path: str | Path) -> Study:
    folder = Path(path)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such study folder (make one with `iclft data import task-study`)")
    return load_study(folder)


def describe_plan(plan: TaskStudyPlan) -> str:
    """A few lines: what the plan trains and how many evaluations it runs."""
    study = require_study(plan.data)
    check_plan(plan, study)
    units = plan_units(plan, study)
    lines = [f"task-study plan '{plan.name}' on {plan.model.name}, data {plan.data}"]
    for spec in plan.train:
        cfg = plan.ft_config(spec)
        lines.append(f"  train {spec.model_name}: {cfg.method}, lr {cfg.learning_rate:g}, {cfg.epochs:g} epochs")
    models = list(dict.fromkeys(u.model for u in units))
    lines.append(f"  {len(units)} evaluations of {len(models)} models ({', '.join(models)})")
    lines += [f"  note: {note}" for note in plan.notes]
    return "\n".join(lines)
