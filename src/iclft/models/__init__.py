"""Everything that holds weights. `load_model(cfg)` turns a ModelConfig into a LanguageModel.

Importing this package is light: transformers and torch are imported only when a model loads.
"""

from __future__ import annotations

from iclft.models.base import (
    GenerationSettings,
    LanguageModel,
    LoraSpec,
    OptionScore,
    ScoreRequest,
    TrainableLM,
    TrainExample,
    join_segments,
    segment_texts,
)

__all__ = [
    "GenerationSettings",
    "LanguageModel",
    "LoraSpec",
    "OptionScore",
    "ScoreRequest",
    "TrainExample",
    "TrainableLM",
    "join_segments",
    "load_model",
    "segment_texts",
]


def load_model(cfg) -> LanguageModel:
    """The model named by `cfg` (a ModelConfig): a zoo name, a model folder, or a hub id."""
    from iclft.models.zoo import resolve

    return resolve(cfg.name, dtype=cfg.dtype, device=cfg.device)
