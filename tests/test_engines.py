"""Engines: the fake's contract, and the real llama.cpp model in-process and behind a real
OpenAI-compatible server, both returning schema-valid JSON for a prompt over 1,000 tokens."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from kb.agents.fake_engine import FakeEngine
from kb.core.errors import EngineError
from conftest import CORPUS

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "topics": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5},
        "mentions_muon": {"type": "boolean"},
    },
    "required": ["title", "topics", "mentions_muon"],
}


def long_prompt() -> list[dict]:
    posts = ["muon-optimizer.md", "grouped-gemms-and-moe.md", "streaming-diloco.md", "perplexed.md"]
    text = "\n\n".join((CORPUS / "ml-blog" / p).read_text() for p in posts)
    return [{"role": "system", "content": "You read blog posts and describe them as JSON."},
            {"role": "user", "content": f"{text}\n\nDescribe the first post as JSON."}]


def check_schema(data):
    assert isinstance(data, dict)
    assert isinstance(data["title"], str)
    assert isinstance(data["topics"], list) and 1 <= len(data["topics"]) <= 5
    assert all(isinstance(t, str) for t in data["topics"])
    assert isinstance(data["mentions_muon"], bool)


def test_fake_engine_replays_and_fails_loudly():
    fake = FakeEngine(["one", lambda msgs: msgs[-1]["content"].upper()])
    assert fake.chat([{"role": "user", "content": "x"}]).text == "one"
    assert fake.chat([{"role": "user", "content": "shout"}]).text == "SHOUT"
    with pytest.raises(EngineError, match="script exhausted: call 3"):
        fake.chat([{"role": "user", "content": "again"}])
    assert len(fake.calls) == 3


@pytest.mark.model
def test_llama_cpp_json_schema_on_a_long_prompt(small_model):
    from kb.agents.llama_engine import LlamaEngine
    engine = LlamaEngine(small_model, n_ctx=4096)
    reply = engine.chat(long_prompt(), json_schema=SCHEMA, max_tokens=200, temperature=0.0)
    assert reply.usage.prompt_tokens >= 1000
    check_schema(reply.json())
    assert reply.timings.prefill_s > 0 and reply.timings.decode_s > 0
    # the same prefix again: the KV cache serves it, so far fewer tokens are recomputed
    again = engine.chat(long_prompt()[:-1] + [{"role": "user", "content": long_prompt()[-1]["content"] + " Be brief."}],
                        json_schema=SCHEMA, max_tokens=200, temperature=0.0)
    assert again.usage.cached_tokens > 900
    check_schema(again.json())


@pytest.mark.model
def test_llama_cpp_repeat_penalty_and_streaming(small_model):
    from kb.agents.llama_engine import LlamaEngine
    engine = LlamaEngine(small_model, n_ctx=4096)
    seen = []
    reply = engine.chat([{"role": "user", "content": "Count from 1 to 5."}], max_tokens=40,
                        on_token=seen.append)
    assert "".join(seen) == reply.text and reply.usage.completion_tokens > 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(small_model, tmp_path):
    port = free_port()
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(small_model),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(base + "/models", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("llama_cpp.server did not start: " + (tmp_path / "server.log").read_text()[-2000:])
        time.sleep(0.5)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.mark.model
def test_openai_backend_against_a_real_server(server):
    from kb.agents.openai_engine import OpenAIEngine
    engine = OpenAIEngine(server)
    reply = engine.chat(long_prompt(), json_schema=SCHEMA, max_tokens=200, temperature=0.0)
    assert reply.usage.prompt_tokens >= 1000
    check_schema(reply.json())
    streamed = []
    r2 = engine.chat([{"role": "user", "content": "Say hi."}], max_tokens=10, on_token=streamed.append)
    assert "".join(streamed) == r2.text and r2.text


def test_openai_backend_unreachable_is_one_clear_error():
    from kb.agents.openai_engine import OpenAIEngine
    engine = OpenAIEngine(f"http://127.0.0.1:{free_port()}/v1", timeout=5)
    with pytest.raises(EngineError, match="cannot reach the model server"):
        engine.chat([{"role": "user", "content": "x"}])
