"""The model's part of compile: read a source once, write its summary, key points and the
concepts it is about.

Cost discipline: every raw token goes to the model once, and nothing else is read twice. Each
chunk of a source is one JSON-schema constrained call that returns its summary, key points and
concepts together; a source read in several chunks is merged here, in code, not by a call that
reads the summaries again. The system prompt is short and shared by every call, so llama.cpp
reuses its KV cache for that prefix. Concept names are an enum of terms found in the source by
code (in a long source, those in the chunk): a small model can pick among real names but cannot
invent one.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from kb.agents.engine import Engine, Reply
from kb.core import sentences

PROMPTS = Path(__file__).with_name("prompts")
PROMPT_VERSION = 3  # bump when prompts change: cached results are keyed by it
SUMMARY_SENTENCES = 6  # a source read in chunks: its summary keeps at most this many
KEY_POINTS = 5


@dataclass
class Analysis:
    summary: str
    key_points: list[str]
    concepts: list[dict]  # {"name", "claim"}
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    engine_seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SourceCompiler:
    engine: Engine
    chunk_chars: int = 6000
    max_concepts: int = 5
    reply_tokens: int = 768  # summary, key points and concepts of one chunk; a reply cut here is salvaged
    on_reply: Callable[[Reply], None] | None = None
    system: str = field(default_factory=lambda: (PROMPTS / "compile_system.md").read_text(encoding="utf-8").strip())

    def _chat(self, user: str, stats: Analysis, **kw) -> Reply:
        t0 = time.perf_counter()
        reply = self.engine.chat([{"role": "system", "content": self.system},
                                  {"role": "user", "content": user}], temperature=0.1, **kw)
        stats.calls += 1
        stats.prompt_tokens += reply.usage.prompt_tokens
        stats.completion_tokens += reply.usage.completion_tokens
        stats.engine_seconds += time.perf_counter() - t0
        if self.on_reply:
            self.on_reply(reply)
        return reply

    def chunks(self, text: str) -> list[str]:
        """Split at paragraph breaks near chunk_chars, so no sentence is cut in two. A short tail
        (under a third of chunk_chars) joins the chunk before it: read alone it would cost a call
        and give a summary and concepts of a scrap."""
        out, cur = [], ""
        for para in text.split("\n\n"):
            if cur and len(cur) + len(para) > self.chunk_chars:
                out.append(cur)
                cur = ""
            while len(para) > self.chunk_chars:  # one huge paragraph: hard split
                out.append((cur + para[:self.chunk_chars]).strip())
                cur, para = "", para[self.chunk_chars:]
            cur = f"{cur}\n\n{para}" if cur else para
        if cur.strip():
            if out and len(cur) < self.chunk_chars // 3:
                out[-1] = f"{out[-1]}\n\n{cur}"
            else:
                out.append(cur)
        return out

    def analyse(self, title: str, text: str, candidates: list[str]) -> Analysis:
        stats = Analysis("", [], [])
        parts = self.chunks(text)
        reads = []
        for i, chunk in enumerate(parts):
            where = f" (part {i + 1} of {len(parts)})" if len(parts) > 1 else ""
            terms = (_in_text(candidates, chunk) or candidates) if len(parts) > 1 else candidates
            reads.append(self._read(f"{title}{where}", chunk, terms, stats))
        stats.summary, stats.key_points, stats.concepts = self._merge(reads)
        stats.summary = stats.summary or _fallback_summary(text)
        return stats

    def _read(self, title: str, chunk: str, terms: list[str], stats: Analysis) -> dict:
        """One call: what this chunk says, as {"summary", "key_points", "concepts"}."""
        # No minLength/maxLength (nor pattern) anywhere in this schema: llama.cpp expands bounded
        # repetition into grammars so large that sampling slows ~10x. Lengths are bounded by
        # max_tokens and checked in code instead; a reply cut by max_tokens is salvaged (_loads).
        name_schema: dict = {"enum": terms} if terms else {"type": "string"}
        schema = {
            "type": "object",
            "properties": {
                "summary": {"type": "string"},
                "key_points": {"type": "array", "minItems": 1, "maxItems": KEY_POINTS,
                               "items": {"type": "string"}},
                "concepts": {"type": "array", "minItems": 1, "maxItems": self.max_concepts,
                             "items": {"type": "object",
                                       "properties": {"name": name_schema,
                                                      "claim": {"type": "string"}},
                                       "required": ["name", "claim"]}},
            },
            "required": ["summary", "key_points", "concepts"],
        }
        listing = "; ".join(terms) if terms else "none given, name them"
        head = "" if title in chunk.split("\n", 1)[0] else f"Title: {title}\n"  # a heading already says it
        user = (f"{head}<document>\n{chunk}\n</document>\n"
                "Answer in JSON: a 3-5 sentence summary (topic, claims, names, numbers), 2-5 key_points "
                f"(a sentence each), and 1-{self.max_concepts} concepts it is most about, each a name from "
                f"[{listing}] and a claim (a sentence on what it says of it).")
        reply = self._chat(user, stats, json_schema=schema, max_tokens=self.reply_tokens)
        data = _loads(reply.text)
        summary = _clean(str(data.get("summary", "")))
        points = [_clean(str(p)) for p in _list(data.get("key_points"))]
        concepts = [{"name": _clean(str(c.get("name", ""))), "claim": _clean(str(c.get("claim", "")))}
                    for c in _list(data.get("concepts")) if isinstance(c, dict)]
        return {"summary": summary, "key_points": [p for p in points if len(p) >= 15],
                "concepts": [c for c in concepts if c["name"]]}

    def _merge(self, reads: list[dict]) -> tuple[str, list[str], list[dict]]:
        """One source's summary, key points and concepts from its chunks' (in code, no call): the
        summary takes sentences from every chunk in turn, in document order; key points likewise;
        concepts picked in more chunks come first, each with the claim of the first chunk that
        picked it."""
        summary = " ".join(_take([sentences.split(r["summary"]) for r in reads],
                                 SUMMARY_SENTENCES if len(reads) > 1 else None))
        points = _take([r["key_points"] for r in reads], KEY_POINTS)
        votes: dict[str, list] = {}  # lower-cased name -> [chunks that picked it, first seen, concept]
        for i, r in enumerate(reads):
            for j, c in enumerate(r["concepts"]):
                v = votes.setdefault(c["name"].lower(), [0, (i, j), dict(c)])
                v[0] += 1
                if not v[2]["claim"]:
                    v[2]["claim"] = c["claim"]
        ranked = sorted(votes.values(), key=lambda v: (-v[0], v[1]))
        return summary, points, [v[2] for v in ranked[:self.max_concepts]]

    def article(self, title: str, sources: list[tuple[str, list[str]]]) -> tuple[list[dict], Analysis]:
        """A short article on one concept from what each source says about it: sentences of
        {"source": n, "text"}, n numbering `sources` from 1. The caller checks each sentence
        against source n's sentences (the grounding gate) before it is published."""
        stats = Analysis("", [], [])
        listing = "\n".join(f"[{i}] {name}:\n" + "\n".join(f"- {s}" for s in said)
                             for i, (name, said) in enumerate(sources, 1))
        schema = {"type": "object", "required": ["sentences"], "properties": {"sentences": {
            "type": "array", "minItems": 1, "maxItems": 5,
            "items": {"type": "object", "required": ["source", "text"],
                      "properties": {"source": {"type": "integer", "enum": list(range(1, len(sources) + 1))},
                                     "text": {"type": "string"}}}}}}
        user = (f"Concept: {title}\n\nWhat the sources say about it:\n{listing}\n\n"
                f"Answer in JSON. sentences: 2 to 5 short sentences that explain {title} to a reader, "
                "each stating one thing a source above says, in its words; source: that source's number.")
        reply = self._chat(user, stats, json_schema=schema, max_tokens=400)
        try:
            items = reply.json().get("sentences", [])
        except Exception:
            items = []
        out = [{"source": int(i["source"]), "text": _clean(str(i.get("text", "")))} for i in items
               if isinstance(i, dict) and str(i.get("source", "")).isdigit()
               and 1 <= int(i["source"]) <= len(sources)]
        return [o for o in out if len(o["text"]) >= 15], stats


