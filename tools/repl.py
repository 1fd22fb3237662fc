"""The functions an agent calls inside its REPL, defined once for every agent that reads the
knowledge base (ask and lint), each with the description the root model reads beside it: a tool
travels with its doc (as alexzhang13/rlm's `ToolInfo` does), so the two never drift apart and no
agent writes its own `read` or `search`.

`Tools` is built over a `Corpus` (the pages and sources as text) and a search function; it
records what `read` returned, so an answer can cite the pages the agent actually read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from kb.core.vault import Vault

Search = Callable[[str, int], list[dict]]  # (query, k) -> hits as dicts: path, title, kind, score, snippet


@dataclass(frozen=True)
class ToolInfo:
    name: str
    signature: str  # how it is called and what it returns, as the model reads it
    doc: str  # what it is for, one line
    fn: Callable[..., Any]

    @property
    def line(self) -> str:
        """The tool as the root model's prompt lists it."""
        return f"{self.signature}: {self.doc}"


@dataclass
class Corpus:
    """The knowledge base as data: every text by vault path, and how a source page pairs with its
    raw file (read together, cited as the page, which is what a reader opens)."""

    texts: dict[str, str] = field(default_factory=dict)  # path -> text (wiki pages and raw sources)
    titles: dict[str, str] = field(default_factory=dict)
    page_of: dict[str, str] = field(default_factory=dict)  # raw path -> its source page
    raw_of: dict[str, str] = field(default_factory=dict)  # source page -> its raw path

    def cite(self, path: str) -> str:
        return self.page_of.get(path, path)

    def wiki(self) -> dict[str, str]:
        return {p: t for p, t in self.texts.items() if not p.startswith("raw/")}

    def sources(self) -> dict[str, str]:
        return {p: t for p, t in self.texts.items() if p.startswith("raw/")}


class Tools:
    """The REPL functions over one corpus, for one run."""

    def __init__(self, corpus: Corpus, search: Search):
        self.corpus = corpus
        self._search = search
        self.reads: list[str] = []  # the paths read() returned, in order

    def read(self, path: str) -> str:
        c, path = self.corpus, str(path)
        if path not in c.texts:  # a title works too
            match = [p for p, t in c.titles.items() if t.lower() == path.lower()]
            if not match:
                raise KeyError(f"no page {path!r}; use a path from search() or from pages/sources")
            path = match[0]
        self.reads.append(path)
        raw = c.raw_of.get(path)
        if raw and raw in c.texts:  # a source page comes with its source's full text
            return c.texts[path] + "\n\n--- full text of the source ---\n\n" + c.texts[raw]
        return c.texts[path]

    def search(self, query: str, k: int = 5) -> list[dict]:
        return self._search(str(query), max(1, min(int(k), 20)))

    def infos(self) -> list[ToolInfo]:
        return [ToolInfo("search", "search(query, k=5) -> list of {path, title, kind, score, snippet}",
                         "the pages and sources that best match the words of query", self.search),
                ToolInfo("read", "read(path) -> str", "the full text of a page or raw source", self.read)]


def index_search(vault: Vault) -> Search:
    """Search over the vault's index, opened and brought up to date on the first query, so an
    agent that never searches costs nothing."""
    index = None

    def search(query: str, k: int) -> list[dict]:
        nonlocal index
        if index is None:
            from kb.tools.search import SearchIndex
            index = SearchIndex(vault)
            index.sync()
        return [h.as_dict() for h in index.search(query, k)]

    return search
