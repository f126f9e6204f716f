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

    def cell(row: dict[str, Any], condition: str) -> str:
        return accuracy_text(*row[condition]) if row.get(condition) else "—"

    return split_table("n", accuracy_rows(metrics_by_condition), list(metrics_by_condition), cell)


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
    'mean ± se [min–max]', the mean and standard error of the seeds' accuracies (the error to
    three places under 0.005); where every seed scored 0 or 1, the Wilson interval of all
    their items instead of '± 0.00'."""
    conditions = list(dict.fromkeys(c for m in per_seed for c in m))
    table = split_table("n per seed", seed_rows(per_seed), conditions, lambda row, c: _seed_cell(row.get(c), row["n"]))
    return table + f"\n\nmean ± standard error over {len(per_seed)} seeds [lowest–highest seed]"


def _seed_cell(values, n: int) -> str:
    """'mean ± se [min–max]' of the seeds' accuracies; at 0 or 1 on every seed, the Wilson
    interval of all their `n` items each."""
    if not values:
        return "—"
    mean = sum(values) / len(values)
    if min(values) == max(values) in (0.0, 1.0):  # every seed at a bound: no spread to show
        return f"{accuracy_text(mean, 0.0, n * len(values))} [every seed]"
    se = stderr_of_mean(values) or 0.0
    se_text = f"{se:.2f}" if se >= 0.005 else f"{se:.3f}"  # a small spread is shown, not rounded to 0.00
    return f"{mean:.2f} ± {se_text} [{min(values):.2f}–{max(values):.2f}]"


def split_table(n_label: str, rows: list[dict[str, Any]], conditions: list[str], cell) -> str:
    """split | n_label | chance | one column per condition, each `cell(row, condition)`."""
    lines = [["split", n_label, "chance", *conditions]]
    for row in rows:
        lines.append([row["split"], str(row["n"]), f"{row['chance']:.2f}", *(cell(row, c) for c in conditions)])
    return markdown_table(lines)


def markdown_table(lines: list[list[str]]) -> str:
    """Rows of cells (the first the header) as an aligned Markdown table."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    out.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(out)
