"""Compile cost on the ml-blog corpus, and the no-op recompile of a 1,000-source vault.

Reports: wall time, model calls, prompt tokens sent per raw token (cost discipline: about 1 means
each raw token is read once), the share of wall time spent inside the engine, and the time of a
compile that finds nothing to do on a synthetic vault of 1,000 compiled sources (the fake engine
builds it: this part measures kb, not the model). The baseline for the no-op figure is a bare
walk+stat of the same raw/ folder in the same run.

`--server` measures `--jobs` instead, and starts no model: the ml-blog posts compiled through the
OpenAI-compatible backend against a local test server (tests/scripted_server.py in a process of
its own: replies derived from the request, a fixed sleep per request, up to 8 answered side by
side; a stand-in for a GPU server with several slots) at N = 1, 2, 4, 8 requests in flight, in rounds (median per N).
Throughput and speed-up are against N = 1 in the same run, and every N's wiki and manifest must
be byte-identical to N = 1's.

    .venv/bin/python bench/compile.py [--model smollm2-135m] [--sources N] [--synthetic 1000]
    .venv/bin/python bench/compile.py --server [--latency 0.3] [--sources 19] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

from kb.core import config, models  # noqa: E402
from kb.compile.job import Compile  # noqa: E402
from kb.core.vault import Vault  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "ml-blog"


def real_corpus(model: str, n: int, keep: str | None) -> None:
    from kb.agents.engine import make_engine
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(keep) if keep else Path(tmp) / "v"
        if keep and root.exists():
            shutil.rmtree(root)
        vault, _ = Vault.init(root, "")
        posts = sorted(CORPUS.glob("*.md"))[:n]
        for p in posts:
            shutil.copy(p, vault.root / "raw" / p.name)
        raw_chars = sum(len(p.read_text()) for p in posts)
        cfg = config.load(None, {}, {("model", "name"): model})
        engine = make_engine(cfg, models.models_dir())
        t0 = time.perf_counter()
        report = Compile(vault, lambda: engine).run()
        wall = time.perf_counter() - t0
        raw_tokens = engine.count_tokens("".join(p.read_text() for p in posts))
        print(f"model                      {model}")
        print(f"sources compiled           {len(report.compiled)} ({raw_chars:,} chars, {raw_tokens:,} tokens), "
              f"failed {len(report.failed)}")
        print(f"wall time                  {wall:.1f} s ({wall / max(1, len(posts)):.1f} s/source)")
        print(f"model calls                {report.model_calls}")
        print(f"prompt tokens / raw token  {report.prompt_tokens / raw_tokens:.2f} "
              f"({report.prompt_tokens:,} prompt, {report.completion_tokens:,} completion)")
        print(f"share of wall in engine    {report.engine_seconds / wall:.1%}")
        t0 = time.perf_counter()
        again = Compile(Vault.open(vault.root), lambda: engine).run()
        print(f"recompile, nothing changed {time.perf_counter() - t0:.2f} s, {again.model_calls} model calls")


def server_scaling(n: int, latency: float, rounds: int, jobs: tuple[int, ...] = (1, 2, 4, 8)) -> None:
    import json
    import subprocess
    import urllib.request

    from kb.agents.engine import make_engine
    from kb.compile.job import Settings
    posts = sorted(CORPUS.glob("*.md"))[:n]
    walls: dict[int, list[float]] = {j: [] for j in jobs}
    # the server in a process of its own, as a GPU server would be: its Python work must not
    # take the GIL from the compile it serves
    server = subprocess.Popen([sys.executable, str(HERE.parent / "tests" / "scripted_server.py"),
                               "--latency", str(latency), "--slots", str(max(jobs)), "--port", "0"],
                              stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[1]

        def stats(reset: bool = False) -> dict:
            with urllib.request.urlopen(url + "/stats" + ("?reset" if reset else "")) as r:
                return json.loads(r.read())

        engine = make_engine(config.load(None, {"KB_ENGINE": "openai", "KB_BASE_URL": url}), models.models_dir())
        with tempfile.TemporaryDirectory() as tmp:
            warm, _ = Vault.init(Path(tmp) / "warm-up", "")  # imports and first-use caches, untimed
            shutil.copy2(posts[0], warm.root / "raw" / posts[0].name)
            Compile(warm, lambda: engine, Settings(jobs=1)).run()
            first, same, requests, in_flight = None, True, {}, {}
            for r in range(rounds):  # every N once per round, so a change in the machine's load
                for n_jobs in jobs:  # falls on all of them alike; the median per N is reported
                    vault, _ = Vault.init(Path(tmp) / f"r{r}-jobs{n_jobs}", "")
                    for p in posts:  # copy2: the same mtimes, so the manifests can match byte for byte
                        shutil.copy2(p, vault.root / "raw" / p.name)
                    before = stats(reset=True)["requests"]
                    t0 = time.perf_counter()
                    report = Compile(vault, lambda: engine, Settings(jobs=n_jobs)).run()
                    walls[n_jobs].append(time.perf_counter() - t0)
                    assert len(report.compiled) == len(posts) and not report.failed, report.failed
                    after = stats()
                    requests[n_jobs], in_flight[n_jobs] = after["requests"] - before, after["most_in_flight"]
                    files = _wiki_and_manifest(vault.root)
                    first = first or files
                    same = same and files == first
                    shutil.rmtree(vault.root)
    finally:
        server.terminate()
        server.wait()
    print(f"latency server             {latency:.2f} s per request, up to {max(jobs)} at once (its own "
          f"process); {len(posts)} ml-blog sources; median of {rounds} round(s)")
    print(f"{'jobs':>4} {'wall s':>8} {'(min-max)':>13} {'requests':>8} {'sources/s':>10} {'requests/s':>10} "
          f"{'in flight':>9} {'speed-up':>8}")
    base = statistics.median(walls[jobs[0]])
    for n_jobs in jobs:
        wall = statistics.median(walls[n_jobs])
        spread = f"({min(walls[n_jobs]):.1f}-{max(walls[n_jobs]):.1f})"
        print(f"{n_jobs:>4} {wall:>8.2f} {spread:>13} {requests[n_jobs]:>8} {len(posts) / wall:>10.2f} "
              f"{requests[n_jobs] / wall:>10.2f} {in_flight[n_jobs]:>9} {base / wall:>7.2f}x")
    print(f"wiki, index, log and manifest byte-identical across every N and round: {'yes' if same else 'NO'}")


def _wiki_and_manifest(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in [*sorted((root / "wiki").rglob("*")), root / "index.md", root / "log.md",
                      root / ".kb" / "manifest.json"] if p.is_file()}


def synthetic_noop(n: int) -> None:
    from fakes import CompileFake
    with tempfile.TemporaryDirectory() as tmp:
        vault, _ = Vault.init(Path(tmp) / "v", "")
        words = ["tensor", "gradient", "Muon", "Adam", "expert", "router", "token", "kernel", "GPU", "cache"]
        for i in range(n):
            a, b = words[i % 10], words[(i * 7) % 10]
            (vault.root / "raw" / f"note-{i:05d}.md").write_text(
                f"# Note {i}\n\nThis note is about {a} and {b}. The {a} {b} trick matters. "
                f"{a.capitalize()} {b.capitalize()} is measured at {i} units, {i % 97}% of the time.\n")
        t0 = time.perf_counter()
        Compile(vault, lambda: CompileFake()).run()
        build = time.perf_counter() - t0
        noop, base = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            for dirpath, _, files in os.walk(vault.root / "raw"):
                for f in files:
                    os.stat(os.path.join(dirpath, f))
            base.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = Compile(Vault.open(vault.root), None).run()  # no engine: a no-op must not need one
            noop.append(time.perf_counter() - t0)
            assert r.model_calls == 0 and not r.compiled
        nb, nn = statistics.median(base), statistics.median(noop)
        print(f"synthetic vault            {n} sources, {len(vault.wiki_pages())} wiki pages (fake engine build {build:.1f} s)")
        print(f"no-op recompile            {nn * 1000:.0f} ms (walk+stat baseline {nb * 1000:.1f} ms, ratio {nn / nb:.0f}x)")


def count_only(before: str) -> int:
    """`--count-only [REV]`: prompt tokens per raw token of compile on ml-blog, REV's code and
    this checkout's side by side, counted with the model's tokenizer and chat template and no model
    run (bench/prompt_tokens.py); the per-source analysis and the concept articles apart."""
    import prompt_tokens  # bench/, beside this file
    return prompt_tokens.compare(before)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=models.TEST_MODEL)
    ap.add_argument("--sources", type=int, default=19)
    ap.add_argument("--synthetic", type=int, default=1000)
    ap.add_argument("--skip-real", action="store_true")
    ap.add_argument("--count-only", nargs="?", const="66e2f14", metavar="REV",
                    help="no model: prompt tokens per raw token, REV (default 66e2f14) and now")
    ap.add_argument("--keep", metavar="DIR", help="compile into DIR and keep it (for kb eval)")
    ap.add_argument("--server", action="store_true",
                    help="only --jobs scaling against the local latency server (no model)")
    ap.add_argument("--latency", type=float, default=0.3, help="--server: seconds per request")
    ap.add_argument("--rounds", type=int, default=3, help="--server: rounds of N = 1, 2, 4, 8")
    args = ap.parse_args()
    if args.count_only:
        return count_only(args.count_only)
    if args.server:
        server_scaling(args.sources, args.latency, args.rounds)
        return 0
    if not args.skip_real:
        real_corpus(args.model, args.sources, args.keep)
    if args.synthetic:
        synthetic_noop(args.synthetic)
    return 0


if __name__ == "__main__":
    sys.exit(main())
