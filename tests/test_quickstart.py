"""The quickstart's grid and its per-model settings (the runs themselves are in the slow tests)."""

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
