"""Packing many scoring requests into one sequence that shares a cached context.

A pack lays out, after the context, each request's prefix once followed by each of its
options:  [p1 p1 p1 | o11 o11 | o12 | p2 p2 | o21 | o22 o22 ...]. A tree-shaped attention mask
lets every token see the whole context, the tokens of its own request's prefix up to itself,
and the earlier tokens of its own option; position ids restart for each option, so each
option is computed exactly as if it stood alone after context + prefix. The context is run
once, each prefix once, and no option waits on padding.

Pure Python: the model code turns a `Pack` into tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Encoded(NamedTuple):
    """One scoring request as tokens."""

    prefix: list[int]
    options: list[list[int]]


class Target(NamedTuple):
    """One scored option token."""

    request: int
    option: int
    at: int  # the pack index whose logits predict it, or -1: the context's last position
    token: int


@dataclass
class Pack:
    ids: list[int] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # offset after the context
    see_from: list[int] = field(default_factory=list)  # each token sees [see_from, prefix_end)
    prefix_end: list[int] = field(default_factory=list)
    own_from: list[int] = field(default_factory=list)  # ... and [own_from, itself]
    targets: list[Target] = field(default_factory=list)  # one per scored option token
    requests: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


def request_length(encoded: Encoded) -> int:
    prefix, options = encoded
    return len(prefix) + sum(len(o) for o in options)


def add_request(pack: Pack, index: int, encoded: Encoded) -> None:
    """Append request `index` (its prefix once, then every option) to `pack`."""
    prefix, options = encoded
    start = len(pack)
    for k, token in enumerate(prefix):
        _append(pack, token, k, start, start + k + 1, start + k + 1)
    end = len(pack)
    last = end - 1 if prefix else -1
    for j, option in enumerate(options):
        own = len(pack)
        for k, token in enumerate(option):
            pack.targets.append(Target(index, j, last if k == 0 else own + k - 1, token))
            _append(pack, token, len(prefix) + k, start, end, own)
    pack.requests.append(index)


def _append(pack: Pack, token: int, position: int, see_from: int, prefix_end: int, own_from: int) -> None:
    pack.ids.append(token)
    pack.positions.append(position)
    pack.see_from.append(see_from)
    pack.prefix_end.append(prefix_end)
    pack.own_from.append(own_from)


def make_packs(encoded: list[Encoded], max_tokens: int) -> list[Pack]:
    """Requests packed in order; a pack holds at most `max_tokens` unless one request is longer."""
    packs = [Pack()]
    for i, request in enumerate(encoded):
        if len(packs[-1]) and len(packs[-1]) + request_length(request) > max_tokens:
            packs.append(Pack())
        add_request(packs[-1], i, request)
    return [p for p in packs if p.requests]
