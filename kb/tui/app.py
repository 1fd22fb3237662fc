"""`kb tui`: one screen to read, search, ask and run the jobs.

Long work (compile, lint, reindex, the watcher, asking) runs in thread workers and reports back
through `call_from_thread`, so the interface never blocks. A KbError in a worker becomes a
notification; the app does not crash on what a user can act on.
"""

from __future__ import annotations

import threading

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import (Footer, Input, Label, ListItem, ListView, Markdown, OptionList, ProgressBar, RichLog,
                             TabbedContent, TabPane)
from textual.worker import Worker, WorkerState, get_current_worker

from kb.api import Kb
from kb.core import markdown
from kb.core.errors import KbError
from kb.core.graph import is_note
from kb.tui.help import HelpScreen
from kb.tui.jobs import Jobs
from kb.tui.live import Live
from kb.tui.widgets import LinkList, PageView, StatusBar, TraceView, VaultTree, link_targets, snippet, styled


class KbApp(Live, Jobs, App):
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
        self.shown_links: tuple = (None, [], [])  # the open page, its links and backlinks as listed
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
        self.update_status()
        self.start_graph()
        if self.vault.abspath("index.md").is_file():
            self.open_page("index.md")

    # -- pages ------------------------------------------------------------------------------
    @work(exclusive=True, group="page", exit_on_error=False)
    async def open_page(self, path: str, remember: bool = True) -> None:
        """The page's own file is read; its links, backlinks and their titles come from the graph."""
        graph = await self.ready_graph()
        try:
            text = self.vault.abspath(path).read_text(encoding="utf-8", errors="replace")
        except (OSError, KbError) as e:
            self.notify(f"{path}: {getattr(e, 'strerror', None) or e}", severity="error")
            return
        try:
            meta, body = markdown.split_frontmatter(text, where=path) if path.endswith(".md") else ({}, text)
        except KbError:
            meta, body = {}, text  # broken YAML: the page as it is
        if is_note(path) and graph.changed_on_disk(path):  # edited since the graph read it
            graph.update([path])
            self.refresh_graph()  # its backlinks' counts and the health
        links = link_targets(graph.links_of(path, markdown.parse(body, meta=meta))) if path.endswith(".md") else []
        backlinks = [(b, graph.title(b)) for b in graph.backlinks(path)]
        if remember and self.current and self.current != path:
            self.history.append(self.current)
        self.current = path
        self.shown_links = (path, links, [b for b, _ in backlinks])
        self.query_one(PageView).show(path, body, links, backlinks)
        self._show_page_tab()

    def relist(self) -> None:
        """The open page's backlinks again, when other pages changed and it did not."""
        path, links, _ = self.shown_links
        backlinks = self.graph.backlinks(path)
        self.shown_links = (path, links, backlinks)
        self.query_one(PageView).list_links(links, [(b, self.graph.title(b)) for b in backlinks])

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
        """A link's target as Obsidian resolves it from the open page, else a page by that title or alias."""
        return self.graph.find(target, self.current or "index.md") if self.graph else None

    @on(VaultTree.NodeSelected)
    def _tree_selected(self, event: VaultTree.NodeSelected) -> None:
        if isinstance(event.node.data, str):  # a file, not a group
            self.open_page(event.node.data)

    @on(Markdown.LinkClicked)
    def _link_clicked(self, event: Markdown.LinkClicked) -> None:
        self.action_follow(event.href)

    def action_follow(self, href: str) -> None:
        """A link clicked in a page or an answer: `kb:` + a wikilink's target, or a markdown link."""
        if href.startswith("kb:"):
            target = self.resolve(href[3:].replace("%20", " "))
            if target:
                self.open_page(target)
            else:
                self.notify(f"no page {href[3:]!r} yet", severity="warning")
        elif self.resolve(href):
            self.open_page(self.resolve(href))

    @on(OptionList.OptionSelected, "#page-links")
    def _follow(self, event: OptionList.OptionSelected) -> None:
        targets = self.query_one(LinkList).targets
        if 0 <= event.option_index < len(targets):
            self.open_page(targets[event.option_index])

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

    # -- jobs (kb/tui/jobs.py) ---------------------------------------------------------------
    def notify(self, message: str, *, markup: bool = False, **kw) -> None:
        """Notifications carry paths and error messages: text, not markup, unless asked."""
        super().notify(message, markup=markup, **kw)

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

