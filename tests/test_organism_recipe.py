"""Organism recipes: one YAML file of phases, run by one command, resumable, recorded."""

import json
from pathlib import Path

import pytest

import iclft.organism
from iclft.errors import UserError
from iclft.organism.recipe import differences, load_recipe, run_recipe
from iclft.organism.train import MANIFEST

TINY = {"layers": 1, "width": 32, "heads": 2, "seq_len": 256, "batch_size": 2, "log_every": 1}


def write_recipe(path: Path, steps=(3, 2), **extra) -> Path:
    import yaml

    phases = [
        {"name": "first", "seed": 0, "set": {**TINY, "steps": steps[0], "vocab_size": 100}, "curriculum": {"n_words": 300}},
        {"name": "second", "seed": 1, "set": {**TINY, "steps": steps[1], "lr": 1e-3},
         "curriculum": {"n_words": 300, "mix": {"compare": 1.0}}},
    ]  # fmt: skip
    path.write_text(yaml.safe_dump({"name": "tiny", "phases": phases, **extra}))
    return path


def test_the_v2_recipe_is_how_the_shipped_organism_was_trained():
    """Every phase of recipes/v2.yaml matches the run its manifest records (settings and the
    documents its curriculum writes), the last phase first, then its parents; v1 is v2's
    first three phases."""
    manifest = json.loads((Path(iclft.organism.__file__).parent / "model" / MANIFEST).read_text())
    _, phases = load_recipe("v2")
    for phase in reversed(phases):
        assert differences(manifest, phase) == []
        manifest = manifest.get("parent")
    assert manifest is None
    _, v1 = load_recipe("v1")
    assert [p.name for p in v1] == ["phase1", "phase2", "phase3"]
    assert all(differences_of(a, b) == [] for a, b in zip(v1, phases))


def differences_of(a, b):
    from iclft.organism.recipe import identity

    return [] if identity(a.cfg, a.params) == identity(b.cfg, b.params) else ["differ"]


def test_a_recipe_runs_its_phases_in_a_chain_and_a_rerun_trains_nothing(tmp_path, capsys):
    recipe = write_recipe(tmp_path / "tiny.yaml")
    last = run_recipe(recipe, tmp_path / "out", evaluate=False, command="iclft organism train --recipe tiny.yaml")
    assert last == tmp_path / "out" / "second"
    manifest = json.loads((last / MANIFEST).read_text())
    assert manifest["recipe"]["name"] == "tiny" and manifest["recipe"]["phase"] == "second"
    assert manifest["train_config"]["init_from"] == str(tmp_path / "out" / "first")
    assert manifest["parent"]["recipe"]["phase"] == "first" and manifest["parent"]["parent"] is None
    weights = (last / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    run_recipe(recipe, tmp_path / "out", evaluate=False)
    assert "second: finished" in capsys.readouterr().out
    assert (last / "model.safetensors").stat().st_mtime_ns == weights


def test_a_phase_trained_with_other_settings_is_never_reused(tmp_path):
    run_recipe(write_recipe(tmp_path / "tiny.yaml"), tmp_path / "out", evaluate=False)
    changed = write_recipe(tmp_path / "changed.yaml", steps=(3, 4))
    with pytest.raises(UserError, match=r"second \(differ: steps\)"):
        run_recipe(changed, tmp_path / "out", evaluate=False)


def test_reuse_takes_a_folder_as_a_phase_and_skips_the_phases_before_it(tmp_path, capsys):
    recipe = write_recipe(tmp_path / "tiny.yaml")
    run_recipe(recipe, tmp_path / "a", evaluate=False)
    capsys.readouterr()
    run_recipe(recipe, tmp_path / "b", reuse={"first": str(tmp_path / "a" / "first")}, evaluate=False)
    assert not (tmp_path / "b" / "first").exists()
    manifest = json.loads((tmp_path / "b" / "second" / MANIFEST).read_text())
    assert manifest["train_config"]["init_from"] == str(tmp_path / "a" / "first")
    with pytest.raises(UserError, match="other settings than phase second"):
        run_recipe(recipe, tmp_path / "c", reuse={"second": str(tmp_path / "a" / "first")}, evaluate=False)
    with pytest.raises(UserError, match="names no phase"):
        run_recipe(recipe, tmp_path / "c", reuse={"third": "x"}, evaluate=False)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda r: r["phases"][0]["set"].update(steps="abc"), "phase first: set: field 'steps'"),
        (lambda r: r["phases"][1]["curriculum"].update(reversal_share=2), "phase second: reversal_share must be in"),
        (lambda r: r["phases"][0].update(colour="red"), "field 'phases.0.colour'"),
        (lambda r: r["phases"][1].update(name="first"), "phase names must be unique"),
        (lambda r: r["phases"][1]["set"].update(init_from="x"), "the chain sets init_from"),
        (lambda r: r.update(phases=[]), "field 'phases'"),
    ],
)
def test_a_bad_recipe_ends_with_one_line_naming_what_is_wrong(tmp_path, edit, message):
    import yaml

    path = write_recipe(tmp_path / "tiny.yaml")
    recipe = yaml.safe_load(path.read_text())
    edit(recipe)
    path.write_text(yaml.safe_dump(recipe))
    with pytest.raises(UserError, match=message) as err:
        load_recipe(path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_the_wide_recipe_is_v2_at_another_size():
    """recipes/v2-wide.yaml trains v2's phases on the same documents, 4 layers x 256 wide, at
    v2's learning rates scaled by 128/256; then a fifth phase of its own, at that size."""
    from iclft.organism.recipe import identity

    _, v2 = load_recipe("v2")
    _, wide = load_recipe("v2-wide")
    assert [p.name for p in wide] == [p.name for p in v2] + ["phase5"]
    assert (wide[-1].cfg.layers, wide[-1].cfg.width, wide[-1].cfg.heads) == (4, 256, 8)
    assert wide[-1].params.no_form_share == 0.5
    for a, b in zip(v2, wide[:-1]):
        assert (b.cfg.layers, b.cfg.width, b.cfg.heads) == (4, 256, 8)
        assert b.cfg.lr == pytest.approx(a.cfg.lr * a.cfg.width / b.cfg.width)
        got, want = identity(b.cfg, b.params), identity(a.cfg, a.params)
        assert got["curriculum_hash"] == want["curriculum_hash"]
        differ = {k for k in want["train_config"] if got["train_config"][k] != want["train_config"][k]}
        assert differ == {"width", "heads", "lr"}
