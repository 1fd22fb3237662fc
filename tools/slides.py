"""An answer as a Marp deck that stays on its slides.

The answer's markdown is read as markdown-it tokens, not cut with a regex: a paragraph becomes
one bullet per sentence (kb's one sentence splitter, so 'e.g.' does not end a bullet), lists keep
their kind and their numbers, code stays fenced, headings start slides. Marp does not read
wikilinks, so each `[[page|title]]` becomes a number that the Sources slide lists, in the same
order. A slide holds at most LINES_PER_SLIDE wrapped lines: blocks that do not fit go on to a
next slide of the same title, and a sentence longer than MAX_BULLET_LINES is cut at a clause.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from kb.core import markdown, sentences
from kb.core.pages import first_sentence, frontmatter, link
from kb.core.vault import Page

# Marp's default theme at 1280x720: 29 px text in a 1123 px wide body, about 80 characters a
# bullet line (70 counted, fewer when indented); 9 to 10 lines under a `##` title, 8 counted.
CHARS_PER_LINE = 70
LINES_PER_SLIDE = 8
MAX_BULLET_LINES = 3
MARKER = re.compile(r"\s*\[(?:doc(?:ument)?\s*)?\d+(?:\s*,\s*\d+)*\]")


@dataclass
class Block:
    md: str  # markdown of one bullet, list item, code block or table
    lines: int  # wrapped lines it takes on a slide
    kind: str  # "ul", "ol", "code", "table": kinds differ, a blank line goes between them


def visible(md: str) -> str:
    """What a reader sees of a markdown line: link text without its target, no emphasis marks."""
    md = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", md)
    return re.sub(r"[*_`]", "", md).strip()


def wrapped_lines(md: str, indent: int = 0) -> int:
    width = max(20, CHARS_PER_LINE - indent)
    return sum(max(1, math.ceil(len(visible(line)) / width)) for line in md.splitlines() or [""])


class _Refs:
    """Wikilinks numbered in order of first use; the Sources slide lists them in that order."""

    def __init__(self, cited: list[tuple[str, str]]):
        self.titles = {p[:-3] if p.endswith(".md") else p: t for p, t in cited}
        self.order: list[str] = []

    def number(self, target: str, alias: str | None) -> int:
        target = target[:-3] if target.endswith(".md") else target
        self.titles.setdefault(target, alias or target.rsplit("/", 1)[-1])
        if target not in self.order:
            self.order.append(target)
        return self.order.index(target) + 1

    def listing(self) -> list[tuple[int, str]]:
        rest = [t for t in self.titles if t not in self.order]  # cited but never linked in the text
        return [(i, self.titles[t]) for i, t in enumerate(self.order + rest, 1)]


def _inline(tok, refs: _Refs) -> str:
    out, hrefs = [], []
    for c in tok.children or ():
        if c.type == "text":
            out.append(MARKER.sub("", c.content))  # the model's own [n]: not the Sources' numbers
        elif c.type == "wikilink":
            out.append(f"[{refs.number(c.meta['target'], c.meta['alias'])}]")
        elif c.type in ("softbreak", "hardbreak"):
            out.append(" ")
        elif c.type == "code_inline":
            out.append(f"`{c.content}`")
        elif c.type in ("strong_open", "strong_close", "em_open", "em_close"):
            out.append(c.markup)
        elif c.type == "link_open":
            out.append("[")
            hrefs.append(c.attrGet("href") or "")
        elif c.type == "link_close":
            out.append(f"]({hrefs.pop()})" if hrefs else "]")
        elif c.type == "image":
            out.append(f"![{c.content}]({c.attrGet('src') or ''})")
        else:
            out.append(c.content or "")
    text = " ".join("".join(out).split())
    text = re.sub(r"\s*\((\[\d+\](?:\s*,\s*\[\d+\])*)\)", lambda m: " " + m.group(1), text)  # ([1]) -> [1]
    return re.sub(r"\](\s*,\s*)\[(?=\d)", ", ", text)  # [1], [2] -> [1, 2]


def _cut(sentence: str, limit: int) -> list[str]:
    """A sentence too long for one bullet, cut after clauses (or, failing that, words)."""
    pieces, cur = [], ""
    for part in re.split(r"(?<=[;,:])\s+|\s+(?=—)", sentence):
        if cur and len(cur) + 1 + len(part) > limit:
            pieces.append(cur)
            cur = part
        else:
            cur = f"{cur} {part}".strip()
    pieces.append(cur)
    out = []
    for p in pieces:
        while len(p) > limit:
            at = p.rfind(" ", 0, limit)
            at = at if at > limit // 2 else limit
            out.append(p[:at].rstrip())
            p = p[at:].lstrip()
        out.append(p)
    return [p for p in out if p]


def blocks(answer: str, refs: _Refs) -> list[tuple[str | None, Block]]:
    """(heading that starts a slide, or None; block) in reading order."""
    tokens = markdown.parser().parse(answer)
    lines = answer.splitlines()
    out: list[tuple[str | None, Block]] = []
    stack: list[tuple[str, int]] = []  # open lists: (kind, indent)
    heading, item_marker = None, None
    limit = CHARS_PER_LINE * MAX_BULLET_LINES
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            heading = _inline(tokens[i + 1], refs)
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            stack.append(("ol" if tok.type.startswith("ordered") else "ul", 3 * len(stack)))
        elif tok.type in ("bullet_list_close", "ordered_list_close"):
            stack.pop()
        elif tok.type == "list_item_open":
            item_marker = f"{tok.info}." if stack[-1][0] == "ol" else "-"
        elif tok.type in ("fence", "code_block"):
            body = tok.content.rstrip("\n").splitlines()
            for k in range(0, max(1, len(body)), LINES_PER_SLIDE - 2):
                chunk = "\n".join(body[k:k + LINES_PER_SLIDE - 2])
                out.append((None, Block(f"```{tok.info}\n{chunk}\n```", chunk.count("\n") + 3, "code")))
        elif tok.type == "inline" and tokens[i - 1].type == "paragraph_open":
            src = lines[tok.map[0]:tok.map[1]] if tok.map else []
            if not stack and src and all(ln.lstrip().startswith("|") for ln in src):  # a table
                out.append((None, Block("\n".join(src), len(src), "table")))
                continue
            text = _inline(tok, refs)
            if stack:  # a list item: one block, its own marker and number
                kind, indent = stack[-1]
                marker, item_marker = item_marker or " " * len(kind), None
                parts = _cut(text, limit)
                for j, part in enumerate(parts):
                    lead = " " * indent + (marker if j == 0 else " " * len(marker)) + " "
                    out.append((None, Block(lead + part, wrapped_lines(part, indent + 2), kind)))
            else:  # prose: a bullet a sentence
                for s in sentences.split(text):
                    for part in _cut(s, limit):
                        out.append((None, Block(f"- {part}", wrapped_lines(part, 2), "ul")))
        if tok.type == "heading_close":
            out.append((heading, Block("", 0, "heading")))
            heading = None
    return out


def _slides(title: str, items: list[tuple[str | None, Block]]) -> list[str]:
    slides, cur, used, prev = [], [], 0, None
    for head, b in items:
        if b.kind == "heading":
            if cur:
                slides.append((title, cur))
            title, cur, used, prev = head or title, [], 0, None
            continue
        gap = prev is not None and (prev != b.kind or b.kind in ("code", "table"))  # a blank line between
        if cur and used + gap + b.lines > LINES_PER_SLIDE:
            slides.append((title, cur))
            cur, used, prev, gap = [], 0, None, False
        cur += [""] * gap + [b.md]
        used += gap + b.lines
        prev = b.kind
    if cur:
        slides.append((title, cur))
    return [f"## {t}\n\n" + "\n".join(body) for t, body in slides]


def marp_deck(path: str, question: str, answer: str, cited: list[tuple[str, str]], *, mode: str,
              model: str) -> Page:
    """A Marp deck: `marp: true` frontmatter, a title slide, the answer, the numbered sources."""
    refs = _Refs(cited)
    slides = [f"# {question}\n\n*Answered from the knowledge base ({mode}, {date.today().isoformat()})*"]
    slides += _slides("Answer", blocks(answer.strip(), refs)) or ["## Answer\n\n" + answer.strip()]
    listing = [(None, Block(f"{n}. {t}", wrapped_lines(t, 3), "ol")) for n, t in refs.listing()]
    slides += _slides("Sources", listing) or ["## Sources\n\n(no page in the knowledge base answers this)"]
    meta = {"marp": True, "theme": "default", "paginate": True,
            **frontmatter("answer", question, tags=["marp"], aliases=None, sources=[link(p, t) for p, t in cited],
                          description=first_sentence(answer), mode=mode, model=model)}
    return Page(path, meta, "\n\n---\n\n".join(slides) + "\n")
