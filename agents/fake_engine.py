"""A scripted engine for unit tests of loop logic. Never a stand-in for end-to-end tests."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from kb.agents.engine import Message, Reply, Timings, Usage
from kb.core.errors import EngineError

Script = str | Callable[[list[Message]], str]


class FakeEngine:
    """Replies from a script, in order. Running out is an error, loudly: a test whose code made
    more model calls than it planned for must fail, not get an empty string."""

    name = "fake"

    def __init__(self, script: list[Script], *, max_tokens: int = 512, temperature: float = 0.2):
        self.script = list(script)
        self.calls: list[dict] = []
        self.max_tokens, self.temperature = max_tokens, temperature  # for calls that pass none

    def chat(self, messages: list[Message], *, json_schema: dict | None = None,
             max_tokens: int | None = None, temperature: float | None = None,
             stop: list[str] | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply:
        n = len(self.calls)
        self.calls.append({"messages": [dict(m) for m in messages], "json_schema": json_schema,
                           "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
                           "temperature": self.temperature if temperature is None else temperature,
                           "stop": stop})
        if n >= len(self.script):
            raise EngineError(f"fake engine script exhausted: call {n + 1} but only "
                              f"{len(self.script)} replies scripted")
        item = self.script[n]
        text = item(messages) if callable(item) else item
        if on_token:
            on_token(text)
        prompt = sum(len(m["content"].split()) for m in messages)
        out = len(text.split())
        return Reply(text=text, usage=Usage(prompt, out), timings=Timings(_decoded=out), model="fake")

    @property
    def remaining(self) -> int:
        return len(self.script) - len(self.calls)


_SCRIPTS: list[tuple[list[Script], list[FakeEngine]]] = []


@contextmanager
def scripted(script: list[Script]) -> Iterator[list[FakeEngine]]:
    """For tests: while open, a config naming the `fake` engine builds FakeEngines that play
    `script`, with config's defaults; yields the engines built, to look at their calls."""
    built: list[FakeEngine] = []
    _SCRIPTS.append((list(script), built))
    try:
        yield built
    finally:
        _SCRIPTS.pop()


def from_config(config, models_dir) -> FakeEngine:
    """The `fake` backend, registered like every other; a script cannot come from a config
    file, so outside `scripted()` choosing it is an error."""
    from kb.core.errors import ConfigError
    if not _SCRIPTS:
        raise ConfigError("the fake engine is for tests; it cannot be chosen in config")
    script, built = _SCRIPTS[-1]
    m = config["model"]
    built.append(FakeEngine(script, max_tokens=m["max_tokens"], temperature=m["temperature"]))
    return built[-1]
