"""Search index cost on synthetic vaults: build time, query latency p50/p95 in one warm process,
the first query of a process, and the cost of an update after editing one page (a full `sync()`
that scans the vault, and `sync([path])` as compile calls it), against a bare read of the same
files in the same run.

    .venv/bin/python bench/search.py [--sizes 1000,10000] [--queries 200] [--against REV]

`--against REV` also measures `tools/search.py` as it was at git revision REV, on the same vault
in the same run (its own index folder), and prints the ratios: machines are noisy, a ratio
measured side by side is what to compare across runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb.core.vault import Vault  # noqa: E402
from kb.tools import search as current  # noqa: E402

WORDS = ("tensor gradient optimizer expert router token kernel cache attention layer batch norm "
         "embedding sparse dense matmul quantize shard pipeline memory bandwidth latency throughput "
         "compile schedule warp thread block register loss entropy perplexity reward policy value "
         "agent tool search index vault concept source answer muon adam diloco moe gemm tpu gpu").split()


def make_vault(root: Path, n: int, rng: random.Random) -> Vault:
    vault, _ = Vault.init(root, "")
    for i in range(n):
        folder = ("wiki/sources", "wiki/concepts")[i % 2]
        title = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} {i}"
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 400)))
        (vault.root / folder / f"{title}.md").write_text(
            f"---\ntitle: {title}\ntype: {'source' if i % 2 == 0 else 'concept'}\ntags: [{rng.choice(WORDS)}]\n---\n"
            f"# {title}\n\n## Summary\n\n{body}\n")
    return vault


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def module_at(rev: str):
    """tools/search.py as it was at `rev`, importable beside the current one."""
    source = subprocess.run(["git", "show", f"{rev}:tools/search.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "search_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("search_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def measure(module, vault: Vault, folder: str, queries: list[str], edits: list[str]) -> dict:
    index = module.SearchIndex(vault)
    index.dir = vault.state_dir / folder
    index.stamps_path = index.dir / "stamps.json"
    t0 = time.perf_counter()
    index.rebuild()
    out = {"build": time.perf_counter() - t0}
    t0 = time.perf_counter()
    index.search("tensor gradient", 10)  # the first query of a process opens the index
    out["first"] = time.perf_counter() - t0
    lat = []
    for q in queries:
        t0 = time.perf_counter()
        index.search(q, 10)
        lat.append(time.perf_counter() - t0)
    out["p50"], out["p95"] = statistics.median(lat), pct(lat, 0.95)
    scans, targeted = [], []
    for i, rel in enumerate(edits):
        page = vault.abspath(rel)
        page.write_text(page.read_text() + f"\nedited {folder} {i} zyxwv\n")
        t0 = time.perf_counter()
        stats = index.sync() if i % 2 == 0 else index.sync([rel])
        (scans if i % 2 == 0 else targeted).append(time.perf_counter() - t0)
        assert stats["updated"] == 1 and stats["added"] == 0, stats
    out["update"], out["update_paths"] = statistics.median(scans), statistics.median(targeted)
    t0 = time.perf_counter()
    index.sync()
    out["noop"] = time.perf_counter() - t0
    assert index.search("zyxwv", 1), "the edits are found"
    return out


def row(name: str, n: int, read_s: float, r: dict) -> str:
    ms = {k: v * 1000 for k, v in r.items()}
    return (f"{name:>8} {n:>6} {read_s:>9.2f}s {r['build']:>7.1f}s {ms['first']:>7.0f}ms {ms['p50']:>6.1f}ms "
            f"{ms['p95']:>6.1f}ms {ms['update']:>9.0f}ms {ms['update_paths']:>9.0f}ms {ms['noop']:>8.0f}ms")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--against", metavar="REV", help="also measure tools/search.py at this git revision")
    args = ap.parse_args()
    modules = [("now", current)] + ([(args.against[:8], module_at(args.against))] if args.against else [])
    print(f"{'':>8} {'pages':>6} {'read files':>10} {'build':>8} {'1st query':>9} {'q p50':>8} {'q p95':>8} "
          f"{'update 1':>11} {'update 1':>11} {'no-op':>10}")
    print(f"{'':>8} {'':>6} {'':>10} {'':>8} {'':>9} {'':>8} {'':>8} {'sync()':>11} {'sync([p])':>11} {'sync()':>10}")
    for n in map(int, args.sizes.split(",")):
        rng = random.Random(7)
        with tempfile.TemporaryDirectory() as tmp:
            vault = make_vault(Path(tmp) / "v", n, rng)
            t0 = time.perf_counter()
            for p in vault.files():
                vault.abspath(p).read_text()
            read_s = time.perf_counter() - t0
            queries = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))) for _ in range(args.queries)]
            edits = [rng.choice(vault.wiki_pages()) for _ in range(6)]
            results = [(name, measure(m, vault, f"search-{name}", queries, edits)) for name, m in modules]
            for name, r in results:
                print(row(name, n, read_s, r))
            if len(results) == 2:
                (_, new), (_, old) = results
                print(f"{'ratio':>8} {n:>6} {'':>10} " + " ".join(
                    f"{old[k] / new[k]:>{w}.1f}x" for k, w in (("build", 7), ("first", 8), ("p50", 7), ("p95", 7),
                                                                 ("update", 10), ("update_paths", 10), ("noop", 9))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
