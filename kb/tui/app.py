"""`kb tui`: one screen to read, search, ask and run the jobs.

Long work (compile, lint, reindex, the watcher, asking) runs in thread workers and reports back
through `call_from_thread`, so the interface never blocks. A KbError in a worker becomes a
notification; the app does not crash on what a user can act on.
"""

from __future__ import annotations

import time

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import (Footer, Input, Label, ListItem, ListView, Markdown, ProgressBar, RichLog,
                             TabbedContent, TabPane)
from textual.worker import Worker, WorkerState

from kb.api import Kb
from kb.core import events, markdown
from kb.core.errors import KbError
from kb.core.links import LinkIndex
from kb.tui.help import HelpScreen
from kb.tui.widgets import PageView, StatusBar, TraceView, VaultTree, link_targets


class KbApp(App):
    CSS_PATH = "app.tcss"
    TITLE = "kb"
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "search", "Search"),
        Binding("a", "ask", "Ask"),
        Binding("c", "compile", "Compile"),
        Binding("l", "lint", "Lint"),
        Binding("i", "reindex", "Reindex"),
        Binding("w", "watch", "Watch"),
        Binding("p", "page", "Page"),
        Binding("j", "jobs", "Jobs"),
        Binding("backspace", "back", "Back", show=False),
    ]

    def __init__(self, kb: Kb, ask_mode: str = "rlm"):
        super().__init__()
        # Every job comes from the API; one model serves every worker, one call at a time (an
        # ask during a compile waits its turn instead of entering llama.cpp from two threads).
        self.kb = kb.sharing_one_engine()
        self.vault = kb.vault
        self.model_name = kb.model_name or "(none)"
        self.ask_mode = ask_mode
        self.history: list[str] = []
        self.current: str | None = None
        self.tps: float | None = None
        self.health = "health: checking"
        self.watcher = None
        self.busy: set[str] = set()

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield VaultTree(self.vault.root.name, id="tree")
            with TabbedContent(id="tabs", initial="page-tab"):
                with TabPane("Page", id="page-tab"):
                    yield PageView(id="page")
                with TabPane("Search", id="search-tab"):
                    yield Input(placeholder="search the vault as you type", id="search-input")
                    yield ListView(id="search-results")
                with TabPane("Ask", id="ask-tab"):
                    yield Input(placeholder="ask a question and press Enter", id="ask-input")
                    with Horizontal(id="ask-panes"):
                        yield Markdown("", id="answer", open_links=False)
                        yield TraceView(id="trace", wrap=True, markup=True)
                with TabPane("Jobs", id="jobs-tab"):
                    yield Label("No job running. c: compile · l: lint · i: reindex · w: watch raw/", id="job-label")
                    yield ProgressBar(id="job-progress", show_eta=False)
                    yield Label("", id="watch-label")
                    yield RichLog(id="job-log", wrap=True, markup=True)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_tree()
        self.update_status()
        self.check_health()
        try:
            self.vault.read("index.md")
            self.call_after_refresh(self.open_page, "index.md")
        except KbError:
            pass

    # -- pages ------------------------------------------------------------------------------
    def refresh_tree(self) -> None:
        self.query_one(VaultTree).show(self.vault.files())

    @work(exclusive=True, group="page", exit_on_error=False)
    async def open_page(self, path: str, remember: bool = True) -> None:
        try:
            text = self.vault.abspath(path).read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            self.notify(f"{path}: {e.strerror}", severity="error")
            return
        _, body = markdown.split_frontmatter(text, where=path) if path.endswith(".md") else ({}, text)
        index = LinkIndex(self.vault.files())
        links = link_targets(markdown.parse(body).links, lambda t: index.resolve(t, path)) if path.endswith(".md") else []
        backlinks = sorted(self.vault.graph().inbound(path))
        if remember and self.current and self.current != path:
            self.history.append(self.current)
        self.current = path
        await self.query_one(PageView).show(path, body, links, backlinks)
        self.query_one(TabbedContent).active = "page-tab"

    def resolve(self, target: str) -> str | None:
        return LinkIndex(self.vault.files()).resolve(target, self.current or "")

    @on(VaultTree.NodeSelected)
    def _tree_selected(self, event: VaultTree.NodeSelected) -> None:
        if event.node.data:
            self.open_page(event.node.data)

    @on(Markdown.LinkClicked)
    def _link_clicked(self, event: Markdown.LinkClicked) -> None:
        href = event.href
        if href.startswith("kb:"):
            target = self.resolve(href[3:].replace("%20", " "))
            if target:
                self.open_page(target)
            else:
                self.notify(f"no page {href[3:]!r} yet", severity="warning")
        elif self.resolve(href):
            self.open_page(self.resolve(href))

    @on(ListView.Selected, "#page-links")
    def _follow(self, event: ListView.Selected) -> None:
        if event.item.name:
            self.open_page(event.item.name)

    @on(ListView.Selected, "#search-results")
    def _open_hit(self, event: ListView.Selected) -> None:
        if event.item.name:
            self.open_page(event.item.name)

    def action_back(self) -> None:
        if self.history:
            self.open_page(self.history.pop(), remember=False)

    # -- search -----------------------------------------------------------------------------
    @on(Input.Changed, "#search-input")
    def _typed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(exclusive=True, group="search", thread=True, exit_on_error=False)
    def run_search(self, query: str) -> None:
        from kb.tools.search import SearchIndex
        hits = []
        if query.strip():
            index = SearchIndex(self.vault)
            if not index.exists:
                index.rebuild()
            hits = index.search(query, 20)
        self.call_from_thread(self._show_hits, hits)

    async def _show_hits(self, hits) -> None:
        lv = self.query_one("#search-results", ListView)
        await lv.clear()
        await lv.extend([ListItem(Label(f"[b]{h.title}[/b]  {h.path}\n  {h.snippet[:150]}"), name=h.path)
                         for h in hits])

    # -- ask --------------------------------------------------------------------------------
    @on(Input.Submitted, "#ask-input")
    def _asked(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.query_one(TraceView).clear()
            self.query_one("#answer", Markdown).update("*thinking…*")
            self.run_ask(event.value)

    @work(exclusive=True, group="ask", thread=True, exit_on_error=False)
    def run_ask(self, question: str) -> None:
        job = self.kb.ask(on_event=lambda e: self.call_from_thread(self._trace_event, e))
        ans = job.answer(question, self.ask_mode)
        from kb.core.pages import link
        cites = ", ".join(link(p, t) for p, t in ans.cited)
        text = ans.text + (f"\n\n**Sources:** {cites}" if cites else "")
        from kb.tui.widgets import to_markdown_links
        self.call_from_thread(self.query_one("#answer", Markdown).update, to_markdown_links(text))
        if ans.seconds and ans.completion_tokens:
            self.tps = ans.completion_tokens / ans.seconds
        self.call_from_thread(self.update_status)

    def _trace_event(self, e) -> None:
        """Each step into the trace; the agent's draft answer (a `Draft` event) into the answer
        pane as soon as it has one, replaced by the final answer when the run ends."""
        from kb.agents.trace import Draft
        self.query_one(TraceView).event(e)
        if isinstance(e, Draft) and "not in the knowledge base" not in e.answer.lower():
            self.query_one("#answer", Markdown).update(f"*draft:* {e.answer}")

    # -- jobs -------------------------------------------------------------------------------
    def _job_log(self, line: str) -> None:
        self.query_one("#job-log", RichLog).write(f"{time.strftime('%H:%M:%S')} {line}")

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
        self.call_from_thread(self._after_job)

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
        self.call_from_thread(self._after_job)

    def action_reindex(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"
        self.run_reindex()

    @work(exclusive=True, group="reindex", thread=True, exit_on_error=False)
    def run_reindex(self) -> None:
        self.call_from_thread(self._progress, 0, 1, "reindex: building")
        stats = self.kb.reindex()
        self.call_from_thread(self._job_log, f"reindex: {stats}")
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
                self.call_from_thread(self._after_job)

        self.watcher = self.kb.watcher(on_log=lambda line: self.call_from_thread(self._job_log, "watch: " + line),
                                       on_progress=event)
        self.watcher.start()
        self.watcher.run()

    def _after_job(self) -> None:
        self.refresh_tree()
        self.check_health()

    @work(exclusive=True, group="health", thread=True, exit_on_error=False)
    def check_health(self) -> None:
        report = self.kb.lint(model_checks=False).run(write_report=False)
        broken = sum(f.check in ("broken-link", "dangling-source-link") for f in report.findings)
        stale = sum(f.check == "stale" for f in report.findings)
        self.health = f"{broken} broken links · {stale} stale · {report.errors} errors"
        self.call_from_thread(self.update_status)

    def update_status(self) -> None:
        self.query_one(StatusBar).show(self.model_name, self.tps, self.health)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            err = event.worker.error
            msg = str(err) if isinstance(err, KbError) else f"{type(err).__name__}: {err}"
            self.notify(msg, severity="error", timeout=8)
            self._job_log(f"[red]error[/red] {msg}")

    # -- navigation -------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "search-tab"
        self.query_one("#search-input", Input).focus()

    def action_ask(self) -> None:
        self.query_one(TabbedContent).active = "ask-tab"
        self.query_one("#ask-input", Input).focus()

    def action_page(self) -> None:
        self.query_one(TabbedContent).active = "page-tab"

    def action_jobs(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()


def run(kb: Kb) -> None:
    KbApp(kb).run()

