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
from collections import defaultdict
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


_WORD_HASHES: dict[str, int] = {}


def _word_hash(word: str) -> int:
    h = _WORD_HASHES.get(word)
    if h is None:
        if len(_WORD_HASHES) > 1_000_000:  # a long-lived process meets many vocabularies
            _WORD_HASHES.clear()
        h = _WORD_HASHES[word] = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
    return h


@dataclass(frozen=True)
class Fingerprint:
    """What near_duplicates compares of a document: the digest of its words (equal for exact
    copies) and its sampled shingle hashes, sorted (a numpy uint64 array)."""

    digest: str
    sample: object


def fingerprint(text: str, n: int = 5, keep: int = 4) -> Fingerprint:
    """A shingle is n consecutive words, hashed from its words' hashes (a polynomial, mixed by
    splitmix64's finaliser) and sampled when its hash is 0 mod `keep`."""
    import numpy as np
    words = WORDS.findall(plain(text).lower())
    digest = hashlib.sha256(" ".join(words).encode()).hexdigest()
    count = len(words) - n + 1
    if count <= 0:
        return Fingerprint(digest, np.zeros(0, dtype=np.uint64))
    w = np.fromiter((_word_hash(x) for x in words), dtype=np.uint64, count=len(words))
    h = w[:count].copy()
    for j in range(1, n):
        h = h * np.uint64(0x100000001B3) + w[j:j + count]  # wraps mod 2^64
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return Fingerprint(digest, np.unique(h[h % np.uint64(keep) == 0]))


def near_duplicates(texts: dict[str, str], threshold: float = 0.7, min_sample: int = 8,
                    common: int | None = None) -> list[tuple[str, str, float]]:
    """(a, b, similarity) for every pair of documents whose sampled shingles overlap at least
    `threshold` (Jaccard), best first. Exact copies (same words) score 1.0."""
    return similar({p: fingerprint(t) for p, t in texts.items()}, threshold, min_sample, common)


def similar(prints: dict[str, Fingerprint], threshold: float = 0.7, min_sample: int = 8,
            common: int | None = None) -> list[tuple[str, str, float]]:
    """near_duplicates of documents already fingerprinted. Every pair that shares a sampled
    shingle held by at most `common` documents is counted, in numpy, one group size at a time."""
    import numpy as np
    names = sorted(p for p, f in prints.items() if len(f.sample) >= min_sample)
    exact: dict[str, list[str]] = defaultdict(list)
    for p in names:
        exact[prints[p].digest].append(p)
    out = {(a, b): 1.0 for group in exact.values() for i, a in enumerate(group) for b in group[i + 1:]}
    sizes = np.array([len(prints[p].sample) for p in names], dtype=np.int64)
    hashes = np.concatenate([prints[p].sample for p in names] or [np.zeros(0, dtype=np.uint64)])
    docs = np.repeat(np.arange(len(names), dtype=np.int64), sizes)
    order = np.argsort(hashes, kind="stable")  # a shingle's documents stay in name order
    hashes, docs = hashes[order], docs[order]
    starts = np.flatnonzero(np.r_[True, hashes[1:] != hashes[:-1]]) if len(hashes) else np.zeros(0, np.int64)
    counts = np.diff(np.r_[starts, len(hashes)])
    limit = common or max(20, len(names) // 20)
    codes = []
    for k in np.unique(counts[(counts > 1) & (counts <= limit)]).tolist():
        group = docs[starts[counts == k][:, None] + np.arange(k)]  # a row per shingle: its k documents
        i, j = np.triu_indices(k, 1)
        codes.append((group[:, i] * len(names) + group[:, j]).ravel())
    pairs, shared = np.unique(np.concatenate(codes), return_counts=True) if codes else ((), ())
    for code, n in zip(np.asarray(pairs).tolist(), np.asarray(shared).tolist()):
        a, b = divmod(code, len(names))
        if (names[a], names[b]) not in out:
            sim = n / (int(sizes[a]) + int(sizes[b]) - n)
            if sim >= threshold:
                out[(names[a], names[b])] = sim
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
