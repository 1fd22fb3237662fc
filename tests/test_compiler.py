"""The model's part of compile (agents/compiler.py) with a scripted engine: one constrained call
per chunk returns summary, key points and concepts; a source read in chunks is merged in code,
never by a call that reads a summary again; a reply cut off by max_tokens keeps what was whole."""

import json

from kb.agents.compiler import SourceCompiler, _loads
from kb.agents.fake_engine import FakeEngine


def _reply(summary: str, points: list[str], concepts: list[tuple[str, str]]) -> str:
    return json.dumps({"summary": summary, "key_points": points,
                       "concepts": [{"name": n, "claim": c} for n, c in concepts]})


def test_one_source_is_one_constrained_call_with_the_terms_as_an_enum():
    engine = FakeEngine([_reply("Kimchi is fermented napa cabbage. It keeps for months.",
                                ["Salt the cabbage at about 2-3% by weight."],
                                [("Kimchi", "Kimchi is fermented napa cabbage."), ("Napa cabbage", "")])])
    text = "# Kimchi\n\nKimchi is fermented napa cabbage. Salt the cabbage at about 2-3% by weight."
    a = SourceCompiler(engine).analyse("Kimchi", text, ["Kimchi", "Napa cabbage"])
    assert a.calls == 1 and len(engine.calls) == 1
    call = engine.calls[0]
    schema = call["json_schema"]
    assert list(schema["properties"]) == ["summary", "key_points", "concepts"]
    assert schema["properties"]["concepts"]["items"]["properties"]["name"] == {"enum": ["Kimchi", "Napa cabbage"]}
    assert "minLength" not in json.dumps(schema) and "maxLength" not in json.dumps(schema)
    user = call["messages"][-1]["content"]
    assert f"<document>\n{text}\n</document>" in user and "[Kimchi; Napa cabbage]" in user
    assert "Title:" not in user  # the document's own heading names it
    assert a.summary == "Kimchi is fermented napa cabbage. It keeps for months."
    assert a.key_points == ["Salt the cabbage at about 2-3% by weight."]
    assert [c["name"] for c in a.concepts] == ["Kimchi", "Napa cabbage"]


def test_a_long_source_is_read_once_per_chunk_and_merged_in_code():
    about = ["Muon", "Muon and Newton-Schulz", "Muon", "Adam", "Adam", "Adam compared with Muon"]
    paras = [f"Paragraph {i} talks about {t} at length. " + "word " * 300 for i, t in enumerate(about)]
    text = "\n\n".join(paras)
    replies = [_reply("Muon is an optimizer. It orthogonalises updates. It is fast. It is new.",
                      ["Muon orthogonalises each update matrix.", "Muon runs fast on GPUs."],
                      [("Muon", "Muon orthogonalises updates."), ("Newton-Schulz", "")]),
               _reply("Adam is an optimizer. It keeps moments. It is old. It is everywhere.",
                      ["Adam keeps two moment estimates.", "Muon runs fast on GPUs."],
                      [("Adam", "Adam keeps moments."), ("Muon", "Muon is compared with Adam.")])]
    engine = FakeEngine(replies)
    sc = SourceCompiler(engine, chunk_chars=5000)
    parts = sc.chunks(text)
    assert len(parts) == 2
    a = sc.analyse("Optimizers", text, ["Muon", "Adam", "Newton-Schulz"])
    assert a.calls == 2 and all(c["json_schema"] for c in engine.calls)
    users = [c["messages"][-1]["content"] for c in engine.calls]
    assert all(u.count("<document>") == 1 for u in users)
    assert not any("Muon is an optimizer" in u for u in users)  # no call reads a summary
    assert "Title: Optimizers (part 2 of 2)" in users[1]
    # each chunk is offered the terms it contains
    enums = [c["json_schema"]["properties"]["concepts"]["items"]["properties"]["name"]["enum"] for c in engine.calls]
    assert enums == [["Muon", "Newton-Schulz"], ["Muon", "Adam"]] and "[Muon; Adam]" in users[1]
    # summary: sentences from every chunk in turn, at most six, in document order
    assert a.summary == ("Muon is an optimizer. It orthogonalises updates. It is fast. "
                         "Adam is an optimizer. It keeps moments. It is old.")
    assert a.key_points == ["Muon orthogonalises each update matrix.", "Muon runs fast on GPUs.",
                            "Adam keeps two moment estimates."]
    # picked in both chunks first; the first claim stands
    assert a.concepts[0] == {"name": "Muon", "claim": "Muon orthogonalises updates."}
    assert {c["name"] for c in a.concepts} == {"Muon", "Adam", "Newton-Schulz"}


def test_a_short_tail_joins_the_chunk_before_it():
    sc = SourceCompiler(FakeEngine([]), chunk_chars=3000)
    parts = sc.chunks("\n\n".join(["a " * 1000, "b " * 1450, "c " * 200]))
    assert [p[0] for p in parts] == ["a", "b"] and parts[1].endswith("\n\n" + "c " * 200)
    assert [p[0] for p in sc.chunks("\n\n".join(["a " * 1000, "b " * 1450, "c " * 600]))] == ["a", "b", "c"]


def test_a_reply_cut_by_max_tokens_keeps_its_whole_values():
    cut = ('{"summary": "Muon is an optimizer.", "key_points": ["It is fast.", "It orthogonal'
           'ises upd')
    assert _loads(cut) == {"summary": "Muon is an optimizer.", "key_points": ["It is fast."]}
    assert _loads('{"summary": "Muon is an optimi') == {}
    assert _loads("not json") == {} and _loads("[1, 2]") == {}
    engine = FakeEngine([cut])
    a = SourceCompiler(engine).analyse("Muon", "# Muon\n\nMuon is an optimizer. It is fast.", ["Muon"])
    assert a.summary == "Muon is an optimizer." and a.key_points == [] and a.concepts == []


def test_an_unreadable_reply_falls_back_to_the_text():
    a = SourceCompiler(FakeEngine(["{}"])).analyse("Muon", "# Muon\n\nMuon is an optimizer.", [])
    assert a.summary.startswith("# Muon Muon is an optimizer") and a.concepts == []
