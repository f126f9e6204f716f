"""Greedy generation of the task study's generation sets (docs/task-study.md, "Scoring").

A test prompt is k demonstrations, the same for every item of a set, then the item's filled
template; its tokens are the model's start-of-text token + the tokens of the whole prompt text,
as `iclft.tasks.classify` tokenizes. Decoding is greedy: at most `max_new_tokens` new tokens,
ending at the model's end token or once the text has a stop string ("\\n\\n", a blank line) after
its leading whitespace, and the text is cut there. Cutting at the stop gives the same text as
generating on to the limit and then cutting: what comes after the stop is never kept.

Speed: the model runs once over the token prefix every prompt shares (`classify.run_shared`);
each batch of `rows` prompts starts from that key/value cache, expanded over the batch, runs
the rest of each prompt (left padded) in one pass, and then one token per row per step. A row
that has stopped leaves the batch. Masks and position ids follow each token's true position, so
that every row sees what it would see alone, sliding windows included.

torch is imported on use, so that `iclft.tasks` stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from iclft.errors import UserError
from iclft.tasks.classify import additive_masks, common_prefix, length_batches, run_shared
from iclft.tasks.format import TASK_FILE, TaskSet
from iclft.tasks.prompts import test_prompt
from iclft.tasks.rouge import BLANK_LINE, cut_generation, rouge_item


def stop_index(text: str, stop: str) -> int:
    """Where the first `stop` after `text`'s leading whitespace starts; -1 when there is none."""
    return text.find(stop, len(text) - len(text.lstrip())) if stop else -1


def cut_at_stop(text: str, stop: str) -> str:
    """`text` before the first `stop` that follows its leading whitespace; all of it when there is none."""
    at = stop_index(text, stop)
    return text if at < 0 else text[:at]


def end_tokens(model) -> set[int]:
    """The token ids that end a generation: the model's generation config's, else its tokenizer's end token."""
    ends = model.module.generation_config.eos_token_id
    if ends is None:
        ends = model.tokenizer.eos_token_id
    return set(ends) if isinstance(ends, list) else set() if ends is None else {ends}


def greedy_generate(
    model,
    prompts: Sequence[str],
    max_new_tokens: int = 60,
    stop: str = BLANK_LINE,
    rows: int = 16,
    where: str = "prompts",
) -> list[str]:
    """The greedy continuation of every prompt, decoded (special tokens skipped) and cut at `stop`
    (`cut_at_stop`), in `prompts` order. `model` is a TransformersModel; `rows`: prompts per
    batch; `where` names the prompts in error lines."""
    if not prompts:
        return []
    tokenize = lambda text: model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]  # noqa: E731
    sequences = [model._start() + tokenize(p) for p in prompts]
    if any(not s for s in sequences):
        raise UserError(f"{where}: an empty prompt and no start-of-text token: nothing to condition on")
    longest = max(len(s) for s in sequences) + max_new_tokens
    if longest > model.max_length:
        raise UserError(
            f"{where}: a prompt and {max_new_tokens} new tokens are {longest} tokens; "
            f"model {model.name} accepts {model.max_length}"
        )
    if max_new_tokens < 1:
        return [""] * len(prompts)
    shared = min(min(len(s) for s in sequences) - 1, *(common_prefix(sequences[0], s) for s in sequences))
    cache = run_shared(model, sequences[0][:shared])
    ends = end_tokens(model)
    new: list[list[int]] = [[] for _ in sequences]
    for batch in length_batches([len(s) for s in sequences], rows):
        rests = [sequences[i][shared:] for i in batch]
        for i, tokens in zip(batch, _decode_batch(model, cache, shared, rests, max_new_tokens, stop, ends)):
            new[i] = tokens
    return [cut_at_stop(model.tokenizer.decode(tokens, skip_special_tokens=True), stop) for tokens in new]


