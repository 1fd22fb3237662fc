"""The RLM loop driven by a scripted engine: the loop logic, not the model."""

import json

from kb.agents.fake_engine import FakeEngine
from kb.agents.rlm import RLM, Budget, describe, parse_reply
from kb.agents.sandbox import Limits
from kb.agents.trace import load
from conftest import run_kb


def code(src: str) -> str:
    return f"Let me look.\n```repl\n{src}\n```\n"


def make(script, sub=None, budget=None, tmp_path=None, **kw):
    root = FakeEngine(script)
    return root, RLM(root, sub_engine=FakeEngine(sub or []), budget=budget or Budget(),
                     limits=kw.pop("limits", Limits(cell_seconds=5)),
                     trace_dir=(tmp_path / "traces") if tmp_path else None, **kw)


def test_root_prompt_sees_names_types_sizes_not_content(tmp_path):
    secret = "the corpus text itself " * 50
    root, rlm = make(["FINAL(ok)"], tmp_path=tmp_path)
    r = rlm.run("What is it?", {"context": secret, "pages": {"a.md": "x" * 10}})
    prompt = "\n".join(m["content"] for m in root.calls[0]["messages"])
    assert "corpus text itself" not in prompt
    assert "context: str, 1,150 characters" in prompt
    assert "pages: dict[str, str], 1 items, 10 characters in all" in prompt
    assert r.status == "final" and r.answer == "ok" and r.iterations == 1


def test_multi_step_code_with_output_fed_back(tmp_path):
    root, rlm = make([code("n = len(context)\nprint('length', n)"),
                      code("print(context[:5].upper())"),
                      "FINAL(length is 11)"], tmp_path=tmp_path)
    r = rlm.run("How long?", {"context": "hello world"})
    assert (r.status, r.answer, r.iterations) == ("final", "length is 11", 3)
    second = root.calls[1]["messages"][-1]["content"]
    third = root.calls[2]["messages"][-1]["content"]
    assert "length 11" in second and "HELLO" in third


def test_sub_call_result_lands_in_a_variable_used_by_the_next_cell(tmp_path):
    root, rlm = make([code("summary = llm_query('Summarise: ' + context[:20])\nprint(summary)"),
                      code("answer = summary.lower() + ' (' + str(len(summary)) + ')'"),
                      "FINAL_VAR(answer)"],
                     sub=["A SHORT SUMMARY"], tmp_path=tmp_path)
    r = rlm.run("Summarise", {"context": "Muon is an optimizer for linear layers."})
    assert r.status == "final" and r.answer == "a short summary (15)"
    assert r.sub_calls == 1
    assert rlm.sub_engine.calls[0]["messages"][0]["content"] == "Summarise: Muon is an optimizer"
    events = load(tmp_path / "traces", r.trace_id)
    assert [e.type for e in events].count("subcall") == 1


