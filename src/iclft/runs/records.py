"""The records a runs folder holds, with their fields declared once.

    SampleRecord     one line of samples.jsonl: an item, every option's score, the predictions
    MetricsRecord    metrics.json: accuracy per split plus what the run adds (condition, ...)
    RunStatus        what a sweep reports per experiment: running, done or failed
    FailureRecord    failed/<slug>.json: the last failure of an experiment
    PlanEntry        one run of sweeps/<name>.json

Each has `to_dict()` (what is written) and `from_dict()` (what is read; a missing required
field raises UserError naming the source).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from iclft.errors import UserError


def _from_dict(cls, data: Any, source: str):
    if not isinstance(data, dict):
        raise UserError(f"{source}: expected a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    required = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise UserError(f"{source}: missing field '{missing[0]}'")
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class SampleRecord:
    id: str
    split: str
    inference_type: str
    prefix: str
    options: list[str]
    answers: list[int]
    fact_ids: list[Any]
    logprobs: list[float]
    n_tokens: list[int]
    n_chars: list[int]
    pred: dict[str, int] = field(default_factory=dict)  # normalization -> predicted option

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "samples.jsonl") -> SampleRecord:
        return _from_dict(cls, data, source)


@dataclass
class MetricsRecord:
    """metrics.json. `extra` keeps what a run adds beyond these fields (context_tokens,
    finetune, augmentation, contexts, ...), so reading and writing loses nothing."""

    headline: str
    n_items: int
    splits: dict[str, dict[str, Any]]
    condition: str | None = None
    benchmark: str | None = None
    benchmark_sha256: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        return {**{k: v for k, v in data.items() if v is not None}, **self.extra}

    @classmethod
    def from_dict(cls, data: Any, source: str = "metrics.json") -> MetricsRecord:
        record = _from_dict(cls, data, source)
        known = {f.name for f in dataclasses.fields(cls)}
        record.extra = {k: v for k, v in data.items() if k not in known}
        return record


@dataclass
class RunStatus:
    slug: str
    status: Literal["running", "done", "failed"]
    seconds: float | None = None
    error: str | None = None  # one line, for failed
    traceback: str | None = None
    node: str | None = None  # the Ray node that ran it (Ray executor)

    @property
    def done(self) -> bool:
        return self.status == "done"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: Any, source: str = "run status") -> RunStatus:
        return _from_dict(cls, data, source)


@dataclass
class FailureRecord:
    slug: str
    error: str = ""
    traceback: str = ""
    config: dict[str, Any] | None = None
    time: float = 0.0
    status: str = "failed"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "failure record") -> FailureRecord:
        return _from_dict(cls, data, source)


@dataclass
class PlanEntry:
    slug: str
    point: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any, source: str = "sweep plan") -> PlanEntry:
        return _from_dict(cls, data, source)
