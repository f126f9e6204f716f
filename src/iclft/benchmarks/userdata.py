"""Users' own benchmarks: the folder format, and `validate_folder`, which reports every problem.

A user benchmark is the same folder that `save_benchmark` writes (see docs/benchmarks.md):

    train.jsonl    {"id": str, "text": str, "fact_ids": [str, ...] (optional)}
    test.jsonl     {"id": str, "split": str, "inference_type": str (optional; default: the split),
                    "prefix": str, "options": [str, str, ...], "answers": [int, ...],
                    "fact_ids": [str, ...] (optional)}
    facts.jsonl    optional; JSON objects, each with a unique "id" if items refer to them
    manifest.json  optional; {"generator", "seed", "params"} (written by iclft)

`validate_folder` reads the files without stopping at the first problem and returns one line
per problem, "file:line: what is wrong", so a user can fix them all in one pass. It writes
nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from iclft.benchmarks.schema import sha256_text
from iclft.errors import UserError
from iclft.io import checked_jsonl, json_type, read_json

DOCUMENT_FIELDS = {"id": str, "text": str, "fact_ids": list}
ITEM_FIELDS = {
    "id": str,
    "split": str,
    "inference_type": str,
    "prefix": str,
    "options": list,
    "answers": list,
    "fact_ids": list,
}
OPTIONAL = {"fact_ids", "inference_type"}
MANIFEST_FIELDS = ("generator", "seed", "params")


def validate_folder(folder: str | Path) -> list[str]:
    """Every problem of a benchmark folder, one line each; empty when it is valid."""
    folder = Path(folder)
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    problems: list[str] = []
    for name in ("train.jsonl", "test.jsonl"):
        if not (folder / name).is_file():
            problems.append(f"{folder / name}: file missing")
    fact_ids = _check_facts(folder / "facts.jsonl", problems)
    doc_count = _check_documents(folder / "train.jsonl", fact_ids, problems)
    item_counts = _check_items(folder / "test.jsonl", fact_ids, problems)
    _check_manifest(folder, doc_count, item_counts, problems)
    return problems


def _lines(path: Path, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed JSON object) for every non-blank line; bad lines become problems."""
    if path.is_file():
        yield from checked_jsonl(path, problems)


def _check_fields(where: str, record: dict, fields: dict[str, type], problems: list[str]) -> bool:
    """Missing, unknown and mistyped fields; True when the record has the right shape."""
    ok = True
    for key, kind in fields.items():
        if key not in record:
            if key not in OPTIONAL:
                problems.append(f"{where}: missing field '{key}'")
                ok = False
        elif not isinstance(record[key], kind) or isinstance(record[key], bool):
            problems.append(f"{where}: field '{key}' must be {_kind_name(kind)}, not {json_type(record[key])}")
            ok = False
    for key in sorted(set(record) - set(fields)):
        problems.append(f"{where}: unknown field '{key}' (known: {', '.join(fields)})")
    return ok


def _kind_name(kind: type) -> str:
    return {str: "a string", list: "a list", int: "an integer"}[kind]


def _check_unique_id(where: str, record: dict, seen: dict[str, int], n: int, problems: list[str]) -> None:
    rid = record.get("id")
    if not isinstance(rid, str):
        return
    if not rid.strip():
        problems.append(f"{where}: empty id")
    elif rid in seen:
        problems.append(f"{where}: duplicate id '{rid}' (first on line {seen[rid]})")
    else:
        seen[rid] = n


def _check_fact_refs(where: str, record: dict, fact_ids: set[str] | None, problems: list[str]) -> None:
    refs = record.get("fact_ids")
    if not isinstance(refs, list):
        return
    for ref in refs:
        if not isinstance(ref, str):
            problems.append(f"{where}: fact_ids must hold strings, found {json_type(ref)}")
        elif fact_ids is not None and ref not in fact_ids:
            problems.append(f"{where}: fact id '{ref}' is not in facts.jsonl")


def _check_facts(path: Path, problems: list[str]) -> set[str] | None:
    """The fact ids of facts.jsonl, or None when there is no such file or it is empty
    (references are then free)."""
    if not path.is_file():
        return None
    seen: dict[str, int] = {}
    count = 0
    for n, record in _lines(path, problems):
        where = f"{path}:{n}"
        count += 1
        if "id" in record and not isinstance(record["id"], str):
            problems.append(f"{where}: field 'id' must be a string, not {json_type(record['id'])}")
        _check_unique_id(where, record, seen, n, problems)
    return set(seen) if count else None  # an empty facts.jsonl (save_benchmark writes one) records no facts


