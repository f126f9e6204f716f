"""Plain-text tables of accuracy by split and condition, for the terminal and Markdown."""

from __future__ import annotations

from typing import Any

from iclft.evaluation.metrics import accuracy_text, stderr_of_mean


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
    return markdown_table(lines)


def seed_rows(per_seed: list[dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per split: n and chance (of the first seed), then per condition the list of
    the seeds' accuracies, in seed order."""
    rows: dict[str, dict[str, Any]] = {}
    for metrics_by_condition in per_seed:
        for row in accuracy_rows(metrics_by_condition):
            merged = rows.setdefault(row["split"], {"split": row["split"], "n": row["n"], "chance": row["chance"]})
            for condition in metrics_by_condition:
                if condition in row:
                    merged.setdefault(condition, []).append(row[condition][0])
    return list(rows.values())


def format_seed_table(per_seed: list[dict[str, dict[str, Any]]]) -> str:
    """A Markdown table over seeds: split | n (items per seed) | chance | per condition
    'mean ± se [min–max]', the mean and standard error of the seeds' accuracies; where every
    seed scored 0 or 1, the Wilson interval of all their items instead of '± 0.00'."""
    conditions = list(dict.fromkeys(c for m in per_seed for c in m))
    header = ["split", "n per seed", "chance", *conditions]
    lines = [header]
    for row in seed_rows(per_seed):
        cells = [row["split"], str(row["n"]), f"{row['chance']:.2f}"]
        for condition in conditions:
            values = row.get(condition)
            if not values:
                cells.append("—")
                continue
            mean, se = sum(values) / len(values), stderr_of_mean(values) or 0.0
            if min(values) == max(values) in (0.0, 1.0):  # every seed at a bound: no spread to show
                pooled = accuracy_text(mean, 0.0, row["n"] * len(values))
                cells.append(f"{pooled} [every seed]")
            else:
                cells.append(f"{mean:.2f} ± {se:.2f} [{min(values):.2f}–{max(values):.2f}]")
        lines.append(cells)
    note = f"mean ± standard error over {len(per_seed)} seeds [lowest–highest seed]"
    return markdown_table(lines) + "\n\n" + note


def markdown_table(lines: list[list[str]]) -> str:
    """Rows of cells (the first the header) as an aligned Markdown table."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
