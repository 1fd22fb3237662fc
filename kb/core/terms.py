"""Which candidate terms deserve a concept page, and which of them are one idea.

`concepts.candidates` finds terms by shape (capitalised runs, acronyms, recurring phrases); on a
45-note corpus that shape alone made pages called "Complex", "Debugged" and "Gets thrown", and
split Compost from Composting. A term gets a page only with evidence that it names something:

- an acronym, or a name with digits ("Gemma 3 27B");
- a name: capitalised inside sentences, and either not common English or never written in lower
  case by the same source ("Adam" the optimizer, but not "Machine" from a heading when the text
  also says "machine");
- a term: a phrase or word the source repeats that is not common English (wordfreq's Zipf
  frequency below `COMMON`; a past participle such as "debugged" is never a concept).

Terms of one source that are one idea fold into one, the rest of the group kept as aliases:
inflections (Compost / Composting, GPU / GPUs), a head noun into the specific phrase the same
source uses ("Starter" into "Sourdough starter"), and phrases into the acronym they end with
("Complex CoTs" into "CoT").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from kb.core.concepts import STOP, concept_key, singular

COMMON = 4.0  # Zipf frequency (log10 per billion words) at which an English word is everyday
DIGITS = re.compile(r"\d")
CODE = {"def", "self", "import", "lambda", "kwargs", "args", "torch", "np"}  # words of code, not of names


@dataclass(frozen=True)
class Term:
    name: str
    aliases: tuple[str, ...]  # other spellings of the name (inflections): they match text too
    evidence: str  # acronym | name | term
    folded: tuple[str, ...] = ()  # head nouns and phrases folded in: links resolve, text is not matched


@lru_cache(maxsize=20000)
def zipf(word: str) -> float:
    """How common a word is in English; 0 for a word wordfreq does not know."""
    from wordfreq import zipf_frequency
    return zipf_frequency(word.lower(), "en")


def root(word: str) -> str:
    """'composting', 'composted', 'composts' -> 'compost'; one spelling per inflected family."""
    w = singular(word.lower())
    for suf in ("ing", "ed"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            w = w[: -len(suf)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "ls":
                w = w[:-1]
            return w
    return w


def root_key(name: str) -> str:
    """concept_key with inflections folded too: the key two names of one idea share ('GPUs' is
    'GPU' though 'gpus' ends like 'virus')."""
    name = re.sub(r"\b([A-Z][A-Z0-9]+)s\b", r"\1", name)
    return " ".join(root(w) for w in concept_key(name).split())


def common(word: str) -> bool:
    w = word.lower()
    return max(zipf(w), zipf(singular(w)), zipf(root(w))) >= COMMON


def is_junk(name: str) -> bool:
    """Generic words with no sign of a name: every word everyday English, no acronym or digit."""
    words = [w for w in re.findall(r"[A-Za-z0-9+'-]+", name) if w.lower() not in STOP]
    if any(sum(c.isupper() for c in w) >= 2 for w in words):
        return False
    words = [w for w in words if not DIGITS.search(w)]  # 'Training 27B' is as generic as 'Training'
    return all(common(w) for w in words)


def evidence(name: str, text: str) -> str | None:
    """Why `name` may be a concept of `text`, or None (see the module docstring)."""
    words = name.split()
    if not words or DIGITS.match(name):
        return None  # '27B' is part of a name, not one
    if any(len(re.findall(r"[a-z][A-Z]", w)) >= 3 or w in CODE for w in words) or \
            sum(bool(re.fullmatch(r"[a-z]\d+", w)) for w in words) >= 2:
        return None  # an id from a link ('HmiRrQugnP'), code ('def forward'), variables ('CoT y0 e0')
    if len(words) > 1 and re.fullmatch(r"0[.,]\d+%?", words[-1]):
        return None  # a metric and its value ('CE 0.01'); 'GLM 4.5' and 'Deepseek v3' are names
    if len(words) > 1 and ("'" in name or "’" in name or zipf(words[-1]) >= 5.5):
        return None  # a run that ran on into the sentence: 'GPU Programming Since I've'
    if any(sum(c.isupper() for c in w) >= 2 and len(w) <= 8 for w in words) or \
            (name[:1].isupper() and not common(words[0]) and any(DIGITS.search(w) for w in words)):
        return "acronym" if len(words) == 1 else "name"
    if len(words) == 1 and len(name) > 5 and name.lower().endswith(("ed", "ly")):
        return None  # 'debugged', 'incrementally': how or what happened, not what it is about
    esc = r"(?<![\w-])" + r"\s+".join(re.escape(w) for w in words) + r"(?:e?s)?(?![\w-])"
    hits = re.findall(esc, text, re.I)
    if name[:1].isupper():
        if not is_junk(name):
            return "name"
        # capitalised after a lower-case word, and not the first word of a longer name
        mid = len(re.findall(r"[a-z,;:]\s+" + esc + r"(?!\s+[A-Z])", text))
        lower_too = any(h[:1].islower() for h in hits)
        return "name" if mid >= 2 and not lower_too else None
    return "term" if len(hits) >= 2 and not is_junk(name) else None


def select(cands: list[str], text: str) -> list[Term]:
    """The candidates with evidence, folded into one Term per idea, in the candidates' order. A
    folded form needs no evidence of its own ('starter' beside 'sourdough starter'); a word the
    source writes only inside a longer term ('lactic' in 'lactic acid') is no term of its own."""
    phrases = [c for c in cands if " " in c and evidence(c, text)]
    groups: dict[str, list[tuple[str, str | None]]] = {}
    for c in cands:  # inflections: one root key
        e = evidence(c, text)
        if e == "term" and " " not in c and _only_inside(c, phrases, text):
            e = None
        groups.setdefault(root_key(c), []).append((c, e))
    heads = {k for k in groups if " " in k}
    merged: dict[str, str] = {}  # key -> the key it folds into
    for k in groups:
        if " " not in k:
            owners = [h for h in heads if h.rsplit(" ", 1)[1] == k]
            if any(e == "acronym" for _, e in groups[k]):
                merged.update({h: k for h in owners})  # 'Complex CoTs' is a CoT
            elif len(owners) == 1:
                merged[k] = owners[0]  # 'starter' is the 'sourdough starter'
    merged = {k: v for k, v in merged.items() if v not in merged}
    out: dict[str, list[tuple[str, str]]] = {}
    for k, members in groups.items():
        out.setdefault(merged.get(k, k), []).extend(members)
    terms = []
    for k, members in out.items():
        own = sorted((m for m in members if root_key(m[0]) == k and m[1]), key=lambda m: len(m[0]))
        if not own:
            continue
        lead = own[0]  # the plain form: 'Compost' before 'Composting'
        same = tuple(dict.fromkeys(m[0] for m in members if m[0] != lead[0] and root_key(m[0]) == k))
        other = tuple(dict.fromkeys(m[0] for m in members if root_key(m[0]) != k))
        terms.append(Term(lead[0], same, lead[1], other))
    order = {c: i for i, c in enumerate(cands)}
    return sorted(terms, key=lambda t: min(order[n] for n in (t.name, *t.aliases, *t.folded)))


def _only_inside(word: str, phrases: list[str], text: str) -> bool:
    """The text names `word` alone fewer than twice: every other time it is part of a phrase."""
    pat = lambda n: re.compile(r"(?<![\w-])" + r"\s+".join(map(re.escape, n.split())) + r"(?:e?s)?(?![\w-])", re.I)  # noqa: E731
    alone = len(pat(word).findall(text))
    for p in phrases:
        if word.lower() in p.lower().split():
            alone -= len(pat(p).findall(text))
    return alone < 2
