"""Markdown as Obsidian reads it: YAML frontmatter, wikilinks, headings and block ids.

Links are found by a markdown-it-py inline rule, not by a regex over the raw text, so that
`[[x]]` inside a code span or a fenced block is text, exactly as Obsidian renders it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import unquote

import yaml
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline

from kb.core import simpleyaml
from kb.core.errors import PageError

# libyaml's C loader/dumper when pyyaml was built with it (10x faster on big vaults)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_FM_OPEN = re.compile(r"\A---[ \t]*\r?\n")
_FM_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.M)
_BLOCK_ID = re.compile(r"(?:^|\s)\^([A-Za-z0-9-]+)\s*$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def split_frontmatter(text: str, where: str = "page") -> tuple[dict, str]:
    """Return (metadata, body). No frontmatter is an empty dict; broken YAML is a PageError."""
    m = _FM_OPEN.match(text)
    if not m:
        return {}, text
    close = _FM_CLOSE.search(text, m.end())
    if not close:
        raise PageError(f"{where}: frontmatter opened with '---' but never closed")
    raw = text[m.end():close.start()]
    try:  # plain frontmatter without PyYAML (read exactly as PyYAML reads it), the rest with it
        meta = {} if not raw.strip() else simpleyaml.load(raw)
        if meta is None:
            meta = yaml.load(raw, Loader=_Loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 2})" if mark else ""
        raise PageError(f"{where}: invalid YAML frontmatter{line}") from None
    if not isinstance(meta, dict):
        raise PageError(f"{where}: frontmatter must be a YAML mapping, got {type(meta).__name__}")
    meta = {k: v.isoformat() if isinstance(v, (date, datetime)) else v for k, v in meta.items()}
    return meta, _body_from(text, close.end())


def _body_from(text: str, end: int) -> str:
    body = text[end:]
    return body[1:] if body.startswith("\n") else body.lstrip("\r\n")


def after_frontmatter(text: str) -> str:
    """The body of a page whose frontmatter does not parse, as split_frontmatter would give it
    were the YAML sound (what follows the closing line), or the whole text when it never closes:
    lint and the TUI's link graph read such a page alike."""
    m = _FM_OPEN.match(text)
    close = _FM_CLOSE.search(text, m.end()) if m else None
    return _body_from(text, close.end()) if close else text


# Written as YAML dates (unquoted), so Obsidian's Properties and Dataview read them as dates; kb
# itself reads every date back as its ISO string (split_frontmatter), so hashes never change.
DATE_KEYS = ("created", "updated")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def join_frontmatter(meta: dict, body: str) -> str:
    if not meta:
        return body
    meta = {k: date.fromisoformat(v) if k in DATE_KEYS and isinstance(v, str) and _ISO_DAY.match(v) else v
            for k, v in meta.items()}
    dumped = yaml.dump(meta, Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                       default_flow_style=False, width=1000)
    return f"---\n{dumped}---\n{body}"


@dataclass(frozen=True)
class Link:
    """One link as written. `target` is the linkpath without subpath; '' links to the note itself."""

    target: str
    heading: tuple[str, ...] = ()
    block: str | None = None
    alias: str | None = None
    embed: bool = False
    kind: str = "wiki"  # wiki | md
    line: int = 0  # 1-based line of the block it sits in
    prop: str | None = None  # the frontmatter property it is the value of (`up: "[[X]]"`), else None

    @property
    def subpath(self) -> str:
        if self.block:
            return f"#^{self.block}"
        return "".join(f"#{h}" for h in self.heading)


def wikilink(parts: dict, line: int = 0, prop: str | None = None) -> Link:
    """Link(**parts, line=line, prop=prop) for a wikilink's parts (wikilink_at's), made without
    the frozen dataclass's field-by-field __init__: a vault has many links, and that __init__ was
    a tenth of structural lint's time at 10,000 pages."""
    link = object.__new__(Link)
    link.__dict__.update(target=parts["target"], heading=parts["heading"], block=parts["block"],
                         alias=parts["alias"], embed=parts["embed"], kind="wiki", line=line, prop=prop)
    return link


