"""The agent layer's typed seams: the REPL's tools are defined once, each with its doc, and ask
and lint get the same ones; trace events are dataclasses that write the JSON lines they read back."""

import json

import pytest

from kb.agents import trace as T
from kb.agents.fake_engine import FakeEngine
from kb.agents.rlm import RLM
from kb.agents.sandbox import Limits
from kb.ask.job import Ask, AskSettings
from kb.lint.job import Lint
from kb.tools.repl import Corpus, ToolInfo, Tools, index_search
from conftest import run_kb, sample_vault
from fakes import LintFake



@pytest.fixture
def vault(tmp_path):
    return sample_vault(tmp_path)


def ask_fake() -> FakeEngine:
    """Root model: take the seeded cell's answer; sub-model: answer from the text."""
    reply = lambda m: "FINAL_VAR(answer)" if m[0]["role"] == "system" else "Brine it to about 2-3% salt."  # noqa: E731
    return FakeEngine([reply] * 10)


def test_ask_and_lint_get_the_same_tools_each_with_its_doc(vault, monkeypatch):
    built = []
    init = RLM.__init__

    def spy(self, engine, **kw):
        built.append(list(kw.get("tools", ())))
        init(self, engine, **kw)

    monkeypatch.setattr(RLM, "__init__", spy)
    engine = ask_fake()
    Ask(vault, lambda: engine).answer("How much salt for kimchi?", "rlm")
    Lint(vault, lambda: LintFake()).run(write_report=False)
    ask_tools, lint_tools = built
    assert [t.name for t in ask_tools] == [t.name for t in lint_tools] == ["search", "read", "grep"]
    for a, b in zip(ask_tools, lint_tools):
        assert isinstance(a, ToolInfo) and a.signature.startswith(a.name + "(") and len(a.doc) > 10
        assert (a.signature, a.doc) == (b.signature, b.doc)
        assert a.fn.__func__ is b.fn.__func__ is getattr(Tools, a.name)  # one definition, two corpora
    system = next(c["messages"][0]["content"] for c in engine.calls  # the loop's prompt, not the typed choice's
                  if c["messages"][0]["role"] == "system" and c["json_schema"] is None)
    for line in ("llm_query(prompt) -> str: ask a helper model", "llm_query_batched(prompts) -> list[str]: ",
                 *(t.line for t in ask_tools)):  # the root model reads each tool with its doc
        assert f"- {line}" in system


def test_tools_read_by_path_or_title_record_reads_and_search_the_index(vault):
    corpus = Corpus(texts={"wiki/sources/K.md": "summary", "raw/k.md": "the full source", "wiki/c.md": "c"},
                    titles={"wiki/sources/K.md": "Kimchi", "wiki/c.md": "Compost"},
                    page_of={"raw/k.md": "wiki/sources/K.md"}, raw_of={"wiki/sources/K.md": "raw/k.md"})
    tools = Tools(corpus, index_search(vault))
    assert tools.read("compost") == "c"
    assert tools.read("wiki/sources/K.md") == "summary\n\n--- full text of the source ---\n\nthe full source"
    with pytest.raises(KeyError, match="no page 'nope'"):
        tools.read("nope")
    assert tools.reads == ["wiki/c.md", "wiki/sources/K.md"]
    hits = tools.search("salt kimchi", 500)  # k is clamped, the query is the real index's
    assert 1 <= len(hits) <= 20 and {"path", "title", "kind", "score", "snippet"} <= set(hits[0])
    assert any("Kimchi" in h["path"] for h in hits)


