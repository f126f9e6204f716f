"""`iclft organism curriculum | train | eval`: thin wrappers over the organism's Python API.

Hook into `iclft.cli.build_parser` with `add_organism_commands(sub)`; each subcommand sets
`func`, called with the parsed args.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path


def _settings(cls, pairs: list[str] | None, option: str, **given):
    """A `cls` dataclass: its defaults, then `given`, then the KEY=VALUE pairs of `option`, each
    checked against the field's type and the dataclass's own checks (`iclft.config.validated`)."""
    from iclft.config import validated
    from iclft.overrides import apply_overrides

    return validated(cls, apply_overrides(asdict(cls(**given)), pairs, cls, option), option, "settings")


def _params(args):
    from iclft.organism.curriculum import CurriculumParams

    return _settings(CurriculumParams, args.curriculum, "--curriculum", seed=args.seed)


def cmd_curriculum(args) -> None:
    from iclft.organism.curriculum import Curriculum, render

    cur = Curriculum(_params(args))
    docs = [render(d) for d in cur.docs(args.start, args.n)]
    if args.out:
        Path(args.out).write_text("".join(json.dumps({"text": t}) + "\n" for t in docs))
    else:
        print("\n=====\n".join(docs))


def cmd_train(args) -> None:
    import shlex
    import sys
    from functools import partial

    from iclft.errors import UserError
    from iclft.organism.evaluate import evaluate_folder
    from iclft.organism.train import TrainConfig, train

    command = "iclft " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    if args.recipe:
        from iclft.organism.recipe import run_recipe

        if args.set or args.curriculum or args.seed is not None:
            raise UserError("--recipe sets every phase's settings: drop --set, --curriculum and --seed")
        reuse = dict(_pair(r, "--reuse") for r in args.reuse or [])
        run_recipe(args.recipe, args.out, reuse, args.threads, evaluate=not args.no_eval, command=command)
        return
    if args.reuse or args.threads:
        raise UserError("--reuse and --threads go with --recipe (otherwise: --set threads=N)")
    args.seed = args.seed or 0
    cfg = _settings(TrainConfig, args.set, "--set", seed=args.seed)
    evaluate = None if args.no_eval else partial(evaluate_folder, **cfg.eval_settings)
    train(cfg, _params(args), args.out, evaluate=evaluate, command=command)


def _pair(text: str, option: str) -> tuple[str, str]:
    from iclft.errors import UserError

    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise UserError(f"{option} takes NAME=FOLDER, got {text!r}")
    return name, value


def existing_organism_folder(name: str) -> Path:
    """`organism_folder(name)`, or a one-line error naming what `name` should have been."""
    from iclft.errors import UserError
    from iclft.models.zoo import ZOO, organism_folder
    from iclft.organism.train import MANIFEST

    folder = organism_folder(name)
    if folder is None:
        shipped = ", ".join(m for m, entry in ZOO.items() if entry.folder is not None)
        raise UserError(f"'{name}' is not an organism folder (one with {MANIFEST}) nor a shipped organism ({shipped})")
    return folder


def cmd_eval(args) -> None:
    from iclft.organism.evaluate import evaluate_folder, evaluate_over_seeds

    args.folder = existing_organism_folder(args.folder)
    sizes = {
        "n_facts": args.n_facts,
        "facts_per_context": args.facts_per_context,
        "n_syllogisms": args.n_syllogisms,
        "syllogisms_per_context": args.syllogisms_per_context,
    }
    if args.seeds == 1 and not args.curve and not args.max_length:
        print(json.dumps(evaluate_folder(args.folder, seed=args.seed, **sizes), indent=1))
        return
    seeds = list(range(args.seed, args.seed + args.seeds))
    summary = evaluate_over_seeds(args.folder, seeds, curve=args.curve, max_length=args.max_length, **sizes)
    if args.json:
        Path(args.json).write_text(json.dumps({"seeds": seeds, **sizes, "measures": summary}, indent=1) + "\n")
    print(f"{args.folder}: benchmark seeds {seeds[0]}-{seeds[-1]}, {sizes}")
    for measure, m in summary.items():
        values = " ".join(f"{v:.2f}" for v in m["values"])
        print(f"{measure:28s} {m['mean']:.3f} ± {m['stderr']:.3f}   [{values}]")


def add_organism_commands(subparsers) -> None:
    org = subparsers.add_parser("organism", help="the model organism: curriculum, training, evaluation")
    osub = org.add_subparsers(dest="organism_command", required=True)

    p = osub.add_parser("curriculum", help="print or write curriculum documents")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--out", help="write JSON lines here instead of printing")
    p.add_argument("--curriculum", nargs="*", metavar="KEY=VALUE", help="curriculum parameters")
    p.set_defaults(func=cmd_curriculum)

    p = osub.add_parser("train", help="train a tokenizer and a small Llama from scratch")
    p.add_argument("--out", required=True, help="the model folder (with --recipe: the folder of the phases' folders)")
    p.add_argument("--recipe", help="a recipe file, or a built-in one (v1, v2): every phase, resumable")
    p.add_argument("--reuse", nargs="*", metavar="PHASE=FOLDER", help="with --recipe: take FOLDER as PHASE's result")
    p.add_argument("--threads", type=int, help="with --recipe: torch threads for every phase")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="training settings (TrainConfig fields)")
    p.add_argument("--curriculum", nargs="*", metavar="KEY=VALUE", help="curriculum parameters")
    p.add_argument("--no-eval", action="store_true")
    p.set_defaults(func=cmd_train)

    p = osub.add_parser("eval", help="base / in-context accuracies on fresh test-pool benchmarks")
    p.add_argument("folder", help="an organism folder, or a shipped organism: organism, organism-wide")
    p.add_argument("--seed", type=int, default=1000)
    p.add_argument("--seeds", type=int, default=1, help="benchmark seeds SEED..SEED+N-1: mean ± s.e. over them")
    p.add_argument("--n-facts", type=int, default=56)
    p.add_argument("--facts-per-context", type=int, default=4, help="0: every fact in one context")
    p.add_argument("--n-syllogisms", type=int, default=30)
    p.add_argument("--syllogisms-per-context", type=int, default=2, help="0: every premise pair in one context")
    p.add_argument("--curve", action="store_true", help="also accuracy by facts in context (4, 16, 64, all)")
    p.add_argument("--max-length", type=int, help="score contexts past the trained length (a diagnostic)")
    p.add_argument("--json", help="also write the measures (mean, s.e., per seed) to this file")
    p.set_defaults(func=cmd_eval)
