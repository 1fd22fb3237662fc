"""The RLM loop with the real bundled small model over the real ml-blog corpus."""

import json

import pytest

from kb.agents.rlm import RLM, Budget
from kb.agents.sandbox import Limits
from conftest import CORPUS, run_kb


@pytest.mark.model
@pytest.mark.slow
def test_small_model_runs_the_loop_within_budget(tmp_path, small_model):
    from kb.agents.llama_engine import LlamaEngine
    assert run_kb("init", tmp_path / "v").returncode == 0
    pages = {p.name: p.read_text() for p in sorted((CORPUS / "ml-blog").glob("*.md"))}
    question = json.loads((CORPUS / "qa-dev.jsonl").read_text().splitlines()[1])["question"]
    engine = LlamaEngine(small_model, n_ctx=8192)
    budget = Budget(iterations=4, sub_calls=4, tokens=40_000, seconds=300, reply_tokens=200,
                    sub_reply_tokens=150)
    events = []
    rlm = RLM(engine, budget=budget, limits=Limits(cell_seconds=10),
              trace_dir=tmp_path / "v/.kb/traces", on_event=events.append)
    result = rlm.run(question, {"pages": pages})

    # it ends, within its budget, with a status and a reason when it did not finish
    assert result.status in {"final", "failed", "budget:iterations", "budget:tokens",
                             "budget:seconds", "budget:sub_calls"}
    assert result.status == "final" or result.reason
    assert 1 <= result.iterations <= budget.iterations
    assert result.sub_calls <= budget.sub_calls
    assert result.seconds < budget.seconds + 120  # the budget plus one last-word call
    # the corpus never entered the root prompt
    root_prompts = [e for e in events if e.type == "llm"]
    assert root_prompts and all(e.prompt_tokens < 6000 for e in root_prompts)
    # a trace on disk that the CLI shows
    types = [e.type for e in events]
    assert types[0] == "start" and types[-1] == "end" and "llm" in types
    shown = run_kb("trace", "show", result.trace_id, cwd=tmp_path / "v")
    assert shown.returncode == 0 and f"END status={result.status}" in shown.stdout
