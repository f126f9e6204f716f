"""iclft's scoring side by side with lm-evaluation-harness, and against the FLOP floor.

    python benchmarks/vs_lmeval.py [--items 10] [--threads 2] [--model smollm2-135m] [--dtype float32]

The `icl` condition of the reversal benchmark as the SmolLM2 quickstart runs it (default
benchmark, seed 0, `icl.one_per_fact: true`: all 100 facts, 1,563 tokens; the plain `IclConfig()`
would put all 1,000 documents in context, 15,493 tokens, over SmolLM2's 8,192), all 200 test
items. A seeded sample of items (their ids are printed) is scored two ways:

- lm-eval's `HFLM.loglikelihood` (the installed lm-eval, on the same loaded model), one request
  per option: context = start-of-text + context and question joined as iclft joins them
  (`join_segments`, less a question's trailing whitespace, which moves into the continuation),
  continuation = the option with iclft's separator. The token ids are
  checked to equal iclft's before anything is timed.
- iclft's `TransformersModel.score` with the context cached: timed over all items (its context
  pass included) `--repeats` times, each repetition between two measurements of the matmul
  peak, and over the sample alone.

Prints seconds per item each way, the ratio, the largest per-option log-likelihood difference,
and iclft's time as a multiple of the FLOP floor: 2 × linear weights × tokens that must run
(context once, each question and option token once) + the output head at the scored positions
+ attention over the (query, key) pairs of the tree layout, at this machine's matmul peak
measured here (`flops.py`): per repetition against the better of its own two peaks, and the
median of the repetitions. Load averages at start and end: other work on the cores slows all.

`--profile` adds one pass under the torch profiler and splits its time by kernel: the matrix
multiplications (linear layers and head), the attention kernel and the rest, each with its
share of the time and, for the first two, their FLOPs of the floor per second as a share of
the peak measured just before: where the multiple of the floor comes from.

Goals: iclft ≥ 80× faster per item than lm-eval; largest difference ≤ 1e-4; iclft within
1.5× the FLOP floor.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

import torch
from flops import Shape, attention_flops, linear_params, matmul_peak, scoring_work

from iclft.benchmarks import get_benchmark
from iclft.config import IclConfig, ModelConfig
from iclft.exposure.icl import icl_context
from iclft.models import ScoreRequest, load_model
from iclft.models.base import segment_texts
from iclft.models.pack_attention import CHUNK
from iclft.models.packing import Pack, make_packs


def harness_pairs(lm, context: str, request: ScoreRequest) -> list[tuple[str, str]]:
    """(context, continuation) strings for lm-eval, one per option, that tokenize as iclft does:
    start-of-text text first (the harness adds no special tokens to a string that starts with
    it), then context and question as `segment_texts` splits them (`join_segments([context,
    prefix])` less a question's trailing whitespace, which goes with each option), then the
    option with its separator."""
    bos = lm.tokenizer.convert_ids_to_tokens(lm.bos_id) if lm.bos_id is not None else ""
    pairs = []
    for option in request.options:
        ctx, prefix, continuation = segment_texts([context, request.prefix, option])
        pairs.append((bos + ctx + prefix, continuation))
    return pairs


def harness_loglikelihoods(hflm, pairs: list[tuple[str, str]]) -> list[float]:
    from lm_eval.api.instance import Instance

    instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    return [ll for ll, _ in hflm.loglikelihood(instances, disable_tqdm=True)]


def same_tokens(lm, hflm, context: str, request: ScoreRequest) -> bool:
    """Whether lm-eval turns `harness_pairs` into the token ids iclft scores."""
    return all(
        hflm._encode_pair(text, continuation) == (ctx + prefix, ours)
        for option, (text, continuation) in zip(request.options, harness_pairs(lm, context, request))
        for ctx, prefix, ours in [lm.encode_segments([context, request.prefix, option])]
    )


def attended_pairs(pack: Pack, n_ctx: int, chunk: int) -> int:
    """(query, key) pairs `packed_attention` computes for one pack: each chunk of rows against the
    context and the pack columns from the first one its rows see to its own end."""
    first = [see if see < end else own for see, end, own in zip(pack.see_from, pack.prefix_end, pack.own_from)]
    rows = len(pack)
    if rows <= chunk:
        return rows * (n_ctx + rows)
    return sum(
        (min(a + chunk, rows) - a) * (n_ctx + min(a + chunk, rows) - min(first[a : a + chunk]))
        for a in range(0, rows, chunk)
    )


def peaks_now(lm) -> dict:
    """This machine's matmul peak in fp32 and bf16 right now (best of 10)."""
    return {dt: matmul_peak(dt, reps=10, device=str(lm.device)) for dt in (torch.float32, torch.bfloat16)}


def kernel_times(lm, requests, context) -> dict[str, float]:
    """Seconds of one scoring pass under the profiler, by kind of kernel: "matmuls" (linear
    layers and head), "attention" and "rest"."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if lm.device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        lm.score(requests, context=context)
    times = {"matmuls": 0.0, "attention": 0.0, "rest": 0.0}
    for event in prof.key_averages():
        us = event.self_device_time_total if lm.device.type == "cuda" else event.self_cpu_time_total
        if event.key in ("aten::mm", "aten::addmm", "aten::bmm") or "gemm" in event.key:
            kind = "matmuls"
        elif "attention" in event.key:
            kind = "attention"
        else:
            kind = "rest"
        times[kind] += us / 1e6
    return times


def print_kernel_times(lm, requests, context, work, shape) -> None:
    """Where the multiple of the floor comes from: each kind of kernel's time, share, FLOP rate
    (the floor's FLOPs of its kind) as a share of the peak measured just before."""
    peak = matmul_peak(lm.dtype)
    times = kernel_times(lm, requests, context)
    total, floor = sum(times.values()), work.flops(shape) / peak
    att_flops = attention_flops(shape, work.pairs)
    flops = {"matmuls": work.flops(shape) - att_flops, "attention": att_flops}
    print(f"profiled pass ({total:.2f} s of kernel time; peak just before: {peak / 1e9:.0f} GFLOP/s):")
    for kind, t in times.items():
        rate = f"{flops[kind] / t / 1e9:5.0f} GFLOP/s = {flops[kind] / t / peak:4.0%} of peak" if kind in flops else ""
        print(f"  {kind:9} {t:6.2f} s {t / total:4.0%} = {t / floor:.2f}x the floor  {rate}")
    print(f"  in all {total / floor:.2f}x the floor (profiler overhead included)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--device", default="auto")
    p.add_argument("--items", type=int, default=10, help="items scored by lm-eval (a seeded sample)")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--harness-batch", type=int, default=1, help="lm-eval batch size")
    p.add_argument("--repeats", type=int, default=3, help="timed passes over all items, each between peak measurements")
    p.add_argument("--skip-harness", action="store_true", help="only iclft and the FLOP floor")
    p.add_argument("--profile", action="store_true", help="one more pass under the profiler, split by kernel")
    p.add_argument("--pack-tokens", type=int, default=None, help="iclft pack size (default: the model's, 1,024)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {a.threads} threads")

    bench = get_benchmark("reversal", a.seed, {})
    context = icl_context(bench.documents, IclConfig(one_per_fact=True), a.seed)
    requests = [ScoreRequest(item.prefix, tuple(item.options)) for item in bench.items]
    sample = sorted(random.Random(a.seed).sample(range(len(requests)), min(a.items, len(requests))))
    lm = load_model(ModelConfig(name=a.model, dtype=a.dtype, device=a.device))
    print(
        f"model {lm.name} ({a.dtype}, {lm.device}); context {lm.count_tokens(context)} tokens; "
        f"{len(requests)} items, {sum(len(r.options) for r in requests)} options"
    )
    print(f"sample ({len(sample)} items): {' '.join(bench.items[i].id for i in sample)}")

    if a.pack_tokens:
        lm.pack_tokens = a.pack_tokens
    # Each repetition scores every item between two peak measurements; its multiple of the
    # floor uses the better of its own two peaks, so a slow stretch of the machine between
    # repetitions does not count against another one.
    lm.score(requests[:2], context=context)  # warm-up
    runs = []  # (wall s/item, CPU s/item, {dtype: peak FLOP/s around it})
    for _ in range(a.repeats):
        before = peaks_now(lm)
        t, cpu = time.perf_counter(), time.process_time()
        ours = lm.score(requests, context=context)
        wall, cpu = (time.perf_counter() - t) / len(requests), (time.process_time() - cpu) / len(requests)
        after = peaks_now(lm)
        runs.append((wall, cpu, {dt: max(before[dt], after[dt]) for dt in before}))
    ours_s = statistics.median(wall for wall, _, _ in runs)
    ours_cpu = statistics.median(cpu for _, cpu, _ in runs)
    t = time.perf_counter()
    lm.score([requests[i] for i in sample], context=context)
    ours_sample_s = (time.perf_counter() - t) / len(sample)
    print(
        f"iclft:  {ours_s * 1000:.1f} ms/item over all {len(requests)} items, median of {len(runs)} "
        f"({', '.join(f'{wall * 1000:.1f}' for wall, _, _ in runs)}; context pass included; "
        f"CPU time {ours_cpu * 1000:.1f} ms/item over all threads)"
    )
    print(f"iclft:  {ours_sample_s * 1000:.1f} ms/item over the sample alone (its own context pass included)")

    if not a.skip_harness:
        from lm_eval.models.huggingface import HFLM

        hflm = HFLM(pretrained=lm.module, tokenizer=lm.tokenizer, batch_size=a.harness_batch)
        for i in sample:
            if not same_tokens(lm, hflm, context, requests[i]):
                raise SystemExit(f"lm-eval tokenizes item {bench.items[i].id} differently from iclft")
        pairs = [pair for i in sample for pair in harness_pairs(lm, context, requests[i])]
        t = time.perf_counter()
        theirs = harness_loglikelihoods(hflm, pairs)
        theirs_s = (time.perf_counter() - t) / len(sample)
        ours_flat = [s.logprob for i in sample for s in ours[i]]
        diff = max(abs(x - y) for x, y in zip(ours_flat, theirs, strict=True))
        print(f"lm-eval: {theirs_s:.2f} s/item over the sample (batch size {a.harness_batch}; same token ids)")
        print(
            f"ratio: {theirs_s / ours_s:.0f}x (all items), {theirs_s / ours_sample_s:.0f}x (sample alone)   "
            f"largest |log-likelihood difference|: {diff:.2e}"
        )

    shape = Shape.of(lm.module.config)
    ctx_ids, encoded, _ = lm.encode_requests(requests, context)
    n_ctx = len(ctx_ids)
    work = scoring_work(n_ctx, [(len(e.prefix), [len(o) for o in e.options]) for e in encoded])
    packs = make_packs(encoded, lm.pack_tokens)
    computed_pairs = sum(attended_pairs(pk, n_ctx, CHUNK) for pk in packs) + n_ctx * (n_ctx + 1) // 2
    peak = statistics.median(peaks[lm.dtype] for _, _, peaks in runs)
    floor_s = work.flops(shape) / peak / len(requests)
    multiples = [wall / (work.flops(shape) / peaks[lm.dtype] / len(requests)) for wall, _, peaks in runs]
    att = 4 * shape.n_layers * shape.d_attn * work.pairs / work.flops(shape)
    for dt in (torch.float32, torch.bfloat16):
        print(
            f"matmul peak {str(dt).removeprefix('torch.')} (2048x2048, best of 10 before and after each repetition): "
            + ", ".join(f"{peaks[dt] / 1e9:.0f}" for _, _, peaks in runs)
            + " GFLOP/s"
        )
    print(
        f"floor: {work.tokens} tokens x 2 x {linear_params(shape) / 1e6:.1f}M linear weights + head at "
        f"{work.head_positions} positions + attention over {work.pairs / 1e6:.1f}M pairs ({att:.0%} of FLOPs) "
        f"= {work.flops(shape) / 1e12:.2f} TFLOP = {floor_s * 1000:.1f} ms/item at {peak / 1e9:.0f} GFLOP/s"
    )
    print(
        f"iclft: {statistics.median(multiples):.2f}x the floor, median of {len(multiples)} repetitions "
        f"({', '.join(f'{m:.2f}' for m in multiples)})   (its attention computes {computed_pairs / 1e6:.1f}M pairs: "
        f"chunks of {CHUNK} rows, "
        f"{len(packs)} packs of <= {lm.pack_tokens} tokens)"
    )
    if a.profile:
        print_kernel_times(lm, requests, context, work, shape)
    if a.threads == 1 and lm.device.type == "cpu":  # one thread: CPU time is the work done, whatever the load
        cpu_peak = matmul_peak(lm.dtype, clock=time.process_time)
        cpu_floor = work.flops(shape) / cpu_peak / len(requests)
        print(
            f"by CPU time: peak {cpu_peak / 1e9:.0f} GFLOP/s, floor {cpu_floor * 1000:.1f} ms/item, "
            f"iclft {ours_cpu * 1000:.1f} ms/item = {ours_cpu / cpu_floor:.2f}x the floor"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
