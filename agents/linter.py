"""Lint's model checks, run by the RLM agent over candidates that code found.

A 0.5B model cannot read a whole wiki and spot that two pages disagree. Code can: sentences that
say the same thing with different numbers (kb/core/text.py), claims whose quoted sentence is not in
the linked source, claims that share few words with their source. The agent gets those candidates,
the pages and the raw sources as REPL variables, and a first cell that puts one narrow question
per candidate to a sub-model (is this a contradiction? does this passage support this claim?
what does this page leave unanswered?); it may look further before it finishes. Code-evidence
findings are reported whatever the model says, with its verdict beside them; model-only findings
(an unsupported claim, a gap) are reported only when the model says so.

The agent takes a `Wiki` and returns `ModelFinding`s, its own types: the lint job reads the vault
and files the findings, and the agent layer never reaches up into the job's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.agents.answer import passage, terms
from kb.agents.trace import Event
from kb.core import concepts as C
from kb.core.markdown import WL_ALIAS, WL_CLOSE, WL_OPEN, WL_TARGET
from kb.core.text import NUM, disagreements, normalise
from kb.core.vault import Page
from kb.tools.repl import Corpus, Search, Tools


@dataclass
class Wiki:
    """What the model checks read, taken from the vault once by the job."""

    pages: dict[str, Page]  # every note that parses, by vault path (titles of existing pages)
    checked: list[str]  # the wiki pages to check, in vault order
    links: dict[str, set[str]]  # note -> the pages its links resolve to
    raw: dict[str, str]  # raw source path -> its extracted text


@dataclass
class ModelFinding:
    check: str  # contradiction | unsupported-claim | connection | gap | question | candidate-article
    severity: str  # warning | suggestion
    message: str
    pages: list[str] = field(default_factory=list)  # the page at fault first
    quotes: list[tuple[str, str]] = field(default_factory=list)  # (path, text quoted from it)


PROMPTS = {
    "contradiction": ("Two passages from a knowledge base.\n\nA ({a_path}): {a_text}\n\nB ({b_path}): {b_text}\n\n"
                      "Do A and B state the same fact with different numbers or values? Answer yes or no, "
                      "then say in one sentence which value differs."),
    "claim": ("Source text:\n{passage}\n\nClaim: {claim}\n\nIs the claim supported by the source text? "
              "Answer yes or no, then one sentence why."),
    # one narrow request per call: asked for three labelled lines, the 0.5B model writes one question
    "gap": ("A wiki page about {title}:\n\n{text}\n\nWrite one question a reader would ask next that "
            "this page does not answer. Reply with the question only."),
    "topic": ("A wiki page about {title}:\n\n{text}\n\nName one related topic that deserves its own "
              "page. Reply with the name only, a few words."),
    "ask": ("A wiki page about {title}:\n\n{text}\n\nWrite one question that this page answers well. "
            "Reply with the question only."),
}

FIRST_CELL = '''verdicts = {}
for c in contradictions:
    verdicts[c["id"]] = llm_query(prompts["contradiction"].format(**c))
    print(c["id"], "->", verdicts[c["id"]][:100])
for c in claims:
    verdicts[c["id"]] = llm_query(prompts["claim"].format(**c))
    print(c["id"], "->", verdicts[c["id"]][:100])
for h in hubs:
    for kind in ("gap", "topic", "ask"):
        verdicts[kind + "-" + h["id"]] = llm_query(prompts[kind].format(**h))
        print(kind, h["id"], "->", verdicts[kind + "-" + h["id"]][:160])
checked = dict(verdicts)
print(len(verdicts), "checks done")'''

TASK = ("Health-check this wiki. The first cell asked a helper model about each candidate problem "
        "(contradictions, claims, gaps); `verdicts` maps each candidate id to its reply. Look further "
        "with search/read if something seems missing, then reply FINAL_VAR(verdicts).")


def model_checks(w: Wiki, engine, search: Search, *, max_contradictions: int, max_claims: int,
                 max_gap_pages: int, trace_dir: Path | None = None,
                 on_event: Callable[[Event], None] | None = None) -> tuple[list[ModelFinding], dict]:
    """Findings, and what the model run cost (status, sub-calls, tokens, trace id)."""
    from kb.agents.rlm import RLM, Budget
    raw = w.raw
    wiki = {p: w.pages[p].body for p in w.checked}
    contradictions = _contradictions(wiki, raw)
    judged = contradictions[:max_contradictions]  # all are reported; these get a verdict
    missing, weak = _claims(w, raw, max_claims)
    hubs = _hubs(w, max_gap_pages)
    n = len(judged) + len(weak) + 3 * len(hubs)
    findings = list(missing) + _connections(w, raw)
    verdicts: dict = {}
    info = {"model": str(getattr(engine, "model", "") or ""), "candidates": n}
    if n:
        corpus = Corpus(texts={**wiki, **raw}, titles={p: w.pages[p].title for p in w.checked})
        rlm = RLM(engine, tools=Tools(corpus, search).infos(),
                  budget=Budget(iterations=2, sub_calls=n + 4, sub_reply_tokens=120, reply_tokens=200,
                                tokens=60_000 + 1500 * n, seconds=300 + 60 * n),
                  trace_dir=trace_dir, on_event=on_event)
        variables = {"contradictions": [{k: v for k, v in c.items() if k != "group"} for c in judged],
                     "claims": weak, "hubs": hubs, "prompts": PROMPTS, "pages": wiki}
        result = rlm.run(TASK, variables, first_cell=FIRST_CELL, answer_var="verdicts",
                         keep=("verdicts", "checked"))
        kept = result.variables
        verdicts = kept.get("verdicts") if isinstance(kept.get("verdicts"), dict) else kept.get("checked") or {}
        info.update(status=result.status, sub_calls=result.sub_calls, tokens=result.tokens,
                    seconds=round(result.seconds, 1), trace_id=result.trace_id)
    for c in contradictions:
        v = str(verdicts.get(c["id"], ""))
        yes = _yes(v)
        note = f" Model: {_first_line(v)}" if v else " (not checked by the model)"
        g = c["group"]
        findings.append(ModelFinding(
            "contradiction", "warning" if yes is not False else "suggestion",
            f"{len(g)} versions of one statement with different numbers ({', '.join('/'.join(s.numbers) for s in g)})."
            + note, [s.path for s in g], quotes=[(s.path, s.sentence) for s in g]))
    for c in weak:
        v = str(verdicts.get(c["id"], ""))
        if _yes(v) is False:
            findings.append(ModelFinding("unsupported-claim", "warning",
                                    f"{c['page']}: “{c['claim']}” is not supported by {c['source']}. "
                                    f"Model: {_first_line(v)}", [c["page"], c["source"]],
                                    quotes=[(c["page"], c["claim"])]))
    findings += _suggestions(w, hubs, verdicts)
    return findings, info


def _contradictions(wiki: dict[str, str], raw: dict[str, str], limit: int = 100) -> list[dict]:
    """Wiki-vs-wiki and wiki-vs-source disagreements first (the wiki is wrong somewhere), then
    sources that disagree with each other."""
    groups = disagreements({**wiki, **raw})
    groups.sort(key=lambda g: (not any(s.path.startswith("wiki/") for s in g), g[0].path))
    out = []
    for i, g in enumerate(groups[:limit]):
        a, b = g[0], g[1]
        out.append({"id": f"contradiction-{i + 1}", "a_path": a.path, "a_text": a.sentence,
                    "b_path": b.path, "b_text": b.sentence, "group": g})
    return out


# `- claim ([[source page|title]])`, as kb.core.pages.concept_page writes it
CLAIM_LINE = re.compile(rf"^- (?P<claim>.+?) \({WL_OPEN}(?P<link>{WL_TARGET}+)(?:\|{WL_ALIAS})?{WL_CLOSE}\)\s*$")
QUOTE_LINE = re.compile(r"^\s+> “(?P<quote>.*)”\s*$")


def _claims(w: Wiki, raw: dict[str, str], limit: int) -> tuple[list[ModelFinding], list[dict]]:
    """Concept-page claims: a quote that is not in the linked source is a finding on its own;
    claims sharing few words with their source go to the model, fewest first."""
    found, weak, stated = [], [], {}
    for rel in w.checked:
        page = w.pages.get(rel)
        if page is None or page.meta.get("type") != "concept":
            continue
        lines = page.body.splitlines()
        for i, line in enumerate(lines):
            m = CLAIM_LINE.match(line)
            if not m:
                continue
            src = m.group("link") + ".md"
            src_page = w.pages.get(src)
            raw_path = str(src_page.meta.get("raw")) if src_page and src_page.meta.get("raw") else None
            text = raw.get(raw_path or "", "")
            if not text:
                continue
            q = QUOTE_LINE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if q and normalise(q.group("quote")) not in normalise(text):
                found.append(ModelFinding("unsupported-claim", "warning",
                                     f"{rel}: the sentence quoted for {src_page.title} is not in {raw_path}",
                                     [rel, src], quotes=[(rel, q.group("quote"))]))
                continue
            claim = m.group("claim").strip()
            if raw_path not in stated:
                stated[raw_path] = {n.replace(",", "") for n in NUM.findall(text)}
            invented = [n for n in NUM.findall(claim) if n.replace(",", "") not in stated[raw_path]]
            if invented:
                found.append(ModelFinding("unsupported-claim", "warning",
                                     f"{rel}: the claim attributed to {src_page.title} states "
                                     f"{', '.join(invented)}, which {raw_path} never does", [rel, src],
                                     quotes=[(rel, claim)]))
                continue
            words = {w for w in terms(claim) if len(w) > 3}
            if claim == "Mentioned in" or len(words) < 3:
                continue
            have = terms(text)
            support = len({w for w in words if w in have or C.singular(w) in have}) / len(words)
            if support < 0.6:
                weak.append((support, {"page": rel, "source": src, "claim": claim,
                                       "passage": passage(text, claim, 1500)}))
    weak.sort(key=lambda t: (t[0], t[1]["page"]))
    return found, [dict(c, id=f"claim-{i + 1}") for i, (_, c) in enumerate(weak[:limit])]


def _hubs(w: Wiki, limit: int) -> list[dict]:
    """The concept pages most sources feed: where a question left open matters most."""
    scored = []
    for rel in w.checked:
        page = w.pages.get(rel)
        if page is not None and page.meta.get("type") == "concept":
            n = len(page.meta.get("sources") or []) if isinstance(page.meta.get("sources"), list) else 0
            scored.append((-n, rel))
    return [{"id": f"{i + 1}", "path": rel, "title": w.pages[rel].title,
             "text": w.pages[rel].body[:2500]} for i, (_, rel) in enumerate(sorted(scored)[:limit])]


def _connections(w: Wiki, raw: dict[str, str], limit: int = 10) -> list[ModelFinding]:
    """Source pages whose source names a concept twice or more but does not link its page."""
    concepts = [(rel, w.pages[rel]) for rel in w.checked if w.pages[rel].meta.get("type") == "concept"]
    out = []
    for rel in w.checked:
        page = w.pages.get(rel)
        if page is None or page.meta.get("type") != "source":
            continue
        text = raw.get(str(page.meta.get("raw")), "")
        linked = w.links.get(rel, set())
        for crel, cpage in concepts:
            al = cpage.meta.get("aliases") if isinstance(cpage.meta.get("aliases"), list) else []
            if crel in linked or len(cpage.title) < 4:
                continue
            n = C.mentions(cpage.title, al, text)
            if n >= 2:
                out.append(ModelFinding("connection", "suggestion",
                                   f"{page.title} names {cpage.title} {n} times but does not link it", [rel, crel]))
    return out[:limit]


def _suggestions(w: Wiki, hubs: list[dict], verdicts: dict) -> list[ModelFinding]:
    titles = {C.concept_key(p.title): rel for rel, p in w.pages.items()}
    out = []
    for h in hubs:
        gap, ask = _question(verdicts.get("gap-" + h["id"])), _question(verdicts.get("ask-" + h["id"]))
        if gap:
            out.append(ModelFinding("gap", "suggestion", f"{h['title']} leaves open: {gap}", [h["path"]]))
        if ask and ask != gap:
            out.append(ModelFinding("question", "suggestion", f"kb ask \"{ask}\"", [h["path"]]))
        topic = _first_line(str(verdicts.get("topic-" + h["id"], ""))).strip(" .\"'*#")
        topic = re.sub(r"(?i)^(topic|name)\s*:\s*", "", topic)
        if not topic or len(topic) > 60 or C.concept_key(topic) == C.concept_key(h["title"]):
            continue
        existing = titles.get(C.concept_key(topic))
        if existing:
            linked = w.links.get(h["path"], set())
            if existing not in linked:
                out.append(ModelFinding("connection", "suggestion",
                                   f"{h['title']} could link {w.pages[existing].title}", [h["path"], existing]))
        else:
            out.append(ModelFinding("candidate-article", "suggestion",
                               f"a page on “{topic}” (suggested from {h['title']})", [h["path"]]))
    return out


def _question(reply) -> str | None:
    """The first line of a reply that is a question, without a label."""
    for line in str(reply or "").splitlines():
        line = re.sub(r"(?i)^\W*(question|ask|q)\s*:\s*", "", line.strip()).strip(" *\"")
        if line.endswith("?") and 10 <= len(line) <= 200:
            return line
    return None


def _yes(reply: str) -> bool | None:
    m = re.match(r"\W*(yes|no)\b", reply.strip(), re.I)
    return None if not m else m.group(1).lower() == "yes"


def _first_line(reply: str) -> str:
    line = next((x.strip() for x in reply.splitlines() if x.strip()), "")
    return line[:200]

