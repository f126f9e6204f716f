"""`iclft data import task-study DIR --out OUT`: the data folder released with Yang et al. 2024
("Unveiling the Generalization Power of Fine-Tuned LLMs", arXiv 2403.09162) as an iclft study
folder (iclft.tasks.format, docs/task-study.md). iclft ships none of that data; users point it
at their own copy.

The released layout, every file one JSON array of records:

    DIR/prompt_map.json                       a list of prompt templates, each mapping task family -> template
    DIR/<family>/<set>_train_<N>.json         training sets (N = 2000 required; 4000, 6000 optional)
    DIR/<family>/<set>_test_500.json          test sets
    DIR/<family>/few_shot/<set>_few_shot.json the demonstration pool of each test set

The first problem found (an unknown directory or file, a missing file, a record without a field,
a label outside the family's labels) ends the import with one line naming file and record
(records counted from 0, as `idx`). Nothing is written unless everything is read: the study
folder appears complete or not at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from iclft.errors import UserError
from iclft.io import json_type, read_json, read_yaml, write_jsonl
from iclft.runs.atomic import atomic_dir
from iclft.tasks.format import (
    STUDY_FILE,
    Family,
    Study,
    TaskSet,
    TrainFile,
    load_study,
    record_problems,
    template_fields,
    write_study,
    write_task,
)

RELEASE_FORMAT = "yang2024-release"
PROMPT_MAP = "prompt_map.json"
POOL_DIR = "few_shot"
TRAIN_SIZES = (2000, 4000, 6000)
REQUIRED_TRAIN_SIZE = 2000
UNUSED = {"inference/snli_test_500.json": "a test set without a demonstration pool; the study does not use it"}


@dataclass(frozen=True)
class ReleaseFamily:
    kind: str
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    train: str
    in_domain: tuple[str, ...]
    out_of_domain: tuple[str, ...]
    unlabelled: str | None = None


# The study's design (the paper's table of tasks); labels in the order the paper scores them.
FAMILIES = {
    "summary": ReleaseFamily("generation", ("input",), (), "xsum", ("xsum", "xlsum"), ("pdfs", "cnn")),
    "question": ReleaseFamily("generation", ("input", "answer"), (), "socialqa", ("socialqa",), ("tweetqa", "sciqa")),
    "sentiment": ReleaseFamily(
        "classification", ("input",), ("positive", "negative"), "amazon", ("amazon", "amazonfood"), ("sst2", "yelp")
    ),
    "detection": ReleaseFamily(
        "classification", ("input_1", "input_2"), ("yes", "no"), "paws", ("paws",), ("qqp", "stsb")
    ),
    "inference": ReleaseFamily(
        "classification",
        ("input_1", "input_2"),
        ("entailment", "neutral", "contradiction"),
        "multinli",
        ("multinli", "multinli2"),
        ("rte", "gptnli"),
        unlabelled="-",  # unlabelled MNLI rows: kept, and scored as wrong
    ),
}


@dataclass(frozen=True)
class ImportResult:
    study: Study
    source: Path
    unused: tuple[str, ...]  # files present and deliberately not imported
    absent: tuple[str, ...]  # optional files not present


def file_of_test(set_name: str) -> str:
    return f"{set_name}_test_500.json"


def file_of_pool(set_name: str) -> str:
    return f"{POOL_DIR}/{set_name}_few_shot.json"


def file_of_train(set_name: str, size: int) -> str:
    return f"{set_name}_train_{size}.json"


def import_release(source: str | Path, out: str | Path) -> ImportResult:
    """Read the released folder `source`, check every file, write the study folder `out`.

    `out` may be absent, an empty folder, or an earlier import (replaced once the new one is
    complete); anything else is refused."""
    source, out = Path(source), Path(out)
    if not source.is_dir():
        raise UserError(f"{source}: not a folder")
    _check_out(out, source)
    templates = _read_templates(source / PROMPT_MAP)
    _check_layout(source)
    absent = []
    with atomic_dir(out, replace=out.exists()) as tmp:
        for family, spec in FAMILIES.items():
            absent += _import_family(source / family, tmp, family, spec, templates[family])
        families = tuple(Family(f, s.train, s.in_domain, s.out_of_domain) for f, s in FAMILIES.items())
        imported_from = {"format": RELEASE_FORMAT, "folder": str(source.resolve())}
        write_study(Study(tmp, "task-study", families, imported_from))
    unused = tuple(f for f in UNUSED if (source / f).is_file())
    return ImportResult(load_study(out), source, unused, tuple(absent))


def _check_out(out: Path, source: Path) -> None:
    if out.resolve() == source.resolve() or source.resolve() in out.resolve().parents:
        raise UserError(f"{out}: inside the released folder {source}; choose an --out outside it")
    if not out.exists():
        return
    if not out.is_dir():
        raise UserError(f"{out}: exists and is not a folder")
    if any(out.iterdir()) and not is_release_import(out):
        raise UserError(f"{out}: exists and is not an earlier task-study import; choose another --out or remove it")


def is_release_import(folder: Path) -> bool:
    try:
        data = read_yaml(folder / STUDY_FILE, "study file") if (folder / STUDY_FILE).is_file() else None
    except UserError:
        return False
    imported = data.get("imported_from") if isinstance(data, dict) else None
    return isinstance(imported, dict) and imported.get("format") == RELEASE_FORMAT


def _read_templates(path: Path) -> dict[str, tuple[str, ...]]:
    """family -> its templates (template 1 first), checked against the family's fields."""
    if not path.is_file():
        raise UserError(f"{path}: file missing (the prompt templates of every task family)")
    data = read_json(path, "prompt map")
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise UserError(f"{path}: expected a JSON array of objects, each mapping task family to template")
    for number, templates in enumerate(data, 1):
        for family in templates:
            if family not in FAMILIES:
                raise UserError(
                    f"{path}: template {number}: unknown task family '{family}' (known: {', '.join(FAMILIES)})"
                )
        for family, spec in FAMILIES.items():
            _check_template(path, number, family, templates.get(family), spec.inputs)
    return {family: tuple(t[family] for t in data) for family in FAMILIES}


