import pytest
from pydantic import ValidationError

from iclft.config import ExperimentConfig, config_from_dict, load_config
from iclft.errors import UserError
from iclft.models.zoo import DEFAULT_MODEL


def write(tmp_path, text):
    path = tmp_path / "exp.yaml"
    path.write_text(text)
    return path


def test_minimal_config_gets_defaults(tmp_path):
    config = load_config(write(tmp_path, "benchmark: {name: reversal}\ncondition: icl\n"))
    assert config.model.name == "organism-wide"  # the default model (README Changelog)
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
    assert a.slug().startswith("a-") and c.slug().startswith("reversal-base-organism-wide-s1-")


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
        ({"benchmark": {"name": "reversal"}}, "c2bf82ecf43acc2a1248451f62f57289e5c73628894f898c90e106e36e7f8097"),
        (
            {"benchmark": {"name": "reversal"}, "condition": "icl"},
            "05639cef9bd8a204cc4f27dbaec60f3ec6fb6003d37725debcb4fd83fe514eb8",
        ),
        (
            {"benchmark": {"name": "syllogism", "seed": 1}, "condition": "ft", "ft": {"steps": 5}},
            "9fd7b21d5659c10b63b790108067bbb4a12f19f6ed4a7eac4f8965414a3a91eb",
        ),
    ],
)
def test_pinned_hashes(data, digest):
    """Run directories are named by these hashes: a change recomputes users' runs, so it must be
    deliberate and said in the README's Changelog (with HASH_SCHEMA bumped when every hash
    changes). These three changed when the default model did (the model's name is hashed)."""
    assert config_from_dict(data).content_hash() == digest


def test_pinned_checkpoint_key():
    from iclft.experiment import checkpoint_key

    config = config_from_dict({"benchmark": {"name": "syllogism", "seed": 1}, "condition": "ft", "ft": {"steps": 5}})
    assert checkpoint_key(config) == "syllogism-organism-wide-lora-a205d392a1c10e90"


def test_a_run_of_one_default_model_is_never_taken_for_a_run_of_another():
    # A named config's folder is "<name>-<hash>". Were the default model left out of the hash
    # (as other defaults are), a run made when `organism` was the default would be found again
    # as the run of today's default, `organism-wide`.
    default = config_from_dict({"benchmark": {"name": "reversal"}, "name": "study"})
    assert default.hashed_fields()["model"] == {"name": DEFAULT_MODEL}
    named = config_from_dict({"benchmark": {"name": "reversal"}, "name": "study", "model": {"name": DEFAULT_MODEL}})
    assert named.slug() == default.slug()  # naming the default explicitly is the same run
    other = config_from_dict({"benchmark": {"name": "reversal"}, "name": "study", "model": {"name": "organism"}})
    assert other.slug() != default.slug()
