"""The grounding gate: model sentences reach a page only when their source backs them. Unit
checks of the judge, then a compile with a scripted engine that writes one invented sentence."""

import json

from kb.agents.fake_engine import FakeEngine
from kb.compile.job import Compile
from kb.core.grounding import Gate, Source, check
from kb.core.vault import Vault
from conftest import ROOT, run_kb

STARTER = (ROOT / "vault" / "raw" / "sourdough-starter.md").read_text()


def test_judge_keeps_the_sources_wording_and_catches_invented_names_numbers_words_and_relations():
    src = Source.of(STARTER)
    assert check("A sourdough starter is a small, stable community of wild yeast and lactic acid "
                 "bacteria.", src).ok
    assert check("At 24-26 °C the starter doubles in about 4-6 hours.", src).ok
    assert check("Overall, the document says a starter kept cold gets sour.", src).ok  # openers are no names
    wrong_number = check("At 24-26 °C the starter doubles in about 2 hours.", src)
    assert not wrong_number.ok and wrong_number.missing == ("2",)
    invented_name = check("The starter was first described by Louis Pasteur in flour and water.", src)
    assert not invented_name.ok and {"Louis", "Pasteur"} <= set(invented_name.missing)
    assert not check("Sourdough is a type of beverage that is popular in cooking competitions.", src).ok
    # every word is the source's, the relation is not: a small model's commonest false sentence
    assert not check("Wild yeast is a small, stable community of sourdough starter and lactic acid.", src).ok
    # a name keeps its digits: 'Gemma 3 27B' is backed only by a source that says 27B
    gemma = Source.of("We compared Gemma 3 27B with Llama 3 8B on the same prompts.")
    assert check("The note compared Gemma 3 27B with Llama 3 8B on the same prompts.", gemma).ok
    assert check("The note compared Gemma 3 12B with Llama 3 8B on the same prompts.", gemma).missing == ("12",)


def test_gate_drops_or_replaces_and_counts():
    src = Source.of(STARTER)
    gate = Gate()
    text = ("A sourdough starter is a small, stable community of wild yeast and lactic acid bacteria. "
            "Sourdough was invented by NASA engineers in 1969. "
            "The starter doubles in about 2 hours at 24-26 °C.")
    out = gate.paragraph(text, src)
    assert "NASA" not in out and "1969" not in out and "2 hours" not in out
    assert out.startswith("A sourdough starter is a small, stable community")
    assert "At 24-26 °C the starter doubles in about 4-6 hours" in out  # the source's own sentence
    assert gate.counts() == {"kept": 1, "dropped": 1, "replaced": 1}


def _vault(tmp_path) -> Vault:
    vault, _ = Vault.init(tmp_path / "v", "")
    (vault.root / "raw" / "sourdough-starter.md").write_text(STARTER)
    return vault


def test_compile_publishes_the_grounded_sentence_and_not_the_invented_one(tmp_path):
    vault = _vault(tmp_path)
    summary = ("A sourdough starter is a small, stable community of wild yeast and lactic acid bacteria. "
               "It was first sold by the Boudin Bakery in San Francisco in 1849.")
    analysis = json.dumps({"summary": summary,
                           "key_points": ["I feed mine once a day at a 1:1:1 ratio by weight.",
                                          "Starters are best kept in a 45 °C oven by Nordic bakers."],
                           "concepts": [{"name": "Lactic acid bacteria",
                                         "claim": "The lactic acid bacteria make the lactic and acetic acids."}]})
    engine = FakeEngine([analysis] + ["{}"] * 10)
    report = Compile(vault, lambda: engine).run()
    body = (vault.root / "wiki/sources/Keeping a sourdough starter.md").read_text()
    assert "A sourdough starter is a small, stable community of wild yeast" in body
    assert "Boudin" not in body and "1849" not in body
    assert "1:1:1 ratio" in body and "Nordic" not in body and "45 °C" not in body
    assert "make the lactic and acetic acids" in body
    assert report.gate["kept"] == 3 and report.gate["dropped"] + report.gate["replaced"] == 2
    assert "] gate | 3 kept" in (vault.root / "log.md").read_text()


def test_report_dict_carries_gate_counts(tmp_path):
    """`kb compile --json` prints Report.as_dict(): the gate's counts are in it."""
    vault = _vault(tmp_path)
    engine = FakeEngine([json.dumps({"summary": "A sourdough starter is a small, stable community of wild yeast.",
                                     "key_points": [], "concepts": []})] + ["{}"] * 10)
    out = json.loads(json.dumps(Compile(vault, lambda: engine).run().as_dict()))
    assert out["gate"] == {"kept": 1, "dropped": 0, "replaced": 0}


def test_an_article_holds_each_source_sentence_once(tmp_path):
    """Drafted sentences that fail the gate are stood in for by source text, and one stand-in can
    hold two sentences (a quote the splitter kept whole): the article says each sentence once."""
    from kb.compile.articles import Articles, Feed

    stand_ins = iter(["Friendship ended with Adam, now Muon is my best friend. You pair it up with Adam.",
                      "You pair it up with Adam.", None])

    class StandIns(Gate):  # the gate's verdicts, scripted: what Articles does with them is tested
        def sentence(self, sentence, source, *, replace=True, used=frozenset()):
            return next(stand_ins)

    vault, _ = Vault.init(tmp_path / "v", "")
    arts = Articles(vault, None)
    arts.draft = lambda title, feeds: [{"source": 1, "text": f"draft {i}"} for i in range(3)]
    got = arts.sentences("Adam", [Feed("wiki/sources/Muon.md", "Muon", ["Muon and Adam."])], StandIns())
    text = " ".join(s for s, _ in got)
    assert text.count("You pair it up with Adam.") == 1 and "best friend" in text


def test_a_standalone_sentence_must_be_a_statement():
    """A key point, claim or article sentence is read alone: a pronoun opening it points nowhere
    (the 0.5B model wrote Muon's "It's designed for linear layers" under Adam) and a label states
    nothing; inside a summary, "It ..." after its subject is fine."""
    src = Source.of("Muon is designed for linear layers, so you need to pair it up with Adam for most usage. "
                    "DeepSeek v3 is about decoupling capacity and compute.")
    assert not check("It's designed for linear layers and flattened convs", src, standalone=True).ok
    assert not check("Decoupling capacity and compute", src, standalone=True).ok
    assert check("Decoupling capacity and compute", src).ok  # the plain check: words all there
    assert check("Muon is designed for linear layers.", src, standalone=True).ok
    gate = Gate()
    para = gate.paragraph("Muon is designed for linear layers. It is designed for linear layers, so you "
                          "need to pair it up with Adam.", src)
    assert para.endswith(" It is designed for linear layers, so you need to pair it up with Adam.")
