"""kb eval: scoring rules, the report, and a real run of all three modes with the small model."""

import json

import pytest

from kb.core.errors import UsageError
from kb.ask.eval import Case, Result, load_cases, score, table
from kb.core.vault import Vault
from conftest import CORPUS, run_kb


def test_scoring_rules():
    any_of = Case("1", "lookup", "q", ["three", "3 tries"], [])
    all_of = Case("2", "multi", "q", [], ["qwen", "gpt-4o"])
    assert score(any_of, "Each gets THREE tries.") and not score(any_of, "Two.")
    assert score(all_of, "Qwen 2.5 base, GPT-4o verifier") and not score(all_of, "Qwen only")


def test_table_groups_by_mode_and_type():
    rs = [Result("1", "lookup", "rag", True, "a", [], 100, 1.0, "final"),
          Result("2", "negative", "rag", False, "b", [], 300, 3.0, "final"),
          Result("1", "lookup", "rlm", False, "c", [], 50, 2.0, "failed")]
    t = table(rs)
    assert "lookup" in t and "negative" in t
    rag = next(l for l in t.splitlines() if l.startswith("rag"))
    assert "1/1" in rag and "0/1" in rag and "1/2" in rag and " 200 " in rag


def test_bad_question_files(tmp_path):
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"id": "x", "question": "q"}\n')
    with pytest.raises(UsageError, match="needs 'accept'"):
        load_cases(bad)
    bad.write_text("not json\n")
    with pytest.raises(UsageError, match="qa.jsonl:1: not a question record"):
        load_cases(bad)
    assert len(load_cases(CORPUS / "qa-dev.jsonl")) == 12


@pytest.mark.model
@pytest.mark.slow
def test_eval_runs_all_modes_with_the_small_model(mlblog_vault):
    root, env, _ = mlblog_vault
    r = run_kb("eval", CORPUS / "qa-dev.jsonl", "--mode", "rlm,rag,stuff", "--limit", "3", "--json",
               cwd=root, env=env, timeout=1800)
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    assert len(results) == 9 and {x["mode"] for x in results} == {"rlm", "rag", "stuff"}
    vault = Vault.open(root)
    for x in results:
        assert x["error"] is None, x
        assert all((vault.root / p).exists() for p in x["cited"])  # every cited page exists
        assert x["tokens"] > 0 and x["seconds"] > 0
    r = run_kb("eval", CORPUS / "qa-dev.jsonl", "--mode", "rag", "--limit", "2", cwd=root, env=env, timeout=900)
    assert r.returncode == 0 and r.stdout.splitlines()[0].startswith("mode")
    r = run_kb("eval", CORPUS / "qa-dev.jsonl", "--mode", "magic", cwd=root, env=env)
    assert r.returncode == 2 and "unknown mode magic" in r.stderr


def test_a_negative_is_right_when_the_answer_is_a_refusal_as_ask_recognises_one():
    from kb.agents.answer import Answer
    neg = Case("n", "negative", "q", ["not in the knowledge base", "not mentioned"], [])
    for text in ("Not in the knowledge base.", "The notes do not say what learning rate was used.",
                 "The learning rate isn't stated; it is not mentioned in the documents."):
        assert score(neg, text) and Answer(text).not_found  # one definition: kb ask's own
    long = "The notes do not say. " + "But they describe the optimizer in great detail, with its history. " * 4
    assert not score(neg, long) and not Answer(long).not_found  # a long answer that mentions a gap answers
    assert not score(neg, "Streaming DiLoCo uses a learning rate of 0.7.")
    lookup = Case("l", "lookup", "q", ["not mentioned"], [])  # other types: substrings, as before
    assert score(lookup, "This is not mentioned anywhere, and it is a long answer. " * 5)
