"""Raw sources to plain text: markdown (Obsidian Web Clipper frontmatter included), text, HTML
and PDF. Every way a file can be unusable is a SourceError with one line that says what is wrong
and what to do, so one bad file never stops a batch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from kb.core import markdown, pdftext
from kb.core.errors import KbError, PageError

TEXT_KINDS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
              ".html": "html", ".htm": "html", ".pdf": "pdf"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}

# How large one raw source may be, written here only. Compile stops at compile.max_source_mb, whose
# default this is, and lint reads raw sources as far as that default; search and ask read further,
# so a source too large to compile can still be found and quoted.
MAX_SOURCE_MB = 5.0
MAX_READ_MB = 20.0


def limit(mb: float = MAX_SOURCE_MB) -> int:
    """A size in MB as extract()'s `max_bytes` (an MB is 10^6 bytes, as extract's message counts)."""
    return int(mb * 1e6)


class SourceError(KbError):
    """This source cannot be compiled; the message is the report line."""


@dataclass
class Document:
    title: str
    text: str
    kind: str
    meta: dict = field(default_factory=dict)  # clipper fields: source, author, published, tags
    images: list[str] = field(default_factory=list)  # assets the source references


def kind_of(path: Path) -> str | None:
    return TEXT_KINDS.get(path.suffix.lower())


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:8192]:
        raise SourceError(f"{name}: binary data, not text (renamed file?); remove it or give it the right extension")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise SourceError(f"{name}: not valid UTF-8 (bad byte at offset {e.start}); "
                          "convert it to UTF-8 and it will be compiled") from None


def _html(text: str, path: Path, rel: str) -> Document:
    """The page's main content as markdown, by trafilatura: banners, navigation, sidebars and
    comments go; tables stay tables (a row's cells run together would turn `1 | 6.0` into `16.0`),
    lists keep their bullets, links their targets, code its fences, images their paths."""
    import logging

    import lxml.etree
    import lxml.html
    import trafilatura
    logging.getLogger("trafilatura").setLevel(logging.ERROR)  # its warnings are not the user's business
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # XHTML: lxml refuses a str that declares an encoding
    try:
        tree = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError) as e:
        raise SourceError(f"{rel}: cannot parse HTML ({e})") from None
    title = " ".join((tree.findtext(".//title") or "").split())
    for pre in tree.iter("pre"):  # trafilatura fences <pre><code> but reads a bare <pre> as a quote
        if not any(child.tag == "code" for child in pre):
            code = lxml.html.Element("code")
            code.text, pre.text = pre.text, None
            for child in list(pre):
                code.append(child)
            pre.append(code)
    body = trafilatura.extract(tree, output_format="markdown", include_tables=True, include_links=True,
                               include_images=True, include_formatting=True, include_comments=False,
                               favor_recall=True) or ""
    body = re.sub(r"[ \t]+$", "", body, flags=re.M)  # trafilatura ends table rows with a space
    body = re.sub(r"^(```[^\n]*\n.*?\n```)\n(?=\S)", "\\1\n\n", body, flags=re.S | re.M)
    doc = Document(title=title or _first_heading(body) or _title_from_name(path), text=body.strip(), kind="html")
    doc.images = _images(body)
    return doc


def _images(body: str) -> list[str]:
    """Images a markdown text embeds (`![alt](path)`, `![[path]]`): candidate assets."""
    embed = markdown.WL_EMBED + markdown.WL_OPEN + f"({markdown.WL_TARGET}+)"
    return [a or b for a, b in re.findall(r"!\[[^\]]*\]\(([^)\s]+)[^)]*\)|" + embed, body)]


def _first_heading(text: str) -> str | None:
    m = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    return m.group(1).strip() if m else None


def _title_from_name(path: Path) -> str:
    return re.sub(r"[-_]+", " ", path.stem).strip().capitalize() or path.stem


def extract(path: Path, rel: str, *, max_bytes: int) -> Document:
    kind = kind_of(path)
    if kind is None:
        raise SourceError(f"{rel}: unsupported file type '{path.suffix or '(none)'}'; "
                          "kb compiles .md, .txt, .html and .pdf")
    size = path.stat().st_size
    if size == 0:
        raise SourceError(f"{rel}: empty file")
    if size > max_bytes:
        raise SourceError(f"{rel}: too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:.0f} MB limit); "
                          "split it or raise compile.max_source_mb")
    data = path.read_bytes()
    if kind == "pdf":
        return _pdf(data, path, rel)
    text = _decode(data, rel)
    if kind == "html":
        doc = _html(text, path, rel)
    else:
        meta: dict = {}
        body = text
        if kind == "markdown":
            try:
                meta, body = markdown.split_frontmatter(text, where=rel)
            except PageError:
                meta, body = {}, text  # a broken header in a clipping is still readable text
        title = str(meta.get("title") or _first_heading(body) or _title_from_name(path)).strip()
        doc = Document(title=title, text=body.strip(), kind=kind,
                       meta={k: meta[k] for k in ("source", "url", "author", "published", "tags",
                                                  "description") if meta.get(k)})
        doc.images = _images(body)
    if len(doc.text.strip()) < 20:
        raise SourceError(f"{rel}: no readable text (only {len(doc.text.strip())} characters)")
    return doc


def _pdf(data: bytes, path: Path, rel: str) -> Document:
    if not data.startswith(b"%PDF"):
        raise SourceError(f"{rel}: not a PDF (no %PDF header); is it corrupt or misnamed?")
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [pdftext.page_text(p) for p in reader.pages]
        info = reader.metadata or {}
        title = str(info.get("/Title") or "").strip()
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as e:
        raise SourceError(f"{rel}: cannot read PDF ({type(e).__name__}: {str(e)[:120]}); is it corrupt?") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if len(text) < 20:
        raise SourceError(f"{rel}: PDF has no extractable text (scanned images?); OCR it first")
    first_line = next((l.strip() for l in text.splitlines() if len(l.strip()) > 8), "")
    return Document(title=title or first_line[:120] or _title_from_name(path), text=text, kind="pdf",
                    meta={"pages": len(pages)})
