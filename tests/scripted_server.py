"""A scripted engine behind an OpenAI-compatible HTTP endpoint, so a test can drive the real `kb`
command line (a child process, `KB_ENGINE=openai`) without a model: the CLI cannot pick a fake
engine, but it can talk to any server. Replies come from an object with the engine's `chat`
(FakeEngine, CompileFake, ...); every request is kept for the test to read."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedServer:
    def __init__(self, engine):
        self.engine = engine
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                fmt = body.get("response_format") or {}
                schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
                with server._lock:  # one model: requests are answered in order
                    server.requests.append(body)
                    try:
                        reply = server.engine.chat(body["messages"], json_schema=schema,
                                                   max_tokens=body.get("max_tokens", 512),
                                                   temperature=body.get("temperature", 0.2),
                                                   stop=body.get("stop"))
                        text, status = reply.text, 200
                    except Exception as e:  # the client sees it as an HTTP error, as with a real server
                        text, status = f"{type(e).__name__}: {e}", 500
                if status != 200:
                    data = json.dumps({"error": {"message": text}}).encode()
                else:
                    data = json.dumps({"model": "scripted", "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": max(1, len(text.split()))}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def env(self) -> dict:
        """What `run_kb` needs to use this server as its engine."""
        host, port = self._httpd.server_address[:2]
        return {"KB_ENGINE": "openai", "KB_BASE_URL": f"http://{host}:{port}/v1"}

    def documents(self) -> str:
        """All user messages the CLI sent, joined: what the model was given to read."""
        return "\n".join(m["content"] for r in self.requests for m in r["messages"] if m["role"] == "user")

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
