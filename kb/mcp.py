"""`kb mcp`: the vault served to an outside agent (Claude Code, Cursor, Claude Desktop) over the
Model Context Protocol, on stdio.

A front end like the CLI: every tool calls the API (kb/api.py) and nothing else. Read-only by
default: search, read_page, list_pages, ask, status, and each page as a resource. `[mcp]
allow_writes = true` adds compile and ask's `save`, which are recorded in the vault's history like
any other kb write. A KbError comes back as a tool error whose text is the one line the CLI would
print after `kb: error:`; a traceback never reaches the agent.
"""

from __future__ import annotations

import functools
from typing import Any, Callable
from urllib.parse import quote, unquote

from kb.core.errors import KbError

URI = "kb://vault/"
INSTRUCTIONS = ("A personal knowledge base compiled by kb: source pages (one per raw source), concept "
                "pages merged across sources, filed answers and reports. Search it, read pages by path or "
                "title, or ask a question (answered from the pages, with citations).")


def _tool_errors(fn: Callable) -> Callable:
    """A KbError becomes a tool error whose text is exactly its message (a raised ToolError would
    get the SDK's "Error executing tool" prefix); the signature stays, for the schema."""
    from mcp_types import CallToolResult, TextContent

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KbError as e:
            return CallToolResult(content=[TextContent(type="text", text=str(e))], is_error=True)
    return wrapper


def _commits(kb) -> list[dict]:
    return [{"id": c.short, "subject": c.subject, "person_edits": c.person_edits} for c in kb.take_commits()]


def build(kb, allow_writes: bool | None = None):
    """The server for `kb`'s vault; `allow_writes` None reads `[mcp] allow_writes` from config."""
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise KbError("kb mcp needs the MCP SDK: pip install 'kb[mcp]' (or pip install mcp)") from None
    from mcp.server.lowlevel.helper_types import ReadResourceContents
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
    from mcp_types import Resource

    from kb.ask.job import MODES, check_question
    from kb.core.errors import UsageError
    from kb.core.pages import link

    writes = kb.config["mcp"]["allow_writes"] if allow_writes is None else allow_writes

    class VaultServer(MCPServer):
        """Pages come and go while the server runs (a compile, a person in Obsidian): the list of
        resources is read from the vault on each request, not registered once."""

        async def list_resources(self) -> list[Resource]:
            return [Resource(uri=URI + quote(path), name=path, title=title, description=desc or None,
                             mime_type="text/markdown") for path, title, desc in kb.pages()]

        async def read_resource(self, uri, context=None):
            text = str(uri)
            if not text.startswith(URI):
                raise ResourceNotFoundError(f"{text}: not a page of this vault ({URI}PATH)")
            try:
                _, body = kb.read_page(unquote(text[len(URI):]))
            except KbError as e:
                raise ResourceError(str(e)) from None
            return [ReadResourceContents(content=body, mime_type="text/markdown")]

    server = VaultServer(name="kb", instructions=INSTRUCTIONS)

    def tool(fn: Callable) -> Callable:
        server.add_tool(_tool_errors(fn), structured_output=False)
        return fn

    @tool
    def search(query: str, k: int = 10, kind: str | None = None) -> str:
        """Full-text search over the wiki pages and raw sources. kind: comma-separated, any of
        source, concept, answer, report, raw, page. Returns JSON hits: title, path, kind, score, snippet."""
        if not query.strip():
            raise UsageError("empty search query")
        kinds = tuple(x.strip() for x in kind.split(",") if x.strip()) if kind else None
        return _json([h.as_dict() for h in kb.search(query, k, kinds=kinds)])

    @tool
    def read_page(page: str) -> str:
        """A page's markdown (frontmatter included), by vault path or title; links resolve as in
        Obsidian ([[Title]], [[wiki/concepts/X]], aliases)."""
        path, text = kb.read_page(page)
        return f"<!-- {path} -->\n{text}"

    @tool
    def list_pages(kind: str | None = None) -> str:
        """Every wiki page with its index.md line (path, title, one-line description); kind: source,
        concept, answer or report."""
        return _json([{"path": p, "title": t, "description": d} for p, t, d in kb.pages(kind)])

    def _ask(question: str, mode: str, save: bool) -> str:
        question = check_question(question)
        if mode not in MODES:
            raise UsageError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
        job = kb.ask()
        job.corpus()  # an empty vault says so before a model loads
        ans = job.answer(question, mode)
        out: dict[str, Any] = {"answer": ans.text, "citations": [{"path": p, "title": t, "link": link(p, t)}
                                                                 for p, t in ans.cited],
                               "mode": ans.mode, "status": ans.status, "trace": ans.trace_id}
        if save:
            out["saved"], _ = job.file_back(question, ans, "md")
            out["commits"] = _commits(kb)
        return _json(out)

    if writes:
        @tool
        def ask(question: str, mode: str = "rlm", save: bool = False) -> str:
            """Answer a question from the knowledge base, with the pages it cites. mode: rlm (an agent
            that searches and reads), rag or stuff (one prompt). save: file the answer into wiki/answers/."""
            return _ask(question, mode, save)

        @tool
        def compile() -> str:
            """Compile new and changed sources in raw/ into the wiki (one commit in the vault's history)."""
            report = kb.compile().run()
            return _json({**report.as_dict(), "commits": _commits(kb)})
    else:
        @tool
        def ask(question: str, mode: str = "rlm") -> str:
            """Answer a question from the knowledge base, with the pages it cites. mode: rlm (an agent
            that searches and reads), rag or stuff (one prompt)."""
            return _ask(question, mode, False)

    @tool
    def status() -> str:
        """Counts of sources, pages and broken links, the model, and kb's last commits."""
        st = kb.status().as_dict()
        m = kb.model_info()
        try:
            recent = [{"id": c.short, "when": c.when, "subject": c.subject} for c in kb.history(5)]
        except KbError as e:
            recent = str(e)
        return _json({**st, "model": m.name, "engine": m.engine, "model_state": m.where,
                      "writes_allowed": writes, "history": recent})

    return server


def _json(data) -> str:
    import json
    return json.dumps(data, ensure_ascii=False, indent=1)


def serve(kb) -> None:
    """Run on stdin/stdout until the client hangs up; one model, loaded on the first ask."""
    build(kb.sharing_one_engine()).run("stdio")
