"""Compile progress for a terminal: a rich progress bar with sources done/total, tokens/s and
ETA while it runs, then a report. On a non-terminal it prints one plain line per source."""

from __future__ import annotations

import sys
import time

from kb.core import events


class CompileProgress:
    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self.tokens = 0
        self.t0 = time.monotonic()
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.tty:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("{task.fields[tps]:>6.1f} tok/s"), TimeElapsedColumn(),
                                      TextColumn("ETA"), TimeRemainingColumn(),
                                      console=Console(file=self.stream), transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress:
            self._progress.__exit__(*exc)

    def _print(self, line: str) -> None:
        if self.enabled and not self.tty:
            print(line, file=self.stream, flush=True)

    def event(self, e: events.Event) -> None:
        if isinstance(e, events.Plan):
            self._print(f"compile: {len(e.new)} new, {len(e.changed)} changed, "
                        f"{e.unchanged} unchanged, {len(e.removed)} removed")
            if self._progress:
                self._task = self._progress.add_task("compiling", total=max(e.work, 1), tps=0.0)
                if e.work == 0:
                    self._progress.update(self._task, completed=1, description="up to date")
        elif isinstance(e, events.Tokens):
            self.tokens += e.completion
            if self._progress and self._task is not None:
                tps = self.tokens / max(1e-6, time.monotonic() - self.t0)
                self._progress.update(self._task, tps=tps)
        elif isinstance(e, events.SourceStart) and self._progress and self._task is not None:
            self._progress.update(self._task, description=f"{e.path[:40]:<40}")
        elif isinstance(e, events.SourceDone):
            status = f"FAILED: {e.error}" if e.error else "ok"
            self._print(f"[{e.index}/{e.total}] {e.path}: {status}")
            if self._progress and self._task is not None:
                self._progress.update(self._task, completed=e.index)

    def summary(self, report, dry_run: bool = False) -> None:
        w = lambda s: print(s, flush=True)  # noqa: E731
        if dry_run:
            w(f"would compile {len(report.compiled)} source(s), remove {len(report.removed)}, "
              f"leave {len(report.unchanged)} unchanged")
            for p in report.compiled:
                w(f"  compile  {p}")
            for p in report.removed:
                w(f"  remove   {p}")
            return
        w(f"compiled {len(report.compiled)}, unchanged {len(report.unchanged)}, removed {len(report.removed)}, "
          f"failed {len(report.failed)}; {report.model_calls} model calls, "
          f"{report.prompt_tokens} prompt + {report.completion_tokens} completion tokens in {report.seconds:.1f}s")
        gate = getattr(report, "gate", None)
        if gate and any(gate.values()):
            w(f"  gate     model sentences: {gate['kept']} kept, {gate['dropped']} dropped, "
              f"{gate['replaced']} replaced by the source's own")
        for note in getattr(report, "notes", ()):  # derived state found broken and rebuilt
            print(f"kb: warning: {note}", file=sys.stderr, flush=True)
        for path, err in sorted(report.failed.items()):  # one line each on stderr, naming the file
            print(f"kb: failed: {err}" if err.startswith(path) else f"kb: failed: {path}: {err}",
                  file=sys.stderr, flush=True)
        for c in report.conflicts:
            w(f"  conflict {c}")


class TrainProgress:
    """Finetuning progress: steps done/total, loss and tokens/s (rich on a terminal, lines otherwise)."""

    def __init__(self, enabled: bool = True, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and self.stream.isatty()
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("loss {task.fields[loss]:.3f}"),
                                      TextColumn("{task.fields[tps]:>6.0f} tok/s"), TimeElapsedColumn(),
                                      console=Console(file=self.stream))
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress:
            self._progress.__exit__(*exc)

    def event(self, e: events.Event) -> None:
        if not self.enabled:
            return
        if isinstance(e, events.Stage):
            if self._progress:
                self._progress.console.print(e.name)
            else:
                print(e.name, file=self.stream, flush=True)
        elif isinstance(e, events.Step):
            if self._progress:
                if self._task is None:
                    self._task = self._progress.add_task("training", total=e.total, loss=0.0, tps=0.0)
                self._progress.update(self._task, completed=e.step, loss=e.loss, tps=e.tokens_per_s)
            elif e.step % 10 == 0 or e.step == e.total:
                print(f"step {e.step}/{e.total} loss {e.loss:.3f} {e.tokens_per_s:.0f} tok/s",
                      file=self.stream, flush=True)
