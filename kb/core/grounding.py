"""The grounding gate: a sentence a model wrote reaches a page only if its source backs it.

A small model's summaries read well and are sometimes false ("Compost is a type of organic
material that can be used to make food"; "DeepSeek v3 introduces a new approach to grouped GEMMs",
every word of it in a note that says no such thing). Paraphrase cannot be judged by code, so a
model sentence is published only when it says what its source says in the source's words:

- every number (any token with a digit: "27B", "2-3%", "30:1") must occur in the source;
- every name (a capitalised word not opening the sentence, an acronym, or an opening word that is
  not common English) must occur in the source, case aside;
- every content word must occur in the source, inflections aside (`MIN_OVERLAP`);
- most of its word trigrams must too (`MIN_PHRASE`): the same words in another order make another
  claim;
- read alone (a key point, a claim, an article sentence), it must be a `statement`.

A sentence that fails is dropped, or replaced by the source's own sentence that best matches it;
it is never published as written. `Gate` counts what it kept, dropped and replaced. How good a
judge this is was measured against hand labels: bench/gate_labels.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.core.concepts import STOP, sentences, singular
from kb.core.sentences import split as split_sentences

# share of a sentence's content words its source must contain: all of them (at 0.75 "One of the
# key challenges" passed for "One of the challenges"; "key" and "main" rank what the source did not)
MIN_OVERLAP = 1.0
MIN_REPLACE = 0.35  # a source sentence must share this much with the failed one to stand in for it
# share of a sentence's word trigrams (inflections aside, none with a META word) that its source
# contains: the words of a false sentence are often all in its source, their order is not
# ("DeepSeek v3 introduces a new approach to grouped GEMMs"). Chosen on bench/labels/: at 0.9 every
# labelled sentence the gate passed was supported, at 0.8 one in seventeen was not.
MIN_PHRASE = 0.9
MIN_WORDS = 5  # a standalone sentence shorter than this is a label, not a statement
PRONOUNS = {"it", "it's", "its", "they", "their", "this", "these", "those", "he", "she", "his", "her", "that"}
TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9+'’.%:/-]*[A-Za-z0-9%+]|[A-Za-z0-9]")
NUM = re.compile(r"\d+(?:[.,:]\d+)*")
# words a sentence about a source uses without the source using them
META = set("""source document text note notes article author says say said describes describe
discusses discuss explains explain mentions mention covers cover talks talk focuses focus highlights
highlight provides provide presents present overview summary summarises summarizes point
points topic topics also overall additionally furthermore moreover finally""".split())

WORD = re.compile(r"[a-z0-9]+")


def _root(word: str) -> str:
    """Inflections aside: 'composting', 'composted', 'composts', "pile's" -> 'compost', 'pil'."""
    w = re.sub(r"['’]s$", "", word.lower()).strip("'’.:-")
    w = singular(w)
    for suf in ("ing", "ed", "er", "ly"):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            w = w[: -len(suf)]
            if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "ls":  # 'running' -> 'run'
                w = w[:-1]
            break
    return w.rstrip("e") if len(w) > 4 else w


META_ROOTS = frozenset(_root(m) for m in META)  # excused in trigrams: "the document discusses"


@dataclass(frozen=True)
class Source:
    """A source text reduced to what the checks look up (built once per source)."""

    text: str
    words: frozenset[str]  # lower-cased tokens
    roots: frozenset[str]
    numbers: frozenset[str]
    sentences: tuple[str, ...]
    trigrams: frozenset[tuple[str, str, str]]

    @classmethod
    def of(cls, text: str) -> "Source":
        toks = [t.lower() for t in TOKEN.findall(text)]
        words = set(toks) | {re.sub(r"['’]s$", "", t).strip(".:%'’") for t in toks}
        return cls(text, frozenset(words), frozenset(_root(t) for t in words if t.isalpha()),
                   frozenset(_numbers(text)), tuple(sentences(text)),
                   # a sentence may leave out an aside: "the bacteria (Lactobacillus) make" -> "the bacteria make"
                   frozenset(_trigrams(text) | _trigrams(re.sub(r"\([^()]*\)", " ", text))))


def _trigrams(text: str, skip_meta: bool = False) -> set[tuple[str, str, str]]:
    w = [_root(x) for x in WORD.findall(text.lower())]
    return {g for g in zip(w, w[1:], w[2:]) if not (skip_meta and META_ROOTS.intersection(g))}


def phrase_share(sentence: str, source: "Source") -> float:
    """How much of the sentence is worded as the source words it (see MIN_PHRASE)."""
    grams = _trigrams(sentence, skip_meta=True)
    return len(grams & source.trigrams) / len(grams) if grams else 0.0


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUM.findall(text)}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    overlap: float  # share of content words found in the source
    missing: tuple[str, ...]  # names and numbers the source does not state


def content_words(sentence: str) -> list[str]:
    return [t.lower() for t in TOKEN.findall(sentence)
            if t[:1].isalpha() and len(t) > 2 and t.lower() not in STOP and t.lower() not in META]


def bare_name(token: str) -> str:
    """The name a hyphenated word carries: 'Kubernetes-based' names Kubernetes; 'Qwen-Image',
    'GPT-4o' and 'HuatuoGPT-o1' stay whole."""
    return re.sub(r"(?:-[a-z]+)+$", "", token)


def names(sentence: str) -> list[str]:
    """Tokens that name something: acronyms, capitalised words past the first, and an opening
    word that is not everyday English ('Overall,' opens sentences; 'Kombucha' names). Numbers
    are checked on their own."""
    from kb.core.terms import common
    toks = TOKEN.findall(sentence)
    out = []
    for i, t in enumerate(toks):
        if t[:1].isupper():
            t = bare_name(t)
        if not t[:1].isalpha() or any(c.isdigit() for c in t) or t.lower() in STOP:
            continue
        if sum(c.isupper() for c in t) >= 2:
            out.append(t.strip("'’.:"))
        elif t[:1].isupper() and (i > 0 or t.lower() not in META and not common(t.strip("'’.:,"))):
            out.append(t.strip("'’.:"))
    return out


def unsupported(sentence: str, source: Source) -> list[str]:
    """The numbers and names of `sentence` that `source` does not state (ask holds its answers
    to what the agent read with this, compile its sentences to their source)."""
    missing = [n for n in _numbers(sentence) if n not in source.numbers]
    for name in names(sentence):
        low = name.lower()
        if low not in source.words and singular(low) not in source.words and _root(low) not in source.roots:
            missing.append(name)
    return list(dict.fromkeys(missing))


def statement(sentence: str) -> bool:
    """A sentence that can stand alone (a key point, a concept's claim, an article sentence): five
    words or more, not opening with a pronoun. "It's designed for linear layers" under Adam was
    said of Muon; "Decoupling capacity and compute" states nothing."""
    toks = TOKEN.findall(sentence)
    return len(toks) >= MIN_WORDS and toks[0].lower().replace("’", "'") not in PRONOUNS


def check(sentence: str, source: Source, *, standalone: bool = False) -> Verdict:
    """`standalone`: the sentence is read without the one before it, so it must be a `statement`."""
    missing = unsupported(sentence, source)
    words = content_words(sentence)
    found = sum(1 for w in words if w in source.words or _root(w) in source.roots)
    overlap = found / len(words) if words else 0.0
    ok = not missing and overlap >= MIN_OVERLAP and (not standalone or statement(sentence)) \
        and phrase_share(sentence, source) >= MIN_PHRASE
    return Verdict(ok, overlap, tuple(dict.fromkeys(missing)))


def best_match(sentence: str, source: Source, used: set[str] = frozenset()) -> str | None:
    """The source's own sentence closest to `sentence` (shared content-word roots), if close enough."""
    want = {_root(w) for w in content_words(sentence)}
    if not want:
        return None
    best, score = None, 0.0
    for s in source.sentences:
        if s in used or len(s) < 30 or len(s) > 300:
            continue
        have = {_root(w) for w in content_words(s)}
        sc = len(want & have) / len(want)
        if sc > score:
            best, score = s, sc
    return best if score >= MIN_REPLACE else None


@dataclass
class Gate:
    """Checks model sentences against their sources and counts the outcome."""

    kept: int = 0
    dropped: int = 0
    replaced: int = 0
    failures: list[tuple[str, Verdict]] = field(default_factory=list)

    def sentence(self, sentence: str, source: Source, *, replace: bool = True,
                 used: set[str] = frozenset(), standalone: bool = True) -> str | None:
        """The sentence if its source backs it, else the source's closest sentence (when
        `replace`), else None. Standalone unless it is part of a paragraph (`paragraph`)."""
        sentence = " ".join(sentence.split())
        if not sentence:
            return None
        v = check(sentence, source, standalone=standalone)
        if v.ok:
            self.kept += 1
            return sentence
        self.failures.append((sentence, v))
        sub = best_match(sentence, source, used) if replace else None
        if sub:
            self.replaced += 1
            return sub
        self.dropped += 1
        return None

    def paragraph(self, text: str, source: Source, *, replace: bool = True) -> str:
        """Each sentence of a model-written paragraph through the gate; no sentence twice."""
        out: list[str] = []
        for s in split(text):
            got = self.sentence(s, source, replace=replace, used=set(out), standalone=not out)
            if got and got not in out:
                out.append(got)
        # a source sentence standing in may have ended at a line break, not a full stop
        return " ".join(o if o[-1] in ".!?…:;\"'”’)" else o + "." for o in out)

    def counts(self) -> dict[str, int]:
        return {"kept": self.kept, "dropped": self.dropped, "replaced": self.replaced}

    def add(self, other: "Gate") -> None:
        self.kept += other.kept
        self.dropped += other.dropped
        self.replaced += other.replaced
        self.failures += other.failures


def split(text: str) -> list[str]:
    """A model paragraph's sentences (it writes prose, not markdown): kb's one splitter."""
    return split_sentences(text)
