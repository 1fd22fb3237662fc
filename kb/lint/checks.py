"""The structural checks of `kb lint`: everything that needs no model.

Each check is a function of a `Snapshot` (the vault read once: pages, parses, link graph,
manifest) that returns findings. A problem is reported by exactly one check, under the most
specific name that fits: a link to a removed source is a `dangling-source-link`, not also a
`broken-link`; a link to a missing page that several pages share is a `missing-concept`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from kb.core import kinds
from kb.core import pages as pages_mod
from kb.core import concepts as C
from kb.core.kinds import CATALOGUES, PAGE_TYPES
from kb.core.text import similar
from kb.core.links import nfc
from kb.core.vault import Vault
from kb.lint.snapshot import REPORTS, Snapshot, empty_sections  # noqa: F401 (lint's names, kept here too)

LIST_KEYS = ("aliases", "tags", "sources")
DATE_KEYS = ("created", "updated")


@dataclass
class Finding:
    check: str
    severity: str  # error | warning | suggestion
    message: str
    pages: list[str] = field(default_factory=list)  # vault paths involved, the page at fault first
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (path, text quoted from it)
    fixable: bool = False
    data: dict = field(default_factory=dict)  # what --fix needs

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "message": self.message,
                "pages": self.pages, "quotes": [{"path": p, "text": t} for p, t in self.quotes],
                "fixable": self.fixable}


# -- frontmatter ------------------------------------------------------------------------------

def check_frontmatter(s: Snapshot) -> list[Finding]:
    out = [Finding("invalid-frontmatter", "error", why, [rel]) for rel, why in sorted(s.bad.items())
           if rel.startswith("wiki/")]
    for rel in s.wiki():
        page = s.pages.get(rel)
        if page is None:
            continue
        if not page.meta:
            out.append(Finding("missing-frontmatter", "warning",
                               f"{rel} has no frontmatter (title, type, tags, created)", [rel]))
            continue
        problems = []
        if not isinstance(page.meta.get("title"), str) or not page.meta["title"].strip():
            problems.append("no title")
        t = page.meta.get("type")
        expected = kinds.folder_kind(rel)
        if t is None:
            problems.append("no type")
        elif t not in PAGE_TYPES:
            problems.append(f"type {t!r} is not one of {', '.join(PAGE_TYPES)}")
        elif expected and t != expected:
            problems.append(f"type {t!r} in the {expected} folder")
        for k in LIST_KEYS:
            if k in page.meta and not isinstance(page.meta[k], list):
                problems.append(f"{k} is not a list")
        for k in DATE_KEYS:
            v = page.meta.get(k)
            if v is not None and not _is_date(v):
                problems.append(f"{k} {v!r} is not a date (YYYY-MM-DD)")
        if t == "source" and not page.meta.get("raw"):
            problems.append("no raw (the source file it was written from)")
        if problems:
            out.append(Finding("invalid-frontmatter", "error", f"{rel}: " + "; ".join(problems), [rel]))
    return out


def _is_date(v) -> bool:
    if isinstance(v, (date, datetime)):
        return True
    try:
        date.fromisoformat(str(v)[:10])
        return True
    except ValueError:
        return False


# -- links ------------------------------------------------------------------------------------

def check_links(s: Snapshot) -> list[Finding]:
    """Broken links, classified: alias links, links to removed sources, missing concepts."""
    aliases = s.aliases()
    missing: dict[str, list] = {}
    out = []
    for r in s.graph.broken:
        if r.source.startswith(REPORTS):  # reports are snapshots of their day
            continue
        where = _where(r)
        text = _written(r.link)
        if r.target is not None:
            out.append(Finding("broken-link", "error", f"{where}: {text} -> {r.problem}", [r.source, r.target]))
            continue
        key = nfc(r.link.target).lower()
        own_raw = s.pages[r.source].meta.get("raw") if r.source in s.pages else None
        if own_raw and nfc(str(own_raw)).lower() in (key, key + ".md"):
            continue  # a source page whose source is gone: reported once, as stale
        if key in aliases:
            out.append(Finding("alias-link", "warning",
                               f"{where}: {text} names an alias of {aliases[key]}, which Obsidian does not "
                               "resolve", [r.source, aliases[key]], fixable=True,
                               data={"target": r.link.target, "page": aliases[key]}))
        elif key.startswith((kinds.folder("source"), kinds.RAW)):
            out.append(Finding("dangling-source-link", "error",
                               f"{where}: {text} points to a source that is no longer in the vault",
                               [r.source], fixable=True, data={"target": r.link.target}))
        else:
            missing.setdefault(key, []).append(r)
    for key, rs in sorted(missing.items()):
        linking = sorted({r.source for r in rs})
        text = _written(rs[0].link)
        if len(linking) >= 2:
            out.append(Finding("missing-concept", "warning",
                               f"{text} is linked from {len(linking)} pages but has no page of its own",
                               linking, fixable=True, data={"target": rs[0].link.target}))
        else:
            for r in rs:
                out.append(Finding("broken-link", "error",
                                   f"{_where(r)}: {text} -> {r.problem}", [r.source]))
    return out


def _where(r) -> str:
    return f"{r.source} (property {r.link.prop})" if r.link.prop else f"{r.source} (line {r.link.line})"


def _written(link) -> str:
    return f"[[{link.target}{link.subpath}]]" if link.kind == "wiki" else f"({link.target}{link.subpath})"


def check_orphans(s: Snapshot) -> list[Finding]:
    """Sources, concepts and a person's own notes that nothing links to (the index and log do
    not count: they list everything). Answers and reports are reached through the index."""
    out = []
    for rel in sorted(s.parsed):
        if rel in CATALOGUES or rel.startswith((kinds.folder("answer"), REPORTS)):
            continue
        inbound = {p for p in s.graph.inbound(rel) if p not in CATALOGUES and not p.startswith(REPORTS)}
        if not inbound:
            out.append(Finding("orphan", "warning", f"{rel}: no other page links to it", [rel]))
    return out


# -- sources ----------------------------------------------------------------------------------

def check_stale(s: Snapshot) -> list[Finding]:
    out = []
    present = set(s.files)
    for rel in s.wiki():
        page = s.pages.get(rel)
        if page is None or page.meta.get("type") != "source" or not page.meta.get("raw"):
            continue
        raw = nfc(str(page.meta["raw"]))
        if raw not in present:
            out.append(Finding("stale", "warning", f"{rel}: its source {raw} is gone (run `kb compile` "
                               "to remove the page)", [rel]))
            continue
        # the manifest's hash when size and mtime still match (as compile decides), else a fresh one
        if page.meta.get("raw_hash") and s.raw_hash(raw) != page.meta["raw_hash"]:
            out.append(Finding("stale", "warning", f"{rel}: {raw} changed since this page was written "
                               "(run `kb compile`)", [rel, raw]))
    return out


# -- duplicates -------------------------------------------------------------------------------

def check_duplicates(s: Snapshot) -> list[Finding]:
    out = []
    names: dict[str, set[str]] = {}
    acronyms: dict[str, set[str]] = {}
    expansions: dict[str, set[str]] = {}
    for rel in s.wiki():
        page = s.pages.get(rel)
        if page is None or s.kind(rel) != "concept":
            continue
        al = page.meta.get("aliases") if isinstance(page.meta.get("aliases"), list) else []
        for n in [page.title, *[a for a in al if isinstance(a, str)]]:
            key = C.concept_key(n)
            if key:
                names.setdefault(key, set()).add(rel)
            if " " not in n and 2 <= len(n) <= 6 and sum(c.isupper() for c in n) >= 2:
                acronyms.setdefault(n.upper(), set()).add(rel)
        if len(page.title.split()) >= 2:  # 'Mixture of Experts' is MoE or ME
            initials = "".join(w[0] for w in page.title.split() if w[:1].isalpha()).upper()
            for acr in {initials, C.acronym_of(page.title)}:
                expansions.setdefault(acr, set()).add(rel)
    for acr, rels in acronyms.items():  # 'MoE' and 'Mixture of Experts'; not two titles with one acronym
        names.setdefault("acronym:" + acr, set()).update(rels | expansions.get(acr, set()))
    seen = set()
    for key, rels in sorted(names.items()):
        group = tuple(sorted(rels))
        if len(group) > 1 and group not in seen:
            seen.add(group)
            titles = ", ".join(s.pages[r].title for r in group)
            out.append(Finding("duplicate-concept", "warning", f"one concept under {len(group)} pages: "
                               f"{titles} (same name, alias or acronym)", list(group)))
    page_of = {nfc(str(p.meta["raw"])): rel for rel, p in s.pages.items()
               if p.meta.get("type") == "source" and p.meta.get("raw")}
    texts = {rel: s.pages[rel].body for rel in s.wiki()
             if rel in s.pages and s.kind(rel) not in ("source", "concept", "report")}
    for a, b, sim in similar(s.fingerprints(texts)):  # raw sources and these pages
        involved = [page_of.get(a, a), page_of.get(b, b)]
        what = "the same text" if sim == 1.0 else f"{sim:.0%} the same text"
        out.append(Finding("duplicate-source" if a.startswith(kinds.RAW) else "duplicate-page", "warning",
                           f"{a} and {b} are {what}", involved + [p for p in (a, b) if p not in involved],
                           data={"similarity": round(sim, 3)}))
    return out


# -- sections and the index -------------------------------------------------------------------

def check_sections(s: Snapshot) -> list[Finding]:
    out = []
    for rel in sorted(s.parsed):
        if rel in CATALOGUES or rel.startswith(REPORTS) or rel not in s.pages:
            continue
        for heading in s.empty.get(rel, []):
            out.append(Finding("empty-section", "warning", f"{rel}: section '{heading}' is empty", [rel],
                               data={"heading": heading}))
    return out


def check_index(s: Snapshot) -> list[Finding]:
    """The index as kb would write it now, from the pages already read, against index.md."""
    entries = [(rel, page.title, str(page.meta.get("description") or ""))
               for rel, page in sorted(s.pages.items()) if rel.startswith("wiki/")]
    current = s.pages.get("index.md")
    fresh = pages_mod.index_block(pages_mod.index_page(entries).body)  # the person's text around it is theirs
    if current is not None and pages_mod.index_block(current.body) == fresh:
        return []
    return [Finding("index-stale", "warning", "index.md does not list the wiki as it is now", ["index.md"],
                    fixable=True)]


def raw_texts(vault: Vault, files: list[str]) -> dict[str, str]:
    """Plain text of every raw source that extracts (bad ones are compile's to report), for the
    model checks; the structural ones compare fingerprints (Snapshot.fingerprints)."""
    from kb.core.extract import IMAGE_EXTS, SourceError, extract, limit
    out = {}
    for rel in files:
        if not rel.startswith(kinds.RAW) or rel.startswith(kinds.ASSETS) or Path(rel).suffix.lower() in IMAGE_EXTS:
            continue
        try:
            out[rel] = extract(vault.abspath(rel), rel, max_bytes=limit()).text
        except (SourceError, OSError):
            continue
    return out


STRUCTURAL = (check_frontmatter, check_links, check_orphans, check_stale, check_sections, check_index)
