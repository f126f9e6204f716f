"""The experimental conditions, defined once: one row per condition.

    base      the model as it is
    icl       the training documents in context
    ft        fine-tuned on the training documents
    ft+icl    fine-tuned, then the documents in context as well
    ft_aug    fine-tuned on the documents plus augmentations
    icl_aug   the documents plus augmentations in context
    fticl     fine-tuned with in-context demonstrations before every training input

Everything else (config validation, experiment steps, sweep jobs, report order) reads the
properties below, so adding a condition means adding one row to `TABLE`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from iclft.errors import UserError


@dataclass(frozen=True)
class Condition:
    name: str
    uses_context: bool  # the test questions are scored after the training documents in context
    fine_tunes: bool  # the model is fine-tuned on the training documents first
    augmented: bool  # augmentations are added (to the training data or to the context)
    fticl: bool  # fine-tuning inputs get in-context demonstrations (FticlConfig)
    report_rank: int  # position in reports and tables


TABLE: tuple[Condition, ...] = (
    Condition("base", uses_context=False, fine_tunes=False, augmented=False, fticl=False, report_rank=0),
    Condition("icl", uses_context=True, fine_tunes=False, augmented=False, fticl=False, report_rank=1),
    Condition("icl_aug", uses_context=True, fine_tunes=False, augmented=True, fticl=False, report_rank=2),
    Condition("ft", uses_context=False, fine_tunes=True, augmented=False, fticl=False, report_rank=3),
    Condition("ft_aug", uses_context=False, fine_tunes=True, augmented=True, fticl=False, report_rank=4),
    Condition("fticl", uses_context=False, fine_tunes=True, augmented=False, fticl=True, report_rank=5),
    Condition("ft+icl", uses_context=True, fine_tunes=True, augmented=False, fticl=False, report_rank=6),
)

_BY_NAME = {c.name: c for c in TABLE}
PROPERTIES = tuple(f.name for f in fields(Condition) if f.type in ("bool", bool))


def get(name: str) -> Condition:
    """The condition called `name`; an unknown name raises UserError listing the known ones."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UserError(f"unknown condition '{name}' (known: {', '.join(all_names())})") from None


def all_names() -> tuple[str, ...]:
    """Every condition name, in table order."""
    return tuple(c.name for c in TABLE)


def names(**props: bool) -> tuple[str, ...]:
    """Names of the conditions whose properties equal the given values, e.g. names(fine_tunes=True)."""
    unknown = set(props) - set(PROPERTIES)
    if unknown:
        raise TypeError(f"not a condition property: {', '.join(sorted(unknown))}")
    return tuple(c.name for c in TABLE if all(getattr(c, k) == v for k, v in props.items()))


def report_order() -> tuple[str, ...]:
    """Condition names in the order reports show them."""
    return tuple(c.name for c in sorted(TABLE, key=lambda c: c.report_rank))


def report_rank(name: str) -> int:
    """Position of `name` in reports; unknown names (runs of older versions) go last."""
    condition = _BY_NAME.get(name)
    return condition.report_rank if condition else len(TABLE)
