"""A task-study plan: the models to fine-tune and the evaluations to run (docs/task-study.md,
"Running the study"). A plan is a YAML file, or one of the built-in tiers (`tier_plan`):

    name: my-study
    data: data/task-study                  # a study folder (`iclft data import task-study`)
    model: {name: smollm2-135m}
    rows: 100                              # scored test rows per set: the first N
    ft: {method: lora, learning_rate: 2.0e-4}   # fine-tuning settings (TASK_FT for the rest)
    train:
    - {set: amazon, size: 1000}            # model "ft-amazon-1000"
    - {set: socialqa, size: 1000, fticl: 1}     # model "fticl1-socialqa-1000"
    evaluate:
    - {models: [base, ft-amazon-1000], sets: [amazon, sst2], templates: [1]}   # shots: the family's

Every evaluation asks a test set in its own way: its own template, demonstrations and scoring,
whatever the model was trained on (the paper's cross-task setting).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from iclft.config import FinetuneConfig, ModelConfig, _check_seed, _Strict, validated
from iclft.errors import UserError
from iclft.tasks.format import Study

# Shot counts per family, 0 first (TASK_STUDY: evaluate_cross.py's lists, 0 always added)
PAPER_SHOTS = {
    "summary": [0, 1, 2, 4],
    "question": [0, 1, 2, 4],
    "sentiment": [0, 2, 4, 6],
    "detection": [0, 2, 4, 6],
    "inference": [0, 3, 5, 7],
}
# The paper's training settings scaled to a CPU (docs/task-study.md, "Tiers"): LoRA needs a
# larger learning rate than the paper's full fine-tuning at 2e-5
TASK_FT = dict(
    method="lora",
    learning_rate=2e-4,
    epochs=2.0,
    batch_size=16,
    lora_rank=16,
    lora_alpha=32,
    warmup_steps=0,
    lr_decay="linear",
    max_length=768,
    gradient_accumulation=2,
    mixed_precision="bf16",
)
BASE = "base"


class TrainSpec(_Strict):
    set: str = Field(description="the task set trained on")
    size: int | None = Field(None, gt=0, description="training records (the first N); None: the largest file")
    fticl: int = Field(0, ge=0, description="FTICL: the first k demonstrations of the set's pool before every input")
    template: int = Field(1, ge=1, description="the template of the training sequences (and FTICL demonstrations)")
    ft: dict[str, Any] = Field(default_factory=dict, description="fine-tuning settings over the plan's ft")
    name: str | None = None

    @property
    def model_name(self) -> str:
        if self.name:
            return self.name
        kind = f"fticl{self.fticl}" if self.fticl else "ft"
        name = f"{kind}-{self.set}-{self.size if self.size else 'all'}"
        return name if self.template == 1 else f"{name}-p{self.template}"


class EvalBlock(_Strict):
    models: list[str] = Field(min_length=1)
    sets: list[str] = Field(min_length=1)
    templates: list[int] = Field([1], min_length=1)
    shots: list[int] | None = Field(None, description="None: the test set's family's shot counts")

    @field_validator("templates")
    @classmethod
    def _positive_templates(cls, v: list[int]) -> list[int]:
        if any(t < 1 for t in v):
            raise ValueError("templates are numbered from 1")
        return v

    @field_validator("shots")
    @classmethod
    def _shots(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and any(s < 0 for s in v):
            raise ValueError("shot counts must be 0 or more")
        return v


class TaskStudyPlan(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    data: str = Field(description="the study folder")
    model: ModelConfig = ModelConfig()
    seed: int = 0
    rows: int | None = Field(100, gt=0, description="scored rows per test set; None: all")
    rows_by_family: dict[str, int] = Field(default_factory=dict)
    max_new_tokens: int = Field(60, gt=0)
    eval_mixed_precision: Literal["no", "bf16"] = Field(
        "no", description="bf16: score and generate under bfloat16 autocast (as the paper evaluated); weights unchanged"
    )
    ft: dict[str, Any] = Field(default_factory=dict, description="fine-tuning settings over TASK_FT")
    shots: dict[str, list[int]] = Field(default_factory=lambda: dict(PAPER_SHOTS))
    train: list[TrainSpec] = Field(default_factory=list)
    evaluate: list[EvalBlock] = Field(min_length=1)
    notes: list[str] = Field(default_factory=list, description="how the plan departs from the paper (tiers fill it in)")

    _seed_in_range = field_validator("seed")(lambda cls, v: _check_seed(v))

    @model_validator(mode="after")
    def _names(self) -> TaskStudyPlan:
        names = [t.model_name for t in self.train]
        for name in names:
            if names.count(name) > 1 or name == BASE:
                raise ValueError(f"two trained models are named '{name}' (give one a 'name')")
        for block in self.evaluate:
            for model in block.models:
                if model != BASE and model not in names:
                    raise ValueError(f"evaluate names model '{model}'; known: {', '.join([BASE, *names])}")
        for spec in self.train:
            self.ft_config(spec)  # fails early on a bad setting
        return self

    def ft_config(self, spec: TrainSpec) -> FinetuneConfig:
        try:
            return FinetuneConfig.model_validate(TASK_FT | self.ft | spec.ft)
        except ValidationError as e:
            err = e.errors()[0]
            raise ValueError(f"ft.{'.'.join(map(str, err['loc']))}: {err['msg']}") from None

    def trained(self, name: str) -> TrainSpec:
        return next(t for t in self.train if t.model_name == name)

    def rows_for(self, family: str) -> int | None:
        return self.rows_by_family.get(family, self.rows)

    def shots_for(self, family: str, block: EvalBlock) -> list[int]:
        return block.shots if block.shots is not None else self.shots.get(family, [0])

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def plan_from_dict(data: Any, source: str) -> TaskStudyPlan:
    return validated(TaskStudyPlan, data, source, "task-study plan fields")


def load_plan(path: str | Path) -> TaskStudyPlan:
    from iclft.io import read_yaml

    return plan_from_dict(read_yaml(Path(path), "task-study plan"), str(path))


def check_plan(plan: TaskStudyPlan, study: Study) -> None:
    """A UserError naming the first set, template or training size the study folder lacks."""
    known = set(study.set_names)
    for spec in plan.train:
        if spec.set not in known:
            raise UserError(f"plan {plan.name}: train set '{spec.set}' is not in {study.folder}")
        task = study.task(spec.set)
        if not task.train:
            raise UserError(f"plan {plan.name}: task set '{spec.set}' has no training file")
        task.template(spec.template)
        task.train_records(spec.size)  # a UserError if no training file has that many records
        if spec.fticl and task.demos is None:
            raise UserError(f"plan {plan.name}: FTICL on '{spec.set}' needs its demonstration pool")
    for block in plan.evaluate:
        for name in block.sets:
            if name not in known:
                raise UserError(f"plan {plan.name}: test set '{name}' is not in {study.folder}")
            task = study.task(name)
            for template in block.templates:
                task.template(template)


# ---- the built-in tiers (docs/task-study.md, "Tiers")

TIERS = ("core", "extended", "paper")
TIER_MODEL = "smollm2-135m"  # the core tier's model (any model can be given instead)


def tier_plan(tier: str, study: Study, model: str, data: str) -> TaskStudyPlan:
    """The plan of a built-in tier for `study` (its families name the sets)."""
    if tier not in TIERS:
        raise UserError(f"tier '{tier}': expected one of {', '.join(TIERS)}")
    families = {f.name: f for f in study.families}
    plan = _TIER_BUILDERS[tier](families, study) | {"data": data, "model": {"name": model}}
    return plan_from_dict(plan, f"tier {tier}")


def _family_sets(families: dict, names: list[str]) -> dict[str, list[str]]:
    missing = [n for n in names if n not in families]
    if missing:
        raise UserError(f"the study has no family {', '.join(missing)}, which this tier trains on")
    return {n: list(families[n].test_sets) for n in names}


def _model(family, size: int, k: int = 0) -> str:
    return TrainSpec(set=family.train, size=size, fticl=k).model_name


def _settings_1_2(families: dict, trained: dict[str, list[str]]) -> list[dict]:
    """Each trained model (and the base model) on its own family's sets, template 1."""
    blocks = []
    for family, models in trained.items():
        blocks.append({"models": [BASE, *models], "sets": list(families[family].test_sets), "templates": [1]})
    return blocks


