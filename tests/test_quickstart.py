"""The quickstart: its grid, its per-model settings and its report (the full command is a slow test)."""

from iclft.quickstart import QUICKSTART_BENCHMARKS, QUICKSTART_CONDITIONS, quickstart_configs


def test_quickstart_grid_covers_every_benchmark_and_condition():
    configs = quickstart_configs("smollm2-135m")
    assert [(c.benchmark.name, c.condition) for c in configs] == [
        (b, c) for b in QUICKSTART_BENCHMARKS for c in QUICKSTART_CONDITIONS
    ]
    assert len({c.slug() for c in configs}) == len(configs)


def test_real_models_get_one_context_and_lora_the_organism_short_contexts_and_full_ft():
    real = quickstart_configs("smollm2-135m")[1]
    organism = quickstart_configs("organism")[1]
    assert real.icl.facts_per_context is None and real.ft.method == "lora"
    assert organism.icl.facts_per_context == 4 and organism.ft.method == "full"


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
