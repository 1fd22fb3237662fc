"""How a lint run reads: the report page filed in `wiki/reports/`, and the terminal summary."""

from __future__ import annotations

from collections import Counter
from datetime import date

from kb.core import pages
from kb.core.text import plain
from kb.core.vault import Page

HEADINGS = (("error", "Errors"), ("warning", "Warnings"), ("suggestion", "Suggestions"))


def _link(path: str) -> str:
    return pages.link(path, path.rsplit("/", 1)[-1].removesuffix(".md"))


def _quote(text: str, limit: int = 300) -> str:
    text = " ".join(plain(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def report_page(path: str, report) -> Page:
    today = date.today().isoformat()
    counts = {s: report.count(s) for s, _ in HEADINGS}
    line = f"{counts['error']} errors, {counts['warning']} warnings, {counts['suggestion']} suggestions"
    head = f"{report.pages} pages checked in {report.seconds:.1f} s · {line}"
    if report.model:
        head += (f" · model checks: {report.model.get('model', '')}, {report.model.get('sub_calls', 0)} "
                 f"sub-calls, trace `{report.model.get('trace_id', '')}`")
    lines = [f"# Lint report {today}", "", "> " + head, "", "## Summary", ""]
    by_check = Counter((f.severity, f.check) for f in report.findings)
    if by_check:
        lines += ["| Check | Severity | Found |", "|---|---|---|"]
        lines += [f"| {c} | {s} | {n} |" for (s, c), n in sorted(by_check.items(),
                  key=lambda kv: ([h for h, _ in HEADINGS].index(kv[0][0]), kv[0][1]))]
    else:
        lines.append("The wiki is healthy: no findings.")
    lines.append("")
    for severity, heading in HEADINGS:
        group = [f for f in report.findings if f.severity == severity]
        lines += [f"## {heading} ({len(group)})", ""]
        if not group:
            lines += ["None.", ""]
            continue
        for f in group:
            involved = ", ".join(_link(p) for p in dict.fromkeys(f.pages))
            lines.append(f"- **{f.check}**: {_quote(f.message, 400)}" + (f" ({involved})" if involved else ""))
            for qpath, text in f.quotes:
                lines.append(f"  > “{_quote(text)}” — {_link(qpath)}")
        lines.append("")
    if report.fixed:
        lines += ["## Repaired by --fix", ""] + [f"- {_quote(x)}" for x in report.fixed] + [""]
    fixable = [f for f in report.findings if f.fixable]
    if fixable:
        lines += ["## Next", "", f"{len(fixable)} of these can be repaired without judgement: run "
                  "`kb lint --fix`.", ""]
    return Page(path, pages.frontmatter("report", f"Lint report {today}", tags=["lint"], description=line),
                "\n".join(lines))


def summary_lines(report, limit: int = 40) -> list[str]:
    """The terminal view: one line per finding (the first `limit`), then the health line."""
    out = []
    marks = {"error": "E", "warning": "W", "suggestion": "S"}
    for f in report.findings[:limit]:
        out.append(f"{marks[f.severity]} {f.check:<22} {_quote(f.message, 160)}")
    if len(report.findings) > limit:
        out.append(f"  ... {len(report.findings) - limit} more in the report")
    for x in report.fixed:
        out.append(f"fixed: {x}")
    health = "healthy" if not report.errors else "needs attention"
    out.append(f"{report.pages} pages: {report.errors} errors, {report.count('warning')} warnings, "
               f"{report.count('suggestion')} suggestions ({health}) in {report.seconds:.1f} s")
    if report.report_page:
        out.append(f"report: {report.report_page}")
    return out
