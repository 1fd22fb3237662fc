"""Search: a real whoosh index on disk, through the CLI and the API."""

import json

import pytest

from kb.core.vault import Vault
from kb.tools.search import SearchIndex
from conftest import CORPUS, run_kb, write
from fakes import CompileFake


@pytest.fixture
def vault(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", "")
    write(vault.root, "wiki/concepts/Muon.md", "---\ntitle: Muon\naliases: [Muon optimizer]\ntags: [optimizer]\n---\n"
          "# Muon\n\nAn optimizer for linear layers, paired with AdamW for the rest.\n")
    write(vault.root, "wiki/concepts/Mixture of Experts.md", "---\ntitle: Mixture of Experts\naliases: [MoE]\n---\n"
          "# Mixture of Experts\n\nA router sends each token to a few experts.\n")
    write(vault.root, "wiki/sources/Perplexity.md", "---\ntitle: Perplexity\n---\n# Perplexity\n\n"
          "Cross-entropy of 0.693 at probability 0.5.\n")
    write(vault.root, "raw/note.txt", "A raw note about routers and load balancing losses.\n")
    return vault


def test_ranked_results_with_snippets_and_stemming(vault):
    index = SearchIndex(vault)
    stats = index.sync()
    assert stats["documents"] == 4
    hits = index.search("experts routing", 3)
    assert hits[0].path == "wiki/concepts/Mixture of Experts.md"  # "expert(s)" stems alike
    assert "**" in hits[0].snippet
    assert index.search("MoE", 1)[0].title == "Mixture of Experts"  # aliases are indexed
    assert [h.kind for h in index.search("router", 5, kinds=("raw",))] == ["raw"]
    assert index.search("What is Muon? (AND OR NOT *)", 1)[0].title == "Muon"  # prose, not syntax


def test_incremental_update_without_rebuild(vault):
    index = SearchIndex(vault)
    index.sync()
    assert index.search("zymurgy", 5) == []
    p = vault.root / "wiki/concepts/Muon.md"
    p.write_text(p.read_text() + "\nSee also zymurgy.\n")
    stats = index.sync()
    assert (stats["added"], stats["updated"], stats["removed"]) == (0, 1, 0)
    assert index.search("zymurgy", 5)[0].path == "wiki/concepts/Muon.md"
    (vault.root / "wiki/sources/Perplexity.md").unlink()
    stats = index.sync()
    assert stats["removed"] == 1 and index.search("perplexity", 5) == []
    assert index.sync() == {"added": 0, "updated": 0, "removed": 0, "documents": 3}


def test_cli_search_json_and_reindex(vault):
    r = run_kb("search", "--json", "-k", "2", "linear layers optimizer", cwd=vault.root)
    assert r.returncode == 0, r.stderr
    hits = json.loads(r.stdout)
    assert hits[0]["path"] == "wiki/concepts/Muon.md" and set(hits[0]) >= {"title", "score", "snippet"}
    r = run_kb("search", "cross entropy", cwd=vault.root)
    assert "1. Perplexity  [source]" in r.stdout
    r = run_kb("reindex", cwd=vault.root)
    assert r.returncode == 0 and "4 documents" in r.stdout
    r = run_kb("search", "xyzzy-nothing", cwd=vault.root)
    assert r.returncode == 0 and "no results" in r.stdout
    r = run_kb("search", "", cwd=vault.root)
    assert r.returncode == 2 and r.stderr.startswith("kb: error: empty search query")


def test_compile_keeps_an_existing_index_in_step(tmp_path):
    from kb.compile.job import Compile
    vault, _ = Vault.init(tmp_path / "v", "")
    write(vault.root, "raw/a.md", "# Alpha\n\nThe Zorblax Engine is fast. The Zorblax Engine is new.\n")
    SearchIndex(vault).sync()
    Compile(vault, lambda: CompileFake()).run()
    hits = SearchIndex(vault).search("Zorblax", 5)
    assert "wiki/sources/Alpha.md" in [h.path for h in hits]
    (vault.root / "raw/a.md").unlink()
    Compile(Vault.open(vault.root), lambda: CompileFake()).run()
    assert "wiki/sources/Alpha.md" not in [h.path for h in SearchIndex(vault).search("Zorblax", 5)]


def _whoosh_results(index, query, k):
    """The same query ranked and highlighted by whoosh's own matcher and highlighter, every
    document scored (whoosh's pruning drops exhausted terms from the coordination count as it
    walks, so its scores depended on where a document sat in the index)."""
    from whoosh import collectors, highlight
    from kb.tools import ranking
    from kb.tools.search import _earliest_first, _plain
    warm = ranking.warm(index.dir)
    collector = collectors.TopCollector(limit=k, usequality=False, replace=0)
    warm.searcher.search_with_collector(warm.parser.parse(_plain(query)), collector)
    results = collector.results()
    results.fragmenter = highlight.ContextFragmenter(maxchars=200, surround=60)
    results.formatter = highlight.HtmlFormatter(tagname="b", classname="", termclass="")
    results.scorer = _earliest_first
    return results


def test_ranking_and_snippets_match_whoosh_on_real_pages(vault):
    from kb.tools import snippets
    for p in sorted((CORPUS / "ml-blog").glob("*.md"))[:8]:
        write(vault.root, f"wiki/sources/{p.stem}.md", p.read_text())
    index = SearchIndex(vault)
    index.sync()
    queries = ["Muon optimizer for linear layers", "mixture of experts router load balancing",
               "attention compression next token", "the byte latent model", "MoE", "what was it"]
    for q in queries:
        ours = index.search(q, 5)
        theirs = _whoosh_results(index, q, 5)
        assert [h.path for h in ours] == [r["path"] for r in theirs], q
        assert [h.score for h in ours] == [round(r.score, 3) for r in theirs], q
        assert ours and all(snippets.highlight(r, "body", 2) == r.highlights("body", top=2) for r in theirs), q


def test_one_warm_searcher_per_index_generation(vault):
    from kb.tools import ranking
    index = SearchIndex(vault)
    index.sync()
    index.search("optimizer", 3)
    warm = ranking.warm(index.dir)
    assert SearchIndex(vault).search("router", 3) and ranking.warm(index.dir) is warm  # reused
    assert index.sync()["updated"] == 0 and ranking.warm(index.dir) is warm  # no-op: no new generation
    p = vault.root / "wiki/concepts/Muon.md"
    p.write_text(p.read_text() + "\nSee also zymurgy.\n")
    index.sync()
    assert index.search("zymurgy", 1)[0].path == "wiki/concepts/Muon.md"
    assert ranking.warm(index.dir) is not warm
    index.rebuild()
    assert index.search("zymurgy", 1)[0].path == "wiki/concepts/Muon.md"


def test_an_index_written_by_an_older_schema_is_rebuilt(vault):
    from whoosh import index as windex
    from whoosh.fields import ID, TEXT, Schema
    old = vault.state_dir / "search"
    old.mkdir(parents=True)
    w = windex.create_in(str(old), Schema(path=ID(unique=True, stored=True), body=TEXT(stored=True))).writer()
    w.add_document(path="wiki/concepts/Muon.md", body="stale")
    w.commit()
    index = SearchIndex(vault)
    assert index.sync(["wiki/concepts/Muon.md"])["documents"] == 4  # not just the path asked for
    assert index.search("MoE", 1)[0].title == "Mixture of Experts"


@pytest.mark.model
@pytest.mark.slow
def test_recall_at_5_on_qa_dev(mlblog_vault):
    from kb.core.manifest import Manifest
    root, env, _ = mlblog_vault
    m = Manifest.load(Vault.open(root))
    questions = [json.loads(l) for l in (CORPUS / "qa-dev.jsonl").read_text().splitlines()]
    found = total = 0
    for q in questions:
        if not q["sources"]:
            continue
        r = run_kb("search", "--json", "-k", "5", q["question"], cwd=root, env=env)
        paths = {h["path"] for h in json.loads(r.stdout)}
        want = {m.sources["raw/" + s]["page"] for s in q["sources"]}
        found += bool(want & paths)
        total += 1
    assert found / total >= 0.9, f"recall@5 = {found}/{total}"
