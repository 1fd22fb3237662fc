"""Answers held to their evidence: an answer is published only if its names and numbers occur
in text the agent read in this run.

Measured before this check: every negative question got an invented figure stated as fact. The
figures came from the helper model (its replies read well and are sometimes false) and from the
root model's own last word. So the evidence is what the run *read*, never what a model *said*:

- every text a REPL tool returned (read, grep, search: `Tools.seen`), with the page it is from;
- what the cells printed, the values the answer variable took and the texts code handed the
  helper model, as computed (a count is in no page, but code counted it), less every helper reply
  and every string literal the cells' code wrote, and every number literal the model's code
  wrote (`print("42%")` is not evidence; `print(len(found))` is; kb's own cells keep their
  numbers, `count == 1` being no claim about the notes).

Each sentence of the answer passes when the grounding gate's name and number extraction finds
nothing in it that this text lacks; the rest are left out and named. Nothing left: "Not in the
knowledge base." Citations are the fewest pages whose texts hold the kept sentences' names and
numbers, not every page read.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from kb.agents.question import form, naming, parts, unnamed
from kb.agents.trace import Code, Draft, Event, Output
from kb.core.grounding import Source, content_words, split, unsupported
from kb.core.markdown import WL_CLOSE, WL_OPEN

NOT_FOUND = "Not in the knowledge base."
REFUSAL = re.compile(r"not in the knowledge base|\bnot in the (?:documents?|notes?|text)\b"
                     r"|\bnot (?:mentioned|stated|specified|given|found in)\b|\bno information\b"
                     r"|\b(?:does|do|did)(?: not|n['’]t) (?:say|mention|state|specify|contain|provide|give)\b"
                     r"|\b(?:cannot|can['’]t|could not|couldn['’]t) find\b")
PATH = re.compile(rf"\s*\(?{WL_OPEN}[^\]]*{WL_CLOSE}\)?|\s*\(?\b(?:wiki|raw)/[^\s)]+\)?")


def is_refusal(text: str) -> bool:
    """The one test of "the knowledge base does not say": the answer opens with the phrase, or
    is short and says so in other words. A long answer that mentions a gap is still an answer."""
    t = " ".join(str(text or "").lower().split())
    return t.startswith(("not in the knowledge base", "i could not find", "i cannot find")) or (
        len(t) < 240 and REFUSAL.search(t) is not None)


@dataclass
class Read:
    page: str | None  # the page to cite; None for what the run's code computed
    text: str
    tool: str = "code"  # read | grep | search (a snippet only) | code


class Recorder:
    """The helper model as a run sees it, remembering each prompt and reply in full (the trace
    keeps only their first 2,000 characters)."""

    def __init__(self, engine):
        self.engine = engine
        self.name = getattr(engine, "name", "")
        self.calls: list[tuple[str, str]] = []

    def chat(self, messages, **kw):
        reply = self.engine.chat(messages, **kw)
        self.calls.append(("\n".join(m["content"] for m in messages), reply.text))
        return reply


def literals(code: str, numbers: bool = True) -> set[str]:
    """The strings (f-string parts included) and, with `numbers`, the numbers a cell's code spells out."""
    kinds = (str, int, float) if numbers else (str,)
    try:
        nodes = ast.walk(ast.parse(code))
        found = {str(n.value) for n in nodes if isinstance(n, ast.Constant)
                 and isinstance(n.value, kinds) and not isinstance(n.value, bool)}
    except (SyntaxError, ValueError):
        found = {a or b for a, b in re.findall(r"'([^'\n]+)'|\"([^\"\n]+)\"", code)}
    return {x.strip() for x in found if x.strip()}


def _without(text: str, parts: list[str]) -> str:
    for part in parts:  # longest first, so a literal inside a reply goes with the reply
        if part[:1].isalnum() or part[-1:].isalnum():
            text = re.sub(rf"(?<!\w){re.escape(part)}(?!\w)", " ", text)
        else:
            text = text.replace(part, " ")
    return text


