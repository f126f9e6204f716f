"""Scoring speed: prefix key/value reuse vs naive full forwards, `icl` condition of the reversal benchmark.

    python benchmarks/scoring.py [--model smollm2-135m] [--naive-items 10] [--dtype float32]

All facts in context (one document per fact), every test item scored with `LanguageModel.score`
(context run once, each prefix once for all its options). The naive way scores every option
with one full forward pass of context + prefix + option, on a sample of items. Prints time per
item both ways, the speed-up, and the largest log-prob difference between the two.
"""

from __future__ import annotations

import argparse
import random
import time

import torch

from iclft.benchmarks.reversal import make_reversal
from iclft.config import IclConfig, ModelConfig
from iclft.exposure.icl import icl_context
from iclft.models import ScoreRequest, load_model


def naive_logprob(lm, context: str, prefix: str, option: str) -> float:
    segments = lm.encode_segments([context, prefix, option])
    ids, n = sum(segments, []), len(segments[2])
    with torch.inference_mode():
        logits = lm.module(torch.tensor([ids], device=lm.device)).logits[0, -n - 1 : -1].float()
    return logits.log_softmax(-1).gather(-1, torch.tensor(ids[-n:], device=lm.device)[:, None]).sum().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-facts", type=int, default=100)
    parser.add_argument("--naive-items", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    bench = make_reversal(args.seed, n_facts=args.n_facts, docs_per_fact=10)
    context = icl_context(bench.documents, IclConfig(one_per_fact=True), args.seed)
    requests = [ScoreRequest(item.prefix, tuple(item.options)) for item in bench.items]

    t = time.perf_counter()
    lm = load_model(ModelConfig(name=args.model, dtype=args.dtype, device=args.device))
    print(
        f"model {lm.name} on {lm.device} ({args.dtype}), loaded in {time.perf_counter() - t:.1f} s, "
        f"{torch.get_num_threads()} threads"
    )
    print(
        f"context: {lm.count_tokens(context)} tokens ({args.n_facts} documents); "
        f"{len(requests)} items, {sum(len(r.options) for r in requests)} options"
    )

    t = time.perf_counter()
    cached = lm.score(requests, context=context, progress=True)
    reuse_s = (time.perf_counter() - t) / len(requests)

    sample = sorted(random.Random(args.seed).sample(range(len(requests)), args.naive_items))
    t = time.perf_counter()
    naive = {i: [naive_logprob(lm, context, requests[i].prefix, o) for o in requests[i].options] for i in sample}
    naive_s = (time.perf_counter() - t) / len(sample)

    diff = max(abs(a - b.logprob) for i in sample for a, b in zip(naive[i], cached[i]))
    print(f"reuse: {reuse_s * 1000:.1f} ms/item (all {len(requests)} items, context pass included)")
    print(f"naive: {naive_s * 1000:.1f} ms/item ({len(sample)} items, one full forward per option)")
    print(f"speed-up: {naive_s / reuse_s:.1f}x   largest |log-prob difference|: {diff:.2e}")


if __name__ == "__main__":
    main()
