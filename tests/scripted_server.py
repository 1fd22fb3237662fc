"""A scripted engine behind an OpenAI-compatible HTTP endpoint, so a test can drive the real `kb`
command line (a child process, `KB_ENGINE=openai`) without a model: the CLI cannot pick a fake
engine, but it can talk to any server. Replies come from an object with the engine's `chat`
(FakeEngine, CompileFake, ...); every request is kept for the test to read.

`latency` and `slots` make it a stand-in for a GPU server (`kb compile --jobs N`, bench/compile.py
--server): each request sleeps `latency` seconds, and up to `slots` requests are answered side
by side (the engine must then be safe to call from threads; CompileFake is). With slots=1
requests are answered one at a time, in the order they came, as a single-slot server would.
`fail` (a function of the request's user text) makes the server answer HTTP 500 to the requests
it picks, as a server that crashes on one prompt would. GET /v1/stats says how many requests came
and the most in flight at once (`?reset` restarts the latter), for a client in another process.

Run alone, it serves CompileFake (replies derived from the request, valid for compile's JSON
schemas) for a kb outside the test suite:

    .venv/bin/python tests/scripted_server.py --latency 0.3 --slots 8 --port 8099
    KB_ENGINE=openai KB_BASE_URL=http://127.0.0.1:8099/v1 kb compile --jobs 8
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


class ScriptedServer:
    def __init__(self, engine, *, latency: float = 0.0, slots: int = 1, port: int = 0,
                 fail: Callable[[str], bool] | None = None):
        self.engine = engine
        self.latency = latency
        self.fail = fail
        self.requests: list[dict] = []
        self.in_flight = 0
        self.most_in_flight = 0  # the most requests answered side by side, for a test to check
        self._lock = threading.Lock()  # guards the lists and counters
        self._slots = threading.BoundedSemaphore(slots) if slots > 1 else threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):  # how many requests so far, and the most at once (a bench in
                # another process reads it; `?reset` starts the count of most-at-once again)
                with server._lock:
                    data = json.dumps({"requests": len(server.requests),
                                       "most_in_flight": server.most_in_flight}).encode()
                    if self.path.endswith("?reset"):
                        server.most_in_flight = 0
                self.send_response(200 if self.path.split("?")[0].endswith("/stats") else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                status, text = server._answer(body)
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

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # a compile with many jobs connects at once

        self._httpd = Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def _answer(self, body: dict) -> tuple[int, str]:
        fmt = body.get("response_format") or {}
        schema = fmt.get("schema") or (fmt.get("json_schema") or {}).get("schema")
        with self._slots:  # one slot: requests are answered in order, as by one model
            with self._lock:
                self.requests.append(body)
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if self.latency:
                    time.sleep(self.latency)
                user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
                if self.fail and self.fail(user):
                    return 500, "scripted failure"
                reply = self.engine.chat(body["messages"], json_schema=schema,
                                         max_tokens=body.get("max_tokens", 512),
                                         temperature=body.get("temperature", 0.2), stop=body.get("stop"))
                return 200, reply.text
            except Exception as e:  # the client sees it as an HTTP error, as with a real server
                return 500, f"{type(e).__name__}: {e}"
            finally:
                with self._lock:
                    self.in_flight -= 1

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def env(self) -> dict:
        """What `run_kb` needs to use this server as its engine."""
        return {"KB_ENGINE": "openai", "KB_BASE_URL": self.url}

    def documents(self) -> str:
        """All user messages the CLI sent, joined: what the model was given to read."""
        return "\n".join(m["content"] for r in self.requests for m in r["messages"] if m["role"] == "user")

    def __enter__(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def main() -> None:
    import argparse
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fakes import CompileFake
    ap = argparse.ArgumentParser(description="an OpenAI-compatible test server answering as CompileFake")
    ap.add_argument("--latency", type=float, default=0.3, help="seconds each request sleeps")
    ap.add_argument("--slots", type=int, default=8, help="requests answered side by side")
    ap.add_argument("--port", type=int, default=8099)
    args = ap.parse_args()
    with ScriptedServer(CompileFake(), latency=args.latency, slots=args.slots, port=args.port) as server:
        print(f"serving {server.url} (latency {args.latency}s, {args.slots} slots); Ctrl-C stops", flush=True)
        try:
            server._thread.join()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
