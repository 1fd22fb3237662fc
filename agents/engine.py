"""The one protocol every model backend speaks, and the factory that picks a backend.

Small on purpose: a chat call with an optional JSON schema, returning the text, token usage and
timings. Everything else (the RLM loop, compile, ask) is written against this, so a fake can
stand in for unit tests and an HTTP server can stand in for the in-process model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": "..."}


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # prompt tokens served from the KV cache (not recomputed)

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.cached_tokens + other.cached_tokens)


@dataclass
class Timings:
    prefill_s: float = 0.0  # time to the first generated token
    decode_s: float = 0.0  # time from the first to the last token
    total_s: float = 0.0

    @property
    def decode_tps(self) -> float:
        return 0.0 if self.decode_s <= 0 else self._decoded / self.decode_s

    _decoded: int = field(default=0, repr=False)


@dataclass
class Reply:
    text: str
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    finish_reason: str = "stop"  # stop | length
    model: str = ""

    def json(self) -> Any:
        """The reply parsed as JSON; an EngineError (not a traceback) when it is not."""
        import json

        from kb.core.errors import EngineError
        try:
            return json.loads(self.text)
        except json.JSONDecodeError as e:
            raise EngineError(f"model reply is not valid JSON ({e.msg} at char {e.pos})") from None


class Engine(Protocol):
    name: str

    def chat(self, messages: list[Message], *, json_schema: dict | None = None,
             max_tokens: int = 512, temperature: float = 0.2,
             stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply: ...


def make_engine(config, models_dir) -> Engine:
    """Build the backend named in config["model"]["engine"]."""
    from kb.core import models
    from kb.core.errors import ConfigError

    m = config["model"]
    kind = m["engine"]
    if kind == "llama_cpp":
        from kb.agents.llama_engine import LlamaEngine
        path = models.resolve(m["name"], models_dir)
        return LlamaEngine(path, n_ctx=m["n_ctx"], n_threads=m["n_threads"],
                           n_gpu_layers=m["n_gpu_layers"], repeat_penalty=m["repeat_penalty"])
    if kind == "openai":
        from kb.agents.openai_engine import OpenAIEngine
        o = config["openai"]
        return OpenAIEngine(o["base_url"], api_key=o["api_key"], model=o["model"] or m["name"],
                            timeout=o["timeout"], repeat_penalty=m["repeat_penalty"],
                            schema_format=o["schema_format"])
    if kind == "fake":
        raise ConfigError("the fake engine is for tests; it cannot be chosen in config")
    raise ConfigError(f"unknown engine {kind!r}")
