"""`kb trace`: the agent runs a vault has recorded, and how each one ended.

A run's status is its `end` event's; a run with no `end` (killed, or still going) is
`unfinished`. Decided here so every front end lists runs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kb.agents import trace
from kb.core.vault import Vault


@dataclass
class RunSummary:
    id: str
    status: str  # the end event's status (final, budget, ...) or "unfinished"
    task: str


def trace_dir(vault: Vault) -> Path:
    return vault.state_dir / "traces"


def events(vault: Vault, run_id: str) -> list[trace.Event]:
    """One run's events; `run_id` may be a prefix or `last`."""
    return trace.load(trace_dir(vault), run_id)


def summarize(run_id: str, run_events: list[trace.Event]) -> RunSummary:
    end = next((e for e in reversed(run_events) if isinstance(e, trace.End)), None)
    start = next((e for e in run_events if isinstance(e, trace.Start)), None)
    return RunSummary(run_id, str(end.status) if end else "unfinished", str(start.task) if start else "")


def runs(vault: Vault) -> list[RunSummary]:
    """Every recorded run, oldest first."""
    tdir = trace_dir(vault)
    return [summarize(run_id, trace.load(tdir, run_id)) for run_id in trace.list_runs(tdir)]
