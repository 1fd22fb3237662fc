"""Full-text search over the wiki and the raw sources: a whoosh index under `.kb/search/`.

The markdown files are the truth and the index is derived from them: `sync` compares each
file's size and mtime with what the index recorded and re-indexes only what changed (an edit
costs one document, not a rebuild); `rebuild` starts over. BM25F ranks with field boosts (title
and aliases over headings over body), and a stemming analyzer matches "experts" to "expert". The
same `search()` serves `kb search`, the agent's `search(q, k)` and the RAG baseline; it ranks
through `ranking.py`, which keeps one searcher per index generation warm in the process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from kb.core import kinds, markdown
from kb.core.errors import KbError, PageError, UsageError
from kb.core.vault import Vault, atomic_write
from kb.tools import ranking, snippets

INDEX_DIR = "search"
MAX_BODY = 200_000  # characters of one document that are indexed


@dataclass
class Hit:
    path: str
    title: str
    kind: str
    score: float
    snippet: str

    def as_dict(self) -> dict:
        return asdict(self)


def _schema():
    """No positions (`phrase=False`): queries are prose with the quotes taken out, so there is no
    phrase to match, and highlighting re-reads the stored body. Positions made the index 1.6x as
    large (10,000 pages: 27 MB, now 17 MB) and a common term's postings 7x slower to read."""
    from whoosh.analysis import StemmingAnalyzer
    from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
    stem = StemmingAnalyzer()
    return Schema(path=ID(unique=True, stored=True), kind=ID(stored=True),
                  title=TEXT(analyzer=stem, stored=True, field_boost=4.0, phrase=False),
                  aliases=TEXT(analyzer=stem, field_boost=3.0, phrase=False),
                  headings=TEXT(analyzer=stem, field_boost=2.0, phrase=False),
                  tags=KEYWORD(lowercase=True, commas=True, field_boost=1.5),
                  body=TEXT(analyzer=stem, stored=True, phrase=False),
                  source_text=TEXT(analyzer=stem, field_boost=0.6, phrase=False), stamp=STORED())


def _layout(schema) -> dict:
    return {name: type(field.format).__name__ for name, field in schema.items()}


_LAYOUT: dict = {}


def _current(schema) -> bool:
    """Whether an index on disk was written with this schema (an older kb's is rebuilt)."""
    if not _LAYOUT:
        _LAYOUT.update(_layout(_schema()))
    return _layout(schema) == _LAYOUT


KINDS_FOUND = (*kinds.KINDS, "raw", "page")  # what `_kind` calls a document


def _kind(path: str) -> str:
    return kinds.folder_kind(path) or ("raw" if path.startswith(kinds.RAW) else "page")


