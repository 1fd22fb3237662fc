"""A note as the link graph in memory (kb/core/graph.py) keeps it, read from its file, and
`.kb/graph.json`: what the graph last knew, for the next start.

Per note its file's stamp, its frontmatter, the files its links reach (as indices into the file
list), those reached with a `#heading` or `#^block`, and its broken links whole; never its text.
It is derived state, read only by kb: a file of another shape, or any error reading it, is
`Unreadable` and the graph reads the notes again; a vault kb cannot write to keeps none.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property

from kb.core import kinds, markdown
from kb.core.errors import PageError
from kb.core.links import Resolved
from kb.core.markdown import Link, Parsed
from kb.core.vault import Page, Vault, atomic_write

NAME = "graph.json"
VERSION = 1
_LINK = ("target", "heading", "block", "alias", "embed", "kind", "line", "prop")


@dataclass
class Note:
    stamp: tuple[int, int]  # (mtime_ns, size) of the file when it was read
    page: Page  # its frontmatter (not its body: the file is read again to show it)
    bad: str | None = None  # why its frontmatter does not parse (its links still count)
    targets: set[str] = field(default_factory=set)  # the files its links resolve to
    sub: set[str] = field(default_factory=set)  # those it links into with a #heading or #^block
    broken: list[Resolved] = field(default_factory=list)  # links to no file, or to a missing heading


def is_note(rel: str) -> bool:
    return not rel.startswith(kinds.RAW) and kinds.is_page(rel)


def read_note(path: str, rel: str) -> tuple[Note, Parsed] | None:
    """A note read from its file: what the graph keeps of it, and its parse (links, headings,
    block ids) by the one parser; None when the file cannot be read."""
    try:
        st = os.stat(path)
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    bad = None
    try:
        meta, body = markdown.split_frontmatter(text, where=rel)
    except PageError as e:  # as lint reads it: no frontmatter, the body after it
        bad, meta, body = str(e), {}, markdown.after_frontmatter(text)
    return Note((st.st_mtime_ns, st.st_size), Page(rel, meta), bad), markdown.parse(body, meta=meta)


class Later:
    """A note's headings and block ids, read from its file when first asked for."""

    def __init__(self, graph, rel: str):
        self._graph, self._rel = graph, rel

    @cached_property
    def _parsed(self) -> Parsed:
        read = self._graph._read(self._rel)
        return read[1] if read else Parsed([], [], set())

    headings = property(lambda self: self._parsed.headings)
    blocks = property(lambda self: self._parsed.blocks)


class Unreadable(Exception):
    """The file is there but is not a graph kb wrote (its message says so, in one line)."""


def dump(files: set[str], notes: dict) -> str:
    listed = sorted(files)
    at = {f: i for i, f in enumerate(listed)}
    rows = {rel: [*n.stamp, n.page.meta, n.bad, [at[t] for t in n.targets], [at[t] for t in n.sub],
                  [[getattr(r.link, f) for f in _LINK] + [at.get(r.target), r.problem] for r in n.broken]]
            for rel, n in notes.items()}
    return json.dumps({"version": VERSION, "files": listed, "notes": rows}, ensure_ascii=False, default=str)


def write(vault: Vault, text: str) -> bool:
    try:
        atomic_write(vault.state_dir / NAME, text)
        return True
    except PageError:
        return False  # a read-only vault: the next start reads the notes again


def read(vault: Vault) -> tuple[set[str], dict] | None:
    """(files, notes) as last saved; None when there is no file or it is of another version."""
    path = vault.state_dir / NAME
    try:
        if not path.exists():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION:
            return None
        files = data["files"]
        notes = {}
        for rel, (mtime, size, meta, bad, targets, sub, broken) in data["notes"].items():
            note = notes[rel] = Note((mtime, size), Page(rel, meta), bad, {files[i] for i in targets},
                                     {files[i] for i in sub})
            for *link, target, problem in broken:
                note.broken.append(Resolved(rel, Link(link[0], tuple(link[1]), *link[2:]),
                                            None if target is None else files[target], problem))
        return set(files), notes
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError) as e:
        raise Unreadable(f"{path}: not a graph kb can read ({type(e).__name__}); read again from the notes") from None
