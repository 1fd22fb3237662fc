"""Three ways to answer a question from the wiki with the same model, so they can be compared:

- rlm: the RLM loop; the pages live in REPL variables, search/read/llm_query are functions;
- rag: the top search results, cut to their most relevant passages, in one prompt;
- stuff: as much of the wiki as fits in the context window, in index order, in one prompt.

Every mode returns the pages it used; citations become wikilinks in code, so every cited page
exists. "Not in the knowledge base" is the one phrase for a question the wiki cannot answer, and
`is_refusal` (agents/evidence.py) the one test of whether an answer says so, here and in `kb eval`.
The rlm answer is held to the text its run read before it is published (agents/evidence.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.agents.engine import Engine
from kb.agents.evidence import NOT_FOUND, Recorder, gather, hold, is_refusal
from kb.agents.trace import Event, Evidence
from kb.core.pages import link
from kb.tools.repl import Tools, passage, terms

PROMPTS = Path(__file__).with_name("prompts")
FIRST_STEPS = ("choice", "code")  # the root model's first move: a typed choice kb runs, or its own code
__all__ = ["NOT_FOUND", "Answer", "Doc", "cite", "fit", "is_refusal", "one_prompt", "passage", "rlm_answer",
           "terms"]


@dataclass
class Doc:
    path: str  # where the text came from
    title: str
    text: str
    cite: str  # the page a citation should link to (a raw file's source page)


@dataclass
class Answer:
    text: str
    cited: list[tuple[str, str]] = field(default_factory=list)  # (path, title)
    mode: str = ""
    status: str = "final"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    trace_id: str | None = None
    used: list[Doc] = field(default_factory=list)  # the documents the answer was drawn from

    @property
    def not_found(self) -> bool:
        return is_refusal(self.text)


def _system() -> str:
    return (PROMPTS / "answer_system.md").read_text(encoding="utf-8")


def cite(answer: str, docs: list[Doc]) -> tuple[str, list[tuple[str, str]]]:
    """Replace [n] markers with wikilinks to the documents' pages; return the pages cited."""
    cited: list[tuple[str, str]] = []

    def replace(m: re.Match) -> str:
        out = []
        for n in re.findall(r"\d+", m.group(0)):
            i = int(n) - 1
            if 0 <= i < len(docs):
                d = docs[i]
                if (d.cite, d.title) not in cited:
                    cited.append((d.cite, d.title))
                out.append(link(d.cite, d.title))
        return " (" + ", ".join(out) + ")" if out else ""

    text = re.sub(r"\s*\[(?:doc(?:ument)?\s*)?\d+(?:\s*,\s*\d+)*\]", replace, answer)
    return text.strip(), cited


def one_prompt(engine: Engine, question: str, docs: list[Doc], mode: str, max_tokens: int = 300) -> Answer:
    t0 = time.perf_counter()
    # The question goes before the documents and again after them, and the refusal is a soft
    # clause at the end: a 0.5B model told up front to "reply exactly: Not in the knowledge base"
    # says so even when the answer is in front of it (measured on qa-dev: 0/10 vs 6/10 answered).
    blocks = [f"[{i}] {d.title}\n{d.text}" for i, d in enumerate(docs, 1)]
    user = (f"Question: {question}\n\nDocuments:\n\n" + "\n\n".join(blocks) +
            f"\n\nQuestion again: {question}\nAnswer in one or two sentences. If the documents do not "
            "answer it, say it is not in the knowledge base.\nAnswer:")
    reply = engine.chat([{"role": "system", "content": _system()}, {"role": "user", "content": user}],
                        max_tokens=max_tokens, temperature=0.0)
    text, cited = cite(reply.text.strip(), docs)
    ans = Answer(text=text or NOT_FOUND, cited=cited, mode=mode, prompt_tokens=reply.usage.prompt_tokens,
                 completion_tokens=reply.usage.completion_tokens, seconds=time.perf_counter() - t0, used=docs)
    if not ans.not_found and not cited and docs:  # the model forgot to cite: the best match it read
        ans.cited = [(docs[0].cite, docs[0].title)]
    if ans.not_found:
        ans.text, ans.cited = NOT_FOUND, []
    return ans


