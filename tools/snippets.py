"""Search snippets: whoosh's highlighting, in one pass over the page instead of a chain of them.

Why: once ranking stopped costing most of a query, highlighting did. Whoosh re-analyses a hit's
stored body through a chain of generators (tokenizer, lowercase, stop words, stemmer, matcher,
merger, fragmenter), a Token object per word at every stage: about 1 ms per hit at a few hundred
words. Here the words are found with the analyzer's own regex, each distinct word is analysed
once (same stop list and sizes, the analyzer's cached stemmer, stop words left unstemmed), and
`ContextFragmenter.fragment_tokens` runs over them with the same state machine, except that a
stretch of unmatched words outside a fragment is crossed in one step: there it only keeps the
start of the context before the next match, the words within `surround` characters of it.
Fragment scores and markup are whoosh's own. Anything else (another analyzer or fragmenter)
takes whoosh's path; `tests/test_search.py` checks that both give the same snippets.
"""

from __future__ import annotations

from bisect import bisect_left

from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter, Token
from whoosh.highlight import ContextFragmenter, mkfrag, top_fragments


def highlight(hit, fieldname: str, top: int) -> str:
    """What `hit.highlights(fieldname, top=top)` returns."""
    results = hit.results
    hl = results.highlighter
    analyse = _analyser(results.searcher.schema[fieldname].analyzer)
    if analyse is None or type(hl.fragmenter) is not ContextFragmenter:
        return hit.highlights(fieldname, top=top)
    text = hit[fieldname]
    finditer, analyse = analyse
    words = _words(results, fieldname)
    seen: dict = {}  # a page says the same few hundred words many times
    spans, matched = [], []
    for m in finditer(text):
        word = m.group().lower()
        a = seen.get(word)
        if a is None:
            a = seen[word] = analyse(word, words)
        spans.append((m.start(), m.end(), a))
        if a[2]:
            matched.append(len(spans) - 1)
    fragments = _fragments(text, spans, matched, hl.fragmenter)
    return hl.formatter.format(top_fragments(fragments, top, hl.scorer, hl.order, minscore=1))


def _words(results, fieldname: str) -> frozenset:
    cache = results.__dict__.setdefault("_kb_words", {})
    if fieldname not in cache:
        field = results.searcher.schema[fieldname]
        cache[fieldname] = frozenset(field.from_bytes(t[1])
                                     for t in results.query_terms(expand=True, fieldname=fieldname))
    return cache[fieldname]


def _analyser(analyzer):
    """(finditer, analyse(word, words) -> (text, stopped, matched)) for a RegexTokenizer |
    Lowercase | Stop | Stem chain, else None."""
    items = getattr(analyzer, "items", None)
    if (not items or len(items) != 4 or type(items[0]) is not RegexTokenizer or items[0].gaps
            or type(items[1]) is not LowercaseFilter or type(items[2]) is not StopFilter
            or type(items[3]) is not StemFilter):
        return None
    stops, minsize, maxsize = items[2].stops, items[2].min, items[2].max
    stem, ignore = items[3]._stem, items[3].ignore

    def analyse(word: str, words: frozenset):
        stopped = not (len(word) >= minsize and (maxsize is None or len(word) <= maxsize) and word not in stops)
        text = word if stopped or word in ignore else stem(word)
        return text, stopped, text in words

    return items[0].expression.finditer, analyse


def _fragments(text, spans, matched, fragmenter):
    """`ContextFragmenter.fragment_tokens` over (start, end, analysis) spans; `matched` lists
    the indices of the matched ones. Regex words never touch, so whoosh's merging of adjacent
    matches changes nothing and is left out."""
    maxchars, surround, charlimit = fragmenter.maxchars, fragmenter.surround, fragmenter.charlimit
    first, firsts, countdown, tks, currentlen, endchar = None, [], -1, [], 0, None
    i, n = 0, len(spans)
    while i < n:
        startchar, endchar, (word, stopped, is_match) = spans[i]
        if charlimit and endchar > charlimit:
            break
        if countdown < 0 and not is_match:
            # outside a fragment up to the next match: only the context before it survives
            j = matched[k] if (k := bisect_left(matched, i)) < len(matched) else n
            end = spans[j - 1][1]
            if charlimit and end > charlimit:
                break  # whoosh stops at that word, with no fragment open
            firsts = [s for s in firsts if end - s <= surround]
            near = bisect_left(spans, end - surround, i, j, key=lambda span: span[0])
            firsts += [spans[x][0] for x in range(near, j)]
            i = j
            continue
        tlength = endchar - startchar
        if currentlen + tlength > maxchars:
            countdown = 0
        elif is_match:
            countdown = surround
            if first is None:
                if firsts:
                    first = firsts[0]
                else:
                    first = startchar
                    countdown += surround
            t = Token(positions=True, chars=True, removestops=False, mode="index", text=word, boost=1.0,
                      stopped=stopped, matched=True, pos=i, startchar=startchar, endchar=endchar)
            tks.append(t)
        if countdown >= 0:
            currentlen += tlength
            countdown -= tlength
            if countdown <= 0:
                yield mkfrag(text, tks, startchar=first, endchar=endchar)
                tks, firsts, first, currentlen = [], [], None, 0
        i += 1
    if tks:
        yield mkfrag(text, tks, startchar=first, endchar=endchar)
