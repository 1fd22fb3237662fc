"""The Python API is the one composition root: every job built from a vault and its config the
same way, settings flowing from `.kb/config.toml` ([compile], [lint], model.n_ctx, per-job models,
model.temperature/max_tokens as the engines' defaults), engines picked by name from a registry."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from kb.agents import engine as engines
from kb.agents.fake_engine import FakeEngine, scripted
from kb.api import Kb
from kb.core import config
from kb.core.errors import ConfigError, KbError
from kb.core.vault import Vault

CONFIG = """
[model]
engine = "fake"
n_ctx = 2048
temperature = 0.7
max_tokens = 99

[compile]
max_source_mb = 1.5
chunk_chars = 1234
max_concepts = 3

[lint]
max_contradictions = 2
max_claims = 1
max_gap_pages = 3
"""

SOURCE = "# Hot composting\n\nA hot compost pile reaches 55 to 65 degrees Celsius within a few days.\n"


@pytest.fixture
def kb(tmp_path):
    vault, _ = Vault.init(tmp_path / "v", CONFIG)
    (vault.root / "raw" / "hot-composting.md").write_text(SOURCE)
    return Kb.open(vault.root, env={})


def test_settings_flow_from_config_into_every_job(kb):
    c = kb.compile().settings
    assert (c.max_source_mb, c.chunk_chars, c.max_concepts) == (1.5, 1234, 3)
    assert kb.watcher().settings == c
    lint = kb.lint()
    s = lint.settings
    assert (s.model_checks, s.max_contradictions, s.max_claims, s.max_gap_pages) == (True, 2, 1, 3)
    structural = kb.lint(model_checks=False)
    assert structural.engine_factory is None and structural.settings.max_gap_pages == 3
    assert kb.ask().settings.context_tokens == 2048
    assert kb.finetune_data(per_page=2).settings.per_page == 2
    assert kb.finetune().models_dir == kb.models_dir


def test_lint_settings_reach_the_tui(kb):
    pytest.importorskip("textual")
    from kb.tui.app import KbApp
    app = KbApp(kb)
    lint = app.kb.lint(model_checks=False)
    assert (lint.settings.max_contradictions, lint.settings.max_claims, lint.settings.max_gap_pages) == (2, 1, 3)
    assert app.model_name == kb.model_name


def test_config_defaults_reach_only_the_calls_that_pass_none(kb):
    with scripted(["one", "two"]) as built:
        assert kb.chat("hello").text == "one"
        kb.chat("again", max_tokens=256)  # `kb chat --max-tokens` always passes one
    first, second = built[0].calls[0], built[1].calls[0]
    assert (first["max_tokens"], first["temperature"]) == (99, 0.7)
    assert (second["max_tokens"], second["temperature"]) == (256, 0.7)


def test_the_engine_defaults_equal_the_config_defaults():
    """A config that says nothing reproduces what the engines did before they read it."""
    import inspect
    from kb.agents.llama_engine import LlamaEngine
    from kb.agents.openai_engine import OpenAIEngine
    d = config.defaults()["model"]
    for cls in (LlamaEngine, OpenAIEngine, FakeEngine):
        params = inspect.signature(cls.__init__).parameters
        assert (params["max_tokens"].default, params["temperature"].default) == (d["max_tokens"], d["temperature"])


ANALYSIS = json.dumps({"summary": "A hot compost pile reaches 55 to 65 degrees Celsius within a few days.",
                       "key_points": ["A hot pile reaches 55 to 65 degrees Celsius.",
                                      "It gets there within a few days."], "concepts": []})


def test_compile_through_the_api_with_a_scripted_engine(kb):
    with scripted([ANALYSIS]) as built:
        report = kb.compile().run()
    assert report.compiled == ["raw/hot-composting.md"] and not report.failed
    assert len(built) == 1 and built[0].remaining == 0
    # compile passes its own temperature and lengths: config defaults do not change them
    assert [(c["temperature"], c["max_tokens"]) for c in built[0].calls] == [(0.1, 768)]
    assert kb.vault.notes("wiki/sources")


def test_ask_and_its_trace_through_the_api(kb):
    with scripted([ANALYSIS]):
        kb.compile().run()
    with scripted(["A hot pile reaches 55 to 65 degrees Celsius."]) as built:
        ans = kb.ask().answer("How hot does a compost pile get?", "rag")
    assert "65 degrees" in ans.text and built[0].remaining == 0
    assert (built[0].calls[0]["temperature"], built[0].calls[0]["max_tokens"]) == (0.0, 300)
    runs = kb.traces()
    assert [(r.id, r.status) for r in runs] == [(ans.trace_id, "final")]
    assert runs[0].task == "How hot does a compost pile get?"
    assert kb.trace("last")


def test_ask_through_the_api_loads_the_model_after_the_corpus_check(kb):
    (kb.vault.root / "raw" / "hot-composting.md").unlink()
    with scripted([]) as built:
        job = kb.ask()
        with pytest.raises(KbError, match="knowledge base is empty"):
            job.corpus()
    assert built == []  # an empty vault is reported before any model is built


def test_per_job_models_through_a_registered_backend(kb, tmp_path):
    """A backend registered by name, as a third party would; compile and lint get their own model."""
    seen = []

    def factory(cfg, models_dir):
        seen.append(cfg.model["name"])
        return FakeEngine([])

    old = engines.register("fake", factory)
    try:
        text = kb.vault.config_path.read_text().replace("[compile]\n", '[compile]\nmodel = "big.gguf"\n')
        kb.vault.config_path.write_text(text)
        fresh = Kb.open(kb.vault.root, env={})
        fresh.compile().engine_factory()
        fresh.lint().engine_factory()
        fresh.engine()
        assert seen == ["big.gguf", config.defaults()["model"]["name"], config.defaults()["model"]["name"]]
        forced = Kb.open(kb.vault.root, env={}, model="small.gguf")  # --model beats per-job keys
        forced.compile().engine_factory()
        assert seen[-1] == "small.gguf"
    finally:
        engines.register("fake", old)


def test_ask_sub_model_answers_the_sub_calls(kb):
    """`[ask] sub_model` reaches the RLM loop: llm_query goes to that model, the code to the root."""
    with scripted([ANALYSIS]):
        kb.compile().run()
    assert kb.ask().sub_engine_factory is None  # unset: the root model answers its own sub-calls
    built = {}

    def factory(cfg, models_dir):
        name = cfg.model["name"]
        reply = "FINAL_VAR(answer)" if name != "sub.gguf" else "A hot pile reaches 55 to 65 degrees Celsius."
        built[name] = FakeEngine([reply] * 8)
        return built[name]

    old = engines.register("fake", factory)
    try:
        text = kb.vault.config_path.read_text() + '\n[ask]\nsub_model = "sub.gguf"\n'
        kb.vault.config_path.write_text(text)
        ans = Kb.open(kb.vault.root, env={}).ask().answer("How hot does a compost pile get?")
    finally:
        engines.register("fake", old)
    root = built.pop(config.defaults()["model"]["name"])
    assert set(built) == {"sub.gguf"} and built["sub.gguf"].calls and "65 degrees" in ans.text
    assert all(c["messages"][0]["role"] == "system" for c in root.calls)  # the root only writes code


def test_the_fake_cannot_be_chosen_in_config_and_unknown_names_are_one_line_errors(kb):
    with pytest.raises(ConfigError, match="the fake engine is for tests"):
        kb.engine()
    cfg = config.load(None, {})
    cfg.values["model"]["engine"] = "nonesuch"
    with pytest.raises(ConfigError, match="unknown engine 'nonesuch'"):
        engines.make_engine(cfg, None)
    assert {"llama_cpp", "openai", "fake"} <= set(engines.registered())


def test_a_kb_without_a_model_says_so(tmp_path):
    kb = Kb(Vault.init(tmp_path / "v", "")[0])
    with pytest.raises(KbError, match="no model configured"):
        kb.engine()
    with pytest.raises(KbError, match="no model configured"):
        kb.compile().engine_factory()


def test_closed_book_compares_the_last_finetune_with_its_base(kb):
    data = kb.vault.state_dir / "finetune"
    data.mkdir(parents=True)
    rows = [{"messages": [{"role": "system", "content": ""}, {"role": "user", "content": q}],
             "answer": a, "page": p} for q, a, p in [("How hot does a pile get?", "65 degrees", "wiki/a.md"),
                                                   ("How long does it take?", "a few days", "wiki/b.md")]]
    (data / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with scripted(["About 65 degrees.", "No idea."]):
        alone = kb.closed_book(limit=1)  # no finetune yet: the configured model alone
    assert [(r.label, r.model, len(r.results)) for r in alone.runs] == [("before", kb.model_name, 1)]
    assert not alone.finetuned
    (data / "latest.json").write_text(json.dumps({"base": "smollm2-135m", "gguf": "/m/ft.gguf"}))
    runs = []
    with scripted(["About 65 degrees.", "No idea."]) as built:
        cmp = kb.closed_book(on_run=lambda label, name, n: runs.append((label, name, n)))
    assert runs == [("before", "smollm2-135m", 2), ("after", "/m/ft.gguf", 2)]
    assert [[x["correct"] for x in r.results] for r in cmp.runs] == [[True, False]] * 2  # one script each
    assert [r.correct for r in cmp.runs] == [1, 1] and (cmp.questions, cmp.pages) == (2, 2)
    assert set(cmp.as_dict()) == {"before", "after"} and cmp.finetuned
    assert all((c["temperature"], c["max_tokens"]) == (0.0, 48) for e in built for c in e.calls)


def test_closed_book_without_data_is_one_error(kb):
    with pytest.raises(KbError, match="no validation split yet"):
        kb.closed_book()


def test_the_openai_backend_takes_its_defaults_from_config(tmp_path):
    """A real HTTP round trip: what reaches the server is config's temperature and max_tokens."""
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            body = json.dumps({"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}],
                               "usage": {"prompt_tokens": 3, "completion_tokens": 1}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        vault, _ = Vault.init(tmp_path / "v", CONFIG.replace('engine = "fake"', 'engine = "openai"')
                              + f'\n[openai]\nbase_url = "http://127.0.0.1:{server.server_port}/v1"\n')
        assert Kb.open(vault.root, env={}).chat("hello").text == "hi"
    finally:
        server.shutdown()
    assert (got[0]["temperature"], got[0]["max_tokens"]) == (0.7, 99)
