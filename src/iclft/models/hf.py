"""The transformers backend: any causal-LM folder or hub id as a `LanguageModel`.

Scoring reuses key/value caches: the shared context (e.g. the whole training corpus in the
`icl` condition) is run once per `score` call; then requests are packed into sequences of
about `pack_tokens` tokens (see `iclft.models.packing`), each prefix once followed by all of
its options, and each pack runs in one forward pass on top of the cached context with a
tree-shaped attention mask and per-option position ids. The context's cache is copied once
per pack, not once per option, and no token is padding. For models with sliding-window
layers (Gemma 3) the mask carries the window too, so scores stay equal to plain
full-sequence scores (up to float rounding).

Fine-tuning (`TrainableLM`): LoRA wraps the module with a PEFT adapter; `end_training`
keeps a copy of the adapter (for `save_finetuned`) and merges it into the weights.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm.auto import tqdm

from iclft.errors import UserError
from iclft.models.base import GenerationSettings, LoraSpec, OptionScore, ScoreRequest, TrainableLM, segment_texts
from iclft.models.pack_attention import packed_attention_for
from iclft.models.packing import Encoded, Pack, make_packs

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
MAX_LENGTH_CAP = 32768
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values [batch, heads, seq, dim]
ADAPTER_CONFIG = "adapter_config.json"  # a PEFT adapter folder
ADAPTER_WEIGHTS = "adapter_model.safetensors"


def pick_device(device: str = "auto") -> torch.device:
    """`device` as a torch device; "auto" picks CUDA, then Apple's GPU, then the CPU. Among
    several processes (`iclft.distributed`), "auto" and "cuda" mean this process's own GPU."""
    from iclft import distributed

    if device in ("auto", "cuda") and torch.cuda.is_available() and distributed.is_distributed():
        return torch.device("cuda", distributed.local_rank())
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@contextmanager
def _quiet_peft():
    """peft reads the deprecated `is_gradient_checkpointing` of transformers models."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing", category=FutureWarning)
        yield


def _checkpointing(module, on: bool) -> None:
    """Activation (gradient) checkpointing on or off, under the names of newer transformers when it has them."""
    if hasattr(module, "activation_checkpointing_enable"):
        if on:
            module.activation_checkpointing_enable({"use_reentrant": False})
        else:
            module.activation_checkpointing_disable()
    elif on:
        module.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        module.gradient_checkpointing_disable()


def lora_targets(module) -> list[str]:
    """Names of every linear layer except the output head: attention and MLP projections."""
    head = module.get_output_embeddings()
    names = {
        name.rsplit(".", 1)[-1]
        for name, layer in module.named_modules()
        if isinstance(layer, torch.nn.Linear) and layer is not head
    }
    return sorted(names)


class TransformersModel(TrainableLM):
    """A transformers causal LM. `bos_token` overrides the tokenizer's start-of-text token."""

    def __init__(
        self,
        name_or_path: str | Path,
        dtype: str = "float32",
        device: str = "auto",
        bos_token: str | None = None,
        name: str | None = None,
        batch_tokens: int = 16384,
        pack_tokens: int = 1024,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if dtype not in DTYPES:
            raise UserError(f"model dtype '{dtype}': expected one of {', '.join(DTYPES)}")
        self.name = name or str(name_or_path)
        self.source = str(name_or_path)
        self.folder = Path(name_or_path) if Path(name_or_path).is_dir() else None  # None: a hub id
        self.device = pick_device(device)
        self.dtype = DTYPES[dtype]
        self.tokenizer = AutoTokenizer.from_pretrained(str(name_or_path))
        self._module = AutoModelForCausalLM.from_pretrained(str(name_or_path), dtype=self.dtype, use_safetensors=True)
        self._module.to(self.device).eval()
        self._adapter = None  # (LoraConfig, adapter weights) of the LoRA fine-tuning merged in
        self._training: tuple[LoraSpec | None, bool] = (None, False)  # start_training's arguments
        bos = bos_token if bos_token is not None else self.tokenizer.bos_token
        self.bos_id = self.tokenizer.convert_tokens_to_ids(bos) if bos is not None else None
        self.batch_tokens = batch_tokens  # generation: rows x sequence length per forward call
        # scoring: tokens of questions and options per forward call. Attention skips most of what
        # the pack's mask hides (iclft.models.pack_attention); larger packs make larger matmuls:
        # with 2 threads on a quiet CPU 1,024 was fastest of 256-1,024 for SmolLM2 (docs/performance.md)
        self.pack_tokens = pack_tokens

    # -- tokenization ---------------------------------------------------------------------

    def _tokens(self, text: str) -> list[int]:
        # verbose=False: texts longer than the tokenizer's model_max_length are fine here;
        # lengths are checked against the model (`_check_length`)
        return self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"] if text else []

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
        config = self._module.config.get_text_config()
        return min(getattr(config, "max_position_embeddings", None) or 2048, MAX_LENGTH_CAP)

    def allow_length(self, n_tokens: int) -> None:
        """Accept inputs of up to `n_tokens`, beyond the positions the model was trained on
        (rotary positions extrapolate, usually badly: a diagnostic, not a setting for studies)."""
        self._module.config.get_text_config().max_position_embeddings = n_tokens

    def _check_length(self, n_tokens: int, what: str) -> None:
        if n_tokens > self.max_length:
            raise UserError(f"{what} is {n_tokens} tokens, but model {self.name} accepts at most {self.max_length}")

    # -- scoring -------------------------------------------------------------------------------

    @torch.inference_mode()
    def score(self, requests: list[ScoreRequest], context: str = "", progress: bool = False) -> list[list[OptionScore]]:
        ctx, encoded, option_texts = self.encode_requests(requests, context)
        longest = max((len(e.prefix) + max(map(len, e.options), default=0) for e in encoded), default=0)
        self._check_length(len(ctx) + longest, "context + longest question and option")

        ctx_kv, ctx_last = None, None
        if ctx:
            from transformers import DynamicCache

            # a plain DynamicCache keeps every position in every layer (a model's own cache may
            # keep only the window of its sliding layers); the pack masks apply the windows
            out = self._module(input_ids=self._tensor([ctx]), cache=DynamicCache(), use_cache=True, logits_to_keep=1)
            ctx_kv = [(layer.keys, layer.values) for layer in out.cache.layers]
            ctx_last = out.logits[0, -1].float().log_softmax(-1)

        sums = [[0.0] * len(r.options) for r in requests]
        bar = tqdm(total=len(requests), desc="scoring", unit="q", disable=not progress)
        for pack in make_packs(encoded, self.pack_tokens):
            for target, lp in zip(pack.targets, self._score_pack(pack, len(ctx), ctx_kv, ctx_last)):
                sums[target.request][target.option] += lp
            bar.update(len(pack.requests))
        bar.close()
        return [
            [
                OptionScore(lp, len(tokens), len(text))
                for lp, tokens, text in zip(sums[i], encoded[i].options, option_texts[i])
            ]
            for i in range(len(requests))
        ]

    def encode_requests(
        self, requests: list[ScoreRequest], context: str = ""
    ) -> tuple[list[int], list[Encoded], list[list[str]]]:
        """How `score` lays the work out: the context's tokens (start-of-text included), each
        request's prefix and option tokens, and each option's text. The segments' texts are as
        `segment_texts` splits [context, prefix, option] (the context's trailing whitespace goes
        with the question, the question's with each option)."""
        ctx = self.encode_segments([segment_texts([context, ""])[0] if context else ""])[0]
        option_texts = [self._option_texts(context, r) for r in requests]
        encoded = [
            Encoded(self._tokens(segment_texts([context, r.prefix, ""])[1]), [self._tokens(t) for t in texts])
            for r, texts in zip(requests, option_texts)
        ]
        return ctx, encoded, option_texts

    @staticmethod
    def _option_texts(context: str, request: ScoreRequest) -> list[str]:
        return [segment_texts([context, request.prefix, option])[2] for option in request.options]

    def _score_pack(self, pack: Pack, n_ctx: int, ctx_kv: KV | None, ctx_last: torch.Tensor | None) -> list[float]:
        """Log-prob of every target token of `pack`, in `pack.targets` order, in one forward pass."""
        from transformers import DynamicCache

        if ctx_last is None and any(t.at < 0 for t in pack.targets):
            raise ValueError("cannot score an option with no context, prefix or start-of-text token")
        keep = sorted({t.at for t in pack.targets if t.at >= 0})
        logprobs: list[float] = []  # of the targets with at >= 0, in order
        if keep:
            positions = self._tensor([[n_ctx + p for p in pack.positions]])
            with packed_attention_for(self._module):
                out = self._module(
                    input_ids=self._tensor([pack.ids]),
                    position_ids=positions,
                    attention_mask=self._pack_mask(pack, n_ctx, positions[0]),
                    cache=DynamicCache(ddp_cache_data=ctx_kv) if ctx_kv else None,
                    use_cache=ctx_kv is not None,
                    logits_to_keep=torch.tensor(keep, device=self.device),
                )
            # log-softmax at the target tokens only: logit minus log-sum-exp of its row
            logits = out.logits[0].float()
            row = {at: k for k, at in enumerate(keep)}
            scored = [t for t in pack.targets if t.at >= 0]
            rows = self._tensor([[row[t.at] for t in scored]])[0]
            tokens = self._tensor([[t.token for t in scored]])[0]
            # log-sum-exp by blocks of rows that stay in cache: a third faster than over all rows
            lse = torch.cat([block.logsumexp(-1) for block in logits.split(8)])
            logprobs = (logits[rows, tokens] - lse[rows]).tolist()
        found = iter(logprobs)
        return [next(found) if t.at >= 0 else ctx_last[t.token].item() for t in pack.targets]

    def _pack_mask(self, pack: Pack, n_ctx: int, positions: torch.Tensor):
        """Additive attention mask [1, 1, pack, context + pack]: the whole context, the own
        request's prefix up to itself, the own option up to itself; plus the sliding window for
        models whose layers have one."""
        idx = torch.arange(len(pack), device=self.device)
        col = lambda values: self._tensor([values])[0][:, None]  # noqa: E731
        see, own = col(pack.see_from), col(pack.own_from)
        allowed = ((idx >= see) & (idx < col(pack.prefix_end))) | ((idx >= own) & (idx <= idx[:, None]))
        allowed = torch.cat([torch.ones(len(pack), n_ctx, dtype=torch.bool, device=self.device), allowed], dim=1)
        masks = {"full_attention": allowed}
        window = getattr(self._module.config.get_text_config(), "sliding_window", None)
        layer_types = getattr(self._module.config.get_text_config(), "layer_types", None) or []
        if window and "sliding_attention" in layer_types:
            key_pos = torch.cat([torch.arange(n_ctx, device=self.device), positions])
            masks["sliding_attention"] = allowed & (positions[:, None] - key_pos[None, :] < window)
        additive = {
            kind: torch.zeros(m.shape, dtype=self.dtype, device=self.device).masked_fill(
                ~m, torch.finfo(self.dtype).min
            )[None, None]
            for kind, m in masks.items()
        }
        return additive if len(additive) > 1 else additive["full_attention"]

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
        kwargs = dict(
            max_new_tokens=settings.max_new_tokens, do_sample=sample, pad_token_id=pad, num_return_sequences=n
        )
        if sample:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p, top_k=0)
        else:
            kwargs.update(temperature=None, top_p=None, top_k=None)
        torch.manual_seed(settings.seed)
        outputs: list[list[str]] = []
        longest = max((len(e) for e in encoded), default=1)
        step = max(1, min(64, self.batch_tokens // max(1, longest + settings.max_new_tokens)) // n)
        for start in range(0, len(encoded), step):
            batch = encoded[start : start + step]
            width = max(len(e) for e in batch)
            ids = self._tensor([[pad] * (width - len(e)) + e for e in batch])  # left padding
            mask = self._tensor([[0] * (width - len(e)) + [1] * len(e) for e in batch])
            new = self._module.generate(input_ids=ids, attention_mask=mask, **kwargs)[:, width:]
            texts = [self._cut(t, settings.stop) for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]
            outputs += [texts[i * n : (i + 1) * n] * (settings.num_samples // n) for i in range(len(batch))]
        return outputs

    @staticmethod
    def _cut(text: str, stop: list[str]) -> str:
        cuts = [text.find(s) for s in stop if s and s in text]
        return text[: min(cuts)] if cuts else text

    # -- fine-tuning (TrainableLM) -----------------------------------------------------------------

    @property
    def module(self):
        return self._module

    @property
    def pad_id(self) -> int:
        pad = self.tokenizer.pad_token_id
        return pad if pad is not None else (self.bos_id or 0)

    def encode_glued(self, context: str, target: str) -> tuple[list[int], list[int]]:
        end = self.tokenizer.eos_token_id
        if end is None:
            raise UserError(f"model {self.name}: its tokenizer has no end-of-text token to end a target with")
        stripped = context.rstrip()
        return self._start() + self._tokens(stripped), self._tokens(context[len(stripped) :] + target) + [end]

    def start_training(self, lora: LoraSpec | None, gradient_checkpointing: bool = False) -> None:
        self._adapter = None
        self._training = (lora, gradient_checkpointing)
        if gradient_checkpointing:  # non-reentrant: works with frozen inputs (LoRA) and FSDP
            _checkpointing(self._module, True)
        if lora is None:
            self._module.requires_grad_(True)
        else:
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=lora.rank,
                lora_alpha=lora.alpha,
                lora_dropout=lora.dropout,
                target_modules=lora_targets(self._module),
                task_type="CAUSAL_LM",
                base_model_name_or_path=self.source,
            )
            with _quiet_peft():
                self._module = get_peft_model(self._module, config)
        self._module.train()

    def reset_trained_module(self, state_dict: dict) -> None:
        """Training sharded the module (FSDP); rebuild it unsharded with `state_dict`, the full
        trained weights, as `start_training` left it (so `end_training` merges as usual)."""
        from transformers import AutoModelForCausalLM

        lora, checkpointing = self._training
        self._module = AutoModelForCausalLM.from_pretrained(self.source, dtype=self.dtype, use_safetensors=True)
        self._module.to(self.device)
        self.start_training(lora, checkpointing)
        self._module.load_state_dict(state_dict)

    def end_training(self) -> None:
        from peft import PeftModel, get_peft_model_state_dict

        if isinstance(self._module, PeftModel):
            weights = {
                k: v.detach().to("cpu", copy=True).contiguous()
                for k, v in get_peft_model_state_dict(self._module).items()
            }
            self._adapter = (self._module.peft_config["default"], weights)
            self._module = self._module.merge_and_unload()
        if self._training[1]:
            _checkpointing(self._module, False)
        self._module.requires_grad_(False)
        self._module.eval()

    def save_finetuned(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self._adapter is not None:
            from safetensors.torch import save_file

            config, weights = self._adapter
            config.save_pretrained(str(folder))
            save_file(weights, str(folder / ADAPTER_WEIGHTS), metadata={"format": "pt"})
        else:
            self._module.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)

    def load_finetuned(self, folder: Path) -> None:
        folder = Path(folder)
        if (folder / ADAPTER_CONFIG).is_file():
            from peft import PeftModel, get_peft_model_state_dict

            with _quiet_peft():
                peft_model = PeftModel.from_pretrained(self._module, str(folder), torch_device=str(self.device))
            weights = {k: v.detach().to("cpu", copy=True) for k, v in get_peft_model_state_dict(peft_model).items()}
            self._adapter = (peft_model.peft_config["default"], weights)
            self._module = peft_model.merge_and_unload()
        else:
            from transformers import AutoModelForCausalLM

            self._adapter = None
            self._module = AutoModelForCausalLM.from_pretrained(str(folder), dtype=self.dtype, use_safetensors=True)
            self._module.to(self.device)
        self._module.requires_grad_(False)
        self._module.eval()
