"""Search index cost on synthetic vaults: build time, query latency p50/p95, and the cost of an
incremental update after editing one page, against a bare read of the same files in the same run.

    .venv/bin/python bench/search.py [--sizes 1000,10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.core.vault import Vault  # noqa: E402
from kb.tools.search import SearchIndex  # noqa: E402

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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    rng = random.Random(7)
    print(f"{'pages':>6} {'read files':>10} {'build':>9} {'q p50':>8} {'q p95':>8} {'update 1 page':>14} {'no-op sync':>10}")
    for n in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            vault = make_vault(Path(tmp) / "v", n, rng)
            t0 = time.perf_counter()
            for p in vault.files():
                vault.abspath(p).read_text()
            read_s = time.perf_counter() - t0
            index = SearchIndex(vault)
            t0 = time.perf_counter()
            index.rebuild()
            build = time.perf_counter() - t0
            lat = []
            for _ in range(args.queries):
                q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
                t0 = time.perf_counter()
                index.search(q, 10)
                lat.append((time.perf_counter() - t0) * 1000)
            updates = []
            pages = vault.wiki_pages()
            for i in range(5):
                page = vault.abspath(rng.choice(pages))
                page.write_text(page.read_text() + f"\nedited {i} zyxwv\n")
                t0 = time.perf_counter()
                stats = index.sync()
                updates.append(time.perf_counter() - t0)
                assert stats["updated"] == 1 and stats["added"] == 0
            t0 = time.perf_counter()
            index.sync()
            noop = time.perf_counter() - t0
            print(f"{n:>6} {read_s:>9.2f}s {build:>8.1f}s {statistics.median(lat):>6.1f}ms {pct(lat, 0.95):>6.1f}ms "
                  f"{statistics.median(updates) * 1000:>12.0f}ms {noop * 1000:>8.0f}ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
