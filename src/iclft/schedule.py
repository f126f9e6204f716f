"""The learning-rate schedule of every training loop in iclft: linear warmup, cosine decay.

`lr_factor(step, warmup, total, floor)` multiplies the peak learning rate at optimizer step
`step` (0-based): it rises linearly to 1 over the first `warmup` steps (reaching 1 on step
`warmup - 1`), then follows half a cosine (or a line) from 1 down to `floor` at step `total`, and stays
at `floor` after it. Fine-tuning decays to 0; organism training to a tenth.
"""

from __future__ import annotations

import math


def lr_factor(step: int, warmup: int, total: int, floor: float = 0.0, decay: str = "cosine") -> float:
    """The share of the peak learning rate used at `step`; `decay` "linear" falls in a straight
    line instead of half a cosine (the task study's schedule, as in the paper's code)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    shape = 1 - progress if decay == "linear" else 0.5 * (1 + math.cos(math.pi * progress))
    return floor + (1 - floor) * shape
