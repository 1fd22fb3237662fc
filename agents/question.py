"""What code reads off a question before any model sees it: the phrases a typed choice may name
(`candidates`), whether it asks across the notes (`form`), the questions it joins (`parts`), and
the things it names (`subjects`), which an answer may only be about if the run read them.

Kept apart from the choice and the evidence check because both read questions the same way.
"""

from __future__ import annotations

import re

from kb.core.grounding import bare_name

TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+/'’-]*[A-Za-z0-9+]|[A-Za-z0-9]")
ASKING = set("""what which who whom whose when where why how is are was were do does did the a an of to in
on for and or by with from that this these those it its as at be been can could should would will about
according into than then there their they many much note notes mention mentions mentioned named name
names appear appears appeared list every all any cite cites cited discuss discusses discussed say says
said knowledge base blog give gives given use uses used across anywhere each also other not""".split())
PRONOUNS = re.compile(r"\b(?:it|its|they|them|their|he|his|she|her|this|these)\b", re.I)


def is_name(word: str) -> bool:
    """A word that names something rather than saying it: a capital or a digit in it."""
    return any(c.isupper() or c.isdigit() for c in word)


def candidates(question: str) -> list[str]:
    """The phrases of the question a choice may name: runs of words that are not the asking
    ("how many notes mention"), then each word of a run, in the question's order."""
    out: list[str] = []
    for segment in re.split(r"[,;:()?!\"“”]|\s-\s", question):
        run: list[str] = []
        for tok in TOKEN.findall(segment) + [""]:
            tok = re.sub(r"['’]s$", "", tok)
            if tok and tok.lower() not in ASKING:
                run.append(tok)
                continue
            if 1 < len(run) <= 4:
                out.append(" ".join(run))
            out.extend(run)
            run = []
    return list({c.lower(): c for c in reversed(out)}.values())[::-1][:24]


# The question's own form, read by code: a 0.5B model picked find_all for "How often does Streaming
# DiLoCo synchronise each shard?" and count for lookups; an aggregate action runs only when the
# question asks across the notes, and such a question is never looked up in three pages.
ACROSS = r"(?:in|across|by|from) (?:the |all (?:the )?|any (?:of the )?)?(?:notes|knowledge base|wiki|blog)"
FORMS = (
    ("count", re.compile(r"^how many (?:of the |different )?notes\b", re.I)),
    ("list", re.compile(r"^(?:which|what|list the) notes\b|^in which notes\b", re.I)),
    ("find_all", re.compile(r"^(?:which|what|list|name)\b.*\b(?:appear|are|is|were) (?:named |cited |mentioned |used )?"
                            + ACROSS + r"|^(?:list|name) (?:every|all|the)\b.*\b(?:notes|knowledge base) "
                            r"(?:mention|name|cite)|\b(?:anywhere|every note)\b", re.I)),
)


def form(question: str) -> str | None:
    """The aggregate the question's wording asks for, if any."""
    q = " ".join(question.split())
    return next((action for action, pat in FORMS if pat.search(q)), None)


WH = r"(?:which|what|who|whom|whose|how|where|when|why|in what|in which|from (?:roughly |about )?what)\b"
JOIN = re.compile(rf",\s*and\s+(?={WH}|the\b)|\s+and\s+(?={WH})", re.I)


def parts(question: str) -> list[str]:
    """The questions a question joins ("Who developed Muon, and which labs use it?"), each whole:
    a small model answering both from one page answers one. A part that borrows the first part's
    verb ("Name the 2017 paper that ..., and the paper by Shazeer") gets it back. One question
    stays one."""
    q = " ".join(question.split())
    if form(q):
        return [q]
    pieces = [p.strip(" ,;") for p in JOIN.split(q)]
    if len(pieces) < 2 or any(len(p.split()) < 3 for p in pieces):
        return [q]
    first = pieces[0]
    lead = re.match(r"^(.*?)\b(?:the|a|an)\b", first, re.I)
    out = [first.rstrip("?.") + "?"]
    for p in pieces[1:]:
        if re.match(WH, p, re.I) is None and lead and lead.group(1).strip():
            p = lead.group(1).strip() + " " + p
        out.append(p[0].upper() + p[1:].rstrip("?.") + "?")
    return out


