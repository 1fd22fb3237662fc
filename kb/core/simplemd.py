"""Plain pages read line by line, without markdown-it, exactly as markdown-it reads them.

markdown-it's block parser costs about half a millisecond a page, which was most of structural
lint at 10,000 pages. The pages kb writes, and most a person writes, use a small part of
CommonMark: ATX headings, paragraphs, `- ` lists (an item may hold a `  > ` quote, as a concept
page's claims do), `> ` quotes and wikilinks. `tokens()` reads such a page into the tokens that
`markdown.parse` and lint's section check read: each top-level block's opening token (level 0),
headings, and inline tokens (content, first line) with their wikilink children, found by the
same `markdown.wikilink_at` as markdown-it's rule. A page with anything else goes to markdown-it
whole: code (backticks, indentation), HTML, `\\` escapes, markdown links, other list markers,
setext headings and rules, possible reference definitions, tabs, CR, NUL.
tests/test_simplemd.py compares the two readings on generated pages.
"""

from __future__ import annotations

import re

from markdown_it.common.utils import mdTrim

from kb.core.markdown import EMBED, OPEN, parser, wikilink_at

# anywhere in a page: markdown-it must read it (code, HTML, escapes, links, tabs, CR, NUL)
_FALLBACK = re.compile(r"[`<\\\t\r\x00]|\]\(")
_BLOCK_START = frozenset(" #>-*+_=~`<")  # a line starting with one of these may open a block
_ORDERED = re.compile(r"\d{1,9}[.)](?: |\Z)")
_HEADING = re.compile(r"(#{1,6})(?: |\Z)")


class Tok:
    """The part of a markdown-it Token that parse() and lint read."""

    __slots__ = ("type", "tag", "level", "nesting", "map", "content", "children", "meta")

    def __init__(self, type: str, tag: str = "", level: int = 0, nesting: int = 0, map: list | None = None,
                 content: str = "", children: list | None = None, meta: dict | None = None):
        self.type, self.tag, self.level, self.nesting, self.map = type, tag, level, nesting, map
        self.content, self.children, self.meta = content, children, meta


def wikilinks(src: str) -> list[Tok]:
    """The wikilink tokens markdown-it's inline parser makes of `src` (which holds no backtick,
    `<`, backslash or `](`, so no other inline rule can take a `[`)."""
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
        out.append(Tok("wikilink", "", 0, 0, None, found[2], None, found[1]))
        pos = found[0]
    return out


def inline(src: str) -> list[Tok] | None:
    """The wikilink tokens of a property value, as `parser().parseInline` finds them; None when
    markdown-it must read it."""
    return None if _FALLBACK.search(src) else wikilinks(src)


def _plain(text: str) -> bool:
    """Does this line's text (after any container marker) only continue or start a paragraph?"""
    c = text[:1]
    if not c or c in _BLOCK_START or c.isspace():
        return False
    if c == "[":  # a reference definition; `[[` cannot be one
        return text.startswith(OPEN)
    return not (c.isdigit() and _ORDERED.match(text))


def _scan(body: str) -> list[Tok] | None:
    toks: list[Tok] = []
    paras: list[tuple[Tok, list[str]]] = []  # each paragraph's inline token and lines
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
            tag = f"h{len(m.group(1))}"
            toks += [Tok("heading_open", tag, 0, 1), Tok("inline", "", 1, 0, [i, i + 1], mdTrim(rest)),
                     Tok("heading_close", tag, 0, -1)]
            continue
        if c == "-":
            text = line[2:]
            if line[1:2] != " " or not _plain(text):
                return None
            quote = None
            if not in_list:
                toks.append(Tok("bullet_list_open", "", 0, 1))
                in_list = True
        elif c == ">":
            text = line[2:]
            if line != ">" and line[1:2] != " ":
                return None
            if not text.strip(" "):  # an empty line inside a quote
                if quote != "top":
                    toks.append(Tok("blockquote_open", "", 0, 1))
                    in_list, quote = False, "top"
                lines = None
                continue
            if not _plain(text):
                return None
            if quote == "top" and lines is not None:
                lines.append(text)
                continue
            if quote != "top":
                toks.append(Tok("blockquote_open", "", 0, 1))
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
            toks.append(Tok("paragraph_open", "", 0, 1))
        else:
            return None
        tok = Tok("inline", "", 1, 0, [i, i + 1])  # a paragraph starts
        toks.append(tok)
        lines = [text]
        paras.append((tok, lines))
    for tok, lines in paras:
        tok.content = mdTrim("\n".join(lines))
    for tok in toks:
        if tok.type == "inline":
            tok.children = wikilinks(tok.content) if OPEN in tok.content else []
    return toks


def tokens(body: str) -> list:
    """The tokens of a page body: read here when the page is plain, else by markdown-it."""
    toks = None if _FALLBACK.search(body) else _scan(body)
    return parser().parse(body) if toks is None else toks
