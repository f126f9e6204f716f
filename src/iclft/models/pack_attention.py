"""Attention over a scoring pack that skips what the pack's mask hides.

A pack (`iclft.models.packing`) is many questions and options in one sequence, each token
seeing the cached context, its own question and its own option. Its mask is dense, so plain
SDPA computes every pack token against the whole pack: with packs of 1,024 tokens about half
of the attention work is masked out afterwards. `packed_attention` instead splits the pack's
queries into chunks of `CHUNK` rows; a chunk needs the context and the pack's columns from the
first one any of its rows sees (the start of the earliest question in it) to its own last row.

On a CPU, when every pack token sees the whole context (no sliding window), the context part
runs once for the whole pack without a mask and each chunk's pack part with its small mask;
the two are merged by their log-sum-exps (`_merged`), as flash attention merges blocks.
Otherwise each chunk runs transformers' own SDPA attention on its keys. Either way it is the
same softmax over the same visible keys, so scores change only by float rounding.

`packed_attention_for(module)` switches a transformers model to it for one forward call; any
call without a 4-D mask (the context pass, generation, training) goes to plain SDPA unchanged.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

NAME = "iclft_packed"
CHUNK = 256  # query rows per chunk: large enough for efficient matmuls, small enough to skip most masked work
MERGE_ON_CPU = True  # the merged form where it applies (the tests turn it off to check the other)
# what a pack's mask says, read once per forward call and shared by its layers; emptied when
# `packed_attention_for` exits
_layouts: dict[tuple, tuple[torch.Tensor, bool]] = {}


def _layout(attention_mask: torch.Tensor, n_ctx: int) -> tuple[torch.Tensor, bool]:
    """(the first pack column each row sees, whether every row sees the whole context)."""
    key = (attention_mask.data_ptr(), tuple(attention_mask.shape), n_ctx)
    if key not in _layouts:
        visible = attention_mask[0, 0, :, n_ctx:] == 0  # [pack, pack]: may row i see pack column j
        first = visible.int().argmax(dim=1)  # every row sees itself, so this is its first visible column
        _layouts[key] = (first, n_ctx > 0 and bool((attention_mask[0, 0, :, :n_ctx] == 0).all()))
    return _layouts[key]


def packed_attention(module, query, key, value, attention_mask, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    q_len = query.shape[2]
    n_ctx = key.shape[2] - q_len
    if attention_mask is None or attention_mask.dim() != 4 or q_len <= CHUNK or n_ctx < 0:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    first, context_open = _layout(attention_mask, n_ctx)
    if MERGE_ON_CPU and query.device.type == "cpu" and context_open:
        return _merged(module, query, key, value, attention_mask, first, kwargs.get("scaling"))
    outputs = []
    for start in range(0, q_len, CHUNK):
        end = min(start + CHUNK, q_len)
        cols = slice(n_ctx + int(first[start:end].min()), n_ctx + end)
        chunk_out, _ = sdpa_attention_forward(
            module,
            query[:, :, start:end],
            torch.cat([key[:, :, :n_ctx], key[:, :, cols]], dim=2),
            torch.cat([value[:, :, :n_ctx], value[:, :, cols]], dim=2),
            torch.cat([attention_mask[:, :, start:end, :n_ctx], attention_mask[:, :, start:end, cols]], dim=3),
            **kwargs,
        )
        outputs.append(chunk_out)  # [batch, rows, heads, dim]
    return torch.cat(outputs, dim=1), None


def _merged(module, query, key, value, attention_mask, first, scaling):
    """The context part once, unmasked; each chunk's pack part with its mask; merged by their
    log-sum-exps. CPU only: torch's CPU flash-attention kernel returns the log-sum-exp."""
    from transformers.integrations.sdpa_attention import repeat_kv

    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    groups = getattr(module, "num_key_value_groups", 1)
    key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    q_len = query.shape[2]
    n_ctx = key.shape[2] - q_len
    ctx_out, ctx_lse = flash(query, key[:, :, :n_ctx], value[:, :, :n_ctx], scale=scaling)
    outputs = []
    for start in range(0, q_len, CHUNK):
        end = min(start + CHUNK, q_len)
        cols = slice(n_ctx + int(first[start:end].min()), n_ctx + end)
        mask = attention_mask[:, :, start:end, cols]
        own_out, own_lse = flash(
            query[:, :, start:end], key[:, :, cols], value[:, :, cols], attn_mask=mask, scale=scaling
        )
        a = ctx_lse[:, :, start:end]
        total = torch.logaddexp(a, own_lse)
        out = ctx_out[:, :, start:end] * (a - total).exp()[..., None] + own_out * (own_lse - total).exp()[..., None]
        outputs.append(out.to(query.dtype))
    return torch.cat(outputs, dim=2).transpose(1, 2).contiguous(), None  # [batch, rows, heads, dim]


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if NAME not in AttentionInterface._global_mapping:
        AttentionInterface.register(NAME, packed_attention)
        AttentionMaskInterface.register(NAME, sdpa_mask)


@contextmanager
def packed_attention_for(module):
    """Run `module` (a transformers model using SDPA) with `packed_attention` inside the block."""
    config = module.config
    if config._attn_implementation != "sdpa":
        yield
        return
    _register()
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = "sdpa"
        _layouts.clear()
