"""The OpenAI-compatible API backend against a real server on loopback, and its error messages.

The real server is transformers' own (`transformers serve`, from `transformers[serving]`),
started here on 127.0.0.1 on a free port with the tiny test model, and stopped afterwards.
Error cases (malformed replies) use a small stub server in a thread.
"""

import http.server
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from iclft.benchmarks import make_benchmark
from iclft.config import AugmentConfig, GeneratorConfig, ModelConfig
from iclft.errors import UserError
from iclft.exposure.augment import build_augmentations
from iclft.models.api import ApiModel
from iclft.models.base import GenerationSettings, ScoreRequest

SECRET = "sk-test-not-a-real-key-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tiny_model_dir):
    pytest.importorskip("fastapi", reason="needs transformers[serving]: pip install 'transformers[serving]'")
    pytest.importorskip("uvicorn", reason="needs transformers[serving]: pip install 'transformers[serving]'")
    exe = Path(sys.executable).with_name("transformers")
    command = [
        str(exe) if exe.exists() else shutil.which("transformers"),
        "serve",
        str(tiny_model_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port := free_port()),
        "--device",
        "cpu",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    proc.kill()
                    pytest.fail(f"transformers serve did not start: {proc.stderr.read()[-500:]}")
                time.sleep(0.5)
        yield f"{base}/v1", str(tiny_model_dir)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.integration
def test_completions_from_a_real_server(server, monkeypatch):
    base_url, model = server
    monkeypatch.setenv("ICLFT_TEST_KEY", SECRET)
    lm = ApiModel(base_url, model, "completions", api_key_env="ICLFT_TEST_KEY")
    out = lm.generate(
        ["Wugs are heavier than daxes.", "All feps are"], GenerationSettings(max_new_tokens=8, num_samples=2)
    )
    assert len(out) == 2 and all(len(samples) == 2 and all(isinstance(t, str) for t in samples) for samples in out)
    assert lm.usage["completion_tokens"] > 0
    with pytest.raises(UserError, match="only generates"):
        lm.score([ScoreRequest("a", ("b", "c"))])


@pytest.mark.integration
def test_api_generator_fills_the_cache_and_never_stores_the_key(server, tmp_path, monkeypatch):
    base_url, model = server
    monkeypatch.setenv("ICLFT_TEST_KEY", SECRET)
    template = tmp_path / "t.txt"
    template.write_text("Again: {text}\n")
    generator = GeneratorConfig(kind="api", base_url=base_url, api_model=model, api_key_env="ICLFT_TEST_KEY")
    cfg = AugmentConfig(method="local", generator=generator, local_template=str(template), max_new_tokens=10)
    bench = make_benchmark("reversal", n_facts=3, docs_per_fact=1)
    result = build_augmentations(bench, cfg, ModelConfig(name="unused"), None, tmp_path, seed=0, progress=False)
    assert result.accounting["generated_now"] == 3 and result.accounting["generator"].startswith("api|")
    files = list((tmp_path / "generations").glob("*.json"))
    assert len(files) == 3 and all(SECRET not in f.read_text() for f in files)
    again = build_augmentations(bench, cfg, ModelConfig(name="unused"), None, tmp_path, seed=0, progress=False)
    assert again.accounting["from_cache"] == 3


def test_unreachable_server_is_a_clear_error():
    lm = ApiModel(f"http://127.0.0.1:{free_port()}/v1", "m", timeout_s=5)
    with pytest.raises(UserError, match=r"API server http://127\.0\.0\.1:\d+/v1/completions unreachable"):
        lm.generate(["x"], GenerationSettings())


def test_missing_key_variable_is_named(monkeypatch):
    monkeypatch.delenv("ICLFT_NO_SUCH_KEY", raising=False)
    lm = ApiModel("http://127.0.0.1:9/v1", "m", api_key_env="ICLFT_NO_SUCH_KEY")
    with pytest.raises(UserError, match="ICLFT_NO_SUCH_KEY is not set"):
        lm.generate(["x"], GenerationSettings())


class Stub:
    """A loopback server whose replies are scripted: the i-th POST gets replies[i] (the last repeats)."""

    def __init__(self, replies):
        self.replies, self.requests = replies, []
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append((self.path, body, self.headers.get("Authorization")))
                reply = stub.replies[min(len(stub.requests), len(stub.replies)) - 1]
                data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def completion(text):
    return {"choices": [{"text": text}], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}


def test_chat_endpoint_request_and_reply_shape(monkeypatch):
    stub = Stub([{"choices": [{"message": {"role": "assistant", "content": "Daxes are lighter than wugs."}}]}])
    monkeypatch.setenv("ICLFT_TEST_KEY", SECRET)
    try:
        out = ApiModel(stub.url, "m", "chat", "ICLFT_TEST_KEY").generate(
            ["Reverse it."], GenerationSettings(stop=["\n\n"])
        )
        assert out == [["Daxes are lighter than wugs."]]
        path, body, auth = stub.requests[0]
        assert path == "/v1/chat/completions" and body["messages"][0]["content"] == "Reverse it."
        assert auth == f"Bearer {SECRET}" and body["stop"] == ["\n\n"]
    finally:
        stub.close()


@pytest.mark.parametrize(
    "reply, what",
    [
        ("<html>oops</html>", "not JSON"),
        ({"choices": []}, "no choices"),
        ({"choices": [{"text": None}]}, "the text is NoneType"),
    ],
)
def test_malformed_replies_are_clear_errors(reply, what):
    stub = Stub([reply])
    try:
        with pytest.raises(UserError, match=f"malformed reply.*{what}"):
            ApiModel(stub.url, "m").generate(["x"], GenerationSettings())
    finally:
        stub.close()


def test_generations_made_before_a_bad_reply_stay_in_the_cache(tmp_path):
    stub = Stub([completion(" A."), completion(" B."), "garbage"])
    template = tmp_path / "t.txt"
    template.write_text("Again: {text}\n")
    generator = GeneratorConfig(kind="api", base_url=stub.url, api_model="m")
    cfg = AugmentConfig(method="local", generator=generator, local_template=str(template), batch_size=2)
    bench = make_benchmark("reversal", n_facts=3, docs_per_fact=1)
    try:
        with pytest.raises(UserError, match="malformed reply"):
            build_augmentations(bench, cfg, ModelConfig(name="unused"), None, tmp_path, seed=0, progress=False)
        assert len(list((tmp_path / "generations").glob("*.json"))) == 2
        stub.replies = [completion(" C.")]
        stub.requests = []
        result = build_augmentations(bench, cfg, ModelConfig(name="unused"), None, tmp_path, seed=0, progress=False)
        assert len(stub.requests) == 1 and result.accounting["from_cache"] == 2
    finally:
        stub.close()