class SearchIndex:
    def __init__(self, vault: Vault):
        self.vault = vault
        self.dir = vault.state_dir / INDEX_DIR
        self.stamps_path = self.dir / "stamps.json"

    @property
    def exists(self) -> bool:
        from whoosh import index
        try:
            return self.dir.is_dir() and index.exists_in(str(self.dir))
        except Exception:  # a damaged table of contents: there, but _open rebuilds it
            return True

    def _open(self):
        """The index and whether it was just created (then nothing in it can be trusted). The
        index is derived from the files: one that is truncated or emptied is rebuilt, with one
        warning line, never trusted and never a traceback."""
        from whoosh import index
        if self.exists:
            try:
                ix = index.open_dir(str(self.dir))
                ix.doc_count_all()  # reads every segment's header: a truncated one fails here
            except Exception as e:  # whoosh has no single error for a damaged index
                _damaged(self.dir, e)
                ix = None
            if ix is not None and _current(ix.schema):
                return ix, False
            if ix is not None:
                ix.close()
            ranking.forget(self.dir)
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        return index.create_in(str(self.dir), _schema()), True

    def documents(self, among: list[str] | None = None) -> list[str]:
        """What is searchable: wiki pages, other notes, and raw sources that extract to text.
        With `among`, which of those paths are: a sync of the few files compile wrote need not
        list the vault (at 10,000 pages the listing was most of a one-page update). A path not
        found as spelled may be a removed file or a name spelled NFD on disk: then list."""
        from kb.core.extract import TEXT_KINDS
        found = [p for p in among if self._present(p)] if among is not None else []
        files = found if among is not None and len(found) == len(among) else self.vault.files()
        return [p for p in files if not p.startswith(kinds.ASSETS)
                and p not in kinds.CATALOGUES  # they match everything
                and (kinds.is_page(p) if p.lower().endswith(".md")
                     else p.startswith(kinds.RAW) and Path(p).suffix.lower() in TEXT_KINDS)]

    def _present(self, rel: str) -> bool:
        """A file that files() would list: inside the vault and outside dot-folders."""
        if any(part.startswith(".") for part in rel.split("/")):
            return False
        try:
            return self.vault.abspath(rel).is_file()
        except PageError:
            return False

    def _stamp(self, rel: str) -> str:
        # documents() listed these paths inside the vault: a plain stat, not abspath's resolve()
        # (which was 80% of a sync at 10,000 pages); reading a changed file still goes through it
        st = os.stat(os.path.join(self.vault.root, self.vault.on_disk(rel)))
        return f"{st.st_size}:{st.st_mtime_ns}"

    def _fields(self, rel: str) -> dict | None:
        path = self.vault.abspath(rel)
        if rel.startswith(kinds.RAW):
            from kb.core.extract import MAX_READ_MB, SourceError, extract, limit
            try:
                doc = extract(path, rel, max_bytes=limit(MAX_READ_MB))
            except (SourceError, OSError):
                return None
            title, body, meta = doc.title, doc.text, {}
        else:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
                meta, body = markdown.split_frontmatter(text, where=rel)
            except PageError:
                meta, body = {}, path.read_text(encoding="utf-8", errors="replace")
            title = str(meta.get("title") or Path(rel).stem)
        headings = " ".join(re.findall(r"^#{1,6}\s+(.+)$", body, re.M))
        source_text = ""
        raw = meta.get("raw")
        if isinstance(raw, str) and raw.startswith(kinds.RAW) and kinds.folder_kind(rel) == "source":
            # a source page is found by anything its source says, not only by its summary
            from kb.core.extract import MAX_READ_MB, SourceError, extract, limit
            try:
                source_text = extract(self.vault.abspath(raw), raw, max_bytes=limit(MAX_READ_MB)).text[:MAX_BODY]
            except (SourceError, OSError, PageError):
                pass
        aliases = meta.get("aliases") or []
        tags = meta.get("tags") or []
        return {"path": rel, "kind": _kind(rel), "title": title, "body": body[:MAX_BODY],
                "headings": headings, "source_text": source_text, "aliases": " ".join(map(str, aliases if isinstance(aliases, list) else [aliases])),
                "tags": ",".join(map(str, tags if isinstance(tags, list) else [tags]))}

    def _load_stamps(self) -> dict:
        try:
            return json.loads(self.stamps_path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}

    def sync(self, paths: list[str] | None = None) -> dict:
        """Bring the index up to date: (re)index changed files, drop vanished ones. With `paths`,
        look only at those (what compile just wrote). Nothing changed, nothing written: a new
        index generation would make every warm searcher reopen."""
        ix, fresh = self._open()
        if fresh:
            paths = None  # a new index is filled from the whole vault, whatever was asked
        stamps = self._load_stamps()
        current = set(self.documents(paths))
        candidates = set(paths) if paths is not None else current | set(stamps)
        gone = sorted(rel for rel in candidates if rel not in current and rel in stamps)
        changed = [(rel, stamp) for rel in sorted(candidates & current)
                   if stamps.get(rel) != (stamp := self._stamp(rel))]
        added = updated = 0
        if gone or changed or fresh:
            writer = ix.writer()
            try:
                for rel in gone:
                    writer.delete_by_term("path", rel)
                    del stamps[rel]
                for rel, stamp in changed:
                    fields = self._fields(rel)
                    if fields is None:
                        continue
                    (writer.update_document if rel in stamps else writer.add_document)(stamp=stamp, **fields)
                    updated += rel in stamps
                    added += rel not in stamps
                    stamps[rel] = stamp
                writer.commit()
            except BaseException:
                writer.cancel()
                raise
            atomic_write(self.stamps_path, json.dumps(stamps))
        return {"added": added, "updated": updated, "removed": len(gone), "documents": len(stamps)}

    def rebuild(self) -> dict:
        ranking.forget(self.dir)
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.sync()

    def search(self, query: str, k: int = 10, kinds: tuple[str, ...] | None = None,
               prefix: bool = False) -> list[Hit]:
        """`prefix`: the last word also finds the words it begins (`kombu`: kombucha), as a
        search box typed into wants, or a query ending in `*`; otherwise whole words only."""
        if not query or not query.strip():
            raise KbError("empty search query")
        if k < 1:
            raise UsageError(f"asked for {k} results: at least 1")
        if kinds and (unknown := [k for k in kinds if k not in KINDS_FOUND]):  # `sources` found nothing
            raise UsageError(f"unknown kind {', '.join(map(repr, unknown))}; use {','.join(KINDS_FOUND)}")
        from whoosh import highlight
        try:
            warm = ranking.warm(self.dir) if self.exists else None
        except Exception as e:  # damaged since it was last synced: rebuilt from the files
            _damaged(self.dir, e)
            self.rebuild()
            warm = None
        if warm is None or not _current(warm.schema):
            self.sync()
            warm = ranking.warm(self.dir)
        with warm.lock:
            prefix = prefix or query.rstrip().endswith("*")  # `kombu*` asks for it anywhere
            results = warm.search(_plain(query), k, kinds, prefix=prefix)
            results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
            results.formatter = highlight.HtmlFormatter(tagname="b", classname="", termclass="")
            results.scorer = _earliest_first
            out = []
            for r in results:
                if kinds and r["kind"] not in kinds:
                    continue
                snippet = snippets.highlight(r, "body", top=2) or r["body"][:160]
                snippet = _readable(snippet)
                out.append(Hit(r["path"], r["title"], r["kind"], round(r.score, 3),
                               " ".join(snippet.split())))
                if len(out) >= k:
                    break
            return out


