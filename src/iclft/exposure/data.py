"""The fine-tuning data of a run: documents → sentence splitting → FTICL demonstrations,
plus augmentations (split the same way; no demonstrations are put in front of them), plus
rehearsal documents (whole, as the file gives them)."""

from __future__ import annotations

import random

from iclft.benchmarks.schema import Benchmark
from iclft.config import ExperimentConfig, FinetuneConfig
from iclft.errors import UserError
from iclft.exposure.augment.records import Augmentation
from iclft.exposure.fticl import DemonstrationPicker, with_demonstrations
from iclft.exposure.splitting import split_document
from iclft.io import read_jsonl
from iclft.models.base import TrainExample


def training_examples(
    bench: Benchmark, config: ExperimentConfig, augmentations: list[Augmentation] = ()
) -> list[TrainExample]:
    mode = config.ft.split
    picker = DemonstrationPicker(bench.documents, config.fticl, config.seed) if config.cond.fticl else None
    examples = []
    for i, doc in enumerate(bench.documents):
        for example in split_document(doc.text, mode):
            examples.append(with_demonstrations(example, picker.pick(i)) if picker else example)
    for augmentation in augmentations:
        examples += split_document(augmentation.text, mode)
    if config.ft.rehearsal is not None:
        examples += rehearsal_examples(config.ft, len(examples), config.seed)
    return examples


def rehearsal_examples(cfg: FinetuneConfig, n_examples: int, seed: int) -> list[TrainExample]:
    """round(`cfg.rehearsal_ratio` × `n_examples`) documents of the rehearsal file in a seeded
    order, each used once before any is used again."""
    texts = read_rehearsal(cfg.rehearsal)
    order = random.Random(seed).sample(range(len(texts)), len(texts))
    return [TrainExample(texts[order[i % len(texts)]]) for i in range(round(cfg.rehearsal_ratio * n_examples))]


def read_rehearsal(path: str) -> list[str]:
    """The documents of a rehearsal file: one {"text": "..."} object per line."""
    texts = []
    for lineno, record in enumerate(read_jsonl(path), 1):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise UserError(f'ft.rehearsal {path}: record {lineno} has no "text" string')
        texts.append(text)
    if not texts:
        raise UserError(f"ft.rehearsal {path}: no documents")
    return texts
