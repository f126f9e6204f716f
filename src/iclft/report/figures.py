"""The study's figure: accuracy by split (x), one bar per condition, standard-error whiskers,
chance as a dashed line over each split's bars. Written as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

from iclft.report.aggregate import Row

COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")


def color_map(labels: list[str]) -> dict[str, str]:
    return {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}


def plot_benchmark(benchmark: str, rows: list[Row], out_stem: Path, colors: dict[str, str] | None = None) -> list[Path]:
    """Draw `rows` (one benchmark) and save `<out_stem>.png` and `.svg`; returns both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(r.split for r in rows))
    labels = list(dict.fromkeys(r.condition for r in rows))
    colors = colors or color_map(labels)
    width = 0.8 / len(labels)
    with plt.rc_context({"font.size": 11, "svg.hashsalt": "iclft"}):
        fig, ax = plt.subplots(figsize=(max(5.5, 1.3 + 0.55 * len(labels) * len(splits)), 4.4), layout="constrained")
        for j, label in enumerate(labels):
            mine = {r.split: r for r in rows if r.condition == label}
            xs = [i - 0.4 + width * (j + 0.5) for i, s in enumerate(splits) if s in mine]
            ys = [mine[s].accuracy for s in splits if s in mine]
            es = [mine[s].stderr for s in splits if s in mine]
            ax.bar(
                xs,
                ys,
                width * 0.92,
                yerr=es,
                capsize=3,
                color=colors.get(label),
                label=label,
                error_kw={"elinewidth": 1},
            )
        for i, split in enumerate(splits):
            chance = next(r.chance for r in rows if r.split == split)
            ax.hlines(
                chance,
                i - 0.45,
                i + 0.45,
                colors="0.25",
                linestyles="--",
                linewidth=1.2,
                label="chance" if i == 0 else None,
            )
        ax.set_xticks(range(len(splits)), [f"{s}\n(n={_n_range(rows, s)})" for s in splits])
        ax.set_xlim(-0.55, len(splits) - 0.45)
        ax.set_ylim(0, 1.04)
        ax.set_ylabel("accuracy")
        ax.set_xlabel("test split")
        seeds = sorted({r.n_seeds for r in rows})
        over = "/".join(sorted({r.stderr_over for r in rows}))
        fig.suptitle(benchmark, x=0.02, ha="left", fontweight="bold")
        ax.set_title(
            f"mean of {'/'.join(map(str, seeds))} seed(s); whiskers: s.e. over {over}",
            loc="left",
            fontsize=9,
            color="0.35",
        )
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, title="condition")
        paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")]
        out_stem.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(paths[0], dpi=150, metadata={"Software": None})
        fig.savefig(paths[1], metadata={"Date": None, "Creator": None})
        plt.close(fig)
    return paths


def _n_range(rows: list[Row], split: str) -> str:
    ns = sorted({r.n_items for r in rows if r.split == split})
    return str(ns[0]) if len(ns) == 1 else f"{ns[0]}–{ns[-1]}"
