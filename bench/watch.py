"""Watcher latency: from a file landing in raw/ to its wiki page existing, with a fake engine (this
measures kb, not the model), for one file and for a burst of 200.

Baselines in the same run: for one file, a direct `Compile.run()` of the same kind of file (the
work the watcher must do anyway), plus the debounce it waits on purpose; for the burst, one batch
compile of 200 files in a fresh vault.

    .venv/bin/python bench/watch.py [--debounce 0.5] [--burst 200] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from fakes import CompileFake  # noqa: E402
from kb.compile.job import Compile  # noqa: E402
from kb.core.vault import Vault  # noqa: E402
from kb.watch import Watcher  # noqa: E402

TOPICS = ["compost", "kimchi", "sourdough", "kombucha", "mycelium", "soil", "yeast", "brine"]


def note(i: int) -> str:
    a, b = TOPICS[i % 8], TOPICS[(i * 3 + 1) % 8]
    return (f"# Note {i}\n\nThis note {i} is about {a.capitalize()} and {b.capitalize()}. "
            f"The {a} {b} method matters here. {a.capitalize()} {b.capitalize()} was measured at {i} units.\n")


def page(root: Path, i: int) -> Path:
    return root / "wiki" / "sources" / f"Note {i}.md"


def wait_pages(root: Path, ids: list[int], t0: float, timeout: float = 600) -> list[float]:
    """Seconds from t0 until each page exists, polled every millisecond."""
    left, seen = set(ids), {}
    while left and time.perf_counter() - t0 < timeout:
        for i in list(left):
            if page(root, i).exists():
                seen[i] = time.perf_counter() - t0
                left.discard(i)
        time.sleep(0.001)
    if left:
        raise RuntimeError(f"{len(left)} pages never appeared")
    return [seen[i] for i in ids]


def watched(debounce: float):
    tmp = tempfile.TemporaryDirectory()
    vault, _ = Vault.init(Path(tmp.name) / "v", "")
    w = Watcher(vault, lambda: CompileFake(), debounce=debounce)
    w.start()
    t = threading.Thread(target=w.run, daemon=True)
    t.start()
    return tmp, vault, w, t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--debounce", type=float, default=0.5)
    ap.add_argument("--burst", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    # one file at a time
    tmp, vault, w, t = watched(args.debounce)
    lat = []
    for k in range(args.repeat):
        t0 = time.perf_counter()
        (vault.root / "raw" / f"one-{k}.md").write_text(note(k))
        lat += wait_pages(vault.root, [k], t0)
    w.stop()
    t.join(10)
    tmp.cleanup()
    direct = []
    with tempfile.TemporaryDirectory() as d:
        v, _ = Vault.init(Path(d) / "v", "")
        for k in range(args.repeat):
            (v.root / "raw" / f"one-{k}.md").write_text(note(k))
            t0 = time.perf_counter()
            Compile(Vault.open(v.root), lambda: CompileFake()).run()
            direct.append(time.perf_counter() - t0)
    one, base = statistics.median(lat), statistics.median(direct)
    print(f"one file      landing -> page {one * 1000:.0f} ms (median of {args.repeat}); debounce "
          f"{args.debounce * 1000:.0f} ms + direct compile {base * 1000:.0f} ms = "
          f"{(args.debounce + base) * 1000:.0f} ms; kb's own overhead {max(0.0, one - args.debounce - base) * 1000:.0f} ms")

    # a burst
    tmp, vault, w, t = watched(args.debounce)
    t0 = time.perf_counter()
    for i in range(args.burst):
        (vault.root / "raw" / f"burst-{i:04d}.md").write_text(note(i))
    ready = wait_pages(vault.root, list(range(args.burst)), t0)
    w.stop()
    t.join(10)
    tmp.cleanup()
    with tempfile.TemporaryDirectory() as d:
        v, _ = Vault.init(Path(d) / "v", "")
        for i in range(args.burst):
            (v.root / "raw" / f"burst-{i:04d}.md").write_text(note(i))
        t1 = time.perf_counter()
        Compile(Vault.open(v.root), lambda: CompileFake()).run()
        batch = time.perf_counter() - t1
    ready.sort()
    print(f"burst of {args.burst}  first page {ready[0]:.2f} s, median {statistics.median(ready):.2f} s, "
          f"last {ready[-1]:.2f} s; one batch compile of the same files {batch:.2f} s "
          f"(ratio last/batch {ready[-1] / batch:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
