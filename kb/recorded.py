"""Every kb write ends in one commit: the jobs the API hands out, wrapped so that their writing
call (compile's run, lint's run, ask's file_back, finetune-data's run, each watcher batch) is
recorded in the vault's history (kb/core/history.py) with a message that says what it did.

The wrapping lives here, under the API, so every front end (CLI, TUI, MCP, watch) gets it and
no job knows about git. A job that fails part-way still commits what it wrote, saying so, so the
next job does not mistake kb's half-written files for a person's edits.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable

from kb.core.errors import HistoryError
from kb.core.history import Commit, History
from kb.core.manifest import Manifest
from kb.core.vault import Vault

Describe = Callable[[Any], tuple[str, list[str]]]
_LOCKS: dict[Path, threading.Lock] = {}  # one recorded write at a time per vault in this process
_LOCKS_GUARD = threading.Lock()


def vault_lock(root: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(root, threading.Lock())


class Recorder:
    """Runs a write and commits what it changed; `commits` collects what was committed, for a
    front end to show (and a person to see when their own edits went in with kb's)."""

    def __init__(self, vault: Vault, history: History | None):
        self.vault = vault
        self.history = history
        self.commits: list[Commit] = []

    def around(self, job: str, run: Callable[[], Any], describe: Describe) -> Any:
        h = self.history
        if h is None:
            return run()
        with vault_lock(h.root):
            started = h.start()
            if started:
                self.commits.append(started)
            before = h.dirty()
            try:
                result = run()
            except BaseException as e:
                try:
                    self._keep(h.record(before, job, f"{job}: stopped by an error",
                                        [str(e).splitlines()[0] if str(e) else type(e).__name__]))
                except HistoryError:
                    pass  # the job's own error is the one to report
                raise
            subject, body = describe(result)
            self._keep(h.record(before, job, subject, body))
        return result

    def _keep(self, commit: Commit | None) -> None:
        if commit is not None:
            self.commits.append(commit)

    def take(self) -> list[Commit]:
        out, self.commits = self.commits, []
        return out


class Recorded:
    """A job whose writing method is recorded; every other attribute is the job's own."""

    def __init__(self, job: Any, method: str, run: Callable[..., Any]):
        object.__setattr__(self, "_job", job)
        object.__setattr__(self, "_method", method)
        object.__setattr__(self, "_run", run)

    def __getattr__(self, name: str) -> Any:
        if name == self._method:
            return self._run
        return getattr(self._job, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._job, name, value)

    @property
    def job(self) -> Any:
        """The job itself, unwrapped."""
        return self._job


# -- what each job says it did --------------------------------------------------------------

def compile_message(before: set[str]) -> Describe:
    """`before`: the sources the manifest knew before the run, to tell new from changed."""
    def describe(report) -> tuple[str, list[str]]:
        new = [r for r in report.compiled if r not in before]
        changed = [r for r in report.compiled if r in before]
        failed = {r: why for r, why in report.failed.items() if r not in report.unchanged}
        parts = [f"{len(v)} {w}" for v, w in ((new, "new"), (changed, "changed"), (report.removed, "removed"),
                                                (failed, "failed")) if v]
        body = ([f"new: {r}" for r in new] + [f"changed: {r}" for r in changed]
                + [f"removed: {r}" for r in report.removed] + [f"failed: {r} ({why})" for r, why in failed.items()]
                + [f"conflict: {c}" for c in report.conflicts])
        return "compile: " + (", ".join(parts) or "index refreshed"), body
    return describe


def compile_run(recorder: Recorder, job) -> Callable[..., Any]:
    def run(*args, dry_run: bool = False, **kwargs):
        if dry_run:
            return job.run(*args, dry_run=True, **kwargs)
        before = set(Manifest.load(job.vault).sources)
        return recorder.around("compile", lambda: job.run(*args, **kwargs), compile_message(before))
    return run


def lint_run(recorder: Recorder, job) -> Callable[..., Any]:
    def describe(report) -> tuple[str, list[str]]:
        fixed = getattr(report, "fixed", []) or []
        subject = f"lint --fix: {len(fixed)} repair{'s' if len(fixed) != 1 else ''}" if fixed else "lint: report"
        report_page = getattr(report, "report_page", None)
        return subject, [*fixed, *([f"report: {report_page}"] if report_page else [])]

    def run(*args, fix: bool = False, write_report: bool = True, **kwargs):
        if not fix and not write_report:  # reads only: no repository is started for it
            return job.run(*args, fix=fix, write_report=write_report, **kwargs)
        return recorder.around("lint", lambda: job.run(*args, fix=fix, write_report=write_report, **kwargs),
                               describe)
    return run


def ask_file_back(recorder: Recorder, job) -> Callable[..., Any]:
    def file_back(question: str, ans, fmt: str = "md", *args, **kwargs):
        short = " ".join(question.split())
        short = short if len(short) <= 72 else short[:71] + "…"
        return recorder.around("ask", lambda: job.file_back(question, ans, fmt, *args, **kwargs),
                               lambda saved: (f"ask --save: {short}", [f"saved: {saved[0]}", f"format: {fmt}"]))
    return file_back


def finetune_data_run(recorder: Recorder, job) -> Callable[..., Any]:
    def describe(report) -> tuple[str, list[str]]:
        return (f"finetune-data: card, {report.train} train / {report.validation} validation pairs",
                [f"pages read: {report.pages}", "card: wiki/reports/finetune-data.md"])
    return lambda *a, **kw: recorder.around("finetune-data", lambda: job.run(*a, **kw), describe)


def watch_batch(recorder: Recorder, vault: Vault, log: Callable[[str], None] | None) -> Callable[[Callable], Any]:
    """What the watcher calls around each batch's compile: one commit per batch."""
    def record(run: Callable[[], Any]):
        before = set(Manifest.load(vault).sources)
        report = recorder.around("compile", run, compile_message(before))
        for c in recorder.take():
            if log:
                log(f"history: {c.short} {c.subject}")
        return report
    return record
