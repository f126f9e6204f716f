"""An OpenAI-compatible server as a generator (completions or chat endpoint), standard library only.

    ApiModel("http://127.0.0.1:8000/v1", "my-model", endpoint="completions", api_key_env="MY_KEY")

Only `generate` is offered: scoring needs per-token log-probabilities of given continuations,
which these endpoints do not reliably return. The API key is read from the named environment
variable when a request is sent; it is never stored in an attribute, a file, a log or an error.
Never put a key in `base_url` (as user:key@host or ?key=...): URLs end up in configs, run
folders and error lines. A base_url with credentials in it is refused.

Samples are requested one call each (seed = settings.seed + sample), since many servers ignore
`n`; up to `concurrency` requests are in flight at once (a thread pool), and results keep the
order of the prompts. Token counts are taken from the server's `usage` when it reports them,
else estimated.

Retries: a request that times out, loses its connection, or gets HTTP 408, 425, 429 or 5xx is
sent again up to `max_retries` times, after exponential backoff with jitter
(`backoff_s` x 2^attempt x [0.5, 1), at most `max_backoff_s`); a Retry-After header (seconds)
from the server is honoured. Other HTTP errors, refused connections and malformed replies
fail at once; every failure is one UserError line naming the server's URL.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from iclft.errors import UserError
from iclft.models.base import GenerationSettings, LanguageModel, OptionScore, ScoreRequest

CHARS_PER_TOKEN = 4  # estimate when a server reports no usage
RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
MAX_RETRY_AFTER_S = 300.0


class _Transient(Exception):
    """A failure worth retrying: `line` describes it, `retry_after` is the server's wish (s)."""

    def __init__(self, line: str, retry_after: float | None = None):
        super().__init__(line)
        self.line, self.retry_after = line, retry_after


class ApiModel(LanguageModel):
    def __init__(
        self,
        base_url: str,
        api_model: str,
        endpoint: str = "completions",
        api_key_env: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        concurrency: int = 4,
    ):
        if endpoint not in ("completions", "chat"):
            raise UserError(f"API endpoint '{endpoint}': expected completions or chat")
        _refuse_credentials(base_url)
        if max_retries < 0 or backoff_s < 0 or concurrency < 1:
            raise UserError("API settings: max_retries and backoff_s must be >= 0, concurrency >= 1")
        self.max_retries, self.backoff_s, self.max_backoff_s = max_retries, backoff_s, max_backoff_s
        self.concurrency = concurrency
        self._lock = threading.Lock()  # guards the usage counters across request threads
        self.base_url = base_url.rstrip("/")
        self.api_model = api_model  # the model name the server knows (a string, not a module)
        self.endpoint = endpoint
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self.name = f"{self.base_url}#{api_model}"
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}
        self._reported: dict[str, int] = {}  # text -> tokens, from the server's usage

    @property
    def url(self) -> str:
        return f"{self.base_url}/{'chat/completions' if self.endpoint == 'chat' else 'completions'}"

    def generate(self, prompts: list[str], settings: GenerationSettings) -> list[list[str]]:
        n = settings.num_samples
        tasks = [(p, settings.seed + k) for p in prompts for k in range(n)]
        if self.concurrency == 1 or len(tasks) <= 1:
            texts = [self._one(p, settings, seed) for p, seed in tasks]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(tasks))) as pool:
                texts = list(pool.map(lambda task: self._one(task[0], settings, task[1]), tasks))
        return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _one(self, prompt: str, settings: GenerationSettings, seed: int) -> str:
        body = {
            "model": self.api_model,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
            "seed": seed,
        }
        if settings.stop:
            body["stop"] = settings.stop[:4]  # the OpenAI API accepts at most 4
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        reply = self._post(body)
        text = self._text(reply)
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        with self._lock:
            for key in self.usage:
                self.usage[key] += int(usage.get(key) or 0)
            if usage.get("prompt_tokens"):
                self._reported[prompt] = int(usage["prompt_tokens"])
            if usage.get("completion_tokens"):
                self._reported[text] = int(usage["completion_tokens"])
        for stop in settings.stop:  # servers may ignore stop strings beyond their limit
            if stop and stop in text:
                text = text[: text.index(stop)]
        return text

    def _post(self, body: dict) -> dict:
        """POST `body`, retrying transient failures with backoff; the parsed JSON reply."""
        for attempt in range(self.max_retries + 1):
            try:
                return self._post_once(body)
            except _Transient as e:
                if attempt == self.max_retries:
                    tries = f"{attempt + 1} tries" if attempt else "1 try"
                    raise UserError(f"{e.line} (gave up after {tries})") from None
                time.sleep(self._delay(attempt, e.retry_after))
        raise AssertionError("unreachable")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)
        return max(backoff, min(retry_after, MAX_RETRY_AFTER_S)) if retry_after is not None else backoff

    def _post_once(self, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise UserError(f"augment.generator.api_key_env: environment variable {self.api_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(self.url, json.dumps(body).encode(), headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:200].decode("utf-8", "replace").replace("\n", " ")
            line = f"API server {self.url} answered HTTP {e.code}: {detail}"
            if e.code in RETRY_STATUS:
                raise _Transient(line, _retry_after(e.headers.get("Retry-After"))) from None
            raise UserError(line) from None
        except (TimeoutError, ConnectionResetError, http.client.RemoteDisconnected) as e:
            raise _Transient(f"API server {self.url} did not answer in time or dropped the connection ({e})") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            if isinstance(reason, (TimeoutError, socket.timeout, ConnectionResetError)):
                raise _Transient(f"API server {self.url} did not answer in time ({reason})") from None
            raise UserError(f"API server {self.url} unreachable ({reason})") from None
        try:
            reply = json.loads(raw)
        except json.JSONDecodeError:
            raise UserError(f"API server {self.url} sent a malformed reply (not JSON): {raw[:80]!r}") from None
        if not isinstance(reply, dict):
            raise UserError(f"API server {self.url} sent a malformed reply (not a JSON object)")
        return reply

    def _text(self, reply: dict) -> str:
        try:
            choice = reply["choices"][0]
            text = choice["message"]["content"] if self.endpoint == "chat" else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise UserError(
                f"API server {self.url} sent a malformed reply (no choices[0]."
                f"{'message.content' if self.endpoint == 'chat' else 'text'}): {str(reply)[:120]}"
            ) from None
        if not isinstance(text, str):
            raise UserError(f"API server {self.url} sent a malformed reply (the text is {type(text).__name__})")
        return text

    def count_tokens(self, text: str) -> int:
        return self._reported.get(text) or max(1, round(len(text) / CHARS_PER_TOKEN))

    @property
    def max_length(self) -> int:
        return 8192

    def encode_segments(self, segments: list[str]) -> list[list[int]]:
        raise UserError(f"model {self.name}: an API model only generates; it cannot be scored or fine-tuned")

    def score(self, requests: list[ScoreRequest], context: str = "", progress: bool = False) -> list[list[OptionScore]]:
        raise UserError(f"model {self.name}: an API model only generates; it cannot be scored or fine-tuned")


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (the HTTP-date form is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _refuse_credentials(base_url: str) -> None:
    parts = urllib.parse.urlsplit(base_url)
    query_keys = {k.lower() for k, _ in urllib.parse.parse_qsl(parts.query)}
    if parts.username or parts.password or query_keys & {"key", "api_key", "apikey", "token", "access_token"}:
        raise UserError(
            "augment.generator.base_url: holds credentials; put the key in an environment "
            "variable and name it in api_key_env (URLs are written to configs and logs)"
        )
