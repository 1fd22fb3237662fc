"""Which bundled model should be the default? Summary quality and speed on real posts.

Each model summarises the same ml-blog posts with the same prompt. Quality is measured without
a judge model, from the text itself:
- recall: of the source's 12 most frequent names and numbers (capitalised terms, figures), the
  share that the summary mentions;
- grounding: of the names and numbers the summary mentions, the share that occur in the source
  (the rest are invented);
- repetition: the share of repeated word trigrams (small models loop).
Speed is wall seconds per summary and output tokens/s.

    .venv/bin/python bench/models.py [--posts N]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kb import models  # noqa: E402

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "ml-blog"
POSTS = ["muon-optimizer.md", "everything-moe.md", "huatuogpt-o1-domain-specific-reasoning.md",
         "the-tools-are-made-up.md", "perplexed.md", "streaming-diloco.md"]
PROMPT = ("Summarise this blog post in one paragraph of 4-6 sentences for a knowledge base. Keep "
          "the names, numbers and key claims exactly as written.\n\n{text}")
TERM = re.compile(r"\b(?:[A-Z][A-Za-z0-9-]{2,}|\d[\d.,%]*\d|\d)\b")
STOP = {"The", "This", "That", "There", "These", "They", "What", "When", "And", "But", "For", "With",
        "You", "Its", "It's", "Not", "Our", "One", "Some", "How", "Why", "Also", "Then", "Here", "Each"}


def terms(text: str) -> list[str]:
    return [t for t in TERM.findall(text) if t not in STOP]


def score(source: str, summary: str) -> dict:
    top = [t for t, _ in Counter(terms(source)).most_common(12)]
    low_summary, low_source = summary.lower(), source.lower()
    recall = sum(t.lower() in low_summary for t in top) / max(1, len(top))
    said = set(terms(summary))
    grounding = sum(t.lower() in low_source for t in said) / max(1, len(said))
    words = summary.lower().split()
    tri = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    repetition = 1 - len(set(tri)) / max(1, len(tri))
    return {"recall": recall, "grounding": grounding, "repetition": repetition}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=len(POSTS))
    args = ap.parse_args()
    from kb.agents.llama_engine import LlamaEngine
    print(f"{'model':<22} {'recall':>7} {'ground':>7} {'repeat':>7} {'s/summary':>10} {'out tok/s':>10}")
    for name in models.BUNDLED:
        engine = LlamaEngine(models.resolve(name, models.models_dir()), n_ctx=8192)
        rows, secs, tps = [], [], []
        for post in POSTS[:args.posts]:
            text = (CORPUS / post).read_text()[:12000]
            t0 = time.perf_counter()
            r = engine.chat([{"role": "user", "content": PROMPT.format(text=text)}], max_tokens=300,
                            temperature=0.2)
            secs.append(time.perf_counter() - t0)
            tps.append(r.usage.completion_tokens / max(1e-9, r.timings.decode_s))
            rows.append(score(text, r.text))
        mean = {k: statistics.mean(r[k] for r in rows) for k in rows[0]}
        print(f"{name:<22} {mean['recall']:>7.2f} {mean['grounding']:>7.2f} {mean['repetition']:>7.2f} "
              f"{statistics.mean(secs):>10.1f} {statistics.median(tps):>10.1f}")
        del engine
    return 0


if __name__ == "__main__":
    sys.exit(main())
