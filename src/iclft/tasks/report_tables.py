"""The task study report's tables (see iclft.tasks.report): results.csv and the Markdown pages."""

from __future__ import annotations

import csv
import io
import math

from iclft.evaluation.metrics import accuracy_text

ERRORS_NOTE = (
    "± is a standard error: binomial, sqrt(p (1 − p) / n), for accuracy; a bootstrap over test items for ROUGE-L. "
    "An accuracy of exactly 0 or 1 shows its 95% Wilson interval instead."
)
CSV_FIELDS = (
    "model", "train_set", "train_size", "condition", "k", "test_set", "family", "kind", "setting",
    "template", "shots", "n", "metric", "value", "stderr", "n_unlabelled", "accuracy_labelled",
    "stderr_labelled", "full_label_accuracy", "full_label_stderr", "full_label_accuracy_labelled",
    "full_label_stderr_labelled",
)  # fmt: skip


def metric_name(result: dict) -> str:
    metric = result["primary"].get("metric")
    return {"rougeL": "ROUGE-L F", "accuracy": "first-token accuracy"}.get(metric, str(metric))


def sorted_results(results: list[dict], models: list[str], sets: list[str]) -> list[dict]:
    """By test set, template, model (base, FT, FTICL), shots."""
    return sorted(
        results, key=lambda r: (sets.index(r["test_set"]), r["template"], models.index(r["model"]), r["shots"])
    )


# ---- results.csv


