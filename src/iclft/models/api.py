"""An OpenAI-compatible server as a generator (completions or chat endpoint), standard library only.

    ApiModel("http://127.0.0.1:8000/v1", "my-model", endpoint="completions", api_key_env="MY_KEY")

Only `generate` is offered: scoring needs per-token log-probabilities of given continuations,
which these endpoints do not reliably return. The API key is read from the named environment
variable when a request is sent; it is never stored in an attribute, a file, a log or an error.
Samples are requested one call each (seed = settings.seed + sample), since many servers ignore
`n`. Token counts are taken from the server's `usage` when it reports them, else estimated.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from iclft.errors import UserError
from iclft.models.base import GenerationSettings, LanguageModel, OptionScore, ScoreRequest

CHARS_PER_TOKEN = 4  # estimate when a server reports no usage


class ApiModel(LanguageModel):
    def __init__(self, base_url: str, api_model: str, endpoint: str = "completions", api_key_env: str | None = None,
                 timeout_s: float = 120.0):
        if endpoint not in ("completions", "chat"):
            raise UserError(f"API endpoint '{endpoint}': expected completions or chat")
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
        return [[self._one(p, settings, settings.seed + k) for k in range(settings.num_samples)] for p in prompts]

    def _one(self, prompt: str, settings: GenerationSettings, seed: int) -> str:
        body = {"model": self.api_model, "max_tokens": settings.max_new_tokens, "temperature": settings.temperature,
                "top_p": settings.top_p, "seed": seed}
        if settings.stop:
            body["stop"] = settings.stop[:4]  # the OpenAI API accepts at most 4
        if self.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": prompt}]
        else:
            body["prompt"] = prompt
        reply = self._post(body)
        text = self._text(reply)
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
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
            raise UserError(f"API server {self.url} answered HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
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
            raise UserError(f"API server {self.url} sent a malformed reply (no choices[0]."
                            f"{'message.content' if self.endpoint == 'chat' else 'text'}): {str(reply)[:120]}") from None
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
