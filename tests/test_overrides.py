"""KEY=VALUE overrides: YAML values, dotted keys checked against the config, one-line errors."""

import json

import pytest

from iclft.cli import main
from iclft.config import ExperimentConfig
from iclft.errors import UserError
from iclft.organism.curriculum import CurriculumParams
from iclft.organism.train import TrainConfig
from iclft.overrides import apply_overrides, check_path, is_field_path, parse_pairs, parse_value, set_dotted


@pytest.mark.parametrize(
    "text, value",
    [
        ("5", 5),
        ("0.5", 0.5),
        ("1e-4", 1e-4),
        ("-2E3", -2000.0),
        ("true", True),
        ("[2, 6]", [2, 6]),
        ('{"copy": 1.0}', {"copy": 1.0}),
        ("", None),
        ("organism", "organism"),
        ("/tmp/x:1", "/tmp/x:1"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1"),
    ],
)
def test_values_are_yaml(text, value):
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_pairs_split_at_the_first_equals_sign():
    assert parse_pairs(["ft.epochs=5", "icl.instruction=a=b", " seed =1"], "--set") == {
        "ft.epochs": 5,
        "icl.instruction": "a=b",
        "seed": 1,
    }


@pytest.mark.parametrize(
    "pair, expected",
    [
        ("oops", "--set: expected KEY=VALUE"),
        ("=3", "--set: expected KEY=VALUE"),
        ("ft..epochs=3", "got 'ft..epochs=3'"),
        ("ft.epochs=[1, 2", "--set ft.epochs: value '[1, 2' is not valid YAML"),
    ],
)
def test_malformed_pairs_are_refused(pair, expected):
    with pytest.raises(UserError) as e:
        parse_pairs([pair], "--set")
    assert str(e.value).startswith("--set") and expected in str(e.value)


@pytest.mark.parametrize(
    "key", ["ft.epochs", "model.name", "augment.generator.api_model", "benchmark.params.any.depth", "seed"]
)
def test_config_paths_that_exist(key):
    check_path(ExperimentConfig, key, "--set")
    assert is_field_path(ExperimentConfig, key)


@pytest.mark.parametrize(
    "key, expected",
    [
        ("ft.epoch", "unknown field 'epoch' in 'ft' (known: batch_size, epochs,"),
        ("fine_tune.epochs", "unknown field 'fine_tune' (known: augment, benchmark,"),
        ("augment.generator.url", "unknown field 'url' in 'augment.generator'"),
        ("ft.epochs.first", "'ft.epochs' is a single value, it has no field 'first'"),
        ("icl.facts_per_context.x", "'icl.facts_per_context' is a single value"),
    ],
)
def test_config_paths_that_do_not_exist(key, expected):
    with pytest.raises(UserError) as e:
        check_path(ExperimentConfig, key, "--set")
    assert str(e.value).startswith(f"--set {key}: ") and expected in str(e.value)
    assert not is_field_path(ExperimentConfig, key)


def test_set_dotted_creates_groups_and_refuses_to_go_through_a_value():
    data = {"ft": {"epochs": 3}, "augment": None}
    set_dotted(data, "ft.lora_rank", 4)
    set_dotted(data, "augment.generator.kind", "local")
    set_dotted(data, "benchmark.params.n_facts", 8)
    assert data == {
        "ft": {"epochs": 3, "lora_rank": 4},
        "augment": {"generator": {"kind": "local"}},
        "benchmark": {"params": {"n_facts": 8}},
    }
    with pytest.raises(UserError, match=r"--set ft\.epochs\.x: 'ft\.epochs' is int 3, not a group of fields"):
        set_dotted(data, "ft.epochs.x", 1)


def test_apply_overrides_leaves_the_input_alone_and_validates():
    base = {"benchmark": {"name": "reversal", "params": {"n_facts": 4}}, "condition": "icl"}
    data = apply_overrides(base, ["ft.epochs=5", "model.name=organism", "benchmark.params.n_facts=8"], ExperimentConfig)
    assert base == {"benchmark": {"name": "reversal", "params": {"n_facts": 4}}, "condition": "icl"}
    config = ExperimentConfig.model_validate(data)
    assert (config.ft.epochs, config.model.name, config.benchmark.params) == (5.0, "organism", {"n_facts": 8})


def test_dataclass_settings_keep_their_other_defaults():
    data = apply_overrides({"lr": 0.002, "steps": 2000}, ["lr=1e-4", "stages=[[800, {copy: 1.0}]]"], TrainConfig)
    assert data == {"lr": 1e-4, "steps": 2000, "stages": [[800, {"copy": 1.0}]]}
    with pytest.raises(UserError, match=r"--set learning_rate: unknown field 'learning_rate' \(known: batch_size"):
        apply_overrides({}, ["learning_rate=0.1"], TrainConfig)
    with pytest.raises(UserError, match="'facts_per_doc' is a single value"):
        apply_overrides({}, ["facts_per_doc.low=1"], CurriculumParams, "--curriculum")


def test_organism_settings_merge_into_the_defaults():
    from iclft.organism.cli import _settings

    params = _settings(CurriculumParams, ["mix.copy=0", "facts_per_doc=[1, 3]"], "--curriculum", seed=4)
    assert params.mix == {**CurriculumParams().mix, "copy": 0} and params.facts_per_doc == (1, 3) and params.seed == 4
    assert _settings(TrainConfig, None, "--set", seed=2) == TrainConfig(seed=2)


@pytest.mark.parametrize(
    "command, message",
    [
        (["train", "--set", "steps=abc"], "--set: field 'steps': Input should be a valid integer"),
        (["train", "--set", "steps=0"], "--set: steps must be at least 1, got 0"),
        (["train", "--set", "width=130"], "--set: width 130 is not a multiple of heads 4"),
        (["train", "--set", "tokenizer=words"], "--set: tokenizer must be 'bpe', 'char' or 'folded'"),
        (["curriculum", "--curriculum", "reversal_share=2"], "--curriculum: reversal_share must be in [0, 1]"),
        (["curriculum", "--curriculum", "facts_per_doc=[5, 2]"], "--curriculum: facts_per_doc must be a range"),
        (["curriculum", "--curriculum", "mix.copy=-1"], "--curriculum: mix must give each family a weight"),
    ],
)
def test_bad_organism_settings_end_with_one_line_naming_them(tmp_path, capsys, command, message):
    out = tmp_path / "organism"
    argv = ["organism", *command] + (["--out", str(out), "--no-eval"] if command[0] == "train" else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not out.exists()  # nothing was written


def test_organism_curriculum_option(tmp_path, capsys):
    out = tmp_path / "docs.jsonl"
    argv = ["organism", "curriculum", "--n", "2", "--out", str(out), "--curriculum", "n_words=300", "mix.copy=0"]
    assert main(argv) == 0
    assert len([json.loads(line) for line in out.read_text().splitlines()]) == 2
    assert main(["organism", "curriculum", "--curriculum", "words=300"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("iclft: error: --curriculum words: unknown field 'words'")


def write_config(tmp_path, model: str) -> str:
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"benchmark: {{name: reversal, params: {{n_facts: 4, docs_per_fact: 2}}}}\n"
        f"model: {{name: '{model}', device: cpu}}\ncondition: base\n"
    )
    return str(config)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        (["ft.epoch=5"], "--set ft.epoch: unknown field 'epoch' in 'ft'"),
        (["ft.epochs=0"], "exp.yaml with --set: field 'ft.epochs': Input should be greater than 0"),
        (["ft.epochs=five"], "exp.yaml with --set: field 'ft.epochs': Input should be a valid number"),
        (["ft.epochs"], "--set: expected KEY=VALUE"),
        (["condition=nope"], "exp.yaml with --set: field 'condition'"),
    ],
)
def test_run_with_bad_overrides_is_one_line_and_exit_2(tmp_path, capsys, overrides, expected):
    code = main(["run", write_config(tmp_path, "unused"), "--runs-dir", str(tmp_path / "runs"), "--set", *overrides])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith("iclft: error: ") and expected in err
    assert not (tmp_path / "runs").exists()


def test_run_applies_overrides_before_validation(tmp_path, capsys, tiny_model_dir):
    config = write_config(tmp_path, "no-such-model")
    runs = tmp_path / "runs"
    argv = [
        "run",
        config,
        "--runs-dir",
        str(runs),
        "--quiet",
        "--set",
        f"model.name={tiny_model_dir}",
        "benchmark.params.n_facts=3",
        "--set",
        "seed=7",
    ]
    assert main(argv) == 0
    [run_dir] = [p for p in runs.iterdir() if (p / "metrics.json").is_file()]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert sum(split["n"] for split in metrics["splits"].values()) == 3 * 2  # forward and reverse per fact
    resolved = (run_dir / "config.yaml").read_text()
    assert "n_facts: 3" in resolved and "seed: 7" in resolved and str(tiny_model_dir) in resolved
