"""What the RLM runtime costs on top of the model: sandbox start-up and one REPL round-trip (a
trivial cell) with the kernel walls against the Python-level walls alone (weak mode, close to the
sandbox before issue 13), then one sub-call round-trip (a cell that calls llm_query) against a
bare engine call with the same prompt, all in one run with the small model. Medians of N runs.

    .venv/bin/python bench/rlm.py [-n 20] [--no-model]

Before the kernel walls (commit 1254846, this machine): start 117 ms, round-trip 0.19 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb.core import models  # noqa: E402


def median_ms(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def sandbox_costs(n: int) -> None:
    """Start-up and a trivial cell, weak mode then kernel mode, ratios kernel / weak."""
    from kb.agents import sandbox
    rows = {}
    for mode in ("weak", "kernel"):
        sandbox._KERNEL_MISSING = "bench: weak mode for comparison" if mode == "weak" else None
        limits = sandbox.Limits(allow_weak=True)

        def start():
            with sandbox.Sandbox({"search": lambda q, k=5: []}, limits) as sb:
                assert sb.walls == mode
        start_ms = median_ms(start, max(5, n // 2))
        with sandbox.Sandbox({"search": lambda q, k=5: []}, limits) as sb:
            sb.run("x = 0")
            cell = median_ms(lambda: sb.run("x = x + 1"), n * 10)
            bridged = median_ms(lambda: sb.run("r = search('a')"), n * 10)
        rows[mode] = (start_ms, cell, bridged)
    sandbox._KERNEL_MISSING = None
    print(f"{'':40}{'weak':>10}{'kernel':>10}{'ratio':>8}")
    for i, label in enumerate(("sandbox start (ms)", "REPL round-trip (ms)", "bridged call round-trip (ms)")):
        weak, kernel = rows["weak"][i], rows["kernel"][i]
        print(f"{label:40}{weak:10.2f}{kernel:10.2f}{kernel / weak:8.2f}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--no-model", action="store_true", help="only the sandbox costs")
    args = ap.parse_args()
    sandbox_costs(args.n)
    if args.no_model:
        return 0
    from kb.agents.llama_engine import LlamaEngine
    from kb.agents.sandbox import Sandbox

    engine = LlamaEngine(models.resolve(models.TEST_MODEL, models.models_dir()), n_ctx=2048)
    msgs = [{"role": "user", "content": "Say OK."}]

    def bare():
        engine.chat(msgs, max_tokens=1, temperature=0.0)

    def llm_query(prompt, json_schema=None):
        return engine.chat([{"role": "user", "content": prompt}], max_tokens=1, temperature=0.0).text

    t0 = time.perf_counter()
    sb = Sandbox({"llm_query": llm_query})
    sb.start()
    start_ms = (time.perf_counter() - t0) * 1000
    try:
        sb.run("x = 0")
        bare()
        cell = median_ms(lambda: sb.run("x = x + 1"), args.n)
        engine_ms = median_ms(bare, args.n)
        sub = median_ms(lambda: sb.run("r = llm_query('Say OK.')"), args.n)
    finally:
        sb.close()
    print(f"sandbox start (fresh child, hardened):     {start_ms:8.1f} ms")
    print(f"REPL round-trip (trivial cell):            {cell:8.2f} ms")
    print(f"bare engine call (1-token reply):          {engine_ms:8.2f} ms")
    print(f"sub-call round-trip (cell -> llm_query):   {sub:8.2f} ms")
    print(f"sub-call overhead over the bare call:      {sub - engine_ms:8.2f} ms "
          f"(ratio {sub / engine_ms:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
