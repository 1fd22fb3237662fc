"""`kb finetune-data`: question/answer pairs a model should answer closed-book, from every page.

Code picks the sentences worth learning (names, numbers, claims) and, in each, the answer (a
number with its unit, or a name); the model only writes a question whose answer that is; code
keeps the pair only when it reads as a question about that sentence that does not give the answer
away, and otherwise asks the sentence itself with the answer blanked (a cloze). So every answer is grounded in a sentence of its
page, which is kept beside it. Each page also gives one passage item (what the wiki says about its
title). Results are cached by page content, so a run only asks the model about new or changed
pages; the JSONL files are rebuilt from the cache each time (cheap), deduplicated, capped per page
and split train/validation by page, so no page's facts leak from training into validation.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from kb.core import catalog, events, kinds, pages
from kb.core.concepts import sentences
from kb.core.errors import KbError
from kb.core.text import normalise, plain
from kb.core.vault import Page, Vault, atomic_write

VERSION = 5
SYSTEM = "You answer questions about the user's knowledge base from memory, briefly."
SCHEMA = {"type": "object", "properties": {"question": {"type": "string"}}, "required": ["question"]}
STOP = set("the a an of to in on and or for with is are was were be by as at it this that from what which how does did do about".split())


@dataclass
class DataSettings:
    per_page: int = 4  # sentences asked about per page (the best-scored ones)
    val_every: int = 4  # one page in N goes to validation (chosen by a hash of its path)


@dataclass
class DataReport:
    pages: int = 0
    generated: int = 0  # pages the model was asked about this run (new or changed)
    cached: int = 0
    model_calls: int = 0
    kept: int = 0
    dropped: dict = field(default_factory=dict)  # reason -> count
    train: int = 0
    validation: int = 0
    train_pages: int = 0
    validation_pages: int = 0
    files: dict = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def out_dir(vault: Vault):
    return vault.state_dir / "finetune"


NUMBER_SPAN = re.compile(r"\d[\d,.]*(?:\s*[-–]\s*\d[\d,.]*)?\s*(?:%|x|×|°C|k\b|K\b|M\b|B\b|billion|million|GB|MB|TB|ms|tokens|GPUs?|"
                         r"layers|experts|steps|days|weeks|hours|parameters|params)?")
NAME_SPAN = re.compile(r"(?<!^)(?<![.!?] )\b([A-Z][\w-]*(?:\s+(?:of\s+)?[A-Z][\w-]*){0,3})")
QUESTION_START = re.compile(r"(?i)^(what|which|who|whom|whose|when|where|why|how|is|are|was|were|do|does|did|"
                            r"can|could|should|would|will|in|on|according)\b")


def candidate_sentences(body: str, limit: int) -> list[str]:
    """The page's most fact-dense sentences: numbers and names score, boilerplate does not."""
    scored = []
    for i, s in enumerate(sentences(plain(body))):
        s = s.strip("“”\" ")
        words = s.split()
        if len(words) < 8 or len(s) > 300 or s.startswith(("Raw file:", "Quoted exactly")):
            continue
        score = len(re.findall(r"\d", s)) + 2 * len(re.findall(r"\b[A-Z][a-zA-Z0-9-]+", s[1:]))
        scored.append((-score, i, s))
    return [s for _, _, s in sorted(scored)[:limit]]


def answer_span(sentence: str) -> str | None:
    """What a question about this sentence should have as its answer: a number with its unit, or
    else a name (not the sentence's first word). Chosen by code, so the answer is in the sentence
    by construction; the model only writes the question."""
    for m in NUMBER_SPAN.finditer(sentence):
        span = m.group(0).strip(" ,.")
        if not re.fullmatch(r"(19|20)\d\d|\d", span):  # a bare year or digit says little
            return span
    names = [m.group(1) for m in NAME_SPAN.finditer(sentence) if m.group(1).lower() not in STOP]
    names = [n for n in names if len(n) >= 3]
    return max(names, key=len) if names else None


