"""`kb compile`: bring the wiki up to date with raw/, incrementally and crash-safely.

For each new or changed source (by content hash): extract text, have the model summarise it and
pick its concepts (agents/compiler.py), write its source page, rewrite the concept pages it
touches, then record it in the manifest. Removed sources lose their pages and their claims.
index.md and log.md follow. Unchanged sources cost no model call and, when their size and mtime
match the manifest, not even a hash.

Order of writes is what makes a crash harmless: model results are cached by hash first, pages are
written atomically next, the manifest last. A run killed anywhere leaves pages that the next run
either keeps (manifest says done) or rewrites (manifest does not), at no new model cost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.core import catalog, events, kinds, pages
from kb.core import concepts as C
from kb.core.grounding import Gate, Source
from kb.compile import parallel
from kb.compile.articles import Articles, Feed, evidence_for, read_cache, with_article
from kb.compile.lock import Lock
from kb.compile.registry import Registry, by_name, names, select
from kb.core.errors import KbError, PageError
from kb.core.extract import IMAGE_EXTS, MAX_SOURCE_MB, SourceError, extract, limit
from kb.core.manifest import Manifest
from kb.core.vault import Vault, atomic_write


@dataclass
class Settings:
    max_source_mb: float = MAX_SOURCE_MB
    chunk_chars: int = 6000
    max_concepts: int = 5
    jobs: int = 1  # model requests in flight at once, for an engine that serves them side by side


@dataclass
class Report:
    compiled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # asked to stop before reading these
    conflicts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # state kb found broken and rebuilt, one line each
    written: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    raw_tokens_est: int = 0
    engine_seconds: float = 0.0
    seconds: float = 0.0
    gate: dict = field(default_factory=lambda: {"kept": 0, "dropped": 0, "replaced": 0})

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Plan:
    new: list[str]
    changed: list[str]
    unchanged: list[str]
    removed: list[str]
    hashes: dict[str, str]

    @property
    def work(self) -> list[str]:
        return self.new + self.changed


class Compile:
    def __init__(self, vault: Vault, engine_factory: Callable[[], object] | None,
                 settings: Settings | None = None, on_progress: events.OnProgress | None = None):
        self.vault = vault
        self.engine_factory = engine_factory
        self.settings = settings or Settings()
        self.on_progress = _one_at_a_time(on_progress or events.ignore)  # threads report too
        self.manifest = Manifest.load(vault)
        self._compiler = None
        self._jobs = 1  # what this run uses: settings.jobs where the engine serves calls side by side
        self._locks = {"engine": threading.Lock(), "stats": threading.Lock()}
        self._digests: dict[str, threading.Lock] = {}  # one model read per content, however many copies
        self.gate = Gate()  # every model sentence this run wrote into a page, checked
        self._gates: dict[str, Gate] = {}  # per source page, as last written
        self.registry = Registry(self.manifest.concepts, lambda title: self._unique_path("concept", title))
        self._terms: dict[str, tuple[str, list]] = {}  # raw path -> (text, its terms), once per run
        self._texts: dict[str, tuple[str, Source]] = {}  # raw path -> (text, what the gate looks up)
        self._linked_at: dict[str, int] = {}  # raw path -> registry version its page was linked at
        self._article_calls: list = []  # stats of the model calls that wrote articles
        self._articles = Articles(vault, self._engine_compiler if engine_factory else None,
                                  on_calls=self._article_calls.append)

    # -- planning -----------------------------------------------------------------------------
    def plan(self) -> Plan:
        new, changed, unchanged, hashes = [], [], [], {}
        current = [p for p in self.vault.sources() if Path(p).suffix.lower() not in IMAGE_EXTS]
        for rel in current:
            entry = self.manifest.sources.get(rel)
            hashes[rel] = self.manifest.current_hash(self.vault, rel)
            if entry is None:
                new.append(rel)
            elif entry.get("hash") != hashes[rel] or entry.get("prompt_version") != _prompt_version() \
                    and not entry.get("error"):
                changed.append(rel)
            else:
                unchanged.append(rel)
        removed = sorted(set(self.manifest.sources) - set(current))
        return Plan(new, changed, unchanged, removed, hashes)

    # -- running ------------------------------------------------------------------------------
    def run(self, *, dry_run: bool = False, only: set[str] | None = None,
            stop: Callable[[], bool] | None = None) -> Report:
        """`only`: compile just these raw paths (the watcher's queue; the rest waits for its turn).
        `stop`: asked between sources; when it says yes, the sources read so far are written and
        the rest are left for the next run (`Report.skipped`)."""
        t0 = time.monotonic()
        report = Report()
        plan = self.plan()
        if only is not None:
            plan = Plan([p for p in plan.new if p in only], [p for p in plan.changed if p in only],
                        plan.unchanged, [p for p in plan.removed if p in only], plan.hashes)
        self.on_progress(events.Plan(plan.new, plan.changed, len(plan.unchanged), plan.removed))
        report.unchanged = plan.unchanged
        for rel in plan.unchanged:
            if self.manifest.sources[rel].get("error"):
                report.failed[rel] = self.manifest.sources[rel]["error"] + " (unchanged since)"
        if dry_run:
            report.compiled, report.removed = plan.work, plan.removed
            return report
        if self.manifest.problem:
            report.notes.append(self.manifest.problem)
        report.failed.update({p: why for p, why in self.vault.skipped.items() if p.startswith(kinds.RAW)})
        with Lock(self.vault):
            self._sweep_temp_files()
            if self.manifest.log:  # log lines a killed run saved in the manifest but never appended
                catalog.settle_log(self.vault, self.manifest)
            # each source: the model reads it (results cached by hash), its page is written at once;
            # with jobs > 1 sources are read ahead in threads and written here in plan order
            self._jobs = self._choose_jobs(plan.work, report)
            docs: dict[str, tuple] = {}
            total, i = len(plan.work), -1
            with parallel.InOrder(list(enumerate(plan.work)), lambda it: self._read(*it, plan, report),
                                  self._jobs, stop) as reading:
                for (i, rel), get in reading:
                    try:
                        docs[rel] = get()
                    except SourceError as e:
                        report.failed[rel] = str(e)
                        self._record_failure(rel, plan.hashes[rel], str(e))
                    except PageError as e:  # unreadable (a symlink loop): this source only
                        report.failed[rel] = str(e)
                    else:
                        # the manifest is saved here for every source but the batch's last, whose
                        # save comes with its concept pages (a kill between costs no model call)
                        try:
                            self._write_source(rel, plan.hashes[rel], *docs[rel], report, save=i < total - 1)
                            report.compiled.append(rel)
                        except PageError as e:  # a directory where its page goes, a read-only folder
                            report.failed[rel] = str(e) if rel in str(e) else f"{rel}: {e}"
                            docs.pop(rel)
                    self.on_progress(events.SourceDone(rel, i + 1, total, report.failed.get(rel)))
            report.skipped = plan.work[i + 1:]  # asked to stop: left for the next run
            for rel in plan.removed:
                self._remove(rel, report)
            # then the concept pages of every source still marked pending (this batch's, or those a
            # killed run left), after linking each to the concepts later sources introduced
            pending = self._finish_pending(docs, report)
            if self.manifest.log:  # lines queued with a save still to come
                self.manifest.save()
                catalog.settle_log(self.vault, self.manifest)
            if self.manifest.saved_log:  # all appended now: the manifest need not list them
                self.manifest.save()
            changed = bool(docs or plan.removed or pending)
            moved = self._wiki_fingerprint() != self._last_fingerprint()
            if changed or (moved and not catalog.index_is_current(self.vault)):
                written = catalog.write_index(self.vault)  # a person's index keeps their text
                (report.conflicts.append(written.message) if written.conflict else report.written.append("index.md"))
            if changed or moved:
                self._save_fingerprint()
            self._update_search(plan, report)
        for g in self._gates.values():
            self.gate.add(g)
        for st in self._article_calls:
            report.model_calls += st.calls
            report.prompt_tokens += st.prompt_tokens
            report.completion_tokens += st.completion_tokens
            report.engine_seconds += st.engine_seconds
        report.gate = self.gate.counts()
        if any(report.gate.values()):
            catalog.append_log(self.vault, "gate", "{kept} kept, {dropped} dropped, {replaced} replaced"
                               .format(**report.gate))
        report.seconds = time.monotonic() - t0
        self.on_progress(events.Done(report))
        return report

    def _update_search(self, plan: Plan, report: Report) -> None:
        """Keep the search index (if there is one) in step: only the files this run touched."""
        from kb.tools.search import SearchIndex
        index = SearchIndex(self.vault)
        if index.exists and (report.written or report.deleted or plan.work or plan.removed):
            index.sync(sorted(set(report.written + report.deleted + plan.work + plan.removed)))

    def _sweep_temp_files(self) -> None:
        """Temp files of atomic writes that a killed run never renamed."""
        for folder in (self.vault.root / "wiki", self.vault.state_dir, self.vault.root):
            pattern = ("**/" if folder != self.vault.root else "") + f".*{kinds.TEMP_SUFFIX}"
            for tmp in folder.glob(pattern):
                tmp.unlink(missing_ok=True)

    def _engine_compiler(self):
        with self._locks["engine"]:  # the first reads of a parallel run ask for it at once
            if self._compiler is None:
                from kb.agents.compiler import SourceCompiler
                engine = self.engine_factory()
                self._compiler = SourceCompiler(engine, chunk_chars=self.settings.chunk_chars,
                                                max_concepts=self.settings.max_concepts,
                                                on_reply=lambda r: self.on_progress(events.Tokens(
                                                    r.usage.prompt_tokens, r.usage.completion_tokens,
                                                    r.timings.total_s)))
            return self._compiler

    def _choose_jobs(self, work: list[str], report: Report) -> int:
        """`settings.jobs` when the engine serves calls side by side (it says so: `concurrent`, as
        the OpenAI-compatible backend does), else 1 with a note saying why. Asking means building
        the engine now rather than at the first cache miss, so it is asked only when it matters."""
        jobs = max(1, self.settings.jobs)
        if jobs == 1 or len(work) < 2 or self.engine_factory is None:
            return 1
        try:
            engine = self._engine_compiler().engine
        except KbError:  # no engine to ask (no model): the first read that needs one says why
            return 1
        if getattr(engine, "concurrent", False):
            return jobs
        name = getattr(engine, "name", type(engine).__name__)
        report.notes.append(f"jobs = {jobs} asked, but the {name} engine answers one request at a time "
                            "(a server, engine = \"openai\", takes several): compiled one source at a time")
        return 1

    def _read(self, i: int, rel: str, plan: Plan, report: Report) -> tuple:
        """One source read: its text, and the model's results for it (in a thread when jobs > 1)."""
        self.on_progress(events.SourceStart(rel, i, len(plan.work)))
        doc = extract(self.vault.abspath(rel), rel, max_bytes=limit(self.settings.max_source_mb))
        data = self._analyse(rel, plan.hashes[rel], doc, report)
        self._source(rel, doc.text)  # here rather than in the writer, which waits for nobody
        return doc, data

    def _analyse(self, rel: str, digest: str, doc, report: Report) -> dict:
        """Model results, cached by content hash before any page is written. Two copies of one
        text read side by side wait for each other: the second finds the first's cache."""
        cache = self.vault.state_dir / "cache" / f"{digest[:32]}-v{_prompt_version()}.json"
        with self._digests.setdefault(digest, threading.Lock()):
            if (hit := read_cache(cache)) is not None:
                return hit
            cands = [t.name for t in self._source_terms(rel, doc.text)]
            analysis = self._engine_compiler().analyse(doc.title, doc.text, cands[:40])
            data = analysis.as_dict()
            with self._locks["stats"]:
                report.model_calls += analysis.calls
                report.prompt_tokens += analysis.prompt_tokens
                report.completion_tokens += analysis.completion_tokens
                report.engine_seconds += analysis.engine_seconds
                report.raw_tokens_est += len(doc.text) // 4
            atomic_write(cache, json.dumps(data, ensure_ascii=False))
            return data

    def _finish_pending(self, docs: dict[str, tuple], report: Report) -> list[str]:
        """Relink the pending sources (a source is linked to every concept the wiki knows that it
        clearly discusses, whichever source came first), write the concept pages they touch, and
        only then clear their mark: a kill before that leaves them pending for the next run."""
        pending = sorted(r for r, e in self.manifest.sources.items() if "pending" in e)
        for rel in pending:
            entry = self.manifest.sources[rel]
            if self._linked_at.get(rel) == self.registry.version:
                continue  # no concept or name came after it: its links stand
            got = docs.get(rel) or self._reload(rel, entry, report)
            if got:
                self._write_source(rel, entry["hash"], *got, report, first=False)
        keys = sorted({k for r in pending for k in self.manifest.sources[r]["pending"]})
        if self._jobs > 1:  # their articles drafted side by side first; the pages are written in turn
            feeds = [f for f in map(self._concept_feeds, keys) if f]
            parallel.each(lambda f: self._articles.draft(*f), feeds, self._jobs)
        for key in keys:
            self._write_concept(key, report)
        for rel in pending:
            del self.manifest.sources[rel]["pending"]
        if pending:
            self.manifest.save()
            catalog.settle_log(self.vault, self.manifest)  # the lines queued with that save
        return pending

    def _reload(self, rel: str, entry: dict, report: Report) -> tuple | None:
        """A pending source from a killed run: text again, model results from the cache."""
        try:
            doc = extract(self.vault.abspath(rel), rel, max_bytes=limit(self.settings.max_source_mb))
            return doc, self._analyse(rel, entry["hash"], doc, report)
        except (SourceError, OSError):
            return None

    def _source(self, rel: str, text: str) -> Source:
        """The gate's view of a source, built once per run (its page may be written twice)."""
        if self._texts.get(rel, ("",))[0] is not text:
            self._texts[rel] = (text, Source.of(text))
        return self._texts[rel][1]

    def _source_terms(self, rel: str, text: str) -> list:
        if self._terms.get(rel, ("",))[0] is not text:
            self._terms[rel] = (text, select(text))
        return self._terms[rel][1]

    def _write_source(self, rel: str, digest: str, doc, data: dict, report: Report, *, first: bool = True,
                      save: bool = True) -> None:
        """The source page and its manifest entry, marked pending until its concept pages are
        written. `first=False` (the relink pass) writes only when its concept links changed."""
        old = self.manifest.sources.get(rel, {})
        page_path = old.get("page") or self._unique_path("source", doc.title)
        gate = Gate()
        src = self._source(rel, doc.text)
        terms = by_name(self._source_terms(rel, doc.text))
        contributed: dict[str, dict] = {}
        for c in data["concepts"]:  # the model's picks, with its claims
            name, aliases, extra = names(c["name"], terms)
            key = self.registry.key(name, aliases)
            if not key or key in contributed:
                continue
            reg = self.registry.register(key, name, aliases, extra)
            claim = gate.sentence(c["claim"], src, replace=False) or "" if c["claim"] else ""
            contributed[key] = {"claim": claim, "name": name,
                                "quote": C.quote_for(reg["title"], reg["aliases"], doc.text),
                                "evidence": evidence_for([reg["title"], *reg["aliases"]], src.sentences)}
        known = {k: (c["title"], list(c["aliases"])) for k, c in self.manifest.concepts.items()}
        for key, (name, aliases) in sorted(known.items()):  # concepts it clearly discusses too
            if len(contributed) >= self.settings.max_concepts + 3:
                break
            if key not in contributed and C.mentions(name, aliases, doc.text) >= 2:
                reg = self.registry.register(key, name, aliases)
                contributed[key] = {"claim": "", "name": name,
                                    "quote": C.quote_for(reg["title"], reg["aliases"], doc.text),
                                    "evidence": evidence_for([reg["title"], *reg["aliases"]], src.sentences)}
        if not first and contributed == old.get("concepts"):
            return
        images = [f"{kinds.ASSETS}{Path(i).name}" for i in doc.images
                  if (self.vault.root / kinds.ASSETS / Path(i).name).exists()]
        existing = self._existing(page_path)
        summary = gate.paragraph(data["summary"], src) or _lead(src)
        points = [p for p in (gate.sentence(k, src) for k in data["key_points"]) if p and p not in summary]
        page = pages.source_page(
            page_path, title=doc.title, raw=rel, raw_hash=digest, meta=doc.meta, summary=summary,
            key_points=list(dict.fromkeys(points)), figures=C.figures(doc.text),
            concepts=[(self.manifest.concepts[k]["page"], self.manifest.concepts[k]["title"], v["claim"])
                      for k, v in contributed.items()],
            created=existing.meta.get("created") if existing else None, images=images)
        self._write(page, report)
        self._gates[rel] = gate
        touched = set(contributed) | set(old.get("concepts", {})) | set(old.get("pending", [])) | self.registry.retouch
        self.registry.retouch = set()
        st = self.vault.abspath(rel).stat()
        self.manifest.sources[rel] = {"hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                      "title": doc.title, "page": page_path, "concepts": contributed,
                                      "prompt_version": _prompt_version(), "compiled": pages._today(),
                                      "pending": sorted(touched)}
        self._linked_at[rel] = self.registry.version
        if first:  # the line is saved with the manifest, then appended: a kill between loses nothing
            catalog.log_later(self.vault, self.manifest, "ingest" if not old or old.get("error")
                              and not old.get("page") else "update", doc.title)
        if save:
            self.manifest.save()  # after the page it describes is on disk
            catalog.settle_log(self.vault, self.manifest)

    def _record_failure(self, rel: str, digest: str, error: str) -> None:
        old = self.manifest.sources.get(rel, {})
        st = self.vault.abspath(rel).stat()
        # keep what an earlier good version produced; remember the failure so it is not retried
        self.manifest.sources[rel] = {**old, "hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
                                      "error": error, "concepts": old.get("concepts", {}),
                                      "prompt_version": _prompt_version()}
        self.manifest.save()

    def _remove(self, rel: str, report: Report) -> None:
        entry = self.manifest.sources.pop(rel)
        page = entry.get("page")
        if page:
            self._delete(page, report)
        for key in sorted(set(entry.get("concepts", {})) | set(entry.get("pending", []))):
            self._write_concept(key, report)
        catalog.log_later(self.vault, self.manifest, "remove", entry.get("title") or rel)
        self.manifest.save()
        report.removed.append(rel)
        catalog.settle_log(self.vault, self.manifest)

    # -- concepts -----------------------------------------------------------------------------
    def _write_concept(self, key: str, report: Report) -> None:
        reg = self.manifest.concepts.get(key)
        if reg is None:
            return
        claims = self.manifest.claims(key)
        if not claims:
            self._delete(reg["page"], report)
            del self.manifest.concepts[key]
            return
        rows = []
        for raw, claim in claims:
            src = self.manifest.sources[raw]
            rows.append((src["page"], src.get("title") or raw, claim.get("claim", ""), claim.get("quote")))
        co: dict[str, int] = {}
        for raw, _ in claims:
            for other in self.manifest.sources[raw].get("concepts", {}):
                if other != key and other in self.manifest.concepts:
                    co[other] = co.get(other, 0) + 1
        related = [(self.manifest.concepts[k]["page"], self.manifest.concepts[k]["title"])
                   for k, _ in sorted(co.items(), key=lambda kv: (-kv[1], kv[0]))[:6]]
        existing = self._existing(reg["page"])
        page = pages.concept_page(reg["page"], title=reg["title"], aliases=self.registry.aliases(key), claims=rows,
                                  related=related, created=existing.meta.get("created") if existing else None)
        title, feeds = self._concept_feeds(key)
        gate = self._gates[f"concept:{key}"] = Gate()
        self._write(with_article(page, title, self._articles.sentences(title, feeds, gate)), report)

    def _concept_feeds(self, key: str) -> tuple[str, list[Feed]] | None:
        """What the concept's article is written from: its title and each source's evidence."""
        reg = self.manifest.concepts.get(key)
        claims = self.manifest.claims(key) if reg else []
        if not claims:
            return None
        return reg["title"], [Feed(self.manifest.sources[raw]["page"], self.manifest.sources[raw].get("title") or raw,
                                   claim.get("evidence") or [q for q in [claim.get("quote"), claim.get("claim")] if q][:1])
                              for raw, claim in claims]

    # -- writing ------------------------------------------------------------------------------
    def _unique_path(self, kind: str, title: str) -> str:
        taken = {e.get("page", "").lower() for e in self.manifest.sources.values()}
        taken |= {c["page"].lower() for c in self.manifest.concepts.values()}
        base, folder = pages.safe_name(title), kinds.folder(kind)
        path, n = f"{folder}{base}.md", 2
        while path.lower() in taken or self._foreign(path):
            path, n = f"{folder}{base} ({n}).md", n + 1
        return path

    def _foreign(self, path: str) -> bool:
        """A file kb did not write sits there. A page kb wrote but never recorded (a crash before
        the manifest was saved) is kb's own and is reused."""
        if not self.vault.abspath(path).exists():
            return False
        page = self._existing(path)
        return page is None or page.state == "foreign"

    def _existing(self, path: str):
        try:
            return self.vault.read(path)
        except PageError:
            return None

    def _write(self, page, report: Report) -> None:
        written = catalog.write_page(self.vault, page)  # a person's edit wins; kb's goes beside it
        if written.conflict:
            report.conflicts.append(written.message)
        else:
            report.written.append(page.path)

    def _delete(self, path: str, report: Report) -> None:
        existing = self._existing(path)
        if existing is None:
            return
        if existing.state != "kb":
            report.conflicts.append(f"{path} was edited by hand; its source is gone but the page is kept")
            return
        self.vault.abspath(path).unlink()
        report.deleted.append(path)

    def _wiki_fingerprint(self) -> str:
        """Names, sizes and mtimes of the wiki pages and index: if none moved, the index that was
        current last time still is, and proving it needs only stats, not parsing every page."""
        import hashlib
        h = hashlib.sha256()
        for rel in ["index.md", *self.vault.wiki_pages()]:
            try:  # listed by walking the vault: inside it by construction, no need to resolve
                st = os.stat(self.vault.root / self.vault.on_disk(rel))
            except FileNotFoundError:
                continue
            h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def _last_fingerprint(self) -> str | None:
        try:
            return (self.vault.state_dir / "index.fingerprint").read_text().strip()
        except OSError:
            return None

    def _save_fingerprint(self) -> None:
        atomic_write(self.vault.state_dir / "index.fingerprint", self._wiki_fingerprint())


def _one_at_a_time(on_progress: events.OnProgress) -> events.OnProgress:
    """Reads in threads report too (SourceStart, Tokens): a front end still gets one event at a
    time, so its counters need no lock of their own (reentrant, so a handler that reports an
    event itself does not wait on its own lock)."""
    lock = threading.RLock()

    def report(event: events.Event) -> None:
        with lock:
            on_progress(event)
    return report


def _lead(src: Source) -> str:
    """When no model sentence survives the gate, the source's own opening sentences summarise it."""
    return " ".join(src.sentences[:3]) or " ".join(src.text.split())[:400]


def _prompt_version() -> int:
    from kb.agents.compiler import PROMPT_VERSION
    return PROMPT_VERSION
