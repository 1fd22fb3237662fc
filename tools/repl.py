"""The functions an agent calls inside its REPL, defined once for every agent that reads the
knowledge base (ask and lint), each with the description the root model reads beside it: a tool
travels with its doc (as alexzhang13/rlm's `ToolInfo` does), so the two never drift apart and no
agent writes its own `read` or `search`.

`Tools` is built over a `Corpus` (the pages and sources as text, their frontmatter and the
catalogue) and a search function; it records every text `read`, `grep` and `search` returned
(`seen`), so an answer can be held to what the agent read and cite the pages it came from.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from kb.core.vault import Vault

Search = Callable[[str, int], list[dict]]  # (query, k) -> hits as dicts: path, title, kind, score, snippet
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
QSTOP = set("""what which who whom whose when where why how is are was were do does did the a an of to in on
for and or by with from that this these those it its as at be been can could should would will about
according into than then there their they many much according note notes""".split())
GREP_SECONDS = 2.0  # a pattern runs in kb's process: a slow one is stopped, not waited for
WHERE = ("sources", "pages", "all")


def terms(text: str) -> set[str]:
    return {w.lower().rstrip(".") for w in WORD.findall(text) if w.lower() not in QSTOP and len(w) > 1}


def passage(text: str, question: str, max_chars: int) -> str:
    """The paragraphs of `text` that share most words with the question, in their own order."""
    if len(text) <= max_chars:
        return text
    q = terms(question)
    paras = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    scored = sorted(range(len(paras)), key=lambda i: -len(q & terms(paras[i])))
    keep, size = set(), 0
    for i in scored:
        if size + len(paras[i]) > max_chars and keep:
            continue
        keep.add(i)
        size += len(paras[i])
        if size >= max_chars:
            break
    return "\n\n".join(paras[i] for i in sorted(keep))[:max_chars]


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


@dataclass(frozen=True)
class Seen:
    """A text a tool returned to the agent: what it read, from which page, by which tool."""

    page: str  # the page to cite (a raw source's page)
    text: str
    tool: str  # read | grep | search (a snippet only)


@dataclass
class Corpus:
    """The knowledge base as data: every text by vault path, and how a source page pairs with its
    raw file (read together, cited as the page, which is what a reader opens)."""

    texts: dict[str, str] = field(default_factory=dict)  # path -> text (wiki pages and raw sources)
    titles: dict[str, str] = field(default_factory=dict)
    page_of: dict[str, str] = field(default_factory=dict)  # raw path -> its source page
    raw_of: dict[str, str] = field(default_factory=dict)  # source page -> its raw path
    meta: dict[str, dict] = field(default_factory=dict)  # page -> title, kind, aliases, sources, tags
    index: list[dict] = field(default_factory=list)  # the catalogue: path, title, kind, description

    def cite(self, path: str) -> str:
        return self.page_of.get(path, path)

    def wiki(self) -> dict[str, str]:
        return {p: t for p, t in self.texts.items() if not p.startswith("raw/")}

    def sources(self) -> dict[str, str]:
        return {p: t for p, t in self.texts.items() if p.startswith("raw/")}

    def title(self, path: str) -> str:
        """What a reader calls a text: a raw source by its source page's title."""
        page = self.cite(path)
        return self.titles.get(page) or self.titles.get(path) or path.rsplit("/", 1)[-1].removesuffix(".md")