def parse_linktext(inner: str) -> tuple[str, tuple[str, ...], str | None]:
    """`Page#H1#H2` / `Page#^id` -> (target, headings, block)."""
    target, _, sub = inner.partition("#")
    if not sub:
        return target.strip(), (), None
    if sub.startswith("^"):
        return target.strip(), (), sub[1:].strip()
    return target.strip(), tuple(h.strip() for h in sub.split("#") if h.strip()), None


# -- wikilink syntax: `![[target#heading|alias]]` ----------------------------------------------
# The delimiters, read by the parser below. parse() is how kb reads links; the few places that
# rewrite text instead (the TUI's viewer, lint --fix, plain text for comparisons, search snippets,
# a concept page's claim lines, a source's embeds) need a regex, and build it from the WL_ pieces
# (or take WIKILINK whole), so the syntax is spelled here only.
OPEN, CLOSE, EMBED = "[[", "]]", "!"
WL_OPEN, WL_CLOSE, WL_EMBED = re.escape(OPEN), re.escape(CLOSE), re.escape(EMBED)
# `\|` is the pipe as Obsidian's tables escape it (`| [[A\|a]] |`): the target stops before it
WL_TARGET = r"(?:[^\]|#\\]|\\(?!\|))"  # one character of a link's target (its linkpath before any `#`)
WL_SUBPATH = r"(?:#(?:[^\]|\\]|\\(?!\|))*)?"  # `#heading#sub` or `#^block`, or nothing
WL_ALIAS = r"[^\]]*"  # what follows the `|`


def wikilink_re(target: str | None = None) -> re.Pattern:
    """`![[target#sub|alias]]` as a regex, with groups embed, target, subpath and alias (None
    when there is no `|`). With `target`, only links to that linkpath, taken literally. For
    rewriting text; to read a page's links use parse(), which knows code spans from links."""
    t = re.escape(target) if target is not None else WL_TARGET + "*"
    return re.compile(rf"(?P<embed>{WL_EMBED}?){WL_OPEN}(?P<target>{t})(?P<subpath>{WL_SUBPATH})"
                      rf"(?:\\?\|(?P<alias>{WL_ALIAS}))?{WL_CLOSE}")


WIKILINK = wikilink_re()


def wikilink_at(src: str, pos: int) -> tuple[int, dict, str] | None:
    """The wikilink starting at `pos` (`![[...]]` or `[[...]]`): the position after it, its parts
    and its text between the brackets, or None. The one reading of the syntax: markdown-it's rule
    below and the plain-page reader (kb/core/simplemd.py) both call it."""
    embed = src.startswith(EMBED + OPEN, pos)
    start = pos + len(OPEN) + (len(EMBED) if embed else 0)
    if not (embed or src.startswith(OPEN, pos)):
        return None
    end = src.find(CLOSE, start)
    if end < 0:
        return None
    inner = src[start:end]
    if not inner.strip() or "\n" in inner or OPEN in inner:
        return None
    linkpart, _, alias = inner.partition("|")
    target, heading, block = parse_linktext(linkpart.removesuffix("\\"))  # `\|`, as in a table
    return end + len(CLOSE), {"target": target, "heading": heading, "block": block,
                              "alias": alias.strip() or None, "embed": embed}, inner


def _wikilink_rule(state: StateInline, silent: bool) -> bool:
    found = wikilink_at(state.src, state.pos)
    if found is None:
        return False
    if not silent:
        token = state.push("wikilink", "", 0)
        token.meta, token.content = found[1], found[2]
    state.pos = found[0]
    return True


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    md = MarkdownIt("commonmark")
    md.inline.ruler.before("link", "wikilink", _wikilink_rule)
    md.add_render_rule("wikilink", lambda self, tokens, idx, options, env:
                       f'<a class="wikilink" href="{tokens[idx].meta["target"]}">'
                       f'{tokens[idx].meta["alias"] or tokens[idx].content}</a>')
    return md


