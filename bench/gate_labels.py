"""How good a judge the grounding gate is, against sentences labelled by hand.

The gate (kb/core/grounding.py) decides by code whether a model sentence is backed by its
source. Code can be fooled both ways: paraphrase fails it, a false sentence built from the
source's own words passes it. So model sentences from real compiles of ml-blog were labelled by
reading the source (`supported`: the source states it, paraphrase allowed; `unsupported`: it says
something the source does not, or gets it wrong), and this script re-runs today's gate over them:

- precision: of the labelled sentences the gate passes, the share that are supported. This is
  what a reader meets: sentences the gate passes are published as written;
- recall: of the supported sentences, the share the gate passes (the rest are replaced by a
  source sentence or dropped, which costs the page a paraphrase, not its truth).

    .venv/bin/python bench/gate_labels.py                      # score bench/labels/gate-labels.jsonl
    .venv/bin/python bench/gate_labels.py --sample RUN.jsonl:MODEL ... --n 90 --out FILE
                                                               # pick sentences to label from --record runs

Labels: one JSON object per line: model, sentence, text (the id of bench/labels/texts/ID.txt,
the text the gate checked it against), label ("supported" | "unsupported"), why.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kb.core import grounding  # noqa: E402

LABELS = HERE / "labels"


def sample(runs: list[str], n: int, out: Path, seed: int = 7) -> int:
    """n sentences per run, half the gate passed and half it failed where there are enough, each
    sentence once; the texts they were checked against copied beside the labels."""
    rng = random.Random(seed)
    (LABELS / "texts").mkdir(parents=True, exist_ok=True)
    picked = []
    for spec in runs:
        path, model = spec.rsplit(":", 1)
        seen, rows = set(), []
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            key = (row["sentence"], row["text"])
            if key not in seen and len(row["sentence"].split()) >= 4:
                seen.add(key)
                rows.append(row)
        passed = [r for r in rows if r["ok"]]
        failed = [r for r in rows if not r["ok"]]
        rng.shuffle(passed)
        rng.shuffle(failed)
        k = min(len(failed), n // 2)
        chosen = failed[:k] + passed[: n - k]
        for r in chosen:
            src = Path(path).parent / "texts" / f"{r['text']}.txt"
            shutil.copy(src, LABELS / "texts" / src.name)
            picked.append({"model": model, "sentence": r["sentence"], "text": r["text"],
                           "standalone": r.get("standalone", False), "label": None, "why": ""})
    out.write_text("".join(json.dumps(p) + "\n" for p in picked), encoding="utf-8")
    return len(picked)


def score(labels: Path) -> dict:
    rows = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("label") in ("supported", "unsupported")]
    texts: dict[str, grounding.Source] = {}
    out: dict = {"labelled": len(rows), "by_model": {}}
    tp = fp = fn = tn = 0
    for r in rows:
        if r["text"] not in texts:
            texts[r["text"]] = grounding.Source.of((LABELS / "texts" / f"{r['text']}.txt").read_text(encoding="utf-8"))
        # standalone as it was judged in the run; runs recorded before that flag: the plain check
        passed = grounding.check(r["sentence"], texts[r["text"]], standalone=r.get("standalone", False)).ok
        good = r["label"] == "supported"
        m = out["by_model"].setdefault(r["model"], {"labelled": 0, "supported": 0, "passed": 0,
                                                     "passed_supported": 0})
        m["labelled"] += 1
        m["supported"] += good
        m["passed"] += passed
        m["passed_supported"] += passed and good
        tp, fp, fn, tn = tp + (passed and good), fp + (passed and not good), fn + (good and not passed), \
            tn + (not good and not passed)
        if passed and not good:
            out.setdefault("false_passes", []).append(f"{r['model']}: {r['sentence']}")
    out.update(tp=tp, fp=fp, fn=fn, tn=tn,
               precision=round(tp / (tp + fp), 3) if tp + fp else None,
               recall=round(tp / (tp + fn), 3) if tp + fn else None)
    for m in out["by_model"].values():
        m["precision"] = round(m["passed_supported"] / m["passed"], 3) if m["passed"] else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", nargs="+", metavar="RUN.jsonl:MODEL")
    ap.add_argument("--n", type=int, default=90, help="sentences per run")
    ap.add_argument("--out", type=Path, default=LABELS / "to-label.jsonl")
    ap.add_argument("--labels", type=Path, default=LABELS / "gate-labels.jsonl")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.sample:
        print(f"{sample(args.sample, args.n, args.out)} sentences to label in {args.out}")
        return 0
    if not args.labels.exists():
        print(f"gate_labels: no labels at {args.labels}", file=sys.stderr)
        return 2
    res = score(args.labels)
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"labelled {res['labelled']}: precision {res['precision']}, recall {res['recall']} "
          f"(tp {res['tp']}, fp {res['fp']}, fn {res['fn']}, tn {res['tn']})")
    for name, m in res["by_model"].items():
        print(f"  {name}: {m['labelled']} labelled, {m['supported']} supported; gate passes {m['passed']}, "
              f"{m['passed_supported']} of them supported ({m['precision']})")
    for s in res.get("false_passes", []):
        print(f"  passed, unsupported: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
