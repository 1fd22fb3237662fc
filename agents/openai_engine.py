"""Any OpenAI-compatible chat server: llama.cpp's server, vLLM, Ollama. How a user scales past
one machine: run the model where the GPU is, point kb's `openai.base_url` at it.

Plain urllib so the backend adds no dependency. JSON schemas are sent the way the server
understands them: llama.cpp (C++ and Python servers) take `{"type": "json_object", "schema": S}`,
OpenAI/vLLM/Ollama take `{"type": "json_schema", ...}` (config `openai.schema_format`).
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Callable

from kb.agents.engine import Message, Reply, Timings, Usage
from kb.core.errors import EngineError


class OpenAIEngine:
    name = "openai"
    # chat() may be called from several threads at once (urllib, no shared state): a server with
    # several slots serves them side by side, so `kb compile --jobs N` keeps N in flight
    concurrent = True

    def __init__(self, base_url: str, *, api_key: str = "", model: str = "", timeout: float = 600.0,
                 repeat_penalty: float = 1.1, schema_format: str = "json_object", max_tokens: int = 512,
                 temperature: float = 0.2):
        self.base_url = base_url.rstrip("/")
        self.max_tokens, self.temperature = max_tokens, temperature  # for calls that pass none
        self.api_key = api_key
        self.model = model
        self.timeout = timeout
        self.repeat_penalty = repeat_penalty
        self.schema_format = schema_format

    def _post(self, path: str, payload: dict):
        req = urllib.request.Request(self.base_url + path, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        if self.api_key:
            req.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            return urllib.request.urlopen(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            detail = e.read(500).decode("utf-8", "replace").strip().replace("\n", " ")
            raise EngineError(f"{self.base_url}{path}: HTTP {e.code}: {detail[:300]}") from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise EngineError(f"cannot reach the model server at {self.base_url}: {reason}") from None

    def chat(self, messages: list[Message], *, json_schema: dict | None = None,
             max_tokens: int | None = None, temperature: float | None = None,
             stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply:
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        temperature = self.temperature if temperature is None else temperature
        payload: dict = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature,
                         "repeat_penalty": self.repeat_penalty}
        if self.model:
            payload["model"] = self.model
        if stop:
            payload["stop"] = stop
        if json_schema is not None:
            if self.schema_format == "json_schema":
                payload["response_format"] = {"type": "json_schema", "json_schema":
                                              {"name": "reply", "schema": json_schema, "strict": True}}
            else:
                payload["response_format"] = {"type": "json_object", "schema": json_schema}
        t0 = time.perf_counter()
        if on_token is None:
            with self._post("/chat/completions", payload) as resp:
                data = _read_json(resp, self.base_url)
            try:
                choice = data["choices"][0]
                text = choice["message"].get("content") or ""
            except (KeyError, IndexError, TypeError):
                raise EngineError(f"{self.base_url}: reply has no choices[0].message") from None
            u = data.get("usage") or {}
            total = time.perf_counter() - t0
            return Reply(text=text, finish_reason=choice.get("finish_reason") or "stop",
                         model=data.get("model", self.model),
                         usage=Usage(int(u.get("prompt_tokens", 0)), int(u.get("completion_tokens", 0)),
                                     int((u.get("prompt_tokens_details") or {}).get("cached_tokens", 0))),
                         timings=Timings(total_s=total, _decoded=int(u.get("completion_tokens", 0))))
        return self._stream(payload, on_token, t0)

    def _stream(self, payload: dict, on_token: Callable[[str], None], t0: float) -> Reply:
        payload = dict(payload, stream=True, stream_options={"include_usage": True})
        parts, first, finish, usage = [], None, "stop", {}
        with self._post("/chat/completions", payload) as resp:
            for raw in resp:
                line = raw.decode("utf-8", "replace").strip()
                if not line.startswith("data:"):
                    continue
                body = line[5:].strip()
                if body == "[DONE]":
                    break
                try:
                    chunk = json.loads(body)
                except json.JSONDecodeError:
                    continue
                usage = chunk.get("usage") or usage
                for choice in chunk.get("choices") or ():
                    delta = (choice.get("delta") or {}).get("content")
                    if delta:
                        first = first or time.perf_counter()
                        parts.append(delta)
                        on_token(delta)
                    finish = choice.get("finish_reason") or finish
        end = time.perf_counter()
        first = first or end
        n_out = int(usage.get("completion_tokens", len(parts)))
        return Reply(text="".join(parts), finish_reason=finish, model=self.model,
                     usage=Usage(int(usage.get("prompt_tokens", 0)), n_out),
                     timings=Timings(prefill_s=first - t0, decode_s=end - first, total_s=end - t0,
                                     _decoded=n_out))


def from_config(config, models_dir) -> OpenAIEngine:
    """The `openai` backend as config describes it (registered in kb.agents.engine)."""
    m, o = config["model"], config["openai"]
    return OpenAIEngine(o["base_url"], api_key=o["api_key"], model=o["model"] or m["name"],
                        timeout=o["timeout"], repeat_penalty=m["repeat_penalty"],
                        schema_format=o["schema_format"], max_tokens=m["max_tokens"],
                        temperature=m["temperature"])


def _read_json(resp, where: str) -> dict:
    raw = resp.read()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise EngineError(f"{where}: reply is not JSON: {raw[:120]!r}") from None
    if not isinstance(data, dict):
        raise EngineError(f"{where}: reply is not a JSON object")
    return data
