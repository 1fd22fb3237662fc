"""`.kb/graph.json`: what the link graph in memory (kb/core/graph.py) last knew, for the next start.

Per note its file's stamp, its frontmatter, the files its links reach (as indices into the file
list), those reached with a `#heading` or `#^block`, and its broken links whole; never its text.
It is derived state, read only by kb: a file of another shape, or any error reading it, is
`Unreadable` and the graph reads the notes again; a vault kb cannot write to keeps none.
"""

from __future__ import annotations

import json

from kb.core.errors import PageError
from kb.core.links import Resolved
from kb.core.markdown import Link
from kb.core.vault import Page, Vault, atomic_write

NAME = "graph.json"
VERSION = 1
_LINK = ("target", "heading", "block", "alias", "embed", "kind", "line", "prop")


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
    from kb.core.graph import Note
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
