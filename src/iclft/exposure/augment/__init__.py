"""Augmentation: statements added to the training data (`ft_aug`) or the context (`icl_aug`).

    method   local   per document or sentence, a few-shot prompt for rephrasings and reversals
             global  the corpus (a subsample that fits) plus one target document, asking for
                     the inferences that link it to the rest
             both    local and global together
             oracle  the true reversals and deductions from the ground truth (a control)

Model-written statements go through the generation cache (cache.py), are split into complete
sentences, deduplicated (also against the training sentences), and audited against the
benchmark's ground truth where the benchmark is covered (audit.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from iclft.benchmarks.schema import Benchmark, Document
from iclft.config import AugmentConfig, ModelConfig
from iclft.exposure.splitting import split_sentences
from iclft.models.base import GenerationSettings

from .audit import audit_statements
from .augmenter import Augmenter
from .cache import GenerationCache, generate_cached
from .oracle import oracle_augmentations
from .parse import Deduplicator, parse_statements
from .prompts import Prompt, global_prompts, local_prompts
from .records import Augmentation
from .templates import load_template

STOP = ["\n\n", "Statement:"]
BUDGET_MARGIN = 8


@dataclass
class AugmentResult:
    augmentations: list[Augmentation]
    audit: dict
    verdicts: list[list[str | None]]  # per augmentation, per statement
    accounting: dict = field(default_factory=dict)

    def records(self) -> list[dict]:
        return [{**a.record(), "verdicts": v} for a, v in zip(self.augmentations, self.verdicts)]


def build_augmentations(
    bench: Benchmark,
    cfg: AugmentConfig,
    studied_model: ModelConfig,
    studied_lm,
    runs_dir: str | Path,
    seed: int,
    progress: bool = True,
) -> AugmentResult:
    """The augmentations of `bench` under `cfg`, generated or read from the cache."""
    if cfg.method == "oracle":
        augmentations = oracle_augmentations(bench, cfg.samples, seed)
        accounting = {"prompts": 0, "prompt_tokens": 0, "generated_tokens": 0}
    else:
        augmenter = Augmenter(cfg.generator, studied_model, studied_lm)
        prompts = _prompts(bench, cfg, augmenter, seed)
        cache_dir = Path(runs_dir) / "generations"
        augmentations, accounting = _generate(bench, cfg, augmenter, prompts, cache_dir, seed, progress)
    statements = [s for a in augmentations for s in a.statements]
    summary, flat = audit_statements(bench, statements)
    verdicts, i = [], 0
    for a in augmentations:
        verdicts.append(flat[i : i + len(a.statements)])
        i += len(a.statements)
    accounting.update(method=cfg.method, augmentations=len(augmentations), statements=len(statements))
    return AugmentResult(augmentations, summary, verdicts, accounting)


def augment_targets(documents: list[Document], cfg: AugmentConfig, seed: int) -> list[Document]:
    """Every document, or one seeded document per fact (documents stating no fact are kept)."""
    if not cfg.one_per_fact:
        return documents
    rng = random.Random(f"augment-targets:{seed}")
    by_fact: dict[str, list[Document]] = {}
    chosen = []
    for doc in documents:
        (by_fact.setdefault(doc.fact_ids[0], []) if doc.fact_ids else chosen).append(doc)
    chosen += [rng.choice(docs) for docs in by_fact.values()]
    order = {doc.id: i for i, doc in enumerate(documents)}
    return sorted(chosen, key=lambda d: order[d.id])


def _prompts(bench: Benchmark, cfg: AugmentConfig, augmenter: Augmenter, seed: int) -> list[Prompt]:
    targets = augment_targets(bench.documents, cfg, seed)
    prompts: list[Prompt] = []
    if cfg.method in ("local", "both"):
        prompts += local_prompts(targets, load_template("local", cfg.local_template), cfg.unit)
    if cfg.method in ("global", "both"):
        template = load_template("global", cfg.global_template)
        lm = augmenter.get()
        budget = cfg.global_context_tokens or lm.max_length - cfg.max_new_tokens - BUDGET_MARGIN
        prompts += global_prompts(
            bench.documents, targets, template, lm.count_tokens, budget, cfg.global_subsample, seed
        )
    return prompts


def _generate(
    bench, cfg: AugmentConfig, augmenter: Augmenter, prompts: list[Prompt], cache_dir: Path, seed: int, progress: bool
):
    settings = GenerationSettings(
        max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        num_samples=cfg.samples,
        seed=seed,
        stop=list(STOP),
    )
    records, counts = generate_cached(
        augmenter.get,
        augmenter.model_id,
        [p.text for p in prompts],
        settings,
        GenerationCache(cache_dir),
        batch_size=cfg.batch_size,
        progress=progress,
    )
    dedupe = Deduplicator([s for doc in bench.documents for s in split_sentences(doc.text)])
    augmentations = []
    for prompt, record in zip(prompts, records):
        for sample, output in enumerate(record["outputs"]):
            statements = parse_statements(output)
            statements = statements if cfg.keep_duplicates else dedupe.keep(statements)
            if statements:
                augmentations.append(
                    Augmentation(prompt.method, prompt.source, prompt.fact_ids, sample, tuple(statements))
                )
    accounting = {
        **counts,
        "generator": augmenter.model_id,
        "prompt_tokens": sum(r["prompt_tokens"] for r in records),
        "generated_tokens": sum(r["generated_tokens"] for r in records),
        "duplicates_dropped": dedupe.dropped,  # 0 with keep_duplicates
    }
    return augmentations, accounting


__all__ = ["AugmentResult", "Augmentation", "augment_targets", "build_augmentations"]
