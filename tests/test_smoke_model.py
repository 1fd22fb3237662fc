"""Real-model smoke test: the small bundled model through the CLI, a few calls per feature, so that
`make test` shows every path works with a real llama.cpp model (in-process and behind a real
OpenAI-compatible server) in minutes. The long real-model runs (the whole ml-blog corpus, eval,
finetune, lint with the default model) are marked `slow` and run in `make test-all`."""

import json

import pytest

from kb.agents.sandbox import sandbox_mode
from conftest import run_kb, write
from test_engines import server  # noqa: F401  (the fixture: a real `python -m llama_cpp.server`)

pytestmark = pytest.mark.model

NOTES = {
    "sourdough.md": "# Sourdough\n\nSourdough bread rises with a Starter Culture: wild yeast and lactic acid "
                    "bacteria living in flour and water. The Starter Culture is fed flour and water every day, "
                    "and the dough proofs for about 5 hours at 24 degrees.\n",
    "kombucha.md": "# Kombucha\n\nKombucha is sweet tea fermented by a SCOBY, a symbiotic culture of bacteria "
                   "and yeast. Like the Starter Culture of sourdough, the SCOBY is kept alive by feeding it: "
                   "fresh sweet tea every 7 to 10 days.\n",
}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    """Two short notes ingested and compiled with the small model: (vault root, env for run_kb,
    the compile report)."""
    from kb.core import models
    model = models.resolve(models.TEST_MODEL, models.models_dir())
    tmp = tmp_path_factory.mktemp("smoke")
    root = tmp / "v"
    assert run_kb("init", root).returncode == 0
    if not sandbox_mode(False).startswith("kernel"):  # as conftest: weak walls where the kernel refuses
        config = root / ".kb" / "config.toml"
        config.write_text(config.read_text().replace("# allow_weak = false", "allow_weak = true", 1))
    notes = [write(tmp / "notes", name, text) for name, text in NOTES.items()]
    r = run_kb("ingest", *notes, cwd=root)
    assert r.returncode == 0, r.stderr
    env = {"KB_MODEL": str(model), "KB_N_CTX": "4096"}
    r = run_kb("compile", "--json", cwd=root, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    return root, env, json.loads(r.stdout)


def test_compile_writes_a_page_per_note_the_index_and_the_search_index(smoke):
    root, _, report = smoke
    assert sorted(report["compiled"]) == ["raw/kombucha.md", "raw/sourdough.md"] and not report["failed"]
    sources = sorted(p.name for p in (root / "wiki" / "sources").glob("*.md"))
    assert len(sources) == 2
    index = (root / "index.md").read_text()
    assert all(f"[[wiki/sources/{name[:-3]}" in index for name in sources)
    assert (root / "log.md").read_text().count("] ingest | ") == 2


def test_search_finds_the_note_and_its_page(smoke):
    root, _, _ = smoke
    r = run_kb("search", "--json", "-k", "5", "starter culture yeast", cwd=root)
    assert r.returncode == 0, r.stderr
    paths = [h["path"] for h in json.loads(r.stdout)]
    assert "raw/sourdough.md" in paths and any(p.startswith("wiki/sources/") for p in paths)


def test_ask_rag_answers_and_cites_pages_that_exist(smoke):
    root, env, _ = smoke
    r = run_kb("ask", "--mode", "rag", "--json", "How often is a sourdough starter fed?", cwd=root, env=env,
               timeout=600)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answer"].strip() and out["tokens"] > 0
    assert all((root / p).exists() for p in out["cited"])


def test_ask_rlm_runs_the_loop_and_leaves_a_trace(smoke):
    root, env, _ = smoke
    r = run_kb("ask", "--mode", "rlm", "--json", "What feeds a SCOBY?", cwd=root, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "rlm" and out["status"] and out["trace"]
    shown = run_kb("trace", "show", out["trace"], cwd=root)
    assert shown.returncode == 0 and "END status=" in shown.stdout


def test_lint_structural_finds_no_errors_in_what_compile_wrote(smoke):
    root, _, _ = smoke
    r = run_kb("lint", "--structural", "--no-report", "--json", cwd=root)
    out = json.loads(r.stdout)
    assert r.returncode == 0 and out["errors"] == 0, out["findings"]  # exit 1 when there are errors
    assert out["pages"] >= 2


def test_the_cli_through_a_real_openai_compatible_server(smoke, server):  # noqa: F811
    root, _, _ = smoke
    env = {"KB_ENGINE": "openai", "KB_BASE_URL": server}
    r = run_kb("chat", "--json", "--max-tokens", "16", "Say hello.", cwd=root, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["text"].strip()
    r = run_kb("ask", "--mode", "rag", "--json", "What is kombucha?", cwd=root, env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["answer"].strip()
