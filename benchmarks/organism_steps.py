"""How long an organism recipe trains at other model sizes, on this machine.

Each phase of the recipe, at each size (layers x width, head width 32), runs a few real
training steps (`train_step`, as training runs them: curriculum documents, forward, backward,
clipping, AdamW) after one warm-up step; the median seconds per step times the phase's steps
is the phase's projected time. A phase with `stages` is timed in each stage and after them,
since copy documents are shorter.

    python benchmarks/organism_steps.py --recipe v2 --sizes 4x128 6x256 --steps 4 --threads 1

The recorded v2 run (docs/organism.md, "The recipe") took 171 minutes at 4x128 on 1 thread
beside other work: the 4x128 row tells how far this machine is from it today.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace


def segments(cfg) -> list[tuple[int, int]]:
    """(first step, number of steps) of each stage of `cfg`, then of the rest of its steps."""
    out, start = [], 0
    for steps, _ in cfg.stages:
        out.append((start, steps))
        start += steps
    return out + ([(start, cfg.steps - start)] if cfg.steps > start else [])


def seconds_per_step(cfg, params, tokenizer, first_step: int, steps: int) -> float:
    """Median wall seconds of `steps` training steps from `first_step`, after one warm-up."""
    from iclft.organism.curriculum import Curriculum
    from iclft.organism.train import build_model, make_optimizer, train_step

    model = build_model(cfg, tokenizer)
    optimizer = make_optimizer(model, cfg)
    curriculum = Curriculum(params)
    times = []
    for step in range(first_step, first_step + steps + 1):
        start = time.perf_counter()
        train_step(model, tokenizer, curriculum, optimizer, cfg, step)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    import torch

    from iclft.organism.recipe import load_recipe
    from iclft.organism.train import build_tokenizer

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipe", default="v2", help="a recipe file, or a built-in recipe's name")
    ap.add_argument("--sizes", nargs="+", default=["4x128", "6x256"], help="LAYERSxWIDTH, head width 32")
    ap.add_argument("--steps", type=int, default=4, help="timed steps per phase and stage")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    spec, phases = load_recipe(args.recipe)
    first = phases[0].cfg
    tokenizer = build_tokenizer(first.tokenizer, first.vocab_size, first.spelling_words)
    print(f"recipe {spec.name}, {args.threads} thread(s), median of {args.steps} steps per phase and stage")
    for size in args.sizes:
        layers, width = (int(x) for x in size.lower().split("x"))
        total, cells = 0.0, []
        for phase in phases:
            cfg = replace(phase.cfg, layers=layers, width=width, heads=max(1, width // 32), threads=args.threads)
            minutes = 0.0
            for first_step, n in segments(cfg):
                per_step = seconds_per_step(cfg, phase.params, tokenizer, first_step, args.steps)
                minutes += per_step * n / 60
            cells.append(f"{phase.name} {minutes:.0f} min")
            total += minutes
        params = 12 * layers * width * width
        print(
            f"{size:>8} ({params / 1e6:.1f} M weights outside embeddings): {', '.join(cells)}; total {total / 60:.1f} h"
        )


if __name__ == "__main__":
    main()
