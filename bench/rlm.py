"""What the RLM runtime costs on top of the model: one REPL round-trip (a trivial cell) and one
sub-call round-trip (a cell that calls llm_query), against a bare engine call with the same
prompt, all measured in one run with the small model. Medians of N runs.

    .venv/bin/python bench/rlm.py [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb import models  # noqa: E402


def median_ms(fn, n: int) -> float:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    args = ap.parse_args()
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
