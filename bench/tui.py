"""TUI responsiveness on synthetic vaults, driven by Textual's Pilot (`app.run_test`).

Two figures per vault size:
- first screen: from starting the app to the tree listing the vault and the status bar showing
  its health counters (not "health: checking"); with the link graph kb saved in `.kb/graph.json`
  by the last start, and (no cache) without it, as on the first start in a vault;
- page open: from selecting a page in the tree to its page view and its links and backlinks
  rendered (the open worker finished and the screen's pending messages processed); the median
  of several pages, each opened once.

The vaults come from bench/lint.py (four source pages with raw files to one concept page, the
manifest as compile leaves it, a current index). `--against REV` measures the TUI as it was at
git revision REV too, on the same vault in the same run (a git worktree imported in a child
process), so the two are compared side by side on a noisy machine.

    .venv/bin/python bench/tui.py [--sizes 1000,10000] [--opens 15] [--repeat 3] [--against REV]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, os.environ.get("KB_BENCH_TREE") or str(ROOT))  # --against: the worktree's kb

SIZE = (130, 40)


async def _measure(vault_root: str, opens: list[str]) -> dict:
    from kb.api import Kb
    from kb.core import config
    from kb.core.vault import Vault
    from kb.tui.app import KbApp

    kb = Kb(Vault.open(vault_root), config.load(None, {}, {("model", "name"): "none"}))
    app = KbApp(kb)
    t0 = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        tree, status = app.query_one("#tree"), app.query_one("#status")
        while not (tree.root.children and "broken links" in str(status.render())):
            await asyncio.sleep(0.002)
        first = time.perf_counter() - t0
        health = str(status.render()).split("·", 2)[-1].strip()
        await app.workers.wait_for_complete()  # index.md, opened on start, and the health check
        await pilot.pause()
        times = []
        for path in opens:
            leaf = tree.leaf(path) if hasattr(tree, "leaf") else \
                next(n for group in tree.root.children for n in group.children if n.data == path)
            t0 = time.perf_counter()
            tree.select_node(leaf)
            while app.current != path:
                await asyncio.sleep(0.001)
            await app.workers.wait_for_complete()
            await pilot._wait_for_screen()
            times.append(time.perf_counter() - t0)
            shown = app.query_one("#page-links")
            assert len(getattr(shown, "targets", None) or shown.children) > 0, path
        await app.workers.wait_for_complete()
    return {"first": first, "open": statistics.median(times), "open_max": max(times), "health": health}


def measure(vault_root: str, opens: list[str], against: str | None = None) -> dict:
    """One fresh process per measurement (nothing warm from the last one); `against`: a worktree
    whose kb is imported instead of this checkout's."""
    env = dict(os.environ)
    if against:
        env["KB_BENCH_TREE"] = against
    out = subprocess.run([sys.executable, __file__, "--child", vault_root, json.dumps(opens)], env=env,
                         capture_output=True, text=True, cwd=against or ROOT)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def worktree(rev: str, where: Path) -> Path:
    """`rev` checked out at `where`, importable as kb (agents/ and tools/ linked in as installed)."""
    subprocess.run(["git", "worktree", "add", "--detach", str(where), rev], cwd=ROOT, check=True,
                   capture_output=True)
    for pkg in ("agents", "tools"):
        (where / "kb" / pkg).symlink_to(where / pkg)
    return where


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--opens", type=int, default=15, help="pages opened per run (median reported)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per size and version (median reported)")
    ap.add_argument("--against", metavar="REV", help="also measure the TUI at this git revision")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_measure(args.child[0], json.loads(args.child[1])))))
        return 0
    import lint as lint_bench  # bench/lint.py: the synthetic vault
    with tempfile.TemporaryDirectory() as tmp:
        versions = [("now", None)]
        if args.against:
            versions.append((args.against[:10], str(worktree(args.against, Path(tmp) / "against"))))
        try:
            print(f"{'version':>10} {'pages':>6} {'first screen':>13} {'(no cache)':>11} {'page open':>10} "
                  f"{'max':>7}  health   [medians of {args.repeat} runs; {args.opens} opens a run]")
            for n in map(int, args.sizes.split(",")):
                rng = random.Random(11)
                vault = lint_bench.make_vault(Path(tmp) / f"v{n}", n, rng)
                opens = rng.sample(sorted(vault.wiki_pages()), args.opens)
                for name, where in versions:
                    (vault.state_dir / "graph.json").unlink(missing_ok=True)  # the first start ever
                    cold = measure(str(vault.root), opens, where)
                    runs = [measure(str(vault.root), opens, where) for _ in range(args.repeat)]
                    first = statistics.median(r["first"] for r in runs)
                    page = statistics.median(r["open"] for r in runs)
                    worst = max(r["open_max"] for r in runs)
                    print(f"{name:>10} {n:>6} {first * 1000:>11.0f}ms {cold['first'] * 1000:>9.0f}ms "
                          f"{page * 1000:>8.1f}ms {worst * 1000:>5.0f}ms  {runs[0]['health']}", flush=True)
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(tmp) / "against")], cwd=ROOT,
                               capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
