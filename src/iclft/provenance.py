"""Where a result came from: software versions, the iclft commit, the machine, the weights.

`collect(lm, model)` is written into every run's metrics.json under "provenance". Its
`model_fingerprint` (`model_fingerprint(name)`) is the sha256 of the model folder's
safetensors files, so a run is tied to the exact weights it scored; `is_current(run_dir,
model)` says whether a finished run was made with the weights the model name points to now.

Hashing a large model takes seconds, so file hashes are cached per (path, mtime, size) in
`$ICLFT_CACHE/fingerprints.json` (default ~/.cache/iclft) and in memory.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_memo: dict[tuple[str, int, int], str] = {}


def _cache_file() -> Path:
    from iclft.models.zoo import cache_root

    return cache_root() / "fingerprints.json"


def file_sha256(path: Path) -> str:
    """sha256 of one file, cached per (absolute path, mtime, size)."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _memo:
        return _memo[key]
    cache_file = _cache_file()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    entry = cache.get(key[0])
    if entry and (entry.get("mtime_ns"), entry.get("size")) == key[1:]:
        _memo[key] = entry["sha256"]
        return entry["sha256"]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    _memo[key] = digest.hexdigest()
    cache = {p: e for p, e in cache.items() if Path(p).exists()}  # forget deleted files
    cache[key[0]] = {"mtime_ns": key[1], "size": key[2], "sha256": _memo[key]}
    try:
        from iclft.io import write_json

        write_json(cache_file, cache)
    except OSError:
        pass  # a read-only cache folder: hash again next time
    return _memo[key]


def weights_fingerprint(folder: Path) -> str | None:
    """sha256 over the names and hashes of the folder's safetensors files; None if it has none."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    lines = "".join(f"{f.name} {file_sha256(f)}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def model_folder_of(name: str) -> Path | None:
    """The local folder a model name stands for, without loading or dequantizing anything:
    a zoo model's shipped or cached folder, or a model folder. None for hub ids and zoo
    models not cached yet."""
    from iclft.models.zoo import ZOO, cached_folder

    if name in ZOO:
        return cached_folder(name)
    folder = Path(name).expanduser()
    return folder if folder.is_dir() else None


def model_fingerprint(name: str) -> str | None:
    """The fingerprint of the weights model `name` loads now (None when it cannot be known)."""
    folder = model_folder_of(name)
    return weights_fingerprint(folder) if folder else None


def git_state(folder: Path = PACKAGE_DIR) -> dict | None:
    """{"commit", "dirty"} of the git checkout holding `folder`, or None outside one."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def versions() -> dict:
    import torch
    import transformers

    import iclft

    out = {
        "iclft": iclft.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    try:
        import peft

        out["peft"] = peft.__version__
    except ImportError:
        pass
    return out


def collect(lm, model) -> dict:
    """The provenance record of a run with `lm`, loaded from ModelConfig `model`."""
    import torch

    return {
        "versions": versions(),
        "git": git_state(),
        "device": str(getattr(lm, "device", "")),
        "dtype": model.dtype,
        "torch_threads": torch.get_num_threads(),
        "model": model.name,
        "model_fingerprint": model_fingerprint(model.name),
    }


def is_current(run_dir: Path, model=None) -> bool:
    """False when the finished run in `run_dir` recorded a model fingerprint that differs from
    the weights its model (or ModelConfig `model`) points to now; True otherwise (also for
    runs made before fingerprints were recorded, and when the current weights cannot be
    fingerprinted)."""
    try:
        recorded = json.loads((Path(run_dir) / "metrics.json").read_text()).get("provenance")
    except (OSError, ValueError, AttributeError):
        return False
    if not isinstance(recorded, dict) or not recorded.get("model_fingerprint"):
        return True
    current = model_fingerprint(model.name if model is not None else recorded.get("model", ""))
    return current is None or current == recorded["model_fingerprint"]