def gather(seen: list, events: list[Event], sub_calls: list[tuple[str, str]]) -> list[Read]:
    """Everything the run read: tool results (`Tools.seen`) with their pages, then what code computed."""
    reads = [Read(s.page, s.text, s.tool) for s in seen]
    said = [reply.strip() for _, reply in sub_calls if len(reply.strip()) >= 3]
    written = set().union(*(literals(e.code, numbers=not e.seeded) for e in events if isinstance(e, Code)))
    strip = sorted(set(said) | written, key=len, reverse=True)
    computed = [e.output for e in events if isinstance(e, Output) and e.output] + \
        [str(e.answer) for e in events if isinstance(e, Draft)] + [p for p, _ in sub_calls]
    reads += [Read(None, _without(text, strip)) for text in computed]
    return reads


@dataclass
class Held:
    text: str  # what is published
    cited: list[str] = field(default_factory=list)  # pages, in the order they were chosen
    dropped: list[str] = field(default_factory=list)  # sentences left out
    missing: list[str] = field(default_factory=list)  # their names and numbers no text read holds
    refused: bool = False


def hold(answer: str | None, reads: list[Read], titles: dict[str, str] | None = None,
         question: str = "") -> Held:
    """The answer as it may be published: its sentences whose names and numbers the run read.
    What the question names must be in that text too: asked about Mamba-3, which no note names,
    a 0.5B model answered with the authors another paper's note gives. Such a question is refused
    whole; a question that joins several keeps the answers about what was read. A question across
    the notes is exempt: its grep decides, and "arXiv IDs" are a form, not a thing a note names."""
    titles = titles or {}
    body = " ".join(PATH.sub("", str(answer or "")).split())
    if not body or is_refusal(body):
        return Held(NOT_FOUND, refused=True)
    read = "\n".join(r.text for r in reads)
    absent = [] if form(question) else \
        unnamed(question, read + "\n" + "\n".join(titles[p] for p in {r.page for r in reads} if p in titles))
    if absent and len(parts(question)) < 2:
        return Held(f"Not in the knowledge base: no note read names {', '.join(absent)}.", missing=absent,
                    refused=True)
    everything = Source.of(read)
    kept, dropped, missing = [], [], []
    for sentence in split(body):
        miss = [a for a in absent if naming(a).search(sentence)] + unsupported(sentence, everything)
        if miss:
            dropped.append(sentence)
            missing.extend(m for m in miss if m not in missing)
        else:
            kept.append(sentence)
    if not kept:
        return Held(NOT_FOUND, dropped=dropped, missing=missing, refused=True)
    text = " ".join(kept)
    if dropped:
        text += f" The rest is not in the knowledge base: no text read states {', '.join(missing[:6])}."
    return Held(text, cite(" ".join(kept), reads, titles), dropped, missing)


def cite(kept: str, reads: list[Read], titles: dict[str, str], most: int = 10) -> list[str]:
    """The pages the answer names by title whose text backs it (a list of notes cites each note),
    then the fewest pages holding the rest of its names and numbers (greedy cover, the page read in
    full before one seen in a search snippet); with no name or number in it, the page sharing
    most of its words."""
    pages: dict[str, list[str]] = {}
    opened: set[str] = set()  # read in full or grepped, not only seen in a search snippet
    for r in reads:
        if r.page:
            pages.setdefault(r.page, []).append(r.text)
            if r.tool != "search":
                opened.add(r.page)
    sources = {p: Source.of("\n".join(t)) for p, t in pages.items()}
    keys = set(unsupported(kept, Source.of("")))
    if not keys:
        words = set(content_words(kept))
        best = max(sources, key=lambda p: len(words & sources[p].words), default=None)
        return [best] if best and words & sources[best].words else []
    held = {p: keys - set(unsupported(kept, s)) for p, s in sources.items()}
    low = kept.lower()
    named = [p for p in held if p in opened and len(titles.get(p, "")) >= 4 and titles[p].lower() in low
             and held[p] - set(unsupported(titles[p], Source.of("")))]  # backs more than its own title
    out = sorted(named, key=lambda p: low.index(titles[p].lower()))[:most]
    left = set(keys).difference(*(held[p] for p in out))
    while left and len(out) < most:
        page = max(held, key=lambda p: (len(held[p] & left), p in opened), default=None)
        if page is None or not held[page] & left:
            break
        out.append(page)
        left -= held[page]
    return out

