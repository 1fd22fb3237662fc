"""The TUI's Jobs tab: compile, lint, reindex and the watcher, each in a thread worker.

Every job is the one the API builds (the same class the CLI runs); its progress comes back
through `call_from_thread`, and what it wrote (the paths its report names) goes to the app's
link graph, so the tree and the health counters follow without reading the vault again.
"""

from __future__ import annotations

import time

from textual import work
from textual.widgets import Label, ProgressBar, RichLog, TabbedContent

from kb.core import events


def written(report) -> list[str]:
    """The vault paths a compile report says were written or removed (log.md gets a line too)."""
    return [*report.written, *report.deleted, "log.md"]


class Jobs:
    """Mixed into KbApp: the job actions, their workers, their log and progress bar."""

    def _job_log(self, line: str, style: str = "") -> None:
        """A job's line as it is (paths and messages can hold brackets), stamped with the time."""
        from rich.text import Text
        self.query_one("#job-log", RichLog).write(Text(f"{time.strftime('%H:%M:%S')} {line}", style=style))

    def _progress(self, done: int, total: int, label: str) -> None:
        self.query_one("#job-progress", ProgressBar).update(total=max(total, 1), progress=done)
        self.query_one("#job-label", Label).update(label)

    def action_compile(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"
        self.run_compile()

    @work(exclusive=True, group="compile", thread=True, exit_on_error=False)
    def run_compile(self) -> None:
        state = {"total": 0, "done": 0, "tokens": 0, "t0": time.monotonic()}

        def event(e: events.Event) -> None:
            if isinstance(e, events.Plan):
                state["total"] = e.work
                self.call_from_thread(self._job_log, f"compile: {len(e.new)} new, {len(e.changed)} changed, "
                                      f"{len(e.removed)} removed")
            elif isinstance(e, events.Tokens):
                state["tokens"] += e.completion
                self.tps = state["tokens"] / max(1e-6, time.monotonic() - state["t0"])
            elif isinstance(e, events.SourceDone):
                state["done"] = e.index
                self.call_from_thread(self._job_log, f"{e.path}: {e.error or 'ok'}")
            if isinstance(e, (events.Plan, events.SourceDone, events.Tokens)):
                tps = f", {self.tps:.1f} tok/s" if self.tps else ""
                self.call_from_thread(self._progress, state["done"], state["total"],
                                      f"compile {state['done']}/{state['total']}{tps}")

        report = self.kb.compile(on_progress=event).run()
        total = max(state["total"], 1)
        self.call_from_thread(self._progress, total, total,
                              f"compile done: {len(report.compiled)} compiled, {len(report.failed)} failed")
        self.after_job(written(report))

    def action_lint(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"
        self.run_lint()

    @work(exclusive=True, group="lint", thread=True, exit_on_error=False)
    def run_lint(self) -> None:
        from kb.lint.report import summary_lines
        self.call_from_thread(self._progress, 0, 1, "lint: structural checks")
        report = self.kb.lint(model_checks=False).run()
        for line in summary_lines(report):
            self.call_from_thread(self._job_log, line)
        self.call_from_thread(self._progress, 1, 1, f"lint done: {report.errors} errors")
        self.after_job([report.report_page] if report.report_page else [])

    def action_reindex(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"
        self.run_reindex()

    @work(exclusive=True, group="reindex", thread=True, exit_on_error=False)
    def run_reindex(self) -> None:
        self.call_from_thread(self._progress, 0, 1, "reindex: building")
        stats = self.kb.reindex()
        self.call_from_thread(self._job_log, f"reindex: {stats['documents']} documents in the search index")
        self.call_from_thread(self._progress, 1, 1, "reindex done")

    def action_watch(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
            self._job_log("watcher stopped (queue kept)")
            return
        self.query_one(TabbedContent).active = "jobs-tab"
        self.run_watch()

    @work(exclusive=True, group="watch", thread=True, exit_on_error=False)
    def run_watch(self) -> None:
        def event(e: events.Event) -> None:
            if isinstance(e, (events.Queued, events.BatchDone)):
                self.call_from_thread(self.query_one("#watch-label", Label).update,
                                      f"watch queue: {e.pending} pending")
            if isinstance(e, events.BatchDone):
                self.after_job(written(e.report))

        self.watcher = self.kb.watcher(on_log=lambda line: self.call_from_thread(self._job_log, "watch: " + line),
                                       on_progress=event)
        self.watcher.start()
        self.watcher.run()