def test_final_var_and_final_inside_code(tmp_path):
    _, rlm = make([code("x = 6 * 7\nFINAL_VAR('x')")], tmp_path=tmp_path)
    assert rlm.run("t", {}).answer == "42"
    _, rlm = make([code("FINAL('from code')")], tmp_path=tmp_path)
    assert rlm.run("t", {}).answer == "from code"
    _, rlm = make(["FINAL_VAR(nothing)", code("nothing = 'now it exists'"), "FINAL_VAR(nothing)"],
                  tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.answer == "now it exists" and r.iterations == 3
    # FINAL_VAR(answer) inside a cell hands over the value, not its name: a 0.5B wrote that, and
    # the child's "no variable named 'torchft calls the server ...'" sent it round until the budget ran out
    _, rlm = make([code("answer = 'a lighthouse server'"), code("FINAL_VAR(answer)")], tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert (r.answer, r.status, r.iterations) == ("a lighthouse server", "final", 2)
    _, rlm = make([code("FINAL_VAR('missing')"), "FINAL(done)"], tmp_path=tmp_path)
    assert rlm.run("t", {}).iterations == 2  # a name that is no variable is still an error to fix


def test_iteration_budget_ends_with_best_partial_answer(tmp_path):
    root, rlm = make([code("print('step 1')"), code("print('step 2 found: 42')"),
                      "FINAL(probably 42)"], budget=Budget(iterations=2), tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.status == "budget:iterations" and r.answer == "probably 42"
    assert "budget is used up" in root.calls[-1]["messages"][-1]["content"]


def test_token_budget(tmp_path):
    # the fake counts words as tokens; each reply here costs well over 30
    _, rlm = make([code("print('x')")] * 5 + ["no final here"], budget=Budget(tokens=30), tmp_path=tmp_path)
    r = rlm.run("t", {"context": "abc"})
    assert r.status == "budget:tokens" and r.iterations == 1
    assert r.answer == "x"  # the last output stands in as the partial answer


def test_sub_call_budget(tmp_path):
    _, rlm = make([code("a = [llm_query(str(i)) for i in range(5)]"), "FINAL(x)"],
                  sub=["s"] * 5, budget=Budget(sub_calls=2), tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.status == "budget:sub_calls" and r.sub_calls == 2


def test_a_cell_that_raises_returns_its_traceback(tmp_path):
    root, rlm = make([code("1/0"), "FINAL(recovered)"], tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.answer == "recovered"
    fed_back = root.calls[1]["messages"][-1]["content"]
    assert "ZeroDivisionError" in fed_back and "<cell>" in fed_back


def test_a_cell_that_loops_forever_is_killed_and_the_loop_goes_on(tmp_path):
    root, rlm = make([code("mine = 1\nwhile True:\n    pass"), code("print(len(context), 'mine' in dir())"),
                      "FINAL(done)"], limits=Limits(cell_seconds=1.5), tmp_path=tmp_path)
    r = rlm.run("t", {"context": "abcd"})
    assert r.status == "final" and r.answer == "done"
    assert "wall-time limit" in root.calls[1]["messages"][-1]["content"]
    assert "4 False" in root.calls[2]["messages"][-1]["content"]  # fresh child, inputs restored


def test_malformed_replies_end_cleanly(tmp_path):
    _, rlm = make(["I think the answer is", "```repl\nunclosed(", "Hmm."], tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.status == "failed" and "no code and no FINAL" in r.reason


def test_repeated_failing_code_ends_cleanly(tmp_path):
    _, rlm = make([code(f"undefined_name_{i}") for i in range(3)] + ["no final"], tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.status == "failed" and "failed to run" in r.reason and r.iterations == 3


def test_repeating_the_same_code_is_nudged_then_stopped(tmp_path):
    root, rlm = make([code("print(1)")] * 4 + ["no final"], tmp_path=tmp_path)
    r = rlm.run("t", {})
    assert r.status == "failed" and "repeating the same code" in r.reason
    assert "already ran exactly this code" in root.calls[2]["messages"][-1]["content"]


def test_example_cell_uses_the_real_variable_and_a_word_from_the_task():
    from kb.agents.rlm import example_cell
    cell = example_cell("Which layers was Muon designed for?", {"pages": {"a.md": "x"}})
    assert "pages.items()" in cell and "'muon'" in cell


def test_engine_failure_is_a_status_not_a_crash(tmp_path):
    _, rlm = make([code("print(1)")], tmp_path=tmp_path)  # script runs out on the 2nd call
    r = rlm.run("t", {})
    assert r.status == "failed" and "script exhausted" in r.reason


def test_parse_reply():
    assert parse_reply("```python\nx=1\n```\n```repl\ny=2\n```") == (["x=1\n", "y=2\n"], None, None)
    assert parse_reply("```repl\nx=1\n```\n```repl\nx=1\n```")[0] == ["x=1\n"]  # duplicates run once
    assert parse_reply('FINAL("quoted")') == ([], "quoted", None)
    assert parse_reply("```repl\nFINAL(x)\n```") == (["FINAL(x)\n"], None, None)  # in code: not text
    assert parse_reply("FINAL_VAR( 'ans' )")[2] == "ans"
    assert describe([1, 2]) == "list[int], 2 items, 2 characters in all"


def test_trace_written_and_shown_by_the_cli(tmp_path):
    assert run_kb("init", tmp_path / "v").returncode == 0
    _, rlm = make([code("print('hello from the cell')"), "FINAL(bye)"])
    rlm.trace_dir = tmp_path / "v" / ".kb" / "traces"
    seen = []
    rlm.on_event = seen.append
    r = rlm.run("Say bye", {"context": "x"})
    assert [e.type for e in seen] == ["start", "llm", "code", "output", "llm", "end"]
    lines = (tmp_path / "v/.kb/traces" / f"{r.trace_id}.jsonl").read_text().splitlines()
    assert [json.loads(l) for l in lines] == [e.as_dict() for e in seen]
    shown = run_kb("trace", "show", "last", cwd=tmp_path / "v")
    assert shown.returncode == 0
    assert "hello from the cell" in shown.stdout and "END status=final" in shown.stdout
    assert r.trace_id in run_kb("trace", "list", cwd=tmp_path / "v").stdout
    missing = run_kb("trace", "show", "nope", cwd=tmp_path / "v")
    assert missing.returncode == 1 and missing.stderr.startswith("kb: error: no trace")


def test_first_cell_runs_before_the_model_and_answer_var_is_the_fallback(tmp_path):
    root, rlm = make(["I am not sure what to do.", "Still unsure.", "Hmm."], tmp_path=tmp_path)
    r = rlm.run("t", {"context": "Keller Jordan, at OpenAI"},
                first_cell="answer = context.split(',')[0]\nprint('answer =', answer)", answer_var="answer")
    first_prompt = root.calls[0]["messages"]
    assert "answer = Keller Jordan" in first_prompt[-1]["content"]  # the model saw the seeded output
    assert r.status == "failed" and r.answer == "Keller Jordan" and r.answer_from == "variable"


def test_a_model_that_overwrites_kbs_answer_and_never_finishes_does_not_get_its_overwrite_published(tmp_path):
    """A 0.5B replaced kb's "3 notes mention Claude: ..." with '3 notes match', then repeated
    itself until the loop stopped: without FINAL, the answer is what kb's own cell computed."""
    clobber = code("answer = 'some notes match'")
    _, rlm = make([clobber, clobber, clobber, clobber], tmp_path=tmp_path)
    r = rlm.run("t", {"context": "Keller Jordan, at OpenAI"}, answer_var="answer",
                first_cell="answer = context.split(',')[0]\nprint('answer =', answer)")
    assert r.status == "failed" and r.answer == "Keller Jordan"
    _, rlm = make([code("answer = 'Keller Jordan at OpenAI'"), "FINAL_VAR(answer)"], tmp_path=tmp_path)
    r = rlm.run("t", {"context": "Keller Jordan, at OpenAI"}, answer_var="answer",
                first_cell="answer = context.split(',')[0]\nprint('answer =', answer)")
    assert r.status == "final" and r.answer == "Keller Jordan at OpenAI"  # a finished run says what it chose
