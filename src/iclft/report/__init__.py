"""`iclft report`: every finished run of a runs directory aggregated into figures, tables and
one self-contained HTML page, with a note of what is missing (in progress, failed, not started).

    OUT/report.html                 open it from disk
    OUT/figures/<benchmark>.png     and .svg
    OUT/tables/<benchmark>.csv      and .md
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from iclft.errors import UserError
from iclft.io import atomic_write_text
from iclft.report.aggregate import benchmark_rows, make_cells
from iclft.report.collect import RunsIndex, collect
from iclft.report.figures import color_map, plot_benchmark
from iclft.report.html import page
from iclft.report.tables import rows_csv, rows_markdown


@dataclass
class Report:
    html: Path
    index: RunsIndex
    files: dict[str, list[Path]] = field(default_factory=dict)  # benchmark -> figures and tables

    def summary(self, max_missing: int = 20) -> str:
        idx = self.index
        lines = [
            f"{len(idx.runs)} finished run(s) over {len(self.files)} benchmark(s): {', '.join(self.files) or 'none'}"
        ]
        if idx.missing:
            counts: dict[str, int] = {}
            for m in idx.missing:
                counts[m.status] = counts.get(m.status, 0) + 1
            planned = f" of {idx.planned} planned" if idx.planned else ""
            lines.append(
                f"missing {len(idx.missing)} run(s){planned}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
            )
            lines += [
                f"  {m.status}: {m.slug}" + (f" ({m.detail})" if m.status in ("failed", "broken") else "")
                for m in idx.missing[:max_missing]
            ]
            if len(idx.missing) > max_missing:
                lines.append(f"  ... and {len(idx.missing) - max_missing} more (see the HTML page)")
        return "\n".join(lines)


def write_report(runs_dir: str | Path, out: str | Path, warn: Callable[[str], None] | None = None) -> Report:
    """The report of everything in `runs_dir`. Broken files are skipped; `warn` is called with
    one line naming each (they are also in `Report.index.problems`)."""
    index = collect(runs_dir)
    for problem in index.problems:
        if warn is not None:
            warn(problem)
    if not index.runs and not index.missing:
        raise UserError(f"{runs_dir}: no runs found (no finished run folders, failures or sweep plans)")
    return write_index_report(index, out)


def write_index_report(index: RunsIndex, out: str | Path) -> Report:
    """The report of the runs in `index` (e.g. only those of one study, see iclft.quickstart)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cells = make_cells(index.runs)
    colors = color_map(list(dict.fromkeys(c.label for bench in cells.values() for c in bench)))
    benchmarks, files = {}, {}
    for name, bench_cells in cells.items():
        rows = benchmark_rows(bench_cells)
        stem = _safe(name)
        png, svg = plot_benchmark(name, rows, out / "figures" / stem, colors)
        csv_path, md_path = out / "tables" / f"{stem}.csv", out / "tables" / f"{stem}.md"
        atomic_write_text(csv_path, rows_csv(rows))
        atomic_write_text(md_path, f"# {name}\n\n" + rows_markdown(rows))
        files[name] = [png, svg, csv_path, md_path]
        benchmarks[name] = {"rows": rows, "svg": svg, "files": files[name]}
    html = out / "report.html"
    atomic_write_text(html, page(index, out, benchmarks))
    return Report(html, index, files)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


__all__ = ["Report", "write_index_report", "write_report"]
