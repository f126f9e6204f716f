"""The iclft command: bad input ends with one line and exit code 2; data make is reproducible."""

import subprocess
import sys
from pathlib import Path

import pytest

from iclft.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_make_same_seed_same_bytes(tmp_path, capsys):
    for name in ("a", "b"):
        assert run_cli(capsys, "data", "make", "syllogism", "--seed", "4", "--out", str(tmp_path / name))[0] == 0
    for file in ("manifest.json", "train.jsonl", "test.jsonl", "facts.jsonl"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_data_make_params(tmp_path, capsys):
    code, out, _ = run_cli(
        capsys, "data", "make", "reversal", "--param", "n_facts=7", "--param", "docs_per_fact=3", "--out", str(tmp_path)
    )
    assert code == 0 and "21 documents, 14 test items" in out


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["data", "make", "nonsense", "--out", "X"], "unknown benchmark 'nonsense'"),
        (["data", "make", "reversal", "--param", "n_fact=3", "--out", "X"], "n_fact"),
        (["data", "make", "reversal", "--param", "oops", "--out", "X"], "--param: expected KEY=VALUE"),
        (["run", "MISSING.yaml"], "MISSING.yaml: cannot read config"),
        (["data", "show", "X"], "not a benchmark folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, expected):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("iclft: error: ") and expected in err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bad_config_field_leaves_no_run_directory(tmp_path, capsys):
    config = tmp_path / "exp.yaml"
    config.write_text("benchmark: {name: reversal}\ncondition: icl\nft: {lora_rank: 0}\n")
    code, _, err = run_cli(capsys, "run", str(config), "--runs-dir", str(tmp_path / "runs"))
    assert code == 2 and "ft.lora_rank" in err and str(config) in err
    assert not (tmp_path / "runs").exists()


def test_run_prints_table_and_reuses(tmp_path, capsys, tiny_model_dir):
    config = tmp_path / "exp.yaml"
    config.write_text(
        f"benchmark: {{name: reversal, params: {{n_facts: 4, docs_per_fact: 2}}}}\n"
        f"model: {{name: '{tiny_model_dir}', device: cpu}}\ncondition: icl\n"
    )
    code, out, _ = run_cli(capsys, "run", str(config), "--runs-dir", str(tmp_path / "runs"), "--quiet")
    assert code == 0 and "| reversal" in out and "| forward" in out and "run directory:" in out
    assert run_cli(capsys, "run", str(config), "--runs-dir", str(tmp_path / "runs"), "--quiet")[1] == out


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("iclft")
    result = subprocess.run([str(script), "data", "make", "nope", "--out", "x"], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip().startswith("iclft: error: unknown benchmark")
