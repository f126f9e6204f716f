"""iclft's task format: a task set is a folder with `task.yaml` and JSON lines files; a study is a
folder of task sets with `study.yaml` (docs/task-study.md).

    <study>/study.yaml          families: each names its train set, in-domain and out-of-domain test sets
    <study>/<set>/task.yaml     name, family, kind, inputs, output, labels, templates, files
    <study>/<set>/test.jsonl    test records, in order
    <study>/<set>/demos.jsonl   the demonstration pool, in order (demos are its first k records)
    <study>/<set>/train_2000.jsonl ...   training files, named in task.yaml by their nominal size

Every record is a JSON object with `idx` (a whole number, unique in its file), every input field
and the output field as strings, and any other fields (kept, unused). Parsing collects problems
as one line each ("file: what is wrong"); loading raises the first as a UserError.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iclft.errors import UserError
from iclft.io import atomic_write_text, checked_jsonl, json_type, read_yaml

TASK_FILE = "task.yaml"
STUDY_FILE = "study.yaml"
KINDS = ("classification", "generation")
TASK_FIELDS = ("name", "family", "kind", "inputs", "output", "labels", "unlabelled", "templates", "files")
TASK_REQUIRED = ("name", "family", "kind", "inputs", "output", "templates", "files")
FILE_ROLES = ("test", "demos", "train")
STUDY_FIELDS = ("name", "families", "imported_from")
FAMILY_FIELDS = ("train", "in_domain", "out_of_domain")


@dataclass(frozen=True)
class TrainFile:
    file: str
    size: int | None  # the nominal size it is named by (a file of 5999 rows may be "6000"); None: the only one


@dataclass(frozen=True)
class TaskSet:
    """One task set: its fields, templates (template 1 = P1) and files, relative to `folder`."""

    folder: Path
    name: str
    family: str
    kind: str
    inputs: tuple[str, ...]
    output: str
    labels: tuple[str, ...]
    unlabelled: str | None  # an output value that marks a test record with no gold label
    templates: tuple[str, ...]
    test: str | None
    demos: str | None
    train: tuple[TrainFile, ...]

    def template(self, number: int) -> str:
        """Template `number`, counted from 1 (P1, P2, ...)."""
        if not 1 <= number <= len(self.templates):
            raise UserError(f"{self.folder / TASK_FILE}: no template {number}; templates are 1..{len(self.templates)}")
        return self.templates[number - 1]

    def test_records(self) -> list[dict]:
        return self._records(self.test, "test")

    def demo_records(self) -> list[dict]:
        return self._records(self.demos, "demos")

    def train_records(self, size: int | None = None) -> list[dict]:
        """The training file named by `size`, whole; another `size` is the first `size` records of
        the smallest file that has that many; None: the largest file."""
        if not self.train:
            raise UserError(f"{self.folder / TASK_FILE}: no training file")
        named = {t.size: t.file for t in self.train}
        if size is None or size in named:
            file = named[size] if size in named else self.train[-1].file
            return self._records(file, "train")
        for train in self.train:
            records = self._records(train.file, "train")
            if len(records) >= size:
                return records[:size]
        raise UserError(f"{self.folder / TASK_FILE}: no training file has {size} records")

    def _records(self, file: str | None, role: str) -> list[dict]:
        if file is None:
            raise UserError(f"{self.folder / TASK_FILE}: no {role} file")
        records, problems = read_records(self.folder / file, self, role)
        if problems:
            raise UserError(problems[0])
        return records


@dataclass(frozen=True)
class Family:
    name: str
    train: str
    in_domain: tuple[str, ...]
    out_of_domain: tuple[str, ...]

    @property
    def test_sets(self) -> tuple[str, ...]:
        return self.in_domain + self.out_of_domain


@dataclass(frozen=True)
class Study:
    folder: Path
    name: str
    families: tuple[Family, ...]
    imported_from: dict | None

    def task(self, set_name: str) -> TaskSet:
        return load_task(self.folder / set_name)

    @property
    def set_names(self) -> list[str]:
        names = [n for f in self.families for n in (f.train, *f.test_sets)]
        return list(dict.fromkeys(names))


# ---- records


def record_problems(task: TaskSet, record: dict, role: str) -> list[str]:
    """What is wrong with one record of a `role` file ("test", "demos" or "train")."""
    problems = []
    idx = record.get("idx")
    if "idx" not in record:
        problems.append("missing field 'idx'")
    elif not isinstance(idx, int) or isinstance(idx, bool):
        problems.append(f"field 'idx' must be a whole number, not {json_type(idx)}")
    for field in (*task.inputs, task.output):
        if field not in record:
            problems.append(f"missing field '{field}'")
        elif not isinstance(record[field], str):
            problems.append(f"field '{field}' must be a string, not {json_type(record[field])}")
    label = record.get(task.output)
    if task.kind == "classification" and isinstance(label, str) and label not in task.labels:
        if not (role == "test" and label == task.unlabelled):
            allowed = ", ".join(task.labels + ((task.unlabelled,) if role == "test" and task.unlabelled else ()))
            problems.append(f"label '{label}' is not one of {allowed}")
    return problems


def read_records(path: Path, task: TaskSet, role: str) -> tuple[list[dict], list[str]]:
    """The records of a JSON lines file and every problem, "file:line: what is wrong"."""
    if not path.is_file():
        return [], [f"{path}: file missing"]
    records, problems, first_line = [], [], {}
    for n, record in checked_jsonl(path, problems):
        problems += [f"{path}:{n}: {p}" for p in record_problems(task, record, role)]
        idx = record.get("idx")
        if isinstance(idx, int) and idx in first_line:
            problems.append(f"{path}:{n}: idx {idx} repeats line {first_line[idx]}")
        if isinstance(idx, int):
            first_line.setdefault(idx, n)
        records.append(record)
    if not records and not problems:
        problems.append(f"{path}: no records")
    return records, problems


def shown(value: Any) -> str:
    """A YAML or JSON value as it reads in an error line."""
    return json.dumps(value, default=str, ensure_ascii=False)


# ---- task.yaml


def template_fields(template: str) -> list[str]:
    """The field names a template fills; ValueError for a malformed template."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def parse_task(data: Any, folder: Path) -> tuple[TaskSet | None, list[str]]:
    """A TaskSet from task.yaml's contents, or None and every problem found."""
    path = folder / TASK_FILE
    if not isinstance(data, dict):
        return None, [f"{path}: expected a mapping of task fields, found {json_type(data)}"]
    problems = [f"{path}: unknown field '{k}' (known: {', '.join(TASK_FIELDS)})" for k in data if k not in TASK_FIELDS]
    missing = [f"{path}: missing field '{k}'" for k in TASK_REQUIRED if k not in data]
    if missing:
        return None, problems + missing
    name, family, output = (_text(data, k, path, problems) for k in ("name", "family", "output"))
    kind = data["kind"]
    if kind not in KINDS:
        problems.append(f"{path}: field 'kind' must be classification or generation, not {shown(kind)}")
    inputs = _texts(data, "inputs", path, problems)
    labels = _texts(data, "labels", path, problems) if "labels" in data else ()
    if kind == "classification" and not labels:
        problems.append(f"{path}: a classification task needs 'labels', the list of its output labels")
    if kind == "generation" and ("labels" in data or "unlabelled" in data):
        problems.append(f"{path}: a generation task has no 'labels' or 'unlabelled'")
    unlabelled = _text(data, "unlabelled", path, problems) if "unlabelled" in data else None
    if output in inputs:
        problems.append(f"{path}: the output field '{output}' is also an input")
    templates = _texts(data, "templates", path, problems)
    for number, template in enumerate(templates, 1):
        problems += _template_problems(template, number, inputs, path)
    files = _files(data["files"], folder, problems)
    if problems:
        return None, problems
    return TaskSet(folder, name, family, kind, inputs, output, labels, unlabelled, templates, *files), []


