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
    """`max_tokens` and `temperature` left as None take the engine's defaults, which come from
    config (`model.max_tokens`, `model.temperature`); every call kb makes itself passes both.

    An engine whose chat() may be called from several threads at once, and that serves those
    calls side by side (a server), says so with a class attribute `concurrent = True`; compile's
    `jobs` setting is used only then. Without it, calls are made one at a time."""

    name: str

    def chat(self, messages: list[Message], *, json_schema: dict | None = None,
             max_tokens: int | None = None, temperature: float | None = None,
             stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply: ...


# The backends, by name. Built-in ones register here exactly as a third-party one would: a
# factory taking (config, models_dir); the module behind it is imported only when it is chosen.
Factory = Callable[[Any, Any], Engine]
_REGISTRY: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> Factory | None:
    """Make `name` a backend `model.engine` can pick. Returns what it replaced (tests put it back)."""
    old = _REGISTRY.get(name)
    _REGISTRY[name] = factory
    return old


def registered() -> list[str]:
    return sorted(_REGISTRY)


def make_engine(config, models_dir) -> Engine:
    """The one place a backend is picked: the factory registered under config["model"]["engine"]."""
    from kb.core.errors import ConfigError

    kind = config["model"]["engine"]
    factory = _REGISTRY.get(kind)
    if factory is None:
        raise ConfigError(f"unknown engine {kind!r}")
    return factory(config, models_dir)


def _llama_cpp(config, models_dir) -> Engine:
    from kb.agents.llama_engine import from_config
    return from_config(config, models_dir)


def _openai(config, models_dir) -> Engine:
    from kb.agents.openai_engine import from_config
    return from_config(config, models_dir)


def _fake(config, models_dir) -> Engine:
    from kb.agents.fake_engine import from_config
    return from_config(config, models_dir)


register("llama_cpp", _llama_cpp)
register("openai", _openai)
register("fake", _fake)
