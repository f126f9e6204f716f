import pytest
from pydantic import ValidationError

from iclft.config import ExperimentConfig, config_from_dict, load_config
from iclft.errors import UserError


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_minimal_config_gets_defaults(tmp_path):
    config = load_config(write(tmp_path, "benchmark: {name: reversal}\ncondition: icl\n"))
    assert config.model.name == "organism"  # the default model (README Changelog)
    assert config.model.dtype == "float32"
    assert config.ft.method == "lora"


def test_yaml_round_trip_keeps_hash(tmp_path):
    config = config_from_dict({"benchmark": {"name": "reversal", "seed": 3}, "condition": "ft", "ft": {"steps": 5}})
    again = load_config(write(tmp_path, config.to_yaml()))
    assert again == config
    assert again.content_hash() == config.content_hash()


def test_hash_ignores_name_but_not_settings():
    a = config_from_dict({"benchmark": {"name": "reversal"}, "name": "a"})
    b = config_from_dict({"benchmark": {"name": "reversal"}, "name": "b"})
    c = config_from_dict({"benchmark": {"name": "reversal"}, "seed": 1})
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert a.slug().startswith("a-") and c.slug().startswith("reversal-base-organism-s1-")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("benchmark: {name: reversal}\nconditon: icl\n", "conditon"),
        ("benchmark: {name: reversal}\ncondition: magic\n", "condition"),
        ("benchmark: {name: reversal}\nft: {learning_rate: -1}\n", "ft.learning_rate"),
        ("condition: icl\n", "benchmark"),
        ("benchmark: {name: reversal}\nft: {batch_size: many}\n", "ft.batch_size"),
    ],
)
def test_bad_fields_name_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(UserError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and expected in message
    assert "\n" not in message


def test_malformed_yaml_and_missing_file(tmp_path):
    with pytest.raises(UserError, match=r"exp\.yaml:\d+: not valid YAML"):
        load_config(write(tmp_path, "benchmark: {name: reversal\n"))
    with pytest.raises(UserError, match="cannot read config"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="expected a mapping"):
        load_config(write(tmp_path, "- just a list\n"))


def test_config_is_frozen():
    config = ExperimentConfig(benchmark={"name": "reversal"})
    with pytest.raises(ValidationError, match="frozen"):
        config.seed = 4


@pytest.mark.parametrize(
    "data, digest",
    [
        ({"benchmark": {"name": "reversal"}}, "31e1e4d7815b330a925d28650d019f5d31f270e262cbfa52860f8aff4e9d7873"),
        (
            {"benchmark": {"name": "reversal"}, "condition": "icl"},
            "3fd47c35119803061aed28975e3b167e6919b9b2fa7386f529e1668ec3546b89",
        ),
        (
            {"benchmark": {"name": "syllogism", "seed": 1}, "condition": "ft", "ft": {"steps": 5}},
            "924755fecc3a244f421f14110acee1ae8fcd3d55e3761c64c90bc6febb0d5c98",
        ),
    ],
)
def test_pinned_hashes(data, digest):
    """Run directories are named by these hashes: a change recomputes every user's runs, so it
    must be deliberate (bump HASH_SCHEMA and say so in the README's Changelog)."""
    assert config_from_dict(data).content_hash() == digest


def test_pinned_checkpoint_key():
    from iclft.experiment import checkpoint_key

    config = config_from_dict({"benchmark": {"name": "syllogism", "seed": 1}, "condition": "ft", "ft": {"steps": 5}})
    assert checkpoint_key(config) == "syllogism-organism-lora-2c45c896d3ca2f2a"
