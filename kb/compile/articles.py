"""Concept pages that open with an article, not a list of quotes.

A wiki reader expects a page on a concept to say what it is. The article is synthesised by the
model from what every source that feeds the concept says about it (`evidence`: up to three of
each source's own sentences naming it), each sentence citing its source page. Code then holds
each sentence to the gate against the cited source's sentences; a failed one is replaced by the
source's closest sentence or dropped. With no model sentence left (or no model at all) the
article is the sources' own first sentences, cited: never empty, never invented.

Model results are cached by content (`.kb/cache/article-<hash>.json`, written before the page),
so an article is rewritten only when what its sources say changes, and a killed run costs nothing
to finish. The quotes stay below the article as evidence.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Callable

from kb.core import kinds, markdown, names, pages
from kb.core.grounding import Gate, Source, split
from kb.core.vault import Page, Vault

ARTICLE_VERSION = 1  # bump when the article prompt changes: cached articles are keyed by it
EVIDENCE = 3  # sentences per source the model sees


def evidence_for(names: list[str], text_sentences: list[str], limit: int = EVIDENCE) -> list[str]:
    """The source's first sentences that name the concept (any of its names), as written; short
    ones only when there are no others. Punctuation between a name's words does not matter
    ('RL (PPO)' names 'RL PPO')."""
    pats = [re.compile(r"(?<![\w-])" + r"\W+".join(map(re.escape, n.split())) + r"(?:e?s)?(?![\w-])", re.I)
            for n in names if n.strip()]
    hits = [s for s in dict.fromkeys(text_sentences) if len(s) <= 300 and any(p.search(s) for p in pats)]
    return ([s for s in hits if len(s) >= 40] or hits)[:limit]


@dataclass
class Feed:
    """One source feeding a concept: its page, title and what it says about the concept."""

    page: str
    title: str
    evidence: list[str]


class Articles:
    """Writes the article of a concept page; `write` is called by the compile job."""

    def __init__(self, vault: Vault, compiler: Callable[[], object] | None,
                 on_calls: Callable[[object], None] = lambda stats: None):
        self.vault = vault
        self.compiler = compiler  # -> SourceCompiler, created on first need
        self.on_calls = on_calls

    def sentences(self, title: str, feeds: list[Feed], gate: Gate) -> list[tuple[str, Feed]]:
        """(sentence, the feed it cites), through the gate; extractive when nothing survives."""
        feeds = [f for f in feeds if f.evidence]
        if not feeds:
            return []
        drafted = self.draft(title, feeds)
        out: list[tuple[str, Feed]] = []
        used: set[str] = set()  # sentences already in the article: a stand-in may hold two
        for item in drafted:
            feed = feeds[item["source"] - 1]
            got = gate.sentence(item["text"], Source.of("\n\n".join(feed.evidence)), used=used)
            fresh = [s for s in split(got or "") if s not in used]
            if fresh:
                used.update(fresh)
                out.append((" ".join(fresh), feed))
        if not out:
            out = [(f.evidence[0], f) for f in feeds[:3]]
        return out[:5]

    def draft(self, title: str, feeds: list[Feed]) -> list[dict]:
        """The model's draft (cached): what `sentences` reads. Called ahead, from threads, by a
        compile with jobs > 1, so the pages written in turn afterwards find every draft cached."""
        feeds = [f for f in feeds if f.evidence]
        if not feeds:
            return []
        blob = json.dumps([title, [(f.title, f.evidence) for f in feeds], ARTICLE_VERSION], ensure_ascii=False)
        cache = self.vault.state_dir / "cache" / f"article-{hashlib.sha256(blob.encode()).hexdigest()[:32]}.json"
        if (hit := read_cache(cache)) is not None:
            return hit
        if self.compiler is None:
            return []
        drafted, stats = self.compiler().article(title, [(f.title, f.evidence) for f in feeds])
        self.on_calls(stats)
        _cache_write(cache, json.dumps(drafted, ensure_ascii=False))
        return drafted


def read_cache(path) -> list | dict | None:
    """A cached model result, or None when there is none or it is unreadable (a torn or hand-edited
    cache file costs one model call, never a failed compile)."""
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, OSError):
        return None


def _cache_write(path, text: str) -> None:
    """Renamed into place but not fsynced: a cache lost to a power cut costs one model call, and
    a watcher's burst of sources would otherwise wait on the disk for every article."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # per thread: two drafts of one text may be written at once; swept by compile if a kill leaves it
    tmp = path.parent / f".{path.name}.{os.getpid()}-{threading.get_ident()}{kinds.TEMP_SUFFIX}"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def with_article(page: Page, title: str, article: list[tuple[str, Feed]]) -> Page:
    """The concept page with its article first and the index's description taken from it."""
    if not article:  # no source sentence names it: the description still says where it is from
        desc = str(page.meta.get("description") or "")
        if desc.rstrip().endswith(":") or not desc:
            desc = "Mentioned in " + ", ".join(m["alias"] for m in markdown.WIKILINK.finditer(" ".join(
                page.meta.get("sources", []))) if m["alias"])
        return Page(page.path, dict(page.meta, description=desc), page.body)
    text = " ".join(f"{names.one_line(names.prose(s))} ({pages.link(f.page, f.title)})" for s, f in article)
    heading = f"# {names.label(title)}\n\n"  # as pages.concept_page writes it
    body = page.body.replace(heading, f"{heading}{text}\n\n", 1)
    meta = dict(page.meta, description=pages.first_sentence(names.one_line(names.prose(article[0][0])), 160))
    return Page(page.path, meta, body)