def test_trace_events_round_trip_to_the_same_json_lines(tmp_path):
    assert run_kb("init", tmp_path / "v").returncode == 0
    tdir = tmp_path / "v" / ".kb" / "traces"
    seen = []
    root = FakeEngine(["```repl\nanswer = answer + '!'\nprint(answer)\n```", "FINAL_VAR(answer)"])
    rlm = RLM(root, sub_engine=FakeEngine(["Keller Jordan"]), limits=Limits(cell_seconds=5),
              trace_dir=tdir, on_event=seen.append)
    r = rlm.run("Who?", {"context": "Keller Jordan, at OpenAI"}, answer_var="answer",
                first_cell="answer = llm_query('Who? ' + context)\nprint('answer =', answer)")
    assert r.answer == "Keller Jordan!"
    assert [e.type for e in seen] == ["start", "code", "subcall", "output", "draft", "llm", "code", "output",
                                      "draft", "llm", "end"]
    assert [e.answer for e in seen if isinstance(e, T.Draft)] == ["Keller Jordan", "Keller Jordan!"]
    written = [e for e in seen if not e.live]  # a draft is offered live, never written
    lines = (tdir / f"{r.trace_id}.jsonl").read_text(encoding="utf-8").splitlines()
    assert lines == [json.dumps(e.as_dict(), ensure_ascii=False) for e in written]
    assert T.load(tdir, r.trace_id) == written
    shapes = [list(e.as_dict()) for e in written]
    assert shapes[0] == ["type", "t", "task", "variables", "budget", "system_chars"]
    assert shapes[1] == ["type", "t", "iteration", "cell", "code", "seeded"] and "seeded" not in shapes[5]
    assert shapes[2] == ["type", "t", "fn", "input", "output", "prompt_tokens", "completion_tokens", "seconds"]
    assert shapes[3] == ["type", "t", "iteration", "cell", "output", "error", "killed", "seconds", "calls"]
    assert shapes[4] == ["type", "t", "iteration", "text", "prompt_tokens", "completion_tokens",
                         "cached_tokens", "seconds", "history_chars"]
    assert shapes[-1] == ["type", "t", "status", "reason", "answer", "iterations", "sub_calls", "tokens", "seconds"]
    shown = run_kb("trace", "show", r.trace_id, "--json", cwd=tmp_path / "v")
    assert shown.returncode == 0 and shown.stdout.splitlines() == lines


def test_a_one_prompt_ask_writes_its_own_fields(vault):
    Ask(vault, lambda: FakeEngine(["Kimchi ferments best at 18-22 °C [1]."]),
        settings=AskSettings(context_tokens=4096)).answer("At what temperature does kimchi ferment?", "rag")
    events = T.load(vault.state_dir / "traces", "last")
    assert [list(e.as_dict()) for e in events] == [
        ["type", "t", "task", "mode"],
        ["type", "t", "iteration", "text", "prompt_tokens", "completion_tokens", "seconds", "documents"],
        ["type", "t", "status", "answer", "iterations", "sub_calls", "tokens", "seconds"]]
    assert events[0].mode == "rag" and events[1].documents


def test_lines_this_schema_does_not_know_are_kept_as_read(tmp_path):
    assert run_kb("init", tmp_path / "v").returncode == 0
    tdir = tmp_path / "v" / ".kb" / "traces"
    lines = ['{"type": "mystery", "t": 1.5, "x": 1}', '{"type": "end", "t": 2', '{"type": "end", "status": "final"}']
    (tdir / "20260101-000000-abcdef.jsonl").write_text("\n".join(lines) + "\n")
    events = T.load(tdir, "last")
    assert [type(e) for e in events] == [T.Other, T.Corrupt, T.Other]  # the last lacks `t`: not ours
    shown = run_kb("trace", "show", "last", "--json", cwd=tmp_path / "v")
    assert shown.stdout.splitlines() == [lines[0], '{"type": "corrupt", "line": 2}', lines[2]]
    text = run_kb("trace", "show", "last", cwd=tmp_path / "v").stdout
    assert '[   1.50s] mystery {"x": 1}' in text


def test_llm_query_batched_is_a_listed_tool_that_makes_one_sub_call_each():
    seen = []
    rlm = RLM(FakeEngine(["```repl\nreplies = llm_query_batched(['a', 'b'])\nprint(replies)\n```",
                          "FINAL_VAR(replies)"]),
              sub_engine=FakeEngine(["one", "two"]), limits=Limits(cell_seconds=5), on_event=seen.append)
    r = rlm.run("t", {"context": "x"})
    assert r.status == "final" and "'one', 'two'" in str(r.answer) and r.sub_calls == 2
    assert [e.input for e in seen if isinstance(e, T.SubCall)] == ["a", "b"]
