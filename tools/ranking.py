"""Query ranking over the whoosh index: one warm searcher per index generation, BM25F in numpy.

Why not whoosh's own matchers: they score a query by walking a tree of Python objects over
every posting, and in a vault every page shares the common words, so at 10,000 pages a
four-word query over six fields took 75-200 ms however the tree was pruned. Here the postings
of a (field, term) are read once per segment into arrays, and a query is a few vectorised
operations over them. The score is whoosh's: `bm25()` with its idf and average field lengths,
`WeightScorer` for unscorable fields, the coordination bonus of `OrGroup.factory(scale)` counted
per segment, ties to the lower document number. A query of any other shape goes to whoosh.

Why one per generation and per process: opening a searcher costs about 10 ms and reading a
common term's postings a few more, which an agent calling `search()` many times per question
and a TUI searching on every keystroke would pay on each call. Segments never change once
written, so their arrays outlive a generation: after a one-page update only the small new
segment is read. Deletions are a mask per generation.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np

_TOC = re.compile(r"^_MAIN_(\d+)\.toc$")
_WARM: dict[str, "Ranker"] = {}
_LOCK = threading.Lock()
FIELDS = ["title", "aliases", "headings", "body", "tags", "source_text"]
MAX_EXPAND = 24  # words a prefix stands for, per field: the ones in most documents
MAX_SCAN = 5000  # indexed words looked at per prefix (a two-letter prefix in a big vault)


def _generation(index_dir: Path):
    """Which generation is on disk: the newest TOC file, by number and identity (a rebuilt
    index starts again at 0, so the number alone could match a deleted one)."""
    best = None
    try:
        with os.scandir(index_dir) as it:
            for e in it:
                m = _TOC.match(e.name)
                if m and (best is None or int(m.group(1)) > best[0]):
                    st = e.stat()
                    best = (int(m.group(1)), st.st_ino, st.st_mtime_ns)
    except OSError:
        return None
    return best


def warm(index_dir: Path) -> "Ranker | None":
    """The process's ranker for this index, reopened only when a writer committed since."""
    key = str(index_dir)
    gen = _generation(index_dir)
    with _LOCK:
        current = _WARM.get(key)
        if current is not None and current.generation == gen:
            return current
        if gen is None:
            _WARM.pop(key, None)
            return None
        from whoosh import index
        ranker = Ranker(index.open_dir(key), gen, current.segments if current else {})
        _WARM[key] = ranker
        return ranker


def forget(index_dir: Path) -> None:
    """Drop the warm ranker (the index folder is about to be deleted)."""
    with _LOCK:
        _WARM.pop(str(index_dir), None)


