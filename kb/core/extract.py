"""Raw sources to plain text: markdown (Obsidian Web Clipper frontmatter included), text, HTML
and PDF. Every way a file can be unusable is a SourceError with one line that says what is wrong
and what to do, so one bad file never stops a batch."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from kb.core import markdown
from kb.core.errors import KbError, PageError

TEXT_KINDS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text",
              ".html": "html", ".htm": "html", ".pdf": "pdf"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".gif", ".webp", ".svg", ".bmp"}


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


class _HTMLText(HTMLParser):
    SKIP = {"script", "style", "nav", "footer", "header", "noscript", "svg", "form"}
    BLOCK = {"p", "div", "section", "article", "li", "br", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
             "pre", "blockquote", "table"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False
        self._heading = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.BLOCK:
            self.parts.append("\n\n")
            if tag[0] == "h" and tag[1:].isdigit():
                self.parts.append("#" * int(tag[1:]) + " ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)

    def text(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"[ \t]+", " ", text)
        return re.sub(r"\n\s*\n\s*", "\n\n", text).strip()


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
        parser = _HTMLText()
        parser.feed(text)
        body = parser.text()
        doc = Document(title=parser.title.strip() or _first_heading(body) or _title_from_name(path),
                       text=body, kind=kind)
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
        doc.images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)|!\[\[([^\]|#]+)", body)
        doc.images = [a or b for a, b in doc.images]
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
        pages = [p.extract_text() or "" for p in reader.pages]
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
