"""Structural lint time on synthetic vaults, against a bare read of the same files in the same run.

Each vault is built without a model: source pages with their raw files (recorded in the manifest,
as compile leaves them), concept pages that link back, a few seeded problems, and a current index.
The baseline is reading every note and raw file once (what any check must at least do); the ratio
says what lint's parsing, link resolution and text comparisons cost on top.

Every lint runs in a process of its own (as `kb lint` does), timed around `Lint.run`. "cold" is
the first run on the vault (no fingerprints kept in .kb/cache yet, as after a fresh clone or a
compile that changed every source); "lint" is the median of the runs after it; each "cpu" is
the process time beside it (steadier than the clock when other work shares the cores).

    .venv/bin/python bench/lint.py [--sizes 1000,10000] [--repeat 3] [--against REV]

`--against REV` also lints each vault with kb/ as it was at git revision REV (exported to a temp
folder), runs interleaved with the current tree's, and prints the ratios and whether both found
the same problems: machines are noisy, a ratio measured side by side is what to compare.
"""

from __future__ import annotations

import argparse
import hashlib
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
if __name__ == "__main__" and sys.argv[1:2] == ["--run"]:  # one lint, in the tree named after --run
    sys.path.insert(0, sys.argv[2])
else:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kb.core.vault import Vault  # noqa: E402


