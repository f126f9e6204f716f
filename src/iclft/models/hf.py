"""The transformers backend: any causal-LM folder or hub id as a `LanguageModel`.

Scoring reuses key/value caches at two levels:

1. the shared context (e.g. the whole training corpus) is run once per `score` call;
2. requests are grouped by prefix length, so a batch of prefixes runs in one forward pass on
   top of the context with no padding at all; then every option of those requests runs in one
   forward pass on top of its own request's cached prefix, right-padded. Right padding needs
   no attention mask and no position ids (pad tokens come after every real token), so cached
   scores equal plain full-sequence scores exactly (up to float rounding).

Caches are kept as plain per-layer (keys, values) tensors and a fresh `DynamicCache` is
built for every forward call, because transformers mutates caches in place. Every layer is
a full (non-sliding) cache layer; sliding-window models still get their sliding masks from
absolute positions, so this stays exact for them too (at the cost of some memory).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import torch
from tqdm.auto import tqdm

from iclft.errors import UserError
from iclft.models.base import GenerationSettings, LanguageModel, OptionScore, ScoreRequest, segment_texts

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MAX_LENGTH_CAP = 32768
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [batch, heads, seq, dim]


def pick_device(device: str = "auto") -> torch.device:
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


class TransformersModel(LanguageModel):
    """A transformers causal LM. `bos_token` overrides the tokenizer's start-of-text token."""

    def __init__(
        self,
        name_or_path: str | Path,
        dtype: str = "float32",
        device: str = "auto",
        bos_token: str | None = None,
        name: str | None = None,
        batch_tokens: int = 49152,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in DTYPES:
            raise UserError(f"model dtype '{dtype}': expected one of {', '.join(DTYPES)}")
        self.name = name or str(name_or_path)
        self.device = pick_device(device)
        self.dtype = DTYPES[dtype]
        self.tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
        self.model = AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=self.dtype)
        self.model.to(self.device).eval()
        bos = bos_token if bos_token is not None else self.tokenizer.bos_token
        self.bos_id = self.tokenizer.convert_tokens_to_ids(bos) if bos is not None else None
        self.batch_tokens = batch_tokens  # rows x cached length per forward call

    # -- tokenization ---------------------------------------------------------------------

    def _tokens(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"] if text else []

    def _start(self) -> list[int]:
        return [] if self.bos_id is None else [self.bos_id]

    def encode_segments(self, segments: list[str]) -> list[list[int]]:
        ids = [self._tokens(text) for text in segment_texts(segments)]
        ids[0] = self._start() + ids[0]
        return ids

    def count_tokens(self, text: str) -> int:
        return len(self._tokens(text))

    @property
    def max_length(self) -> int:
        config = self.model.config.get_text_config()
        return min(getattr(config, "max_position_embeddings", None) or 2048, MAX_LENGTH_CAP)

    def _check_length(self, n_tokens: int, what: str) -> None:
        if n_tokens > self.max_length:
            raise UserError(
                f"{what} is {n_tokens} tokens, but model {self.name} accepts at most {self.max_length}"
            )

    # -- forward passes on cached keys/values ---------------------------------------------------

    def _forward(self, ids: torch.Tensor, past: KV | None, rows: torch.Tensor | None = None, last_only=False):
        """Log-probs of `ids` [batch, len] run after `past` (its batch rows `rows`); and the new cache."""
        from transformers import DynamicCache

        if past is None:
            cache = DynamicCache()  # no start-of-text token and no context
        else:
            pick = (lambda t: t.expand(len(ids), -1, -1, -1)) if rows is None else (lambda t: t[rows])
            cache = DynamicCache(ddp_cache_data=[(pick(k), pick(v)) for k, v in past])  # copies: `past` stays intact
        out = self.model(input_ids=ids, past_key_values=cache, use_cache=True, logits_to_keep=1 if last_only else 0)
        logprobs = out.logits.float().log_softmax(-1)
        return logprobs, [(layer.keys, layer.values) for layer in cache.layers]

    def _rows_per_batch(self, cached: int, new: int) -> int:
        return max(1, min(64, self.batch_tokens // max(1, cached + new)))

    # -- scoring -------------------------------------------------------------------------------

    @torch.inference_mode()
    def score(self, requests: list[ScoreRequest], context: str = "", progress: bool = False) -> list[list[OptionScore]]:
        ctx = self.encode_segments([context])[0]
        encoded = [self._encode_request(context, r) for r in requests]
        longest = max((len(p) + max((len(o) for o in opts), default=0) for p, opts in encoded), default=0)
        self._check_length(len(ctx) + longest, "context + longest question and option")

        ctx_past, ctx_last = None, None
        if ctx:
            logprobs, ctx_past = self._forward(self._tensor([ctx]), None, last_only=True)
            ctx_last = logprobs[0, -1]

        results: list[list[OptionScore]] = [[] for _ in requests]
        by_prefix_len: dict[int, list[int]] = defaultdict(list)
        for i, (prefix, _) in enumerate(encoded):
            by_prefix_len[len(prefix)].append(i)
        bar = tqdm(total=len(requests), desc="scoring", unit="q", disable=not progress)
        most_options = max((len(r.options) for r in requests), default=1) or 1
        for n_prefix, indices in sorted(by_prefix_len.items()):
            step = max(1, self._rows_per_batch(len(ctx) + n_prefix, 8) // most_options)
            for start in range(0, len(indices), step):
                batch = indices[start : start + step]
                for i, scores in zip(batch, self._score_batch([encoded[i] for i in batch], ctx_past, ctx_last)):
                    results[i] = [
                        OptionScore(lp, n, len(text))
                        for (lp, n), text in zip(scores, self._option_texts(context, requests[i]))
                    ]
                bar.update(len(batch))
        bar.close()
        return results

    def _encode_request(self, context: str, request: ScoreRequest) -> tuple[list[int], list[list[int]]]:
        prefix_text = segment_texts([context, request.prefix])[1]
        options = [self._tokens(text) for text in self._option_texts(context, request)]
        return self._tokens(prefix_text), options

    @staticmethod
    def _option_texts(context: str, request: ScoreRequest) -> list[str]:
        return [segment_texts([context, request.prefix, option])[2] for option in request.options]

    def _score_batch(self, batch, ctx_past: KV | None, ctx_last: torch.Tensor | None) -> list[list[tuple[float, int]]]:
        """(summed log-prob, tokens) of every option of a batch of requests whose prefixes have equal length."""
        rows = [i for i, (_, opts) in enumerate(batch) for _ in opts]  # the request of each option
        options = [option for _, opts in batch for option in opts]
        rows_t = torch.tensor(rows, device=self.device)
        prefixes = [prefix for prefix, _ in batch]
        if prefixes[0]:
            logprobs, past = self._forward(self._tensor(prefixes), ctx_past, last_only=True)
            last, past_rows = logprobs[:, -1][rows_t], rows_t
        elif ctx_last is not None:  # empty prefixes: the options follow the context directly
            last, past_rows = ctx_last.expand(len(rows), -1), torch.zeros_like(rows_t)
            past = ctx_past
        else:
            raise ValueError("cannot score an option with no context, prefix or start-of-text token")

        present = self._tensor([[1 if o else 0 for o in options]])[0]
        first_lp = last.gather(-1, self._tensor([[o[0] if o else 0 for o in options]]).T).squeeze(-1)
        option_lp = first_lp * present
        width = max((len(o) for o in options), default=0)
        if width > 1:  # the option tokens after the first: one forward pass over all options, right-padded
            padded = [o + [0] * (width - len(o)) for o in options]
            logprobs, _ = self._forward(self._tensor([p[:-1] for p in padded]), past, past_rows)
            targets = self._tensor([p[1:] for p in padded])
            token_lp = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            keep = self._tensor([[1] * (len(o) - 1) + [0] * (width - max(1, len(o))) for o in options])
            option_lp = option_lp + (token_lp * keep).sum(-1)

        out: list[list[tuple[float, int]]] = [[] for _ in batch]
        for row, option, lp in zip(rows, options, option_lp.tolist()):
            out[row].append((lp, len(option)))
        return out

    def _tensor(self, ids: list[list[int]]) -> torch.Tensor:
        return torch.tensor(ids, dtype=torch.long, device=self.device)

    # -- generation ----------------------------------------------------------------------------

    @torch.inference_mode()
    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        encoded = [self.encode_segments([p])[0] for p in prompts]
        for ids in encoded:
            self._check_length(len(ids) + settings.max_new_tokens, "prompt + max_new_tokens")
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        sample = settings.temperature > 0
        n = settings.num_samples if sample else 1  # greedy samples are all the same: decode once
        kwargs = dict(max_new_tokens=settings.max_new_tokens, do_sample=sample, pad_token_id=pad, num_return_sequences=n)
        if sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        torch.manual_seed(settings.seed)
        outputs: list[list[str]] = []
        longest = max((len(e) for e in encoded), default=1)
        step = max(1, self._rows_per_batch(longest, settings.max_new_tokens) // n)
        for start in range(0, len(encoded), step):
            batch = encoded[start : start + step]
            width = max(len(e) for e in batch)
            ids = self._tensor([[pad] * (width - len(e)) + e for e in batch])  # left padding
            mask = self._tensor([[0] * (width - len(e)) + [1] * len(e) for e in batch])
            new = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, width:]
            texts = [self._cut(t, settings.stop) for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
            outputs += [texts[i * n : (i + 1) * n] * (settings.num_samples // n) for i in range(len(batch))]
        return outputs

    @staticmethod
    def _cut(text: str, stop: list[str]) -> str:
        cuts = [text.find(s) for s in stop if s and s in text]
        return text[: min(cuts)] if cuts else text
