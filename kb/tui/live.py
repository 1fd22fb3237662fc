"""The TUI's picture of the vault: the link graph kept in memory, and what follows from it.

On start the graph comes from `.kb/graph.json` (the tree and the health counters are drawn from
it at once), then one look at every file's stamp brings it up to date. Afterwards it changes by
what jobs report they wrote (`after_job`), by a look at the stamps every `REFRESH_S` seconds and
when the terminal gets the focus back (a person's edits), and by a page found changed when it is
opened. Each change recounts the health (kb/tui/health.py), redraws the tree when files came or
went, and shows the open page again when it changed.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Iterable

from textual import work
from textual.events import AppFocus

from kb.core.graph import LinkGraph
from kb.tui.health import Health
from kb.tui.widgets import StatusBar, VaultTree


class Live:
    """Mixed into KbApp: the graph, its upkeep, and the tree and status drawn from it."""

    REFRESH_S = 15.0  # a look at every file's stamp: about 0.3 s at 10,000 pages, in a thread

    graph: LinkGraph | None = None
    _health: Health | None = None

    def start_graph(self) -> None:
        self._graph_ready = threading.Event()
        self.load_graph()
        self.set_interval(self.REFRESH_S, self.refresh_graph)

    async def ready_graph(self) -> LinkGraph:
        while not self._graph_ready.is_set():
            await asyncio.sleep(0.005)
        return self.graph

    @work(thread=True, group="graph", exit_on_error=False)
    def load_graph(self) -> None:
        g = LinkGraph.cached(self.vault)
        files = None
        if g.files:  # a saved graph: the first screen from it, brought up to date just after
            self.call_from_thread(self._show_tree, g)
            self._count(g)
            g.inbound, g.index  # built now rather than by the first page open
            self.graph = g
            self._graph_ready.set()
        else:  # the first start: the tree from the listing while every note is read
            files = self.vault.files()
            self.call_from_thread(self.query_one(VaultTree).show, files)
        shown = g.files_version
        changed = g.refresh(files)
        if g.problem:
            self.call_from_thread(self._job_log, g.problem)
        self.graph = g
        self._graph_ready.set()
        self._publish(changed, tree=g.files_version != shown and files is None, always=files is not None)
        if not g.saved:
            g.save()

    @work(thread=True, group="graph-refresh", exclusive=True, exit_on_error=False)
    def refresh_graph(self) -> None:
        """A person's edits, renames and new notes: a look at every file's size and mtime."""
        g = self.graph
        if g is None:
            return
        shown = g.files_version
        self._publish(g.refresh(), tree=g.files_version != shown)

    def on_app_focus(self, event: AppFocus) -> None:
        self.refresh_graph()

    def after_job(self, paths: Iterable[str]) -> None:
        """From a job's worker thread: the paths its report names as written or removed."""
        g = self.graph
        if g is None:
            return
        shown = g.files_version
        self._publish(g.update(paths), tree=g.files_version != shown, always=True)
        if not g.saved:
            g.save()

    def _publish(self, changed: set[str], *, tree: bool, always: bool = False) -> None:
        """In a worker thread: recount, then redraw what changed."""
        if not (changed or always):
            return
        self._count(self.graph)
        if tree:
            self.call_from_thread(self._show_tree, self.graph)
        path = self.shown_links[0]
        if path in changed:
            self.call_from_thread(self.open_page, path, False)
        elif path is not None and self.graph.backlinks(path) != self.shown_links[2]:
            self.call_from_thread(self.relist)

    def _count(self, g: LinkGraph) -> None:
        if self._health is None or self._health.graph is not g:
            self._health = Health(g)
        self.health = self._health.line()
        self.call_from_thread(self.update_status)

    def _show_tree(self, g: LinkGraph) -> None:
        with g.lock:
            files = sorted(g.files)
        self.query_one(VaultTree).show(files)

    def update_status(self) -> None:
        self.query_one(StatusBar).show(self.model_name, self.tps, self.health)
