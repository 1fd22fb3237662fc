"""index.md and log.md: the catalogue every job that adds pages keeps up to date (compile,
ask --save, lint reports). Generated in code from the pages' frontmatter; no model."""

from __future__ import annotations

import os
from dataclasses import dataclass

from kb.core import kinds, pages
from kb.core.errors import PageEditedError, PageError
from kb.core.vault import Page, Vault, atomic_write


_SEEN: dict[tuple[str, str], tuple[tuple[int, int], tuple[str, str, str]]] = {}


def index_entries(vault: Vault) -> list[tuple[str, str, str]]:
    """(path, title, description) of every wiki page. A long-lived process (the watcher, the TUI)
    rebuilds the index after every source: pages whose size and mtime did not move are not parsed
    again."""
    out = []
    for path in vault.wiki_pages():
        if not kinds.is_page(path):
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
    return pages.index_block(current.body) == pages.index_block(pages.index_page(index_entries(vault)).body)


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
        beside = kinds.conflict_path(page.path)
        vault.write(Page(beside, page.meta, page.body), force=True)
        return Written(page.path, beside, conflict=True)


def write_index(vault: Vault) -> Written:
    """index.md with every page listed. An index a person edited keeps their text: only the
    catalogue between kb's markers is replaced, and the page stays theirs (its stamp untouched)."""
    fresh = pages.index_page(index_entries(vault))
    try:
        current = vault.read("index.md")
    except PageError:
        current = None
    if current is None or current.state == "kb" or not vault.abspath("index.md").is_file():
        return write_page(vault, fresh)
    body = pages.merge_index(current.body, fresh)
    if body != current.body:
        atomic_write(vault.abspath("index.md"), Page("index.md", current.meta, body).text())
    return Written("index.md", "index.md")


def append_log(vault: Vault, action: str, title: str) -> None:
    _append(vault, pages.log_line(action, title))


def log_size(vault: Vault) -> int:
    try:
        return os.path.getsize(vault.root / "log.md")
    except OSError:
        return 0


def log_later(vault: Vault, manifest, action: str, title: str) -> str:
    """Queue a log entry in the manifest (which the caller saves next) and return its line: the
    manifest and the log are two files, so the line is remembered before it is appended."""
    line = pages.log_line(action, title)
    manifest.queue_log(line, log_size(vault))
    return line


def settle_log(vault: Vault, manifest) -> int:
    """Append each queued line log.md does not already hold after the point where it was queued,
    then forget the queue (saved with the manifest's next save). How many were missing."""
    try:
        text = (vault.root / "log.md").read_bytes()
    except FileNotFoundError:
        text = b""
    missing, pos = [], 0
    for line, at in manifest.log:
        found = text.find(line.encode("utf-8"), max(int(at), pos))
        if found < 0:
            missing.append(line)
        else:
            pos = found + len(line.encode("utf-8"))
    if missing:
        _append(vault, "".join(missing))
    manifest.log.clear()
    return len(missing)


def _append(vault: Vault, text: str) -> None:
    try:
        with open(vault.root / "log.md", "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise PageError(f"{vault.root / 'log.md'}: cannot append ({e.strerror or e})") from None
