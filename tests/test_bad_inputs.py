"""Every bad input ends in one line `iclft: error: <culprit>: <what was expected>`, exit code 2.

A table of bad inputs by category: configs, sweep files, data folders, command-line arguments,
model folders, runs folders, API servers and filesystem conditions. Each case writes its files
under tmp_path, runs `iclft.cli.main(argv)` in-process, and checks that

  - the exit code is 2,
  - nothing printed is a traceback,
  - the last line of stderr is `iclft[ subcommand]: error: ...` and names the culprit
    (a file, a field or an argument),
  - nothing was left behind: no file under the runs folder, no output folder.

Most cases fail before any model loads; those that need a model use the organism shipped
inside iclft.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import resource
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from iclft.cli import main
from iclft.errors import UserError
from iclft.models.api import ApiModel
from iclft.models.base import GenerationSettings
from iclft.models.zoo import ORGANISM_FOLDER

NOT_UTF8 = b"benchmark: {name: reversal}\ncondition: icl\n# caf\xe9 in Latin-1\n"
TRAIN = [{"id": "d1", "text": "Ann is taller than Bob."}, {"id": "d2", "text": "Cy is older than Di."}]
TEST = [{"id": "t1", "split": "forward", "prefix": "Ann is taller than", "options": [" Bob", " Cy"], "answers": [0]}]


# -- writing the bad inputs ------------------------------------------------------------------------


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(records: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def run_config(tmp: Path, text: str | bytes) -> list[str]:
    return ["run", str(write(tmp / "exp.yaml", text)), "--runs-dir", str(tmp / "runs"), "--quiet"]


def bench_folder(tmp: Path, train=None, test=None, manifest=None, extra: dict | None = None) -> Path:
    folder = tmp / "bench"
    write(
        folder / "train.jsonl", train if isinstance(train, (str, bytes)) else jsonl(TRAIN if train is None else train)
    )
    write(folder / "test.jsonl", test if isinstance(test, (str, bytes)) else jsonl(TEST if test is None else test))
    if manifest is not None:
        write(folder / "manifest.json", manifest)
    for name, content in (extra or {}).items():
        write(folder / name, content)
    return folder


def run_on_bench(tmp: Path, **kw) -> list[str]:
    folder = bench_folder(tmp, **kw)
    return run_config(tmp, f"benchmark: {{name: folder, path: {folder}}}\nmodel: {{name: organism}}\ncondition: base\n")


def run_on_model(tmp: Path, damage: Callable[[Path], None]) -> list[str]:
    folder = tmp / "model"
    shutil.copytree(ORGANISM_FOLDER, folder)
    damage(folder)
    text = f"benchmark: {{name: reversal, params: {{n_facts: 2, docs_per_fact: 1}}}}\nmodel: {{name: '{folder}'}}\n"
    return run_config(tmp, text)


def sweep_file(tmp: Path, text: str | bytes) -> list[str]:
    return ["sweep", str(write(tmp / "sweep.yaml", text)), "--runs-dir", str(tmp / "runs"), "--quiet"]


SWEEP_BASE = "base: {model: {name: organism}, benchmark: {name: reversal, params: {n_facts: 2, docs_per_fact: 1}}}\n"


def make_semantic(tmp: Path, hierarchy: str | bytes) -> list[str]:
    return [
        "data",
        "make",
        "semantic",
        "--param",
        f"hierarchy={write(tmp / 'h.yaml', hierarchy)}",
        "--out",
        str(tmp / "out"),
    ]


def published(tmp: Path, train: bytes) -> Path:
    """A folder shaped like the published celebrities dataset, with the given training file."""
    write(tmp / "pub" / "p2d_prompts_train.jsonl", train)
    write(
        tmp / "pub" / "p2d_prompts_test.jsonl", jsonl([{"prompt": "Who is the author of X?", "completion": " Ann Lee"}])
    )
    return tmp / "pub"


def truncate(path: Path, keep: int) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def drop(*names: str) -> Callable[[Path], None]:
    return lambda folder: [os.remove(folder / n) for n in names]


def finished_run(tmp: Path, name: str, damage: dict[str, str | bytes] | None = None) -> Path:
    """A finished run folder <tmp>/done/<name> (config.yaml, samples.jsonl, metrics.json), with
    the files in `damage` written over."""
    from iclft.evaluation.metrics import compute_metrics

    samples = [
        {
            "id": f"t{i}",
            "split": "reversal",
            "inference_type": "r",
            "prefix": f"Q{i}",
            "options": [" a", " b"],
            "answers": [0],
            "fact_ids": [],
            "logprobs": [-1.0, -2.0 + i],
            "n_tokens": [1, 1],
            "n_chars": [2, 2],
        }
        for i in range(2)
    ]
    folder = tmp / "done" / name  # not "runs": the test checks that "runs" stays empty
    write(folder / "config.yaml", "benchmark: {name: reversal, seed: 0}\ncondition: base\nseed: 0\n")
    write(folder / "samples.jsonl", jsonl(samples))
    write(
        folder / "metrics.json", json.dumps({**compute_metrics(samples), "condition": "base", "benchmark": "reversal"})
    )
    for file, content in (damage or {}).items():
        write(folder / file, content)
    return folder


def compare_broken(tmp: Path, damage: dict[str, str | bytes]) -> list[str]:
    return ["compare", str(finished_run(tmp, "good")), str(finished_run(tmp, "bad", damage))]


# -- API servers: a real HTTP server on loopback, answering from a script --------------------------


class ScriptedServer:
    """Answers POSTs with scripted (status, headers, body) replies, repeating the last one; counts
    requests and the most requests it held at once."""

    def __init__(self, replies: list[tuple[int, dict, bytes]], hold: threading.Event | None = None):
        self.replies, self.requests, self.in_flight, self.max_in_flight = list(replies), 0, 0, 0
        self.lock, self.hold = threading.Lock(), hold
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with server.lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    status, headers, body = server.replies[min(server.requests, len(server.replies) - 1)]
                    server.requests += 1
                if server.hold is not None:
                    server.hold.wait(5)
                with server.lock:
                    server.in_flight -= 1
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text: str) -> tuple[int, dict, bytes]:
    return 200, {}, json.dumps({"choices": [{"text": text}]}).encode()


@pytest.fixture
def servers():
    started = []

    def start(replies, hold=None):
        started.append(ScriptedServer(replies, hold))
        return started[-1]

    yield start
    for s in started:
        s.close()


def api_config(tmp: Path, base_url: str, **generator) -> list[str]:
    gen = {"kind": "api", "base_url": base_url, "api_model": "m", **generator}
    text = (
        "benchmark: {name: reversal, params: {n_facts: 2, docs_per_fact: 1}}\nmodel: {name: organism}\n"
        "condition: icl_aug\n" + f"augment: {{method: local, max_new_tokens: 4, generator: {json.dumps(gen)}}}\n"
    )
    return run_config(tmp, text)


# -- the table ------------------------------------------------------------------------------------


@dataclass
class Case:
    """`setup(tmp, servers)` writes the bad input and returns argv; `culprit` must appear in the
    error line ({tmp} stands for tmp_path); `env` is set for the call."""

    setup: Callable
    culprit: str
    env: dict = field(default_factory=dict)


def case(id, setup, culprit, env=None, marks=()):
    return pytest.param(Case(setup, culprit, env or {}), id=id, marks=marks)


NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
AS_ROOT = pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")

GOOD = "benchmark: {name: reversal, params: {n_facts: 2, docs_per_fact: 1}}\nmodel: {name: organism}\n"

CONFIGS = [
    case(
        "config-missing", lambda t, s: ["run", str(t / "nope.yaml"), "--runs-dir", str(t / "runs")], "{tmp}/nope.yaml"
    ),
    case("config-is-folder", lambda t, s: ["run", str(t), "--runs-dir", str(t / "runs")], "is a folder"),
    case("config-not-utf8", lambda t, s: run_config(t, NOT_UTF8), "exp.yaml: not UTF-8"),
    case("config-bad-yaml", lambda t, s: run_config(t, "benchmark: {name: reversal\n"), "exp.yaml:"),
    case(
        "config-duplicate-key",
        lambda t, s: run_config(t, "benchmark: {name: reversal}\nseed: 1\nseed: 2\n"),
        "exp.yaml:3: not valid YAML (key 'seed' is given twice",
    ),
    case(
        "config-duplicate-nested-key",
        lambda t, s: run_config(t, "benchmark: {name: reversal, name: syllogism}\n"),
        "key 'name' is given twice",
    ),
    case("config-is-a-list", lambda t, s: run_config(t, "- benchmark\n"), "exp.yaml: expected a mapping"),
    case("config-empty", lambda t, s: run_config(t, ""), "exp.yaml: expected a mapping"),
    case("config-unknown-field", lambda t, s: run_config(t, GOOD + "colour: red\n"), "field 'colour'"),
    case("config-unknown-condition", lambda t, s: run_config(t, GOOD + "condition: fine-tune\n"), "field 'condition'"),
    case("config-no-benchmark", lambda t, s: run_config(t, "condition: icl\n"), "field 'benchmark'"),
    case(
        "config-seed-huge",
        lambda t, s: run_config(t, GOOD + "seed: 100000000000000000000000\n"),
        "field 'seed': a seed must be between 0 and 4294967295",
    ),
    case("config-seed-negative", lambda t, s: run_config(t, GOOD + "seed: -1\n"), "field 'seed'"),
    case(
        "config-benchmark-seed-huge",
        lambda t, s: run_config(t, "benchmark: {name: reversal, seed: 4294967296}\n"),
        "field 'benchmark.seed'",
    ),
    case("config-seed-not-int", lambda t, s: run_config(t, GOOD + "seed: one\n"), "field 'seed'"),
    case(
        "config-device-tpu",
        lambda t, s: run_config(t, "benchmark: {name: reversal}\nmodel: {device: tpu}\n"),
        "field 'model.device': device 'tpu'",
    ),
    case(
        "config-device-cuda-absent",
        lambda t, s: run_config(
            t, "benchmark: {name: reversal, params: {n_facts: 2}}\nmodel: {name: organism, device: cuda}\n"
        ),
        "model.device: cuda requested but no CUDA GPU",
        marks=NO_GPU,
    ),
    case(
        "config-device-cuda-index",
        lambda t, s: run_config(
            t, "benchmark: {name: reversal, params: {n_facts: 2}}\nmodel: {name: organism, device: 'cuda:7'}\n"
        ),
        "model.device: cuda:7",
    ),
    case(
        "config-dtype",
        lambda t, s: run_config(t, "benchmark: {name: reversal}\nmodel: {dtype: int8}\n"),
        "field 'model.dtype'",
    ),
    case(
        "config-unknown-benchmark",
        lambda t, s: run_config(t, "benchmark: {name: reversals}\n"),
        "unknown benchmark 'reversals'",
    ),
    case(
        "config-unknown-param",
        lambda t, s: run_config(t, "benchmark: {name: reversal, params: {n_fact: 3}}\n"),
        "unknown parameter(s) n_fact",
    ),
    case(
        "config-param-type",
        lambda t, s: run_config(t, "benchmark: {name: reversal, params: {n_facts: many}}\n"),
        "parameter 'n_facts' must be an integer",
    ),
    case(
        "config-param-hierarchy-list",
        lambda t, s: run_config(t, "benchmark: {name: semantic, params: {hierarchy: [1, 2]}}\n"),
        "parameter 'hierarchy' must be a string (a file path)",
    ),
    case(
        "config-param-zero",
        lambda t, s: run_config(t, "benchmark: {name: reversal, params: {n_facts: 0}}\n"),
        "n_facts",
    ),
    case("config-subsample-zero", lambda t, s: run_config(t, GOOD + "icl: {subsample: 0}\n"), "field 'icl.subsample'"),
    case(
        "config-learning-rate",
        lambda t, s: run_config(t, GOOD + "ft: {learning_rate: -1}\n"),
        "field 'ft.learning_rate'",
    ),
    case(
        "config-augment-unused",
        lambda t, s: run_config(t, GOOD + "condition: icl\naugment: {method: oracle}\n"),
        "augment settings are given",
    ),
    case("config-augment-missing", lambda t, s: run_config(t, GOOD + "condition: ft_aug\n"), "needs augment.method"),
    case(
        "config-unknown-model",
        lambda t, s: run_config(t, "benchmark: {name: reversal, params: {n_facts: 2}}\nmodel: {name: gpt-17}\n"),
        "unknown model 'gpt-17'",
    ),
    case(
        "config-hub-offline",
        lambda t, s: run_config(
            t, "benchmark: {name: reversal, params: {n_facts: 2}}\nmodel: {name: nobody/no-model}\n"
        ),
        "model 'nobody/no-model': not a folder, not in the local hub cache, and HF_HUB_OFFLINE is set",
        env={"HF_HUB_OFFLINE": "1"},
    ),
    case(
        "config-model-folder-missing",
        lambda t, s: run_config(t, "benchmark: {name: reversal, params: {n_facts: 2}}\nmodel: {name: models/tiny}\n"),
        "model 'models/tiny': not a folder",
        env={"HF_HUB_OFFLINE": "1"},
    ),
    case(
        "config-benchmark-path-missing",
        lambda t, s: run_config(t, f"benchmark: {{name: folder, path: {t}/nowhere}}\n"),
        "{tmp}/nowhere: not a benchmark folder",
    ),
]

DATA = [
    case("data-empty-test", lambda t, s: run_on_bench(t, test=""), "test.jsonl: no test items"),
    case(
        "data-duplicate-ids", lambda t, s: run_on_bench(t, train=TRAIN + [TRAIN[0]]), "train.jsonl:3: duplicate id 'd1'"
    ),
    case(
        "data-repeated-options",
        lambda t, s: run_on_bench(t, test=[{**TEST[0], "options": [" Bob", " Bob"]}]),
        "test.jsonl:1: options repeat",
    ),
    case(
        "data-text-not-string",
        lambda t, s: run_on_bench(t, train=[{"id": "d1", "text": 42}]),
        "train.jsonl:1: field 'text' must be a string",
    ),
    case(
        "data-option-not-string",
        lambda t, s: run_on_bench(t, test=[{**TEST[0], "options": [" Bob", 7]}]),
        "test.jsonl:1: option 1 must be a string",
    ),
    case(
        "data-answer-out-of-range",
        lambda t, s: run_on_bench(t, test=[{**TEST[0], "answers": [5]}]),
        "answer index 5 out of range: the options are numbered 0..1",
    ),
    case(
        "data-no-options",
        lambda t, s: run_on_bench(t, test=[{**TEST[0], "options": []}]),
        "needs at least 2 options, has 0",
    ),
    case("data-test-not-utf8", lambda t, s: run_on_bench(t, test=b'{"id": "t\xe9"}\n'), "test.jsonl: not UTF-8"),
    case("data-train-not-utf8", lambda t, s: run_on_bench(t, train=b'{"id": "d\xe9"}\n'), "train.jsonl: not UTF-8"),
    case(
        "data-train-missing",
        lambda t, s: (run_on_bench(t), os.remove(t / "bench" / "train.jsonl"))[0],
        "train.jsonl: file missing",
    ),
    case(
        "data-bad-json-line", lambda t, s: run_on_bench(t, test=jsonl(TEST) + "{oops\n"), "test.jsonl:2: not valid JSON"
    ),
    case(
        "data-line-not-object", lambda t, s: run_on_bench(t, train="[1, 2]\n"), "train.jsonl:1: expected a JSON object"
    ),
    case(
        "data-show-train-not-utf8",
        lambda t, s: ["data", "show", str(bench_folder(t, train=b"\xff\xfe"))],
        "train.jsonl: not UTF-8",
    ),
    case(
        "data-show-manifest-not-utf8",
        lambda t, s: ["data", "show", str(bench_folder(t, manifest=b'{"generator": "\xe9"}'))],
        "manifest.json: not UTF-8",
    ),
    case(
        "data-show-manifest-not-json",
        lambda t, s: ["data", "show", str(bench_folder(t, manifest="{generator"))],
        "manifest.json:1: not valid JSON",
    ),
    case(
        "data-show-manifest-params",
        lambda t, s: ["data", "show", str(bench_folder(t, manifest='{"generator": "x", "seed": 0, "params": [1]}'))],
        "manifest.json: field 'params' must be an object",
    ),
    case("data-show-not-a-benchmark", lambda t, s: ["data", "show", str(t)], "not a benchmark folder"),
    case("data-validate-missing", lambda t, s: ["data", "validate", str(t / "nowhere")], "{tmp}/nowhere"),
    case(
        "data-export-not-utf8",
        lambda t, s: ["data", "export-lm-eval", str(bench_folder(t, test=b"\xff")), str(t / "out")],
        "test.jsonl: not UTF-8",
    ),
    case(
        "data-import-not-utf8",
        lambda t, s: ["data", "import", "celebrities", str(published(t, b"\xff")), "--out", str(t / "out")],
        "pub/p2d_prompts_train.jsonl: not UTF-8",
    ),
    case(
        "data-import-missing",
        lambda t, s: ["data", "import", "celebrities", str(t / "nowhere"), "--out", str(t / "out")],
        "{tmp}/nowhere",
    ),
]

SWEEPS = [
    case("sweep-missing", lambda t, s: ["sweep", str(t / "nope.yaml")], "{tmp}/nope.yaml"),
    case("sweep-bad-yaml", lambda t, s: sweep_file(t, "grid: [\n"), "sweep.yaml"),
    case("sweep-not-a-mapping", lambda t, s: sweep_file(t, "- 1\n"), "sweep.yaml: expected a mapping"),
    case(
        "sweep-empty-axis",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {seed: []}\n"),
        "grid axis 'seed' has no values",
    ),
    case(
        "sweep-unknown-field",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {seed: [0]}\nworkers: 2\n"),
        "field 'workers'",
    ),
    case(
        "sweep-bad-base-field",
        lambda t, s: sweep_file(t, "base: {colour: red, benchmark: {name: reversal}}\ngrid: {seed: [0]}\n"),
        "colour",
    ),
    case(
        "sweep-unknown-benchmark",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {benchmark.name: [reversal, nope]}\n"),
        "unknown benchmark 'nope'",
    ),
    case("sweep-seed-out-of-range", lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {seed: [0, -5]}\n"), "seed"),
    case(
        "sweep-not-utf8",
        lambda t, s: sweep_file(t, SWEEP_BASE.encode() + b"# \xe9\ngrid: {seed: [0]}\n"),
        "sweep.yaml: not UTF-8",
    ),
    case(
        "sweep-duplicate-key",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {seed: [0]}\ngrid: {seed: [1]}\n"),
        "key 'grid' is given twice",
    ),
    case(
        "sweep-param-type",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {benchmark.params.n_facts: [2, many]}\n"),
        "parameter 'n_facts' must be an integer",
    ),
    case(
        "sweep-workers-negative",
        lambda t, s: sweep_file(t, SWEEP_BASE + "grid: {seed: [0]}\nexecutor: {kind: local, workers: -3}\n"),
        "workers",
    ),
]

CLI = [
    case(
        "cli-organism-eval-not-an-organism",
        lambda t, s: ["organism", "eval", str(t / "nowhere")],
        "'{tmp}/nowhere' is not an organism folder",
    ),
    case(
        "cli-make-unknown-benchmark",
        lambda t, s: ["data", "make", "reversals", "--out", str(t / "out")],
        "unknown benchmark 'reversals'",
    ),
    case(
        "cli-param-no-equals",
        lambda t, s: ["data", "make", "reversal", "--param", "n_facts", "--out", str(t / "out")],
        "--param: expected KEY=VALUE",
    ),
    case(
        "cli-param-hierarchy-list",
        lambda t, s: ["data", "make", "semantic", "--param", "hierarchy=[1, 2]", "--out", str(t / "out")],
        "semantic: parameter 'hierarchy' must be a string",
    ),
    case(
        "cli-param-float-for-int",
        lambda t, s: ["data", "make", "syllogism", "--param", "n_train=2.5", "--out", str(t / "out")],
        "parameter 'n_train' must be an integer",
    ),
    case(
        "cli-param-unknown",
        lambda t, s: ["data", "make", "syllogism", "--param", "n_tests=2", "--out", str(t / "out")],
        "unknown parameter(s) n_tests",
    ),
    case(
        "cli-hierarchy-file-missing",
        lambda t, s: ["data", "make", "semantic", "--param", f"hierarchy={t}/h.yaml", "--out", str(t / "out")],
        "h.yaml",
    ),
    case("cli-hierarchy-not-utf8", lambda t, s: make_semantic(t, b"animal: {are: [caf\xe9]}\n"), "h.yaml: not UTF-8"),
    case(
        "cli-hierarchy-duplicate-key",
        lambda t, s: make_semantic(t, "animal: {are: [alive]}\nanimal: {can: [move]}\n"),
        "h.yaml:2: not valid YAML (key 'animal' is given twice",
    ),
    case("cli-set-config-not-utf8", lambda t, s: run_config(t, NOT_UTF8) + ["--set", "seed=1"], "exp.yaml: not UTF-8"),
    case(
        "cli-set-config-duplicate-key",
        lambda t, s: run_config(t, GOOD + "seed: 1\nseed: 2\n") + ["--set", "seed=3"],
        "exp.yaml:4: not valid YAML (key 'seed' is given twice",
    ),
    case("cli-run-no-config", lambda t, s: ["run"], "config"),
    case(
        "cli-seed-not-int", lambda t, s: ["data", "make", "reversal", "--seed", "x", "--out", str(t / "out")], "--seed"
    ),
    case("cli-executor-unknown", lambda t, s: ["sweep", str(t / "s.yaml"), "--executor", "slurm"], "--executor"),
    case("cli-unknown-command", lambda t, s: ["train"], "invalid choice: 'train'"),
    case(
        "cli-quickstart-unknown-model",
        lambda t, s: ["quickstart", "--model", "gpt-17", "--runs-dir", str(t / "runs"), "--quiet"],
        "unknown model 'gpt-17'",
    ),
    case("cli-compare-missing-runs", lambda t, s: ["compare", str(t / "a"), str(t / "b")], "{tmp}/a"),
    case("cli-report-missing-runs", lambda t, s: ["report", str(t / "runs"), "--out", str(t / "report")], "{tmp}/runs"),
]

MODELS = [
    case(
        "model-config-not-json",
        lambda t, s: run_on_model(t, lambda f: write(f / "config.json", "{not json")),
        "model/config.json: not valid JSON",
    ),
    case(
        "model-config-a-list",
        lambda t, s: run_on_model(t, lambda f: write(f / "config.json", "[]")),
        "model/config.json: expected a JSON object",
    ),
    case("model-no-config", lambda t, s: run_on_model(t, drop("config.json")), "no config.json"),
    case("model-no-weights", lambda t, s: run_on_model(t, drop("model.safetensors")), "model: no weights"),
    case(
        "model-pickle-weights",
        lambda t, s: run_on_model(t, lambda f: os.rename(f / "model.safetensors", f / "pytorch_model.bin")),
        "only pickle weights (pytorch_model.bin); iclft loads safetensors only",
    ),
    case(
        "model-no-tokenizer",
        lambda t, s: run_on_model(t, drop("tokenizer.json", "tokenizer_config.json")),
        "model: no tokenizer",
    ),
    case(
        "model-truncated-weights",
        lambda t, s: run_on_model(t, lambda f: truncate(f / "model.safetensors", 100_000)),
        "model.safetensors: truncated or corrupt weights file; delete {tmp}/model",
    ),
    case(
        "model-weights-header-garbage",
        lambda t, s: run_on_model(
            t, lambda f: write(f / "model.safetensors", b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!")
        ),
        "truncated or corrupt",
    ),
    case(
        "model-weights-empty",
        lambda t, s: run_on_model(t, lambda f: write(f / "model.safetensors", b"")),
        "truncated or corrupt",
    ),
    case(
        "model-config-unknown-architecture",
        lambda t, s: run_on_model(t, lambda f: write(f / "config.json", '{"model_type": "no-such-arch"}')),
        "model folder {tmp}/model: cannot be loaded",
    ),
]

RUNS_AND_FILES = [
    case(
        "runs-dir-is-a-file",
        lambda t, s: (write(t / "runs", "x"), run_config(t, GOOD + "condition: base\n"))[1],
        "{tmp}/runs: is a file, expected a folder",
    ),
    case(
        "out-is-a-file",
        lambda t, s: (write(t / "out", "x"), ["data", "make", "reversal", "--out", str(t / "out")])[1],
        "{tmp}/out: is a file, expected a folder",
    ),
    case(
        "runs-dir-read-only",
        lambda t, s: (os.makedirs(t / "runs"), os.chmod(t / "runs", 0o555), run_config(t, GOOD + "condition: base\n"))[
            2
        ],
        "{tmp}/runs",
        marks=AS_ROOT,
    ),
    case(
        "compare-metrics-not-json",
        lambda t, s: compare_broken(t, {"metrics.json": "{oops"}),
        "done/bad/metrics.json:1: not valid JSON",
    ),
    case(
        "compare-metrics-a-list",
        lambda t, s: compare_broken(t, {"metrics.json": "[1]"}),
        "done/bad/metrics.json: expected a mapping",
    ),
    case(
        "compare-metrics-missing-field",
        lambda t, s: compare_broken(t, {"metrics.json": '{"condition": "base"}'}),
        "done/bad/metrics.json: missing field 'headline'",
    ),
    case(
        "compare-metrics-split-not-number",
        lambda t, s: compare_broken(
            t, {"metrics.json": '{"headline": "sum", "n_items": 2, "splits": {"reversal": {"n": 2}}}'}
        ),
        "done/bad/metrics.json: field 'splits.reversal.accuracy'",
    ),
    case(
        "compare-metrics-not-utf8",
        lambda t, s: compare_broken(t, {"metrics.json": b'{"headline": "s\xe9"}'}),
        "done/bad/metrics.json: not UTF-8",
    ),
    case(
        "compare-config-not-a-mapping",
        lambda t, s: compare_broken(t, {"config.yaml": "- base\n"}),
        "done/bad/config.yaml: expected a mapping",
    ),
    case(
        "compare-config-bad-yaml",
        lambda t, s: compare_broken(t, {"config.yaml": "benchmark: {name: reversal\n"}),
        "done/bad/config.yaml:",
    ),
    case(
        "compare-samples-bad-line",
        lambda t, s: compare_broken(t, {"samples.jsonl": '{"id": "t0"}\n{oops\n'}),
        "done/bad/samples.jsonl:2: not valid JSON",
    ),
    case(
        "compare-samples-missing-field",
        lambda t, s: compare_broken(t, {"samples.jsonl": '{"id": "t0", "split": "reversal"}\n'}),
        "done/bad/samples.jsonl: record 1: missing field",
    ),
    case(
        "compare-samples-scores-mismatch",
        lambda t, s: compare_broken(
            t,
            {
                "samples.jsonl": jsonl(
                    [
                        {
                            "id": "t0",
                            "split": "reversal",
                            "inference_type": "r",
                            "prefix": "Q0",
                            "options": [" a", " b"],
                            "answers": [0],
                            "fact_ids": [],
                            "logprobs": [-1.0],
                            "n_tokens": [1, 1],
                            "n_chars": [2, 2],
                        }
                    ]
                )
            },
        ),
        "samples.jsonl: record 1: field 'logprobs'",
    ),
    case(
        "compare-samples-not-utf8",
        lambda t, s: compare_broken(t, {"samples.jsonl": b'{"id": "t\xe9"}\n'}),
        "done/bad/samples.jsonl: not UTF-8",
    ),
    case(
        "report-out-is-a-file",
        lambda t, s: (write(t / "out", "x"), ["data", "export-lm-eval", str(bench_folder(t)), str(t / "out")])[1],
        "{tmp}/out",
    ),
]

API = [
    case(
        "api-http-400", lambda t, s: api_config(t, s([(400, {}, b'{"error": "bad model"}')]).url), "answered HTTP 400"
    ),
    case("api-not-json", lambda t, s: api_config(t, s([(200, {}, b"<html>")]).url), "malformed reply (not JSON)"),
    case(
        "api-no-choices",
        lambda t, s: api_config(t, s([(200, {}, b'{"data": []}')]).url),
        "malformed reply (no choices[0].text)",
    ),
    case(
        "api-refused",
        lambda t, s: api_config(t, "http://127.0.0.1:9/v1"),
        "API server http://127.0.0.1:9/v1/completions unreachable",
    ),
    case(
        "api-key-in-url",
        lambda t, s: api_config(t, "http://user:sk-secret@127.0.0.1:9/v1"),
        "augment.generator.base_url: holds credentials",
    ),
    case(
        "api-key-in-query",
        lambda t, s: api_config(t, "http://127.0.0.1:9/v1?api_key=sk-secret"),
        "augment.generator.base_url: holds credentials",
    ),
    case(
        "api-key-env-unset",
        lambda t, s: api_config(t, s([completion("x")]).url, api_key_env="ICLFT_NO_SUCH_KEY_SET"),
        "ICLFT_NO_SUCH_KEY_SET is not set",
    ),
    case("api-no-base-url", lambda t, s: api_config(t, None), "augment.generator.base_url"),
]

FILESYSTEM = [
    case(
        "disk-full-on-make",
        lambda t, s: ["data", "make", "reversal", "--out", str(t / "out")],
        "{tmp}/out/train.jsonl: File too large",
        env={"FILE_SIZE_LIMIT": 2000},
    ),
]

ALL = CONFIGS + DATA + SWEEPS + CLI + MODELS + RUNS_AND_FILES + API + FILESYSTEM


class FileSizeLimit:
    """While active, writes past `limit` bytes fail with EFBIG, as on a full disk (SIGXFSZ ignored)."""

    def __init__(self, limit: int | None):
        self.limit = limit

    def __enter__(self):
        if self.limit:
            self.old = resource.getrlimit(resource.RLIMIT_FSIZE), signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old[0][1]))

    def __exit__(self, *exc):
        if self.limit:
            resource.setrlimit(resource.RLIMIT_FSIZE, self.old[0])
            signal.signal(signal.SIGXFSZ, self.old[1])


def test_there_are_many_cases():
    assert len(ALL) >= 60


@pytest.mark.parametrize("bad", ALL)
def test_bad_input_is_one_line_naming_the_culprit(bad: Case, tmp_path, capsys, monkeypatch, servers):
    monkeypatch.chdir(tmp_path)
    argv = bad.setup(tmp_path, servers)
    env = dict(bad.env)
    limit = env.pop("FILE_SIZE_LIMIT", None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    before = set(tmp_path.rglob("*"))
    try:
        with FileSizeLimit(limit):
            code = main(argv)
    except SystemExit as e:  # argparse's own errors: usage line, then `iclft <cmd>: error: ...`
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in out + err
    last = err.strip().splitlines()[-1]
    assert re.match(r"iclft( [\w-]+)*: error: ", last), last
    assert bad.culprit.format(tmp=tmp_path) in last, last
    assert "sk-secret" not in out + err
    new = set(tmp_path.rglob("*")) - before
    left = sorted(
        str(p.relative_to(tmp_path)) for p in new if p.is_file() and ".locks" not in p.parts
    )  # empty lock files hold no results
    assert not left, f"left behind: {left}"
    for folder in ("runs", "out", "report"):
        if (tmp_path / folder).is_dir():
            assert not any(p.name != ".locks" for p in (tmp_path / folder).iterdir()), f"{folder} is not empty"


# -- the API backend's retries, against a real server ---------------------------------------------


def test_api_retries_429_then_succeeds_honouring_retry_after(servers):
    server = servers([(429, {"Retry-After": "0"}, b"slow down"), (503, {}, b"busy"), completion("yes")])
    lm = ApiModel(server.url, "m", backoff_s=0.01, max_retries=3)
    assert lm.generate(["q"], GenerationSettings()) == [["yes"]]
    assert server.requests == 3


def test_api_gives_up_after_max_retries_in_one_line(servers):
    server = servers([(500, {}, b"internal error")])
    lm = ApiModel(server.url, "m", backoff_s=0.01, max_retries=2)
    with pytest.raises(UserError) as e:
        lm.generate(["q"], GenerationSettings())
    assert server.requests == 3
    assert (
        str(e.value) == f"API server {server.url}/completions answered HTTP 500: internal error (gave up after 3 tries)"
    )


def test_api_does_not_retry_client_errors(servers):
    server = servers([(401, {}, b"no key")])
    with pytest.raises(UserError, match="HTTP 401"):
        ApiModel(server.url, "m", backoff_s=0.01).generate(["q"], GenerationSettings())
    assert server.requests == 1


def test_api_keeps_several_requests_in_flight_and_the_prompt_order(servers):
    hold = threading.Event()
    server = servers([completion("same")], hold=hold)
    lm = ApiModel(server.url, "m", concurrency=4)
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(out=lm.generate([f"q{i}" for i in range(8)], GenerationSettings(num_samples=2)))
    )
    worker.start()
    for _ in range(1000):  # four requests reach the server before any is answered
        if server.requests >= 4:
            break
        threading.Event().wait(0.01)
    assert server.max_in_flight == 4
    hold.set()
    worker.join(10)
    assert result["out"] == [["same", "same"]] * 8 and server.requests == 16


def test_api_timeouts_are_retried(servers):
    hold = threading.Event()  # set only after both requests timed out
    slow = servers([completion("never")], hold=hold)
    lm = ApiModel(slow.url, "m", timeout_s=0.2, backoff_s=0.01, max_retries=1)
    with pytest.raises(UserError, match="did not answer in time.*gave up after 2 tries"):
        lm.generate(["q"], GenerationSettings())
    hold.set()
    assert slow.requests == 2