class Tools:
    """The REPL functions over one corpus, for one run."""

    def __init__(self, corpus: Corpus, search: Search):
        self.corpus = corpus
        self._search = search
        self.reads: list[str] = []  # the paths read() returned, in order
        self.seen: list[Seen] = []  # every text a tool returned, in order

    def read(self, path: str, near: str = "", chars: int = 0) -> str:
        c, path = self.corpus, str(path)
        if path not in c.texts:  # a title works too
            match = [p for p, t in c.titles.items() if t.lower() == path.lower()]
            if not match:
                raise KeyError(f"no page {path!r}; use a path from search() or from pages/sources")
            path = match[0]
        self.reads.append(path)
        raw = c.raw_of.get(path)
        text = c.texts[path]
        if raw and raw in c.texts:  # a source page comes with its source's full text
            text = c.texts[path] + "\n\n--- full text of the source ---\n\n" + c.texts[raw]
        if near:  # a long page cut to its paragraphs about `near`: what a sub-model can take in
            text = passage(text, str(near), max(500, min(int(chars or 6000), 50_000)))
        self.seen.append(Seen(c.cite(path), text, "read"))
        return text

    def search(self, query: str, k: int = 5) -> list[dict]:
        hits = [dict(h, page=self.corpus.cite(h["path"])) for h in self._search(str(query), max(1, min(int(k), 20)))]
        for h in hits:  # `page`: what to read and cite (a raw source's page, which reads with its text)
            self.seen.append(Seen(h["page"], f"{h.get('title', '')}\n{h.get('snippet', '')}", "search"))
        return hits

    def grep(self, pattern: str, where: Any = "sources", context: int = 150, limit: int = 5) -> list[dict]:
        """Every text that matches `pattern` (a regular expression, case-insensitive), with the
        passages around its first matches. Counting and listing across the whole knowledge base
        is code over this, not a model reading every page."""
        import regex
        pattern = str(pattern)
        if not pattern or len(pattern) > 500:
            raise ValueError("grep needs a pattern of 1 to 500 characters")
        try:
            rx = regex.compile(pattern, regex.I | regex.V0)
        except regex.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        context, limit = max(0, min(int(context), 1000)), max(1, min(int(limit), 20))
        deadline = time.monotonic() + GREP_SECONDS
        out = []
        for path in self._where(where):
            text = self.corpus.texts[path]
            spans = []
            try:
                for m in rx.finditer(text, timeout=max(0.01, deadline - time.monotonic())):
                    spans.append(m.span())
            except TimeoutError:
                raise ValueError(f"the pattern took over {GREP_SECONDS:g}s; use a simpler one") from None
            if not spans:
                continue
            windows: list[list[int]] = []
            for a, b in spans:
                a, b = max(0, a - context), min(len(text), b + context)
                if windows and a <= windows[-1][1]:
                    windows[-1][1] = max(windows[-1][1], b)
                elif len(windows) < limit:
                    windows.append([a, b])
            matches = [" ".join(text[a:b].split()) for a, b in windows]
            found = {"path": path, "page": self.corpus.cite(path), "title": self.corpus.title(path),
                     "count": len(spans), "matches": matches}
            self.seen.append(Seen(found["page"], found["title"] + "\n" + "\n".join(matches), "grep"))
            out.append(found)
        return out

    def _where(self, where: Any) -> list[str]:
        c = self.corpus
        if isinstance(where, str) and where in WHERE:
            return sorted(c.sources() if where == "sources" else c.wiki() if where == "pages" else c.texts)
        paths = [where] if isinstance(where, str) else list(where) if isinstance(where, (list, tuple)) else None
        if paths is None or not all(isinstance(p, str) for p in paths):
            raise ValueError(f"where must be one of {', '.join(WHERE)}, a path or a list of paths")
        unknown = [p for p in paths if p not in c.texts]
        if unknown:
            raise ValueError(f"no page {unknown[0]!r}; use paths from pages, sources or search()")
        return list(dict.fromkeys(paths))

    def infos(self) -> list[ToolInfo]:
        return [ToolInfo("search", "search(query, k=5) -> list of {path, page, title, kind, score, snippet}",
                         "the pages and sources that best match the words of query", self.search),
                ToolInfo("read", "read(path, near='', chars=0) -> str", "the full text of a page or raw "
                         "source; with near, only its paragraphs about those words (up to chars)", self.read),
                ToolInfo("grep", "grep(pattern, where='sources', context=150, limit=5) -> list of {path, page, "
                         "title, count, matches}", "every text matching a regular expression (case-"
                         "insensitive), with passages around its matches; where: 'sources' (the notes as "
                         "written), 'pages', 'all', a path or a list of paths", self.grep)]


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
