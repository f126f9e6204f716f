"""The task study's report on a hand-written study run: loading, results.csv, the shot tables,
the paper's best-of-shots selection, the change from the base model, the figures, bad records."""

import csv

import pytest

from iclft.errors import UserError
from iclft.io import write_json
from iclft.tasks.report import (
    best_of_shots,
    by_shots_panels,
    change_from_base,
    load_models,
    load_results,
    model_order,
    write_report,
)

TRAIN = {
    "base": None,
    "ft-amazon-100": {"set": "amazon", "family": "sentiment", "size": 100, "condition": "ft", "k": 0},
    "fticl1-amazon-100": {"set": "amazon", "family": "sentiment", "size": 100, "condition": "fticl", "k": 1},
    "ft-xsum-100": {"set": "xsum", "family": "summary", "size": 100, "condition": "ft", "k": 0},
}
SETS = {"sst2": ("sentiment", "classification"), "xsum": ("summary", "generation")}
# (model, test set, template) -> primary value at shots 0, 1, 2, ...; a missing model × set is not evaluated
VALUES = {
    ("base", "sst2", 1): [0.50, 0.60, 0.55],
    ("base", "sst2", 2): [0.40, 0.45, 0.50],
    ("base", "xsum", 1): [0.20, 0.25, 0.30],
    ("ft-amazon-100", "sst2", 1): [0.80, 0.90, 0.85],
    ("ft-amazon-100", "sst2", 2): [0.50, 0.40, 0.60],
    ("ft-amazon-100", "xsum", 1): [0.10, 0.10, 0.10],
    ("fticl1-amazon-100", "sst2", 1): [0.70, 0.70],
    ("ft-xsum-100", "xsum", 1): [0.30, 0.30, 0.30, None, 0.90],  # shots 0, 1, 2 and 4
}
SETTING = {("ft-amazon-100", "xsum"): "cross-task", ("ft-xsum-100", "xsum"): "in-domain"}


def result(model, test_set, template, shots, value):
    family, kind = SETS[test_set]
    stderr = 0.01 * (shots + 1)
    if kind == "classification":
        first = _accuracy(value, stderr)
        metrics = {"first_token": first, "full_label": _accuracy(value - 0.02, stderr)}
        primary = {"metric": "accuracy", "value": value, "stderr": stderr}
    else:
        metrics = {
            "rougeL": {"mean": value, "stderr": stderr},
            "rouge1": {"mean": value + 0.1, "stderr": stderr},
            "n": 50,
        }
        primary = {"metric": "rougeL", "value": value, "stderr": stderr}
    setting = "base" if model == "base" else SETTING.get((model, test_set), "out-of-domain")
    return {
        "model": model,
        "train": TRAIN[model],
        "test_set": test_set,
        "family": family,
        "kind": kind,
        "setting": setting,
        "template": template,
        "shots": shots,
        "n": 100 if kind == "classification" else 50,
        "metrics": metrics,
        "primary": primary,
        "seconds": 1.5,
    }


def _accuracy(value, stderr):
    return {
        "n": 100,
        "n_unlabelled": 4,
        "accuracy": value,
        "stderr": stderr,
        "accuracy_labelled": value * 100 / 96,
        "stderr_labelled": stderr + 0.001,
    }


def all_results():
    return [
        result(model, test_set, template, shots, value)
        for (model, test_set, template), values in VALUES.items()
        for shots, value in enumerate(values)
        if value is not None
    ]


@pytest.fixture
def study(tmp_path):
    study = tmp_path / "task-study" / "demo"
    for r in all_results():
        write_json(study / "evals" / f"{r['model']}_{r['test_set']}_p{r['template']}_k{r['shots']}" / "result.json", r)
    for name in ("ft-amazon-100", "fticl1-amazon-100", "ft-xsum-100"):
        summary = {"tokens_per_s": 1234.4, "last_loss": 0.4321, "steps": 25, "train_s": 12.5}
        write_json(
            study / "models" / f"{name}.json",
            {
                "name": name,
                "train": TRAIN[name],
                "checkpoint": "abc",
                "summary": summary,
                "weight_drift": {"all": 0.0123, "adapted": 0.0456},
                "truncated_inputs": 3,
            },
        )
    return study