def _check_documents(path: Path, fact_ids: set[str] | None, problems: list[str]) -> int:
    seen: dict[str, int] = {}
    count = 0
    for n, record in _lines(path, problems):
        where = f"{path}:{n}"
        count += 1
        if _check_fields(where, record, DOCUMENT_FIELDS, problems) and not record["text"].strip():
            problems.append(f"{where}: empty text")
        _check_unique_id(where, record, seen, n, problems)
        _check_fact_refs(where, record, fact_ids, problems)
    if path.is_file() and count == 0:
        problems.append(f"{path}: no training documents")
    return count


def _check_items(path: Path, fact_ids: set[str] | None, problems: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    per_split: dict[str, int] = {}
    for n, record in _lines(path, problems):
        where = f"{path}:{n}"
        if _check_fields(where, record, ITEM_FIELDS, problems):
            _check_item_values(where, record, problems)
        split = record.get("split")
        if isinstance(split, str) and split.strip():
            per_split[split] = per_split.get(split, 0) + 1
        _check_unique_id(where, record, seen, n, problems)
        _check_fact_refs(where, record, fact_ids, problems)
    if path.is_file() and not per_split and not any(p.startswith(f"{path}:") for p in problems):
        problems.append(f"{path}: no test items")
    return per_split


def _check_item_values(where: str, record: dict, problems: list[str]) -> None:
    if not record["split"].strip():
        problems.append(f"{where}: empty split name")
    if not record["prefix"].strip():
        problems.append(f"{where}: empty prefix")
    options, answers = record["options"], record["answers"]
    if len(options) < 2:
        problems.append(f"{where}: needs at least 2 options, has {len(options)}")
    for i, option in enumerate(options):
        if not isinstance(option, str):
            problems.append(f"{where}: option {i} must be a string, not {json_type(option)}")
        elif not option.strip():
            problems.append(f"{where}: option {i} is empty")
    texts = [o for o in options if isinstance(o, str)]
    if len(set(texts)) != len(texts):
        problems.append(f"{where}: options repeat")
    if not answers:
        problems.append(f"{where}: 'answers' is empty; give the index of every correct option, e.g. [0]")
    for a in answers:
        if not isinstance(a, int) or isinstance(a, bool):
            problems.append(f"{where}: answer {json.dumps(a)} is not an option index (an integer)")
        elif options and not 0 <= a < len(options):
            problems.append(f"{where}: answer index {a} out of range: the options are numbered 0..{len(options) - 1}")
    if len(set(map(json.dumps, answers))) != len(answers):
        problems.append(f"{where}: answers repeat")


def _check_manifest(folder: Path, n_documents: int, item_counts: dict[str, int], problems: list[str]) -> None:
    path = folder / "manifest.json"
    if not path.is_file():
        return
    try:
        man = read_json(path, "manifest")
    except UserError as e:
        problems.append(str(e))
        return
    if not isinstance(man, dict):
        problems.append(f"{path}: expected a JSON object")
        return
    for key in MANIFEST_FIELDS:
        if key not in man:
            problems.append(f"{path}: missing field '{key}' (or delete manifest.json: it is optional)")
    if "params" in man and not isinstance(man["params"], dict):
        problems.append(f"{path}: field 'params' must be an object, not {json_type(man['params'])}")
    if "seed" in man and (not isinstance(man["seed"], int) or isinstance(man["seed"], bool)):
        problems.append(f"{path}: field 'seed' must be an integer, not {json_type(man['seed'])}")
    for name, entry in (man.get("files") or {}).items():
        data = folder / name
        if isinstance(entry, dict) and "sha256" in entry and data.is_file():
            if sha256_text(data.read_text(encoding="utf-8", errors="replace")) != entry["sha256"]:
                problems.append(f"{path}: sha256 of {name} does not match the file (edited after it was written?)")
    declared = man.get("items_by_split")
    if isinstance(declared, dict):
        for split in declared:
            if split not in item_counts:
                problems.append(f"{path}: split '{split}' has no items in test.jsonl")
    if isinstance(man.get("n_documents"), int) and man["n_documents"] != n_documents:
        problems.append(f"{path}: n_documents is {man['n_documents']}, train.jsonl has {n_documents}")
