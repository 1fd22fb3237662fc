"""Progress events: what a running job tells a front end, one dataclass per kind.

This is the one schema. Jobs (compile, lint, finetune-data, finetune, watch) call their
`on_progress(event)` with these; front ends (kb/progress.py on a terminal, the TUI's Jobs tab)
pick what they show with `isinstance`. What an agent does step by step is a different stream, the
trace events of kb.agents.trace, written to `.kb/traces/` as well.

    Plan         compile    the sources this run will read, and what it leaves alone
    SourceStart  compile    a source is being read
    Tokens       compile    one model reply: its token counts and time
    SourceDone   compile    a source is read (`error`: why it could not be)
    Done         compile    the run's report
    Stage        lint, finetune    a named step begins
    PageDone     finetune-data     one page's pairs are done
    Step         finetune   one training step
    Queued       watch      a path waits in the queue
    BatchDone    watch      a compile batch ended (a watcher passes compile's own events through)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Plan:
    new: list[str]
    changed: list[str]
    unchanged: int
    removed: list[str]

    @property
    def work(self) -> int:
        return len(self.new) + len(self.changed)


@dataclass(frozen=True)
class SourceStart:
    path: str
    index: int  # sources started before this one
    total: int


@dataclass(frozen=True)
class Tokens:
    prompt: int
    completion: int
    seconds: float


@dataclass(frozen=True)
class SourceDone:
    path: str
    index: int  # sources done, this one included
    total: int
    error: str | None = None


@dataclass(frozen=True)
class Done:
    report: Any  # the job's report (kb.compile.job.Report)


@dataclass(frozen=True)
class Stage:
    name: str


@dataclass(frozen=True)
class PageDone:
    path: str
    index: int  # pages done, this one included
    total: int


@dataclass(frozen=True)
class Step:
    step: int
    total: int
    loss: float
    tokens_per_s: float


@dataclass(frozen=True)
class Queued:
    path: str
    pending: int


@dataclass(frozen=True)
class BatchDone:
    report: Any  # the batch's compile report
    pending: int


Event = Plan | SourceStart | Tokens | SourceDone | Done | Stage | PageDone | Step | Queued | BatchDone
OnProgress = Callable[[Event], None]


def ignore(event: Event) -> None:
    """The callback of a job nobody watches."""
