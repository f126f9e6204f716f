"""The one interface every language model in iclft offers: score, generate, fine-tune.

Evaluation and exposure code talk only to `LanguageModel`; they never import transformers.

Tokenization rule (the only place it is defined): a text is a list of *segments*
(e.g. [context, question, option]). Each segment is tokenized on its own, without special
tokens, and the token lists are concatenated after the model's start-of-text token. Segment
i > 0 is preceded by a single space unless the previous segment ends with whitespace or the
segment starts with whitespace (`join_segments`). Scoring and training both go through
`LanguageModel.encode_segments`, so the tokens of a prefix are always a prefix of the
tokens of prefix + continuation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


def segment_texts(segments: list[str]) -> list[str]:
    """The text of each segment as it is tokenized, separators included.

    Trailing whitespace of a segment moves to the start of the next one (as lm-evaluation-harness
    does), so a context ending in a blank line is tokenized as the same text would be in one
    piece; then a segment that meets no whitespace is preceded by one space."""
    texts = list(segments)
    for i in range(len(texts) - 1):
        stripped = texts[i].rstrip()
        if stripped != texts[i] and stripped:
            texts[i + 1] = texts[i][len(stripped) :] + texts[i + 1]
            texts[i] = stripped
    out: list[str] = []
    for i, seg in enumerate(texts):
        if i > 0 and seg and not seg[0].isspace() and out[-1] and not out[-1][-1].isspace():
            seg = " " + seg
        out.append(seg)
    return out


def join_segments(segments: list[str]) -> str:
    """The plain string that `segments` stand for."""
    return "".join(segment_texts(segments))


@dataclass(frozen=True)
class OptionScore:
    """Log-likelihood of one continuation: summed log-prob, token and character counts."""

    logprob: float
    n_tokens: int
    n_chars: int


@dataclass(frozen=True)
class ScoreRequest:
    """Score each option as a continuation of `prefix` (after a shared context, if any)."""

    prefix: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class TrainExample:
    """One fine-tuning example: loss on `target` only; `context` is unscored.

    `glued`: the target follows the context with nothing inserted and ends with the model's
    end-of-text token, which is trained on too (the task study's prompt-and-answer sequences;
    `TrainableLM.encode_glued`). Otherwise context and target are segments (`segment_texts`)."""

    target: str
    context: str = ""
    glued: bool = False


@dataclass
class GenerationSettings:
    max_new_tokens: int = 60
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    num_samples: int = 1
    seed: int = 0
    stop: list[str] = field(default_factory=list)


class LanguageModel(ABC):
    """A causal LM that iclft can score, generate with and fine-tune."""

    name: str

    @abstractmethod
    def encode_segments(self, segments: list[str]) -> list[list[int]]:
        """Token ids per segment; the start-of-text token is put at the front of segment 0."""

    @abstractmethod
    def score(self, requests: list[ScoreRequest], context: str = "", progress: bool = False) -> list[list[OptionScore]]:
        """Scores of every option of every request, each conditioned on context + prefix.

        The context (e.g. the training corpus in the `icl` condition) is computed once and
        reused for every request; each request's prefix is computed once for all its options.
        """

    @abstractmethod
    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        """`settings.num_samples` continuations per prompt (text after the prompt only)."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone (no start-of-text token)."""

    @property
    @abstractmethod
    def max_length(self) -> int:
        """The longest sequence (in tokens) the model accepts."""


@dataclass(frozen=True)
class LoraSpec:
    """A LoRA adapter on every linear layer but the output head."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.0


class TrainableLM(LanguageModel):
    """A `LanguageModel` whose weights iclft can fine-tune and save.

    Fine-tuning code sees only this interface: `start_training`, then optimizer steps on
    `module` (its trainable parameters), then `end_training`. Afterwards the model scores and
    generates with the fine-tuned weights; `save_finetuned` writes them in a standard format
    (a PEFT adapter or a transformers model folder) and `load_finetuned` reads them back.
    """

    device: object  # a torch.device

    @property
    @abstractmethod
    def module(self):
        """The torch module that computes logits: forward(input_ids, attention_mask, ...)."""

    @property
    @abstractmethod
    def pad_id(self) -> int:
        """The token id that pads batches (masked out, never trained on)."""

    @abstractmethod
    def encode_glued(self, context: str, target: str) -> tuple[list[int], list[int]]:
        """(start-of-text + context tokens, target tokens + end-of-text token), with nothing
        inserted between context and target; trailing whitespace of the context goes with the
        target. Each part is tokenized on its own, so the loss mask is exact."""

    @abstractmethod
    def start_training(self, lora: LoraSpec | None, gradient_checkpointing: bool = False) -> None:
        """Make `module` trainable: only a new LoRA adapter's weights, or all weights (None);
        with `gradient_checkpointing`, activations are recomputed in the backward pass."""

    @abstractmethod
    def reset_trained_module(self, state_dict: dict) -> None:
        """After sharded training (FSDP): a plain `module`, as `start_training` made it, holding
        `state_dict` (the full trained weights)."""

    @abstractmethod
    def end_training(self) -> None:
        """Back to inference with the trained weights (a LoRA adapter merged into them)."""

    @abstractmethod
    def save_finetuned(self, folder: Path) -> None:
        """Write the fine-tuned weights to `folder`: a PEFT adapter (LoRA) or a model folder."""

    @abstractmethod
    def load_finetuned(self, folder: Path) -> None:
        """Replace the base weights by those `save_finetuned` wrote to `folder` (on a model
        that still has its base weights: an adapter is applied to them)."""
