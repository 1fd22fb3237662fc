"""Trace events: every step of an agent run as one JSON line in `.kb/traces/ID.jsonl`, and
offered to a callback (the CLI prints them, the TUI renders them live)."""

from __future__ import annotations

import json
import os
import secrets
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from kb.core.errors import KbError

Event = dict


def new_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


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

    def emit(self, type_: str, **data) -> Event:
        event = {"type": type_, "t": round(time.monotonic() - self.t0, 3), **data}
        if self._f:
            self._f.write(json.dumps(event, ensure_ascii=False, default=str) + "\n")
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
    events = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            events.append({"type": "corrupt", "line": n})  # a run killed mid-write
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
        t = f"[{e.get('t', 0):7.2f}s]"
        kind = e.get("type")
        if kind == "start":
            out.append(f"{t} START {e.get('task', '')!r}")
            out.append(f"           variables: {e.get('variables')}")
            out.append(f"           budget: {e.get('budget')}")
        elif kind == "llm":
            out.append(f"{t} ROOT MODEL call {e.get('iteration')}: {e.get('prompt_tokens')} prompt "
                       f"+ {e.get('completion_tokens')} tokens in {e.get('seconds', 0):.1f}s")
            out.append("    " + clip(e.get("text", ""), width).replace("\n", "\n    "))
        elif kind == "code":
            out.append(f"{t} CELL {e.get('iteration')}.{e.get('cell')}")
            out.append("    >>> " + clip(e.get("code", ""), width).replace("\n", "\n    ... "))
        elif kind == "output":
            status = e.get("killed") or ("error" if e.get("error") else "ok")
            out.append(f"{t} OUTPUT ({status}, {e.get('seconds', 0):.2f}s)")
            body = (e.get("output") or "") + (e.get("error") or "") + (
                ("\n" + e["killed"]) if e.get("killed") else "")
            out.append("    " + clip(body, width).replace("\n", "\n    "))
        elif kind == "subcall":
            out.append(f"{t} SUB-CALL {e.get('fn')}: {e.get('prompt_tokens', 0)} + "
                       f"{e.get('completion_tokens', 0)} tokens, {e.get('seconds', 0):.1f}s")
            out.append("    in:  " + clip(str(e.get("input", "")), 300).replace("\n", " "))
            out.append("    out: " + clip(str(e.get("output", "")), 300).replace("\n", " "))
        elif kind == "note":
            out.append(f"{t} NOTE {e.get('text')}")
        elif kind == "end":
            out.append(f"{t} END status={e.get('status')} iterations={e.get('iterations')} "
                       f"sub_calls={e.get('sub_calls')} tokens={e.get('tokens')} "
                       f"seconds={e.get('seconds', 0):.1f}")
            if e.get("reason"):
                out.append(f"           reason: {e['reason']}")
            out.append("    ANSWER: " + clip(str(e.get("answer")), width).replace("\n", "\n    "))
        else:
            out.append(f"{t} {kind} {json.dumps({k: v for k, v in e.items() if k not in ('t', 'type')})[:300]}")
    return "\n".join(out)