class Ranker:
    def __init__(self, ix, generation, segments: dict):
        from whoosh import qparser, scoring
        self.generation = generation
        self.lock = threading.Lock()  # whoosh readers seek shared files: one query at a time
        self.schema = ix.schema
        self.searcher = ix.searcher(weighting=scoring.BM25F())
        self.weighting = self.searcher.weighting
        self.parser = qparser.MultifieldParser(FIELDS, ix.schema, group=qparser.OrGroup.factory(0.9))
        self.parser.remove_plugin_class(qparser.WildcardPlugin)  # user text, not query syntax
        self.parser.remove_plugin_class(qparser.FieldsPlugin)
        self.n = self.searcher.doc_count_all()
        self.leaves = []  # (segment id, reader, first global docnum, doc count)
        alive = np.ones(self.n, dtype=bool)
        for leaf, offset in self.searcher.leaf_searchers():
            reader = leaf.reader()
            count = reader.doc_count_all()
            if not count:
                continue
            seg = reader.segment() if hasattr(reader, "segment") else None
            self.leaves.append((seg.segment_id() if seg is not None else None, reader, offset, count))
            if reader.has_deletions():
                alive[offset:offset + count] = False
                alive[np.fromiter(reader.all_doc_ids(), dtype=np.int64) + offset] = True
        self.alive = alive
        live = {sid for sid, *_ in self.leaves}
        self.segments = {k: v for k, v in segments.items() if k[0] in live}

    def search(self, text: str, k: int, kinds: tuple[str, ...] | None, prefix: bool = False):
        """Whoosh `Results` of the top k (only documents of `kinds` when given), best first.
        `prefix`: the last word also stands for the indexed words it begins (`_expand`)."""
        from whoosh import query as wq
        from whoosh.searching import Results
        words = text.split()
        last = words.pop().lower() if prefix and words and len(words[-1]) >= 2 else None
        q = self.parser.parse(" ".join(words) if last else text)
        terms, scale = _flat(q, wq)
        if terms is None:  # a shape this module does not score: whoosh does, unfiltered
            return self.searcher.search(self.parser.parse(text), limit=None if kinds else k)
        groups = [(f, (t,)) for f, t in terms]
        if last:
            groups += [g for g in (self._expand(f, last) for f in FIELDS) if g[1]]
            scale = scale or (0.9 if len(groups) > 1 else None)  # the parser's OrGroup.factory(0.9)
            if groups:  # what the snippets highlight: every word searched for
                q = wq.Or([wq.Term(f, t) for f, alts in groups for t in alts])
        if not groups or not self.n:
            results = Results(self.searcher, q, [])
            results._total = 0
            return results
        total = np.zeros(self.n)
        matching = np.zeros(self.n)
        for field, alts in groups:
            self._add(field, alts, total, matching)
        if scale:
            for _, reader, start, count in self.leaves:
                termcount = sum(any((f, t) in reader for t in alts) for f, alts in groups)
                if termcount:
                    s = slice(start, start + count)
                    total[s] = (total[s] + (matching[s] - 1) / (termcount - scale) ** 2) * ((termcount - 1) / termcount)
        hit = (matching > 0) & self.alive
        if kinds:
            hit &= self._kind_mask(kinds)
        docs = np.flatnonzero(hit)
        scores = total[docs]
        if len(docs) > k:
            cut = np.partition(scores, len(docs) - k)[len(docs) - k]
            keep = scores >= cut
            docs, scores = docs[keep], scores[keep]
        order = np.lexsort((docs, -scores))[:k]
        results = Results(self.searcher, q, [(float(scores[i]), int(docs[i])) for i in order])
        results._total = int(hit.sum())  # len(results), which whoosh asks its collector for
        return results

    def _add(self, field: str, alts: tuple[str, ...], total: np.ndarray, matching: np.ndarray) -> None:
        """One query word in one field: its score where it occurs, and one more word matched.
        A prefix's words (`alts`) count as one: a page scores its best of them, so a page with
        five words that begin `ferm` does not outrank one that says `fermentation` five times."""
        scorable = self.schema[field].scorable  # BM25F scores the others by weight alone
        if scorable:
            avgfl = self.searcher.avg_field_length(field) or 1
            B, K1 = self.weighting._field_B.get(field, self.weighting.B), self.weighting.K1
        idf = {t: self.searcher.idf(field, t) for t in alts} if scorable else {}
        for sid, reader, start, count in self.leaves:
            best = hit = None
            for term in alts:
                if (field, term) not in reader:
                    continue
                ids, tf = self._postings(sid, reader, field, term)
                if scorable:
                    fl = self._lengths(sid, reader, field, count)[ids]  # whoosh.scoring.bm25, over arrays
                    score = idf[term] * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))
                else:
                    score = tf
                if len(alts) == 1:
                    total[ids + start] += score
                    matching[ids + start] += 1
                    continue
                if best is None:
                    best, hit = np.zeros(count), np.zeros(count, dtype=bool)
                best[ids] = np.maximum(best[ids], score)
                hit[ids] = True
            if best is not None:
                total[start:start + count] += best
                matching[start:start + count] += hit

    def _expand(self, field: str, word: str) -> tuple[str, tuple[str, ...]]:
        """(field, the indexed words `word` stands for as a prefix): itself as analysed (stemmed),
        the words that begin with it or with its stem, the MAX_EXPAND in most documents; failing
        those, the longest indexed stem it begins with (`experimen` is on its way to `experi`)."""
        reader = self.searcher.reader()
        analyzer = getattr(self.schema[field], "analyzer", None)
        own = [t.text for t in analyzer(word)] if analyzer is not None else [word]
        found: set[str] = set()
        for start in {word, *own}:
            for n, term in enumerate(reader.expand_prefix(field, start)):
                if n >= MAX_SCAN:
                    break
                found.add(term.decode("utf-8") if isinstance(term, bytes) else term)
        if len(found) > MAX_EXPAND:
            found = set(sorted(found, key=lambda t: (-reader.doc_frequency(field, t), t))[:MAX_EXPAND])
        found.update(t for t in own if (field, t) in reader)
        if not found:
            found = next(({word[:i]} for i in range(len(word) - 1, 3, -1) if (field, word[:i]) in reader), set())
        return field, tuple(sorted(found))

    def _postings(self, sid, reader, field, term):
        key = (sid, field, term)
        if key not in self.segments:
            self.segments[key] = _read_postings(reader, field, term)
        return self.segments[key]

    def _lengths(self, sid, reader, field, count):
        key = (sid, field, None)
        if key not in self.segments:
            self.segments[key] = _read_lengths(reader, field, count)
        return self.segments[key]

    def _kind_mask(self, kinds) -> np.ndarray:
        mask = np.zeros(self.n, dtype=bool)
        for _, reader, start, _count in self.leaves:
            for kind in kinds:
                if ("kind", kind) in reader:
                    mask[[start + d for d in reader.postings("kind", kind).all_ids()]] = True
        return mask


