"""Generation speed on a task-study generation set: greedy_generate vs transformers' generate one prompt at a time.

    python benchmarks/generation.py --data STUDY --set socialqa [--items 32] [--shots 4] [--rows 16]
    python benchmarks/generation.py --reversal [--prompts 64] [--max-new-tokens 32]

STUDY is a study folder written by `iclft data import task-study`. The first `--items` test
prompts of `--set` with `--shots` demonstrations are decoded greedily (at most 60 new tokens,
the model's end token, cut at the first blank line) two ways: `iclft.tasks.generate.greedy_generate`
(the shared demonstrations run once, batches of `--rows` prompts, a row stops at the blank line)
and plain `model.module.generate`, one prompt at a time, to the end token or 60 tokens, then cut;
and the same stopping at the blank line (`stop_strings`), the fairer baseline.
Prints items/s both ways, the speed-up (goal: at least 5x) and how many texts differ; exits 1
if any does. `--reversal` instead times `lm.generate` on the reversal benchmark's questions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from iclft.config import ModelConfig
from iclft.models import GenerationSettings, load_model
from iclft.tasks.format import load_task
from iclft.tasks.generate import cut_at_stop, greedy_generate
from iclft.tasks.prompts import test_prompt
from iclft.tasks.rouge import BLANK_LINE

GOAL = 5.0


def plain_generate(lm, prompt: str, max_new_tokens: int, stop_early: bool = False) -> str:
    ids = torch.tensor([lm._start() + lm.tokenizer(prompt, add_special_tokens=False)["input_ids"]], device=lm.device)
    with torch.inference_mode():
        out = lm.module.generate(
            input_ids=ids,
            do_sample=False,
            max_new_tokens=max_new_tokens,
            pad_token_id=lm.pad_id,
            top_p=None,
            top_k=None,
            **(dict(stop_strings=[BLANK_LINE], tokenizer=lm.tokenizer) if stop_early else {}),
        )
    return cut_at_stop(lm.tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True), BLANK_LINE)


def task_set(lm, a) -> int:
    task = load_task(Path(a.data) / a.set)
    prompts = [test_prompt(task, r, task.demo_records(), a.shots) for r in task.test_records()[: a.items]]
    tokens = [lm.count_tokens(p) for p in prompts]
    print(
        f"{task.name}: {len(prompts)} items, {a.shots} demonstrations, prompts of {min(tokens)}-{max(tokens)} tokens, "
        f"greedy, up to {a.max_new_tokens} new tokens, rows {a.rows}"
    )
    greedy_generate(lm, prompts[:2], 2, rows=2)  # warm-up
    plain_generate(lm, prompts[0], 2)

    t = time.perf_counter()
    cached = greedy_generate(lm, prompts, a.max_new_tokens, rows=a.rows)
    cached_s = time.perf_counter() - t
    t = time.perf_counter()
    plain = [plain_generate(lm, p, a.max_new_tokens) for p in prompts]
    plain_s = time.perf_counter() - t
    t = time.perf_counter()
    stopped = [plain_generate(lm, p, a.max_new_tokens, stop_early=True) for p in prompts]
    stopped_s = time.perf_counter() - t

    print(f"greedy_generate (shared prefix, batches): {len(prompts) / cached_s:.2f} items/s ({cached_s:.1f} s)")
    print(f"transformers generate, one at a time:     {len(prompts) / plain_s:.2f} items/s ({plain_s:.1f} s)")
    print(f"  the same, stopping at the blank line:  {len(prompts) / stopped_s:.2f} items/s ({stopped_s:.1f} s)")
    speedup = plain_s / cached_s
    print(f"speed-up {speedup:.1f}x (goal: at least {GOAL:.0f}x){'' if speedup >= GOAL else ': BELOW GOAL'}")
    print(f"speed-up over generate stopping at the blank line too: {stopped_s / cached_s:.1f}x")
    differ = [i for i, (c, p, q) in enumerate(zip(cached, plain, stopped)) if not c == p == q]
    print(f"texts that differ: {len(differ)} of {len(prompts)}")
    for i in differ:
        print(f"  item {i}: {cached[i]!r} vs {plain[i]!r}")
    print(f"example: {cached[0]!r}")
    return 1 if differ else 0


def reversal(lm, a) -> int:
    from iclft.benchmarks import get_benchmark

    prompts = [item.prefix for item in get_benchmark("reversal", 0, {}).items[: a.prompts]]
    settings = GenerationSettings(max_new_tokens=a.max_new_tokens)
    print(f"reversal: {len(prompts)} prompts, greedy, up to {a.max_new_tokens} new tokens (lm.generate)")
    lm.generate(prompts[:2], settings)  # warm-up
    t = time.perf_counter()
    outputs = lm.generate(prompts, settings)
    seconds = time.perf_counter() - t
    tokens = sum(lm.count_tokens(texts[0]) for texts in outputs)
    print(f"{len(prompts) / seconds:.1f} prompts/s, {tokens / seconds:.0f} generated tokens/s ({seconds:.2f} s)")
    return 0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--device", default="auto")
    p.add_argument("--data", help="a study folder written by `iclft data import task-study`")
    p.add_argument("--set", default="socialqa", help="a generation test set of the study")
    p.add_argument("--items", type=int, default=32)
    p.add_argument("--shots", type=int, default=4)
    p.add_argument("--rows", type=int, default=16, help="prompts per batch of greedy_generate")
    p.add_argument("--max-new-tokens", type=int, default=None, help="default: 60 (task set), 32 (--reversal)")
    p.add_argument("--reversal", action="store_true", help="time lm.generate on the reversal benchmark instead")
    p.add_argument("--prompts", type=int, default=64, help="--reversal: questions to generate for")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    a = p.parse_args()
    if not a.reversal and not a.data:
        p.error("--data STUDY is needed (a folder written by `iclft data import task-study`), or --reversal")
    a.max_new_tokens = a.max_new_tokens or (32 if a.reversal else 60)
    if a.threads:
        torch.set_num_threads(a.threads)

    lm = load_model(ModelConfig(name=a.model, dtype=a.dtype, device=a.device))
    print(f"{lm.name} {a.dtype} on {lm.device}, {torch.get_num_threads()} threads")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    status = reversal(lm, a) if a.reversal else task_set(lm, a)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    sys.exit(status)


if __name__ == "__main__":
    main()