def _md_link(href: str, line: int, embed: bool) -> Link | None:
    """A markdown link counts when it points at a file in the vault, not a URL."""
    if not href or _URL_SCHEME.match(href) or href.startswith("//"):
        return None
    path, _, frag = unquote(href).partition("#")
    if path and not path.lower().endswith(".md") and "." not in path.rsplit("/", 1)[-1]:
        return None
    if not path and not frag:
        return None
    target, heading, block = parse_linktext(path + ("#" + frag if frag else ""))
    return Link(target=target, heading=heading, block=block, embed=embed, kind="md", line=line)


@dataclass
class Parsed:
    links: list[Link]
    headings: list[str]
    blocks: set[str]


def property_links(meta: dict) -> list[Link]:
    """Wikilinks that are the values of frontmatter properties (`up: "[[X]]"`, a list of them):
    Obsidian counts these as links and backlinks, so kb resolves and checks them as well."""
    from kb.core import simplemd  # it reads with this module's wikilink rule
    out: list[Link] = []
    for key, value in meta.items():
        for v in value if isinstance(value, list) else [value]:
            if not isinstance(v, str):
                continue
            if "[" not in v:  # most values: no link, no parse
                continue
            found = simplemd.inline(v)  # the same rule as in a body
            if found is None:
                found = [c.meta for tok in parser().parseInline(v) for c in tok.children or ()
                         if c.type == "wikilink"]
            out += [wikilink(parts, prop=str(key)) for parts in found]
    return out


def block_ids(content: str, into: set[str]) -> None:
    """Add the block ids (`text ^id` at a line's end) of one paragraph's text to `into`."""
    for content_line in content.splitlines():
        m = _BLOCK_ID.search(content_line)
        if m:
            into.add(m.group(1).lower())


def parse(body: str, tokens: list | None = None, meta: dict | None = None) -> Parsed:
    """Links, headings and block ids of a page body, in one pass over markdown-it's token stream
    (pass `tokens` when the caller has parsed the body already); with the page's `meta`, the
    links in its properties first. A plain page is read without markdown-it (kb/core/simplemd.py)."""
    if tokens is None:
        from kb.core import simplemd  # it reads with this module's wikilink rule
        plain = simplemd.read(body, meta)
        if plain is not None:
            return plain.parsed
        tokens = parser().parse(body)
    links: list[Link] = property_links(meta) if meta else []
    headings: list[str] = []
    blocks: set[str] = set()
    in_heading = False
    for tok in tokens:
        if tok.type == "heading_open":
            in_heading = True
            continue
        if tok.type == "heading_close":
            in_heading = False
            continue
        if tok.type != "inline":
            continue
        line = (tok.map[0] + 1) if tok.map else 0
        if in_heading:
            headings.append(tok.content.strip())
        elif "^" in tok.content:  # a block id's mark
            block_ids(tok.content, blocks)
        for child in tok.children or ():
            if child.type == "wikilink":
                links.append(wikilink(child.meta, line))
            elif child.type in ("link_open", "image"):
                href = child.attrGet("href") if child.type == "link_open" else child.attrGet("src")
                link = _md_link(str(href or ""), line, embed=child.type == "image")
                if link:
                    links.append(link)
    return Parsed(links=links, headings=headings, blocks=blocks)


def links(body: str) -> list[Link]:
    return parse(body).links


_HEADING_NOISE = re.compile(r"[#|^:%\[\]\\*`_~]")


def heading_key(text: str) -> str:
    """How Obsidian compares a heading in a link with one in a note: case and markup ignored."""
    return " ".join(_HEADING_NOISE.sub(" ", text).split()).casefold()

