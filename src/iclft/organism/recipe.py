"""Organism recipes: the phases of a training run as one YAML file, run by one command.

    iclft organism train --recipe src/iclft/organism/recipes/v2.yaml --out runs/organism

A recipe names its phases in order; each phase trains into `OUT/<name>` from the previous
phase's folder (the first from scratch) with its own `seed`, training settings (`set`, the
fields of `TrainConfig`) and curriculum (`curriculum`, the fields of `CurriculumParams`):

    name: organism-v2
    phases:
      - name: phase1
        seed: 0
        set: {steps: 2300, lr: 0.003}
        curriculum: {mix: {recall: 0.6, compare: 0.3, copy: 0.1}}

A rerun skips every phase whose folder already holds its finished result, and a phase that
was stopped resumes from its checkpoint (`checkpoint_every`), so a recipe longer than one
sitting can span interruptions. A folder trained with other settings is an error, never
reused. `--reuse NAME=FOLDER` takes an existing organism folder as that phase's result
(checked against the phase's settings the same way), so a recipe can continue from a
shipped organism without retraining the phases before it.

A phase's identity is its training settings (all but where and how often it logs,
evaluates or checkpoints, and `init_from`, which the chain sets) and the fingerprint of the
documents its curriculum writes (`curriculum_hash`). Each manifest records its command,
its recipe and phase, and its parent's manifest, nested.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from iclft.errors import UserError
from iclft.organism.curriculum import CurriculumParams, curriculum_hash
from iclft.organism.train import CHECKPOINT, MANIFEST, TrainConfig

RECIPES = Path(__file__).parent / "recipes"
# settings that change where and how often a run reports, not what it trains
NOT_IDENTITY = ("init_from", "threads", "device", "log_every", "eval_every", "eval_settings", "checkpoint_every")


class PhaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    seed: int = 0
    set: dict = Field(default_factory=dict, description="TrainConfig fields")
    curriculum: dict = Field(default_factory=dict, description="CurriculumParams fields")


class RecipeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phases: list[PhaseSpec] = Field(min_length=1)


@dataclass
class Phase:
    name: str
    cfg: TrainConfig
    params: CurriculumParams


def spec_path(path: str | Path) -> Path:
    """`path`, or the built-in recipe of that name (`v1`, `v2`)."""
    path = Path(path)
    builtin = RECIPES / f"{path}.yaml"
    return builtin if not path.is_file() and builtin.is_file() else path


def load_recipe(path: str | Path) -> tuple[RecipeSpec, list[Phase]]:
    """The recipe at `path` (a file, or the name of a built-in one), each phase's settings
    validated; a bad file or value ends with one line naming it."""
    from iclft.config import validated
    from iclft.io import read_yaml

    path = spec_path(path)
    spec = validated(RecipeSpec, read_yaml(path, "organism recipe"), str(path), "recipe fields")
    names = [p.name for p in spec.phases]
    if len(set(names)) != len(names):
        raise UserError(f"{path}: phase names must be unique, got {names}")
    phases = []
    for p in spec.phases:
        if "init_from" in p.set or "seed" in p.set or "seed" in p.curriculum:
            raise UserError(f"{path}: phase {p.name}: the chain sets init_from, and `seed:` sets both seeds")
        cfg = validated(TrainConfig, {**p.set, "seed": p.seed}, f"{path}: phase {p.name}: set", "settings")
        params = validated(CurriculumParams, {**p.curriculum, "seed": p.seed}, f"{path}: phase {p.name}", "curriculum")
        phases.append(Phase(p.name, cfg, params))
    return spec, phases


def identity(cfg: TrainConfig, params: CurriculumParams) -> dict:
    """What a phase's result must match to be skipped or reused."""
    settings = {k: v for k, v in asdict(cfg).items() if k not in NOT_IDENTITY}
    return {"train_config": json.loads(json.dumps(settings)), "curriculum_hash": curriculum_hash(params)}


def differences(manifest: dict, phase: Phase) -> list[str]:
    """The settings in which the run a `manifest` records differs from `phase` (empty: none)."""
    want = identity(phase.cfg, phase.params)
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    got = {k: manifest["train_config"].get(k, defaults.get(k)) for k in want["train_config"]}
    differ = sorted(k for k in got if got[k] != want["train_config"][k])
    return differ + (["curriculum"] if manifest.get("curriculum_hash") != want["curriculum_hash"] else [])


def finished_result(folder: Path, phase: Phase) -> bool:
    """True if `folder` holds `phase`'s finished result; False if it holds nothing yet or an
    unfinished run of it; a UserError if it holds a run of other settings."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return False
    manifest = json.loads(manifest_path.read_text())
    differ = differences(manifest, phase)
    if differ:
        raise UserError(
            f"{folder} holds an organism trained with other settings than phase {phase.name} "
            f"(differ: {', '.join(differ)}): remove it, or train into another --out"
        )
    done = manifest.get("curve") and manifest["curve"][-1]["step"] == phase.cfg.steps
    return bool(done) and not (folder / CHECKPOINT).exists()


def run_recipe(
    path: str | Path,
    out: str | Path,
    reuse: dict[str, str] | None = None,
    threads: int | None = None,
    evaluate: bool = True,
    command: str | None = None,
) -> Path:
    """Run (or finish) every phase of the recipe at `path` under `out`; the last phase's folder."""
    from functools import partial

    from iclft.organism.evaluate import evaluate_folder
    from iclft.organism.train import train

    spec, phases = load_recipe(path)
    reuse = dict(reuse or {})
    unknown = set(reuse) - {p.name for p in phases}
    if unknown:
        raise UserError(f"--reuse names no phase of {spec.name}: {', '.join(sorted(unknown))}")
    out = Path(out)
    recipe_sha = hashlib.sha256(spec_path(path).read_bytes()).hexdigest()[:16]
    folders = [Path(reuse[p.name]) if p.name in reuse else out / p.name for p in phases]
    done = [finished_result(folder, phase) for phase, folder in zip(phases, folders)]
    for phase, folder, finished in zip(phases, folders, done):
        if phase.name in reuse and not finished:
            raise UserError(f"--reuse {phase.name}={folder}: not a finished organism of that phase")
    # the phases before the last finished one are not needed again
    first = max((i for i, d in enumerate(done) if d), default=-1)
    for i, (phase, folder) in enumerate(zip(phases, folders)):
        if i < first:
            continue
        if done[i]:
            print(f"== {phase.name}: finished in {folder}", flush=True)
            continue
        print(f"== {phase.name} -> {folder}", flush=True)
        parent = folders[i - 1] if i else None
        phase.cfg.init_from = str(parent) if parent else None
        if threads:
            phase.cfg.threads = threads
        run = partial(evaluate_folder, **phase.cfg.eval_settings) if evaluate else None
        recorded = {"name": spec.name, "phase": phase.name, "file_sha256": recipe_sha}
        train(phase.cfg, phase.params, folder, evaluate=run, command=command, recipe=recorded)
    return folders[-1]
