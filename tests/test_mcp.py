"""`kb mcp` as an agent meets it: the real `kb` entry point started as a child process and driven
over stdio by the MCP SDK's own client. The model behind `ask` is a scripted engine behind an
OpenAI-compatible endpoint (the child cannot be handed a fake engine object)."""

import json
import os
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from conftest import run_kb  # noqa: E402
from fakes import CompileFake  # noqa: E402
from kb.agents.fake_engine import FakeEngine  # noqa: E402
from kb.api import Kb, init  # noqa: E402
from kb.core import config  # noqa: E402
from scripted_server import ScriptedServer  # noqa: E402

SOURCE = ("# Hot composting\n\nHot Composting is a method for turning garden waste into soil. "
          "A hot compost pile reaches 55 to 65 degrees Celsius within a few days.\n")
ANSWER = "A hot compost pile reaches 55 to 65 degrees Celsius [1]."


@pytest.fixture
def vault(tmp_path):
    """A vault compiled in-process by a scripted compile engine: one source, its concepts."""
    v, _ = init(tmp_path / "v", {})
    (v.root / "raw" / "hot-composting.md").write_text(SOURCE)
    kb = Kb(v, config.load(v.config_path, {}), engine_factory=lambda: CompileFake(concepts=2))
    assert kb.compile().run().compiled == ["raw/hot-composting.md"]
    return v.root


def _server(root: Path, env: dict) -> StdioServerParameters:
    full = {k: v for k, v in os.environ.items() if k != "KB_VAULT"}
    return StdioServerParameters(command=sys.executable, args=["-m", "kb.cli", "--vault", str(root), "mcp"],
                                 env={**full, **env}, cwd=str(root))


async def _session_run(root: Path, env: dict, body):
    async with stdio_client(_server(root, env)) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)


def _text(result) -> str:
    return "".join(c.text for c in result.content if getattr(c, "type", "") == "text")


async def test_an_agent_lists_searches_reads_asks_and_gets_clear_errors(vault):
    async def body(s: ClientSession):
        tools = {t.name for t in (await s.list_tools()).tools}
        assert {"search", "read_page", "list_pages", "ask", "status"} <= tools

        hits = json.loads(_text(await s.call_tool("search", {"query": "compost pile degrees", "k": 5})))
        assert hits and hits[0]["path"].startswith(("wiki/", "raw/"))
        assert any("compost" in h["title"].lower() for h in hits)

        pages = json.loads(_text(await s.call_tool("list_pages", {"kind": "source"})))
        assert [p["path"] for p in pages] == ["wiki/sources/Hot composting.md"]
        assert pages[0]["description"]

        page = await s.call_tool("read_page", {"page": "hot composting"})  # a title, case folded
        assert not page.is_error
        assert "wiki/sources/Hot composting.md" in _text(page) and "55 to 65 degrees" in _text(page)

        missing = await s.call_tool("read_page", {"page": "Cold fusion"})
        asked = await s.call_tool("ask", {"question": "How hot does a compost pile get?", "mode": "rag"})

        resources = (await s.list_resources()).resources
        uri = next(str(r.uri) for r in resources if r.name == "wiki/sources/Hot composting.md")
        read = await s.read_resource(uri)
        return missing, asked, read

    with ScriptedServer(FakeEngine([ANSWER])) as server:
        missing, asked, read = await _session_run(vault, server.env, body)

    assert missing.is_error
    cli = run_kb("show", "Cold fusion", cwd=vault)  # the CLI's message for the same mistake
    assert cli.returncode == 1 and cli.stderr.strip() == f"kb: error: {_text(missing)}"
    assert "Cold fusion" in _text(missing) and "Traceback" not in _text(missing)

    answer = json.loads(_text(asked))
    assert "55 to 65 degrees" in answer["answer"]
    assert answer["citations"] and answer["citations"][0]["path"] == "wiki/sources/Hot composting.md"
    assert answer["mode"] == "rag" and answer["trace"]
    assert "55 to 65 degrees" in read.contents[0].text


async def test_write_tools_are_absent_unless_config_allows_them(vault):
    async def tools(s: ClientSession):
        listed = (await s.list_tools()).tools
        return {t.name: t for t in listed}

    read_only = await _session_run(vault, {}, tools)
    assert "compile" not in read_only
    assert "save" not in json.dumps(read_only["ask"].input_schema)

    cfg = vault / ".kb" / "config.toml"
    cfg.write_text(cfg.read_text().replace("# allow_writes = false", "allow_writes = true"))
    assert config.load(cfg, {})["mcp"]["allow_writes"] is True

    (vault / "raw" / "turning.md").write_text("# Turning a pile\n\nTurning Piles every week adds air.\n")

    async def compile_over_mcp(s: ClientSession):
        listed = {t.name: t for t in (await s.list_tools()).tools}
        assert "compile" in listed and "save" in json.dumps(listed["ask"].input_schema)
        return json.loads(_text(await s.call_tool("compile", {})))

    with ScriptedServer(CompileFake()) as server:
        report = await _session_run(vault, server.env, compile_over_mcp)
    assert report["compiled"] == ["raw/turning.md"]
    assert [c["subject"] for c in report["commits"]] == ["compile: 1 new"]
