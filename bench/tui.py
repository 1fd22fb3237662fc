"""TUI responsiveness on synthetic vaults, driven by Textual's Pilot (`app.run_test`).

Two figures per vault size:
- first screen: from starting the app to the tree listing the vault and the status bar showing
  its health counters (not "health: checking"); with the link graph kb saved in `.kb/graph.json`
  by the last start, and (no cache) without it, as on the first start in a vault;
- page open: from selecting a page in the tree to its page view and its links and backlinks
  rendered (the open worker finished and the screen's pending messages processed); the median
  of several pages, each opened once.
Each is taken as wall-clock time and as the CPU time of the app's process (all its threads):
on a machine shared with other work the wall clock mostly measures the others, the CPU time
what the TUI itself spent.

The vaults come from bench/lint.py (four source pages with raw files to one concept page, the
manifest as compile leaves it, a current index). `--against REV` measures the TUI as it was at
git revision REV too, on the same vault in the same run (a git worktree imported in a child
process), so the two are compared side by side on a noisy machine.

    .venv/bin/python bench/tui.py [--sizes 1000,10000] [--opens 15] [--repeat 3] [--against REV [--against-opens 5]]
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
    t0, c0 = time.perf_counter(), time.process_time()
    async with app.run_test(size=SIZE) as pilot:
        tree, status = app.query_one("#tree"), app.query_one("#status")
        while not (tree.root.children and "broken links" in str(status.render())):
            await asyncio.sleep(0.002)
        first, first_cpu = time.perf_counter() - t0, time.process_time() - c0
        health = str(status.render()).split("·", 2)[-1].strip()
        await app.workers.wait_for_complete()  # index.md, opened on start, and the health check
        await pilot.pause()
        times, cpu = [], []
        for path in opens:
            leaf = tree.leaf(path) if hasattr(tree, "leaf") else \
                next(n for group in tree.root.children for n in group.children if n.data == path)
            t0, c0 = time.perf_counter(), time.process_time()
            tree.select_node(leaf)
            while app.current != path:
                await asyncio.sleep(0.001)
            await app.workers.wait_for_complete()
            await pilot._wait_for_screen()
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            shown = app.query_one("#page-links")
            assert len(getattr(shown, "targets", None) or shown.children) > 0, path
        await app.workers.wait_for_complete()
    return {"first": first, "first_cpu": first_cpu, "open": statistics.median(times), "open_max": max(times),
            "open_cpu": statistics.median(cpu), "health": health}


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
    ap.add_argument("--against", metavar="REV", help="also measure the TUI at this git revision (one run: "
                    "it has no cache, and it reads the whole vault on every page open)")
    ap.add_argument("--against-opens", type=int, default=5, help="pages opened in REV's run")
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
            print(f"{'':>10} {'':>6} {'first screen':^24} {'first, no cache':^24} {'page open':^26}")
            print(f"{'version':>10} {'pages':>6} {'wall':>11} {'cpu':>11} {'wall':>11} {'cpu':>11} {'wall':>8} "
                  f"{'cpu':>8} {'max':>8}  health")
            for n in map(int, args.sizes.split(",")):
                rng = random.Random(11)
                vault = lint_bench.make_vault(Path(tmp) / f"v{n}", n, rng)
                opens = rng.sample(sorted(vault.wiki_pages()), args.opens)
                for name, where in versions:
                    (vault.state_dir / "graph.json").unlink(missing_ok=True)  # the first start ever
                    page_opens = opens if where is None else opens[:args.against_opens]
                    cold = measure(str(vault.root), page_opens, where)
                    runs = [cold] if where else [measure(str(vault.root), page_opens, where) for _ in range(args.repeat)]
                    med = {k: statistics.median(r[k] for r in runs) for k in ("first", "first_cpu", "open", "open_cpu")}
                    worst = max(r["open_max"] for r in runs)
                    ms = lambda x: f"{x * 1000:.0f}ms" if x >= 0.1 else f"{x * 1000:.1f}ms"  # noqa: E731
                    print(f"{name:>10} {n:>6} {ms(med['first']):>11} {ms(med['first_cpu']):>11} "
                          f"{ms(cold['first']):>11} {ms(cold['first_cpu']):>11} {ms(med['open']):>8} "
                          f"{ms(med['open_cpu']):>8} {ms(worst):>8}  {runs[0]['health']}", flush=True)
        finally:
            if args.against:
                subprocess.run(["git", "worktree", "remove", "--force", str(Path(tmp) / "against")], cwd=ROOT,
                               capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
