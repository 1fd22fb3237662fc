"""`kb compile --jobs N`: N model requests in flight at an OpenAI-compatible server, and a wiki
that does not show it. Sources are read side by side but written in plan order, so the pages and
the manifest are byte for byte those of a serial compile; a model error part-way leaves a vault
the next run completes; an engine that takes one call at a time is used one call at a time.

The server is tests/scripted_server.py answering as CompileFake (replies derived from the
request) after a fixed sleep, several requests at once: a stand-in for a GPU server. The last
test runs a real `python -m llama_cpp.server` (slow).
"""

import json
import shutil
import threading
import time

import pytest

from kb.compile import parallel
from kb.compile.job import Compile, Settings
from kb.core import events
from kb.core.manifest import Manifest
from kb.core.vault import Vault
from conftest import ROOT, run_kb
from fakes import CompileFake
from scripted_server import ScriptedServer
from test_compile import check_valid
from test_engines import server  # noqa: F401  (the fixture: a real `python -m llama_cpp.server`)

NO_HISTORY = "[history]\nenabled = false\n"

# three notes beside the sample vault's five, sharing its concepts, so concept pages merge
# several sources and later sources relink earlier ones; `ferment-log` sorts mid-batch and is
# the one the failing server refuses (by its word "Quillback")
EXTRA = {
    "bread-timeline.md": "# Bread timeline\n\nA Sourdough Starter is fed flour and water every 12 hours. "
                         "The dough proofs for 5 hours at 24 degrees, then bakes at 230 degrees for 40 "
                         "minutes. Lactic acid bacteria give the bread its sour taste.\n",
    "ferment-log.md": "# Ferment log\n\nThe Quillback crock held Kimchi for 14 days at 4 degrees. Kombucha "
                      "brewed beside it with a SCOBY for 9 days. Both rely on lactic acid bacteria and "
                      "yeast; the Quillback crock is glazed stoneware.\n",
    "compost-tea.md": "# Compost tea\n\nCompost tea is brewed from finished Hot Composting output for 24 "
                      "hours with an aquarium pump. The soil microbiome it feeds includes bacteria and "
                      "fungi; the tea is used within 4 hours.\n",
}


def sources_into(root, config: str = NO_HISTORY) -> Vault:
    """A vault with the eight sources; copy2 keeps each file's mtime, so two vaults made from the
    same files record the same sizes and mtimes in their manifests."""
    vault, _ = Vault.init(root, config)
    for p in sorted((ROOT / "vault" / "raw").glob("*.md")):
        shutil.copy2(p, vault.root / "raw" / p.name)
    for name, text in EXTRA.items():
        (vault.root / "raw" / name).write_text(text, encoding="utf-8")
        shutil.copystat(ROOT / "vault" / "raw" / "hot-composting.md", vault.root / "raw" / name)
    return vault


def written(root) -> dict[str, bytes]:
    """Everything compile writes that a reader or the next run reads: every file under wiki/,
    index.md, log.md, the manifest and the model cache. Two things measure the run rather than
    describe the wiki and are left out: .kb/index.fingerprint (the pages' mtimes, by design) and
    the seconds each source's model calls took, which its cache entry records."""
    files = [*(root / "wiki").rglob("*"), *(root / ".kb" / "cache").rglob("*"),
             root / "index.md", root / "log.md", root / ".kb" / "manifest.json"]
    out = {p.relative_to(root).as_posix(): p.read_bytes() for p in files if p.is_file()}
    for rel, data in out.items():
        cached = json.loads(data) if rel.startswith(".kb/cache/") else None
        if isinstance(cached, dict) and "engine_seconds" in cached:
            out[rel] = json.dumps(dict(cached, engine_seconds=None)).encode()
    return out


def ungated(log: bytes) -> list[bytes]:
    return [line for line in log.splitlines() if b"] gate | " not in line]


def test_jobs_4_writes_byte_for_byte_what_a_serial_compile_writes(tmp_path):
    serial, wide = sources_into(tmp_path / "serial"), sources_into(tmp_path / "wide")
    with ScriptedServer(CompileFake(), latency=0.1, slots=8) as srv:
        r = run_kb("compile", "--json", "--jobs", "1", cwd=serial.root, env=srv.env, timeout=300)
        assert r.returncode == 0, r.stderr
        one, requests = json.loads(r.stdout), len(srv.requests)
        assert srv.most_in_flight == 1
        srv.most_in_flight = 0
        r = run_kb("compile", "--json", "--jobs", "4", cwd=wide.root, env=srv.env, timeout=300)
        assert r.returncode == 0, r.stderr
        four = json.loads(r.stdout)
        assert srv.most_in_flight == 4  # four requests in flight at once, never more
        assert len(srv.requests) == 2 * requests  # and no request more than the serial run
    assert len(four["compiled"]) == 8 and not four["failed"] and not four["notes"]
    assert four["compiled"] == one["compiled"] and four["model_calls"] == one["model_calls"]
    check_valid(wide)
    a, b = written(serial.root), written(wide.root)
    assert sorted(a) == sorted(b) and len([p for p in a if p.startswith("wiki/concepts/")]) >= 5
    assert [p for p in a if a[p] != b[p]] == []