def fit(docs: list[Doc], budget_chars: int, question: str, per_doc: int | None = None) -> list[Doc]:
    out, used = [], 0
    for d in docs:
        room = min(per_doc or budget_chars, budget_chars - used)
        if room < 400:
            break
        text = passage(d.text, question, room)
        out.append(Doc(d.path, d.title, text, d.cite))
        used += len(text) + len(d.title) + 40
    return out


def rlm_answer(engine: Engine, question: str, tools: Tools, *, budget=None, trace_dir: Path | None = None,
               on_event: Callable[[Event], None] | None = None, limits=None,
               sub_engine: Engine | None = None, first_step: str = "choice") -> Answer:
    """The RLM loop over the corpus behind `tools`: the REPL holds the pages, the sources, their
    frontmatter and the catalogue. With `first_step="choice"` the root model's first move is a
    typed choice (agents/choice.py) that kb turns into the first cell; with "code" it writes code
    from the start. The answer is published only as far as the text the run read backs it, and
    cites the pages that text came from."""
    from kb.agents.choice import step
    from kb.agents.rlm import RLM, Budget
    if first_step not in FIRST_STEPS:
        raise ValueError(f"first_step must be one of {', '.join(FIRST_STEPS)}, got {first_step!r}")
    t0 = time.perf_counter()
    c = tools.corpus
    budget = budget or Budget(iterations=6, sub_calls=16)
    variables = {"pages": c.wiki(), "sources": c.sources(), "meta": c.meta, "index": c.index}
    events: list[Event] = []
    sub = Recorder(sub_engine or engine)  # the helper model: the root's own unless [ask] sub_model names one
    held = {}

    def seen(e: Event) -> None:
        events.append(e)
        if on_event:
            on_event(e)

    def publish(answer, answer_from: str):
        text = answer if answer_from != "output" else None  # a cell's raw output is never an answer
        h = held["h"] = hold(text, gather(tools.seen, events, sub.calls), {p: c.title(p) for p in c.titles},
                             question)
        return h.text, Evidence(dropped=h.dropped, missing=h.missing, cited=h.cited, refused=h.refused)

    notes = "sources" if c.sources() else "pages"
    kw = " ".join(sorted(terms(question), key=lambda w: -len(w))[:1]) or "keyword"
    example = (f'found = grep(r"\\b{re.escape(kw)}", where="{notes}")\n'
               'print(len(found), "notes match")\n'
               'for f in found:\n'
               '    print(f["title"], "|", f["page"], "|", f["matches"][0][:200])')
    rlm = RLM(engine, sub_engine=sub, tools=tools.infos(), budget=budget, limits=limits, trace_dir=trace_dir,
              on_event=seen, system_prompt=(PROMPTS / "ask_rlm.md").read_text(encoding="utf-8"))
    first = step(question, notes=notes, batch=max(1, budget.sub_calls - 4)) if first_step == "choice" else None
    result = rlm.run(f"Question: {question}", variables, example=example, first_step=first,
                     answer_var="answer", publish=publish)
    h = held.get("h") or hold(None, [])
    cited = [(p, c.titles.get(p) or c.title(p)) for p in h.cited]
    by_page: dict[str, list[str]] = {}
    for s in tools.seen:
        if s.page in h.cited:
            by_page.setdefault(s.page, []).append(s.text)
    used = [Doc(p, title, "\n\n".join(by_page.get(p, [])), p) for p, title in cited]
    return Answer(text=h.text, cited=cited, mode="rlm", status=result.status,
                  prompt_tokens=result.tokens, completion_tokens=0, seconds=time.perf_counter() - t0,
                  trace_id=result.trace_id, used=used)
