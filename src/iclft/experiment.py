"""One experiment: benchmark → exposure → scoring, into a content-addressed run directory.

    <runs_dir>/<slug>-<hash>/      a finished run (never recomputed)
        config.yaml                the resolved config
        samples.jsonl              every item: options, per-option log-prob and token count, predictions
        metrics.json               accuracy per split, computed from samples.jsonl
        train_log.jsonl            fine-tuning conditions: one line per optimizer step
        augmentations.jsonl        ft_aug / icl_aug: the statements added, with audit verdicts
        augmentation.json          ft_aug / icl_aug: audit summary and token accounting
    <runs_dir>/.<slug>-<hash>.<pid>-<random>.partial/   a run in progress; renamed into place when complete
    <runs_dir>/checkpoints/<key>/  fine-tuned weights, shared by `ft` and `ft+icl` runs (exposure/checkpoint.py)
    <runs_dir>/generations/        the generation cache of the augmenters (one file per prompt)
    <runs_dir>/.locks/             one lock file per run or checkpoint being computed

The names are those of `iclft.runs.layout`; folders are written with `iclft.runs.atomic.atomic_dir`.
A failure removes the partial folder (a hard kill may leave it; the next attempt deletes it).
A run and a checkpoint are computed under an exclusive lock (`iclft.runs.lock`): two processes
running the same config do the work once, and the second reuses the result.
Fine-tuned weights are saved before scoring, so a crash while scoring does not repeat training.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from iclft import distributed
from iclft.benchmarks import get_benchmark
from iclft.benchmarks.schema import Benchmark, content_hash
from iclft.config import ExperimentConfig, load_config
from iclft.errors import UserError
from iclft.evaluation.metrics import compute_metrics
from iclft.evaluation.scoring import score_items
from iclft.exposure.augment import AugmentResult, build_augmentations
from iclft.exposure.checkpoint import is_checkpoint, load_checkpoint, save_checkpoint
from iclft.exposure.data import training_examples
from iclft.exposure.finetune import check_parallel, finetune
from iclft.io import atomic_write_text, read_jsonl, write_json, write_jsonl
from iclft.provenance import collect as collect_provenance
from iclft.provenance import is_current, model_fingerprint
from iclft.runs import layout
from iclft.runs.atomic import atomic_dir
from iclft.runs.lock import exclusive


def run_dir_for(config: ExperimentConfig, runs_dir: str | Path) -> Path:
    return Path(runs_dir) / config.slug()


def is_finished(run_dir: Path) -> bool:
    """Finished (`iclft.runs.layout.is_finished`), scored with the weights its model points to
    now (`iclft.provenance.is_current`) and on the items its benchmark generates now: a run
    that may be reused instead of computed."""
    return layout.is_finished(run_dir) and is_current(run_dir) and _same_benchmark(run_dir)


def _same_benchmark(run_dir: Path) -> bool:
    """A generated benchmark is named by its generator, seed and parameters; when a newer iclft
    generates other items for them, the run's recorded `benchmark_sha256` no longer matches and
    the run is recomputed. (A benchmark folder's content is part of the run's hash already.)"""
    try:
        recorded = json.loads((run_dir / layout.METRICS).read_text()).get("benchmark_sha256")
        config = load_config(run_dir / layout.CONFIG)
    except (OSError, ValueError, AttributeError, UserError):
        return False
    if not recorded or config.benchmark.path is not None:
        return True
    return generated_benchmark_sha256(config) == recorded


def generated_benchmark_sha256(config: ExperimentConfig) -> str:
    b = config.benchmark
    return _generated_sha256(b.name, b.seed, json.dumps(b.params, sort_keys=True))


@functools.lru_cache(maxsize=64)
def _generated_sha256(name: str, seed: int, params_json: str) -> str:
    return content_hash(get_benchmark(name, seed, json.loads(params_json)))


def run_experiment(config: ExperimentConfig, runs_dir: str | Path = "runs", progress: bool = True) -> Path:
    """Run `config` unless its run directory is already finished; return that directory.

    The run is computed under an exclusive lock on its name, so a second process running the
    same config waits and then reuses the finished directory. Started as several processes
    (`iclft.distributed`), the main process runs the experiment and the others help it fine-tune."""
    if distributed.is_distributed():
        return _run_distributed(config, Path(runs_dir), progress)
    return _run(config, Path(runs_dir), progress)


def _run_distributed(config: ExperimentConfig, runs_dir: Path, progress: bool) -> Path:
    from iclft.models.hf import pick_device

    if config.cond.fine_tunes:
        check_parallel(config.ft, distributed.world_size())  # every process fails alike, before any work
    distributed.accelerator(pick_device(config.model.device))  # every process joins the group
    if not distributed.is_main():
        _help_finetune(config)
        return run_dir_for(config, runs_dir)
    try:
        return _run(config, runs_dir, progress)
    finally:
        with contextlib.suppress(RuntimeError):  # a helper that failed is gone already
            distributed.send_work(None)


def _help_finetune(config: ExperimentConfig) -> None:
    """A helper process: train alongside the main process whenever it sends training work."""
    from iclft.models import load_model

    while (work := distributed.receive_work()) is not None:
        examples, ft, seed = work
        finetune(load_model(config.model), examples, ft, seed=seed, progress=False)


def _run(config: ExperimentConfig, runs_dir: Path, progress: bool) -> Path:
    final = run_dir_for(config, runs_dir)
    if is_finished(final):
        return final
    with exclusive(runs_dir, final.name):
        if is_finished(final):
            return final
        if final.exists() and not layout.is_finished(final):  # an older layout or a manual copy
            shutil.rmtree(final)
        _compute(config, runs_dir, final, progress)  # replaces a run scored with other weights
    return final


def _compute(config: ExperimentConfig, runs_dir: Path, final: Path, progress: bool) -> None:
    bench = get_benchmark(config.benchmark.name, config.benchmark.seed, config.benchmark.params, config.benchmark.path)
    from iclft.models import load_model

    lm = load_model(config.model)
    augmented = _augment(config, bench, lm, runs_dir, progress)  # before fine-tuning changes `lm`
    contexts = _contexts(config, bench, augmented)
    for context, items in contexts:
        if context:
            _check_fits(lm, context, items, config)

    with atomic_dir(final, replace=True) as partial:
        atomic_write_text(partial / layout.CONFIG, config.to_yaml())
        extra: dict[str, Any] = {
            "benchmark_sha256": content_hash(bench),
            "context_tokens": max(lm.count_tokens(context) for context, _ in contexts),
            "provenance": collect_provenance(lm, config.model),
        }
        if len(contexts) > 1:
            extra["contexts"] = len(contexts)
        if augmented:
            extra["augmentation"] = _write_augmentation(partial, augmented, lm, config, bench)
        if config.cond.fine_tunes:
            ckpt = _finetuned(lm, config, bench, augmented, runs_dir, progress)
            shutil.copyfile(ckpt / layout.TRAIN_LOG, partial / layout.TRAIN_LOG)
            extra["finetune"] = json.loads((ckpt / layout.CHECKPOINT_SUMMARY).read_text())
        samples = [s for context, items in contexts for s in score_items(lm, items, context=context, progress=progress)]
        write_jsonl(partial / layout.SAMPLES, samples)
        metrics = compute_metrics(read_jsonl(partial / layout.SAMPLES), config.scoring.normalization)
        write_json(
            partial / layout.METRICS, {**metrics, **extra, "condition": config.condition, "benchmark": bench.name}
        )


def _augment(config: ExperimentConfig, bench: Benchmark, lm, runs_dir: Path, progress: bool) -> AugmentResult | None:
    if not config.cond.augmented:
        return None
    return build_augmentations(bench, config.augment, config.model, lm, runs_dir, config.seed, progress)


def _write_augmentation(
    run_dir: Path, augmented: AugmentResult, lm, config: ExperimentConfig, bench: Benchmark
) -> dict:
    """augmentations.jsonl and augmentation.json; returns what metrics.json keeps of them.

    The accounting sets the tokens spent on augmentation (training time) beside the tokens
    the `icl` condition processes at test time (its context once per question, without
    cache reuse; and once in all, with it)."""
    from iclft.exposure.icl import icl_context

    write_jsonl(run_dir / "augmentations.jsonl", augmented.records())
    icl_tokens = lm.count_tokens(icl_context(bench.documents, config.icl, config.seed))
    accounting = {
        "augmentation": augmented.accounting,
        "icl_test_time": {
            "context_tokens": icl_tokens,
            "questions": len(bench.items),
            "tokens_without_cache_reuse": icl_tokens * len(bench.items),
        },
    }
    summary = {"method": config.augment.method, "audit": augmented.audit, "accounting": accounting}
    write_json(run_dir / "augmentation.json", summary)
    return summary


def _contexts(config: ExperimentConfig, bench: Benchmark, augmented: AugmentResult | None = None):
    """(context, items) pairs: one context for all items, or one per group of facts
    (`icl.facts_per_context`); the context is empty for conditions without one."""
    if not config.cond.uses_context:
        return [("", bench.items)]
    from iclft.exposure.icl import fact_groups, icl_aug_context, icl_context

    out = []
    for docs, items in fact_groups(bench.documents, bench.items, config.icl.facts_per_context):
        if augmented is not None:
            out.append((icl_aug_context(docs, augmented.augmentations, config.icl, config.seed), items))
        else:
            out.append((icl_context(docs, config.icl, config.seed), items))
    return out


def _check_fits(lm, context: str, items, config: ExperimentConfig) -> None:
    """Fail before any work when context + the longest question and option exceed the model."""
    from iclft.errors import UserError

    longest = max(lm.count_tokens(item.prefix + " " + option) for item in items for option in item.options)
    needed = lm.count_tokens(context) + longest + 2
    if needed > lm.max_length:
        raise UserError(
            f"{config.condition}: the context needs {needed} tokens but {config.model.name} accepts "
            f"{lm.max_length}; set icl.subsample below 1, icl.one_per_fact: true or icl.facts_per_context"
        )


def checkpoint_key(config: ExperimentConfig) -> str:
    """What determines the fine-tuned weights: benchmark (its content, for a folder), model,
    fine-tuning settings (sentence splitting included), seed, and the augmentation or FTICL
    settings that change the data. Like the run hash, only settings away from their defaults count."""
    data = config.hashed_fields()
    key = {k: data[k] for k in ("benchmark", "model", "ft", "seed", "hash_schema") if k in data}
    if config.cond.augmented:
        key["augment"] = data.get("augment", {})
    if config.cond.fticl:
        key["fticl"] = data.get("fticl", {})
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return f"{config.benchmark.name}-{Path(config.model.name).name}-{config.ft.method}-{digest}"


def _finetuned(
    lm, config: ExperimentConfig, bench: Benchmark, augmented: AugmentResult | None, runs_dir: Path, progress: bool
) -> Path:
    """Fine-tune `lm` in place, or load the weights an earlier run saved; return the checkpoint.
    Training holds the checkpoint's lock, so runs sharing it never train it twice at once."""
    key = checkpoint_key(config)
    ckpt = layout.checkpoint_dir(runs_dir, key)
    recorded = (model_fingerprint(config.model.name), content_hash(bench))  # what the checkpoint must match
    with exclusive(runs_dir, layout.checkpoint_lock(key)):
        if not is_checkpoint(ckpt, *recorded):
            if ckpt.exists():
                shutil.rmtree(ckpt)
            _train_checkpoint(lm, config, bench, augmented, ckpt, recorded, progress)
            return ckpt
    load_checkpoint(lm, ckpt)
    return ckpt


def _train_checkpoint(
    lm,
    config: ExperimentConfig,
    bench: Benchmark,
    augmented: AugmentResult | None,
    ckpt: Path,
    recorded: tuple[str | None, str],
    progress: bool,
) -> None:
    with atomic_dir(ckpt) as tmp:
        examples = training_examples(bench, config, augmented.augmentations if augmented else [])
        distributed.send_work((examples, config.ft, config.seed))  # the other processes train too
        summary = finetune(
            lm, examples, config.ft, seed=config.seed, log_path=tmp / layout.TRAIN_LOG, progress=progress
        )
        save_checkpoint(lm, tmp, summary, *recorded)
