"""Concepts and figures found in text by code, so the model only chooses and writes.

Small models invent names and mangle numbers. So the names a model may pick as concepts come
from the source itself (capitalised terms, acronyms, repeated phrases), figures are quoted from
the source verbatim, and every claim on a concept page carries a sentence of the source that
mentions the concept. `concept_key` makes one idea one page across sources (case, plurals,
punctuation, `Name (ACRONYM)` aliases).
"""

from __future__ import annotations

import re
from collections import Counter

from kb.core.sentences import split as split_sentences

STOP = set("""a an the and or but if of to in on at by for with from into onto over under as is are was
were be been being it its this that these those there their they them he she his her we our you your i
my me not no yes so than then too very can could should would will may might must do does did done have
has had just also only more most less least such each every any all some many much few other another
same new old first last next one two three four five six seven eight nine ten here how what when where
which who whom whose why while about after before again against between both during through up down out
off above below further once own s t don now use used using like get got make made way lot lots thing
things really actually pretty quite still even well back see seen look looks looked think thought know
want need needs going go goes part parts bit kind kinds sort sorts enough rather without within because
though instead something anything everything nothing around across people little better simply likely
almost always often already example different important however probably whether either neither second
single simple general specific certain possible large small higher lower longer faster slower during
matter organic whole number numbers several between within beyond toward towards makes making means
called another others start starts started takes taking given gives better worse based around""".split())
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9+.'-]*[A-Za-z0-9+]|[A-Za-z0-9]")
NUMBER = re.compile(r"\d")
_EDGE = re.compile(r"^[^\w]+|[^\w+]+$")


def sentences(text: str) -> list[str]:
    """Sentences of prose; list items and headings count as sentences of their own."""
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    blocks, cur = [], []
    for line in text.splitlines():
        stripped = line.strip()
        item = re.match(r"^([-*+•]|\d+[.)])\s+", stripped)
        if not stripped or item or stripped.startswith(("#", ">", "|")):
            if cur:
                blocks.append(" ".join(cur))
                cur = []
            if stripped:
                blocks.append(stripped[item.end():] if item else stripped.lstrip("#> ").strip())
            continue
        cur.append(stripped)
    if cur:
        blocks.append(" ".join(cur))
    out = []
    for block in blocks:
        for s in split_sentences(block):
            if 20 <= len(s) <= 400:
                out.append(s)
    return out


def singular(word: str) -> str:
    w = word.lower()
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and w.endswith(("ses", "xes", "ches", "shes")):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is", "os")):
        return w[:-1]
    return w


def concept_key(name: str) -> str:
    """One key per idea: case, plurals, punctuation and a trailing `(ACRONYM)` do not matter."""
    name = re.sub(r"\s*\([^)]*\)\s*$", "", name.strip())
    words = re.findall(r"[A-Za-z0-9+]+", name)
    return " ".join(singular(w) for w in words)


def split_alias(name: str) -> tuple[str, list[str]]:
    """'Mixture of Experts (MoE)' -> ('Mixture of Experts', ['MoE'])."""
    m = re.match(r"^(.*?)\s*\(([^)]{1,40})\)\s*$", name.strip())
    if m and m.group(1):
        return m.group(1).strip(), [m.group(2).strip()]
    return name.strip(), []


def acronym_of(phrase: str) -> str:
    return "".join(w[0] for w in phrase.split() if w[:1].isalpha() and w.lower() not in STOP).upper()


# a name never runs on across these: "OpenAI, Anthropic" is two names, "Transformers are RNNs: Fast
# Autoregressive Transformers" no name "RNNs Fast Autoregressive Transformers"
BREAK = re.compile(r"[,;:()\[\]\"“”?!]|\s[-–—]\s|[–—]")


def _segments(text: str):
    """(sentence, its words, whether they open the sentence) for each stretch between breaks."""
    for sent in sentences(text):
        if _codey(sent):
            continue
        for n, seg in enumerate(BREAK.split(sent)):
            words = [w for w in (_EDGE.sub("", w) for w in WORD.findall(seg)) if w]
            if words:
                yield sent, words, n == 0


