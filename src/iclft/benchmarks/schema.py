"""The benchmark data model and its files on disk.

A benchmark is pure data: training documents, multiple-choice test items grouped in named
splits, optional ground-truth facts, and a manifest. On disk it is a folder:

    manifest.json   generator name, parameters, seed, counts, sha256 of every data file
    train.jsonl     one training document per line: {"id", "text", "fact_ids"}
    test.jsonl      one test item per line (see `TestItem`)
    facts.jsonl     ground truth used to build the items (structure depends on the benchmark)

Files are written with sorted keys and "\n" line ends, so the same benchmark gives
byte-identical files.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from iclft.errors import UserError
from iclft.io import atomic_write_text, dumps_json, jsonl_text, read_json, read_jsonl

DATA_FILES = ("train.jsonl", "test.jsonl", "facts.jsonl")


@dataclass(frozen=True)
class Document:
    """A training document: plain text, and the ids of the facts it states."""

    id: str
    text: str
    fact_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestItem:
    """A multiple-choice item scored by likelihood.

    `prefix` is the question; each option is a continuation of it (joined by the model's
    one tokenization rule, see `iclft.models`). The options are never shown in the prompt.
    `answers` holds the indices of every valid option (several for some syllogisms); chance is
    len(answers) / len(options).
    """

    __test__ = False  # not a pytest class

    id: str
    split: str
    inference_type: str
    prefix: str
    options: tuple[str, ...]
    answers: tuple[int, ...]
    fact_ids: tuple[str, ...] = ()

    @property
    def chance(self) -> float:
        return len(self.answers) / len(self.options)


@dataclass
class Benchmark:
    name: str
    seed: int
    params: dict[str, Any]
    documents: list[Document]
    items: list[TestItem]
    facts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def splits(self) -> list[str]:
        """Split names in first-seen order."""
        return list(dict.fromkeys(item.split for item in self.items))

    def items_in(self, split: str) -> list[TestItem]:
        return [item for item in self.items if item.split == split]


def _file_texts(bench: Benchmark) -> dict[str, str]:
    return {
        "train.jsonl": jsonl_text(_record(d) for d in bench.documents),
        "test.jsonl": jsonl_text(_record(i) for i in bench.items),
        "facts.jsonl": jsonl_text(bench.facts),
    }


def _record(obj) -> dict:
    rec = asdict(obj)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in rec.items()}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_hash(bench: Benchmark) -> str:
    """sha256 over the data files, in a fixed order: identifies the benchmark's content."""
    texts = _file_texts(bench)
    return sha256_text("".join(f"{name}\n{sha256_text(texts[name])}\n" for name in DATA_FILES))


def manifest(bench: Benchmark) -> dict[str, Any]:
    texts = _file_texts(bench)
    counts: dict[str, dict[str, int]] = {}
    for item in bench.items:
        by_type = counts.setdefault(item.split, {})
        by_type[item.inference_type] = by_type.get(item.inference_type, 0) + 1
    return {
        "generator": bench.name,
        "seed": bench.seed,
        "params": bench.params,
        "n_documents": len(bench.documents),
        "n_items": len(bench.items),
        "n_facts": len(bench.facts),
        "items_by_split": counts,
        "files": {name: {"sha256": sha256_text(t)} for name, t in texts.items()},
        "sha256": content_hash(bench),
    }


# What a folder without manifest.json (a user's own data) loads as.
USER_MANIFEST: dict[str, Any] = {"generator": "user", "seed": 0, "params": {}}


def save_benchmark(bench: Benchmark, out: str | Path) -> Path:
    """Write the benchmark folder; every file is written atomically, the manifest last. When
    writing fails (a full disk), a folder this call created is removed again."""
    import shutil

    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        for name, text in _file_texts(bench).items():
            atomic_write_text(out / name, text)
        atomic_write_text(out / "manifest.json", dumps_json(manifest(bench)))
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    return out


def load_benchmark(folder: str | Path) -> Benchmark:
    """Read a benchmark folder written by `save_benchmark`; problems raise UserError.

    A user's folder may have no manifest.json: it then loads as generator "user", seed 0, no
    parameters (`iclft data validate` reports every problem of such a folder at once).
    """
    folder = Path(folder)
    man_path = folder / "manifest.json"
    if not folder.is_dir():
        raise UserError(f"{folder}: not a benchmark folder")
    if not man_path.is_file() and not (folder / "test.jsonl").is_file():
        raise UserError(f"{folder}: not a benchmark folder (no manifest.json or test.jsonl)")
    _reject_invalid(folder)
    man = read_json(man_path, "manifest") if man_path.is_file() else USER_MANIFEST
    documents = [_document(r, folder / "train.jsonl", n) for n, r in enumerate(_rows(folder, "train.jsonl"), 1)]
    items = [_item(r, folder / "test.jsonl", n) for n, r in enumerate(_rows(folder, "test.jsonl"), 1)]
    facts = _rows(folder, "facts.jsonl") if (folder / "facts.jsonl").exists() else []
    return Benchmark(man["generator"], man["seed"], man["params"], documents, items, facts)


def _reject_invalid(folder: Path) -> None:
    """The first problem `iclft data validate` would report, as a UserError."""
    from iclft.benchmarks.userdata import validate_folder

    problems = validate_folder(folder)
    if problems:
        more = (
            f" (and {len(problems) - 1} more; `iclft data validate {folder}` lists them all)"
            if len(problems) > 1
            else ""
        )
        raise UserError(problems[0] + more)


def _rows(folder: Path, name: str) -> list[dict]:
    path = folder / name
    if not path.is_file():
        raise UserError(f"{path}: file missing")
    return read_jsonl(path)


def _document(r: dict, path: Path, line: int) -> Document:
    try:
        return Document(str(r["id"]), str(r["text"]), tuple(r.get("fact_ids", ())))
    except (KeyError, TypeError) as e:
        raise UserError(f"{path}:{line}: document needs fields 'id' and 'text' ({e})") from None


def _item(r: dict, path: Path, line: int) -> TestItem:
    try:
        item = TestItem(
            id=str(r["id"]),
            split=str(r["split"]),
            inference_type=str(r.get("inference_type", r["split"])),
            prefix=str(r["prefix"]),
            options=tuple(str(o) for o in r["options"]),
            answers=tuple(int(a) for a in r["answers"]),
            fact_ids=tuple(r.get("fact_ids", ())),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path}:{line}: test item needs 'id', 'split', 'prefix', 'options', 'answers' ({e})") from None
    if len(item.options) < 2 or not item.answers or any(not 0 <= a < len(item.options) for a in item.answers):
        raise UserError(f"{path}:{line}: item '{item.id}' needs ≥2 options and answers indexing them")
    return item