def cloze(title: str, sentence: str, span: str) -> dict:
    """The sentence as a question, its answer blanked everywhere; the page title gives context
    unless it would give the answer away."""
    blanked = re.sub(r"(?<!\w)" + re.escape(span) + r"(?!\w)", "____", sentence)
    where = f" ({title})" if normalise(span) not in normalise(title) else ""
    return {"kind": "cloze", "question": f"Fill in the blank{where}: {blanked}", "answer": span, "support": sentence}


def as_question(text: str) -> str | None:
    q = " ".join(str(text).split()).strip(" \"'")
    if not q:
        return None
    if not q.endswith("?") and QUESTION_START.match(q):
        q += "?"
    return q if q.endswith("?") else None


def grounded(question: str, answer: str, support: str) -> str | None:
    """Why a pair is dropped, or None when it is kept."""
    q, a, s = normalise(question), normalise(answer), normalise(support)
    if not a or not q or len(question) < 12 or not question.rstrip().endswith("?"):
        return "not a question"
    if len(a.split()) > 12:
        return "answer too long"
    if a not in s:
        words = [w for w in a.split() if w not in STOP]
        if not words or sum(w in s.split() for w in words) / len(words) < 0.8:
            return "answer not in its sentence"
    if re.search(r"(?<!\w)" + re.escape(a) + r"(?!\w)", q):
        return "question gives the answer away"
    content = {w[:5] for w in q.split() if len(w) > 3 and w not in STOP and w not in a.split()}
    if not content & {w[:5] for w in s.split()}:  # "What is the answer to this question?"
        return "question not about its sentence"
    return None