def borrows(part: str) -> bool:
    """Whether a part leans on an earlier one ("what replaced the loss in *its* routing"): it says
    "it" or "his" and names nothing distinctive of its own ("Chinese labs" is not a subject that
    "it" could mean; "Qwen-Image ... its final stage" is)."""
    return PRONOUNS.search(part) is not None and not any(distinctive(s) for s in subjects(part))


def distinctive(subject: str) -> bool:
    return " " in subject or any(c.isdigit() for c in subject) or any(c.isupper() for c in subject[1:])


def _name(tok: str, opening: bool) -> str | None:
    t = re.sub(r"['’]s$", "", tok)
    if opening and t.lower() in ASKING:
        return None
    if any(c.isdigit() for c in t) or any(c.isupper() for c in t[1:]) or (t[:1].isupper() and not opening):
        return bare_name(t) if is_name(t.split("-")[0]) else t  # 'post-GPT' stays whole
    return None


SUFFIX = re.compile(r"\bending (?:in|with) [\"“'‘]?([A-Z]{1,4})(?![A-Za-z])[\"”'’]?")


def subjects(question: str) -> list[str]:
    """The things a question names: runs of capitalised or numbered words ("Mamba-3", "Gemini 2.5
    Pro", "Mixtral 8x7B"); a bare number continues a run but does not start one."""
    out: list[str] = []
    question = SUFFIX.sub(" ", question)  # "ending in PO" names a form, not a thing
    for segment in re.split(r"[,;:()?!\"“”]", question):
        run: list[str] = []
        for i, tok in enumerate(TOKEN.findall(segment) + [""]):
            number = re.fullmatch(r"[\d.,/:%]+", tok) is not None
            name = None if number or not tok else _name(tok, opening=i == 0)
            if name or (number and run):
                run.append(name or tok)
                continue
            if run:
                while run and re.fullmatch(r"[\d.,/:%]+", run[-1]):
                    run.pop()
                out.append(" ".join(run))
            run = []
    return list(dict.fromkeys(s for s in out if s))


def naming(subject: str) -> re.Pattern:
    """A subject as notes write it: case aside, a hyphen or space between its words or none,
    a plural, a footnote digit after a word ('VAE3'), but not a longer name ('GPT-3' is not 'GPT-35')."""
    words = [w for w in re.split(r"[\s-]+", subject) if w]
    body = r"[\s-]?".join(map(re.escape, words))
    end = r"(?![0-9]|\.[0-9])" if words[-1][-1].isdigit() else r"(?:e?s)?(?![A-Za-z])"
    return re.compile(r"(?<![A-Za-z0-9])" + body + end, re.I)


def unnamed(question: str, text: str) -> list[str]:
    """The question's subjects that the text never names."""
    text = text.replace("’", "'")
    return [s for s in subjects(question) if not naming(s).search(text)]


NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def shape(question: str) -> str | None:
    """The form of the items a find-all asks for, when the question states one, as a regular
    expression: code then finds every item, exactly, instead of a helper model listing them
    ("Which arXiv IDs are cited?"; "abbreviations ending in PO"; "three-letter ... ending in A")."""
    if re.search(r"\barxiv\b", question, re.I) and re.search(r"\b(?:ids?|identifiers|numbers|papers)\b", question, re.I):
        return r"(?<![\d.])\d{4}\.\d{4,5}(?:v\d+)?(?!\d)"
    end = SUFFIX.search(question)
    if end:
        suffix = end.group(1)
        size = re.search(r"\b(\d|" + "|".join(NUMBER_WORDS) + r")-letter\b", question, re.I)
        n = (int(size.group(1)) if size.group(1).isdigit() else NUMBER_WORDS[size.group(1).lower()]) if size else 0
        head = f"{{{n - len(suffix)}}}" if n > len(suffix) else "{1,6}"
        return rf"(?-i:\b[A-Z]{head}{re.escape(suffix)}\b)"  # capitals: an abbreviation, not 'idea'
    return None