def _cross_task(families: dict, test_family_names: list[str], models: dict[str, list[str]]) -> list[dict]:
    """Each family's train-set test file under the models trained on the other families, P1 and
    P2; the base model under P2 (its P1 results come from settings 1-2)."""
    blocks = []
    for name in test_family_names:
        test_set = families[name].train
        foreign = [m for family, ms in models.items() if family != name for m in ms]
        blocks.append({"models": foreign, "sets": [test_set], "templates": [1, 2]})
        blocks.append({"models": [BASE], "sets": [test_set], "templates": [2]})
    return blocks


SCALED = [
    "LoRA (rank 16, alpha 32, all linear layers) at lr 2e-4 instead of full fine-tuning at 2e-5",
    "micro-batches of 8 with accumulation 2 (global batch 16 as in the paper), bf16 autocast",
    "sequences of at most 768 tokens instead of 1,024; inputs cut to fit, never targets",
]


def _core(families: dict, study: Study) -> dict:
    four = ["sentiment", "detection", "inference", "question"]
    _family_sets(families, four)
    ft = {n: [_model(families[n], 1000)] for n in four}
    fc1 = _model(families["question"], 1000, 1)
    train = [{"set": families[n].train, "size": 1000} for n in four]
    train.append({"set": families["question"].train, "size": 1000, "fticl": 1})
    own = {n: ft[n] + ([fc1] if n == "question" else []) for n in four}
    cross = _cross_task(families, four, ft)
    cross += [{"models": [fc1], "sets": [families[n].train], "templates": [1, 2]} for n in four if n != "question"]
    notes = [*SCALED, "1,000 training records (the paper: 2,000, 4,000, 6,000)", "100 scored rows (the paper: 250)"]
    notes += ["FTICL only on the question task, k = 1", "trains on 4 of the 5 tasks (no summaries)"]
    return {
        "name": "core",
        "eval_mixed_precision": "bf16",
        "rows": 100,
        "train": train,
        "evaluate": _settings_1_2(families, own) + cross,
        "notes": notes,
    }


