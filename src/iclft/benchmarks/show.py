"""`iclft data show`: a readable summary of a benchmark."""

from __future__ import annotations

from collections import Counter

from iclft.benchmarks.schema import Benchmark, TestItem, content_hash


def describe(bench: Benchmark, examples: bool = True) -> str:
    """Counts per split and inference type, chance per split, documents, one example per split."""
    lines = [f"benchmark: {bench.name} (seed {bench.seed}), sha256 {content_hash(bench)[:16]}"]
    if bench.params:
        lines.append("params: " + ", ".join(f"{k}={v}" for k, v in sorted(bench.params.items())))
    n_chars = sum(len(d.text) for d in bench.documents)
    mean = n_chars / len(bench.documents) if bench.documents else 0
    lines.append(f"training documents: {len(bench.documents)} ({n_chars:,} characters, {mean:.0f} per document)")
    lines.append(f"facts: {len(bench.facts)}")
    lines.append(f"test items: {len(bench.items)} in {len(bench.splits)} split(s)")
    lines.append("")
    lines += split_table(bench)
    if examples:
        for split in bench.splits:
            lines += ["", *example(bench.items_in(split)[0])]
    return "\n".join(lines)


def split_table(bench: Benchmark) -> list[str]:
    rows = [("split", "inference type", "items", "options", "chance")]
    for split in bench.splits:
        items = bench.items_in(split)
        rows.append((split, "(all)", str(len(items)), _options(items), _chance(items)))
        by_type = Counter(i.inference_type for i in items)
        if len(by_type) > 1:
            for itype in sorted(by_type):
                of_type = [i for i in items if i.inference_type == itype]
                rows.append(("", itype, str(len(of_type)), _options(of_type), _chance(of_type)))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    left = (True, True, False, False, False)  # text columns left, numbers right
    return [
        "  ".join(cell.ljust(w) if lj else cell.rjust(w) for cell, w, lj in zip(r, widths, left)).rstrip() for r in rows
    ]


def _options(items: list[TestItem]) -> str:
    counts = sorted({len(i.options) for i in items})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _chance(items: list[TestItem]) -> str:
    return f"{100 * sum(i.chance for i in items) / len(items):.1f}%"


def example(item: TestItem) -> list[str]:
    """An item as text: prefix, then options with the correct ones starred."""
    out = [f"example [{item.split} / {item.inference_type}] {item.id}", f"  prefix: {item.prefix}"]
    for i, option in enumerate(item.options):
        out.append(f"  {'*' if i in item.answers else ' '} {i}: {option}")
    return out