def test_load_results_reads_every_record_and_skips_damaged_ones(study, capsys):
    (study / "evals" / "running").mkdir()  # an evaluation without a result yet: not a problem
    (study / "evals" / "broken").mkdir()
    (study / "evals" / "broken" / "result.json").write_text('{"model": "base", ')
    write_json(study / "evals" / "fieldless" / "result.json", {"model": "base", "test_set": "sst2"})
    write_json(study / "evals" / "typo" / "result.json", {**result("base", "sst2", 1, 3, 0.5), "shots": "3"})
    write_json(study / "models" / "x.json", ["not", "a", "model"])

    results = load_results(study)
    models = load_models(study)

    assert len(results) == len(all_results()) == 24
    assert {(r["model"], r["test_set"], r["template"], r["shots"]) for r in results} == {
        (r["model"], r["test_set"], r["template"], r["shots"]) for r in all_results()
    }
    assert sorted(m["name"] for m in models) == ["ft-amazon-100", "ft-xsum-100", "fticl1-amazon-100"]
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 4
    assert all(line.startswith("iclft: warning: ") and line.endswith("; skipped") for line in warnings)
    assert any(f"{study}/evals/broken/result.json:1: not valid JSON" in line for line in warnings)
    assert any("evals/fieldless/result.json: no fields 'train', 'family'" in line for line in warnings)
    assert any("evals/typo/result.json: 'shots' must be a whole number, found a string" in line for line in warnings)
    assert any("models/x.json: expected a JSON object, found a list" in line for line in warnings)


def test_a_second_record_of_one_evaluation_is_skipped_with_a_warning(study):
    write_json(study / "evals" / "zz-again" / "result.json", result("base", "sst2", 1, 0, 0.99))
    lines = []
    results = load_results(study, warn=lines.append)
    assert len(results) == 24
    assert [r["primary"]["value"] for r in results if r["model"] == "base" and r["test_set"] == "sst2" and r["template"] == 1 and r["shots"] == 0] == [0.5]  # fmt: skip
    assert len(lines) == 1 and "zz-again/result.json: the same evaluation as" in lines[0]


def test_models_are_ordered_base_then_ft_then_fticl():
    assert model_order(all_results()) == ["base", "ft-amazon-100", "ft-xsum-100", "fticl1-amazon-100"]