def _extended(families: dict, study: Study) -> dict:
    four = ["sentiment", "detection", "inference", "question"]
    _family_sets(families, [*four, "summary"])
    sizes = {n: [500, 1000, 1500] for n in four} | {"summary": [500]}
    fticl = {"question": [(1000, 1), (1000, 2)], "summary": [(500, 1)], "sentiment": [(1000, 2)]}
    fticl |= {"detection": [(1000, 2)], "inference": [(1000, 3)]}
    train, own = [], {}
    for name, ns in sizes.items():
        train += [{"set": families[name].train, "size": n} for n in ns]
        train += [{"set": families[name].train, "size": n, "fticl": k} for n, k in fticl[name]]
        own[name] = [_model(families[name], n) for n in ns] + [_model(families[name], n, k) for n, k in fticl[name]]
    full = {"set": families["detection"].train, "size": 1000, "name": "full-paws-1000"}
    train.append(full | {"ft": {"method": "full", "learning_rate": 2e-5}})
    own["detection"].append("full-paws-1000")
    middle = {n: [_model(families[n], sizes[n][len(sizes[n]) // 2])] for n in sizes}
    cross = _cross_task(families, [*four, "summary"], middle)
    return {
        "name": "extended",
        "eval_mixed_precision": "bf16",
        "rows": 250,
        "rows_by_family": {"summary": 100},
        "ft": {"max_length": 1024},
        "train": train,
        "evaluate": _settings_1_2(families, own) + cross,
        "notes": [
            *SCALED[:2],
            "sequences of at most 1,024 tokens; inputs cut to fit, never targets",
            "500 / 1,000 / 1,500 training records (summaries: 500); 250 scored rows (summaries: 100)",
        ],
    }


def _paper(families: dict, study: Study) -> dict:
    names = ["summary", "question", "sentiment", "detection", "inference"]
    _family_sets(families, names)
    sizes, notes = {}, []
    for name in names:
        named = {t.size for t in study.task(families[name].train).train}
        sizes[name] = [n for n in (2000, 4000, 6000) if n in named]
        missing = [n for n in (2000, 4000, 6000) if n not in named]
        if missing:
            notes.append(
                f"{families[name].train}: no training file of {' or '.join(map(str, missing))} records in the study, "
                f"so no model of that size (add train_<N>.jsonl files, built from the task's source data)"
            )
    ks = {"summary": [1, 2], "question": [1, 2], "sentiment": [2, 4], "detection": [2, 4], "inference": [3, 5]}
    train, own = [], {}
    for name in names:
        train += [{"set": families[name].train, "size": n} for n in sizes[name]]
        train += [{"set": families[name].train, "size": 2000, "fticl": k} for k in ks[name]]
        own[name] = [_model(families[name], n) for n in sizes[name]]
        own[name] += [_model(families[name], 2000, k) for k in ks[name]]
    cross = _cross_task(families, names, {n: [_model(families[n], 2000)] for n in names})
    ft = {"method": "full", "learning_rate": 2e-5, "max_length": 1024, "gradient_accumulation": 8}
    ft |= {"batch_size": 16, "gradient_checkpointing": True}
    plan = {
        "name": "paper",
        "rows": 250,
        "eval_mixed_precision": "bf16",
        "ft": ft,
        "train": train,
        "evaluate": _settings_1_2(families, own) + cross,
    }
    return plan | {"notes": notes}


_TIER_BUILDERS = {"core": _core, "extended": _extended, "paper": _paper}
