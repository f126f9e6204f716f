"""The typed experiment config: YAML in and out, validation, content hash.

Every field has a default except the benchmark name, so the smallest config is

    benchmark: {name: reversal}
    condition: icl

Validation problems raise `UserError` naming the file, the field and what was expected.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from iclft import conditions
from iclft.errors import UserError
from iclft.models.zoo import DEFAULT_MODEL

# Bumped whenever what the content hash covers changes meaning; every run and checkpoint is
# then recomputed. 2: the non-default fields (before: a hand-kept list of dropped fields).
HASH_SCHEMA = 2
# fine-tuning settings that decide how the optimizer steps are computed, not what they are
COMPUTE_ONLY_FT_FIELDS = ("gradient_accumulation", "gradient_checkpointing", "fsdp")


MAX_SEED = 2**32 - 1  # numpy and torch accept seeds up to this
DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def _check_seed(seed: int) -> int:
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"a seed must be between 0 and {MAX_SEED}, got {seed}")
    return seed


def _check_device(device: str) -> str:
    if not DEVICE.match(device):
        raise ValueError(f"device '{device}': expected auto, cpu, cuda, cuda:N or mps")
    return device


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BenchmarkConfig(_Strict):
    name: str = Field(description="generator name (reversal, syllogism, ...) or 'folder'")
    seed: int = 0
    params: dict[str, Any] = Field(default_factory=dict, description="generator parameters")
    path: str | None = Field(None, description="load a saved benchmark folder instead of generating")

    _seed_in_range = field_validator("seed")(lambda cls, v: _check_seed(v))


class ModelConfig(_Strict):
    name: str = Field(DEFAULT_MODEL, description="embedded model name, model folder, or hub id")
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    device: str = Field("auto", description="auto, cpu, cuda, cuda:1, mps")

    _device_known = field_validator("device")(lambda cls, v: _check_device(v))


class IclConfig(_Strict):
    instruction: str = (
        "Read the following documents carefully. They state facts that you need to answer the question after them."
    )
    subsample: float = Field(1.0, gt=0, le=1, description="random share of documents put in context")
    one_per_fact: bool = Field(False, description="keep one random document for each fact")
    facts_per_context: int | None = Field(
        None,
        gt=0,
        description="score each question after a context of only its own group of this many facts "
        "(facts in benchmark order); None: one context with every fact",
    )


class FinetuneConfig(_Strict):
    method: Literal["lora", "full"] = "lora"
    learning_rate: float = Field(3e-4, gt=0)
    epochs: float = Field(3.0, gt=0, description="passes over the training examples (ignored if steps is set)")
    steps: int | None = Field(None, gt=0, description="optimizer steps; overrides epochs")
    batch_size: int = Field(8, gt=0)
    lora_rank: int = Field(16, gt=0)
    lora_alpha: int = Field(32, gt=0)
    lora_dropout: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(10, ge=0)
    lr_decay: Literal["cosine", "linear"] = Field("cosine", description="the learning rate's fall to 0 after warmup")
    max_length: int = Field(512, gt=0, description="examples are cut to this many tokens")
    split: Literal["none", "independent", "cumulative"] = Field(
        "none",
        description="train on whole documents, one sentence per example, or each sentence after "
        "its document's earlier sentences as unscored context",
    )
    mixed_precision: Literal["no", "bf16"] = Field(
        "no",
        description="bf16: forward and backward under bfloat16 autocast; weights and optimizer stay in the model dtype",
    )
    rehearsal: str | None = Field(
        None,
        description='JSON lines of {"text": ...} documents mixed into the training data against forgetting '
        "(e.g. the organism's curriculum: iclft organism curriculum --out FILE); hashed by content",
    )
    rehearsal_ratio: float = Field(1.0, gt=0, description="rehearsal documents per training example")
    train_only: list[str] | None = Field(
        None,
        description="method full: train only the weights whose name contains one of these parts "
        "(e.g. [mlp] for the MLP blocks); the others stay frozen",
    )
    # How the same optimizer steps are computed: they change memory and speed, not the result
    # (up to floating-point summation order), so like the number of processes they are not hashed.
    gradient_accumulation: int = Field(
        1, gt=0, description="micro-batches per optimizer step and process; batch_size stays the global batch"
    )
    gradient_checkpointing: bool = Field(False, description="recompute activations in the backward pass")
    fsdp: bool = Field(False, description="shard weights, gradients and optimizer states over the processes (FSDP2)")

    @model_validator(mode="after")
    def _check_combinations(self) -> FinetuneConfig:
        if self.rehearsal is None and self.rehearsal_ratio != 1.0:
            raise ValueError("ft.rehearsal_ratio is given but ft.rehearsal (the documents' file) is not")
        if self.train_only is not None:
            if self.method != "full":
                raise ValueError("ft.train_only needs ft.method: full (a LoRA adapter chooses its own weights)")
            if not self.train_only or not all(part.strip() for part in self.train_only):
                raise ValueError("ft.train_only: give one or more non-empty parts of weight names, e.g. [mlp]")
        return self


class GeneratorConfig(_Strict):
    """Who writes the augmentations: the studied model, another local model, or an API server."""

    kind: Literal["self", "local", "api"] = "self"
    model: str | None = Field(None, description="kind local: zoo name, model folder or hub id")
    base_url: str | None = Field(None, description="kind api: e.g. http://127.0.0.1:8000/v1")
    api_model: str | None = Field(None, description="kind api: the model name the server expects")
    endpoint: Literal["completions", "chat"] = "completions"
    api_key_env: str | None = Field(None, description="kind api: environment variable holding the key")
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(4, ge=0, description="kind api: retries of a 408/429/5xx, timeout or dropped connection")
    backoff_s: float = Field(1.0, ge=0, description="kind api: first retry delay, doubled each time, with jitter")
    concurrency: int = Field(4, ge=1, description="kind api: requests in flight at once")


class AugmentConfig(_Strict):
    """Augmentations added to the FT data (`ft_aug`) or to the context (`icl_aug`), docs/study.md, "Augmentation"."""

    method: Literal["none", "local", "global", "both", "oracle"] = "none"
    generator: GeneratorConfig = GeneratorConfig()
    unit: Literal["document", "sentence"] = Field("document", description="local: prompt per document or per sentence")
    one_per_fact: bool = Field(False, description="augment one seeded document per fact instead of every document")
    samples: int = Field(1, gt=0, description="generations per prompt (oracle: phrasings per inference)")
    temperature: float = Field(0.0, ge=0, description="0 is greedy")
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(96, gt=0)
    local_template: str | None = Field(None, description="prompt file with {text}; default: the built-in one")
    global_template: str | None = Field(None, description="prompt file with {corpus} and {text}")
    global_subsample: float = Field(1.0, gt=0, le=1, description="share of the other documents offered as corpus")
    global_context_tokens: int | None = Field(None, gt=0, description="corpus budget; default: what fits the generator")
    batch_size: int = Field(16, gt=0, description="prompts per generate call (the cache is written after each)")
    keep_duplicates: bool = Field(
        False, description="keep statements written before (by another prompt, or in the training documents)"
    )


class FticlConfig(_Strict):
    """FTICL (Yang et al. 2024): k demonstrations before every training input, with no loss on them."""

    k: int = Field(2, gt=0)
    source: Literal["documents", "fixed"] = Field(
        "documents", description="k other training documents drawn per example, or one fixed seeded set for all"
    )


class ScoringConfig(_Strict):
    normalization: Literal["sum", "mean", "char"] = Field(
        "sum", description="headline normalization: summed log-prob, per-token mean, per-character"
    )


class ExperimentConfig(_Strict):
    name: str | None = Field(None, description="readable slug for the run directory")
    benchmark: BenchmarkConfig
    model: ModelConfig = ModelConfig()
    condition: str = Field("base", description="one of iclft.conditions.TABLE: " + ", ".join(conditions.all_names()))
    icl: IclConfig = IclConfig()
    ft: FinetuneConfig = FinetuneConfig()
    augment: AugmentConfig = AugmentConfig()
    fticl: FticlConfig = FticlConfig()
    scoring: ScoringConfig = ScoringConfig()
    seed: int = Field(0, description="seed for subsampling, shuffling and initialization")

    _seed_in_range = field_validator("seed")(lambda cls, v: _check_seed(v))

    @field_validator("condition")
    @classmethod
    def _known_condition(cls, name: str) -> str:
        if name not in conditions.all_names():
            raise ValueError(f"expected one of {', '.join(conditions.all_names())}, got '{name}'")
        return name

    @property
    def cond(self) -> conditions.Condition:
        """The condition's row of iclft.conditions.TABLE."""
        return conditions.get(self.condition)

    @model_validator(mode="after")
    def _sections_match_condition(self) -> ExperimentConfig:
        augmented = self.cond.augmented
        if augmented and self.augment.method == "none":
            raise ValueError(f"condition {self.condition} needs augment.method (local, global, both or oracle)")
        if not augmented and self.augment != AugmentConfig():
            raise ValueError(f"augment settings are given but condition {self.condition} does not use them")
        if not self.cond.fticl and self.fticl != FticlConfig():
            raise ValueError(f"fticl settings are given but condition {self.condition} does not use them")
        return self

    def to_dict(self) -> dict[str, Any]:
        """The resolved config: every field, defaults included (what config.yaml holds)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def hashed_fields(self) -> dict[str, Any]:
        """What the content hash covers: the fields away from their defaults (so adding a field
        with a default keeps every hash), without the cosmetic name, plus HASH_SCHEMA and, for a
        benchmark folder, the sha256 of its content (so editing the data changes the hash).
        The model's name is always covered: the project's default model changes between
        releases, and a run of one default must never be taken for a run of the next."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        data.pop("name", None)
        data.setdefault("model", {})["name"] = self.model.name
        for field in COMPUTE_ONLY_FT_FIELDS:
            data.get("ft", {}).pop(field, None)
        data["hash_schema"] = HASH_SCHEMA
        if self.benchmark.path is not None:
            data["benchmark"]["sha256"] = benchmark_folder_sha256(self.benchmark.path)
        if self.ft.rehearsal is not None:
            data["ft"]["rehearsal_sha256"] = file_sha256(self.ft.rehearsal, "ft.rehearsal")
        return data

    def content_hash(self) -> str:
        """sha256 of `hashed_fields()`: names the run directory."""
        blob = json.dumps(self.hashed_fields(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def slug(self) -> str:
        if self.name:
            base = self.name
        else:
            model = Path(self.model.name).name
            base = f"{self.benchmark.name}-{self.condition}-{model}-s{self.seed}"
        safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in base.replace("+", "-"))
        return f"{safe}-{self.content_hash()[:10]}"


def config_from_dict(data: Any, source: str = "<config>") -> ExperimentConfig:
    return validated(ExperimentConfig, data, source, "config fields")


def validated(model: type, data: Any, source: str, what: str):
    """`data` validated as `model` (a pydantic model or a dataclass), or a UserError naming
    `source`, the first bad field (none for a check across fields) and how many more problems
    there are."""
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping of {what}, got {type(data).__name__}")
    try:
        return TypeAdapter(model).validate_python(data)
    except ValidationError as e:
        err = e.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        where = f"{source}: field '{field}'" if field else source
        more = f" (and {len(e.errors()) - 1} more problems)" if len(e.errors()) > 1 else ""
        raise UserError(f"{where}: {err['msg'].removeprefix('Value error, ')}{more}") from None


def load_config(path: str | Path) -> ExperimentConfig:
    from iclft.io import read_yaml

    path = Path(path)
    return config_from_dict(read_yaml(path, "config"), str(path))


def benchmark_folder_sha256(path: str | Path) -> str:
    """The content hash of the benchmark folder at `path` (as in its manifest's `sha256`),
    computed from the files themselves; cached while their sizes and times are unchanged."""
    folder = Path(path).expanduser().resolve()
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.jsonl")))
    return _folder_sha256(str(folder), stamp)


def file_sha256(path: str | Path, what: str = "file") -> str:
    """sha256 of a file's bytes (`iclft.provenance.file_sha256`, cached while its size and
    time are unchanged); an unreadable file is a one-line error naming `what`."""
    from iclft.provenance import file_sha256 as cached_sha256

    try:
        return cached_sha256(Path(path).expanduser())
    except OSError as e:
        raise UserError(f"{what}: cannot read {path} ({e.strerror})") from None


@functools.lru_cache(maxsize=256)
def _folder_sha256(folder: str, stamp: tuple) -> str:
    from iclft.benchmarks.schema import content_hash, load_benchmark

    return content_hash(load_benchmark(folder))
