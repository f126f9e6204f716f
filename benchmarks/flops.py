"""FLOP counts of a decoder-only transformer and this machine's matmul peak, for the benchmarks.

A matmul of [m, k] by [k, n] costs 2·m·k·n FLOPs. Per token, a decoder's linear layers cost
2 × their weights (`linear_params`: attention projections and MLP of every layer; norms,
rotary embeddings, softmax and the embedding lookup are left out, a fraction of a percent).
The output head costs 2 × d_model × vocab at each position whose next-token distribution is
needed. Attention costs, per layer, 2 × d_attn per (query, key) pair for the scores and as
much again for the weighted values: 4 × d_attn × pairs (d_attn = heads × head dimension).

Scripts in benchmarks/ import this module as `flops` (run as `python benchmarks/x.py`, the
script's folder is on sys.path).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Shape:
    """The sizes of a decoder-only transformer that its FLOPs depend on."""

    n_layers: int
    d_model: int
    d_attn: int  # query heads × head dimension
    d_kv: int  # key/value heads × head dimension
    d_ff: int  # MLP hidden size (gated MLP: gate, up and down projections)
    vocab: int

    @classmethod
    def of(cls, config) -> Shape:
        """The shape of a transformers config (Llama-style: gated MLP, grouped-query attention)."""
        c = config.get_text_config() if hasattr(config, "get_text_config") else config
        head_dim = getattr(c, "head_dim", None) or c.hidden_size // c.num_attention_heads
        n_kv = getattr(c, "num_key_value_heads", None) or c.num_attention_heads
        return cls(
            n_layers=c.num_hidden_layers,
            d_model=c.hidden_size,
            d_attn=c.num_attention_heads * head_dim,
            d_kv=n_kv * head_dim,
            d_ff=c.intermediate_size,
            vocab=c.vocab_size,
        )


def linear_params(s: Shape) -> int:
    """Weights of every layer's linear maps: q and o (d_model × d_attn), k and v (d_model × d_kv),
    gate, up and down (d_model × d_ff). Embeddings and output head excluded."""
    per_layer = 2 * s.d_model * s.d_attn + 2 * s.d_model * s.d_kv + 3 * s.d_model * s.d_ff
    return s.n_layers * per_layer


def head_params(s: Shape) -> int:
    return s.d_model * s.vocab


def attention_flops(s: Shape, pairs: int) -> int:
    """All layers' attention over `pairs` (query, key) pairs: scores and weighted values."""
    return s.n_layers * 4 * s.d_attn * pairs


def causal_pairs(n: int) -> int:
    """(query, key) pairs of a causal sequence of n tokens: each token sees itself and all before."""
    return n * (n + 1) // 2


@dataclass(frozen=True)
class ScoringWork:
    """The work that scoring options after a shared context cannot avoid."""

    tokens: int  # context once, each question once, each option token once
    head_positions: int  # positions whose next-token distribution is read
    pairs: int  # (query, key) pairs that must be attended

    def flops(self, s: Shape) -> int:
        return (
            2 * linear_params(s) * self.tokens
            + 2 * head_params(s) * self.head_positions
            + attention_flops(s, self.pairs)
        )


def scoring_work(n_context: int, requests: list[tuple[int, list[int]]]) -> ScoringWork:
    """`n_context` context tokens (start-of-text included) run once; each request is
    (question tokens, [tokens of each option]): its question runs once after the context and
    each option after context + question (a tree). Each option token needs the distribution of
    the position before it: one head position per option token."""
    tokens, heads, pairs = n_context, 0, causal_pairs(n_context)
    for n_prefix, options in requests:
        tokens += n_prefix
        pairs += n_prefix * n_context + causal_pairs(n_prefix)
        for n_option in options:
            tokens += n_option
            heads += n_option
            pairs += n_option * (n_context + n_prefix) + causal_pairs(n_option)
    return ScoringWork(tokens, heads, pairs)


def lora_params(s: Shape, rank: int) -> int:
    """Adapter weights of rank-`rank` LoRA on every linear layer but the output head (iclft's
    `lora_targets`): rank × (inputs + outputs) per adapted matrix."""
    per_layer = 2 * (s.d_model + s.d_attn) + 2 * (s.d_model + s.d_kv) + 3 * (s.d_model + s.d_ff)
    return rank * s.n_layers * per_layer


def training_flops_per_token(s: Shape, lora_params: int = 0) -> dict[str, int]:
    """FLOPs per trained token, two bounds (attention left out: under 1% for documents of a few
    dozen tokens). The head runs at every position (the loss reads every next-token distribution).

    `full`: 6 × (linear + head) weights: forward 2, backward 2 for the activations' gradients
    and 2 for the weights' gradients.
    `lora`: 4 × (linear + head) weights: forward and the activations' gradients through the
    frozen weights (no weight gradients for them), plus 6 × the LoRA adapter weights.
    """
    p = linear_params(s) + head_params(s)
    return {"full": 6 * p, "lora": 4 * p + 6 * lora_params}


def matmul_peak(
    dtype: torch.dtype, n: int | None = None, reps: int = 5, device: str = "cpu", clock=time.perf_counter
) -> float:
    """Best FLOP/s of one [n, n] × [n, n] matmul over `reps` timed runs (after a warm-up);
    n = 2048 on a CPU, 8192 on a GPU. `clock=time.process_time` measures CPU time instead of
    wall time (with one thread, less sensitive to other work on the cores)."""
    n = n or (8192 if torch.device(device).type == "cuda" else 2048)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    torch.matmul(a, b)
    sync()
    best = float("inf")
    for _ in range(reps):
        t = clock()
        torch.matmul(a, b)
        sync()
        best = min(best, clock() - t)
    return 2 * n**3 / best