def _damaged(index_dir: Path, error: Exception) -> None:
    """Say once, in one line, that the index was damaged (a front end shows warnings as lines)."""
    import warnings
    ranking.forget(index_dir)
    warnings.warn(f"{index_dir}: search index damaged ({type(error).__name__}); rebuilt from the files",
                  IndexRebuilt, stacklevel=3)


class IndexRebuilt(UserWarning):
    pass


def _earliest_first(fragment) -> float:
    """whoosh's fragment score, ties to the earlier fragment: whoosh breaks them by the
    fragments' memory addresses, so the same search could show a different snippet each run.
    Scores are sums of whole boosts, so the fraction (under 0.1) only ever orders equals."""
    from whoosh.highlight import BasicFragmentScorer
    return BasicFragmentScorer()(fragment) + 0.1 * (1 - fragment.startchar / (len(fragment.text) + 1))


def _readable(snippet: str) -> str:
    """Highlight markup to **bold**, entities decoded, wikilinks shown as their text."""
    import html
    snippet = re.sub(r'<b class="[^"]*">(.*?)</b>', r"**\1**", snippet)
    snippet = html.unescape(snippet)
    return markdown.WIKILINK.sub(lambda m: m["embed"] + (m["alias"] if m["alias"] is not None
                                                        else m["target"] + m["subpath"]), snippet)


_STOP_Q = re.compile(r"[^\w\s.-]", re.U)


def _plain(query: str) -> str:
    """Questions are prose: drop query-language syntax so 'What is X?' cannot be a parse error."""
    words = _STOP_Q.sub(" ", query[:2000]).split()
    return " ".join(w for w in words if w.upper() not in {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"})
