"""Classification speed on a task-study set: batches of similar length against batches in file order.

    python benchmarks/classification.py --data STUDY --set yelp [--items 48] [--shots 4] [--rows 8] [--bf16]

STUDY is a study folder written by `iclft data import task-study`. The first `--items` test
prompts of `--set` with `--shots` demonstrations are scored by `iclft.tasks.score_prompts`
(both readings, one row per item) twice: as iclft does it, with items batched longest first,
and with batches in file order, as iclft did before. Prints seconds per item both ways, the share
of each batch's tokens that is padding, and the largest difference in a label log-probability
between the two. In fp32 the two agree to rounding and the script exits 1 if a prediction
differs; under `--bf16` the rounding depends on the batch's shapes (log-probabilities moved by up
to 0.2 on yelp), so differences are printed, not failed. Set OMP_NUM_THREADS to pin the threads.
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch

from iclft.config import ModelConfig
from iclft.models import load_model
from iclft.tasks import classify
from iclft.tasks.format import load_task
from iclft.tasks.prompts import test_prompt


def in_file_order(lengths, rows):
    rows = max(1, rows)
    return [list(range(i, min(i + rows, len(lengths)))) for i in range(0, len(lengths), rows)]


@contextmanager
def batches_in_file_order():
    sorted_batches = classify.length_batches
    classify.length_batches = in_file_order
    try:
        yield
    finally:
        classify.length_batches = sorted_batches


def padding_share(widths, batches) -> float:
    padded = sum(len(b) * max(widths[i] for i in b) for b in batches)
    return 1 - sum(widths) / padded


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--set", default="yelp")
    p.add_argument("--items", type=int, default=48)
    p.add_argument("--shots", type=int, default=4)
    p.add_argument("--rows", type=int, default=8)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--bf16", action="store_true", help="score under bf16 autocast, as the study's tiers do")
    a = p.parse_args(argv)

    lm = load_model(ModelConfig(name=a.model))
    task = load_task(Path(a.data) / a.set)
    prompts = [test_prompt(task, r, task.demo_records(), a.shots) for r in task.test_records()[: a.items]]
    widths = [lm.count_tokens(p) for p in prompts]  # labels are a token or two: the prompt decides the width
    print(
        f"{task.name}: {len(prompts)} items, {a.shots} demonstrations, prompts of {min(widths)}-{max(widths)} "
        f"tokens, rows {a.rows}, {torch.get_num_threads()} threads{', bf16 autocast' if a.bf16 else ''}"
    )
    autocast = torch.autocast(lm.device.type, torch.bfloat16) if a.bf16 else nullcontext()
    score = lambda: classify.score_prompts(lm, prompts, task.labels, task.name, rows=a.rows)  # noqa: E731
    with autocast:
        score()  # warm-up
        t = time.perf_counter()
        by_length = score()
        sorted_s = time.perf_counter() - t
        with batches_in_file_order():
            t = time.perf_counter()
            in_order = score()
            order_s = time.perf_counter() - t

    n = len(prompts)
    print(
        f"longest first: {sorted_s / n:.3f} s per item, padding {padding_share(widths, classify.length_batches(widths, a.rows)):.0%}"
    )
    print(
        f"file order:    {order_s / n:.3f} s per item, padding {padding_share(widths, in_file_order(widths, a.rows)):.0%}"
    )
    print(f"speed-up {order_s / sorted_s:.2f}x")
    gap = max(
        abs(x["label_logprobs"][label] - y["label_logprobs"][label])
        for x, y in zip(by_length, in_order)
        for label in task.labels
    )
    differ = sum(
        x["first_token_pred"] != y["first_token_pred"] or x["full_label_pred"] != y["full_label_pred"]
        for x, y in zip(by_length, in_order)
    )
    print(f"largest label log-probability difference {gap:.2g}; predictions that differ: {differ} of {n}")
    return 1 if differ and not a.bf16 else 0


if __name__ == "__main__":
    sys.exit(main())
