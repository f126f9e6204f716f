"""Every file under examples/ works as written from the repository root.

Each YAML is loaded exactly as a user would load it (config or sweep validation, every model
it names resolvable without downloading), then run once through the `iclft` command with its
sizes shrunk and its model swapped for the organism, so the suite stays fast. The table script
of the worked augmentation example is run on the runs those configs produce.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from iclft.cli import main
from iclft.config import load_config
from iclft.models.zoo import ZOO
from iclft.sweep import load_sweep

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
SMALL_PARAMS = {"reversal": {"n_facts": 3, "docs_per_fact": 2}, "syllogism": {"n_train": 3}}


def is_sweep(path: Path) -> bool:
    return "grid" in yaml.safe_load(path.read_text(encoding="utf-8"))


def shrink(config: dict) -> dict:
    """The same experiment, tiny: the organism, a few facts, two training steps, short generations."""
    config = dict(config)
    config["model"] = {**config.get("model", {}), "name": "organism"}
    bench = dict(config.get("benchmark") or {})
    if "name" in bench:
        bench["params"] = {**bench.get("params", {}), **SMALL_PARAMS.get(bench["name"], {})}
        config["benchmark"] = bench
    ft = {k: v for k, v in (config.get("ft") or {}).items() if k != "epochs"}
    config["ft"] = {**ft, "steps": 2, "batch_size": 2, "warmup_steps": 0}
    if "augment" in config:
        config["augment"] = {**config["augment"], "samples": 1, "max_new_tokens": 8}
    return config


def test_there_are_examples():
    assert any(is_sweep(p) for p in EXAMPLES) and any(not is_sweep(p) for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_example_validates_as_written(path, monkeypatch):
    monkeypatch.chdir(ROOT)
    rel = path.relative_to(ROOT)
    configs = load_sweep(rel).configs if is_sweep(path) else [load_config(rel)]
    assert configs
    for config in configs:
        name = config.model.name
        assert name in ZOO or Path(name).is_dir(), f"{rel}: model '{name}' is neither embedded nor a folder"


@pytest.fixture(scope="module")
def aug_runs(tmp_path_factory):
    """The worked augmentation example's configs, shrunk, run through `iclft run`."""
    runs = tmp_path_factory.mktemp("aug-runs")
    work = tmp_path_factory.mktemp("aug-configs")
    for path in sorted((ROOT / "examples" / "augmentation").glob("*.yaml")):
        small = work / path.name
        small.write_text(yaml.safe_dump(shrink(yaml.safe_load(path.read_text()))))
        assert main(["run", str(small), "--runs-dir", str(runs), "--quiet"]) == 0, path
    return runs


@pytest.mark.parametrize("path", [p for p in EXAMPLES if not is_sweep(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_example_config_runs_shrunk(path, aug_runs, tmp_path, capsys):
    if path.parent.name == "augmentation":
        name = yaml.safe_load(path.read_text())["name"]
        assert list(aug_runs.glob(f"{name}-*/metrics.json")), f"{path.name} left no finished run"
        return
    small = tmp_path / path.name
    small.write_text(yaml.safe_dump(shrink(yaml.safe_load(path.read_text()))))
    assert main(["run", str(small), "--runs-dir", str(tmp_path / "runs"), "--quiet"]) == 0
    assert "run directory:" in capsys.readouterr().out
    assert len(list((tmp_path / "runs").glob("*/metrics.json"))) == 1


def test_augmentation_table_script(aug_runs):
    out = subprocess.run(
        [sys.executable, "examples/augmentation/table.py", str(aug_runs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ")][1:]  # after the header
    assert len(rows) == 4  # one row per config
    assert "ft_aug(oracle)" in out and "icl" in out


@pytest.mark.parametrize("path", [p for p in EXAMPLES if is_sweep(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_example_sweep_runs_shrunk(path, tmp_path, capsys):
    sweep = yaml.safe_load(path.read_text())
    sweep["base"] = shrink(sweep["base"])
    sweep["runs_dir"] = str(tmp_path / "runs")
    sweep["executor"] = {"kind": "local", "workers": 1}
    grid = {}
    for axis, values in sweep["grid"].items():
        if axis == "benchmark":
            values = [shrink({"benchmark": v})["benchmark"] for v in values]
        grid[axis] = values if "seed" not in axis else values[:1]
    sweep["grid"] = grid
    small = tmp_path / path.name
    small.write_text(yaml.safe_dump(sweep))
    n = len(load_sweep(small).configs)
    assert main(["sweep", str(small), "--quiet"]) == 0
    assert len(list((tmp_path / "runs").glob("*/metrics.json"))) == n


def test_quiet_run_prints_only_the_table(tmp_path):
    """Under --quiet no progress bar, library log line or FutureWarning reaches the terminal."""
    small = tmp_path / "reversal-icl.yaml"
    small.write_text(yaml.safe_dump(shrink(yaml.safe_load((ROOT / "examples" / "reversal-icl.yaml").read_text()))))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PYTHONWARNINGS": "default"}
    done = subprocess.run(
        [sys.executable, "-m", "iclft.cli", "run", str(small), "--runs-dir", str(tmp_path / "runs"), "--quiet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.startswith("| split") and "run directory:" in done.stdout
