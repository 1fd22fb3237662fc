"""Finetuning data: grounding, dedup, the split by page, the cache, and loading with `datasets`.
A scripted engine here; test_finetune_e2e.py runs the real small model."""

import json
import shutil

from kb.compile.job import Compile
from kb.finetune.data import FinetuneData, answer_span, as_question, candidate_sentences, cloze, grounded
from kb.core.text import normalise
from kb.core.vault import Vault
from conftest import ROOT
from fakes import CompileFake

SAMPLES = sorted((ROOT / "vault" / "raw").glob("*.md"))


class QAFake:
    """Writes a question about the sentence's opening words; every third one gives the answer away."""

    name = "qa-fake"

    def __init__(self):
        self.calls = 0

    def chat(self, messages, *, json_schema=None, **kw):
        from kb.agents.engine import Reply, Usage
        self.calls += 1
        prompt = messages[-1]["content"]
        sentence = prompt.split("Sentence: ", 1)[1].split("\n", 1)[0]
        span = prompt.split("whose answer is exactly: ", 1)[1].split("\n", 1)[0]
        words = sentence.split()
        q = f"Is it {span}?" if self.calls % 3 == 0 else f"what does the note say about {words[0]} {words[1]}"
        return Reply(text=json.dumps({"question": q}), usage=Usage(50, 20))


def compiled(tmp_path) -> Vault:
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in SAMPLES:
        shutil.copy(p, vault.root / "raw" / p.name)
    Compile(vault, lambda: CompileFake()).run()
    return Vault.open(vault.root)


def test_grounding_rules():
    s = "Hot composting reaches 55-65 °C within days when the C:N ratio is about 30:1."
    assert grounded("What temperature does hot composting reach?", "55-65 °C", s) is None
    assert grounded("What temperature does it reach?", "100 °C", s) == "answer not in its sentence"
    assert grounded("Does it reach 55-65 °C?", "55-65 °C", s) == "question gives the answer away"
    assert grounded("temperature", "55-65 °C", s) == "not a question"
    assert answer_span("Brine it to about 2-3% salt by weight for Kimchi.") == "2-3%"
    assert answer_span("The recipe was written down by Maangchi in Seoul.") == "Maangchi"
    assert cloze("Kimchi", "Use 2-3% salt; 2-3% keeps it crisp.", "2-3%")["question"] == \
        "Fill in the blank (Kimchi): Use ____ salt; ____ keeps it crisp."
    assert cloze("Muon optimizer", "Muon beats Adam on speedruns.", "Muon")["question"] == \
        "Fill in the blank: ____ beats Adam on speedruns."
    assert as_question("what is the salt ratio") == "what is the salt ratio?" and as_question("Salt.") is None
    assert candidate_sentences("# T\n\nShort one.\n\nThe ratio is 30:1 for Hot Composting in the UK and in Spain.\n", 3) == \
        ["The ratio is 30:1 for Hot Composting in the UK and in Spain."]


def test_pairs_are_grounded_split_by_page_cached_and_load_with_datasets(tmp_path):
    import datasets
    vault = compiled(tmp_path)
    engine = QAFake()
    report = FinetuneData(vault, lambda: engine).run()
    assert report.kept > 10 and report.dropped.get("question gives the answer away", 0) >= 1
    assert report.train and report.validation and report.model_calls == engine.calls
    rows = {n: [json.loads(line) for line in open(report.files[n])] for n in ("train", "validation")}
    assert {r["page"] for r in rows["train"]}.isdisjoint({r["page"] for r in rows["validation"]})
    for row in rows["train"] + rows["validation"]:
        page = (vault.root / row["page"]).read_text()
        assert normalise(row["support"]) in normalise(page)  # the supporting sentence is in its page
        assert normalise(row["answer"]) in normalise(row["support"]) or row["kind"] == "passage"
        assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    qs = [normalise(r["messages"][1]["content"]) for r in rows["train"] + rows["validation"]]
    assert len(qs) == len(set(qs))
    ds = datasets.load_dataset("json", data_files={"train": report.files["train"],
                                                   "validation": report.files["validation"]})
    assert ds["train"].num_rows == report.train and ds["validation"].num_rows == report.validation
    assert (vault.root / "wiki/reports/finetune-data.md").exists()

    again = FinetuneData(Vault.open(vault.root), lambda: engine).run()  # nothing changed: no calls
    assert again.generated == 0 and again.model_calls == 0 and again.kept == report.kept
    page = vault.read("wiki/sources/Kimchi at home.md")
    page.body += "\nThe Kimchi Festival in Gwangju draws 300,000 visitors every October.\n"
    vault.write(page, force=True)
    third = FinetuneData(Vault.open(vault.root), lambda: engine).run()  # one page changed
    assert third.generated == 1 and third.model_calls >= 1


def test_questions_must_be_about_their_sentence():
    s = "The torchft poster's largest run used 72 GPUs across three regions."
    assert grounded("What is the answer to this question?", "72 GPUs", s) == "question not about its sentence"
    assert grounded("How many GPUs did the largest torchft run use?", "72 GPUs", s) is None


def test_closed_book_scoring_ignores_answers_the_question_gives():
    from kb.agents.engine import Reply, Usage
    from kb.finetune.closed_book import score as closed_book

    class Echo:
        def chat(self, messages, **kw):
            return Reply(text="It is 72 GPUs, as the question says: " + messages[-1]["content"], usage=Usage(1, 1))

    rows = [{"messages": [{}, {"content": "How many GPUs did the run use?"}], "answer": "72 GPUs"},
            {"messages": [{}, {"content": "Was it 72 GPUs?"}], "answer": "72 GPUs"}]
    assert [r["correct"] for r in closed_book(Echo(), rows)] == [True, False]
