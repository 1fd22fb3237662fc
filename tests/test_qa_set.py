"""The ml-blog question set (bench/qa/mlblog-qa.jsonl) checked against the real notes by
bench/qa/verify.py, and a corrupted copy shown to fail. No model is involved."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERIFY = ROOT / "bench" / "qa" / "verify.py"
QA = ROOT / "bench" / "qa" / "mlblog-qa.jsonl"
CORPUS = ROOT.parent / "shared" / "corpus" / "ml-blog"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"{CORPUS} is missing (the shared ml-blog corpus)")


def verify(qa: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VERIFY), str(qa), "--corpus", str(CORPUS)],
                          capture_output=True, text=True, timeout=120)


@needs_corpus
def test_question_set_verifies_against_the_notes():
    r = verify(QA)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().endswith("ok")


@needs_corpus
def test_a_wrong_count_fails(tmp_path):
    rows = [json.loads(ln) for ln in QA.read_text(encoding="utf-8").splitlines() if ln.strip()]
    row = next(q for q in rows if "count" in q.get("check", {}))
    row["check"]["count"] += 1  # the stated count no longer matches the notes
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in rows), encoding="utf-8")
    r = verify(bad)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{row['id']}: " in r.stdout and "the set says" in r.stdout


@needs_corpus
def test_an_absent_term_that_occurs_fails(tmp_path):
    rows = [json.loads(ln) for ln in QA.read_text(encoding="utf-8").splitlines() if ln.strip()]
    row = next(q for q in rows if q["type"] == "negative")
    row["absent"].append("Muon")  # a term the notes do contain
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in rows), encoding="utf-8")
    r = verify(bad)
    assert r.returncode == 1 and "'absent' term 'Muon' occurs" in r.stdout, r.stdout


def test_eval_loads_the_set():
    """Extra fields (sources, check, absent, variants) must not break kb eval's loader."""
    from kb.ask.eval import load_cases, score
    cases = load_cases(QA)
    rows = [json.loads(ln) for ln in QA.read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert [c.id for c in cases] == [r["id"] for r in rows]
    for c in cases:
        if c.type == "negative":
            assert score(c, "Not in the knowledge base.")
        else:
            assert not score(c, "Not in the knowledge base.")
