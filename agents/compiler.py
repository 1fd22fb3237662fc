"""The model's part of compile: read a source once, write its summary, key points and the
concepts it is about.

Cost discipline: every raw token goes to the model once. A long source is read in chunks with a
running summary; the second call reads only the summary. All calls share one system prompt, so
llama.cpp reuses its KV cache for that prefix. Structured output is JSON-schema constrained, and
concept names are an enum of terms found in the source by code: a small model can pick among
real names but cannot invent one.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from kb.agents.engine import Engine, Reply

PROMPTS = Path(__file__).with_name("prompts")
PROMPT_VERSION = 2  # bump when prompts change: cached results are keyed by it


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
    summary_tokens: int = 256
    on_reply: Callable[[Reply], None] | None = None
    system: str = field(default_factory=lambda: (PROMPTS / "compile_system.md").read_text(encoding="utf-8"))

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
        """Split at paragraph breaks near chunk_chars, so no sentence is cut in two."""
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
            out.append(cur)
        return out

    def analyse(self, title: str, text: str, candidates: list[str]) -> Analysis:
        stats = Analysis("", [], [])
        summary = ""
        parts = self.chunks(text)
        for i, chunk in enumerate(parts):
            where = f" (part {i + 1} of {len(parts)})" if len(parts) > 1 else ""
            if not summary:
                user = (f"Document title: {title}{where}\n<document>\n{chunk}\n</document>\n\n"
                        "Write one paragraph of 3 to 5 sentences that says what this document says: "
                        "its topic, its main claims, and its most important names and numbers.")
            else:
                user = (f"Document title: {title}{where}\nSummary of the earlier parts:\n{summary}\n\n"
                        f"Next part:\n<document>\n{chunk}\n</document>\n\n"
                        "Rewrite the summary as one paragraph of 4 to 6 sentences covering the earlier "
                        "parts and this part.")
            reply = self._chat(user, stats, max_tokens=self.summary_tokens)
            summary = _clean(reply.text) or summary
        stats.summary = summary or _fallback_summary(text)
        stats.key_points, stats.concepts = self._structure(title, stats.summary, candidates, stats)
        return stats

    def _structure(self, title: str, summary: str, candidates: list[str], stats: Analysis):
        # No minLength/maxLength: llama.cpp expands bounded repetition into grammars so large that
        # sampling slows ~10x. Lengths are bounded by max_tokens and checked in code instead.
        name_schema: dict = {"enum": candidates} if candidates else {"type": "string"}
        schema = {
            "type": "object",
            "properties": {
                "key_points": {"type": "array", "minItems": 2, "maxItems": 5,
                               "items": {"type": "string"}},
                "concepts": {"type": "array", "minItems": 1, "maxItems": self.max_concepts,
                             "items": {"type": "object",
                                       "properties": {"name": name_schema,
                                                      "claim": {"type": "string"}},
                                       "required": ["name", "claim"]}},
            },
            "required": ["key_points", "concepts"],
        }
        listing = "; ".join(candidates) if candidates else "(none found: name the topics yourself)"
        user = (f"Document title: {title}\nSummary: {summary}\n\nTerms that occur in the document: {listing}\n\n"
                "Answer in JSON. key_points: the document's 2 to 5 main points, one short sentence each. "
                f"concepts: the 1 to {self.max_concepts} terms from the list that the document is most "
                "about; for each, claim: one sentence saying what the document says about it.")
        reply = self._chat(user, stats, json_schema=schema, max_tokens=500)
        try:
            data = reply.json()
        except Exception:
            return [], []
        points = [_clean(p) for p in data.get("key_points", []) if len(_clean(p)) >= 15][:5]
        seen, concepts = set(), []
        for c in data.get("concepts", []):
            name = _clean(str(c.get("name", "")))
            if name and name.lower() not in seen and len(concepts) < self.max_concepts:
                seen.add(name.lower())
                concepts.append({"name": name, "claim": _clean(str(c.get("claim", "")))})
        return points, concepts


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


def _clean(text: str) -> str:
    return " ".join((text or "").replace("<document>", "").replace("</document>", "").split()).strip()


def _fallback_summary(text: str) -> str:
    return " ".join(text.split())[:400]
