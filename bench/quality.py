"""What a reader meets in a compiled vault, scored by code (no model judges a model).

Compiles a fixed subset of ../shared/corpus/ml-blog with one model and scores the vault:

- grounded: the share of model-written sentences (summaries, key points, concept claims, article
  sentences) that the grounding gate found backed by their source, before it dropped or replaced
  the rest (summed from the `gate |` lines compile writes to log.md);
- junk: concept pages named by everyday English only (wordfreq, kb.core.terms.is_junk), unless
  the quotes on the page use the title as a name;
- duplicates: pairs of concept pages that are one idea (same name once inflections, plurals and
  case are folded; a head noun beside its phrase; an acronym beside its expansion; near-identical
  spelling);
- articles: concept pages that open with a cited article and have a description in the index;
- s/source and tokens/source (prompt + completion) of the compile.

    .venv/bin/python bench/quality.py --model qwen2.5-coder-1.5b --sources 6 [--keep DIR] [--json]
    .venv/bin/python bench/quality.py --score DIR     # score a vault compiled before

`--record FILE` writes every sentence the gate judged (JSON lines: the sentence, its verdict, the
id of the text it was checked against) and those texts under FILE's folder, `texts/ID.txt`: what
the hand labels in bench/labels/ were made from (see bench/gate_labels.py).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from kb.core import concepts as C  # noqa: E402
from kb.core import terms as T  # noqa: E402
from kb.core.manifest import Manifest  # noqa: E402
from kb.core.vault import Vault  # noqa: E402

CORPUS = HERE.parent.parent / "shared" / "corpus" / "ml-blog"
# A fixed order, varied first (an optimizer, MoE, tokenization, kernels, distributed training,
# reasoning), so a small --sources still covers several kinds of post; then the rest by name.
FIRST = ["muon-optimizer.md", "everything-moe.md", "byte-latent-transformers.md",
         "grouped-gemms-and-moe.md", "streaming-diloco.md", "huatuogpt-o1-domain-specific-reasoning.md"]
GATE_LINE = re.compile(r"\] gate \| (\d+) kept, (\d+) dropped, (\d+) replaced")


def subset(n: int) -> list[Path]:
    names = FIRST + sorted(p.name for p in CORPUS.glob("*.md") if p.name not in FIRST)
    return [CORPUS / name for name in names if (CORPUS / name).exists()][:n]


def recording(path: Path):
    """Wraps the gate's judge so every call is written down (the bench's own hook; compile is
    unchanged)."""
    import hashlib
    from kb.core import grounding
    texts = path.parent / "texts"
    texts.mkdir(parents=True, exist_ok=True)
    out = path.open("a", encoding="utf-8")
    judge = grounding.check

    def check(sentence, source, **kw):
        v = judge(sentence, source, **kw)
        sid = hashlib.sha256(source.text.encode()).hexdigest()[:12]
        if not (texts / f"{sid}.txt").exists():
            (texts / f"{sid}.txt").write_text(source.text, encoding="utf-8")
        out.write(json.dumps({"sentence": sentence, "ok": v.ok, "overlap": round(v.overlap, 3),
                              "missing": list(v.missing), "text": sid,
                              "standalone": kw.get("standalone", False)}) + "\n")
        out.flush()
        return v
    grounding.check = check


def regate(path: Path) -> dict:
    """The grounded share of a recorded run judged again by today's gate (a run recorded before a
    change of the gate is not compiled again to score it); standalone as recorded, else plain."""
    from kb.core import grounding
    texts: dict[str, object] = {}
    n = ok = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["text"] not in texts:
            texts[row["text"]] = grounding.Source.of((path.parent / "texts" / f"{row['text']}.txt").read_text(encoding="utf-8"))
        n += 1
        ok += grounding.check(row["sentence"], texts[row["text"]], standalone=row.get("standalone", False)).ok
    return {"model_sentences": n, "grounded": round(ok / n, 3) if n else None}


def compile_vault(model: str, sources: list[Path], root: Path) -> dict:
    from kb.agents.engine import make_engine
    from kb.compile.job import Compile
    from kb.core import config, models
    if root.exists():
        shutil.rmtree(root)
    vault, _ = Vault.init(root, "")
    for p in sources:
        shutil.copy(p, vault.root / "raw" / p.name)
    engine = make_engine(config.load(None, {}, {("model", "name"): model}), models.models_dir())
    t0 = time.perf_counter()
    report = Compile(vault, lambda: engine).run()
    wall = time.perf_counter() - t0
    n = max(1, len(report.compiled))
    return {"model": model, "sources": len(report.compiled), "failed": len(report.failed),
            "s_per_source": round(wall / n, 1),
            "tokens_per_source": round((report.prompt_tokens + report.completion_tokens) / n)}


def duplicate_pairs(titles: list[str], sources: dict[str, set[str]] | None = None,
                    texts: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    """(a, b, why) for concept titles that name one idea. A head noun beside its phrase is one
    idea when one source says both ('Starter' in a note about a 'Sourdough starter'); with
    `sources` (title -> the sources of its page) pages of different sources are not paired
    ('Transformer' from one note, 'Global transformer' from another), and with `texts` (source ->
    its text) nor is a head noun that a shared source qualifies in two ways, each said twice
    ('small transformer', 'global transformer': there the head noun is the general idea)."""
    out = []
    keys = {t: T.root_key(t) for t in titles}
    for i, a in enumerate(titles):
        for b in titles[i + 1:]:
            ka, kb_ = keys[a], keys[b]
            if not ka or not kb_:
                continue
            if ka == kb_:
                why = "same name folded"
            elif ((" " not in ka and kb_.endswith(" " + ka)) or (" " not in kb_ and ka.endswith(" " + kb_))) \
                    and (sources is None or _one_kind(min(ka, kb_, key=len),
                                                      sources.get(a, set()) & sources.get(b, set()), texts)):
                why = "head noun beside its phrase"
            elif _acronym(a) == C.acronym_of(b) or _acronym(b) == C.acronym_of(a):
                why = "acronym beside its expansion"
            elif min(len(ka), len(kb_)) >= 6 and difflib.SequenceMatcher(None, ka, kb_).ratio() >= 0.9:
                why = "near-identical spelling"
            else:
                continue
            out.append((a, b, why))
    return out


DETERMINERS = set("a an the this that these those each every any some no our your their its his her my one".split())


def _one_kind(head: str, shared: set[str], texts: dict[str, str] | None) -> bool:
    """A shared source where `head` can only mean the one phrase: it names no two kinds of it."""
    if not shared:
        return False
    if texts is None:
        return True
    pat = re.compile(r"\b([a-z][a-z-]+)\s+" + re.escape(head) + r"(?:e?s)?\b", re.I)
    for src in shared:
        said: dict[str, int] = {}
        for q in pat.findall(texts.get(src, "")):
            if q.lower() not in DETERMINERS:
                said[q.lower()] = said.get(q.lower(), 0) + 1
        if sum(1 for n in said.values() if n >= 2) < 2:
            return True
    return False


def _acronym(title: str) -> str | None:
    """'MoE' -> 'ME' (its capitals), for a one-word title with at least two; else None."""
    caps = "".join(c for c in title if c.isupper())
    return caps if " " not in title and len(caps) >= 2 else None


def has_article(page) -> bool:
    parts = page.body.split("\n\n")
    first = parts[1] if len(parts) > 1 else ""
    return bool(first) and not first.startswith("#") and "([[" in first and bool(page.meta.get("description"))


def score(root: Path) -> dict:
    vault = Vault.open(root)
    kept = dropped = replaced = 0
    log = vault.root / "log.md"
    for m in GATE_LINE.finditer(log.read_text(encoding="utf-8") if log.exists() else ""):
        kept, dropped, replaced = kept + int(m[1]), dropped + int(m[2]), replaced + int(m[3])
    concept_pages = [vault.read(p) for p in vault.notes("wiki/concepts")]
    titles = [p.title for p in concept_pages]
    # everyday words, unless the page's own quotes use the title as a name ("the Adam optimizer")
    junk = sorted(p.title for p in concept_pages if T.is_junk(p.title) and T.evidence(p.title, p.body) != "name")
    texts = {}  # source page link -> its raw text
    for raw, entry in Manifest.load(vault).sources.items():
        if entry.get("page") and (vault.root / raw).exists():
            texts[entry["page"]] = (vault.root / raw).read_text(encoding="utf-8", errors="replace")
    links = {p.title: {m for m in texts if any(m[:-3] in str(s) for s in p.meta.get("sources") or [])}
             for p in concept_pages}
    dups = duplicate_pairs(titles, links, texts)
    articles = sum(has_article(p) for p in concept_pages)
    written = kept + dropped + replaced
    return {"model_sentences": written, "grounded": round(kept / written, 3) if written else None,
            "dropped": dropped, "replaced": replaced, "concepts": len(titles),
            "junk": len(junk), "junk_share": round(len(junk) / len(titles), 3) if titles else 0.0,
            "duplicate_pairs": len(dups), "with_article": articles,
            "article_share": round(articles / len(titles), 3) if titles else 0.0,
            "junk_titles": junk, "duplicates": [list(d) for d in dups]}


def table(row: dict) -> str:
    cols = [("model", "{}"), ("sources", "{}"), ("grounded", "{:.1%}"), ("concepts", "{}"),
            ("junk_share", "{:.1%}"), ("duplicate_pairs", "{}"), ("article_share", "{:.1%}"),
            ("s_per_source", "{}"), ("tokens_per_source", "{}")]
    head = "| " + " | ".join(c for c, _ in cols) + " |"
    cells = [(f.format(row[c]) if row.get(c) is not None else "-") for c, f in cols]
    return "\n".join([head, "|" + "---|" * len(cols), "| " + " | ".join(cells) + " |"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a bundled model name or a .gguf path")
    ap.add_argument("--sources", type=int, default=6, help="how many ml-blog notes (a fixed subset)")
    ap.add_argument("--keep", metavar="DIR", help="compile into DIR and keep it")
    ap.add_argument("--score", metavar="DIR", help="only score the vault in DIR (no compile)")
    ap.add_argument("--record", metavar="FILE", help="write every sentence the gate judged to FILE")
    ap.add_argument("--regate", metavar="FILE", help="with --score: the grounded share of a --record FILE "
                    "judged by today's gate")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.score and not args.model:
        ap.error("give --model NAME to compile, or --score DIR to score a vault")
    if args.sources < 1:
        ap.error("--sources must be at least 1")
    row: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.score or args.keep or Path(tmp) / "v")
        if args.record:
            recording(Path(args.record))
        if not args.score:
            row.update(compile_vault(args.model, subset(args.sources), root))
        elif not (root / ".kb").is_dir():
            print(f"quality: {root} is not a kb vault", file=sys.stderr)
            return 2
        row.update(score(root))
        if args.regate:
            row.update(regate(Path(args.regate)))
    row.setdefault("model", "(scored)")
    if args.json:
        print(json.dumps(row, indent=1))
    else:
        print(table(row))
        for t in row["junk_titles"]:
            print(f"  junk       {t}")
        for a, b, why in row["duplicates"]:
            print(f"  duplicate  {a} / {b} ({why})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