def _flat(q, wq):
    """The (field, term) list and coordination scale of a flat OR of plain terms (what the
    parser makes of prose), or (None, None) for anything else."""
    if q is wq.NullQuery:
        return [], None
    if isinstance(q, wq.Term) and q.boost == 1.0:
        return [(q.fieldname, q.text)], None
    if (type(q) is wq.Or and q.boost == 1.0 and not q.minmatch
            and all(type(s) is wq.Term and s.boost == 1.0 for s in q.subqueries)):
        return [(s.fieldname, s.text) for s in q.subqueries], q.scale
    return None, None


def _read_postings(reader, field: str, term: str):
    """Document numbers (in the segment) and weights of one term, deletions included. Whoosh's
    own iteration costs about 1 us a posting; its on-disk blocks, decoded whole, a fifth of it."""
    from whoosh.codec.whoosh3 import W3LeafMatcher
    from whoosh.matching.wrappers import FilterMatcher
    m = reader.postings(field, term)
    if isinstance(m, FilterMatcher):
        m = m.child
    if type(m) is W3LeafMatcher and not m._byteids:
        ids, weights = [], []
        while True:
            m._read_data()
            n = m._blocklength
            ids.append(np.cumsum(np.asarray(m._data[0], dtype=np.int64)))  # delta-coded per block
            w = m._data[1]
            weights.append(np.full(n, 1.0 if w is None else w) if w is None or isinstance(w, float)
                           else np.asarray(w, dtype=np.float32).astype(np.float64))
            if m._lastblock:
                break
            m._goto(m._nextoffset)
        return np.concatenate(ids), np.concatenate(weights)
    pairs = list(m.items_as("weight"))
    return (np.array([d for d, _ in pairs], dtype=np.int64),
            np.array([w for _, w in pairs], dtype=np.float64))


def _read_lengths(reader, field: str, count: int) -> np.ndarray:
    """Each document's length in the field, as whoosh stores it (one byte, `byte_to_length`)."""
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
    from whoosh.util.numeric import byte_to_length
    try:
        column = reader._perdoc._cached_reader(_lenfield(field), LENGTHS_COLUMN)
        raw = column._dbfile.get(column._basepos, column._count) if column is not None else b""
        codes = np.zeros(count, dtype=np.uint8)
        codes[:len(raw)] = np.frombuffer(raw, dtype=np.uint8)[:count]
        return np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)[codes]
    except AttributeError:  # another codec: one call a document
        return np.array([reader.doc_field_length(d, field, 0) or 0 for d in range(count)], dtype=np.float64)
