"""Small file helpers: atomic writes, and reads that turn bad files into one-line UserErrors.

Every user file (configs, sweep files, benchmark folders, manifests) is read through
`read_text`, `read_yaml`, `read_json` or `read_jsonl`: a missing, unreadable, non-UTF-8 or
malformed file raises `UserError` naming the file (and the line where there is one).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from iclft.errors import UserError


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` via a temp file in the same folder and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None:  # a failed write (full disk): name the file
            raise OSError(e.errno, e.strerror or str(e), str(path)) from e
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def dumps_json(obj: Any) -> str:
    """Canonical JSON used everywhere on disk: sorted keys, indent 2, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def jsonl_text(records: Iterable[dict]) -> str:
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False) + "\n" for r in records)


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> None:
    atomic_write_text(path, jsonl_text(records))


def read_text(path: str | os.PathLike, what: str = "file") -> str:
    """The UTF-8 text of `path`; unreadable or non-UTF-8 files raise UserError naming the file."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the {what} as UTF-8") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a folder, expected a {what}") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read {what} ({e.strerror or e})") from None


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read JSON lines; a malformed line raises UserError naming file and line."""
    records = []
    for lineno, line in enumerate(read_text(path, "JSON lines file").splitlines(), 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise UserError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
    return records


def checked_jsonl(path: Path, problems: list[str]) -> Iterator[tuple[int, dict]]:
    """(line number, JSON object) for every non-blank line of a data file being validated: an
    unreadable file, a line that is not JSON or not an object becomes a problem, not an error."""
    try:
        text = read_text(path, "JSON lines file")
    except UserError as e:
        problems.append(str(e))
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"{path}:{n}: not valid JSON ({e.msg}, column {e.colno})")
            continue
        if not isinstance(record, dict):
            problems.append(f"{path}:{n}: expected a JSON object, found {json_type(record)}")
            continue
        yield n, record


def json_type(value: Any) -> str:
    """A JSON value's type as an error line names it ("a string", "null", ...)."""
    names = {bool: "true/false", int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as e:
        raise UserError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def read_yaml(path: str | os.PathLike, what: str = "YAML file") -> Any:
    """Parse a YAML file; bad YAML and keys given twice in one mapping raise UserError."""
    import yaml

    try:
        return yaml.load(read_text(path, what), Loader=_UniqueKeyLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f":{mark.line + 1}" if mark else ""
        raise UserError(f"{path}{at}: not valid YAML ({e.problem or e.context})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{path}: not valid YAML ({e})") from None


def _unique_key_loader():
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        """SafeLoader that rejects a key given twice in one mapping (YAML would keep the last)."""

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)) and key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key '{key}' is given twice in one mapping", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep)

    return UniqueKeyLoader


class _LazyLoader:
    """Builds the loader class on first use, so importing iclft.io does not import yaml."""

    def __call__(self, stream):
        global _UniqueKeyLoader
        _UniqueKeyLoader = _unique_key_loader()
        return _UniqueKeyLoader(stream)


_UniqueKeyLoader = _LazyLoader()
