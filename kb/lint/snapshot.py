"""The vault as lint sees it, read once: pages, parses, the link graph, the manifest, and the raw
sources' hashes and fingerprints when a check asks for them.

Each note is read and parsed once (kb/core/simplemd.py for plain pages, markdown-it for the
rest) and the reading serves the links, the headings and the empty-section check alike. Files come
from one `vault.files()` walk, which has vetted every path in it (no symlinked folder walked, a
symlinked file only to a file inside the vault), so they are opened by path, not resolved again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kb.core import kinds, markdown, simplemd
from kb.core.errors import PageError
from kb.core.links import Graph, LinkIndex, build_graph, nfc
from kb.core.manifest import Manifest
from kb.core.text import Fingerprint, fingerprint
from kb.core.vault import Page, Vault

REPORTS = kinds.folder("report")


@dataclass
class Snapshot:
    """The vault as lint sees it, read once."""

    vault: Vault
    files: list[str]
    pages: dict[str, Page]  # notes outside raw/ that parse
    bad: dict[str, str]  # notes whose frontmatter does not parse -> why
    parsed: dict[str, markdown.Parsed]
    graph: Graph
    manifest: Manifest
    empty: dict[str, list[str]] = field(default_factory=dict)  # note -> headings with nothing under them
    _hashes: dict[str, str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, vault: Vault) -> "Snapshot":
        files = vault.files()
        pages, bad, parsed, empty = {}, {}, {}, {}
        for rel in files:
            if rel.startswith(kinds.RAW) or not kinds.is_page(rel):
                continue
            try:
                page = _read(vault, rel)
            except PageError as e:
                bad[rel] = str(e)
                text = vault.abspath(rel).read_text(encoding="utf-8", errors="replace")
                page = Page(rel, {}, markdown.after_frontmatter(text))
            else:
                pages[rel] = page
            plain = simplemd.read(page.body, page.meta)  # once, for links and for sections
            if plain is None:
                tokens = markdown.parser().parse(page.body)
                plain = simplemd.Plain(markdown.parse(page.body, tokens, page.meta), simplemd.outline(tokens))
            parsed[rel] = plain.parsed
            empty[rel] = simplemd.empty_headings(plain.outline)
        graph = build_graph(LinkIndex(files), parsed)
        return cls(vault, files, pages, bad, parsed, graph, Manifest.load(vault), empty)

    def wiki(self) -> list[str]:
        return [p for p in self.parsed if p.startswith("wiki/") and not p.startswith(REPORTS)]

    def kind(self, rel: str) -> str:
        page = self.pages.get(rel)
        t = page.meta.get("type") if page else None
        return str(t) if t else kinds.folder_kind(rel) or "note"

    def aliases(self) -> dict[str, str]:
        """Lower-cased alias -> the page that declares it."""
        out = {}
        for rel, page in self.pages.items():
            al = page.meta.get("aliases")
            for a in al if isinstance(al, list) else []:
                if isinstance(a, str) and a.strip():
                    out.setdefault(nfc(a.strip()).lower(), rel)
        return out

    def path(self, rel: str) -> str:
        """Where a file listed in `files` is (the listing vetted it)."""
        return os.path.join(self.vault.root, self.vault.on_disk(rel))

    def raw_hash(self, rel: str) -> str | None:
        """A listed raw source's hash as it is now, as compile decides it (the manifest's while
        size and mtime match); None when it cannot be read."""
        if rel not in self._hashes:
            try:
                self._hashes[rel] = self.manifest.current_hash(self.vault, rel, self.path(rel))
            except OSError:
                self._hashes[rel] = None
        return self._hashes[rel]

    def fingerprints(self, texts: dict[str, str]) -> dict[str, Fingerprint]:
        """Fingerprints of every raw source that extracts (kept between runs by hash, see
        kb/lint/fingerprints.py), and of `texts` (path -> text)."""
        from kb.core.extract import IMAGE_EXTS
        from kb.lint.fingerprints import raw_fingerprints
        sources = {}
        for rel in self.files:
            if rel.startswith(kinds.RAW) and not rel.startswith(kinds.ASSETS) \
                    and os.path.splitext(rel)[1].lower() not in IMAGE_EXTS and self.raw_hash(rel) is not None:
                sources[rel] = (self.raw_hash(rel), self.path(rel))
        out = raw_fingerprints(self.vault, sources)
        out.update({rel: fingerprint(text) for rel, text in texts.items()})
        return out


def _read(vault: Vault, rel: str) -> Page:
    """vault.read for a path vault.files() listed; any trouble is vault.read's to report."""
    try:
        with open(os.path.join(vault.root, vault.on_disk(rel)), encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return vault.read(rel)
    meta, body = markdown.split_frontmatter(text, where=rel)
    return Page(path=rel, meta=meta, body=body)


def empty_sections(body: str, tokens: list | None = None) -> list[str]:
    """Headings with nothing under them before the next heading of the same or a higher level
    (`tokens`: markdown-it's, when the caller has them)."""
    plain = simplemd.read(body) if tokens is None else None
    if plain is not None:
        return simplemd.empty_headings(plain.outline)
    return simplemd.empty_headings(simplemd.outline(markdown.parser().parse(body) if tokens is None else tokens))
