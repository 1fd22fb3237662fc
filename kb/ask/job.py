"""`kb ask`: answer a question from the knowledge base, render it, and optionally file it back.

The corpus (wiki pages and raw sources) is loaded once per Ask, so `kb eval` can ask many
questions over one load. Traces of every run go to `.kb/traces/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from kb.agents.answer import Answer, Doc, fit, one_prompt, rlm_answer
from kb.agents.trace import End, Event, Llm, Start, Trace
from kb.core import catalog, kinds, pages
from kb.core.errors import KbError, PageError, UsageError
from kb.core.manifest import Manifest
from kb.core.vault import Vault
from kb.tools.repl import Corpus, Tools

MAX_QUESTION = 4000
MODES = ("rlm", "rag", "stuff")
FORMATS = ("md", "marp", "chart")


def check_question(question: str) -> str:
    q = " ".join((question or "").split())
    if not q:
        raise UsageError("empty question")
    if len(question) > MAX_QUESTION:
        raise UsageError(f"question too long ({len(question):,} characters; the limit is {MAX_QUESTION:,}): "
                         "ask something shorter, or add the text to raw/ and compile it")
    return q


@dataclass
class AskSettings:
    k: int = 5
    context_tokens: int = 8192
    answer_tokens: int = 300
    chars_per_token: float = 3.2
    first_step: str = "choice"  # rlm: the root model's first move is a typed choice ("code": its own code)

    @property
    def doc_chars(self) -> int:  # what fits after the prompt frame and the answer
        return int((self.context_tokens - self.answer_tokens - 500) * self.chars_per_token)


def _strings(value) -> list[str]:
    """A frontmatter list as plain strings (the REPL gets JSON)."""
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else [str(value)]


class Ask:
    """Takes an engine factory like every job: the model loads on the first question, so an empty
    vault is reported (corpus()) before a model is read into memory."""

    def __init__(self, vault: Vault, engine_factory: Callable[[], object] | None, *,
                 settings: AskSettings | None = None, on_event: Callable[[Event], None] | None = None,
                 sub_engine_factory: Callable[[], object] | None = None):
        self.vault = vault
        self.engine_factory = engine_factory
        self.sub_engine_factory = sub_engine_factory  # the model behind llm_query; None: the root's
        self._engine = None
        self.settings = settings or AskSettings()
        self.on_event = on_event
        self._corpus: Corpus | None = None
        self._index = None

    @property
    def engine(self):
        if self._engine is None:
            if self.engine_factory is None:
                raise KbError("no model configured")
            self._engine = self.engine_factory()
        return self._engine

    @property
    def trace_dir(self) -> Path:
        return self.vault.state_dir / "traces"

    # -- the knowledge base as data ----------------------------------------------------------
    def corpus(self) -> Corpus:
        if self._corpus is not None:
            return self._corpus
        from kb.core.extract import MAX_READ_MB, SourceError, extract, limit
        c = Corpus()
        for rel in self.vault.wiki_pages():
            if not kinds.is_page(rel):
                continue
            try:
                page = self.vault.read(rel)
            except PageError:
                continue
            c.texts[rel], c.titles[rel] = page.body, page.title
            c.meta[rel] = {"title": page.title, "kind": str(page.meta.get("type") or ""),
                           **{k: _strings(page.meta.get(k)) for k in ("aliases", "sources", "tags")}}
        c.index = [{"path": p, "title": t, "kind": c.meta.get(p, {}).get("kind", ""), "description": d}
                   for p, t, d in catalog.index_entries(self.vault) if p in c.texts]
        m = Manifest.load(self.vault)
        for raw, entry in m.sources.items():
            if entry.get("page") and entry["page"] in c.texts:
                c.page_of[raw], c.raw_of[entry["page"]] = entry["page"], raw
        for raw in self.vault.sources():
            try:
                doc = extract(self.vault.abspath(raw), raw, max_bytes=limit(MAX_READ_MB))
            except (SourceError, OSError):
                continue
            c.texts[raw], c.titles[raw] = doc.text, doc.title
        if not c.texts:
            raise KbError("the knowledge base is empty: add sources with `kb ingest` (or to raw/) "
                          "and run `kb compile`")
        self._corpus = c
        return c

    def search(self, query: str, k: int = 5) -> list[dict]:
        from kb.tools.search import SearchIndex
        if self._index is None:
            self._index = SearchIndex(self.vault)
            self._index.sync()
        return [h.as_dict() for h in self._index.search(query, k)]

    def _docs(self, hits: list[dict]) -> list[Doc]:
        """Search hits as documents: a source page and its raw file are one document (the raw
        text, which is complete; cited as the page, which is what a reader opens)."""
        c = self.corpus()
        docs, seen = [], set()
        for h in hits:
            cite = c.cite(h["path"])
            if cite in seen or h["path"] not in c.texts:
                continue
            seen.add(cite)
            raw = c.raw_of.get(cite, h["path"] if h["path"].startswith(kinds.RAW) else None)
            text = c.texts.get(raw) if raw else c.texts[h["path"]]
            docs.append(Doc(h["path"], c.titles.get(cite, h["title"]), text or c.texts[h["path"]], cite))
        return docs

    # -- answering ---------------------------------------------------------------------------
    def answer(self, question: str, mode: str = "rlm") -> Answer:
        question = check_question(question)
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        c = self.corpus()
        if mode == "rlm":
            return self._rlm(question, c)
        trace = Trace(self.trace_dir, on_event=self.on_event)
        trace.emit(Start(task=question, mode=mode))
        if mode == "rag":
            docs = fit(self._docs(self.search(question, self.settings.k * 2))[:self.settings.k],
                       self.settings.doc_chars, question, per_doc=self.settings.doc_chars // self.settings.k)
        else:
            order = [p for p in catalog.index_entries(self.vault)]
            docs = fit([Doc(p, t, c.texts[p], p) for p, t, _ in order if p in c.texts],
                       self.settings.doc_chars, question, per_doc=2500)
        ans = one_prompt(self.engine, question, docs, mode, max_tokens=self.settings.answer_tokens)
        trace.emit(Llm(iteration=1, text=ans.text, prompt_tokens=ans.prompt_tokens,
                       completion_tokens=ans.completion_tokens, seconds=round(ans.seconds, 3),
                       documents=[d.cite for d in docs]))
        trace.emit(End(status="final", answer=ans.text, iterations=1, sub_calls=0,
                       tokens=ans.prompt_tokens + ans.completion_tokens, seconds=round(ans.seconds, 3)))
        trace.close()
        ans.trace_id = trace.id
        return ans

    def _rlm(self, question: str, c: Corpus) -> Answer:
        sub = self.sub_engine_factory() if self.sub_engine_factory else None
        return rlm_answer(self.engine, question, Tools(c, self.search), trace_dir=self.trace_dir,
                          on_event=self.on_event, sub_engine=sub, first_step=self.settings.first_step)

    # -- output ------------------------------------------------------------------------------
    def render(self, question: str, ans: Answer, fmt: str, path: str, png: Path | None = None,
               png_link: str | None = None):
        from kb.tools import render
        model = getattr(self.engine, "model", "") or ""
        if fmt == "marp":
            from kb.tools import slides
            return slides.marp_deck(path, question, ans.text, ans.cited, mode=ans.mode, model=str(model)), None
        extra: list[str] = []
        chart_png = None
        if fmt == "chart":
            text = "\n\n".join(d.text for d in ans.used) or "\n\n".join(
                self.corpus().texts.get(self.corpus().raw_of.get(p, p), "") for p, _ in ans.cited)
            from kb.tools import chart
            data, why_not = chart.chart_for(self.engine, question, text)
            if data is None:  # the answer stands; the page says in one line why it has no chart
                extra = [f"*No chart: {why_not}.*", ""]
            else:
                chart_png = chart.render_chart(data, png)
                extra = [f"![[{png_link}]]", ""]
        page = render.answer_page(path, question, ans.text, ans.cited, mode=ans.mode, model=str(model),
                                  fmt=fmt, extra=extra)
        return page, chart_png

    def preview(self, question: str, ans: Answer, fmt: str):
        """Render without filing back; a chart goes to `.kb/outputs/chart.png` (one at a time)."""
        png = self.vault.state_dir / "outputs" / "chart.png"
        return self.render(question, ans, fmt, "answer.md", png, str(png))

    def file_back(self, question: str, ans: Answer, fmt: str = "md") -> tuple[str, Path | None]:
        """Save into wiki/answers/ with frontmatter and links; index, log and search follow."""
        name, folder = pages.safe_name(question, 80), kinds.folder("answer")
        path, n = f"{folder}{name}.md", 2
        while (self.vault.root / path).exists():
            path, n = f"{folder}{name} ({n}).md", n + 1
        stem = Path(path).stem
        png_rel = f"{folder}assets/{stem}.png"
        page, png = self.render(question, ans, fmt, path, self.vault.root / png_rel, png_rel)
        written = catalog.write_page(self.vault, page)
        if written.conflict:
            raise KbError(written.message)
        catalog.write_index(self.vault)
        catalog.append_log(self.vault, "answer", question)
        from kb.tools.search import SearchIndex
        SearchIndex(self.vault).sync([path])
        return path, png

