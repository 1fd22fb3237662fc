"""`kb tui`: one screen to read, search, ask and run the jobs.

Long work (compile, lint, reindex, the watcher, asking) runs in thread workers and reports back
through `call_from_thread`, so the interface never blocks. A KbError in a worker becomes a
notification; the app does not crash on what a user can act on.
"""

from __future__ import annotations

import threading
import time

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (Footer, Input, Label, ListItem, ListView, Markdown, ProgressBar, RichLog,
                             TabbedContent, TabPane)
from textual.worker import Worker, WorkerState, get_current_worker

from kb.api import Kb
from kb.core import events, markdown
from kb.core.errors import KbError
from kb.core.links import LinkIndex
from kb.tui.help import HelpScreen
from kb.tui.widgets import PageView, StatusBar, TraceView, VaultTree, link_targets, plain, snippet, styled


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
    # a narrow terminal gets a narrower tree, a short one fewer rows of links (app.tcss)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-tall")]

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
        self.index_lock = threading.Lock()  # one search at a time: the first may bring the index up to date
        self.index_stale = True  # a person may have edited files since: looked at when search opens

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
                    yield RichLog(id="job-log", wrap=True, markup=False)
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
        try:
            meta, body = markdown.split_frontmatter(text, where=path) if path.endswith(".md") else ({}, text)
        except KbError:
            meta, body = {}, text  # broken YAML: the page as it is
        index = LinkIndex(self.vault.files())
        links = link_targets(markdown.parse(body, meta=meta).links, lambda t: index.resolve(t, path)) if path.endswith(".md") else []
        backlinks = [(b, self._title(b)) for b in sorted(self.vault.graph().inbound(path))]
        if remember and self.current and self.current != path:
            self.history.append(self.current)
        self.current = path
        await self.query_one(PageView).show(path, body, links, backlinks)
        self._show_page_tab()

    def _title(self, path: str) -> str:
        try:
            return self.vault.read(path).title
        except KbError:
            return path.rsplit("/", 1)[-1].removesuffix(".md")

    def _show_page_tab(self, focus: bool = False) -> None:
        """The page tab, and the keyboard with it (`focus`, or unless it is in the tree or the
        page pane): a focused widget left in the pane being hidden (the search results) pulled its
        tab back to the front and kept `p` typing into the search."""
        self.query_one(TabbedContent).active = "page-tab"
        pane = self.query_one("#page-tab")
        focused = self.focused
        if focus or focused is None or (focused is not self.query_one(VaultTree) and pane not in focused.ancestors):
            self.query_one("#page-scroll", VerticalScroll).focus()

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
        """As you type: the last word is a prefix (`kombu` finds kombucha). The jobs keep the
        index current; a person's edits are taken in by the first search after the search tab
        opens, not on every key (a look at every file: 0.4 s at 10,000 pages)."""
        if not query.strip():
            self.call_from_thread(self._show_hits, [])
            return
        with self.index_lock:
            if self.index_stale:
                self.kb.refresh_search()
                self.index_stale = False
            hits = self.kb.search(query, 20, prefix=True, fresh=False)
        if not get_current_worker().is_cancelled:  # a later key's search replaced this one
            self.call_from_thread(self._show_hits, hits)

    async def _show_hits(self, hits) -> None:
        lv = self.query_one("#search-results", ListView)
        await lv.clear()
        await lv.extend([ListItem(Label(styled("[b]$title[/b]  $path\n  ", title=h.title, path=h.path)
                                        + snippet(h.snippet[:150])), name=h.path) for h in hits])
        lv.index = 0 if hits else None  # Tab, Enter opens the best hit; Down for the next

    @on(Input.Submitted, "#search-input")
    def _search_entered(self) -> None:
        """Enter in the search box opens the best hit."""
        lv = self.query_one("#search-results", ListView)
        if lv.children and lv.children[0].name:
            self.open_page(lv.children[0].name)

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
    def _job_log(self, line: str, style: str = "") -> None:
        """A job's line as it is (paths and messages can hold brackets), stamped with the time."""
        from rich.text import Text
        self.query_one("#job-log", RichLog).write(Text(f"{time.strftime('%H:%M:%S')} {line}", style=style))

    def notify(self, message: str, *, markup: bool = False, **kw) -> None:
        """Notifications carry paths and error messages: text, not markup, unless asked."""
        super().notify(message, markup=markup, **kw)

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
            self._job_log(f"error {msg}", style="red")

    # -- navigation -------------------------------------------------------------------------
    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.BINDINGS))

    def action_search(self) -> None:
        self.query_one(TabbedContent).active = "search-tab"
        self.query_one("#search-input", Input).focus()
        self.index_stale = True

    def action_ask(self) -> None:
        self.query_one(TabbedContent).active = "ask-tab"
        self.query_one("#ask-input", Input).focus()

    def action_page(self) -> None:
        self._show_page_tab(focus=True)  # `p`, then the arrows and End scroll the page

    def action_jobs(self) -> None:
        self.query_one(TabbedContent).active = "jobs-tab"

    def on_unmount(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()


def run(kb: Kb) -> None:
    KbApp(kb).run()