def make_vault(root: Path, n: int, rng: random.Random) -> Vault:
    """n wiki pages: four source pages (each with a raw file) to one concept page."""
    from kb.core import catalog
    from kb.core.manifest import Manifest
    from search import WORDS  # bench/search.py: the same vocabulary
    vault, _ = Vault.init(root, "")
    manifest = Manifest.load(vault)
    n_concepts = max(1, n // 5)
    concepts = [f"{WORDS[i % len(WORDS)].title()} {WORDS[(i * 7) % len(WORDS)]} {i}" for i in range(n_concepts)]
    links: dict[int, list[str]] = {i: [] for i in range(n_concepts)}
    for i in range(n - n_concepts):
        title = f"Post {i} on {rng.choice(WORDS)}"
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(150, 300)))
        text += f". The run used {rng.randint(2, 4096)} GPUs for {rng.randint(1, 90)} days."
        raw = vault.root / "raw" / f"post-{i:05d}.md"
        raw.write_text(f"# {title}\n\n{text}\n")
        picks = rng.sample(range(n_concepts), min(3, n_concepts))
        body = [f"# {title}", "", f"> Raw file: [[raw/post-{i:05d}.md|post-{i:05d}.md]]", "", "## Summary", "",
                text[:400], "", "## Concepts", ""]
        body += [f"- [[wiki/concepts/{concepts[c]}|{concepts[c]}]]: a claim about it." for c in picks]
        for c in picks:
            links[c].append(title)
        digest = hashlib.sha256(raw.read_bytes()).hexdigest()
        (vault.root / "wiki/sources" / f"{title}.md").write_text(
            f"---\ntitle: {title}\ntype: source\ntags: [source]\nraw: raw/post-{i:05d}.md\nraw_hash: {digest}\n"
            f"created: 2026-11-01\n---\n" + "\n".join(body) + "\n")
        st = raw.stat()
        manifest.sources[f"raw/post-{i:05d}.md"] = {"hash": digest, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    for c, name in enumerate(concepts):
        body = [f"# {name}", "", "## What the sources say", ""]
        body += [f"- It matters ([[wiki/sources/{t}|{t}]])" for t in links[c]] or ["- Nothing yet."]
        (vault.root / "wiki/concepts" / f"{name}.md").write_text(
            f"---\ntitle: {name}\ntype: concept\ntags: [concept]\ncreated: 2026-11-01\n---\n" + "\n".join(body) + "\n")
    manifest.save()
    # a few problems, so every check has something to report
    (vault.root / "wiki/concepts" / f"{concepts[0]}.md").write_text("# No frontmatter\n\n[[Nowhere]]\n\n## Empty\n")
    catalog.write_index(vault)
    return vault


def bare_read(vault: Vault) -> None:
    for rel in vault.files():
        if rel.endswith(".md"):
            vault.abspath(rel).read_text(encoding="utf-8")


def lint_once(vault_root: str) -> None:
    """The child process: one structural lint, its time and what it found, as JSON."""
    from kb.lint.job import Lint, LintSettings
    t0, c0 = time.perf_counter(), time.process_time()
    report = Lint(Vault.open(vault_root), None, LintSettings(model_checks=False)).run(write_report=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    import kb
    print(json.dumps({"seconds": seconds, "cpu": cpu, "kb": kb.__file__,
                      "findings": sorted([f.check, *f.pages] for f in report.findings)}))


def tree_at(rev: str) -> str:
    """kb/, agents/ and tools/ as they were at `rev`, laid out as the installed package is."""
    out = Path(tempfile.mkdtemp(prefix="kb-lint-rev-"))
    archive = subprocess.run(["git", "archive", rev, "kb", "agents", "tools"], cwd=ROOT, capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    for name in ("agents", "tools"):
        os.symlink(out / name, out / "kb" / name)
    return str(out)


def run(tree: str, vault: Vault, cold: bool) -> dict:
    if cold:
        for p in (vault.state_dir / "cache").glob("lint-*"):
            p.unlink()
    out = subprocess.run([sys.executable, __file__, "--run", tree, str(vault.root)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"lint in {tree} failed:\n{out.stderr}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    assert data["kb"].startswith(tree), (data["kb"], tree)  # the tree asked for, not the installed one
    return data


def main() -> int:
    if sys.argv[1:2] == ["--run"]:
        lint_once(sys.argv[3])
        return 0
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--against", metavar="REV", help="also lint with kb/ at this git revision")
    args = ap.parse_args()
    trees = [("now", str(ROOT))] + ([(args.against[:8], tree_at(args.against))] if args.against else [])
    rng = random.Random(11)
    print(f"{'':>8} {'pages':>7} {'cold s':>7} {'cpu s':>6} {'lint s':>7} {'cpu s':>6} {'bare read s':>12} "
          f"{'lint/read':>9} {'findings':>9}   lint: median of {args.repeat} after the cold run; cpu: process time")
    for n in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            vault = make_vault(Path(tmp) / "v", n, rng)
            runs: dict[str, list[dict]] = {name: [] for name, _ in trees}
            base_t = []
            for i in range(args.repeat + 1):
                t0 = time.perf_counter()
                bare_read(Vault.open(vault.root))
                base_t.append(time.perf_counter() - t0)
                for name, tree in (reversed(trees) if i == 0 else trees):  # the current tree's cold run last
                    runs[name].append(run(tree, vault, cold=i == 0))
            bt = statistics.median(base_t)
            row = {}
            for name, _ in trees:
                cold, warm = runs[name][0], runs[name][1:]
                row[name] = (cold["seconds"], cold["cpu"], statistics.median(r["seconds"] for r in warm),
                             statistics.median(r["cpu"] for r in warm))
                print(f"{name:>8} {len(vault.wiki_pages()):>7} " + " ".join(f"{x:>{w}.2f}" for x, w in
                                                                            zip(row[name], (7, 6, 7, 6)))
                      + f" {bt:>12.3f} {row[name][2] / bt:>9.1f} {len(warm[-1]['findings']):>9}")
            if len(trees) == 2:
                (now, _), (old, _) = trees
                same = all(r["findings"] == runs[old][0]["findings"] for r in runs[now] + runs[old])
                print(f"{'old/now':>8} {'':>7} " + " ".join(f"{o / c:>{w - 1}.1f}x" for o, c, w in
                                                            zip(row[old], row[now], (7, 6, 7, 6)))
                      + f"   ({'the same findings' if same else 'DIFFERENT findings'} in every run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
