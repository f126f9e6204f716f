"""The fine-tuning data of a run: documents → sentence splitting → FTICL demonstrations,
plus augmentations (split the same way; no demonstrations are put in front of them)."""

from __future__ import annotations

from iclft.benchmarks.schema import Benchmark
from iclft.config import ExperimentConfig
from iclft.exposure.augment.records import Augmentation
from iclft.exposure.fticl import DemonstrationPicker, with_demonstrations
from iclft.exposure.splitting import split_document
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
    return examples
