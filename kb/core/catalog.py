"""index.md and log.md: the catalogue every job that adds pages keeps up to date (compile,
ask --save, lint reports). Generated in code from the pages' frontmatter; no model."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kb.core import pages
from kb.core.errors import PageEditedError, PageError
from kb.core.vault import Page, Vault


_SEEN: dict[tuple[str, str], tuple[tuple[int, int], tuple[str, str, str]]] = {}


def index_entries(vault: Vault) -> list[tuple[str, str, str]]:
    """(path, title, description) of every wiki page. A long-lived process (the watcher, the TUI)
    rebuilds the index after every source: pages whose size and mtime did not move are not parsed
    again."""
    out = []
    for path in vault.wiki_pages():
        if path.endswith(".kb-new.md"):
            continue
        try:
            st = os.stat(vault.root / vault.on_disk(path))
        except OSError:
            continue
        key, stamp = (str(vault.root), path), (st.st_size, st.st_mtime_ns)
        hit = _SEEN.get(key)
        if hit and hit[0] == stamp:
            out.append(hit[1])
            continue
        try:
            page = vault.read(path)
        except PageError:
            continue
        entry = (path, page.title, str(page.meta.get("description") or ""))
        _SEEN[key] = (stamp, entry)
        out.append(entry)
    return out


def index_is_current(vault: Vault) -> bool:
    try:
        current = vault.read("index.md")
    except PageError:
        return False
    return current.body == pages.index_page(index_entries(vault)).body


@dataclass(frozen=True)
class Written:
    """Where a kb page went. A page a person edited keeps their text; kb's version then goes
    beside it (`<name>.kb-new.md`) and `path` is that file."""

    page: str  # the page kb meant to write
    path: str  # the file it wrote
    conflict: bool = False

    @property
    def message(self) -> str:
        if self.conflict:
            return f"{self.page} was edited by hand; kb's update is in {self.path}"
        return f"{self.page} written"


def write_page(vault: Vault, page: Page) -> Written:
    """Write a kb page; if a person edited it, put kb's version beside it."""
    try:
        vault.write(page)
        return Written(page.path, page.path)
    except PageEditedError:
        beside = page.path[:-3] + ".kb-new.md"
        vault.write(Page(beside, page.meta, page.body), force=True)
        return Written(page.path, beside, conflict=True)


def write_index(vault: Vault) -> Written:
    return write_page(vault, pages.index_page(index_entries(vault)))


def append_log(vault: Vault, action: str, title: str) -> None:
    with open(vault.root / "log.md", "a", encoding="utf-8") as f:
        f.write(pages.log_line(action, title))
        f.flush()
        os.fsync(f.fileno())
