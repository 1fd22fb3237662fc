"""bench/quality.py's code judges (the benchmark itself runs a real model; these do not)."""

import shutil
import sys

from kb.compile.job import Compile
from kb.core.vault import Vault
from conftest import ROOT
from fakes import CompileFake

sys.path.insert(0, str(ROOT / "bench"))
import quality  # noqa: E402


def test_duplicate_pairs_name_why():
    pairs = quality.duplicate_pairs(["GPU", "GPUs", "Compost", "Composting", "Starter", "Sourdough starter",
                                     "MoE", "Mixture of Experts", "Lactic acid", "Lactic acid bacteria"])
    why = {(a, b): w for a, b, w in pairs}
    assert why == {("GPU", "GPUs"): "same name folded", ("Compost", "Composting"): "same name folded",
                   ("Starter", "Sourdough starter"): "head noun beside its phrase",
                   ("MoE", "Mixture of Experts"): "acronym beside its expansion"}


def test_a_head_noun_is_paired_with_its_phrase_only_when_one_source_says_both():
    one = {"Starter": {"[[raw/a]]"}, "Sourdough starter": {"[[raw/a]]", "[[raw/b]]"}}
    assert quality.duplicate_pairs(["Starter", "Sourdough starter"], one)
    two = {"Transformer": {"[[raw/a]]"}, "Global transformer": {"[[raw/b]]"}}
    assert quality.duplicate_pairs(["Transformer", "Global transformer"], two) == []


def test_score_reads_the_gate_from_the_log_and_finds_articles(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    for p in quality.subset(3):
        shutil.copy(p, vault.root / "raw" / p.name)
    report = Compile(vault, lambda: CompileFake()).run()
    row = quality.score(vault.root)
    g = report.gate
    assert row["model_sentences"] == g["kept"] + g["dropped"] + g["replaced"] > 0
    assert row["grounded"] == round(g["kept"] / row["model_sentences"], 3)
    assert row["concepts"] == len(vault.notes("wiki/concepts")) and row["article_share"] == 1.0
    assert "| grounded |" in quality.table(dict(row, model="fake", sources=3))


def test_a_head_noun_the_source_qualifies_two_ways_is_the_general_idea():
    """'Transformer' beside 'Global transformer' in a note that says 'small transformer' and
    'global transformer' twice each is the architecture, not shorthand; 'Starter' in a note about
    a 'sourdough starter' (a 'stiffer starter' once) is that starter."""
    blt = "A small transformer encodes. A small transformer decodes. The global transformer is large. Global transformers."
    starter = "A sourdough starter is yeast. Feed the sourdough starter. A stiffer starter ferments slowly."
    src = {"Transformer": {"b"}, "Global transformer": {"b"}, "Starter": {"s"}, "Sourdough starter": {"s"}}
    pairs = quality.duplicate_pairs(["Transformer", "Global transformer", "Starter", "Sourdough starter"],
                                    src, {"b": blt, "s": starter})
    assert [(a, b) for a, b, _ in pairs] == [("Starter", "Sourdough starter")]
