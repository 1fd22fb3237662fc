#!/usr/bin/env python3
"""Check the ml-blog question set against the notes it is about. Standard library only.

    python bench/qa/verify.py [QA.jsonl] [--corpus DIR]

Defaults: bench/qa/mlblog-qa.jsonl beside this script, and ../shared/corpus/ml-blog beside the
repository. Prints the per-type counts, then one line per problem; exits 1 if there is any.

What is checked (text is compared lower-cased, with curly quotes and dashes made plain and runs of
whitespace made one space; a term that starts or ends with a letter or digit must start or end on
a word boundary, so "ppo" is not found in "support", though a plural "s" may follow):

- every line is a JSON object with id, type, question, answer, sources and accept or accept_all;
  ids are unique; types are lookup | multi | aggregate | negative; sources name existing notes;
- the counts per type meet MINIMUMS;
- the stated `answer` itself scores as correct under eval.py's rule (any `accept`, all `accept_all`,
  plain lower-cased substrings);
- no question gives its answer away: no `accept` term, and no `accept_all` term, occurs in the
  question (eval.py scores by substring, so such a term would match any reply that echoes it);
- lookup: every accept / accept_all term occurs in at least one of `sources` (a paraphrase such as
  "five" for "5" is allowed when `variants` maps it to a term that occurs);
- multi: accept_all with >= 2 terms and >= 2 sources, each source holding at least one term, and
  no single note in the corpus holding all of them (so one note cannot answer it);
- aggregate: the answer is recomputed from the notes by the question's `check`:
    {"grep": RE, "count": N}               N notes match RE; `sources` are exactly those notes;
                                           every accept term states N ("4 notes", "four notes")
    {"grep": RE, "files": [...], "labels": {file: term}}
                                           the notes matching RE are exactly `files` and `sources`;
                                           each label names its note (occurs in its title or file
                                           name) and accept_all is exactly the labels
    {"items": {label: RE}, "universe": RE, "ignore": [...], "item_files": {label: [...]}}
                                           each item's RE matches some note; `sources` are exactly
                                           the notes any item matches; every match of `universe`
                                           is one of the items (or ignored), so the list is
                                           complete; accept_all is the labels, less any the
                                           question already names
    {"in": file, "after": s, "before": s, "grep": RE, "occurrences": N}
                                           RE matches N times in that stretch of that note; every
                                           accept term states N
  RE is case-insensitive unless "case": true, and always multi-line;
- negative: sources is [], the accept list holds "not in the knowledge base", and every `absent`
  term occurs in no note at all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DEFAULT_QA = HERE / "mlblog-qa.jsonl"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "ml-blog"

TYPES = ("lookup", "multi", "aggregate", "negative")
MINIMUMS = {"lookup": 16, "multi": 8, "aggregate": 10, "negative": 10}
MIN_TOTAL = 44
REFUSAL = "not in the knowledge base"
NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                "eighteen", "nineteen", "twenty"]

PLAIN = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
                       "\u2014": "-", "\u00a0": " ", "\u00d7": "x"})


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.translate(PLAIN)).strip().lower()


def term_re(term: str) -> re.Pattern:
    t = norm(term)
    left = r"(?<![a-z0-9])" if t[:1].isalnum() else ""
    right = r"(?:e?s)?(?![a-z0-9])" if t[-1:].isalnum() else ""  # a plural still counts
    return re.compile(left + re.escape(t) + right)


def has(text_norm: str, term: str) -> bool:
    return bool(term_re(term).search(text_norm))


def load_notes(corpus: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(corpus.glob("*.md"))}


def title_of(name: str, text: str) -> str:
    first = next((ln for ln in text.splitlines() if ln.startswith("# ")), "")
    return norm(first[2:] + " " + name.removesuffix(".md").replace("-", " "))


def states_number(term: str, n: int) -> bool:
    forms = [str(n)] + ([NUMBER_WORDS[n]] if n < len(NUMBER_WORDS) else [])
    return any(has(norm(term), f) for f in forms)


def flags(check: dict) -> int:
    return re.M | (0 if check.get("case") else re.I)


def check_aggregate(q: dict, notes: dict[str, str], say) -> None:
    c = q.get("check")
    if not isinstance(c, dict):
        return say("aggregate needs a 'check' object")
    accept = [norm(x) for x in q.get("accept") or []]
    accept_all = [norm(x) for x in q.get("accept_all") or []]
    sources = set(q.get("sources") or [])
    try:
        if "items" in c:
            items = c["items"]
            found: set[str] = set()
            for label, rx in items.items():
                hit = {n for n, t in notes.items() if re.search(rx, t, flags(c))}
                if not hit:
                    say(f"item {label!r}: /{rx}/ matches no note")
                want = c.get("item_files", {}).get(label)
                if want is not None and set(want) != hit:
                    say(f"item {label!r}: notes {sorted(hit)} != item_files {sorted(want)}")
                found |= hit
            if found != sources:
                say(f"items occur in {sorted(found)}, sources say {sorted(sources)}")
            if "universe" in c:
                ignore = set(c.get("ignore", []))
                for name, text in notes.items():
                    for m in re.finditer(c["universe"], text, flags(c)):
                        s = m.group(0)
                        if s in ignore:
                            continue
                        if not any(re.fullmatch(rx, s, flags(c)) for rx in items.values()):
                            say(f"{name}: {s!r} matches the universe /{c['universe']}/ but no item")
            qn = norm(q["question"])
            need = {norm(lb) for lb in items if not has(qn, lb)}
            if set(accept_all) != need:
                say(f"accept_all {sorted(accept_all)} != item labels not in the question {sorted(need)}")
        elif "occurrences" in c:
            text = notes.get(c.get("in", ""))
            if text is None:
                return say(f"check.in: no note {c.get('in')!r}")
            if c.get("after"):
                i = text.find(c["after"])
                if i < 0:
                    return say(f"check.after {c['after']!r} not in {c['in']}")
                text = text[i + len(c["after"]):]
            if c.get("before"):
                i = text.find(c["before"])
                if i < 0:
                    return say(f"check.before {c['before']!r} not in {c['in']}")
                text = text[:i]
            n = len(re.findall(c["grep"], text, flags(c)))
            if n != c["occurrences"]:
                say(f"/{c['grep']}/ occurs {n} times in {c['in']}, the set says {c['occurrences']}")
            if sources != {c["in"]}:
                say(f"sources should be [{c['in']!r}]")
            if not accept or not all(states_number(a, c["occurrences"]) for a in accept):
                say(f"every accept term must state {c['occurrences']}")
        elif "grep" in c:
            hit = {n for n, t in notes.items() if re.search(c["grep"], t, flags(c))}
            if hit != sources:
                say(f"/{c['grep']}/ matches {sorted(hit)}, sources say {sorted(sources)}")
            if "count" in c:
                if len(hit) != c["count"]:
                    say(f"/{c['grep']}/ matches {len(hit)} notes, the set says {c['count']}")
                if not accept or not all(states_number(a, c["count"]) for a in accept):
                    say(f"every accept term must state {c['count']}")
            elif "files" in c:
                if hit != set(c["files"]):
                    say(f"/{c['grep']}/ matches {sorted(hit)}, check.files say {sorted(c['files'])}")
                labels = c.get("labels") or {}
                if set(labels) != set(c["files"]):
                    say("check.labels must name every file in check.files")
                for f, lb in labels.items():
                    if f in notes and not has(title_of(f, notes[f]), lb):
                        say(f"label {lb!r} is not in the title of {f}")
                if sorted(accept_all) != sorted(norm(x) for x in labels.values()):
                    say(f"accept_all {sorted(accept_all)} != labels {sorted(labels.values())}")
            else:
                say("check with 'grep' needs 'count' or 'files'")
        else:
            say("check needs 'grep', 'items' or 'occurrences'")
    except re.error as e:
        say(f"bad regular expression in check: {e}")


def verify(qa_path: Path, corpus: Path) -> tuple[list[str], Counter]:
    problems: list[str] = []
    counts: Counter = Counter()
    notes = load_notes(corpus)
    if not notes:
        return [f"{corpus}: no notes (*.md)"], counts
    normed = {n: norm(t) for n, t in notes.items()}
    seen: set[str] = set()
    for ln, line in enumerate(qa_path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(f"line {ln}: not JSON ({e})")
            continue
        if not isinstance(q, dict):
            problems.append(f"line {ln}: not a JSON object")
            continue
        qid = str(q.get("id", f"line {ln}"))

        def say(msg: str, qid=qid) -> None:
            problems.append(f"{qid}: {msg}")

        missing = [k for k in ("id", "type", "question", "answer", "sources") if k not in q]
        if missing:
            say(f"missing {', '.join(missing)}")
            continue
        if qid in seen:
            say("duplicate id")
        seen.add(qid)
        kind = q["type"]
        if kind not in TYPES:
            say(f"unknown type {kind!r}")
            continue
        counts[kind] += 1
        accept, accept_all = q.get("accept") or [], q.get("accept_all") or []
        if not (isinstance(accept, list) and isinstance(accept_all, list)) or not (accept or accept_all):
            say("needs a non-empty 'accept' or 'accept_all' list")
            continue
        if accept and accept_all:
            say("give 'accept' or 'accept_all', not both (eval.py ignores 'accept' when both are set)")
        sources = q["sources"]
        if not isinstance(sources, list) or any(s not in notes for s in sources):
            say(f"sources name notes that do not exist: {[s for s in sources if s not in notes]}")
            continue
        a = str(q["answer"]).lower()
        right = all(x.lower() in a for x in accept_all) if accept_all else any(x.lower() in a for x in accept)
        if not right:
            say("the stated answer would not score as correct under eval.py's rule")
        qn = norm(q["question"])
        echoed = [t for t in accept + accept_all if norm(t) in qn]
        if echoed:
            say(f"the question already contains {echoed}")
        variants = q.get("variants") or {}
        for v in variants:
            if v not in accept + accept_all:
                say(f"variant {v!r} is in neither accept list")
        src_text = " \n ".join(normed[s] for s in sources)

        def occurs(term: str) -> bool:
            return has(src_text, term) or (term in variants and has(src_text, variants[term]))

        if kind == "negative":
            if sources:
                say("a negative has no sources")
            if accept_all or REFUSAL not in [norm(a) for a in accept]:
                say(f"a negative is scored by 'accept' holding {REFUSAL!r}")
            absent = q.get("absent") or []
            if not absent:
                say("a negative needs an 'absent' list")
            for t in absent:
                where = [n for n, t2 in normed.items() if has(t2, t)]
                if where:
                    say(f"'absent' term {t!r} occurs in {where}")
            continue
        if not sources:
            say("needs sources")
            continue
        if kind == "lookup":
            for t in accept + accept_all:
                if not occurs(t):
                    say(f"{t!r} occurs in none of {sources}")
        elif kind == "multi":
            if len(sources) < 2 or len(accept_all) < 2:
                say("a multi question needs >= 2 sources and >= 2 accept_all terms")
            for t in accept_all:
                if not occurs(t):
                    say(f"{t!r} occurs in none of {sources}")
            for s in sources:
                if not any(has(normed[s], t) for t in accept_all):
                    say(f"source {s} contributes none of the accept_all terms")
            whole = [n for n, t2 in normed.items() if all(has(t2, t) for t in accept_all)]
            if whole:
                say(f"one note holds every term: {whole}")
        elif kind == "aggregate":
            check_aggregate(q, notes, say)
    total = sum(counts.values())
    for kind, least in MINIMUMS.items():
        if counts[kind] < least:
            problems.append(f"too few {kind} questions: {counts[kind]} < {least}")
    if total < MIN_TOTAL:
        problems.append(f"too few questions: {total} < {MIN_TOTAL}")
    return problems, counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("qa", nargs="?", type=Path, default=DEFAULT_QA)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    a = ap.parse_args(argv)
    if not a.corpus.is_dir():
        print(f"{a.corpus}: no such corpus directory", file=sys.stderr)
        return 2
    if not a.qa.is_file():
        print(f"{a.qa}: no such file", file=sys.stderr)
        return 2
    problems, counts = verify(a.qa, a.corpus)
    print(" ".join(f"{k}={counts[k]}" for k in TYPES) + f" total={sum(counts.values())}")
    for p in problems:
        print(p)
    print("ok" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