def candidates(text: str, limit: int = 40) -> list[str]:
    """Terms a concept may be named after, most salient first: capitalised phrases that are not
    just the first word of a sentence, acronyms, and repeated two-word phrases."""
    caps: Counter[str] = Counter()
    pairs: Counter[str] = Counter()
    singles: Counter[str] = Counter()
    forms: dict[str, Counter] = {}
    for sent, words, opens in _segments(text):
        run: list[str] = []
        for i, w in enumerate(words + [""]):
            capital = w[:1].isupper() and (i > 0 or not opens or w.isupper() or any(c.isdigit() for c in w))
            capital = capital or bool(run) and NUMBER.search(w) is not None and len(w) <= 6  # 'Gemma 3 27B'
            if capital and w.lower() not in STOP:
                run.append(w)
                continue
            if run:
                for phrase in {" ".join(run[:4]), *(run if len(run) > 1 else [])}:
                    if len(phrase) > 1 and not phrase.isdigit():
                        k = concept_key(phrase)
                        caps[k] += 2 if " " in phrase else 1
                        forms.setdefault(k, Counter())[phrase] += 1
                run = []
        low = [w.lower() for w in words]
        for w in low:
            if len(w) >= 6 and w not in STOP and not NUMBER.search(w):
                singles[concept_key(w)] += 1
                forms.setdefault(concept_key(w), Counter())[w] += 1
        for n in (2, 3):  # recurring phrases of two or three content words
            for gram in zip(*(low[i:] for i in range(n))):
                if all(g not in STOP and len(g) > 2 for g in gram) and not NUMBER.search("".join(gram)):
                    phrase = " ".join(gram)
                    k = concept_key(phrase)
                    pairs[k] += 1
                    forms.setdefault(k, Counter())[phrase] += 1
    # capitalised terms seen twice (a multi-word name once), then phrases that recur
    ranked = [k for k, c in caps.most_common() if c >= 2 and _namey(k)]
    recurring = {k: c for k, c in pairs.items() if c >= 2 and k not in caps}
    # a two-word phrase that only ever occurs inside one three-word phrase is that phrase
    subsumed = {sub for k, c in recurring.items() if k.count(" ") == 2
                for sub in (k.rsplit(" ", 1)[0], k.split(" ", 1)[1]) if recurring.get(sub) == c}
    ranked += [k for k, _ in sorted(recurring.items(), key=lambda kv: (-kv[1] - kv[0].count(" "), kv[0]))
               if k not in subsumed]
    # then recurring single words, and, for short texts, names seen once
    floor = 2 if len(text) < 4000 else 3  # short notes repeat themselves less
    in_phrases = Counter(w for k in ranked if " " in k for w in k.split()
                         for _ in range(max(caps.get(k, 0), pairs.get(k, 0))))
    ranked += [k for k, c in singles.most_common()
               if c >= floor and k not in caps and k not in ranked and c > in_phrases.get(k, 0)]
    if len(ranked) < 12:
        ranked += [k for k, c in caps.most_common() if c == 1 and _namey(k) and len(k) > 3 and k not in ranked]
    out = []
    for k in ranked:
        best = forms[k].most_common(1)[0][0]
        if len(best) <= 60:
            out.append(best)
        if len(out) >= limit:
            break
    return out


def _namey(key: str) -> bool:
    """Not a run of initials like 'C N' (from 'C:N')."""
    return len(key.replace(" ", "")) >= 2 and not all(len(w) == 1 for w in key.split())


def _codey(s: str) -> bool:
    """Code pasted into prose: too many symbols to be a sentence."""
    symbols = sum(c in "=[]{}()<>_;/\\|`$#*" for c in s)
    return symbols > max(3, len(s) * 0.06)


def figures(text: str, limit: int = 6) -> list[str]:
    """Sentences that state numbers, quoted exactly: the figures a reader should find verbatim."""
    scored = []
    for i, s in enumerate(sentences(text)):
        nums = re.findall(r"\d[\d,.]*\s*(?:%|x|×|k|K|M|B|billion|million|GB|MB|TB|ms|s|tokens|GPUs?|layers|experts|°C)?", s)
        nums = [n for n in nums if not re.fullmatch(r"(19|20)\d\d", n.strip())]  # bare years say little
        if nums and len(s) <= 300 and not _codey(s):
            scored.append((-(len(nums) + sum(1 for n in nums if re.search(r"[%x×kKMB]|[a-z]{2,}", n))), i, s))
    return [s for _, _, s in sorted(scored)[:limit]]


def quote_for(concept: str, aliases: list[str], text: str) -> str | None:
    """The first good sentence of the source that names the concept (or an alias)."""
    names = [concept, *aliases]
    pats = [re.compile(r"\b" + re.escape(n) + r"(?:e?s)?\b", re.I) for n in names if n]
    for s in sentences(text):
        if any(p.search(s) for p in pats) and len(s) >= 40:
            return s
    return None


def mentions(name: str, aliases: list[str], text: str) -> int:
    """How often the text names a concept (or an alias): plurals count, case does not, except for
    short acronyms, which must match as written ('RL' is not 'rl' in 'url')."""
    total = 0
    for n in {name, *aliases}:
        if not n or len(n) < 2:
            continue
        flags = 0 if (n.isupper() and len(n) <= 5) else re.I
        total += len(re.findall(r"(?<![\w-])" + re.escape(n) + r"(?:e?s)?(?![\w-])", text, flags))
    return total
