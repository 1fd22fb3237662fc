"""The vault's link graph kept in memory, for a front end that stays open (the TUI).

`Vault.graph()` and lint read every note each time they are asked; at 10,000 pages that is
seconds. `LinkGraph` reads the notes once and then follows changes: the paths a job reports it
wrote or removed (`update`), or whatever a look at every file's size and mtime finds changed
(`refresh`, for a person's edits). Links are read by the one parser (`markdown.parse`) and
resolved by the one resolver (`links.build_graph`, Obsidian's rules). A change reads again only
the notes it can affect: the changed notes, the notes that link into them with a `#heading` or
`#^block` (it may have gone), and, when files come or go, the notes with a link by that file name.

The notes are those lint reads: every page outside raw/, frontmatter or not. Per note the graph
keeps its frontmatter, the files its links reach, and its broken links; not its text. That is
kept in `.kb/graph.json` (kb/core/graphfile.py; derived state: one that does not read is rebuilt
from the files), so a second start costs a look at the files' stamps, not a parse of every note.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from kb.core import graphfile
from kb.core.graphfile import Later, Note, is_note, read_note
from kb.core.links import LinkIndex, Resolved, build_graph, nfc
from kb.core.markdown import Parsed
from kb.core.vault import Vault


def _key(path: str) -> str:
    """The file-name key a linkpath is looked up by (links.LinkIndex): lower case, `.md` optional."""
    return nfc(path.strip()).lower().rsplit("/", 1)[-1].removesuffix(".md")


class LinkGraph:
    """Every note's resolved links, the backlinks they imply, every note's frontmatter."""

    def __init__(self, vault: Vault):
        self.vault = vault
        self.lock = threading.RLock()
        self.files: set[str] = set()
        self.notes: dict[str, Note] = {}
        self.others: dict[str, tuple[int, int] | None] = {}  # stamps of the files that are not notes (raw/)
        self._inbound: dict[str, set[str]] | None = defaultdict(set)  # file -> the notes linking to it
        self._index: LinkIndex | None = LinkIndex(())
        self._keyed: dict[str, set[str]] | None = None  # see _keys
        self.version = 0  # moves on every change
        self.files_version = 0  # moves when files come or go
        self.problem: str | None = None  # why the cache was not used, one line
        self.saved = False  # the cache holds what is in memory

    @classmethod
    def load(cls, vault: Vault, *, cache: bool = True) -> "LinkGraph":
        """The graph as the files are now: the cache and what changed since, else every note read."""
        g = cls.cached(vault) if cache else cls(vault)
        changed = g.refresh()
        if cache and (changed or not g.saved):
            g.save()
        return g

    @classmethod
    def cached(cls, vault: Vault) -> "LinkGraph":
        """The graph as it was last saved (empty without a cache); `refresh` brings it up to date."""
        g = cls(vault)
        g._read_cache()
        return g

    @property
    def inbound(self) -> dict[str, set[str]]:
        with self.lock:
            if self._inbound is None:
                self._inbound = defaultdict(set)
                for rel, note in self.notes.items():
                    for t in note.targets:
                        if t != rel:
                            self._inbound[t].add(rel)
            return self._inbound

    @property
    def index(self) -> LinkIndex:
        with self.lock:
            if self._index is None:
                self._index = LinkIndex(self.files)
            return self._index

    # -- reading ----------------------------------------------------------------------------
    def _path(self, rel: str) -> str:
        return os.path.join(self.vault.root, self.vault.on_disk(rel))  # files() vetted its symlinks

    def _stamp(self, rel: str) -> tuple[int, int] | None:
        try:
            st = os.stat(self._path(rel))
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _read(self, rel: str) -> tuple[Note, Parsed] | None:
        return read_note(self._path(rel), rel)

    def refresh(self, files: Iterable[str] | None = None) -> set[str]:
        """A look at every file (`files`: vault.files() if just taken): notes whose size or mtime
        moved are read again, new ones read, gone ones dropped. Returns the notes whose links or
        backlinks may have changed, the files that came or went, and the other files (raw
        sources) whose size or mtime moved since the last look."""
        files = set(self.vault.files() if files is None else files)
        stamps = {rel: self._stamp(rel) for rel in files}
        with self.lock:
            known = {rel: n.stamp for rel, n in self.notes.items()}
            same = files == self.files
            moved = {rel for rel, s in self.others.items() if rel in stamps and stamps[rel] != s}
            self.others = {rel: s for rel, s in stamps.items() if not is_note(rel)}
        stale = [rel for rel in files if is_note(rel) and known.get(rel, ()) != stamps[rel]]
        return moved if same and not stale else moved | self._apply(files, {rel: self._read(rel) for rel in stale})

    def update(self, paths: Iterable[str]) -> set[str]:
        """The files a job wrote or removed (vault paths): each read again, or dropped."""
        paths = {nfc(p) for p in paths if p and not any(part.startswith(".") for part in p.split("/"))}
        with self.lock:
            files = set(self.files)
        for rel in paths:
            (files.add if os.path.isfile(self._path(rel)) else files.discard)(rel)
        if not paths:
            return set()
        return self._apply(files, {rel: self._read(rel) for rel in paths if rel in files and is_note(rel)})

    def _apply(self, files: set[str], changed: dict[str, tuple[Note, Parsed] | None]) -> set[str]:
        """Take in these notes as just read (outside the lock), and the files as now listed."""
        with self.lock:
            came, went = files - self.files, self.files - files
            if came or went:
                self.files, self._index = files, LinkIndex(files)
                self.files_version += 1
            todo = set(changed)
            for rel in changed:  # links into it with a heading or block id are checked again
                todo |= {src for src in self.inbound.get(rel, ()) if rel in self.notes[src].sub}
            keyed = self._keys() if came or went else {}
            for rel in came | went:
                todo |= keyed.get(_key(rel), set())
                todo |= self.inbound.get(rel, set())
            for rel in went:
                if rel in self.notes:
                    self._unlink(rel)
                    del self.notes[rel]
            self._resolve({rel for rel in todo if rel in files and is_note(rel)}, changed)
            self.version += 1
            self.saved = False
            return todo | came | went

    def _keys(self) -> dict[str, set[str]]:
        """Link key -> the notes with such a link, made the first time files come or go."""
        if self._keyed is None:
            self._keyed = defaultdict(set)
            for rel, note in self.notes.items():
                for key in self._keys_of(note):
                    self._keyed[key].add(rel)
        return self._keyed

    @staticmethod
    def _keys_of(note: Note) -> set[str]:
        return {_key(t) for t in note.targets} | {_key(r.link.target) for r in note.broken if r.link.target.strip()}

    def _unlink(self, rel: str) -> None:
        note = self.notes[rel]
        for t in note.targets:
            inbound = self.inbound.get(t)
            if inbound is not None:
                inbound.discard(rel)
                if not inbound:
                    del self.inbound[t]
        if self._keyed is not None:
            for key in self._keys_of(note):
                self._keyed[key].discard(rel)

    def _resolve(self, rels: set[str], read_now: dict | None = None) -> None:
        """Read these notes again (unless just read) and resolve their links (links.build_graph),
        replacing what they said before; a note that cannot be read any more is dropped."""
        parsed: dict[str, Parsed] = {}
        read_now = read_now or {}
        for rel in rels:
            read = read_now[rel] if rel in read_now else self._read(rel)
            if rel in self.notes:
                self._unlink(rel)
                del self.notes[rel]
            if read is not None:
                self.notes[rel], parsed[rel] = read
        fresh = build_graph(self.index, parsed, on_missing=self._targets())
        for rel, rs in fresh.outlinks.items():
            self._link(rel, rs)

    def _link(self, rel: str, rs: list[Resolved]) -> None:
        note = self.notes[rel]
        note.targets = {r.target for r in rs if r.target}
        note.sub = {r.target for r in rs if r.target and (r.link.heading or r.link.block)}
        note.broken = [r for r in rs if not r.ok]
        for t in note.targets - {rel}:
            self.inbound[t].add(rel)
        if self._keyed is not None:
            for key in self._keys_of(note):
                self._keyed[key].add(rel)

    def _targets(self):
        """build_graph's `on_missing`: a note it links into, read only if a link asks for one of
        its headings or block ids (build_graph asks for every target; few links have a subpath)."""
        seen: dict[str, Later | None] = {}

        def later(rel: str) -> "Later | None":
            if rel not in seen:
                seen[rel] = Later(self, rel) if rel in self.notes else None
            return seen[rel]
        return later

    # -- asking -----------------------------------------------------------------------------
    def links_of(self, rel: str, parsed: Parsed) -> list[Resolved]:
        """The links of a note as read now (`parsed`), in page order, each with where it points."""
        with self.lock:
            return build_graph(self.index, {nfc(rel): parsed}, on_missing=self._targets()).outlinks[nfc(rel)]

    def backlinks(self, rel: str) -> list[str]:
        with self.lock:
            return sorted(self.inbound.get(nfc(rel), ()))

    def title(self, rel: str) -> str:
        note = self.notes.get(nfc(rel))
        return note.page.title if note else Path(rel).stem

    @property
    def broken(self) -> list[Resolved]:
        """Every broken link, as links.Graph.broken lists them."""
        with self.lock:
            return [r for note in self.notes.values() for r in note.broken]

    def resolve(self, linkpath: str, source: str = "index.md") -> str | None:
        """Where a link written in `source` points, by Obsidian's rules (links.LinkIndex)."""
        with self.lock:
            return self.index.resolve(linkpath, source)

    def find(self, name: str, source: str = "index.md") -> str | None:
        """A note by link (path or name, as resolve), else by its title or one of its aliases."""
        found = self.resolve(name, source)
        if found is not None:
            return found
        want = nfc(name.strip()).lower()
        with self.lock:
            for rel, note in sorted(self.notes.items()):
                aliases = note.page.meta.get("aliases")
                names = [note.page.meta.get("title"), *(aliases if isinstance(aliases, list) else [])]
                if any(isinstance(n, str) and nfc(n.strip()).lower() == want for n in names):
                    return rel
        return None

    def changed_on_disk(self, rel: str) -> bool:
        """Has this note changed since it was read (or appeared, or gone)?"""
        note = self.notes.get(nfc(rel))
        return (note.stamp if note else None) != (self._stamp(rel) if is_note(rel) else None)

    # -- .kb/graph.json (kb/core/graphfile.py) ----------------------------------------------------
    def save(self) -> None:
        with self.lock:
            text = graphfile.dump(self.files, self.notes)
        if graphfile.write(self.vault, text):
            self.saved = True

    def _read_cache(self) -> None:
        try:
            read = graphfile.read(self.vault)
        except graphfile.Unreadable as e:
            self.problem = str(e)
            return
        if read is not None:
            with self.lock:
                self.files, self.notes = read
                self._index = self._inbound = None  # built when first asked for
                self.saved = True
