"""A benchmark's rows as CSV (every number) and Markdown (accuracy ± standard error)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict

from iclft.accuracy_table import format_accuracy_table
from iclft.report.aggregate import Row

CSV_FIELDS = list(Row.__dataclass_fields__)


def rows_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in asdict(row).items()})
    return buf.getvalue()


def _cell(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


def rows_markdown(rows: list[Row]) -> str:
    """split | n | chance | one 'acc ± se' column per condition, and what the ± means."""
    by_condition: dict[str, dict] = {}
    for row in rows:
        splits = by_condition.setdefault(row.condition, {"splits": {}})["splits"]
        splits[row.split] = {"n": row.n_items, "chance": row.chance, "accuracy": row.accuracy, "stderr": row.stderr}
    over = sorted({r.stderr_over for r in rows})
    seeds = sorted({r.n_seeds for r in rows})
    note = (
        f"Accuracy: mean over {'/'.join(map(str, seeds))} seed(s); ± standard error over {' / '.join(over)}; "
        "n: test items per seed. An accuracy of exactly 0 or 1 shows instead the 95% Wilson interval of one seed's n items."
    )
    return format_accuracy_table(by_condition) + "\n\n" + note + "\n"
