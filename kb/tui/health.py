"""The status bar's health counters, from the TUI's link graph instead of a whole lint.

The counters are lint's own: its structural checks that need no raw text (frontmatter, links,
stale sources) run over a lint Snapshot made from what the graph already holds, so the numbers
are the ones `kb lint` reports, at the cost of a walk over the graph and a stat per raw source.
"""

from __future__ import annotations

from pathlib import Path

from kb.core.graph import LinkGraph
from kb.core.manifest import Manifest
from kb.lint import checks


class Health:
    """Counts for the status bar; the manifest is read again only when its file changed."""

    def __init__(self, graph: LinkGraph):
        self.graph = graph
        self._manifest: tuple[tuple[int, int] | None, Manifest] | None = None

    def manifest(self) -> Manifest:
        path = self.graph.vault.state_dir / "manifest.json"
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._manifest is None or self._manifest[0] != stamp:
            self._manifest = (stamp, Manifest.load(self.graph.vault))
        return self._manifest[1]

    def snapshot(self) -> checks.Snapshot:
        g = self.graph
        with g.lock:
            notes = dict(g.notes)
            files = sorted(g.files)
            broken = g.broken
        pages = {rel: n.page for rel, n in notes.items() if n.bad is None}
        bad = {rel: n.bad for rel, n in notes.items() if n.bad is not None}
        return checks.Snapshot(_Listed(g.vault), files, pages, bad, dict.fromkeys(notes), _Broken(broken),
                               self.manifest())

    def line(self) -> str:
        snap = self.snapshot()
        found = checks.check_frontmatter(snap) + checks.check_links(snap) + checks.check_stale(snap)
        broken = sum(f.check in ("broken-link", "dangling-source-link") for f in found)
        stale = sum(f.check == "stale" for f in found)
        errors = sum(f.severity == "error" for f in found)
        return f"{broken} broken links · {stale} stale · {errors} errors"


class _Listed:
    """The vault, for paths its own listing (`Vault.files`) found: those had their symlinks
    checked then, so a path is joined rather than resolved again (a stat per raw source, not a
    walk up its folders)."""

    def __init__(self, vault):
        self._vault = vault

    def abspath(self, rel: str) -> Path:
        return self._vault.root / self._vault.on_disk(rel)

    def __getattr__(self, name):
        return getattr(self._vault, name)


class _Broken:
    """What lint's link check reads of a graph: its broken links."""

    def __init__(self, broken):
        self.broken = broken
