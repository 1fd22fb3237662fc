"""Plain pages read line by line, without markdown-it, exactly as markdown-it reads them.

markdown-it's block parser costs a few tenths of a millisecond a page, which was most of
structural lint at 10,000 pages. The pages kb writes, and most a person writes, use a small part
of CommonMark: ATX headings, paragraphs, `- ` lists (an item may hold a `  > ` quote, as a concept
page's claims do), `> ` quotes and wikilinks. `read()` reads such a page into what kb reads of
any page: its `markdown.Parsed` (links with their lines, found by the same
`markdown.wikilink_at` as markdown-it's rule, headings, block ids) and its outline (the
top-level blocks in order, for lint's empty sections). A page with anything else is left to
markdown-it whole (None): code (backticks, indentation), HTML, `\\` escapes, markdown links,
other list markers, setext headings and rules, possible reference definitions, tabs, CR, NUL.
tests/test_simplemd.py compares the two readings on generated pages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.common.utils import mdTrim

from kb.core import markdown
from kb.core.markdown import EMBED, OPEN, wikilink_at


def needs_markdown_it(text: str) -> bool:
    """Does the text hold what only markdown-it reads (code, HTML, escapes, markdown links, tabs,
    CR, NUL)? A few substring tests: faster than one regex with an alternation."""
    return ("`" in text or "<" in text or "\\" in text or "](" in text or "\t" in text or "\r" in text
            or "\x00" in text)


_BLOCK_START = frozenset(" #>-*+_=~`<")  # a line starting with one of these may open a block
_ORDERED = re.compile(r"\d{1,9}[.)](?: |\Z)")
_HEADING = re.compile(r"(#{1,6})(?: |\Z)")


@dataclass
class Plain:
    parsed: markdown.Parsed
    outline: list[tuple[int, str] | None]  # top-level blocks: (level, title) for a heading, else None


def wikilinks(src: str) -> list[dict]:
    """The parts of each wikilink markdown-it's inline parser finds in `src` (which holds no
    backtick, `<`, backslash or `](`, so no other inline rule can take a `[`)."""
    out = []
    pos = 0
    while (i := src.find(OPEN, pos)) >= 0:
        found = None
        if i > pos and src[i - 1] == EMBED:  # the `!` is reached first, as markdown-it reaches it
            found = wikilink_at(src, i - 1)
        found = found or wikilink_at(src, i)
        if found is None:
            pos = i + 1
            continue
        out.append(found[1])
        pos = found[0]
    return out


def inline(src: str) -> list[dict] | None:
    """The wikilinks' parts in a property value, as `parser().parseInline` finds them; None when
    markdown-it must read it."""
    return None if needs_markdown_it(src) else wikilinks(src)


def _plain(text: str) -> bool:
    """Does this line's text (after any container marker) only continue or start a paragraph?"""
    c = text[:1]
    if not c or c in _BLOCK_START or c.isspace():
        return False
    if c == "[":  # a reference definition; `[[` cannot be one
        return text.startswith(OPEN)
    return not (c.isdigit() and _ORDERED.match(text))


def _scan(body: str) -> tuple[list, list] | None:
    """(inline texts as [first line, lines, in a heading], outline), or None."""
    inlines: list[list] = []
    outline: list[tuple[int, str] | None] = []
    lines: list[str] | None = None  # the open paragraph's lines, wherever it is
    in_list = False  # a top-level `- ` list is open
    quote = None  # "top": a top-level quote is open; "item": a quote inside the list's item
    for i, line in enumerate(body.split("\n")):
        c = line[:1]
        if not line.strip(" "):
            lines = quote = None
            continue
        if c == "#":
            m = _HEADING.match(line)
            rest = line[m.end():] if m else ""
            if not m or rest.rstrip(" ").endswith("#"):
                return None  # a closing `#` sequence, or `#tag` text: markdown-it's call
            lines = quote = None
            in_list = False
            inlines.append([i, [rest], True])
            outline.append((len(m.group(1)), mdTrim(rest).strip()))
            continue
        if c == "-":
            text = line[2:]
            if line[1:2] != " " or not _plain(text):
                return None
            quote = None
            if not in_list:
                outline.append(None)
                in_list = True
        elif c == ">":
            text = line[2:]
            if line != ">" and line[1:2] != " ":
                return None
            if not text.strip(" "):  # an empty line inside a quote
                if quote != "top":
                    outline.append(None)
                    in_list, quote = False, "top"
                lines = None
                continue
            if not _plain(text):
                return None
            if quote == "top" and lines is not None:
                lines.append(text)
                continue
            if quote != "top":
                outline.append(None)
                in_list, quote = False, "top"
        elif c == " ":
            text = line[4:]
            if not (in_list and line.startswith("  > ") and _plain(text)):
                return None
            if quote == "item" and lines is not None:
                lines.append(text)
                continue
            quote = "item"
        elif _plain(line):
            text = line
            if lines is not None:  # a paragraph's next line, or a lazy one in a list or quote
                lines.append(text)
                continue
            in_list, quote = False, None
            outline.append(None)
        else:
            return None
        lines = [text]  # a paragraph starts
        inlines.append([i, lines, False])
    return inlines, outline


def read(body: str, meta: dict | None = None) -> Plain | None:
    """What `markdown.parse(body, meta=meta)` and the outline of markdown-it's tokens say of a
    plain page; None when markdown-it must read it."""
    scanned = None if needs_markdown_it(body) else _scan(body)
    if scanned is None:
        return None
    links = markdown.property_links(meta) if meta else []
    headings: list[str] = []
    blocks: set[str] = set()
    for i, lines, heading in scanned[0]:
        content = mdTrim("\n".join(lines))
        if heading:
            headings.append(content.strip())
        elif "^" in content:
            markdown.block_ids(content, blocks)
        if OPEN in content:
            links += [markdown.wikilink(parts, i + 1) for parts in wikilinks(content)]
    return Plain(markdown.Parsed(links, headings, blocks), scanned[1])


def outline(tokens: list) -> list[tuple[int, str] | None]:
    """The outline of markdown-it's tokens: a heading for each top-level heading, None for each
    other top-level block that holds something (an opening tag, a rule, code)."""
    out: list[tuple[int, str] | None] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open" and tok.level == 0:
            out.append((int(tok.tag[1]), tokens[i + 1].content.strip()))
            i += 3
            continue
        if tok.level == 0 and tok.type != "heading_close" and (tok.content.strip() or tok.type == "hr"
                                                               or tok.nesting == 1):
            out.append(None)
        i += 1
    return out


def empty_headings(outline: list[tuple[int, str] | None]) -> list[str]:
    """Headings with nothing under them before the next heading of the same or a higher level."""
    open_: list[list] = []  # [level, title, has_content]
    empty = []
    for item in outline:
        if item is None:
            for h in open_:
                h[2] = True
            continue
        while open_ and open_[-1][0] >= item[0]:
            _, title, content = open_.pop()
            if not content:
                empty.append(title)
        open_.append([item[0], item[1], False])
    return empty + [title for _, title, content in reversed(open_) if not content]
