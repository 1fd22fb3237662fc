"""The watcher: bursts, duplicates, bad files, deletions while queued, files still being written,
SIGTERM mid-queue and resume. A fake engine at the interface: this tests kb's queue, not the model."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kb.core.manifest import Manifest
from kb.core.vault import Vault
from kb.watch import Watcher, ignored
from conftest import ROOT, run_kb
from fakes import CompileFake

TOPICS = ["compost", "kimchi", "sourdough", "kombucha", "mycelium", "soil", "yeast", "brine"]


def note(i: int) -> str:
    a, b = TOPICS[i % 8], TOPICS[(i * 3 + 1) % 8]
    return (f"# Note {i} on {a}\n\nThis note {i} is about {a.capitalize()} and {b.capitalize()}. "
            f"The {a} {b} method matters here. {a.capitalize()} {b.capitalize()} was measured at {i} units.\n")


def wait_for(cond, timeout=60.0, step=0.05):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return True
        time.sleep(step)
    return False


def digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_ignored_names():
    assert ignored("raw/.note.md.swp") and ignored("raw/note.md~") and ignored("raw/x.md.part")
    assert ignored("raw/.x.md.abc.kb-tmp") and ignored("raw/assets/a.png") and ignored("wiki/sources/A.md")
    assert not ignored("raw/note.md") and not ignored("raw/sub/dir/paper.pdf")


def test_burst_of_200_each_good_source_once_bad_reported_nothing_lost(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    engine = CompileFake()
    watcher = Watcher(vault, lambda: engine, debounce=0.4)
    watcher.start()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    raw = vault.root / "raw"
    good, bad = [], []
    for i in range(180):
        (raw / f"note-{i:03d}.md").write_text(note(i))
        good.append(f"raw/note-{i:03d}.md")
    for i in range(10):  # the same bytes under a second name: compiled, as its own source
        (raw / f"copy-{i}.md").write_text(note(i))
        good.append(f"raw/copy-{i}.md")
    for i in range(5):
        (raw / f"empty-{i}.md").write_text("")
        (raw / f"binary-{i}.md").write_bytes(b"\x00\x01\x02" * 100)
        bad += [f"raw/empty-{i}.md", f"raw/binary-{i}.md"]
    (raw / "deleted.md").write_text(note(999))
    (raw / ".draft.md.swp").write_text("editor swap file")
    (raw / "deleted.md").unlink()  # gone before the watcher got to it
    slow = raw / "slow.md"  # copied in over 1.2 s: must not be read half-written
    with open(slow, "w") as f:
        f.write("# Slow\n\n")
        for k in range(6):
            f.write(f"Part {k} of a long note about Sourdough and Kombucha. " * 20 + "\n\n")
            f.flush()
            time.sleep(0.2)
        f.write("THE END of the slow note.\n")
    good.append("raw/slow.md")
    before = {p: digest(raw / Path(p).name) for p in good + bad}
    assert wait_for(lambda: len(watcher.stats.compiled) + len(watcher.stats.failed) >= len(good) + len(bad)
                    and not watcher.pending, timeout=120)
    time.sleep(1.0)  # nothing more happens after the queue drained
    watcher.stop()
    thread.join(10)
    stats = watcher.stats
    assert sorted(stats.compiled) == sorted(good)  # each good source exactly once
    assert sorted(stats.failed) == sorted(bad) and stats.errors == []
    assert {p: digest(raw / Path(p).name) for p in good + bad} == before  # raw/ untouched
    m = Manifest.load(Vault.open(vault.root))
    assert "raw/deleted.md" not in m.sources and not any(".swp" in p for p in m.sources)
    assert m.sources["raw/slow.md"]["hash"] == digest(slow)  # the whole file, not a prefix
    for rel in good:
        assert (vault.root / m.sources[rel]["page"]).exists()
    lint = json.loads(run_kb("lint", "--structural", "--json", "--no-report", cwd=vault.root).stdout)
    assert [f for f in lint["findings"] if f["check"] in ("broken-link", "dangling-source-link")] == []
    assert json.loads((vault.root / ".kb/watch-queue.json").read_text())["pending"] == []


def test_changes_moves_and_deletes_while_watching(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    watcher = Watcher(vault, lambda: CompileFake(), debounce=0.3)
    watcher.start()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    raw = vault.root / "raw"
    (raw / "a.md").write_text(note(1))
    (raw / "b.md").write_text(note(2))
    assert wait_for(lambda: len(watcher.stats.compiled) == 2)
    (raw / "a.md").write_text(note(1) + "\nAn added paragraph about Brine.\n")  # changed
    os.rename(raw / "b.md", raw / "moved.md")  # moved
    assert wait_for(lambda: "raw/moved.md" in watcher.stats.compiled and "raw/b.md" in watcher.stats.removed)
    (raw / "a.md").unlink()
    assert wait_for(lambda: "raw/a.md" in watcher.stats.removed)
    watcher.stop()
    thread.join(10)
    assert watcher.stats.compiled.count("raw/a.md") == 2  # once per version
    m = Manifest.load(Vault.open(vault.root))
    assert sorted(m.sources) == ["raw/moved.md"]


def test_model_error_is_reported_and_the_watcher_goes_on(tmp_path):
    from kb.core.errors import EngineError

    class Flaky(CompileFake):
        fail = True

        def chat(self, messages, **kw):
            if Flaky.fail:
                Flaky.fail = False
                raise EngineError("server went away")
            return super().chat(messages, **kw)

    vault, _ = Vault.init(tmp_path / "v", "")
    watcher = Watcher(vault, lambda: Flaky(), debounce=0.2)
    watcher.start()
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    (vault.root / "raw" / "a.md").write_text(note(1))
    assert wait_for(lambda: "raw/a.md" in watcher.stats.compiled, timeout=30)
    watcher.stop()
    thread.join(10)
    assert watcher.stats.errors == ["server went away"]


def test_sigterm_mid_queue_then_restart_finishes_the_rest(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    for i in range(30):
        (vault.root / "raw" / f"n{i:02d}.md").write_text(note(i))
    child = [sys.executable, str(ROOT / "tests" / "watch_child.py"), str(vault.root)]
    p = subprocess.Popen(child + ["forever", "0.15"], stdout=subprocess.PIPE, text=True)
    lines = []
    for line in p.stdout:
        lines.append(line)
        if sum("compiled raw/" in x for x in lines) >= 1:
            break
    time.sleep(0.5)
    p.send_signal(signal.SIGTERM)
    rest, _ = p.communicate(timeout=60)
    lines += rest.splitlines(keepends=True)
    assert p.returncode == 0, lines
    first = [x.split("compiled ")[1].strip() for x in lines if " compiled raw/" in x or x.startswith("compiled raw/")]
    assert 1 <= len(first) < 30, lines
    queued = json.loads((vault.root / ".kb/watch-queue.json").read_text())["pending"]
    assert queued and "still queued" in lines[-1]
    r = subprocess.run(child + ["once", "0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    second = [x.split("compiled ")[1].strip() for x in r.stdout.splitlines() if "compiled raw/" in x]
    assert sorted(first + second) == [f"raw/n{i:02d}.md" for i in range(30)]  # each exactly once
    assert json.loads((vault.root / ".kb/watch-queue.json").read_text())["pending"] == []
