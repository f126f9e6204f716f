"""The task study report's figures (see iclft.tasks.report), drawn with matplotlib's Agg backend
in the colors of iclft.report.figures and written atomically as PNG."""

from __future__ import annotations

import io
import math
from pathlib import Path

from iclft.io import atomic_write_bytes

BASE_COLOR = "0.25"
TEMPLATE_STYLES = {1: "-", 2: "--"}  # any further template: dotted


def plot_change_from_base(matrices: list[tuple], path: Path) -> Path:
    """One heatmap per template: fine-tuned models × test sets, the change from the base model on a
    diverging colormap centred at 0 (one scale for all panels), numbers in cells, missing cells blank."""
    plt = _pyplot()
    values = [v for _, _, _, rows in matrices for row in rows for v in row if not math.isnan(v)]
    limit = max((abs(v) for v in values), default=0.0) or 0.01
    cmap = plt.get_cmap("RdBu").with_extremes(bad="white")
    panels = matrices or [(1, [], [], [])]
    widths = [max(1, len(m[2])) for m in panels]
    size = (3.0 + 0.8 * sum(widths) + 1.2 * len(panels), max(2.8, 1.8 + 0.4 * max(len(m[1]) for m in panels)))
    with plt.rc_context({"font.size": 10}):
        fig, axes = plt.subplots(
            1, len(panels), figsize=size, squeeze=False, layout="constrained", gridspec_kw={"width_ratios": widths}
        )
        for ax, (template, models, sets, rows) in zip(axes[0], panels):
            image = ax.imshow(rows or [[math.nan]], cmap=cmap, vmin=-limit, vmax=limit, aspect="auto")
            for i, row in enumerate(rows):
                for j, v in enumerate(row):
                    if not math.isnan(v):
                        color = "white" if abs(v) > 0.6 * limit else "black"
                        ax.text(j, i, f"{v:+.3f}", ha="center", va="center", fontsize=8, color=color)
            ax.set_xticks(range(len(sets)), sets, rotation=40, ha="right")
            ax.set_yticks(range(len(models)), models)
            ax.set_title(f"template {template}", loc="left")
        fig.colorbar(image, ax=axes[0].tolist(), label="model − base", shrink=0.9)
        fig.suptitle(
            "Change from the base model\n(ROUGE-L F, first-token accuracy; mean over shared shot counts)",
            x=0.02,
            ha="left",
            fontweight="bold",
            fontsize=10,
        )
        return _save(fig, plt, path)


def plot_by_shots(train_set: str, panels: list[dict], path: Path) -> Path:
    """One panel per test set: the primary metric (± standard error) by shot count, one line per
    model and template (template 1 solid, template 2 dashed); the base model in dark gray."""
    from iclft.report.figures import color_map

    plt = _pyplot()
    models = list(dict.fromkeys(line["model"] for p in panels for line in p["lines"]))
    colors = {**color_map([m for m in models if m != "base"]), "base": BASE_COLOR}
    n_cols = min(4, len(panels))
    n_rows = math.ceil(len(panels) / n_cols)
    with plt.rc_context({"font.size": 10}):
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=(3.6 * n_cols + 2.6, 3.0 * n_rows + 0.6), squeeze=False, layout="constrained"
        )
        handles = {}  # label -> (model's place, template, line)
        for ax, panel in zip(axes.flat, panels):
            for line in panel["lines"]:
                label = line["model"] + ("" if line["template"] == 1 else f" (template {line['template']})")
                drawn = ax.errorbar(
                    line["shots"], line["values"], yerr=line["stderrs"], label=label, color=colors[line["model"]],
                    linestyle=TEMPLATE_STYLES.get(line["template"], ":"), marker="o", markersize=3.5, capsize=2.5, linewidth=1.4,
                )  # fmt: skip
                handles.setdefault(label, (models.index(line["model"]), line["template"], drawn))
            ax.set_title(panel["test_set"], loc="left", fontsize=10)
            ax.set_xlabel("shots")
            ax.set_xticks(sorted({s for line in panel["lines"] for s in line["shots"]}))  # the shot counts asked
            ax.set_ylabel(panel["metric"])
            ax.spines[["top", "right"]].set_visible(False)
            ax.grid(axis="y", color="0.9", linewidth=0.8)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        order = sorted(handles, key=lambda label: handles[label][:2])
        fig.legend([handles[label][2] for label in order], order, loc="outside right upper", frameon=False)
        fig.suptitle(f"Trained on {train_set}: the metric by shot count (± s.e.)", x=0.02, ha="left", fontweight="bold")
        return _save(fig, plt, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path