class FinetuneData:
    def __init__(self, vault: Vault, engine_factory: Callable[[], object] | None,
                 settings: DataSettings | None = None, on_progress: events.OnProgress | None = None):
        self.vault = vault
        self.engine_factory = engine_factory
        self.settings = settings or DataSettings()
        self.on_progress = on_progress or events.ignore
        self._engine = None

    def pages(self) -> list[Page]:
        out = []
        for rel in self.vault.wiki_pages():
            if kinds.folder_kind(rel) == "report" or not kinds.is_page(rel):
                continue
            try:
                out.append(self.vault.read(rel))
            except KbError:
                continue
        return out

    def run(self) -> DataReport:
        t0 = time.monotonic()
        report = DataReport()
        cache_dir = out_dir(self.vault) / "cache"
        cache_dir.mkdir(parents=True, exist_ok=True)
        items: list[dict] = []
        pages = self.pages()
        report.pages = len(pages)
        for n, page in enumerate(pages):
            digest = hashlib.sha256(page.body.encode()).hexdigest()[:24]
            cache = cache_dir / f"{digest}-v{VERSION}.json"
            if cache.exists():
                data = json.loads(cache.read_text())
                report.cached += 1
            else:
                data = self._generate(page, report)
                atomic_write(cache, json.dumps(data, ensure_ascii=False) + "\n")
                report.generated += 1
            for why, k in data.get("dropped", {}).items():
                report.dropped[why] = report.dropped.get(why, 0) + k
            items += [dict(it, page=page.path) for it in data["items"]]
            self.on_progress(events.PageDone(page.path, n + 1, len(pages)))
        self._write(items, report)
        report.seconds = time.monotonic() - t0
        return report

    def _generate(self, page: Page, report: DataReport) -> dict:
        if self._engine is None:
            if self.engine_factory is None:
                raise KbError("no model to write questions with")
            self._engine = self.engine_factory()
        items, dropped = [], {}
        for s in candidate_sentences(page.body, self.settings.per_page):
            span = answer_span(s)
            if not span:
                dropped["nothing to ask about"] = dropped.get("nothing to ask about", 0) + 1
                continue
            prompt = (f"Page: {page.title}\nSentence: {s}\n\nWrite one question about this sentence whose answer "
                      f"is exactly: {span}\nDo not put the answer in the question. Answer in JSON.")
            reply = self._engine.chat([{"role": "user", "content": prompt}], json_schema=SCHEMA,
                                      max_tokens=80, temperature=0.2)
            report.model_calls += 1
            try:
                q = as_question(reply.json()["question"])
                why = grounded(q or "", span, s)
            except Exception:
                why = "unreadable reply"
            if why:  # the model's question is unusable: ask the sentence itself, with the answer blanked
                dropped[why] = dropped.get(why, 0) + 1
                items.append(cloze(page.title, s, span))
                continue
            items.append({"kind": "qa", "question": q, "answer": span, "support": s})
        # the page's own one-line description, without a concept page's "N sources: " and a cut-off tail
        summary = re.sub(r"^\d+ sources?: ", "", str(page.meta.get("description") or "")).strip().rstrip("…").strip()
        if summary and len(summary.split()) >= 6:
            items.append({"kind": "passage", "question": f"What does the knowledge base say about {page.title}?",
                          "answer": summary, "support": summary})
        return {"items": items, "dropped": dropped}

    def _write(self, items: list[dict], report: DataReport) -> None:
        seen, per_page, kept = set(), {}, []
        for it in items:
            key = normalise(it["question"])
            if key in seen:
                report.dropped["duplicate"] = report.dropped.get("duplicate", 0) + 1
                continue
            if per_page.get(it["page"], 0) >= self.settings.per_page + 1:
                continue
            seen.add(key)
            per_page[it["page"]] = per_page.get(it["page"], 0) + 1
            kept.append(it)
        report.kept = len(kept)
        val_pages = {p for p in per_page if int(hashlib.sha256(p.encode()).hexdigest(), 16) % self.settings.val_every == 0}
        if not val_pages and len(per_page) > 1:
            val_pages = {sorted(per_page)[0]}
        split = {"train": [it for it in kept if it["page"] not in val_pages],
                 "validation": [it for it in kept if it["page"] in val_pages]}
        for name, rows in split.items():
            path = out_dir(self.vault) / f"{name}.jsonl"
            atomic_write(path, "".join(json.dumps(row_of(it), ensure_ascii=False) + "\n" for it in rows))
            report.files[name] = str(path)
        report.train, report.validation = len(split["train"]), len(split["validation"])
        report.train_pages = len({it["page"] for it in split["train"]})
        report.validation_pages = len({it["page"] for it in split["validation"]})
        self._card(report)

    def _card(self, report: DataReport) -> None:
        today = date.today().isoformat()
        drops = ", ".join(f"{k}: {v}" for k, v in sorted(report.dropped.items())) or "none"
        lines = ["# Finetuning data", "", f"> Written by `kb finetune-data` on {today}.", "", "## Counts", "",
                 f"- Pages read: {report.pages} ({report.generated} asked about this run, {report.cached} from cache)",
                 f"- Pairs kept: {report.kept}; train {report.train} from {report.train_pages} pages, "
                 f"validation {report.validation} from {report.validation_pages} pages",
                 f"- Model questions not used (the sentence with its answer blanked was used instead), "
                 f"and items dropped: {drops}", "", "## How it was made", "",
                 "Code picks the sentences of each page with the most names and numbers, and in each the "
                 "answer (a number with its unit, or a name); the model writes a question with that answer; a "
                 "pair is kept only if it is a question about its sentence that does not contain its answer; "
                 "otherwise the sentence itself, with the answer blanked, is the question. Each page adds one "
                 "passage item (its description). "
                 "Questions are deduplicated, at most "
                 f"{self.settings.per_page + 1} items per page, and one page in {self.settings.val_every} "
                 "(by a hash of its path) goes to validation, so validation facts are never trained on.", "",
                 "## Files", "", *[f"- `{p}`" for p in report.files.values()], "",
                 "Each line is `{\"messages\": [system, user, assistant], \"page\", \"support\", \"kind\"}`: "
                 "`datasets.load_dataset(\"json\", data_files=...)` and TRL's SFTTrainer read it as is.", ""]
        meta = pages.frontmatter("report", "Finetuning data", tags=["finetune"],
                                 description=f"{report.train} train / {report.validation} validation pairs")
        catalog.write_page(self.vault, Page(f"{kinds.folder('report')}finetune-data.md", meta, "\n".join(lines)))
        catalog.write_index(self.vault)


def row_of(it: dict) -> dict:
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": it["question"]},
                         {"role": "assistant", "content": it["answer"]}],
            "page": it["page"], "support": it["support"], "kind": it["kind"], "answer": it["answer"]}