def _decode_batch(model, cache, shared: int, rests: list[list[int]], max_new_tokens: int, stop: str, ends: set[int]):
    """The new tokens of each row: the rests of the prompts (after `shared` tokens) in one
    left-padded pass over copies of the shared `cache`, then greedy steps."""
    import torch
    from transformers import DynamicCache

    n, width = len(rests), max(len(r) for r in rests)
    tensor = lambda values, dtype=torch.long: torch.tensor(values, dtype=dtype, device=model.device)  # noqa: E731
    ids = tensor([[model.pad_id] * (width - len(r)) + r for r in rests])
    # a pad sits at the first rest position: it sees the prefix (or the first rest token), nothing sees it
    query_pos = tensor([[shared] * (width - len(r)) + list(range(shared, shared + len(r))) for r in rests])
    key_valid = tensor([[True] * shared + [False] * (width - len(r)) + [True] * len(r) for r in rests], torch.bool)
    key_pos = torch.cat([torch.arange(shared, device=model.device).expand(n, -1), query_pos], dim=1)
    past = DynamicCache()
    if cache is not None:
        past = DynamicCache(ddp_cache_data=[(k.expand(n, -1, -1, -1), v.expand(n, -1, -1, -1)) for k, v in cache])

    new: list[list[int]] = [[] for _ in rests]
    active = list(range(n))  # the rows still in the batch, by their index in `rests`
    with torch.inference_mode():
        while True:
            out = model.module(
                input_ids=ids,
                position_ids=query_pos,
                attention_mask=_mask(model, query_pos, key_pos, key_valid),
                cache=past,
                use_cache=True,
                logits_to_keep=1,
            )
            tokens = out.logits[:, -1].argmax(-1).tolist()
            for r, token in zip(active, tokens):
                new[r].append(token)
            keep = [i for i, r in enumerate(active) if not _done(model, new[r], max_new_tokens, stop, ends)]
            if not keep:
                return new
            if len(keep) < len(active):
                kept = tensor(keep)
                past.batch_select_indices(kept)
                key_pos, key_valid, query_pos = key_pos[kept], key_valid[kept], query_pos[kept]
                tokens, active = [tokens[i] for i in keep], [active[i] for i in keep]
            ids = tensor([[t] for t in tokens])
            query_pos = query_pos[:, -1:] + 1
            key_pos = torch.cat([key_pos, query_pos], dim=1)
            key_valid = torch.cat([key_valid, torch.ones_like(query_pos, dtype=torch.bool)], dim=1)


def _done(model, row: list[int], max_new_tokens: int, stop: str, ends: set[int]) -> bool:
    """Whether a row of new tokens is complete: an end token, the token limit, or the stop string."""
    if row[-1] in ends or len(row) >= max_new_tokens:
        return True
    return bool(stop) and stop_index(model.tokenizer.decode(row, skip_special_tokens=True), stop) >= 0


def _mask(model, query_pos, key_pos, key_valid):
    """Additive attention masks [rows, 1, queries, keys] by true positions: a query sees the valid
    keys at or before its position (and within the sliding window, for layers that have one)."""
    behind = key_pos[:, None, :] <= query_pos[:, :, None]
    return additive_masks(model, (key_valid[:, None, :] & behind)[:, None], query_pos, key_pos)


def generate_records(
    model,
    task: TaskSet,
    records: Sequence[Mapping],
    demos: Sequence[Mapping],
    k: int,
    template: int = 1,
    max_new_tokens: int = 60,
    rows: int = 16,
) -> list[dict]:
    """Per-item records of one generation test set at `k` demonstrations: {idx, prompt, gold,
    generation, rougeL, rouge1, rouge2}; `generation` is the greedy generation as the study
    scores it (`cut_generation`), and the ROUGE F-measures compare it with `gold`."""
    where = str(task.folder / TASK_FILE)
    if task.kind != "generation":
        raise UserError(f"{where}: task '{task.name}' is not a generation task")
    prompts = [test_prompt(task, r, demos, k, template) for r in records]
    texts = greedy_generate(model, prompts, max_new_tokens, rows=rows, where=where)
    items = []
    for record, prompt, text in zip(records, prompts, texts):
        gold, generation = record[task.output], cut_generation(text)
        items.append({"idx": record["idx"], "prompt": prompt, "gold": gold, "generation": generation})
        items[-1] |= rouge_item(gold, generation)
    return items