def _check_template(path: Path, number: int, family: str, template, inputs: tuple[str, ...]) -> None:
    where = f"{path}: template {number} of '{family}'"
    if not isinstance(template, str) or not template.strip():
        raise UserError(f"{where}: expected a non-empty string, found {json_type(template)}")
    try:
        fields = template_fields(template)
    except ValueError as e:
        raise UserError(f"{where}: not a format string ({e})") from None
    for field in fields:
        if field not in inputs:
            raise UserError(f"{where}: fills '{{{field}}}', which is not an input field ({', '.join(inputs)})")


def _check_layout(source: Path) -> None:
    """Every directory is a known task family; every file in one belongs to the study (or is known unused)."""
    for entry in sorted(source.iterdir()):
        if entry.is_dir() and not entry.name.startswith(".") and entry.name not in FAMILIES:
            raise UserError(f"{entry}: unknown task directory (known: {', '.join(FAMILIES)})")
    for family, spec in FAMILIES.items():
        folder = source / family
        if not folder.is_dir():
            raise UserError(f"{folder}: folder missing (the task family '{family}')")
        known = set(_expected_files(spec)) | {f.split("/", 1)[1] for f in UNUSED if f.startswith(f"{family}/")}
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if path.is_file() and not any(p.startswith(".") for p in name.split("/")) and name not in known:
                raise UserError(
                    f"{path}: unknown file: not a test set, demonstration pool or training file of '{family}'"
                )


def _expected_files(spec: ReleaseFamily) -> list[str]:
    test_sets = spec.in_domain + spec.out_of_domain
    return (
        [file_of_test(s) for s in test_sets]
        + [file_of_pool(s) for s in test_sets]
        + [file_of_train(spec.train, n) for n in TRAIN_SIZES]
    )


