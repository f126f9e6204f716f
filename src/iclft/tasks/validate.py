"""`iclft data validate` for task folders (task.yaml) and study folders (study.yaml): every
problem, one line each ("file:line: what is wrong"), without stopping at the first. Writes nothing."""

from __future__ import annotations

from pathlib import Path

from iclft.errors import UserError
from iclft.io import read_yaml
from iclft.tasks.format import STUDY_FILE, TASK_FILE, TaskSet, parse_study, parse_task, read_records


def is_task_path(path: str | Path) -> bool:
    """Whether `path` is a task folder or a study folder (rather than a benchmark folder)."""
    return (Path(path) / TASK_FILE).is_file() or (Path(path) / STUDY_FILE).is_file()


def validate_task_path(path: str | Path) -> list[str]:
    path = Path(path)
    if (path / STUDY_FILE).is_file():
        return validate_study(path)
    return validate_task(path)[1]


def validate_task(folder: Path) -> tuple[TaskSet | None, list[str]]:
    """The task set in `folder` (None when task.yaml is unusable) and every problem of it and its files."""
    try:
        data = read_yaml(folder / TASK_FILE, "task file")
    except UserError as e:
        return None, [str(e)]
    task, problems = parse_task(data, folder)
    if task is None:
        return None, problems
    files = [("test", task.test), ("demos", task.demos)] + [("train", t.file) for t in task.train]
    for role, file in files:
        if file is not None:
            problems += read_records(folder / file, task, role)[1]
    return task, problems


def validate_study(folder: Path) -> list[str]:
    path = folder / STUDY_FILE
    try:
        study, problems = parse_study(read_yaml(path, "study file"), folder)
    except UserError as e:
        return [str(e)]
    if study is None:
        return problems
    tasks: dict[str, TaskSet | None] = {}
    for name in study.set_names:
        if Path(name).name != name or not (folder / name / TASK_FILE).is_file():
            problems.append(f"{path}: set '{name}' has no task folder ({folder / name / TASK_FILE} is missing)")
            continue
        tasks[name], found = validate_task(folder / name)
        problems += found
    for family in study.families:
        for name in (family.train, *family.test_sets):
            task = tasks.get(name)
            if task is not None and task.family != family.name:
                problems.append(
                    f"{task.folder / TASK_FILE}: family is '{task.family}', {STUDY_FILE} lists it under '{family.name}'"
                )
        train = tasks.get(family.train)
        if train is not None and not train.train:
            problems.append(f"{train.folder / TASK_FILE}: the train set of '{family.name}' has no files.train")
        for name in family.test_sets:
            task = tasks.get(name)
            if task is not None and (task.test is None or task.demos is None):
                problems.append(f"{task.folder / TASK_FILE}: a test set needs files.test and files.demos")
    for sub in sorted(p.parent for p in folder.glob(f"*/{TASK_FILE}")):
        if sub.name not in study.set_names:
            problems.append(f"{sub}: task set not named in {path}")
    return problems