def _take(parts: list[list[str]], n: int | None) -> list[str]:
    """At most n distinct items (all when None), taken from each part in turn so that every part
    is heard, returned in document order."""
    chosen: set[str] = set()
    for depth in range(max(map(len, parts), default=0)):
        for part in parts:
            if depth < len(part) and (n is None or len(chosen) < n):
                chosen.add(part[depth])
    return list(dict.fromkeys(x for part in parts for x in part if x in chosen))


def _in_text(terms: list[str], text: str) -> list[str]:
    """The terms whose words occur in `text` in a row (case and punctuation aside)."""
    words = lambda s: " " + " ".join(re.findall(r"\w+", s.lower())) + " "
    hay = words(text)
    return [t for t in terms if words(t).strip() and words(t) in hay]


def _loads(text: str) -> dict:
    """The reply's JSON object; for a reply that max_tokens cut off (a small model repeating
    itself), the longest prefix whose values are complete, closed; {} when nothing is."""
    try:
        data = json.loads(text)
        return data if isinstance(data, dict) else {}
    except ValueError:
        pass
    closers, cuts, in_str, esc = [], [], False, False
    for i, ch in enumerate(text):
        if in_str:
            esc, in_str = (False, in_str) if esc else (ch == "\\", ch != '"')
        elif ch == '"':
            in_str = True
        elif ch in "{[":
            closers.append("}" if ch == "{" else "]")
        elif ch in "}]" and closers:
            closers.pop()
            cuts.append((i + 1, "".join(reversed(closers))))
        elif ch == ",":
            cuts.append((i, "".join(reversed(closers))))
    for end, close in reversed(cuts):
        try:
            data = json.loads(text[:end] + close)
        except ValueError:
            continue
        return data if isinstance(data, dict) else {}
    return {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _clean(text: str) -> str:
    return " ".join((text or "").replace("<document>", "").replace("</document>", "").split()).strip()


def _fallback_summary(text: str) -> str:
    return " ".join(text.split())[:400]
