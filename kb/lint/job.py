"""`kb lint`: run the checks, repair what is safe (`--fix`), write the report page.

Structural checks are code (kb/lint/checks.py). Model checks (contradictions, unsupported claims,
gaps, candidate articles, questions) are found as candidates by code and judged by the RLM agent
(agents/linter.py), so a small model only ever answers narrow questions about quoted text.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date
from typing import Callable

from kb.core import catalog, events, kinds, markdown, pages
from kb.core.errors import KbError
from kb.lint import checks as LC
from kb.lint.checks import Finding, Snapshot
from kb.core.vault import Page, Vault, atomic_write

SEVERITIES = ("error", "warning", "suggestion")


@dataclass
class LintSettings:
    model_checks: bool = True
    max_contradictions: int = 8
    max_claims: int = 6
    max_gap_pages: int = 4


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    report_page: str | None = None
    seconds: float = 0.0
    model: dict = field(default_factory=dict)  # sub-calls, tokens, trace id of the model checks
    pages: int = 0

    def count(self, severity: str) -> int:
        return sum(f.severity == severity for f in self.findings)

    @property
    def errors(self) -> int:
        return self.count("error")

    def as_dict(self) -> dict:
        return {"pages": self.pages, "errors": self.errors, "warnings": self.count("warning"),
                "suggestions": self.count("suggestion"), "fixed": self.fixed, "report": self.report_page,
                "seconds": round(self.seconds, 3), "model": self.model,
                "findings": [f.as_dict() for f in self.findings]}


class Lint:
    def __init__(self, vault: Vault, engine_factory: Callable[[], object] | None = None,
                 settings: LintSettings | None = None, on_progress: events.OnProgress | None = None):
        self.vault = vault
        self.engine_factory = engine_factory
        self.settings = settings or LintSettings()
        self.on_progress = on_progress or events.ignore

    def run(self, *, fix: bool = False, write_report: bool = True) -> LintReport:
        t0 = time.monotonic()
        report = LintReport()
        snap = Snapshot.load(self.vault)
        findings = self.structural(snap)
        if fix and any(f.fixable for f in findings):
            report.fixed = self.fix(snap, findings)
            snap = Snapshot.load(self.vault)
            findings = self.structural(snap)
        if self.settings.model_checks and self.engine_factory is not None:
            self.on_progress(events.Stage("model checks"))
            extra, report.model = self.model_checks(snap, LC.raw_texts(self.vault, snap.files))
            findings += extra
        report.findings = sorted(findings, key=lambda f: (SEVERITIES.index(f.severity), f.check, f.pages))
        report.pages = len(snap.parsed)
        report.seconds = time.monotonic() - t0
        if write_report:
            report.report_page = self.write_report(report)
        if report.fixed or report.report_page:
            self._update_search()
        return report

    def _update_search(self) -> None:
        """Keep the search index (if there is one) in step with the stubs, relinked pages and
        report just written; a look at every file's stamp, small beside lint's own read."""
        from kb.tools.search import SearchIndex
        index = SearchIndex(self.vault)
        if index.exists:
            index.sync()

    def model_checks(self, snap: Snapshot, raw: dict[str, str]) -> tuple[list[Finding], dict]:
        """The agent's checks as lint findings (the agent has types of its own), and its run's cost."""
        from kb.agents.linter import Wiki, model_checks
        from kb.tools.repl import index_search
        checked = [p for p in snap.wiki() if p in snap.pages]
        links = {rel: {r.target for r in rs if r.target} for rel, rs in snap.graph.outlinks.items()}
        s = self.settings
        # on_progress carries lint's progress only; the agent's steps go to its trace file
        found, info = model_checks(
            Wiki(snap.pages, checked, links, raw), self.engine_factory(), index_search(self.vault),
            max_contradictions=s.max_contradictions, max_claims=s.max_claims, max_gap_pages=s.max_gap_pages,
            trace_dir=self.vault.state_dir / "traces")
        return [Finding(f.check, f.severity, f.message, f.pages, quotes=f.quotes) for f in found], info

    def structural(self, snap: Snapshot) -> list[Finding]:
        findings: list[Finding] = []
        for check in LC.STRUCTURAL:
            self.on_progress(events.Stage(check.__name__[6:]))
            findings += check(snap)
        return findings + LC.check_duplicates(snap)

    # -- fixing -----------------------------------------------------------------------------
    def fix(self, snap: Snapshot, findings: list[Finding]) -> list[str]:
        """Repairs that need no judgement; each returns a line for the report."""
        done: list[str] = []
        edits: dict[str, list[tuple[str, str | None]]] = {}  # page -> (linkpath, new target or None)
        for f in findings:
            if f.check == "dangling-source-link":
                edits.setdefault(f.pages[0], []).append((f.data["target"], None))
            elif f.check == "alias-link":
                edits.setdefault(f.pages[0], []).append((f.data["target"], f.data["page"]))
        for rel, changes in sorted(edits.items()):
            n = self._relink(rel, changes)
            if n:
                done.append(f"{rel}: {n} link{'s' if n != 1 else ''} repaired")
        for f in findings:
            if f.check == "missing-concept":
                made = self._stub(f.data["target"], f.pages)
                if made:
                    done.append(f"{made}: stub page created for a concept linked from {len(f.pages)} pages")
        if done or any(f.check == "index-stale" for f in findings):
            written = catalog.write_index(self.vault)
            done.append(written.message if written.conflict else "index.md rebuilt")
        if done:
            catalog.append_log(self.vault, "lint --fix", f"{len(done)} repairs")
        return done

    def _relink(self, rel: str, changes: list[tuple[str, str | None]]) -> int:
        """Rewrite links in one page: to a removed source -> its plain text; by alias -> by path.
        A page kb owns is re-stamped; a person's page keeps its state (only the links change)."""
        path = self.vault.abspath(rel)
        text = path.read_text(encoding="utf-8")
        count = 0
        for target, new in changes:
            pat = markdown.wikilink_re(target)

            def sub(m: re.Match, new=new, target=target) -> str:
                label = m["alias"] or target.rsplit("/", 1)[-1]
                if new is None:
                    return label
                dest = new[:-3] if new.endswith(".md") else new
                return f"{m['embed']}[[{dest}{m['subpath']}|{label}]]"

            text, n = pat.subn(sub, text)
            count += n
        if not count:
            return 0
        page = self.vault.read(rel)
        if page.state == "kb":
            meta, body = markdown.split_frontmatter(text, where=rel)
            self.vault.write(Page(rel, meta, body), force=True)
        else:
            atomic_write(path, text)
        return count

    def _stub(self, target: str, linking: list[str]) -> str | None:
        name = target.rsplit("/", 1)[-1]
        if pages.safe_name(name) != name or "/" in target:
            return None  # a file by that name would not resolve the links as written
        rel = f"{kinds.folder('concept')}{name}.md"
        if self.vault.abspath(rel).exists():
            return None
        lines = [f"# {name}", "", "A stub: several pages link to this concept, but no source has been "
                 "compiled into it yet.", "", "## Mentioned in", ""]
        lines += [f"- {pages.link(p, self._title(p))}" for p in linking] + [""]
        meta = pages.frontmatter("concept", name, tags=["stub"], description=f"Stub: linked from {len(linking)} pages")
        self.vault.write(Page(rel, meta, "\n".join(lines)))
        return rel

    def _title(self, rel: str) -> str:
        try:
            return self.vault.read(rel).title
        except KbError:
            return rel.rsplit("/", 1)[-1][:-3]

    # -- the report page ----------------------------------------------------------------------
    def write_report(self, report: LintReport) -> str:
        from kb.lint.report import report_page
        index_was_current = catalog.index_is_current(self.vault)
        page = report_page(f"{kinds.folder('report')}lint-{date.today().isoformat()}.md", report)
        path = catalog.write_page(self.vault, page).path  # beside it, if a person edited the report
        if index_was_current:  # list the report; a stale index is a finding, repaired by --fix only
            catalog.write_index(self.vault)
        catalog.append_log(self.vault, "lint", f"{report.errors} errors, {report.count('warning')} warnings")
        return path
