"""Link resolution as Obsidian does it, and the vault's link graph.

`LinkIndex.resolve` ports Obsidian's `MetadataCache.getLinkpathDest` step by step:
1. an empty linkpath (`[[#Heading]]`) is the linking note itself;
2. candidates are the files whose name matches the linkpath's last component (`.md` optional),
   compared case-insensitively; a bare name with exactly one candidate resolves to it;
3. `./` and `../` resolve against the linking note's folder;
4. the exact vault-relative path (a leading `/` means the vault root, and then nothing else is tried);
5. otherwise every candidate whose path ends with the linkpath: those under the linking note's
   folder first, then the rest, each group shortest path first.
Names are compared NFC-normalised; files under dot-folders are never targets. A link with
`#Heading` or `#^block` is broken when the target lacks that heading or block.
"""

from __future__ import annotations

import posixpath
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable

from kb.core.markdown import Link, Parsed, heading_key


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _low(s: str) -> str:
    return nfc(s).lower()


class LinkIndex:
    """Every file in the vault, keyed by lower-cased file name (Obsidian's uniqueFileLookup)."""

    def __init__(self, paths: Iterable[str]):
        self.paths: list[str] = sorted({nfc(p) for p in paths})
        self._by_name: dict[str, list[tuple[str, str]]] = defaultdict(list)  # name -> [(path, lowered)]
        self._lower: set[str] = set()
        for p in self.paths:
            low = p.lower()  # already NFC
            self._by_name[low.rsplit("/", 1)[-1]].append((p, low))
            self._lower.add(low)

    def __contains__(self, path: str) -> bool:
        return _low(path) in self._lower

    def resolve(self, linkpath: str, source: str) -> str | None:
        """The vault path `linkpath` (written in note `source`) points at, or None."""
        raw = nfc(linkpath.strip())
        if raw == "":
            return nfc(source) if source in self else None
        n = raw.lower()
        name = n.rsplit("/", 1)[-1]
        cands = self._by_name.get(name) if "." in name else None
        if not cands:
            n = (raw + ".md").lower()
            name = n.rsplit("/", 1)[-1]
            cands = self._by_name.get(name)
        if not cands:
            return None
        if name == n and len(cands) == 1:
            return cands[0][0]
        folder = None  # the linking note's folder, lower-cased: only some steps need it
        if n.startswith(("./", "../")):
            # As in Obsidian, `folder` keeps its adjusted value for the suffix step below.
            folder = _low(posixpath.dirname(nfc(source)))
            if n.startswith("./../"):
                n = n[2:]
            if n.startswith("./"):
                folder = folder + "/" if folder else folder
                n = folder + n[2:]
            else:
                while n.startswith("../"):
                    n = n[3:]
                    folder = posixpath.dirname(folder)
                folder = folder + "/" if folder else folder
                n = folder + n
            for p, low in cands:
                if low == n:
                    return p
        if n.startswith("/"):
            n = n[1:]
        for p, low in cands:
            if low == n:
                return p
        if raw.startswith("/"):
            return None
        if folder is None:
            folder = _low(posixpath.dirname(nfc(source)))
        near, far = [], []
        for p, low in cands:
            if low.endswith(n):
                (near if low.startswith(folder) else far).append(p)
        ranked = sorted(near, key=lambda p: (len(p), p)) + sorted(far, key=lambda p: (len(p), p))
        return ranked[0] if ranked else None


@dataclass
class Resolved:
    source: str
    link: Link
    target: str | None  # vault path, or None when the linkpath matches no file
    problem: str | None = None  # why the link is broken, when it is

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_subpath(link: Link, target: Parsed | None) -> str | None:
    """Does the target note have the heading chain / block id the link asks for?"""
    if not link.heading and not link.block:
        return None
    if target is None:
        return "subpath into a file that is not a note"
    if link.block:
        return None if link.block.lower() in target.blocks else f"no block ^{link.block}"
    keys = [heading_key(h) for h in target.headings]
    at = 0
    for h in link.heading:  # Obsidian's `#A#B`: heading B somewhere after heading A
        try:
            at = keys.index(heading_key(h), at) + 1
        except ValueError:
            return f"no heading '{h}'"
    return None


@dataclass
class Graph:
    """Outgoing links of every note, the backlinks they imply, and the broken ones."""

    outlinks: dict[str, list[Resolved]] = field(default_factory=dict)
    backlinks: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    @property
    def broken(self) -> list[Resolved]:
        return [r for rs in self.outlinks.values() for r in rs if not r.ok]

    def inbound(self, path: str) -> set[str]:
        return self.backlinks.get(path, set())


def build_graph(index: LinkIndex, parsed: dict[str, Parsed],
                on_missing: Callable[[str], Parsed | None] | None = None) -> Graph:
    """Resolve every link of every parsed note. `parsed` maps note path -> its parse."""
    graph = Graph()
    known: dict[tuple[str, str], str | None] = {}  # (linkpath, the linking note's folder) -> target
    for source, p in parsed.items():
        out = []
        folder = posixpath.dirname(source)
        for link in p.links:
            if not link.target.strip():  # the note itself: the one resolution that needs its name
                target = index.resolve(link.target, source)
            elif (link.target, folder) in known:  # a resolution depends on nothing else
                target = known[(link.target, folder)]
            else:
                target = known[(link.target, folder)] = index.resolve(link.target, source)
            if target is None:
                out.append(Resolved(source, link, None, f"no file matches '{link.target}'"))
                continue
            tp = parsed.get(target) if target.lower().endswith(".md") else None
            if tp is None and on_missing and target.lower().endswith(".md"):
                tp = on_missing(target)
            problem = check_subpath(link, tp)
            out.append(Resolved(source, link, target, problem))
            if target != source:
                graph.backlinks[target].add(source)
        graph.outlinks[source] = out
    return graph
