"""One rule for names and for source text that is not the model's prose.

A title comes from a source (its frontmatter, its first heading, its file name) and so from
anyone: it may hold newlines that forge a `log.md` entry, `]]` or `|` that break a wikilink, `#`
or `^` that Obsidian reads as a heading or block reference, path separators, `..`, two Unicode
spellings of one name, or 300 characters. Everything kb writes into a link, a path, a heading,
the index or the log goes through `label` (one safe line) or `filename` (that, and a name a file
system and Obsidian accept); the original stays in the frontmatter (`title`, `aliases`), where
YAML quotes it. Fields such as author and url are data, not markdown: `inline` escapes them.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from kb.core.markdown import WL_CLOSE, WL_EMBED, WL_OPEN

# Obsidian refuses these in a file name, or a wikilink cannot hold them; `\` and `/` make paths.
LINK_UNSAFE = re.compile(r"[\[\]|#^]")
FILE_UNSAFE = re.compile(r'[\[\]|#^\\/:*?"<>]')
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
MAX_LABEL = 200
MAX_FILENAME = 100  # characters of a page's stem: its UTF-8 bytes plus a temp suffix stay under 255


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _cap(s: str, limit: int, original: str) -> str:
    """Cut to `limit` characters; a cut name ends in a hash of the whole, so two long titles that
    share their first `limit` characters still get two names, the same ones on every run."""
    if len(s) <= limit:
        return s
    tag = hashlib.sha256(original.encode("utf-8")).hexdigest()[:8]
    return s[:limit - 10].rstrip(" .-") + " ~" + tag


def one_line(text: str) -> str:
    """NFC, control and bidi-override characters (newlines too) become spaces, runs of space one."""
    return " ".join(CONTROL.sub(" ", nfc(str(text))).split())


def label(title: str, limit: int = MAX_LABEL) -> str:
    """A title as one line that can sit in a heading, a link's text, the index and the log:
    nothing in it opens or closes a link, a heading or a block reference."""
    s = one_line(LINK_UNSAFE.sub(" ", one_line(title))).replace("<", "‹").replace(">", "›")  # no raw HTML
    s = re.sub(r"^[>\-+*=`~]+\s*", "", s)  # no quote, list, rule or fence forged at line start
    return _cap(s, limit, title) or "Untitled"


def filename(title: str, limit: int = MAX_FILENAME) -> str:
    """A file stem for a page titled `title`: a label without path separators or the characters
    Windows and Obsidian refuse, no leading dot (a hidden file) and never `.` or `..`."""
    s = one_line(FILE_UNSAFE.sub(" ", one_line(title))).strip(" .")
    s = _cap(s, limit, title).strip(" .")
    return s or "Untitled"


def link_safe(name: str) -> bool:
    """Can a wikilink name this path as it is (a raw file kb may not rename)?"""
    parts = [p for part in name.split("/") for p in (part, part.removesuffix(".md"))]
    return (not any(FILE_UNSAFE.search(p) for p in parts) and one_line(name) == name and nfc(name) == name
            and all(p == p.strip() and p for p in parts))  # a link's path is stripped when resolved


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~^$%=])")


def inline(text: str, limit: int = 300) -> str:
    """Source-derived data (an author, a url) as literal text on one line: every character markdown,
    Obsidian or HTML would read as syntax is backslash-escaped, so `<script>` stays text."""
    s = one_line(text)
    if len(s) > limit:
        s = s[:limit - 1] + "…"
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")  # entities: no tag survives
    return _MD_SPECIAL.sub(r"\\\1", s)


_WIKILINK = re.compile(rf"{WL_EMBED}?{WL_OPEN}([^\[\]|]*)(?:\|([^\[\]]*))?{WL_CLOSE}")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)]*)\)")
_TAG = re.compile(r"</?[A-Za-z!?][^<>]*>")


def prose(text: str) -> str:
    """Text that came out of a source (a summary the model wrote from it, a sentence quoted from
    it) as page prose: its wikilinks and embeds point into someone else's vault, so a link keeps
    only its words, an image is dropped, and a tag of raw HTML is escaped to literal text."""
    s = _WIKILINK.sub(lambda m: "" if m.group(0).startswith("!") else (m.group(2) or m.group(1)).strip(), text)
    s = _MD_IMAGE.sub("", s)
    s = _MD_LINK.sub(lambda m: m.group(1) if not m.group(2).startswith(("http://", "https://"))
                     else m.group(0), s)
    s = _TAG.sub(lambda m: m.group(0).replace("<", "&lt;").replace(">", "&gt;"), s)
    return unlinked(s)


def unlinked(text: str) -> str:
    """Text for a frontmatter property, which Obsidian also reads links from: the original words
    (newlines, pipes, Unicode and all), only a `[[`/`]]` pair split so it forms no link."""
    return re.sub(r"([\[\]])(?=\1)", r"\1 ", str(text))  # `]]]]` too: every doubled bracket split
