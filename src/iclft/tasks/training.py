"""Training sequences of the task study and the weight drift of a fine-tuned model.

A training sequence is source + target glued (`TrainExample(glued=True)`): the target follows
the template's final colon directly and ends with the model's end token; the loss is on the
target and end token only (for FTICL the demonstrations are part of the source). A sequence
longer than the fine-tuning length is never cut in its target: the longest input field is
shortened until the sequence fits, and such examples are counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from iclft.errors import UserError
from iclft.models.base import TrainExample
from iclft.tasks.format import TASK_FILE, TaskSet
from iclft.tasks.prompts import training_pair

MAX_CUTS = 20  # shortening rounds before a sequence is declared impossible to fit


def sequence_length(lm, source: str, target: str) -> int:
    context, target_ids = lm.encode_glued(source, target)
    return len(context) + len(target_ids)


def fitted_record(
    lm, task: TaskSet, record: Mapping, context: str, max_length: int, template: int = 1
) -> tuple[dict, bool]:
    """`record`, with its longest input field shortened (from the end) until context + P1(record)
    + target fit in `max_length` tokens; and whether it had to be shortened."""
    fitted = dict(record)
    for _ in range(MAX_CUTS):
        length = sequence_length(lm, *training_pair(task, fitted, context, template))
        if length <= max_length:
            return fitted, fitted != dict(record)
        field = max(task.inputs, key=lambda f: len(fitted[f]))
        text = fitted[field]
        if not text:
            break
        keep = max(0, int(len(text) * (1 - (length - max_length) / max(1, lm.count_tokens(text)))) - 8)
        fitted[field] = text[: min(keep, len(text) - 1)]
    raise UserError(
        f"{task.folder / TASK_FILE}: training record idx {record.get('idx')} does not fit in {max_length} tokens "
        f"even with its inputs cut; raise ft.max_length"
    )


def training_examples(
    lm, task: TaskSet, records: Sequence[Mapping], context: str, max_length: int, template: int = 1
) -> tuple[list[TrainExample], int]:
    """The glued training examples of `records` (with FTICL `context` before each), and how many
    had an input shortened to fit `max_length`."""
    examples, truncated = [], 0
    for record in records:
        fitted, cut = fitted_record(lm, task, record, context, max_length, template)
        source, target = training_pair(task, fitted, context, template)
        examples.append(TrainExample(target=target, context=source, glued=True))
        truncated += cut
    return examples, truncated


def weight_drift(before: Mapping, module) -> dict:
    """Mean absolute weight change from `before` (name -> tensor, the base model's parameters):
    over every parameter ("all"; unchanged ones count as zeros) and over the tensors that
    changed ("adapted": for LoRA the adapted matrices, whose change is the merged (α/r)·B·A)."""
    total = changed = 0.0
    n_total = n_changed = 0
    for name, param in module.named_parameters():
        delta = (param.detach().to("cpu").float() - before[name].float()).abs()
        s = float(delta.sum())
        total += s
        n_total += delta.numel()
        if s > 0:
            changed += s
            n_changed += delta.numel()
    return {
        "all": total / n_total if n_total else 0.0,
        "adapted": changed / n_changed if n_changed else 0.0,
        "changed_parameters": n_changed,
        "parameters": n_total,
    }
