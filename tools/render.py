"""An answer as a page a person keeps: deterministic formatting of an answer that already
exists. Decks are tools/slides.py's, charts tools/chart.py's.
"""

from __future__ import annotations

import re
from datetime import date

from kb.core.pages import first_sentence, frontmatter, link
from kb.core.vault import Page


def _sources_md(cited: list[tuple[str, str]]) -> list[str]:
    return [f"- {link(p, t)}" for p, t in cited] or ["- (no page in the knowledge base answers this)"]


def answer_page(path: str, question: str, answer: str, cited: list[tuple[str, str]], *, mode: str,
                model: str, fmt: str = "md", extra: list[str] = ()) -> Page:
    body = [f"# {question}", "", answer.strip(), "", *extra, "## Sources", "", *_sources_md(cited), ""]
    meta = frontmatter("answer", question, tags=[fmt], sources=[link(p, t) for p, t in cited],
                       description=first_sentence(answer), mode=mode, model=model)
    return Page(path, meta, "\n".join(body))


def marp_deck(path: str, question: str, answer: str, cited: list[tuple[str, str]], *, mode: str,
              model: str) -> Page:
    """A Marp deck: `marp: true` frontmatter, `---` between slides, at most 4 bullets a slide."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", answer.strip()) if s.strip()]
    slides = [f"# {question}\n\n*Answered from the knowledge base ({mode}, {date.today().isoformat()})*"]
    for i in range(0, max(1, len(sentences)), 4):
        chunk = sentences[i:i + 4] or [answer.strip()]
        slides.append("## Answer\n\n" + "\n".join(f"- {s}" for s in chunk))
    slides.append("## Sources\n\n" + "\n".join(_sources_md(cited)))
    meta = {"marp": True, "theme": "default", "paginate": True,
            **frontmatter("answer", question, tags=["marp"], aliases=None, sources=[link(p, t) for p, t in cited],
                          description=first_sentence(answer), mode=mode, model=model)}
    return Page(path, meta, "\n\n---\n\n".join(slides) + "\n")
