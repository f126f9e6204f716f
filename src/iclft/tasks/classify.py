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


def score_prompts(model, prompts: Sequence[str], labels: Sequence[str], where: str, rows: int = 8) -> list[dict]:
    """Both readings of every prompt: {first_token, first_token_pred, label_logprobs,
    full_label_pred, prompt_tokens_merged}, in `prompts` order. `model` is a TransformersModel;
    `where` names the task in error lines; `rows`: prompts per forward pass."""
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
    widths = [len(s) + sum(len(label) for label in t.labels) for s, t in zip(sequences, items)]  # a row's tokens
    results: list[dict] = [{}] * len(items)
    for batch in length_batches(widths, rows):
        rests = [sequences[i][shared:] for i in batch]
        scores = _score_batch(model, cache, shared, rests, [items[i].labels for i in batch])
        for i, (first, logprobs) in zip(batch, scores):
            results[i] = _reading(labels, first, logprobs, items[i].merged)
    return results


def length_batches(lengths: Sequence[int], rows: int) -> list[list[int]]:
    """Indices into `lengths` in batches of `rows`, longest first, so that the rows of a batch
    need little padding (reviews and articles vary several-fold in length)."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    rows = max(1, rows)
    return [order[i : i + rows] for i in range(0, len(order), rows)]


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
    label's summed log-probability; one forward pass over one row per item: the rest of its
    prompt once, then every label's tokens, each label seeing the prompt and its own tokens only
    (at the positions it would have alone)."""
    import torch
    from transformers import DynamicCache

    rows, query_pos, allowed, reads = [], [], [], []
    for rest, item in zip(rests, labels):
        ids, pos, segment = list(rest), list(range(shared, shared + len(rest))), [0] * len(rest)
        answer = len(rest) - 1  # the index whose logits predict every label's first token
        item_reads = []
        for i, label in enumerate(item, 1):
            at = [answer] + list(range(len(ids), len(ids) + len(label) - 1))  # where each label token is predicted
            item_reads.append((at, label))
            ids += label
            pos += range(shared + len(rest), shared + len(rest) + len(label))
            segment += [i] * len(label)
        rows.append(ids)
        query_pos.append(pos)
        allowed.append(_tree(segment))
        reads.append(item_reads)
    width = max(len(r) for r in rows)
    ids = _tensor(model, [r + [model.pad_id] * (width - len(r)) for r in rows])
    positions = _tensor(model, [p + [p[-1]] * (width - len(p)) for p in query_pos])
    see = torch.zeros(len(rows), width, shared + width, dtype=torch.bool, device=model.device)
    see[:, :, :shared] = True  # the shared prefix, seen by every query (pads too: no empty rows)
    for r, block in enumerate(allowed):
        see[r, : len(block), shared : shared + len(block)] = block
        for q in range(len(block), width):  # a pad sees itself (no row without a key); nothing sees it
            see[r, q, shared + q] = True
    key_pos = torch.cat([torch.arange(shared, device=model.device).expand(len(rows), -1), positions], dim=1)
    past = None
    if cache is not None:
        copies = lambda t: t.expand(len(rows), -1, -1, -1)  # noqa: E731
        past = DynamicCache(ddp_cache_data=[(copies(k), copies(v)) for k, v in cache])
    # the output head runs only where some row reads a label token's logits, not over the prompts
    keep = sorted({a for item_reads in reads for at, _ in item_reads for a in at})
    column = {a: j for j, a in enumerate(keep)}
    with torch.inference_mode():
        out = model.module(
            input_ids=ids,
            position_ids=positions,
            attention_mask=additive_masks(model, see[:, None], positions, key_pos),
            cache=past,
            use_cache=cache is not None,
            logits_to_keep=_tensor(model, [keep])[0],
        )
    logits = out.logits.float()  # [rows, len(keep), vocabulary]
    logprobs = logits.log_softmax(-1)
    scores = []
    for r, item_reads in enumerate(reads):
        first = [logits[r, column[at[0]], label[0]].item() for at, label in item_reads]
        sums = [
            logprobs[r, _tensor(model, [[column[a] for a in at]])[0], _tensor(model, [label])[0]].sum().item()
            for at, label in item_reads
        ]
        scores.append((first, sums))
    return scores


def _tree(segment: list[int]):
    """[n, n] bool: token q sees token k when k <= q and k is in the prompt (segment 0) or in q's own label."""
    import torch

    seg = torch.tensor(segment)
    idx = torch.arange(len(segment))
    return (idx[None, :] <= idx[:, None]) & ((seg[None, :] == 0) | (seg[None, :] == seg[:, None]))


def additive_masks(model, allowed, query_pos, key_pos):
    """Additive attention masks from `allowed` [rows, 1, queries, keys]: 0 where allowed, the
    dtype's lowest value elsewhere (what eager and SDPA attention both add); for models with
    sliding-window layers a dict that also limits those layers to the window, by true positions."""
    import torch

    def additive(mask):
        lowest = torch.finfo(model.dtype).min
        return torch.zeros(mask.shape, dtype=model.dtype, device=model.device).masked_fill(~mask, lowest)

    config = model.module.config.get_text_config()
    window = getattr(config, "sliding_window", None)
    if window and "sliding_attention" in (getattr(config, "layer_types", None) or []):
        near = (query_pos[:, :, None] - key_pos[:, None, :] < window)[:, None]
        return {"full_attention": additive(allowed), "sliding_attention": additive(allowed & near.to(allowed.device))}
    return additive(allowed)


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