def test_results_csv_has_one_row_per_record_with_both_classification_readings(study):
    write_report(study)
    with open(study / "report" / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24
    assert [r["model"] for r in rows[:3]] == ["base"] * 3  # sst2 template 1: base first
    row = next(
        r for r in rows if (r["model"], r["test_set"], r["template"], r["shots"]) == ("ft-amazon-100", "sst2", "1", "1")
    )
    assert row["train_set"] == "amazon" and row["condition"] == "ft" and row["k"] == "0" and row["train_size"] == "100"
    assert row["setting"] == "out-of-domain" and row["kind"] == "classification" and row["n"] == "100"
    assert row["metric"] == "accuracy"
    assert float(row["value"]) == 0.9 and float(row["stderr"]) == 0.02
    assert float(row["full_label_accuracy"]) == pytest.approx(0.88)
    assert float(row["accuracy_labelled"]) == pytest.approx(0.9 * 100 / 96, abs=1e-6)
    assert row["n_unlabelled"] == "4"
    gen = next(r for r in rows if (r["model"], r["test_set"], r["shots"]) == ("ft-xsum-100", "xsum", "4"))
    assert gen["metric"] == "rougeL" and float(gen["value"]) == 0.9 and gen["setting"] == "in-domain"
    assert gen["full_label_accuracy"] == "" and gen["accuracy_labelled"] == ""
    base = next(r for r in rows if r["model"] == "base")
    assert base["condition"] == "base" and base["train_set"] == "" and base["setting"] == "base"


def test_best_of_shots_picks_the_largest_value_and_says_which_shot_count():
    best = best_of_shots(all_results())
    assert best[("ft-amazon-100", "sst2", 1)] == {"value": 0.90, "stderr": 0.02, "shots": 1, "n": 100}
    assert best[("ft-amazon-100", "sst2", 2)] == {"value": 0.60, "stderr": 0.03, "shots": 2, "n": 100}
    assert best[("ft-xsum-100", "xsum", 1)] == {"value": 0.90, "stderr": 0.05, "shots": 4, "n": None}
    assert best[("fticl1-amazon-100", "sst2", 1)]["shots"] == 0  # a tie: the fewest shots
    assert len(best) == len(VALUES)


def test_best_of_shots_page_is_labelled_as_the_optimistic_paper_selection(study):
    write_report(study)
    text = (study / "report" / "best_of_shots.md").read_text()
    assert "chosen on the test set itself, as in Yang et al.; optimistic" in text
    assert "## Template 1" in text and "## Template 2" in text
    assert "| ft-xsum-100 | " in text and "0.900 ± 0.050 (4 shots)" in text
    assert "0.900 ± 0.020 (1 shot)" in text
    assert "sst2 (first-token acc.)" in text and "xsum (ROUGE-L)" in text


def test_change_from_base_is_the_mean_difference_over_shared_shot_counts():
    change = change_from_base(all_results())
    assert change[("ft-amazon-100", "sst2", 1)]["change"] == pytest.approx(0.30)
    assert change[("ft-amazon-100", "sst2", 2)]["change"] == pytest.approx((0.10 - 0.05 + 0.10) / 3)
    assert change[("ft-amazon-100", "xsum", 1)]["change"] == pytest.approx(-0.15)
    assert change[("fticl1-amazon-100", "sst2", 1)] == {"change": pytest.approx(0.15), "shots": [0, 1]}
    assert change[("ft-xsum-100", "xsum", 1)] == {"change": pytest.approx(0.05), "shots": [0, 1, 2]}  # not shot 4
    assert ("ft-xsum-100", "sst2", 1) not in change and ("base", "sst2", 1) not in change


def test_change_from_base_table_has_one_matrix_per_template_with_blank_missing_cells(study):
    write_report(study)
    text = (study / "report" / "change_from_base.md").read_text()
    t1, t2 = text.split("## Template 1\n")[1].split("## Template 2\n")
    assert "| model | xsum | sst2 |" in t1  # the study's family order: summary before sentiment
    assert "| ft-amazon-100 | -0.150 | +0.300 |" in t1
    assert "| ft-xsum-100 | +0.050 |  |" in t1
    assert "| fticl1-amazon-100 |  | +0.150 |" in t1
    assert "| model | sst2 |\n|---|---|\n| ft-amazon-100 | +0.050 |\n" in t2  # only what template 2 has


def test_fixed_shot_tables_name_their_metric_and_add_full_label_accuracy(study):
    write_report(study)
    text = (study / "report" / "fixed_shot.md").read_text()
    sst2 = text.split("## sst2, template 1\n")[1].split("## ")[0]
    assert "First-token accuracy (the paper's reading" in sst2 and "Full-label accuracy" in sst2 and "n = 100" in sst2
    assert "| model | setting | 0 shots | 1 shot | 2 shots |" in sst2
    assert sst2.index("| base |") < sst2.index("| ft-amazon-100 |") < sst2.index("| fticl1-amazon-100 |")
    assert "| ft-amazon-100 | out-of-domain | 0.800 ± 0.010 | 0.900 ± 0.020 | 0.850 ± 0.030 |" in sst2
    assert "| ft-amazon-100 | out-of-domain | 0.780 ± 0.010 | 0.880 ± 0.020 | 0.830 ± 0.030 |" in sst2  # full label
    assert "| fticl1-amazon-100 | out-of-domain | 0.700 ± 0.010 | 0.700 ± 0.020 |  |" in sst2
    xsum = text.split("## xsum, template 1\n")[1].split("## ")[0]
    assert "ROUGE-L F" in xsum and "Full-label" not in xsum and "4 shots" in xsum
    assert "## xsum, template 2" not in text


def test_figures_are_written_as_png(study):
    written = write_report(study)
    names = sorted(p.name for p in written)
    assert names == sorted(
        [
            "results.csv",
            "fixed_shot.md",
            "best_of_shots.md",
            "change_from_base.md",
            "change_from_base.png",
            "by_shots_amazon.png",
            "by_shots_xsum.png",
            "models.md",
            "index.md",
        ]
    )
    for name in ("change_from_base.png", "by_shots_amazon.png", "by_shots_xsum.png"):
        data = (study / "report" / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert not [p for p in (study / "report").iterdir() if p.name.endswith(".tmp")]


def test_by_shots_panels_hold_base_and_the_models_of_one_training_set():
    panels = by_shots_panels(all_results(), "amazon")
    assert [p["test_set"] for p in panels] == ["xsum", "sst2"]  # summary before sentiment, as in the study
    sst2 = panels[1]
    assert sst2["metric"] == "first-token accuracy"
    assert [(line["model"], line["template"]) for line in sst2["lines"]] == [
        ("base", 1),
        ("base", 2),
        ("ft-amazon-100", 1),
        ("ft-amazon-100", 2),
        ("fticl1-amazon-100", 1),
    ]
    assert sst2["lines"][2]["values"] == [0.80, 0.90, 0.85] and sst2["lines"][2]["stderrs"] == [0.01, 0.02, 0.03]
    xsum_panel = by_shots_panels(all_results(), "xsum")
    assert [p["test_set"] for p in xsum_panel] == ["xsum"]
    assert [line["model"] for line in xsum_panel[0]["lines"]] == ["base", "ft-xsum-100"]
    assert xsum_panel[0]["lines"][1]["shots"] == [0, 1, 2, 4]


def test_models_page_and_index(study):
    (study / "models" / "ft-xsum-100.json").unlink()
    write_report(study, warn=lambda line: None)
    models = (study / "report" / "models.md").read_text()
    assert "| ft-amazon-100 | amazon | 100 | ft | 0 | 25 | 1234 | 0.4321 | 12.5 | 0.0123 | 0.0456 | 3 |" in models
    assert "without a models/*.json record: ft-xsum-100" in models
    index = (study / "report" / "index.md").read_text()
    for name in ("results.csv", "fixed_shot.md", "best_of_shots.md", "change_from_base.png", "by_shots_xsum.png"):
        assert f"]({name})" in index
    assert "sst2 100; xsum 50" in index
    assert "binomial" in index and "bootstrap" in index


def test_a_study_without_results_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"no results under .*empty/evals"):
        write_report(tmp_path / "empty")
    (tmp_path / "damaged" / "evals" / "a").mkdir(parents=True)
    (tmp_path / "damaged" / "evals" / "a" / "result.json").write_text("[")
    with pytest.raises(UserError, match="no results under"):
        write_report(tmp_path / "damaged", warn=lambda line: None)
    assert not (tmp_path / "damaged" / "report").exists()


def test_an_accuracy_of_0_or_1_shows_a_wilson_interval_not_a_zero_error():
    from iclft.tasks.report_tables import fixed_shot_markdown

    results = [result("base", "sst2", 1, 0, 1.0), result("base", "sst2", 1, 1, 0.5), result("base", "xsum", 1, 0, 0.0)]
    text = fixed_shot_markdown(results, ["base"], ["sst2", "xsum"])
    assert "| base | base | 1.000 (95% CI 0.963-1.000) | 0.500 ± 0.020 |" in text  # n = 100
    assert "| base | base | 0.000 ± 0.010 |" in text  # ROUGE-L is not a proportion: its bootstrap error stays