def _text(data: dict, key: str, path: Path, problems: list[str]) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{path}: field '{key}' must be a non-empty string, not {shown(value)}")
        return ""
    return value


def _texts(data: dict, key: str, path: Path, problems: list[str]) -> tuple[str, ...]:
    value = data[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        problems.append(f"{path}: field '{key}' must be a list of non-empty strings")
        return ()
    if len(set(value)) != len(value):
        problems.append(f"{path}: field '{key}' repeats a value")
    return tuple(value)


def _template_problems(template: str, number: int, inputs: tuple[str, ...], path: Path) -> list[str]:
    try:
        fields = template_fields(template)
    except ValueError as e:
        return [f"{path}: template {number} is not a format string ({e})"]
    unknown = [f for f in fields if f not in inputs]
    if unknown:
        return [
            f"{path}: template {number} fills '{{{unknown[0]}}}', which is not an input field ({', '.join(inputs)})"
        ]
    return []


def _files(value: Any, folder: Path, problems: list[str]) -> tuple[str | None, str | None, tuple[TrainFile, ...]]:
    path = folder / TASK_FILE
    if not isinstance(value, dict) or not value:
        problems.append(f"{path}: field 'files' must be a mapping with test, demos and/or train")
        return None, None, ()
    problems += [
        f"{path}: files: unknown entry '{k}' (known: {', '.join(FILE_ROLES)})" for k in value if k not in FILE_ROLES
    ]
    test, demos = (_file_name(value.get(role), f"files.{role}", path, problems) for role in ("test", "demos"))
    train = value.get("train")
    if isinstance(train, dict):
        sizes = [s for s in train if not isinstance(s, int) or isinstance(s, bool) or s < 1]
        if sizes:
            problems.append(f"{path}: files.train: {shown(sizes[0])} is not a size (a whole number)")
        names = [(s, _file_name(f, f"files.train.{s}", path, problems)) for s, f in train.items() if s not in sizes]
        trains = tuple(TrainFile(f, s) for s, f in sorted(names) if f)
    else:
        name = _file_name(train, "files.train", path, problems)
        trains = (TrainFile(name, None),) if name else ()
    if test is None and not trains:
        problems.append(f"{path}: files: needs a test file or a training file")
    if demos is not None and test is None:
        problems.append(f"{path}: files: a demos file belongs to a test file; add files.test")
    return test, demos, trains


def _file_name(value: Any, key: str, path: Path, problems: list[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.endswith(".jsonl") or Path(value).name != value:
        problems.append(f"{path}: {key} must be the name of a .jsonl file in the task folder, not {shown(value)}")
        return None
    return value


def load_task(folder: str | Path) -> TaskSet:
    """The task set in `folder`; its task.yaml's first problem is a UserError (records are read later)."""
    return _load(Path(folder), TASK_FILE, "task", parse_task)


def _load(folder: Path, file_name: str, what: str, parse):
    """`parse` of `folder/file_name`; a missing file or the first problem is a UserError."""
    if not (folder / file_name).is_file():
        raise UserError(f"{folder}: not a {what} folder (no {file_name})")
    loaded, problems = parse(read_yaml(folder / file_name, f"{what} file"), folder)
    if problems:
        raise UserError(problems[0])
    return loaded


def task_dict(task: TaskSet) -> dict:
    """task.yaml's contents for `task`."""
    data: dict[str, Any] = {"name": task.name, "family": task.family, "kind": task.kind}
    data |= {"inputs": list(task.inputs), "output": task.output}
    if task.labels:
        data["labels"] = list(task.labels)
    if task.unlabelled is not None:
        data["unlabelled"] = task.unlabelled
    data["templates"] = list(task.templates)
    files: dict[str, Any] = {role: getattr(task, role) for role in ("test", "demos") if getattr(task, role)}
    if len(task.train) == 1 and task.train[0].size is None:
        files["train"] = task.train[0].file
    elif task.train:
        files["train"] = {t.size: t.file for t in task.train}
    data["files"] = files
    return data


# ---- study.yaml


def parse_study(data: Any, folder: Path) -> tuple[Study | None, list[str]]:
    path = folder / STUDY_FILE
    if not isinstance(data, dict):
        return None, [f"{path}: expected a mapping of study fields, found {json_type(data)}"]
    problems = [
        f"{path}: unknown field '{k}' (known: {', '.join(STUDY_FIELDS)})" for k in data if k not in STUDY_FIELDS
    ]
    problems += [f"{path}: missing field '{k}'" for k in ("name", "families") if k not in data]
    if problems:
        return None, problems
    name = _text(data, "name", path, problems)
    families = data["families"]
    if not isinstance(families, dict) or not families:
        return None, [f"{path}: field 'families' must map each task family to its sets"]
    parsed = tuple(f for f in (_family(n, v, path, problems) for n, v in families.items()) if f)
    seen: dict[str, str] = {}
    for family in parsed:
        for set_name in family.test_sets:
            if set_name in seen:
                problems.append(f"{path}: test set '{set_name}' is listed twice ({seen[set_name]}, {family.name})")
            seen[set_name] = family.name
    imported = data.get("imported_from")
    if imported is not None and not isinstance(imported, dict):
        problems.append(f"{path}: field 'imported_from' must be a mapping")
    return (None, problems) if problems else (Study(folder, name, parsed, imported), [])


def _family(name: Any, value: Any, path: Path, problems: list[str]) -> Family | None:
    where = f"{path}: families.{name}"
    if not isinstance(value, dict):
        problems.append(f"{where}: expected a mapping with {', '.join(FAMILY_FIELDS)}")
        return None
    problems += [
        f"{where}: unknown field '{k}' (known: {', '.join(FAMILY_FIELDS)})" for k in value if k not in FAMILY_FIELDS
    ]
    missing = [k for k in FAMILY_FIELDS if k not in value]
    if missing:
        problems.append(f"{where}: missing field '{missing[0]}'")
        return None
    train = value["train"]
    lists = [value["in_domain"], value["out_of_domain"]]
    names_ok = isinstance(train, str) and all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists)
    if not names_ok or not lists[0]:
        problems.append(f"{where}: train is a set name, in_domain (not empty) and out_of_domain lists of set names")
        return None
    return Family(str(name), train, tuple(lists[0]), tuple(lists[1]))


def load_study(folder: str | Path) -> Study:
    """The study in `folder`; its study.yaml's first problem is a UserError."""
    return _load(Path(folder), STUDY_FILE, "study", parse_study)


def study_dict(study: Study) -> dict:
    data: dict[str, Any] = {"name": study.name, "families": {}}
    for f in study.families:
        data["families"][f.name] = {
            "train": f.train,
            "in_domain": list(f.in_domain),
            "out_of_domain": list(f.out_of_domain),
        }
    if study.imported_from is not None:
        data["imported_from"] = study.imported_from
    return data


# ---- writing


def yaml_text(data: dict) -> str:
    """YAML with strings that hold a line break or edge whitespace (templates) double-quoted."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper, value: str):
        quoted = "\n" in value or value != value.strip()
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"' if quoted else None)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=None)


def write_task(task: TaskSet) -> None:
    """task.yaml of `task` in its folder (the records are written by the caller)."""
    atomic_write_text(task.folder / TASK_FILE, yaml_text(task_dict(task)))


def write_study(study: Study) -> None:
    atomic_write_text(study.folder / STUDY_FILE, yaml_text(study_dict(study)))
