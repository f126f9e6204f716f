"""Prompts and training sequences of the task study (docs/task-study.md, "Prompts").

A template T is filled with a record's fields (`str.format_map`). A demonstration is T(d)
followed directly by d's output (no space after the template's final colon) and a blank line:

    test prompt      = demos[0..k) as demonstrations + T(x)        the model continues after T(x)
    FT sequence      = source P1(x),           target x's output
    FTICL sequence   = source context + P1(x), target x's output   context: the first k demos of
                                                                   the training task's own pool, with P1

Demonstrations are the first k records of the pool, in file order. At k = 0 the prompt is T(x)
alone: the start-of-text token is the model's own, added by its tokenizer under iclft's one rule
(docs/design.md), never a literal "<s> " as in the authors' code. Targets stay plain text: the end
token is added by the model layer. (A mode that reproduces the authors' start-token handling is
planned, not implemented.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from iclft.errors import UserError
from iclft.tasks.format import TASK_FILE, TaskSet

DEMO_SEPARATOR = "\n\n"


def fill(task: TaskSet, template: int, record: Mapping) -> str:
    """Template number `template` (1 = P1) of `task`, filled with `record`'s fields."""
    try:
        return task.template(template).format_map(record)
    except KeyError as e:
        raise UserError(
            f"{task.folder / TASK_FILE}: template {template} needs field {e}, the record has none"
        ) from None


def demo_context(task: TaskSet, demos: Sequence[Mapping], k: int, template: int = 1) -> str:
    """The first `k` demos, each filled template + its output + a blank line."""
    if not 0 <= k <= len(demos):
        raise UserError(f"{task.folder / TASK_FILE}: {k} demonstrations asked for, the pool has {len(demos)}")
    return "".join(fill(task, template, d) + d[task.output] + DEMO_SEPARATOR for d in demos[:k])


def test_prompt(task: TaskSet, record: Mapping, demos: Sequence[Mapping], k: int, template: int = 1) -> str:
    """The prompt for test record `record` with `k` demonstrations from `demos` (its own pool)."""
    return demo_context(task, demos, k, template) + fill(task, template, record)


def training_pair(task: TaskSet, record: Mapping, context: str = "", template: int = 1) -> tuple[str, str]:
    """(source, target) of one training record: source = context + T(record), target = its output.

    `context` is empty for FT, and `demo_context(task, pool, k, template)` for FTICL (one fixed
    context for every record of a run; the loss is on the target only). The paper trains with P1."""
    return context + fill(task, template, record), record[task.output]