def results_csv(results: list[dict], models: list[str], sets: list[str]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in sorted_results(results, models, sets):
        writer.writerow({name: _csv_cell(value) for name, value in csv_row(r).items()})
    return buf.getvalue()


def csv_row(r: dict) -> dict:
    train = r["train"] or {}
    row = {
        "model": r["model"],
        "train_set": train.get("set"),
        "train_size": train.get("size"),
        "condition": train.get("condition", "base"),
        "k": train.get("k"),
        **{name: r[name] for name in ("test_set", "family", "kind", "setting", "template", "shots", "n")},
        "metric": r["primary"].get("metric"),
        "value": r["primary"]["value"],
        "stderr": r["primary"]["stderr"],
    }
    metrics = _object(r.get("metrics"))
    if r["kind"] == "classification":
        first, full = _object(metrics.get("first_token")), _object(metrics.get("full_label"))
        row |= {name: first.get(name) for name in ("n_unlabelled", "accuracy_labelled", "stderr_labelled")}
        row |= {
            f"full_label_{name}": full.get(name)
            for name in ("accuracy", "stderr", "accuracy_labelled", "stderr_labelled")
        }
    return row


def _object(value) -> dict:
    """`value` if it is a JSON object, else {} (a record's optional parts may be absent)."""
    return value if isinstance(value, dict) else {}


def _csv_cell(value):
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else value


# ---- Markdown


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"


def number(value, fmt: str = ".3f") -> str:
    """`value` formatted; blank for a missing value, nan or anything that is not a number."""
    if not _is_number(value) or (isinstance(value, float) and math.isnan(value)):
        return ""
    return format(value, fmt)


def plus_minus(value, stderr, n: int | None = None) -> str:
    """'value ± stderr'; for an accuracy (`n` given) of exactly 0 or 1, the 95% Wilson interval."""
    if not number(value):
        return ""
    if n and value in (0, 1):
        return accuracy_text(value, 0.0, n, digits=3)
    return f"{number(value)} ± {number(stderr)}"


def shots_label(shots: int) -> str:
    return f"{shots} shot" + ("" if shots == 1 else "s")


def fixed_shot_markdown(results: list[dict], models: list[str], sets: list[str]) -> str:
    parts = ["# The task study at each shot count\n", ERRORS_NOTE + "\n"]
    for test_set in sets:
        rows = [r for r in results if r["test_set"] == test_set]
        for template in sorted({r["template"] for r in rows}):
            mine = [r for r in rows if r["template"] == template]
            first = mine[0]
            parts.append(f"## {test_set}, template {template}\n")
            parts.append(f"{first['family']}, {first['kind']}; n = {_n_text(mine)} test items.\n")
            parts.append(_metric_line(first))
            parts.append(_shots_table(mine, models, lambda r: (r["primary"]["value"], r["primary"]["stderr"])))
            if first["kind"] == "classification":
                parts.append("Full-label accuracy (the label with the largest summed log-probability):\n")
                parts.append(_shots_table(mine, models, _full_label))
    return "\n".join(parts)


def _metric_line(result: dict) -> str:
    if result["kind"] == "classification":
        return "First-token accuracy (the paper's reading: the label whose first token has the largest logit):\n"
    return f"{metric_name(result)}:\n"


def _full_label(r: dict) -> tuple:
    full = _object(_object(r.get("metrics")).get("full_label"))
    return full.get("accuracy"), full.get("stderr")


def _shots_table(results: list[dict], models: list[str], reading) -> str:
    shots = sorted({r["shots"] for r in results})
    cells = {(r["model"], r["shots"]): plus_minus(*reading(r), accuracy_n(r)) for r in results}
    settings = {r["model"]: r["setting"] for r in results}
    rows = [[m, settings[m], *(cells.get((m, s), "") for s in shots)] for m in models if m in settings]
    return table(["model", "setting", *map(shots_label, shots)], rows)


def accuracy_n(result: dict) -> int | None:
    """The item count of a classification result (its values are proportions); None otherwise."""
    return result.get("n") if result.get("kind") == "classification" else None


def _n_text(results: list[dict]) -> str:
    ns = sorted({r["n"] for r in results})
    return str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"


def best_of_shots_markdown(results: list[dict], best: dict, models: list[str], sets: list[str]) -> str:
    parts = [
        "# Best of shot counts (the paper's selection)\n",
        "For each model, test set and template: the best value over the shot counts evaluated, "
        "**chosen on the test set itself, as in Yang et al.; optimistic** (the selection uses the "
        "very items it is scored on). Cells: value ± standard error of that shot count, and the "
        "shot count it came from (the fewest on a tie). For fixed shot counts see fixed_shot.md.\n",
        ERRORS_NOTE + "\n",
    ]
    metric = {r["test_set"]: "ROUGE-L" if r["kind"] == "generation" else "first-token acc." for r in results}
    for template in sorted({r["template"] for r in results}):
        mine = {key: v for key, v in best.items() if key[2] == template}
        cols = [s for s in sets if any(key[1] == s for key in mine)]
        rows = [
            [m, *(_best_cell(mine.get((m, s, template))) for s in cols)]
            for m in models
            if any(key[0] == m for key in mine)
        ]
        parts.append(f"## Template {template}\n")
        parts.append(table(["model", *(f"{s} ({metric[s]})" for s in cols)], rows))
    return "\n".join(parts)


def _best_cell(best: dict | None) -> str:
    if best is None:
        return ""
    return f"{plus_minus(best['value'], best['stderr'], best.get('n'))} ({shots_label(best['shots'])})"


def change_markdown(matrices: list[tuple]) -> str:
    parts = [
        "# Change from the base model\n",
        "For each fine-tuned model (rows) and test set (columns): the mean, over the shot counts "
        "both were evaluated at, of (model value − base value) at the same shot count and template. "
        "Values are ROUGE-L F on generation sets and first-token accuracy on classification sets. "
        "Blank: no shot count in common. The heatmap is change_from_base.png.\n",
    ]
    for template, models, sets, values in matrices:
        parts.append(f"## Template {template}\n")
        parts.append(
            table(["model", *sets], [[m, *(number(v, "+.3f") for v in row)] for m, row in zip(models, values)])
        )
    if not matrices:
        parts.append("No fine-tuned model shares a test set, template and shot count with the base model.\n")
    return "\n".join(parts)


def models_markdown(models: list[dict], results: list[dict]) -> str:
    header = ["model", "train set", "size", "condition", "k", "steps", "tokens/s", "last loss", "train s",
              "drift (all)", "drift (adapted)", "truncated inputs"]  # fmt: skip
    rows = [_model_row(m) for m in sorted(models, key=lambda m: m["name"])]
    parts = [
        "# Fine-tuned models\n",
        "Weight drift: as the study run records it (`weight_drift` of models/<name>.json).\n",
    ]
    parts.append(table(header, rows) if rows else "No models/*.json records.\n")
    recorded = {m["name"] for m in models}
    unrecorded = sorted({r["model"] for r in results if r["train"] and r["model"] not in recorded})
    if unrecorded:
        parts.append(f"Evaluated but without a models/*.json record: {', '.join(unrecorded)}.\n")
    return "\n".join(parts)


def _model_row(model: dict) -> list[str]:
    train, summary, drift = (model.get(key) or {} for key in ("train", "summary", "weight_drift"))
    cells = [
        (train.get("set"), ""), (train.get("size"), ""), (train.get("condition"), ""), (train.get("k"), ""),
        (summary.get("steps"), ""), (summary.get("tokens_per_s"), ".0f"), (summary.get("last_loss"), ".4f"),
        (summary.get("train_s"), ".1f"), (drift.get("all"), ".4g"), (drift.get("adapted"), ".4g"),
        (model.get("truncated_inputs"), ""),
    ]  # fmt: skip
    return [model["name"], *(_model_cell(value, fmt) for value, fmt in cells)]


def _model_cell(value, fmt: str) -> str:
    if value is None:
        return ""
    return number(value, fmt) if fmt and _is_number(value) else str(value)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def index_markdown(results: list[dict], files: list[str]) -> str:
    describe = {
        "results.csv": "every result record, one row each (all numbers)",
        "fixed_shot.md": "per test set and template: each model at each shot count",
        "best_of_shots.md": "the paper's selection: each model's best shot count, chosen on the test set (optimistic)",
        "change_from_base.md": "fine-tuned model − base, mean over shared shot counts (table)",
        "change_from_base.png": "the same as a heatmap",
        "models.md": "per fine-tuned model: training summary, weight drift, truncated inputs",
    }
    lines = ["# Task study report\n"]
    lines += [f"- [{name}]({name}): {describe.get(name, _by_shots_text(name))}" for name in files]
    n_by_set = {}
    for r in results:
        n_by_set.setdefault(r["test_set"], set()).add(r["n"])
    n_text = "; ".join(f"{s} {'/'.join(map(str, sorted(ns)))}" for s, ns in sorted(n_by_set.items()))
    models = {r["model"] for r in results}
    lines += [
        "",
        f"{len(results)} result records: {len(models)} model(s) on {len(n_by_set)} test set(s).",
        "",
        f"n (test items per evaluation): {n_text}.",
        "",
        "Metrics: ROUGE-L F (generation), first-token accuracy (classification, the paper's reading; "
        "full-label accuracy alongside). " + ERRORS_NOTE,
    ]
    return "\n".join(lines) + "\n"


def _by_shots_text(name: str) -> str:
    train_set = name.removeprefix("by_shots_").removesuffix(".png")
    return f"the models trained on {train_set} and the base model: the metric by shot count, per test set"
