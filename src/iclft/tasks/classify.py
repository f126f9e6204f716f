"""Classification scoring of the task study (docs/task-study.md, "Scoring").

Two readings of every test item, recorded side by side and never mixed:

- first token (the paper's): the logits at the answer position, the position right after the
  prompt; the prediction is the label whose first token has the largest logit;
- full label (iclft's): the log-likelihood of each label's tokens as a continuation of the
  prompt, summed; the prediction is the label with the largest sum.

Tokens: a label follows the prompt's final colon directly, so it is tokenized together with the
prompt, `tokens(prompt + label)`, and the label's tokens are what follows the prompt's tokens.
When the tokenizer merges the prompt's end with a label (a prompt ending in a space: "is " +
"entailment" gives "is", " entailment", not "is", " ", ...), the prompt's last tokens, as many as
needed, are scored with every label instead; the item records how many (`prompt_tokens_merged`).

torch is imported on use, so that `iclft.tasks` stays light.

Speed: all items of a test set share their k demonstrations, so the model runs once over the
start token and the token prefix every item shares; its key/value cache then serves every item.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from iclft.errors import UserError
from iclft.evaluation.metrics import binomial_stderr
from iclft.tasks.format import TASK_FILE, TaskSet
from iclft.tasks.prompts import test_prompt

Tokenize = Callable[[str], list[int]]


@dataclass(frozen=True)
class ItemTokens:
    """One prompt and its labels as token ids: `prompt` (without the start token) then any of `labels`."""

    prompt: list[int]
    labels: list[list[int]]
    merged: int  # the prompt's last tokens that the tokenizer merges with a label, moved to the labels

    @property
    def first_tokens(self) -> list[int]:
        return [label[0] for label in self.labels]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def item_tokens(tokenize: Tokenize, prompt: str, labels: Sequence[str]) -> ItemTokens:
    """`prompt` and `labels` tokenized together: each label's tokens are what `tokens(prompt + label)`
    has after the tokens every label shares with the prompt's own tokens."""
    prompt_ids = tokenize(prompt)
    joined = [tokenize(prompt + label) for label in labels]
    keep = min(common_prefix(prompt_ids, ids) for ids in joined)
    return ItemTokens(prompt_ids[:keep], [ids[keep:] for ids in joined], len(prompt_ids) - keep)


def check_first_tokens(tokens: ItemTokens, labels: Sequence[str], where: str, decode: Callable) -> None:
    """A UserError when two labels start with the same token (first-token scoring cannot tell them apart)."""
    firsts = tokens.first_tokens
    for i, token in enumerate(firsts):
        j = firsts.index(token)
        if j < i:
            raise UserError(
                f"{where}: labels '{labels[j]}' and '{labels[i]}' both start with token {token} "
                f"({decode([token])!r}) after the prompt; first-token scoring needs distinct first tokens"
            )


