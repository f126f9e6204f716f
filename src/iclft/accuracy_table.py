"""Plain-text tables of accuracy by split and condition, for the terminal and Markdown."""

from __future__ import annotations

from typing import Any

from iclft.evaluation.metrics import accuracy_text


def accuracy_rows(metrics_by_condition: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per split: chance, then accuracy and standard error under each condition."""
    splits = list(dict.fromkeys(s for m in metrics_by_condition.values() for s in m["splits"]))
    rows = []
    for split in splits:
        row: dict[str, Any] = {"split": split}
        for condition, metrics in metrics_by_condition.items():
            entry = metrics["splits"].get(split)
            if entry is None:
                continue
            row.setdefault("n", entry["n"])
            row.setdefault("chance", entry["chance"])
            row[condition] = (entry["accuracy"], entry["stderr"], entry["n"])
        rows.append(row)
    return rows


def format_accuracy_table(metrics_by_condition: dict[str, dict[str, Any]]) -> str:
    """A Markdown table: split | n | chance | one 'acc ± se' column per condition (at 0 or 1, a
    95% Wilson interval instead of '± 0.00')."""
    conditions = list(metrics_by_condition)
    header = ["split", "n", "chance", *conditions]
    lines = [header]
    for row in accuracy_rows(metrics_by_condition):
        cells = [row["split"], str(row["n"]), f"{row['chance']:.2f}"]
        for condition in conditions:
            value = row.get(condition)
            cells.append(accuracy_text(*value) if value else "—")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
