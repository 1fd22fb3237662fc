"""Rendering wiki pages from compiled data. Pure functions of their inputs: the same manifest
always gives the same pages, which is what lets compile rewrite only what changed."""

from __future__ import annotations

import re
from datetime import date

from kb.core import names, sentences
from kb.core.kinds import KINDS
from kb.core.vault import Page

UNSAFE = re.compile(r'[\\/:*?"<>|#^\[\]]')


def safe_name(title: str, limit: int = 100) -> str:
    """A file name Obsidian accepts and a wikilink can hold (kb.core.names has the rule)."""
    return names.filename(title, limit)


def link(path: str, text: str | None = None) -> str:
    """kb always links by vault path: it resolves exactly whatever other notes are named."""
    target = path[:-3] if path.endswith(".md") else path
    return f"[[{target}|{names.label(text or target.rsplit('/', 1)[-1])}]]"


def raw_ref(raw: str) -> str:
    """A raw file as a link when its name can be one; kb never renames raw/, so a name holding
    `]]`, `|` or `#` is shown as literal text instead of a link that would not resolve."""
    return link(raw, raw.rsplit("/", 1)[-1]) if names.link_safe(raw) else names.inline(raw)


def first_sentence(text: str, limit: int = 160) -> str:
    s = sentences.first(text)
    return s if len(s) <= limit else s[:limit - 1].rstrip() + "…"


def _today() -> str:
    return date.today().isoformat()


# The frontmatter keys of a page kb writes, in the order it writes them.
FRONTMATTER = ("title", "type", "aliases", "tags", "sources", "raw", "raw_hash", "description", "mode",
               "model", "created", "updated")


def frontmatter(kind: str, title: str, *, description: str, tags: tuple[str, ...] | list[str] = (),
                aliases: list[str] | None = (), sources: list[str] = (), created: str | None = None,
                **fields) -> dict:
    """The frontmatter of every page kb writes: its kind is its `type` and its first tag, dated
    today (`created` kept when given). `fields`: the keys only some kinds have (a source's raw and
    raw_hash, an answer's mode and model). aliases=None leaves the key out (a Marp deck)."""
    today = _today()
    meta = {"title": names.unlinked(title), "type": kind, "aliases": [names.unlinked(a) for a in aliases or ()],
            "tags": [kind, *tags], "sources": list(sources), "description": names.unlinked(description),
            "created": created or today,
            "updated": today, **fields}
    if aliases is None:
        del meta["aliases"]
    unknown = set(meta) - set(FRONTMATTER)
    if unknown:
        raise TypeError(f"not a frontmatter key kb writes: {', '.join(sorted(unknown))}")
    return {k: meta[k] for k in FRONTMATTER if k in meta}


def source_page(path: str, *, title: str, raw: str, raw_hash: str, meta: dict, summary: str,
                key_points: list[str], figures: list[str], concepts: list[tuple[str, str, str]],
                created: str | None = None, images: list[str] = ()) -> Page:
    """concepts: (concept page path, concept title, claim)."""
    info = [f"Raw file: {raw_ref(raw)}"]
    for key in ("author", "published", "source", "url"):
        if meta.get(key):
            info.append(f"{key.capitalize()}: {names.inline(meta[key])}")
    summary, key_points = names.prose(summary), [names.one_line(names.prose(p)) for p in key_points]
    lines = [f"# {names.label(title)}", "", "> " + " · ".join(info), "", "## Summary", "", summary.strip(), ""]
    if key_points:
        lines += ["## Key points", ""] + [f"- {p.strip()}" for p in key_points] + [""]
    if figures:
        lines += ["## Figures and numbers", "", "Quoted exactly from the source:", ""]
        lines += [f"- “{names.one_line(names.prose(f))}”" for f in figures] + [""]
    if concepts:
        lines += ["## Concepts", ""]
        lines += [f"- {link(p, t)}: {names.one_line(names.prose(c))}" if c.strip() else f"- {link(p, t)}"
                  for p, t, c in concepts]
        lines.append("")
    images = [i for i in images if names.link_safe(i)]  # an embed that cannot resolve is left out
    if images:
        lines += ["## Images", ""] + [f"![[{i}]]" for i in images] + [""]
    fm = frontmatter("source", title, raw=names.unlinked(raw), raw_hash=raw_hash,  # a property's [[ ]] is a link
                     sources=[link(raw, raw.rsplit("/", 1)[-1]) if names.link_safe(raw) else names.unlinked(raw)],
                     description=first_sentence(summary), created=created)
    return Page(path, fm, "\n".join(lines))


def concept_page(path: str, *, title: str, aliases: list[str],
                 claims: list[tuple[str, str, str, str | None]], related: list[tuple[str, str]],
                 created: str | None = None) -> Page:
    """claims: (source page path, source title, claim, supporting quote)."""
    lines = [f"# {names.label(title)}", "", "## What the sources say", ""]
    for spath, stitle, claim, quote in claims:
        lines.append(f"- {names.one_line(names.prose(claim)) or 'Mentioned in'} ({link(spath, stitle)})")
        if quote:
            lines.append(f"  > “{names.one_line(names.prose(quote))}”")
    lines.append("")
    if related:
        lines += ["## Related concepts", ""] + [f"- {link(p, t)}" for p, t in related] + [""]
    n = len({c[0] for c in claims})
    fm = frontmatter("concept", title, aliases=aliases, sources=[link(p, t) for p, t, _, _ in claims],
                     description=f"{n} source{'s' if n != 1 else ''}: "
                     + first_sentence(claims[0][2] if claims else "", 120), created=created)
    return Page(path, fm, "\n".join(lines))


GROUPS = tuple(KINDS.values())  # (folder, heading), in the index's order


# kb's catalogue sits between these two lines; a person may write anything around them.
INDEX_START = "%% kb:index start: kb rewrites what follows, down to the end marker %%"
INDEX_END = "%% kb:index end %%"


def index_page(entries: list[tuple[str, str, str]]) -> Page:
    """entries: (path, title, description) for every wiki page."""
    lines = ["# Index", "", "Every page in this wiki, one line each. Generated by kb: text outside the "
             "kb:index markers is kept when kb updates it.", "", INDEX_START, ""]
    for prefix, heading in GROUPS:
        group = sorted((e for e in entries if e[0].startswith(prefix)), key=lambda e: e[1].lower())
        lines += [f"## {heading} ({len(group)})", ""]
        lines += [f"- {link(p, t)}" + (f" — {names.one_line(names.prose(d))}" if d else "") for p, t, d in group] \
            or ["(none yet)"]
        lines.append("")
    lines += [INDEX_END, ""]
    return Page("index.md", {"title": "Index", "updated": _today()}, "\n".join(lines))


def index_block(body: str) -> str | None:
    """The catalogue part of an index body (markers included), None when the markers are gone."""
    start = body.find(INDEX_START)
    end = body.find(INDEX_END, start + 1)
    return body[start:end + len(INDEX_END)] if start >= 0 and end >= 0 else None


def merge_index(body: str, fresh: Page) -> str:
    """A person's index with kb's catalogue brought up to date: their text stays where it is; a
    catalogue whose markers they deleted is added again at the end."""
    block, old = index_block(fresh.body), index_block(body)
    if old is None:
        return body.rstrip("\n") + "\n\n" + block + "\n"
    return body.replace(old, block, 1)


def log_line(action: str, title: str) -> str:
    """One entry; the title is a label, so no newline in it can forge a second entry."""
    return f"\n## [{_today()}] {names.label(action)} | {names.label(title)}\n"
