"""The quickstart: its grid, its per-model settings and its report (the full command is a slow test)."""

from iclft.models.zoo import DEFAULT_MODEL
from iclft.quickstart import QUICKSTART_BENCHMARKS, QUICKSTART_CONDITIONS, quickstart_configs


def test_quickstart_grid_covers_every_benchmark_and_condition():
    configs = quickstart_configs("smollm2-135m")
    assert [(c.benchmark.name, c.condition) for c in configs] == [
        (b, c) for b in QUICKSTART_BENCHMARKS for c in QUICKSTART_CONDITIONS
    ]
    assert len({c.slug() for c in configs}) == len(configs)


def test_every_model_reads_one_context_real_models_get_lora_organisms_full_ft_at_their_budget(tmp_path):
    from iclft.models.tiny import build_tiny_model
    from iclft.organism.train import MANIFEST

    real = quickstart_configs("smollm2-135m")[1]
    assert real.icl.facts_per_context is None and real.ft.method == "lora"
    budgets = {}
    for model in ("organism-wide", "organism"):
        config = quickstart_configs(model)[1]
        assert config.icl.facts_per_context is None and config.ft.method == "full"
        budgets[model] = (config.ft.learning_rate, config.ft.epochs)
    assert budgets == {"organism-wide": (1e-4, 5), "organism": (1e-4, 10)}  # each chosen on its organism
    own = build_tiny_model(tmp_path / "own")
    (own / MANIFEST).write_text("{}")  # an organism folder of one's own: the default organism's budget
    config = quickstart_configs(str(own))[1]
    assert config.ft.method == "full" and (config.ft.learning_rate, config.ft.epochs) == budgets[DEFAULT_MODEL]


def test_report_shows_the_quickstart_runs_only_and_lists_the_missing_ones(tmp_path, tiny_model_dir):
    import shutil

    from iclft.experiment import run_experiment
    from iclft.quickstart import write_quickstart_report

    model, runs = str(tiny_model_dir), tmp_path / "runs"
    configs = quickstart_configs(model)
    first = run_experiment(configs[0], runs, progress=False)
    shutil.copytree(first, runs / "another-study-run")  # a finished run that is not the quickstart's
    report = write_quickstart_report(model, runs)
    assert report.html == runs / "quickstart-report" / "report.html"
    html = report.html.read_text()
    assert [r.path for r in report.index.runs] == [first] and "another-study-run" not in html
    assert list(report.files) == [configs[0].benchmark.name]
    assert f"{len(configs) - 1} run(s) missing of {len(configs)} planned" in html
    assert all(c.slug() in html for c in configs)
    assert write_quickstart_report(model, runs, report_dir=tmp_path / "elsewhere").html.is_file()


def test_a_table_over_seeds_gives_the_mean_and_standard_error_of_the_seeds_accuracies():
    from iclft.accuracy_table import format_seed_table

    def metrics(accuracy):
        return {"splits": {"reversal": {"accuracy": accuracy, "stderr": 0.05, "n": 100, "chance": 0.5}}}

    table = format_seed_table([{"icl": metrics(a), "ft": metrics(b)} for a, b in ((0.9, 0.4), (1.0, 0.5), (0.95, 0.3))])
    row = next(line for line in table.splitlines() if line.startswith("| reversal"))
    # icl: mean 0.95, sample sd 0.05, se 0.05 / sqrt(3) = 0.029; ft: mean 0.4, se 0.058
    assert "0.95 ± 0.03 [0.90–1.00]" in row and "0.40 ± 0.06 [0.30–0.50]" in row
    assert "| 100 " in row and table.endswith("mean ± standard error over 3 seeds [lowest–highest seed]")
    perfect = format_seed_table([{"ft": metrics(1.0)} for _ in range(3)])
    assert "1.00 (95% CI 0.99-1.00) [every seed]" in perfect and "± 0.00" not in perfect  # 300 items
    close = format_seed_table([{"icl": metrics(a)} for a in (0.96, 0.97, 0.98)])  # se 0.01 / sqrt(3) = 0.0058
    assert "0.97 ± 0.01 [0.96–0.98]" in close
    closer = format_seed_table([{"icl": metrics(a)} for a in (0.96, 0.96, 0.97, 0.98, 0.97)])  # se 0.0037
    assert "0.97 ± 0.004 [0.96–0.98]" in closer and "± 0.00 " not in closer


def test_quickstart_over_two_seeds_runs_each_seeds_own_benchmarks(tmp_path):
    from iclft.models.tiny import build_tiny_model
    from iclft.quickstart import quickstart

    model = build_tiny_model(tmp_path / "tiny", max_length=8192)  # every fact in one context
    table = quickstart(str(model), tmp_path / "runs", seeds=[0, 1], progress=False)
    assert table.count("over 2 seeds") == len(QUICKSTART_BENCHMARKS)
    finished = sorted(p.name for p in (tmp_path / "runs").iterdir() if (p / "metrics.json").is_file())
    assert len(finished) == 2 * len(QUICKSTART_BENCHMARKS) * len(QUICKSTART_CONDITIONS)
