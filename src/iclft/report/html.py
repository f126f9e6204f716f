"""One self-contained HTML page: figures inline (SVG data URIs), tables, status, every run's
config and links to its files. No scripts, no external resources: it opens from disk."""

from __future__ import annotations

import base64
import os
import time
from html import escape
from pathlib import Path
from urllib.parse import quote

import yaml

from iclft.report.aggregate import Row
from iclft.report.collect import Run, RunsIndex

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8rem 0; font-size: 0.92rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f4f4f4; }
img.figure { width: 100%; max-width: 54rem; height: auto; display: block; margin: 1rem 0; }
.missing { background: #fff6e0; border: 1px solid #f0c36d; padding: 0.6rem 1rem; border-radius: 4px; }
.ok { color: #2a7a2a; }
pre { background: #f7f7f7; padding: 0.6rem; overflow-x: auto; font-size: 0.85rem; }
details { margin: 0.3rem 0; }
.small { color: #666; font-size: 0.9rem; }
"""


def page(index: RunsIndex, out: Path, benchmarks: dict[str, dict]) -> str:
    """`benchmarks`: name -> {"rows": [Row], "svg": Path, "files": [Path]}."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>iclft report: {escape(index.runs_dir.name)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>iclft report</h1>",
        f'<p class="small">Runs directory <code>{escape(str(index.runs_dir))}</code>; '
        f"generated {escape(time.strftime('%Y-%m-%d %H:%M'))}; {len(index.runs)} finished run(s).</p>",
        _status(index, out),
    ]
    for name, bench in benchmarks.items():
        parts.append(_benchmark(name, bench, out))
    parts.append(_runs(index.runs, out))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _href(target: Path, out: Path) -> str:
    return quote(Path(os.path.relpath(target, out)).as_posix())


def _status(index: RunsIndex, out: Path) -> str:
    if not index.missing:
        planned = f" (all {index.planned} planned runs)" if index.planned else ""
        return f'<p class="ok">Every run is finished{planned}.</p>'
    items = []
    for m in index.missing:
        detail = f": {escape(m.detail)}" if m.detail else ""
        link = ""
        if m.status == "failed":
            link = f' (<a href="{_href(index.runs_dir / "failed" / f"{m.slug}.json", out)}">error and traceback</a>)'
        items.append(f"<li><b>{escape(m.status)}</b> <code>{escape(m.slug)}</code>{detail}{link}</li>")
    planned = f" of {index.planned} planned" if index.planned else ""
    return (
        f'<div class="missing"><p><b>{len(index.missing)} run(s) missing{planned}</b>; '
        "the figures and tables show only finished runs.</p>"
        f"<ul>{''.join(items)}</ul></div>"
    )


def _benchmark(name: str, bench: dict, out: Path) -> str:
    svg = base64.b64encode(Path(bench["svg"]).read_bytes()).decode("ascii")
    files = " · ".join(f'<a href="{_href(p, out)}">{escape(p.name)}</a>' for p in bench["files"])
    return (
        f'<section id="bench-{escape(name)}"><h2>{escape(name)}</h2>'
        f'<img class="figure" alt="{escape(name)}: accuracy by split and condition" '
        f'src="data:image/svg+xml;base64,{svg}">'
        f"{_table(bench['rows'])}"
        f'<p class="small">Files: {files}</p></section>'
    )


def _table(rows: list[Row]) -> str:
    head = ["split", "condition", "seeds", "n", "chance", "accuracy", "± s.e.", "s.e. over"]
    lines = ["<table><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for r in rows:
        cells = [
            r.split,
            r.condition,
            r.n_seeds,
            r.n_items,
            f"{r.chance:.3f}",
            f"{r.accuracy:.3f}",
            f"{r.stderr:.3f}",
            r.stderr_over,
        ]
        lines.append("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>")
    return "".join(lines) + "</table>"


def _runs(runs: list[Run], out: Path) -> str:
    parts = ['<section id="runs"><h2>Runs</h2>']
    for run in sorted(runs, key=lambda r: (r.benchmark, r.slug)):
        accs = ", ".join(f"{s} {e['accuracy']:.3f}" for s, e in run.metrics.get("splits", {}).items())
        files = " · ".join(
            f'<a href="{_href(run.path / f, out)}">{f}</a>'
            for f in ("samples.jsonl", "metrics.json", "config.yaml", "train_log.jsonl")
            if (run.path / f).is_file()
        )
        config = yaml.safe_dump(run.config, sort_keys=False, allow_unicode=True)
        parts.append(
            f"<details><summary><code>{escape(run.slug)}</code> — {escape(str(run.config.get('condition', '?')))}, "
            f"seed {escape(str(run.config.get('seed', 0)))}: {escape(accs)}</summary>"
            f'<p class="small">Items and scores: {files}</p><pre>{escape(config)}</pre></details>'
        )
    parts.append("</section>")
    return "\n".join(parts)
