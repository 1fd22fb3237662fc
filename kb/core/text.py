"""Text comparisons behind lint: near-duplicate documents and numbers that disagree.

Both are done by code, in time linear in the vault, so a 10,000-page vault lints in seconds; the
model only judges the few candidates they produce.

- Near duplicates: sampled 5-word shingles (a hash kept when it is 0 mod 4), an inverted index from
  shingle to documents, Jaccard of the samples for every pair that shares one. Shingles shared by
  many documents (boilerplate) are skipped, so the pair count stays small.
- Numbers that disagree: every sentence with a digit is reduced to its words with the numbers
  taken out (its "skeleton"). Two documents with the same skeleton and different numbers state the
  same thing differently: a page misquoting its source, or two sources that disagree.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from kb.core.concepts import sentences
from kb.core.markdown import WIKILINK

WORDS = re.compile(r"[a-z0-9]+")
NUM = re.compile(r"\d+(?:[.,]\d+)*")
MD_LINK = re.compile(WIKILINK.pattern + r"|!?\[(?P<text>[^\]]*)\]\([^)]*\)")


def _seen(m: re.Match) -> str:
    if m["text"] is not None:  # [text](target)
        return m["text"]
    return m["alias"] or m["target"] + m["subpath"]


def plain(text: str) -> str:
    """Markdown links and wikilinks reduced to the text a reader sees."""
    return MD_LINK.sub(_seen, text)


def normalise(text: str) -> str:
    return " ".join(WORDS.findall(plain(text).lower()))


def _h(s: str) -> int:
    return int.from_bytes(hashlib.blake2b(s.encode(), digest_size=8).digest(), "big")


def sample(text: str, n: int = 5, keep: int = 4) -> set[int]:
    words = WORDS.findall(plain(text).lower())
    grams = {_h(" ".join(words[i:i + n])) for i in range(max(0, len(words) - n + 1))}
    return {g for g in grams if g % keep == 0}


def near_duplicates(texts: dict[str, str], threshold: float = 0.7, min_sample: int = 8,
                    common: int | None = None) -> list[tuple[str, str, float]]:
    """(a, b, similarity) for every pair of documents whose sampled shingles overlap at least
    `threshold` (Jaccard), best first. Exact copies (same words) score 1.0."""
    samples = {p: sample(t) for p, t in texts.items()}
    samples = {p: s for p, s in samples.items() if len(s) >= min_sample}
    exact: dict[str, list[str]] = defaultdict(list)
    for p in samples:
        exact[hashlib.sha256(normalise(texts[p]).encode()).hexdigest()].append(p)
    out = {(a, b): 1.0 for group in exact.values() for i, a in enumerate(sorted(group))
           for b in sorted(group)[i + 1:]}
    postings: dict[int, list[str]] = defaultdict(list)
    for p, s in samples.items():
        for g in s:
            postings[g].append(p)
    limit = common or max(20, len(samples) // 20)
    shared: Counter[tuple[str, str]] = Counter()
    for docs in postings.values():
        if 1 < len(docs) <= limit:
            docs = sorted(docs)
            for i, a in enumerate(docs):
                for b in docs[i + 1:]:
                    shared[(a, b)] += 1
    for (a, b), n in shared.items():
        if (a, b) in out:
            continue
        sim = n / (len(samples[a]) + len(samples[b]) - n)
        if sim >= threshold:
            out[(a, b)] = sim
    return sorted(((a, b, s) for (a, b), s in out.items()), key=lambda t: (-t[2], t[0], t[1]))


@dataclass(frozen=True)
class Statement:
    path: str
    sentence: str  # as written (the quote a report shows)
    numbers: tuple[str, ...]


def skeleton(sentence: str) -> tuple[str, tuple[str, ...]] | None:
    """(the sentence's words without its numbers, its numbers); None when it says too little to
    compare (fewer than 5 words besides the numbers)."""
    text = plain(sentence).lower().replace("“", "").replace("”", "")
    numbers = tuple(n.replace(",", "") for n in NUM.findall(text))
    words = ["#" if w == "qqnumqq" else w for w in WORDS.findall(NUM.sub(" qqnumqq ", text))]
    if not numbers or sum(w != "#" for w in words) < 5:
        return None
    return " ".join(words), numbers


def disagreements(texts: dict[str, str]) -> list[list[Statement]]:
    """Groups of statements in different documents that say the same thing with different
    numbers. Each group holds one statement per distinct set of numbers (the first place it
    occurs), most widely repeated version first."""
    by_key: dict[str, list[Statement]] = defaultdict(list)
    for path, text in texts.items():
        seen = set()
        for s in sentences(text):
            sk = skeleton(s)
            if sk and sk[0] not in seen:
                seen.add(sk[0])
                by_key[sk[0]].append(Statement(path, s.strip("“” "), sk[1]))
    groups = []
    for key, stmts in sorted(by_key.items()):
        versions: dict[tuple[str, ...], list[Statement]] = defaultdict(list)
        for st in stmts:
            versions[st.numbers].append(st)
        if len(versions) < 2:
            continue
        ordered = sorted(versions.values(), key=lambda v: (-len(v), v[0].path))
        groups.append([v[0] for v in ordered])
    return groups