def score_prompts(model, prompts: Sequence[str], labels: Sequence[str], where: str, rows: int = 16) -> list[dict]:
    """Both readings of every prompt: {first_token, first_token_pred, label_logprobs,
    full_label_pred, prompt_tokens_merged}, in `prompts` order. `model` is a TransformersModel;
    `where` names the task in error lines; `rows`: prompt-label rows per forward pass."""
    if not prompts:
        return []
    tokenize = lambda text: model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]  # noqa: E731
    items = [item_tokens(tokenize, p, labels) for p in prompts]
    for tokens in items:
        if any(not label for label in tokens.labels):
            raise UserError(f"{where}: a label has no tokens after the prompt")
        check_first_tokens(tokens, labels, where, model.tokenizer.decode)
    sequences = [model._start() + tokens.prompt for tokens in items]
    if any(not s for s in sequences):
        raise UserError(f"{where}: an empty prompt and no start-of-text token: nothing to condition on")
    longest = max(len(s) for s in sequences) + max(len(label) for tokens in items for label in tokens.labels)
    if longest > model.max_length:
        raise UserError(
            f"{where}: a prompt and label are {longest} tokens; model {model.name} accepts {model.max_length}"
        )
    shared = min(min(len(s) for s in sequences) - 1, *(common_prefix(sequences[0], s) for s in sequences))
    cache = run_shared(model, sequences[0][:shared])
    per_batch = max(1, rows // len(labels))
    results = []
    for start in range(0, len(items), per_batch):
        batch = range(start, min(start + per_batch, len(items)))
        rests = [sequences[i][shared:] for i in batch]
        scores = _score_batch(model, cache, shared, rests, [items[i].labels for i in batch])
        results += [_reading(labels, first, logprobs, items[i].merged) for i, (first, logprobs) in zip(batch, scores)]
    return results


def run_shared(model, ids: list[int]):
    """Per layer (keys, values) of the shared prefix; None when there is none."""
    if not ids:
        return None
    import torch
    from transformers import DynamicCache

    with torch.inference_mode():
        out = model.module(input_ids=_tensor(model, [ids]), cache=DynamicCache(), use_cache=True, logits_to_keep=1)
    return [(layer.keys, layer.values) for layer in out.cache.layers]


def _score_batch(model, cache, shared: int, rests: list[list[int]], labels: list[list[list[int]]]):
    """For each item: the logits of each label's first token at the answer position, and each
    label's summed log-probability; one forward pass over every item's rest of prompt + label."""
    import torch
    from transformers import DynamicCache

    rows = [(i, rest + label) for i, (rest, item) in enumerate(zip(rests, labels)) for label in item]
    width = max(len(ids) for _, ids in rows)
    pad = model.tokenizer.pad_token_id or 0
    ids = _tensor(model, [row + [pad] * (width - len(row)) for _, row in rows])  # right padding: never attended to
    mask = _tensor(model, [[1] * (shared + len(row)) + [0] * (width - len(row)) for _, row in rows])
    past = None
    if cache is not None:
        copies = lambda t: t.expand(len(rows), -1, -1, -1)  # noqa: E731
        past = DynamicCache(ddp_cache_data=[(copies(k), copies(v)) for k, v in cache])
    with torch.inference_mode():
        out = model.module(input_ids=ids, attention_mask=mask, cache=past, use_cache=cache is not None)
    logits = out.logits.float()
    logprobs = logits.log_softmax(-1)
    scores = [([], []) for _ in rests]
    for r, (i, _) in enumerate(rows):
        label = labels[i][len(scores[i][0])]
        answer = len(rests[i]) - 1  # the position whose logits predict the label's first token
        positions = torch.arange(answer, answer + len(label), device=model.device)
        scores[i][0].append(logits[r, answer, label[0]].item())
        scores[i][1].append(logprobs[r, positions, _tensor(model, [label])[0]].sum().item())
    return scores


def _tensor(model, ids: list[list[int]]):
    import torch

    return torch.tensor(ids, dtype=torch.long, device=model.device)


def _reading(labels: Sequence[str], first: list[float], logprobs: list[float], merged: int) -> dict:
    return {
        "first_token": dict(zip(labels, first)),
        "first_token_pred": labels[max(range(len(labels)), key=first.__getitem__)],
        "label_logprobs": dict(zip(labels, logprobs)),
        "full_label_pred": labels[max(range(len(labels)), key=logprobs.__getitem__)],
        "prompt_tokens_merged": merged,
    }


def classify_records(
    model, task: TaskSet, records: Sequence[Mapping], demos: Sequence[Mapping], k: int, template: int = 1
) -> list[dict]:
    """Per-item records of one test set at `k` demonstrations: {idx, prompt, gold, first_token,
    first_token_pred, label_logprobs, full_label_pred, prompt_tokens_merged}."""
    if task.kind != "classification":
        raise UserError(f"{task.folder / TASK_FILE}: task '{task.name}' is not a classification task")
    prompts = [test_prompt(task, r, demos, k, template) for r in records]
    readings = score_prompts(model, prompts, task.labels, str(task.folder / TASK_FILE))
    return [
        {"idx": r["idx"], "prompt": p, "gold": r[task.output]} | reading
        for r, p, reading in zip(records, prompts, readings)
    ]


def accuracy_metrics(golds: Sequence[str], preds: Sequence[str], unlabelled: str | None = None) -> dict:
    """Accuracy over every item (an `unlabelled` gold counts as wrong) and over the labelled items
    only, each with its binomial standard error sqrt(p (1 - p) / n)."""
    labelled = [(g, p) for g, p in zip(golds, preds) if unlabelled is None or g != unlabelled]
    correct = sum(g == p for g, p in labelled)
    return {
        "n": len(golds),
        "n_unlabelled": len(golds) - len(labelled),
        "accuracy": _rate(correct, len(golds)),
        "stderr": _binomial_stderr(correct, len(golds)),
        "accuracy_labelled": _rate(correct, len(labelled)),
        "stderr_labelled": _binomial_stderr(correct, len(labelled)),
    }


def _rate(correct: int, n: int) -> float:
    return correct / n if n else float("nan")


def _binomial_stderr(correct: int, n: int) -> float:
    return binomial_stderr(correct / n, n) if n else float("nan")
