"""Hostile sources, by property: whatever names, titles and frontmatter a source arrives with
(newlines, brackets, pipes, hashes, RTL and emoji, NFC/NFD, 300 characters, path separators,
`..`), a compile with the scripted engine leaves a wiki whose links all resolve, a log with one
line per compiled source, nothing outside wiki/, no raw HTML, and raw/ as it was. And a compile
killed at 100 random points (model calls, writes, log appends) is made whole by the next run."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import kb.compile.job
import kb.core.catalog
import kb.core.manifest
import kb.core.vault
from kb.compile.job import Compile
from kb.core import catalog
from kb.core.manifest import Manifest
from kb.core.vault import LOG_MD, Vault
from fakes import CompileFake

HOSTILE = "[]|#^\n\r\t/\\:*?\"<>`!..%&;=~ aé\u0301\u05d0\u05d1\u202e\u200f😀👩‍🔬ﬁ\u00a0x"
pieces = st.sampled_from(["[[", "]]", "|", "#", "^", "\n", "../", "..", "/", "<script>alert(1)</script>",
                          "<img src=x onerror=y>", "![](a.png)", "![[b.png]]", "[[Other note]]", "## [2020-01-01] ingest | x",
                          "e\u0301", "\u00e9", "\u202eevil", "😀", "x" * 300, "---", "> quote", "- item", " "])
hostile_text = st.lists(st.one_of(pieces, st.text(alphabet=HOSTILE, max_size=12)), min_size=1, max_size=6).map("".join)


def filename_of(text: str) -> str:
    """A name the file system takes: no `/` or NUL, at most 240 bytes, not `.`/`..`, not hidden."""
    name = text.replace("/", "\u2215").replace("\x00", "")
    while len(name.encode("utf-8")) > 236:
        name = name[:-1]
    return ("n" + name if name.startswith(".") or not name else name) + ".md"


def source_text(title: str, author: str, url: str, body: str) -> str:
    fm = {"title": title, "author": author, "url": url}  # JSON strings are YAML strings
    head = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fm.items())
    return (f"---\n{head}\n---\n# {body.splitlines()[0] if body.strip() else 'Heading'}\n\n"
            f"Compost turns kitchen scraps into soil. {body}\n\n"
            "Bacteria break down the scraps. The pile heats to sixty degrees.\n")


WIKILINK = re.compile(r"!?\[\[([^\[\]]*?)\]\]")


def independent_link_check(vault: Path) -> list[str]:
    """Every `[[...]]` in what kb wrote names a file by its vault path (`.md` optional); counted
    against the raw `[[` so a link the regex cannot parse is a failure too."""
    bad = []
    on_disk = {unicodedata.normalize("NFC", str(p.relative_to(vault))) for p in vault.rglob("*") if p.is_file()}
    for f in [vault / "index.md", *(vault / "wiki").rglob("*.md")]:
        body = f.read_text(encoding="utf-8")
        if body.startswith("---\n"):
            body = body.split("\n---\n", 1)[1]
        links = WIKILINK.findall(body)
        if body.count("[[") != len(links) or body.count("]]") != len(links):
            bad.append(f"{f.name}: unbalanced brackets")
        for inner in links:
            target = unicodedata.normalize("NFC", inner.split("|", 1)[0].split("#", 1)[0])
            if target not in on_disk and target + ".md" not in on_disk:  # names compare NFC, as in Obsidian
                bad.append(f"{f.name}: [[{inner}]]")
    return bad


LOG_ENTRY = re.compile(r"^## \[\d{4}-\d\d-\d\d\] (ingest|update|remove|gate) \| [^\n\[\]|#^]+$")


def log_entries(vault: Path) -> list[str]:
    text = (vault / "log.md").read_text(encoding="utf-8")
    assert text.startswith(LOG_MD)
    lines = [ln for ln in text[len(LOG_MD):].split("\n") if ln.strip()]
    assert all(LOG_ENTRY.match(ln) for ln in lines), lines  # no line kb did not write
    return lines


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def new_vault(tmp: Path) -> Vault:
    vault, _ = Vault.init(tmp, "")
    return vault


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck),
          phases=[Phase.explicit, Phase.reuse, Phase.generate])  # no shrinking: a failure prints its input
@given(docs=st.lists(st.tuples(hostile_text, hostile_text, hostile_text, hostile_text, hostile_text),
                     min_size=1, max_size=3),
       twin=st.booleans())
def test_hostile_names_titles_and_frontmatter_make_a_sound_wiki(tmp_path_factory, docs, twin):
    root = tmp_path_factory.mktemp("v")
    vault = new_vault(root)
    names = []
    for i, (name, title, author, url, body) in enumerate(docs):
        fname = filename_of(f"{i}{name}")
        if unicodedata.normalize("NFC", fname) in {unicodedata.normalize("NFC", n) for n in names}:
            continue
        names.append(fname)
        (root / "raw" / fname).write_text(source_text(title, author, url, body), encoding="utf-8")
    if twin:  # the same name in its other Unicode form: a conflict, reported by name
        nfd = unicodedata.normalize("NFD", "9 café.md")
        (root / "raw" / unicodedata.normalize("NFC", nfd)).write_text(source_text("A", "", "", "one"))
        (root / "raw" / nfd).write_text(source_text("B", "", "", "two"))
    before = snapshot(root / "raw")
    outside = {p for p in snapshot(root) if not p.startswith(("raw/", "wiki/", ".kb/"))}
    report = Compile(Vault.open(root), lambda: CompileFake()).run()

    expected = len(names) + (1 if twin else 0)
    assert len(report.compiled) == expected, report.failed
    if twin:
        twins = [p for p in report.failed if "NFC/NFD" in report.failed[p]]
        assert len(twins) == 1 and unicodedata.normalize("NFC", twins[0]) == "raw/9 café.md", twins
    assert snapshot(root / "raw") == before  # raw/ untouched
    # nothing written outside wiki/ but the two catalogues (and kb's own state)
    assert {p for p in snapshot(root) if not p.startswith(("raw/", "wiki/", ".kb/"))} - outside <= {"index.md", "log.md"}
    # every link kb wrote resolves, by kb's resolver and by an independent check
    assert [f"{r.source}: {r.link.target}" for r in Vault.open(root).graph().broken] == []
    assert independent_link_check(root) == []
    # the log: one entry per compiled source, and nothing a title forged
    lines = log_entries(root)
    assert len([ln for ln in lines if "] ingest | " in ln]) == expected
    # no raw HTML from a source in any page's markdown (frontmatter is YAML data, never rendered)
    for f in [root / "index.md", *(root / "wiki").rglob("*.md")]:
        text = Vault.open(root).read(str(f.relative_to(root))).body
        assert not re.search(r"<(script|img|/script)\b", text, re.I), f
        assert ".." not in Path(str(f.relative_to(root))).parts
    # and the original title is kept where YAML quotes it
    titles = {Vault.open(root).read(e["page"]).meta["title"] for e in Manifest.load(Vault.open(root)).sources.values()}
    assert len(titles) >= 1


# -- killed anywhere -------------------------------------------------------------------------

DOCS = {
    "compost.md": "# Compost\n\nCompost turns kitchen scraps into soil. Bacteria break down the scraps.\n",
    "bread [[x]] #1.md": "---\ntitle: \"Bread\\n## [2020-01-01] ingest | forged\"\n---\n"
                         "Sourdough bread rises with a starter. The starter holds wild yeast and bacteria.\n",
    "yeast.md": "# Yeast\n\nYeast ferments sugar into gas. Bread rises when yeast ferments.\n",
}


class Killed(BaseException):
    pass


def _crash_run(root: Path, kill_at: int) -> int:
    """In a forked child: compile, SIGKILLed at event `kill_at` (a model call, an atomic write
    half done, a log append before it happens). Returns the number of events a full run has."""
    count = [0]
    real_write, real_append = kb.core.vault.atomic_write, kb.core.catalog._append

    def tick():
        count[0] += 1
        if count[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    def write(path, text):
        count[0] += 1
        if count[0] == kill_at:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            (Path(path).parent / f".{Path(path).name[:40]}.crash.kb-tmp").write_text(text[: len(text) // 2])
            os.kill(os.getpid(), signal.SIGKILL)
        real_write(path, text)

    def append(vault, text):
        tick()
        real_append(vault, text)

    class Engine(CompileFake):
        def chat(self, *a, **k):
            tick()
            return super().chat(*a, **k)

    for mod in (kb.core.vault, kb.compile.job, kb.core.manifest, kb.core.catalog):
        mod.atomic_write = write
    kb.core.catalog._append = append
    Compile(Vault.open(root), lambda: Engine()).run()
    return count[0]


def _forked(root: Path, kill_at: int) -> int:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(r)
            n = _crash_run(root, kill_at)
            os.write(w, str(n).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 64).decode()
    os.close(r)
    _, status = os.waitpid(pid, 0)
    return int(out) if out else -os.WTERMSIG(status)


def test_killed_at_100_random_points_the_next_run_makes_it_whole(tmp_path):
    template = tmp_path / "template"
    new_vault(template)
    for name, text in DOCS.items():
        (template / "raw" / name).write_text(text, encoding="utf-8")
    events = _forked(shutil.copytree(template, tmp_path / "count"), 0)
    assert events > 20
    rng = random.Random(14)
    for n, kill_at in enumerate(sorted(rng.choices(range(1, events + 1), k=100))):
        root = shutil.copytree(template, tmp_path / f"k{n}")
        raw = snapshot(root / "raw")
        assert _forked(root, kill_at) == -signal.SIGKILL, kill_at
        engine = CompileFake()
        report = Compile(Vault.open(root), lambda: engine).run()
        assert not report.failed, (kill_at, report.failed)
        vault = Vault.open(root)
        m = Manifest.load(vault)
        # one page per source, each the manifest's, nothing pending
        assert sorted(m.sources) == sorted(f"raw/{d}" for d in DOCS), kill_at
        assert len(vault.notes("wiki/sources")) == len(DOCS), (kill_at, vault.notes("wiki/sources"))
        assert all((root / e["page"]).is_file() and "pending" not in e for e in m.sources.values()), kill_at
        assert not m.log and not m.problem, kill_at
        assert not list(root.rglob("*.kb-tmp")), kill_at
        # the index lists every page; the log has each source exactly once
        assert catalog.index_is_current(vault), kill_at
        lines = log_entries(root)
        assert len([ln for ln in lines if "] ingest | " in ln]) == len(DOCS), (kill_at, lines)
        assert [f"{r.source}: {r.link.target}" for r in vault.graph().broken] == [], kill_at
        assert snapshot(root / "raw") == raw
        # and nothing is left to do
        again = CompileFake()
        report = Compile(Vault.open(root), lambda: again).run()
        assert again.calls == [] and not report.compiled and not report.written, kill_at
        shutil.rmtree(root)