def _import_family(folder: Path, out: Path, family: str, spec: ReleaseFamily, templates: tuple[str, ...]) -> list[str]:
    """Write the family's task sets under `out`; return the optional files not present."""
    absent = []
    for set_name in spec.in_domain + spec.out_of_domain:
        test, pool = folder / file_of_test(set_name), folder / file_of_pool(set_name)
        if not test.is_file():
            raise UserError(f"{test}: file missing (a test set of the study)")
        if not pool.is_file():
            raise UserError(f"{test}: no demonstration pool ({pool} is missing)")
        trains = _train_paths(folder, family, set_name, absent) if set_name == spec.train else {}
        train_files = tuple(TrainFile(f"train_{size}.jsonl", size) for size in trains)
        task = TaskSet(
            out / set_name, set_name, family, spec.kind, spec.inputs, "output", spec.labels,
            spec.unlabelled, templates, "test.jsonl", "demos.jsonl", train_files,
        )  # fmt: skip
        write_jsonl(task.folder / "test.jsonl", release_records(test, task, "test"))
        write_jsonl(task.folder / "demos.jsonl", release_records(pool, task, "demos"))
        for train in train_files:
            write_jsonl(task.folder / train.file, release_records(trains[train.size], task, "train"))
        write_task(task)
    return absent


def _train_paths(folder: Path, family: str, set_name: str, absent: list[str]) -> dict[int, Path]:
    """size -> released training file; optional sizes not present are added to `absent`."""
    paths = {}
    for size in TRAIN_SIZES:
        path = folder / file_of_train(set_name, size)
        if path.is_file():
            paths[size] = path
        elif size == REQUIRED_TRAIN_SIZE:
            raise UserError(f"{path}: file missing (the training set of '{family}')")
        else:
            absent.append(f"{family}/{path.name}")
    return paths


def release_records(path: Path, task: TaskSet, role: str) -> list[dict]:
    """The records of one released file, each with `idx` (its row position where it has none)."""
    data = read_json(path, "JSON file")
    if not isinstance(data, list):
        raise UserError(f"{path}: expected a JSON array of records, found {json_type(data)}")
    if not data:
        raise UserError(f"{path}: no records")
    records: list[dict] = []
    first: dict[int, int] = {}
    for n, record in enumerate(data):
        if not isinstance(record, dict):
            raise UserError(f"{path}: record {n}: expected a JSON object, found {json_type(record)}")
        record = {"idx": n, **record}
        problems = record_problems(task, record, role)
        if problems:
            raise UserError(f"{path}: record {n}: {problems[0]}")
        if record["idx"] in first:
            raise UserError(f"{path}: record {n}: idx {record['idx']} repeats record {first[record['idx']]}")
        first[record["idx"]] = n
        records.append(record)
    return records


def describe_import(result: ImportResult) -> str:
    """What was imported: per family its training files, per test set its rows, pool and labels."""
    study = result.study
    n_tests = sum(len(f.test_sets) for f in study.families)
    lines = [f"imported {result.source} into {study.folder}: {len(study.families)} task families, {n_tests} test sets"]
    for family in study.families:
        train = study.task(family.train)
        sizes = [_train_size(t, len(train.train_records(t.size))) for t in train.train]
        lines.append(f"{family.name} ({train.kind}): train {family.train} {', '.join(sizes)}")
        for name in family.test_sets:
            task = study.task(name)
            test, demos = task.test_records(), task.demo_records()
            role = "in-domain" if name in family.in_domain else "out-of-domain"
            lines.append(
                f"  {name:<11} {role:<13} test {len(test):>4}  demos {len(demos)}  {label_counts(task, test)}".rstrip()
            )
    lines += [f"not imported: {f} ({UNUSED[f]})" for f in result.unused]
    lines += [f"absent (optional): {', '.join(result.absent)}"] if result.absent else []
    return "\n".join(lines)


def _train_size(train: TrainFile, rows: int) -> str:
    return str(rows) if train.size in (None, rows) else f"{train.size} ({rows} records)"


def label_counts(task: TaskSet, records: list[dict]) -> str:
    """ "positive 260, negative 240" in the task's label order; empty for generation tasks."""
    counts = Counter(r[task.output] for r in records)
    shown = [*task.labels, *([task.unlabelled] if counts.get(task.unlabelled) else [])] if task.labels else []
    return ", ".join(f"{_label_name(task, label)} {counts.get(label, 0)}" for label in shown)


def _label_name(task: TaskSet, label: str) -> str:
    return f"unlabelled '{label}'" if label == task.unlabelled else label
