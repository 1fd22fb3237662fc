"""Compile: incremental, crash-safe, careful with people's edits, robust to bad sources.
These use a fake engine at the interface (kb's logic, not the model's); test_compile_e2e.py
runs the real model."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import unicodedata

import pytest

from kb.compile.job import Compile
from kb.core.manifest import Manifest
from kb.core.vault import Vault
from conftest import ROOT, run_kb, write
from fakes import CompileFake

SAMPLES = sorted((ROOT / "vault" / "raw").glob("*.md"))


def new_vault(tmp_path, samples=SAMPLES) -> Vault:
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in samples:
        (vault.root / "raw" / p.name).write_bytes(p.read_bytes())
    return vault


def compile_(vault, engine=None):
    engine = engine or CompileFake()
    return Compile(Vault.open(vault.root), lambda: engine).run(), engine


def check_valid(vault: Vault):
    """Every link resolves, every wiki page has frontmatter with a title and a known type,
    every source has its page, and no temp file is left."""
    vault = Vault.open(vault.root)
    assert [f"{r.source}: {r.link.target}" for r in vault.graph().broken] == []
    for rel in vault.wiki_pages():
        page = vault.read(rel)
        assert page.meta.get("title") and page.meta.get("type") in {"source", "concept", "answer", "report"}, rel
    m = Manifest.load(vault)
    for raw in vault.sources():
        assert raw in m.sources, raw
        if not m.sources[raw].get("error"):
            assert (vault.root / m.sources[raw]["page"]).exists(), raw
    assert not [p for p in vault.root.rglob("*.kb-tmp")]


def state(vault: Vault) -> dict:
    return {p: (vault.root / p).read_bytes() for p in vault.files() if not p.startswith("raw/")}


def test_compile_builds_source_and_concept_pages(tmp_path):
    vault = new_vault(tmp_path)
    report, engine = compile_(vault)
    concepts = vault.notes("wiki/concepts")
    # one call per source (each is one chunk), and one article per concept page
    assert len(report.compiled) == 5 and report.model_calls == 5 + len(concepts) and not report.failed
    check_valid(vault)
    sources = vault.notes("wiki/sources")
    assert len(sources) == 5
    for p in concepts:  # each concept page opens with an article whose first sentence describes it
        cpage = vault.read(p)
        first = cpage.body.split("\n\n")[1]
        assert first and not first.startswith("#") and "([[wiki/sources/" in first, p
        assert cpage.meta["description"] and not cpage.meta["description"].endswith("sources: "), p
        assert "Zork" not in cpage.body, p  # the fake's invented article sentence never lands
    page = vault.read("wiki/sources/Kimchi at home.md")
    assert "## Summary" in page.body and "## Figures and numbers" in page.body
    assert "“Brine the napa cabbage so that it ends up at about 2-3% salt by weight.”" in page.body
    assert "[[raw/kimchi-at-home|kimchi-at-home.md]]" in page.body
    shared = [p for p in vault.notes("wiki/concepts") if len(vault.read(p).meta["sources"]) >= 2]
    assert shared, "sources that share a concept share its page"
    index = (vault.root / "index.md").read_text()
    assert all(f"[[{s[:-3]}|" in index for s in sources)
    log = (vault.root / "log.md").read_text()
    assert log.count("] ingest | ") == 5 and "## [" in log


def test_second_compile_makes_no_model_calls_and_writes_nothing(tmp_path):
    vault = new_vault(tmp_path)
    compile_(vault)
    before = state(vault)
    report, engine = compile_(vault)
    assert engine.calls == [] and report.model_calls == 0 and report.written == []
    assert len(report.unchanged) == 5 and state(vault) == before


def test_editing_one_source_recompiles_it_and_only_its_concepts(tmp_path):
    vault = new_vault(tmp_path)
    compile_(vault)
    m = Manifest.load(vault)
    touched = {m.concepts[k]["page"] for k in m.sources["raw/kombucha-notes.md"]["concepts"]}
    before = state(vault)
    with open(vault.root / "raw/kombucha-notes.md", "a") as f:
        f.write("\nA second fermentation in sealed bottles for 2-3 days makes it fizzy.\n")
    report, engine = compile_(vault)
    assert report.compiled == ["raw/kombucha-notes.md"] and report.model_calls == 1
    changed = {p for p, data in state(vault).items() if before.get(p) != data}
    after_touched = touched | {Manifest.load(vault).concepts[k]["page"]
                               for k in Manifest.load(vault).sources["raw/kombucha-notes.md"]["concepts"]}
    assert changed <= {"wiki/sources/Kombucha notes.md", "index.md", "log.md"} | after_touched
    assert "wiki/sources/Kombucha notes.md" in changed
    assert (vault.root / "log.md").read_text().count("] update | Kombucha notes") == 1
    check_valid(vault)


def test_dry_run_says_what_and_does_nothing(tmp_path):
    vault = new_vault(tmp_path)
    before = state(vault)
    r = run_kb("compile", "--dry-run", cwd=vault.root)
    assert r.returncode == 0 and "would compile 5 source(s)" in r.stdout
    assert state(vault) == before


def test_removed_source_leaves_no_dangling_links(tmp_path):
    vault = new_vault(tmp_path)
    compile_(vault)
    m = Manifest.load(vault)
    only_kimchi = [m.concepts[k]["page"] for k in m.sources["raw/kimchi-at-home.md"]["concepts"]
                   if len(m.claims(k)) == 1]
    (vault.root / "raw/kimchi-at-home.md").unlink()
    report, _ = compile_(vault)
    assert report.removed == ["raw/kimchi-at-home.md"]
    assert not (vault.root / "wiki/sources/Kimchi at home.md").exists()
    for p in only_kimchi:
        assert not (vault.root / p).exists()
    assert "Kimchi at home" not in (vault.root / "index.md").read_text()
    assert "] remove | Kimchi at home" in (vault.root / "log.md").read_text()
    check_valid(vault)


def test_hand_edited_page_survives_recompile(tmp_path):
    vault = new_vault(tmp_path)
    compile_(vault)
    m = Manifest.load(vault)
    key = next(iter(m.sources["raw/kombucha-notes.md"]["concepts"]))
    concept = m.concepts[key]["page"]
    src_page = vault.root / "wiki/sources/Kombucha notes.md"
    for p in (vault.root / concept, src_page):
        p.write_text(p.read_text().replace("## ", "My own note here.\n\n## ", 1))
    with open(vault.root / "raw/kombucha-notes.md", "a") as f:
        f.write("\nAn edit to the source.\n")
    report, _ = compile_(vault)
    for p in (vault.root / concept, src_page):
        assert "My own note here." in p.read_text()
        assert (p.parent / (p.stem + ".kb-new.md")).exists()
    assert len(report.conflicts) == 2 and all("edited by hand" in c for c in report.conflicts)
    r = run_kb("compile", cwd=vault.root)  # unchanged now; the CLI still runs cleanly
    assert r.returncode == 0, r.stderr


def test_a_lock_naming_a_live_reused_pid_does_not_block(tmp_path):
    """A killed compile's lock file names a pid the OS has since given to another live process
    (here: this test's own): nobody holds the OS lock, so compile goes ahead."""
    vault = new_vault(tmp_path)
    (vault.state_dir / "compile.lock").write_text(str(os.getpid()))
    from scripted_server import ScriptedServer
    with ScriptedServer(CompileFake()) as server:
        r = run_kb("compile", "--json", cwd=vault.root, env=server.env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["compiled"]) == 5


def test_two_compiles_at_once_are_refused(tmp_path):
    vault = new_vault(tmp_path)
    holder = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR); "
              "os.write(fd, str(os.getpid()).encode()); fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); "
              "time.sleep(60)")
    sleeper = subprocess.Popen([sys.executable, "-c", holder, str(vault.state_dir / "compile.lock")],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert sleeper.stdout.readline().strip() == "held"
        r = run_kb("compile", cwd=vault.root)
        assert r.returncode == 1 and "another kb compile is running" in r.stderr
        assert f"pid {sleeper.pid}" in r.stderr
        assert "Traceback" not in r.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    # a lock left by a dead process is taken over
    report, _ = compile_(vault)
    assert len(report.compiled) == 5 and not (vault.state_dir / "compile.lock").exists()


@pytest.mark.parametrize("kill_at", [1, 2, 3, 4, 6, 9, 13, 17, 22, 26, 30])  # 31 writes: 30 is in the concept phase
def test_sigkill_at_any_write_then_the_next_run_completes(tmp_path, kill_at):
    vault = new_vault(tmp_path)
    child = [sys.executable, str(ROOT / "tests" / "compile_child.py"), str(vault.root)]
    r = subprocess.run(child + [str(kill_at)], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    r = subprocess.run(child, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert not out["report"]["failed"]
    check_valid(vault)
    # nothing lost: the result equals a compile that never crashed
    clean = new_vault(tmp_path / "clean")
    compile_(clean)
    strip = lambda s: {p: b.replace(b"\r", b"") for p, b in s.items() if p != "log.md"}  # noqa: E731
    ours = {p: _without_dates(b) for p, b in strip(state(vault)).items() if not p.startswith(".kb")}
    theirs = {p: _without_dates(b) for p, b in strip(state(clean)).items() if not p.startswith(".kb")}
    assert ours == theirs
    # and a third run has nothing left to do
    r = subprocess.run(child, capture_output=True, text=True)
    assert json.loads(r.stdout)["calls"] == 0


def _without_dates(b: bytes) -> bytes:
    import re
    return re.sub(rb"kb_hash: \w+", b"", b)


@pytest.mark.model
def test_bad_sources_are_reported_and_the_rest_compiles(tmp_path, small_model):
    vault = new_vault(tmp_path, SAMPLES[:2])
    raw = vault.root / "raw"
    (raw / "empty.md").write_text("")
    (raw / "binary.md").write_bytes(bytes(range(256)) * 40)
    (raw / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e, a note in Latin-1 encoding.".encode("latin-1"))
    (raw / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage garbage")
    with open(raw / "huge.txt", "w") as f:
        for _ in range(20 * 1024):
            f.write("x" * 1023 + "\n")
    odd = unicodedata.normalize("NFD", "Ünïcödé 📚 نص (ÿ).md")
    (raw / odd).write_text("# Ünïcödé notes\n\nA short note about Tokenizers and Unicode normalization. "
                           "Tokenizers split text; Unicode normalization makes one string one form.\n")
    (raw / "page.html").write_text("<html><head><title>An HTML page</title><script>evil()</script></head>"
                                   "<body><h1>Heading</h1><p>Paragraph about Byte Pair Encoding and "
                                   "Byte Pair Encoding again.</p></body></html>")
    (raw / "paper.pdf").write_bytes(_tiny_pdf("Attention is a mechanism. Transformers use attention heavily."))
    r = run_kb("compile", cwd=vault.root, env={"KB_MODEL": str(small_model)}, timeout=1500)
    assert r.returncode == 0, r.stderr
    lines = r.stdout + r.stderr  # failures are one line each on stderr
    assert "raw/empty.md: empty file" in lines
    assert "raw/binary.md: binary data" in lines
    assert "raw/latin1.txt: not valid UTF-8" in lines
    assert "raw/broken.pdf: cannot read PDF" in lines or "raw/broken.pdf: PDF has no extractable text" in lines
    assert "raw/huge.txt: too large (21.0 MB > 5 MB limit" in lines
    report_line = [l for l in lines.splitlines() if l.startswith("compiled")][0]
    assert report_line.startswith("compiled 5,") and "failed 5" in report_line  # 2 samples + odd + html + pdf
    check_valid(vault)
    titles = {Vault.open(vault.root).read(p).title for p in Vault.open(vault.root).notes("wiki/sources")}
    assert {"Ünïcödé notes", "An HTML page"} <= titles
    html_page = (vault.root / "wiki/sources/An HTML page.md").read_text()
    assert "evil" not in html_page
    # failures are remembered: an unchanged bad file is reported, not re-read
    r = run_kb("compile", "--json", cwd=vault.root)
    rep = json.loads(r.stdout)
    assert rep["model_calls"] == 0 and len(rep["failed"]) == 5


def _tiny_pdf(text: str) -> bytes:
    """A minimal one-page PDF with real text, written by hand (no PDF library needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return out


def test_ingest_copies_without_touching_originals(tmp_path):
    vault = new_vault(tmp_path, [])
    src = tmp_path / "inbox"
    write(src, "clip.md", "---\ntitle: A clipped page\nsource: https://example.com/x\nauthor: Someone\n"
                          "published: 2026-01-02\n---\nBody text about Grouped GEMM kernels. Grouped GEMM again.\n")
    write(src, "same-content.md", (src / "clip.md").read_text())
    write(src, "img.png", "not really a png")
    write(src, "notes.docx", "unsupported")
    digest = hashlib.sha256((src / "clip.md").read_bytes()).hexdigest()
    mtime = (src / "clip.md").stat().st_mtime_ns
    r = run_kb("ingest", src, cwd=vault.root)
    assert r.returncode == 0, r.stderr
    assert "1 added" not in r.stdout and "2 added" in r.stdout  # clip.md and img.png
    assert "duplicate of raw/clip.md" in r.stdout and "unsupported type '.docx'" in r.stdout
    assert (vault.root / "raw/clip.md").exists() and (vault.root / "raw/assets/img.png").exists()
    assert hashlib.sha256((src / "clip.md").read_bytes()).hexdigest() == digest
    assert (src / "clip.md").stat().st_mtime_ns == mtime
    again = run_kb("ingest", src / "clip.md", cwd=vault.root)
    assert "duplicate" in again.stdout
    report, _ = compile_(vault)
    page = vault.read("wiki/sources/A clipped page.md")
    assert "Author: Someone" in page.body and "Source: https://example.com/x" in page.body
    missing = run_kb("ingest", tmp_path / "nope.md", cwd=vault.root)
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_progress_shows_counts_and_tokens_per_second():
    import io
    from kb.core import events
    from kb.progress import CompileProgress

    class TTY(io.StringIO):
        def isatty(self):
            return True

    stream = TTY()
    with CompileProgress(stream=stream) as p:
        p.event(events.Plan(new=["a", "b"], changed=[], unchanged=0, removed=[]))
        for i, path in enumerate(["raw/a.md", "raw/b.md"]):
            p.event(events.SourceStart(path, i, 2))
            p.event(events.Tokens(prompt=100, completion=50, seconds=1.0))
            p.event(events.SourceDone(path, i + 1, 2))
    out = stream.getvalue()
    assert "2/2" in out and "tok/s" in out and "ETA" in out
    plain = io.StringIO()  # not a terminal: one plain line per source
    p = CompileProgress(stream=plain)
    p.event(events.SourceDone("raw/a.md", 1, 1, error="raw/a.md: empty file"))
    assert plain.getvalue() == "[1/1] raw/a.md: FAILED: raw/a.md: empty file\n"


def test_images_in_assets_are_kept_and_referenced(tmp_path):
    vault = new_vault(tmp_path, [])
    (vault.root / "raw/assets/diagram.png").write_bytes(b"\x89PNG fake")
    write(vault.root, "raw/with-image.md", "# Diagrams\n\nThe Router sends tokens to experts. The Router "
                                           "is learned.\n\n![the diagram](assets/diagram.png)\n")
    compile_(vault)
    page = vault.read("wiki/sources/Diagrams.md")
    assert "![[raw/assets/diagram.png]]" in page.body
    assert (vault.root / "raw/assets/diagram.png").read_bytes() == b"\x89PNG fake"
    check_valid(vault)
