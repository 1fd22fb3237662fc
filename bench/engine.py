"""Prefill and decode tokens/s for each bundled model, through kb's engine and through bare
llama-cpp-python in the same run; the ratio is kb's overhead.

Both sides make the same create_chat_completion calls with the same settings. Prefill is the wall
time of a ~1,000-token prompt with max_tokens=1; decode is (time with N tokens - time with 1) /
(N - 1) on a short prompt. A nonce at the start of each prompt defeats KV-cache reuse so every
run pays full prefill. Medians of REPEAT runs.

    .venv/bin/python bench/engine.py [--repeat 3] [--models smollm2-135m,qwen2.5-coder-0.5b]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb import models  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "ml-blog"
N_CTX = 4096
DECODE_TOKENS = 96


def long_text() -> str:
    text = (CORPUS / "muon-optimizer.md").read_text() + (CORPUS / "streaming-diloco.md").read_text()
    text += (CORPUS / "grouped-gemms-and-moe.md").read_text()
    return text


def messages(body: str) -> list[dict]:
    return [{"role": "user", "content": f"[{uuid.uuid4().hex}]\n{body}"}]


def timed(call, body: str, max_tokens: int) -> tuple[float, int, int]:
    t0 = time.perf_counter()
    out = call(messages(body), max_tokens)
    return time.perf_counter() - t0, out[0], out[1]


def measure(call, repeat: int) -> dict:
    prefill, decode = [], []
    text = long_text()
    story = "Write a long, detailed story about a lighthouse keeper. Do not stop early."
    for _ in range(repeat):
        t, n_prompt, _ = timed(call, text, 1)
        prefill.append(n_prompt / t)
        t1, _, _ = timed(call, story, 1)
        tn, _, n_out = timed(call, story, DECODE_TOKENS)
        if n_out > 1 and tn > t1:
            decode.append((n_out - 1) / (tn - t1))
    return {"prefill_tps": statistics.median(prefill), "decode_tps": statistics.median(decode),
            "prompt_tokens": n_prompt}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--models", default=",".join(models.BUNDLED))
    args = ap.parse_args()
    import llama_cpp

    from kb.agents.llama_engine import LlamaEngine, default_threads

    print(f"{'model':<22} {'path':<6} {'prefill tok/s':>14} {'decode tok/s':>13}")
    for name in args.models.split(","):
        path = models.resolve(name, models.models_dir())
        threads = default_threads()
        bare = llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_threads=threads,
                               n_threads_batch=threads, n_batch=512, verbose=False)

        def bare_call(msgs, max_tokens):
            out = bare.create_chat_completion(messages=msgs, max_tokens=max_tokens, temperature=0.2,
                                              repeat_penalty=1.1)
            return out["usage"]["prompt_tokens"], out["usage"]["completion_tokens"]

        engine = LlamaEngine(path, n_ctx=N_CTX, repeat_penalty=1.1)

        def kb_call(msgs, max_tokens):
            r = engine.chat(msgs, max_tokens=max_tokens, temperature=0.2)
            return r.usage.prompt_tokens, r.usage.completion_tokens

        # interleave so drift on a noisy machine hits both sides alike
        b = measure(bare_call, args.repeat)
        k = measure(kb_call, args.repeat)
        b2 = measure(bare_call, args.repeat)
        b = {key: (b[key] + b2[key]) / 2 for key in ("prefill_tps", "decode_tps")}
        print(f"{name:<22} {'bare':<6} {b['prefill_tps']:>14.1f} {b['decode_tps']:>13.1f}")
        print(f"{name:<22} {'kb':<6} {k['prefill_tps']:>14.1f} {k['decode_tps']:>13.1f}")
        print(f"{name:<22} {'ratio':<6} {k['prefill_tps'] / b['prefill_tps']:>14.3f} "
              f"{k['decode_tps'] / b['decode_tps']:>13.3f}   (kb / bare; prompt {k['prompt_tokens']} tokens)")
        del bare, engine
    return 0


if __name__ == "__main__":
    sys.exit(main())