def test_a_model_error_mid_parallel_run_leaves_a_vault_the_next_run_completes(tmp_path):
    vault, clean = sources_into(tmp_path / "v"), sources_into(tmp_path / "clean")
    order = vault.sources()
    bad = order.index("raw/ferment-log.md")
    assert 0 < bad < len(order) - 2  # mid-batch, with sources after it already in flight
    with ScriptedServer(CompileFake(), latency=0.05, slots=4, fail=lambda user: "Quillback" in user) as srv:
        r = run_kb("compile", "--jobs", "4", cwd=vault.root, env=srv.env, timeout=300)
    assert r.returncode != 0 and "scripted failure" in r.stderr and "Traceback" not in r.stderr
    assert not list(vault.root.rglob("*.kb-tmp")) and not (vault.state_dir / "compile.lock").exists()
    m = Manifest.load(vault)
    assert sorted(m.sources) == order[:bad]  # the sources before it are written, in order
    assert all("pending" in e and (vault.root / e["page"]).exists() for e in m.sources.values())
    with ScriptedServer(CompileFake(), latency=0.05, slots=4) as srv:
        r = run_kb("compile", "--json", "--jobs", "4", cwd=vault.root, env=srv.env, timeout=300)
        assert r.returncode == 0, r.stderr
        again = json.loads(r.stdout)
        r = run_kb("compile", "--jobs", "1", cwd=clean.root, env=srv.env, timeout=300)
        assert r.returncode == 0, r.stderr
    assert again["compiled"] == order[bad:] and again["unchanged"] == order[:bad] and not again["failed"]
    check_valid(vault)
    assert not any("pending" in e for e in Manifest.load(vault).sources.values())
    # as if it never failed, but for log.md's `gate |` line: each run logs what it held to the
    # grounding gate, the recovering run less than a clean one (the sources before the failure
    # were written, and gated, by the run that failed, which ended before its line)
    a, b = written(vault.root), written(clean.root)
    assert sorted(a) == sorted(b) and [p for p in a if a[p] != b[p]] == ["log.md"]
    assert ungated(a["log.md"]) == ungated(b["log.md"]) and b"ingest | Ferment log" in a["log.md"]


def test_progress_with_jobs_counts_every_source_once_and_in_order(tmp_path):
    from kb.agents.openai_engine import OpenAIEngine
    vault = sources_into(tmp_path / "v")
    seen: list = []
    inside = threading.Event()
    threads = set()

    def on_progress(e):
        assert not inside.is_set(), "two events delivered at once"
        inside.set()
        time.sleep(0.001)
        seen.append(e)
        threads.add(threading.get_ident())
        inside.clear()

    with ScriptedServer(CompileFake(), latency=0.1, slots=8) as srv:
        engine = OpenAIEngine(srv.url)
        report = Compile(vault, lambda: engine, Settings(jobs=3), on_progress=on_progress).run()
        requests = len(srv.requests)
    assert len(report.compiled) == 8 and srv.most_in_flight == 3
    starts = [e for e in seen if isinstance(e, events.SourceStart)]
    done = [e for e in seen if isinstance(e, events.SourceDone)]
    assert sorted(e.index for e in starts) == list(range(8)) and {e.total for e in starts + done} == {8}
    assert [e.index for e in done] == list(range(1, 9)) and [e.path for e in done] == report.compiled
    tokens = [e for e in seen if isinstance(e, events.Tokens)]
    assert len(tokens) == requests == report.model_calls  # one per reply, the articles' included
    assert sum(e.completion for e in tokens) == report.completion_tokens
    assert isinstance(seen[0], events.Plan) and isinstance(seen[-1], events.Done)
    assert len(threads) > 1  # reads report from their threads, one event at a time


class Counting(CompileFake):
    """CompileFake that counts the calls it is in at once."""

    def __init__(self):
        super().__init__()
        self.now = self.most = 0
        self.lock = threading.Lock()

    def chat(self, *args, **kwargs):
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.05)
            return super().chat(*args, **kwargs)
        finally:
            with self.lock:
                self.now -= 1


class CountingServer(Counting):
    concurrent = True  # as OpenAIEngine says: calls may overlap


