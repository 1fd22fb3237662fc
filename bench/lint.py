"""Structural lint time on synthetic vaults, against a bare read of the same files in the same run.

Each vault is built without a model: source pages with their raw files (recorded in the manifest,
as compile leaves them), concept pages that link back, a few seeded problems, and a current index.
The baseline is reading every note and raw file once (what any check must at least do); the ratio
says what lint's parsing, link resolution and text comparisons cost on top.

    .venv/bin/python bench/lint.py [--sizes 1000,10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from kb import catalog  # noqa: E402
from kb.lint.job import Lint, LintSettings  # noqa: E402
from kb.core.manifest import Manifest  # noqa: E402
from kb.core.vault import Vault  # noqa: E402
from search import WORDS  # noqa: E402  (bench/search.py: the same vocabulary)


def make_vault(root: Path, n: int, rng: random.Random) -> Vault:
    """n wiki pages: four source pages (each with a raw file) to one concept page."""
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    rng = random.Random(11)
    print(f"{'pages':>7} {'lint s':>8} {'bare read s':>12} {'ratio':>6} {'findings':>9}  (median of {args.repeat})")
    for n in [int(x) for x in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            vault = make_vault(Path(tmp) / "v", n, rng)
            lint_t, base_t, found = [], [], 0
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                bare_read(Vault.open(vault.root))
                base_t.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                report = Lint(Vault.open(vault.root), None, LintSettings(model_checks=False)).run(write_report=False)
                lint_t.append(time.perf_counter() - t0)
                found = len(report.findings)
            lt, bt = statistics.median(lint_t), statistics.median(base_t)
            print(f"{len(vault.wiki_pages()):>7} {lt:>8.2f} {bt:>12.3f} {lt / bt:>6.1f} {found:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
