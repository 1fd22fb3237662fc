"""Trace events: the one schema of what an agent run reports, step by step.

Every event is a dataclass below. A run's events go to `.kb/traces/ID.jsonl` as one JSON line
each (`as_dict()`: `type` and `t` first, then the fields in the order declared here; a field
declared `optional` is left out of the line when it is None) and, as the objects themselves, to
an `on_event` callback: the CLI's `kb trace` renders them, the TUI's trace pane shows them live.
Consumers match on the class, never on a key or on printed text.

  start    a run begins: the task; an RLM run adds its variables, budget and prompt size, a
           one-prompt ask (rag, stuff) its mode
  llm      a root-model call: its reply and token counts; an RLM call adds cached tokens and the
           history size, a one-prompt ask the documents it read
  choice   the root model's typed first move (ask: lookup, compare, count, list, find_all) and
           its arguments, as kb will run it; `error` says why the model's reply was not taken
           as given (kb then ran its default)
  code     a cell about to run (`seeded`: written for the model, not by it)
  output   what the cell printed, its error or why it was killed, its time and tool calls
  subcall  an llm_query from inside the REPL; one of an llm_query_batched carries `batch` (the
           run's nth batch), `item` and `of` (its place in the batch)
  evidence the answer held to the text the run read: sentences left out, the names and numbers
           no text backed, the pages cited
  draft    the REPL's answer variable changed to this text (live only: never written, since the
           cell's output line before it already holds what the cell printed)
  note     a remark (older runs wrote them; shown by `kb trace show`)
  end      how the run ended: status, reason (RLM runs), answer and what it cost
  corrupt  a line of a trace file that does not parse (a run killed mid-write); made by `load`
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ClassVar

from kb.core.errors import KbError


def optional() -> Any:
    """A field a line carries only when it is set."""
    return field(default=None, metadata={"optional": True})


@dataclass(kw_only=True)
class Event:
    type: ClassVar[str] = ""
    live: ClassVar[bool] = False  # offered to on_event only, never written to the file
    t: float = 0.0  # seconds since the run began, set by Trace.emit

    def as_dict(self) -> dict:
        out: dict = {"type": self.type, "t": self.t}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "t" and not (f.metadata.get("optional") and value is None):
                out[f.name] = value
        return out


@dataclass(kw_only=True)
class Start(Event):
    type: ClassVar[str] = "start"
    task: str
    variables: dict | None = optional()  # name -> type and size (RLM)
    budget: dict | None = optional()  # (RLM)
    system_chars: int | None = optional()  # (RLM)
    mode: str | None = optional()  # rag | stuff


@dataclass(kw_only=True)
class Llm(Event):
    type: ClassVar[str] = "llm"
    iteration: int
    text: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int | None = optional()  # (RLM)
    seconds: float = 0.0
    history_chars: int | None = optional()  # (RLM)
    documents: list[str] | None = optional()  # the pages a one-prompt ask read


@dataclass(kw_only=True)
class Code(Event):
    type: ClassVar[str] = "code"
    iteration: int
    cell: int
    code: str
    seeded: bool | None = optional()


@dataclass(kw_only=True)
class Choice(Event):
    type: ClassVar[str] = "choice"
    action: str
    arguments: dict
    error: str | None = optional()


@dataclass(kw_only=True)
class Output(Event):
    type: ClassVar[str] = "output"
    iteration: int
    cell: int
    output: str
    error: str | None = None
    killed: str | None = None
    seconds: float = 0.0
    calls: int = 0


@dataclass(kw_only=True)
class SubCall(Event):
    type: ClassVar[str] = "subcall"
    fn: str
    input: str
    output: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    batch: int | None = optional()
    item: int | None = optional()
    of: int | None = optional()


@dataclass(kw_only=True)
class Evidence(Event):
    type: ClassVar[str] = "evidence"
    dropped: list  # sentences of the answer left out
    missing: list  # the names and numbers in them that no text read in this run holds
    cited: list  # the pages the kept sentences' names and numbers came from
    refused: bool = False  # nothing was left: the run answered "Not in the knowledge base."


@dataclass(kw_only=True)
class Draft(Event):
    type: ClassVar[str] = "draft"
    live: ClassVar[bool] = True
    answer: str


@dataclass(kw_only=True)
class Note(Event):
    type: ClassVar[str] = "note"
    text: str


@dataclass(kw_only=True)
class End(Event):
    type: ClassVar[str] = "end"
    status: str
    reason: str | None = optional()  # (RLM)
    answer: Any = None
    iterations: int = 0
    sub_calls: int = 0
    tokens: int = 0
    seconds: float = 0.0


@dataclass(kw_only=True)
class Corrupt(Event):
    type: ClassVar[str] = "corrupt"
    line: int

    def as_dict(self) -> dict:  # no time: nothing was read
        return {"type": self.type, "line": self.line}


@dataclass(kw_only=True)
class Other(Event):
    """A line this schema does not describe (another version wrote it): kept as it was read."""
    raw: dict

    def as_dict(self) -> dict:
        return self.raw


TYPES: dict[str, type[Event]] = {c.type: c for c in (Start, Llm, Choice, Code, Output, SubCall, Evidence,
                                                       Draft, Note, End, Corrupt)}


def from_dict(d: dict) -> Event:
    """An event from its JSON line: typed when it is exactly what this schema writes (so
    `from_dict(e.as_dict()) == e`), else kept as read, so every line a file holds is shown as is."""
    cls = TYPES.get(d.get("type")) if isinstance(d, dict) else None
    if cls is not None and not cls.live:
        try:
            event = cls(**{k: v for k, v in d.items() if k != "type"})
        except TypeError:  # a field missing or one this schema does not have
            pass
        else:
            if event.as_dict() == d:
                return event
    return Other(raw=d, t=_t(d))


def _t(d) -> float:
    t = d.get("t", 0) if isinstance(d, dict) else 0
    return t if isinstance(t, (int, float)) else 0.0


def new_id() -> str:
    # milliseconds in the id: `last` is the latest run even when several end in one second (kb eval)
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S%f")[:-3] + "-" + secrets.token_hex(3)


class Trace:
    def __init__(self, directory: Path | None, run_id: str | None = None,
                 on_event: Callable[[Event], None] | None = None):
        self.id = run_id or new_id()
        self.on_event = on_event
        self.t0 = time.monotonic()
        self._f = None
        self.path = None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self.path = directory / f"{self.id}.jsonl"
            self._f = open(self.path, "a", encoding="utf-8")

    def emit(self, event: Event) -> Event:
        event.t = round(time.monotonic() - self.t0, 3)
        if self._f and not event.live:
            self._f.write(json.dumps(event.as_dict(), ensure_ascii=False, default=str) + "\n")
            self._f.flush()
        if self.on_event:
            self.on_event(event)
        return event

    def close(self) -> None:
        if self._f:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()
            self._f = None


def load(directory: Path, run_id: str) -> list[Event]:
    if run_id == "last":
        runs = list_runs(directory)
        if not runs:
            raise KbError(f"no traces in {directory}")
        run_id = runs[-1]
    path = directory / f"{run_id}.jsonl"
    if not path.exists():
        matches = sorted(directory.glob(f"{run_id}*.jsonl"))
        if len(matches) != 1:
            raise KbError(f"no trace '{run_id}' in {directory} (see `kb trace list`)")
        path = matches[0]
    events: list[Event] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            events.append(from_dict(json.loads(line)))
        except json.JSONDecodeError:
            events.append(Corrupt(line=n))
    return events


def list_runs(directory: Path) -> list[str]:
    return sorted(p.stem for p in directory.glob("*.jsonl")) if directory.is_dir() else []


def clip(text: str, n: int) -> str:
    """At most n characters, and a note of how many were left out (for the model and for people)."""
    text = text or ""
    return text if len(text) <= n else text[:n] + f"\n... [{len(text) - n:,} more characters not shown]"


def render(events: list[Event], width: int = 2000) -> str:
    """A run as readable text: one block per step."""
    out = []
    for e in events:
        t = f"[{e.t:7.2f}s]"
        if isinstance(e, Start):
            out.append(f"{t} START {e.task!r}")
            out.append(f"           variables: {e.variables}")
            out.append(f"           budget: {e.budget}")
        elif isinstance(e, Llm):
            out.append(f"{t} ROOT MODEL call {e.iteration}: {e.prompt_tokens} prompt "
                       f"+ {e.completion_tokens} tokens in {e.seconds:.1f}s")
            out.append("    " + clip(e.text, width).replace("\n", "\n    "))
        elif isinstance(e, Choice):
            args = ", ".join(f"{k}={v!r}" for k, v in e.arguments.items() if v not in ("", [], None))
            out.append(f"{t} CHOICE {e.action}({args})")
            if e.error:
                out.append(f"           ({e.error})")
        elif isinstance(e, Code):
            out.append(f"{t} CELL {e.iteration}.{e.cell}" + (" (written by kb)" if e.seeded else ""))
            out.append("    >>> " + clip(e.code, width).replace("\n", "\n    ... "))
        elif isinstance(e, Output):
            status = e.killed or ("error" if e.error else "ok")
            out.append(f"{t} OUTPUT ({status}, {e.seconds:.2f}s)")
            body = (e.output or "") + (e.error or "") + (("\n" + e.killed) if e.killed else "")
            out.append("    " + clip(body, width).replace("\n", "\n    "))
        elif isinstance(e, SubCall):
            place = f" {e.item}/{e.of} of batch {e.batch}" if e.batch else ""
            out.append(f"{t} SUB-CALL {e.fn}{place}: {e.prompt_tokens} + {e.completion_tokens} tokens, "
                       f"{e.seconds:.1f}s")
            out.append("    in:  " + clip(str(e.input), 300).replace("\n", " "))
            out.append("    out: " + clip(str(e.output), 300).replace("\n", " "))
        elif isinstance(e, Evidence):
            verdict = "nothing held: refused" if e.refused else \
                f"{len(e.dropped)} sentence(s) left out" if e.dropped else "every name and number found"
            out.append(f"{t} EVIDENCE {verdict}; cites {', '.join(e.cited) or 'nothing'}")
            if e.missing:
                out.append(f"           not in any text read: {', '.join(map(str, e.missing))}")
            for d in e.dropped:
                out.append("    left out: " + clip(str(d), 300).replace("\n", " "))
        elif isinstance(e, Note):
            out.append(f"{t} NOTE {e.text}")
        elif isinstance(e, End):
            out.append(f"{t} END status={e.status} iterations={e.iterations} sub_calls={e.sub_calls} "
                       f"tokens={e.tokens} seconds={e.seconds:.1f}")
            if e.reason:
                out.append(f"           reason: {e.reason}")
            out.append("    ANSWER: " + clip(str(e.answer), width).replace("\n", "\n    "))
        else:
            d = e.as_dict()
            rest = {k: v for k, v in d.items() if k not in ("t", "type")}
            out.append(f"{t} {d.get('type')} {json.dumps(rest)[:300]}")
    return "\n".join(out)
