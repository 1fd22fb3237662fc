"""kb compile with the real bundled model over the real ml-blog corpus, through the CLI."""

import json

import pytest

from kb.core.manifest import Manifest
from kb.core.vault import Vault
from conftest import CORPUS, run_kb
from test_compile import check_valid

POSTS = sorted((CORPUS / "ml-blog").glob("*.md"))


@pytest.fixture(scope="module")
def compiled(mlblog_vault):
    return mlblog_vault


@pytest.mark.model
@pytest.mark.slow
def test_every_post_gets_a_source_page_and_shared_concepts_link_their_sources(compiled):
    root, _, report = compiled
    vault = Vault.open(root)
    assert len(report["compiled"]) == len(POSTS) and not report["failed"]
    assert len(vault.notes("wiki/sources")) == len(POSTS)
    check_valid(vault)  # every wikilink resolves, every page has valid frontmatter
    m = Manifest.load(vault)
    shared = [k for k in m.concepts if len(m.claims(k)) >= 2]
    assert shared, "at least one concept is shared by two posts"
    for key in shared:  # a shared concept's page links every source that contributes to it
        page = vault.read(m.concepts[key]["page"])
        for raw, _ in m.claims(key):
            assert f"[[{m.sources[raw]['page'][:-3]}|" in page.body
    index = (root / "index.md").read_text()
    assert index.count("[[wiki/sources/") == len(POSTS)
    assert (root / "log.md").read_text().count("] ingest | ") == len(POSTS)
    # about one read of each raw token: prompts are not much bigger than the sources
    assert report["prompt_tokens"] < 3 * sum(len(p.read_text()) for p in POSTS) / 3.5


@pytest.mark.model
@pytest.mark.slow
def test_recompile_is_free_and_an_edit_recompiles_only_what_it_touches(compiled):
    root, env, _ = compiled
    r = json.loads(run_kb("compile", "--json", cwd=root, env=env).stdout)
    assert r["model_calls"] == 0 and r["written"] == [] and len(r["unchanged"]) == len(POSTS)
    m = Manifest.load(Vault.open(root))
    before = {m.concepts[k]["page"] for k in m.sources["raw/muon-optimizer.md"]["concepts"]}
    with open(root / "raw/muon-optimizer.md", "a") as f:
        f.write("\nUpdate: Muon was later used to train Kimi K2 at scale.\n")
    r = json.loads(run_kb("compile", "--json", cwd=root, env=env, timeout=600).stdout)
    assert r["compiled"] == ["raw/muon-optimizer.md"] and 1 <= r["model_calls"] <= 3
    m = Manifest.load(Vault.open(root))
    after = {m.concepts[k]["page"] for k in m.sources["raw/muon-optimizer.md"]["concepts"]}
    source_page = m.sources["raw/muon-optimizer.md"]["page"]
    assert set(r["written"]) <= {source_page, "index.md"} | before | after
    check_valid(Vault.open(root))
