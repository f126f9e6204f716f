"""Export to lm-evaluation-harness: the files, and (with lm-eval installed) agreement of the
harness with iclft's own scoring on the tiny model: same accuracy per split, per-option
log-likelihoods within 1e-4 in fp32."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from iclft.benchmarks.celebrities import make_celebrities
from iclft.benchmarks.export_lm_eval import export_lm_eval
from iclft.benchmarks.schema import Benchmark, Document, TestItem, save_benchmark
from iclft.benchmarks.semantic import make_semantic

HAS_LM_EVAL = importlib.util.find_spec("lm_eval") is not None


# Prefixes ending in whitespace: the harness and iclft both move it into the option.
TRAILING_WHITESPACE = [
    TestItem("w1", "whitespace", "space-in-prefix", "The answer is ", ("blue", "red", "green"), (0,)),
    TestItem("w2", "whitespace", "newline", "Question?\n", ("Yes.", "No."), (0,)),
]


def edge_cases() -> list[TestItem]:
    """An option starting with a space, several correct options."""
    return [
        *TRAILING_WHITESPACE,
        TestItem("e2", "edge", "space-in-option", "Colour:", (" blue", " red"), (1,)),
        TestItem("e4", "edge", "plain", "Fleps are", ("larger than wugs.", "smaller than wugs."), (1,)),
        TestItem("m1", "multi", "two-valid", "Some dax are", ("wugs.", "not wugs.", "feps.", "blicks."), (0, 2)),
        TestItem("m2", "multi", "one-valid", "All dax are", ("wugs.", "feps.", "blicks."), (1,)),
    ]


@pytest.fixture(scope="module")
def small_bench() -> Benchmark:
    """A few items of every split of the semantic and celebrities benchmarks, plus edge cases."""
    semantic = make_semantic(seed=0, n_documents=120)
    celebs = make_celebrities(seed=0, n_per_group=4, train_paraphrases=1, test_paraphrases=2)
    items = []
    for bench, per_split in ((semantic, 6), (celebs, 4)):
        for split in bench.splits:
            items += bench.items_in(split)[:per_split]
    return Benchmark("mixed", 0, {}, [Document("d", "Unused.")], items + edge_cases())


def _yaml(path):
    loader = type("L", (yaml.SafeLoader,), {})
    loader.add_constructor("!function", lambda loader, node: f"!function {node.value}")
    return yaml.load(path.read_text(), Loader=loader)


def test_export_writes_one_task_per_split_and_a_group(small_bench, tmp_path):
    folder = save_benchmark(small_bench, tmp_path / "bench")
    out = export_lm_eval(folder, tmp_path / "task")
    group = _yaml(out / "iclft_mixed.yaml")
    expected = [f"iclft_mixed_{s}" for s in small_bench.splits]
    assert group["group"] == "iclft_mixed" and group["task"] == expected
    for split, task in zip(small_bench.splits, expected):
        config = _yaml(out / f"{task}.yaml")
        assert config["output_type"] == "multiple_choice" and config["target_delimiter"] == ""
        assert config["custom_dataset"] == "!function iclft_mixed_loader.load_split"
        assert config["doc_to_target"] == ("answers" if split == "multi" else "gold")
        rows = [json.loads(line) for line in (out / f"{task}.jsonl").read_text().splitlines()]
        items = small_bench.items_in(split)
        assert [r["id"] for r in rows] == [i.id for i in items]
        assert all(r["gold"] == i.answers[0] and r["answers"] == list(i.answers) for r, i in zip(rows, items))
    edge_rows = [json.loads(line) for line in (out / "iclft_mixed_edge.jsonl").read_text().splitlines()]
    edge = {row["id"]: row for row in edge_rows}
    assert edge["e2"]["choices"] == [" blue", " red"]  # option starts with a space
    assert edge["e4"]["choices"] == [" larger than wugs.", " smaller than wugs."]
    assert (out / "iclft_mixed_loader.py").is_file()


def test_prefixes_ending_in_whitespace_move_it_into_the_choices(tmp_path):
    out = export_lm_eval(Benchmark("ws", 0, {}, [], TRAILING_WHITESPACE), tmp_path / "ws")
    rows = [json.loads(line) for line in (out / "iclft_ws_whitespace.jsonl").read_text().splitlines()]
    assert rows[0]["text"] == "The answer is" and rows[0]["choices"] == [" blue", " red", " green"]
    assert rows[1]["text"] == "Question?" and rows[1]["choices"] == ["\nYes.", "\nNo."]
    assert rows[1]["prefix"] == "Question?\n"


def test_export_prefix_and_bad_input(small_bench, tmp_path):
    out = export_lm_eval(small_bench, tmp_path / "t", prefix="My Study-1")
    assert (out / "my_study_1.yaml").is_file() and (out / "my_study_1_edge.yaml").is_file()
    from iclft.errors import UserError

    with pytest.raises(UserError, match="no test items"):
        export_lm_eval(Benchmark("empty", 0, {}, [], []), tmp_path / "e")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        export_lm_eval(small_bench, tmp_path / "file")


def iclft_scores(model_dir, bench):
    from iclft.config import ModelConfig
    from iclft.models import ScoreRequest, load_model

    model = load_model(ModelConfig(name=str(model_dir), dtype="float32", device="cpu"))
    scores = model.score([ScoreRequest(i.prefix, i.options) for i in bench.items])
    return {i.id: [s.logprob for s in row] for i, row in zip(bench.items, scores)}


def accuracy(items, logliks):
    hits = [max(range(len(i.options)), key=lambda k: (logliks[i.id][k], -k)) in i.answers for i in items]
    return sum(hits) / len(hits)


@pytest.mark.skipif(not HAS_LM_EVAL, reason="lm-eval is not installed (pip install 'iclft[lmeval]')")
def test_lm_eval_agrees_with_iclft_on_the_tiny_model(small_bench, tiny_model_dir, tmp_path):
    import lm_eval
    from lm_eval.tasks import TaskManager

    out = export_lm_eval(small_bench, tmp_path / "task")
    results = lm_eval.simple_evaluate(
        model="hf",
        model_args=f"pretrained={tiny_model_dir},add_bos_token=True,dtype=float32,device=cpu",
        tasks=["iclft_mixed"],
        task_manager=TaskManager(include_path=str(out)),
        log_samples=True,
        batch_size=16,
    )
    ours = iclft_scores(tiny_model_dir, small_bench)
    theirs = {}
    for samples in results["samples"].values():
        for sample in samples:
            theirs[sample["doc"]["id"]] = [float(ll) for ll, _ in sample["filtered_resps"]]
    assert theirs.keys() == ours.keys()
    worst = max(abs(a - b) for k in ours for a, b in zip(ours[k], theirs[k], strict=True))
    assert worst < 1e-4, worst
    for split in small_bench.splits:
        task = f"iclft_mixed_{split}"
        items = small_bench.items_in(split)
        assert results["results"][task]["acc,none"] == pytest.approx(accuracy(items, ours), abs=1e-12), split
        assert accuracy(items, theirs) == accuracy(items, ours)
