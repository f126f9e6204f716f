"""Generation speed: greedy answers to the reversal benchmark's questions through `lm.generate`.

    python benchmarks/generation.py [--model smollm2-135m] [--prompts 64] [--max-new-tokens 32]

The first `--prompts` test questions as prompts (batched by `TransformersModel.generate`), greedy
decoding. Prints prompts/s and generated tokens/s (tokens of the returned texts).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from iclft.benchmarks import get_benchmark
from iclft.config import ModelConfig
from iclft.models import GenerationSettings, load_model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    p.add_argument("--device", default="auto")
    p.add_argument("--prompts", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=32)
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    prompts = [item.prefix for item in get_benchmark("reversal", 0, {}).items[: a.prompts]]
    lm = load_model(ModelConfig(name=a.model, dtype=a.dtype, device=a.device))
    settings = GenerationSettings(max_new_tokens=a.max_new_tokens)
    print(f"{lm.name} {a.dtype} on {lm.device}, {len(prompts)} prompts, greedy, up to {a.max_new_tokens} new tokens")
    print(f"load average at start: {os.getloadavg()[0]:.2f}, {torch.get_num_threads()} threads")
    lm.generate(prompts[:2], settings)  # warm-up
    t = time.perf_counter()
    outputs = lm.generate(prompts, settings)
    seconds = time.perf_counter() - t
    tokens = sum(lm.count_tokens(texts[0]) for texts in outputs)
    print(f"{len(prompts) / seconds:.1f} prompts/s, {tokens / seconds:.0f} generated tokens/s ({seconds:.2f} s)")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