def test_an_engine_that_takes_one_call_at_a_time_gets_one_and_a_note_says_so(tmp_path):
    one, many = Counting(), CountingServer()
    r1 = Compile(sources_into(tmp_path / "a"), lambda: one, Settings(jobs=4)).run()
    r2 = Compile(sources_into(tmp_path / "b"), lambda: many, Settings(jobs=4)).run()
    assert one.most == 1 and len(r1.compiled) == 8
    assert r1.notes == ["jobs = 4 asked, but the compile-fake engine answers one request at a time "
                        '(a server, engine = "openai", takes several): compiled one source at a time']
    assert 2 <= many.most <= 4 and len(r2.compiled) == 8 and not r2.notes


def test_jobs_from_config_and_the_command_line(tmp_path, monkeypatch, capsys):
    """`[compile] jobs` reaches the job, --jobs overrides it, below 1 is refused; with a backend
    that takes one call at a time the CLI says so once, on stderr."""
    from kb import cli
    from kb.agents import engine as engines
    from kb.api import Kb
    from kb.core.errors import ConfigError
    vault = sources_into(tmp_path / "v", NO_HISTORY + '[model]\nengine = "fake"\n[compile]\njobs = 3\n')
    kb = Kb.open(vault.root, env={})
    assert kb.compile_settings().jobs == 3 and kb.compile_settings(5).jobs == 5
    assert Kb.open(sources_into(tmp_path / "d").root, env={}).compile_settings().jobs == 1
    vault.config_path.write_text(vault.config_path.read_text().replace("jobs = 3", "jobs = 0"))
    with pytest.raises(ConfigError, match="compile.jobs must be at least 1"):
        Kb.open(vault.root, env={}).compile_settings()
    vault.config_path.write_text(vault.config_path.read_text().replace("jobs = 0", "jobs = 3"))
    monkeypatch.delenv("KB_ENGINE", raising=False)
    assert cli.main(["--vault", str(vault.root), "compile", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    engine = Counting()
    old = engines.register("fake", lambda cfg, models_dir: engine)
    try:
        assert cli.main(["--vault", str(vault.root), "compile", "--jobs", "2"]) == 0
    finally:
        engines.register("fake", old)
    err = capsys.readouterr().err
    assert err.count("jobs = 2 asked, but the compile-fake engine answers one request at a time") == 1
    assert engine.most == 1


def test_in_order_hands_results_back_in_order_and_leaves_no_thread_behind():
    def read(n):
        time.sleep(0.02 * (5 - n % 5))  # later items finish first
        if n == 7:
            raise ValueError("seven")
        return n * n

    with parallel.InOrder(list(range(7)), read, jobs=4) as run:
        assert [get() for _, get in run] == [n * n for n in range(7)]
    started = []
    with pytest.raises(ValueError, match="seven"):
        with parallel.InOrder(list(range(40)), lambda n: started.append(n) or read(n), jobs=3) as run:
            for n, get in run:
                get()
    assert len(started) < 20  # the rest were never started
    assert not [t for t in threading.enumerate() if t.name.startswith("kb-compile")]
    for jobs in (1, 3):  # stop is asked before each hand-out: what was handed out is all there is
        handed = []
        with parallel.InOrder(list(range(10)), read, jobs=jobs, stop=lambda: len(handed) >= 2) as run:
            for n, get in run:
                handed.append((n, get()))
        assert handed == [(0, 0), (1, 1)]


@pytest.mark.slow
@pytest.mark.model
def test_jobs_2_against_a_real_llama_cpp_server(server, tmp_path):  # noqa: F811
    """Three short notes through a real `python -m llama_cpp.server` (test_engines' fixture, the
    small model) with two requests in flight: the server queues what it cannot take at once, and
    every source gets its page."""
    vault, _ = Vault.init(tmp_path / "v", NO_HISTORY)
    notes = {"starter.md": "# Starter\n\nA Sourdough Starter is flour and water fed every 12 hours. "
                           "It holds wild yeast and lactic acid bacteria.\n",
             "kombucha.md": "# Kombucha\n\nKombucha is sweet tea fermented by a SCOBY for 7 to 10 days.\n",
             "compost.md": "# Compost\n\nHot Composting keeps a pile at 55 to 65 degrees Celsius for weeks.\n"}
    for name, text in notes.items():
        (vault.root / "raw" / name).write_text(text, encoding="utf-8")
    r = run_kb("compile", "--json", "--jobs", "2", cwd=vault.root,
               env={"KB_ENGINE": "openai", "KB_BASE_URL": server}, timeout=900)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert sorted(report["compiled"]) == sorted(f"raw/{n}" for n in notes) and not report["failed"]
    assert not report["notes"] and report["model_calls"] >= 3
    m = Manifest.load(vault)
    for rel in report["compiled"]:
        page = vault.root / m.sources[rel]["page"]
        assert page.exists() and "## Summary" in page.read_text(encoding="utf-8"), rel
    check_valid(vault)
