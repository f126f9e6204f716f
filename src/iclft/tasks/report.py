"""The task study's report (docs/task-study.md): the records a study run writes, gathered into
tables and figures under `<study>/report/`.

    evals/*/result.json     one evaluation (model × test set × template × shots); read by `load_results`
    models/*.json           one fine-tuned model; read by `load_models`

    report/index.md               links to everything below, n and what the ± means
    report/results.csv            one row per result record
    report/fixed_shot.md          per test set and template: models × shot counts
    report/best_of_shots.md       the paper's selection: each model's best shot count, chosen on the test set
    report/change_from_base.md    fine-tuned model − base, mean over the shot counts both have (and .png)
    report/by_shots_<set>.png     per training set: the metric by shot count, base and its FT/FTICL models
    report/models.md              per fine-tuned model: training summary, weight drift, truncated inputs

A damaged record is skipped with one warning line naming its file; every file is written atomically.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
from pathlib import Path

from iclft.errors import UserError
from iclft.io import atomic_write_text, json_type, read_json
from iclft.tasks import report_tables as tables
from iclft.tasks.report_figures import plot_by_shots, plot_change_from_base

Warn = Callable[[str], None]

FAMILY_ORDER = ("summary", "question", "sentiment", "detection", "inference")
CONDITION_ORDER = {None: 0, "ft": 1, "fticl": 2}  # base, then FT, then FTICL models
RESULT_FIELDS = ("model", "train", "test_set", "family", "kind", "setting", "template", "shots", "n", "primary")


def warn_stderr(line: str) -> None:
    print(f"iclft: warning: {line}", file=sys.stderr)


def load_results(study_dir: str | Path, warn: Warn | None = None) -> list[dict]:
    """Every `evals/*/result.json` of a study run, in folder order. A file that cannot be read, is
    not JSON or lacks a field, or a second record of the same evaluation, is skipped with a warning."""
    warn = warn or warn_stderr
    results, seen = [], {}
    for path in _result_paths(Path(study_dir)):
        record = _read_record(path, _result_problem, warn)
        if record is None:
            continue
        key = unit_key(record)
        if key in seen:
            warn(f"{path}: the same evaluation as {seen[key]} ({', '.join(map(str, key))}); skipped")
            continue
        seen[key] = path
        results.append(record)
    return results


def _result_paths(study_dir: Path) -> list[Path]:
    """The result files of the plan's current units (`units.json`, written by the runner), or
    every one when there is no such list; units left from an earlier plan or data are not read."""
    paths = sorted(study_dir.glob("evals/*/result.json"))
    units = study_dir / "units.json"
    if units.is_file():
        current = set(read_json(units, "units file").get("units", []))
        paths = [p for p in paths if p.parent.name in current]
    return paths


def load_models(study_dir: str | Path, warn: Warn | None = None) -> list[dict]:
    """Every `models/*.json` of a study run (one per fine-tuned model); damaged files are skipped with a warning."""
    warn = warn or warn_stderr
    found = (_read_record(path, _model_problem, warn) for path in sorted(Path(study_dir).glob("models/*.json")))
    return [record for record in found if record is not None]


def _read_record(path: Path, problem_of: Callable[[object], str | None], warn: Warn) -> dict | None:
    try:
        record = read_json(path, "JSON file")
    except UserError as e:
        warn(f"{e}; skipped")
        return None
    problem = problem_of(record)
    if problem:
        warn(f"{path}: {problem}; skipped")
        return None
    return record


def _result_problem(record) -> str | None:
    if not isinstance(record, dict):
        return f"expected a JSON object, found {json_type(record)}"
    missing = [name for name in RESULT_FIELDS if name not in record]
    if missing:
        return ("no field " if len(missing) == 1 else "no fields ") + ", ".join(f"'{name}'" for name in missing)
    for name in RESULT_FIELDS:
        if not _field_ok(name, record[name]):
            return f"'{name}' {FIELD_RULES[name]}, found {json_type(record[name])}"
    return None


FIELD_RULES = {
    **dict.fromkeys(("model", "test_set", "family", "kind", "setting"), "must be a string"),
    **dict.fromkeys(("template", "shots", "n"), "must be a whole number"),
    "train": "must be null (the base model) or an object with 'set' and 'condition'",
    "primary": "must be an object with the numbers 'value' and 'stderr'",
}


def _field_ok(name: str, value) -> bool:
    if name == "train":
        return value is None or (isinstance(value, dict) and isinstance(value.get("set"), str) and "condition" in value)
    if name == "primary":
        return isinstance(value, dict) and all(_is_number(value.get(k)) for k in ("value", "stderr"))
    if FIELD_RULES[name] == "must be a string":
        return isinstance(value, str)
    return isinstance(value, int) and not isinstance(value, bool)


def _model_problem(record) -> str | None:
    if not isinstance(record, dict):
        return f"expected a JSON object, found {json_type(record)}"
    if not isinstance(record.get("name"), str):
        return "no 'name' field"
    wrong = [key for key in ("train", "summary", "weight_drift") if not isinstance(record.get(key) or {}, dict)]
    return f"'{wrong[0]}' must be an object, found {json_type(record[wrong[0]])}" if wrong else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---- what the tables and figures are made of


def unit_key(result: dict) -> tuple:
    return result["model"], result["test_set"], result["template"], result["shots"]


def is_base(result: dict) -> bool:
    return result["train"] is None


def model_order(results: list[dict]) -> list[str]:
    """Model names: the base model first, then the FT models, then the FTICL models."""
    first = {}
    for r in results:
        first.setdefault(r["model"], r)

    def key(name):
        train = first[name].get("train") or {}
        return (
            CONDITION_ORDER.get(train.get("condition"), 3),
            str(train.get("set", "")),
            _whole(train.get("size")),
            _whole(train.get("k")),
            name,
        )

    return sorted(first, key=key)


def test_set_order(results: list[dict]) -> list[str]:
    """Test sets by family (the study's order, then others by name), then by name."""
    family = {r["test_set"]: r["family"] for r in results}
    rank = {name: i for i, name in enumerate(FAMILY_ORDER)}
    return sorted(family, key=lambda s: (rank.get(family[s], len(rank)), family[s], s))


def best_of_shots(results: list[dict]) -> dict[tuple, dict]:
    """(model, test set, template) -> {value, stderr, shots, n (classification only)}: the largest primary value over shot
    counts (the fewest shots on a tie; nan values are passed over), chosen on the test set itself as Yang et al. do."""
    best: dict[tuple, dict] = {}
    for r in sorted(results, key=lambda r: r["shots"]):
        key = (r["model"], r["test_set"], r["template"])
        value = r["primary"]["value"]
        if not math.isnan(value) and (key not in best or value > best[key]["value"]):
            best[key] = {
                "value": value,
                "stderr": r["primary"]["stderr"],
                "shots": r["shots"],
                "n": tables.accuracy_n(r),
            }
    return best


def change_from_base(results: list[dict]) -> dict[tuple, dict]:
    """(model, test set, template) -> {change, shots}: for a fine-tuned model, the mean over the
    shot counts it shares with the base model of (its primary value − the base value)."""
    base = {unit_key(r)[1:]: r["primary"]["value"] for r in results if is_base(r)}
    diffs: dict[tuple, dict[int, float]] = {}
    for r in results:
        base_value = base.get(unit_key(r)[1:])
        if not is_base(r) and base_value is not None:
            diffs.setdefault(unit_key(r)[:3], {})[r["shots"]] = r["primary"]["value"] - base_value
    return {key: {"change": sum(d.values()) / len(d), "shots": sorted(d)} for key, d in diffs.items()}


def train_sets(results: list[dict]) -> list[str]:
    return sorted({r["train"]["set"] for r in results if not is_base(r)})


# ---- writing


def write_report(study_dir: str | Path, warn: Warn | None = None) -> list[Path]:
    """Write the report of a study run into `<study_dir>/report/`; returns the files written.
    Damaged records are skipped with a warning (`warn`, by default a line on stderr)."""
    study_dir = Path(study_dir)
    results = load_results(study_dir, warn)
    if not results:
        raise UserError(f"no results under {study_dir / 'evals'} (no readable evals/*/result.json)")
    out = study_dir / "report"
    texts = report_texts(results, load_models(study_dir, warn))
    written = [_write_text(out / name, text) for name, text in texts.items()]
    written.append(plot_change_from_base(change_matrices(results), out / "change_from_base.png"))
    for train_set in train_sets(results):
        panels = by_shots_panels(results, train_set)
        written.append(plot_by_shots(train_set, panels, out / f"by_shots_{_safe(train_set)}.png"))
    written.append(_write_text(out / "index.md", tables.index_markdown(results, [p.name for p in written])))
    return written


def report_texts(results: list[dict], models: list[dict]) -> dict[str, str]:
    """File name -> text of the report's tables (index.md aside)."""
    order, sets = model_order(results), test_set_order(results)
    return {
        "results.csv": tables.results_csv(results, order, sets),
        "fixed_shot.md": tables.fixed_shot_markdown(results, order, sets),
        "best_of_shots.md": tables.best_of_shots_markdown(results, best_of_shots(results), order, sets),
        "change_from_base.md": tables.change_markdown(change_matrices(results)),
        "models.md": tables.models_markdown(models, results),
    }


def _write_text(path: Path, text: str) -> Path:
    atomic_write_text(path, text)
    return path


def change_matrices(results: list[dict]) -> list[tuple[int, list[str], list[str], list[list[float]]]]:
    """Per template: (template, fine-tuned models, test sets, changes[model][test set]), nan where
    a model and test set have no shot count in common with the base model."""
    changes = change_from_base(results)
    matrices = []
    for template in sorted({key[2] for key in changes}):
        mine = {key[:2]: value["change"] for key, value in changes.items() if key[2] == template}
        models = [m for m in model_order(results) if any(key[0] == m for key in mine)]
        sets = [s for s in test_set_order(results) if any(key[1] == s for key in mine)]
        matrices.append((template, models, sets, [[mine.get((m, s), math.nan) for s in sets] for m in models]))
    return matrices


def by_shots_panels(results: list[dict], train_set: str) -> list[dict]:
    """One panel per test set a model trained on `train_set` was evaluated on: {test_set, metric,
    lines: [{model, template, shots, values, stderrs}]}, base first."""
    mine = [r for r in results if is_base(r) or r["train"]["set"] == train_set]
    sets = [s for s in test_set_order(mine) if any(r["test_set"] == s and not is_base(r) for r in mine)]
    panels = []
    for test_set in sets:
        rows = [r for r in mine if r["test_set"] == test_set]
        lines = []
        for model in model_order(rows):
            for template in sorted({r["template"] for r in rows if r["model"] == model}):
                points = sorted(
                    (r for r in rows if r["model"] == model and r["template"] == template), key=lambda r: r["shots"]
                )
                lines.append(
                    {
                        "model": model,
                        "template": template,
                        "shots": [r["shots"] for r in points],
                        "values": [r["primary"]["value"] for r in points],
                        "stderrs": [r["primary"]["stderr"] for r in points],
                    }
                )
        panels.append({"test_set": test_set, "metric": tables.metric_name(rows[0]), "lines": lines})
    return panels


def _whole(value) -> int:
    return value if isinstance(value, int) else 0


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
