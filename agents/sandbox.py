"""Run model-written Python in a persistent, sandboxed child process.

One child per agent run keeps its namespace between cells. The parent (the kb process) owns the
model and the vault; the child reaches them only through bridged functions (`llm_query`,
`search`, `read`, ...) whose calls arrive here as JSON and are answered here. A cell that runs
past its wall-time limit, or kills its process, is reported and the child is replaced by a fresh
one with the initial variables (its other state is lost, and the report says so).

What the sandbox does NOT cover (see agents/sandbox_child.py for what it does):
- It is a CPython-level sandbox plus kernel limits, not a VM. A determined attacker with an
  interpreter bug or a way to reach the audit hook's closure through object introspection could
  get past the Python layer; the kernel layer (rlimits, the network namespace where available,
  and the drop to `nobody` when kb runs as root) is what remains then. When kb runs as an
  ordinary user without unprivileged user namespaces, there is no network namespace and no uid
  drop: the audit hook alone keeps sockets and foreign files out.
- Reads of the Python standard library are allowed (imports need them).
- CPU and memory are limited per child, not per cell; a cell may use what earlier cells left.
- Bridged functions run in the parent with the parent's rights: each tool must validate its own
  arguments (a `read` tool must refuse paths outside the vault), and the child can call them with
  any JSON it likes.
- Time the parent spends answering a bridged call does not count against the cell's wall time.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kb.core.errors import KbError

CHILD = Path(__file__).with_name("sandbox_child.py")


class SandboxError(KbError):
    pass


@dataclass
class Limits:
    cell_seconds: float = 30.0  # wall time per cell, not counting bridged calls
    cpu_seconds: int = 120  # per child process
    memory_mb: int = 1024  # address space
    file_mb: int = 16  # largest file the child may write
    output_chars: int = 20000  # kept per cell; the rest is counted and dropped


@dataclass
class CellResult:
    output: str = ""
    error: str | None = None  # a traceback the model can read
    killed: str | None = None  # why the child was killed (limit broken), if it was
    final: dict | None = None  # FINAL()/FINAL_VAR() called inside the cell
    seconds: float = 0.0
    calls: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.killed is None


class Sandbox:
    def __init__(self, tools: dict[str, Callable[..., Any]] | None = None, limits: Limits | None = None,
                 on_call: Callable[[dict], None] | None = None):
        self.tools = dict(tools or {})
        self.limits = limits or Limits()
        self.on_call = on_call
        self.variables: dict[str, Any] = {}
        self.restarts = 0
        self._proc: subprocess.Popen | None = None
        self._scratch: Path | None = None
        self._buf = b""

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def scratch(self) -> Path:
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="kb-scratch-"))
            if os.geteuid() == 0:  # the child drops to nobody and must still write here
                os.chown(self._scratch, 65534, 65534)
        return self._scratch

    def start(self) -> None:
        lim = self.limits
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        args = json.dumps({"memory_mb": lim.memory_mb, "cpu_seconds": lim.cpu_seconds,
                           "file_mb": lim.file_mb})

        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
               "PYTHONDONTWRITEBYTECODE": "1"}
        # Only the two protocol pipes are inherited (close_fds), so the child holds none of
        # kb's open files, sockets or the model.
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(CHILD), str(self.scratch), args,
             str(to_child_r), str(from_child_w)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w), close_fds=True, cwd=self.scratch, env=env,
            start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._tx = os.fdopen(to_child_w, "w", encoding="utf-8")
        self._rx = from_child_r
        self._buf = b""
        msg = self._recv(time.monotonic() + 30)
        if msg is None or msg.get("op") != "ready":
            self._kill()
            raise SandboxError("the sandbox process did not start")
        names = set(self.tools)
        if "llm_query" in names:
            names.add("llm_query_batched")
        if names:
            self._request({"op": "tools", "names": sorted(names)})
        for name, value in self.variables.items():
            self._request({"op": "set", "name": name, "value": value})

    def close(self) -> None:
        self._kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        try:
            self._tx.close()
        except OSError:
            pass
        try:
            os.close(self._rx)
        except OSError:
            pass

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1
        self.start()

    # -- protocol ----------------------------------------------------------------------------
    def _send(self, msg: dict) -> None:
        try:
            self._tx.write(json.dumps(msg) + "\n")
            self._tx.flush()
        except (BrokenPipeError, OSError):
            pass  # the child died; the next receive reports it

    def _recv(self, deadline: float) -> dict | None:
        """The next message, or None at the deadline or when the child is gone."""
        sel = selectors.DefaultSelector()
        sel.register(self._rx, selectors.EVENT_READ)
        try:
            while b"\n" not in self._buf:
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(timeout=left):
                    return None
                chunk = os.read(self._rx, 1 << 20)
                if not chunk:
                    return None
                self._buf += chunk
        finally:
            sel.close()
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return None

    def _request(self, msg: dict) -> dict:
        self._send(msg)
        reply = self._recv(time.monotonic() + 30)
        if reply is None:
            raise SandboxError("the sandbox process stopped answering")
        return reply

    # -- public API --------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Hand a JSON-able value to the REPL as a variable (kept across restarts)."""
        if not name.isidentifier():
            raise SandboxError(f"{name!r} is not a valid variable name")
        self.variables[name] = value
        if self._proc is not None:
            self._request({"op": "set", "name": name, "value": value})

    def get(self, name: str, as_json: bool = False) -> Any:
        """A variable's value as text (what the model sees), or as JSON data (None if it is not)."""
        reply = self._request({"op": "get", "name": name, "as_json": as_json})
        return reply.get("value") if reply.get("found") else None

    def run(self, code: str) -> CellResult:
        if self._proc is None:
            self.start()
        result = CellResult()
        t0 = time.monotonic()
        budget = self.limits.cell_seconds
        self._send({"op": "exec", "code": code, "cap": self.limits.output_chars})
        while True:
            msg = self._recv(time.monotonic() + budget)
            if msg is None:
                code_ = self._proc.poll() if self._proc else None
                if code_ is None:
                    result.killed = f"cell ran past its {self.limits.cell_seconds:g}s wall-time limit and was killed"
                else:
                    result.killed = f"the sandbox process died ({_describe_exit(code_)})"
                result.killed += "; the REPL was restarted: variables you created are gone, the inputs are back"
                self._restart()
                break
            if msg.get("op") == "call":
                used = time.monotonic() - t0
                started = time.monotonic()
                self._answer_call(msg, result)
                t0 += time.monotonic() - started  # bridged time does not count
                budget = max(0.0, self.limits.cell_seconds - used)
                continue
            if msg.get("op") == "done":
                result.output = msg.get("output") or ""
                result.error = msg.get("error")
                result.final = msg.get("final")
                break
        result.seconds = time.monotonic() - t0
        return result

    def _answer_call(self, msg: dict, result: CellResult) -> None:
        fn = msg.get("fn")
        args = msg.get("args") or []
        kwargs = msg.get("kwargs") or {}
        record = {"fn": fn, "args": args, "kwargs": kwargs}
        tool = self.tools.get(fn)
        if fn == "llm_query_batched" and tool is None and "llm_query" in self.tools:
            tool = lambda prompts, **kw: [self.tools["llm_query"](p, **kw) for p in prompts]  # noqa: E731
        started = time.monotonic()
        try:
            if tool is None or not isinstance(args, list) or not isinstance(kwargs, dict):
                raise SandboxError(f"no function {fn!r}")
            value = tool(*args, **kwargs)
            json.dumps(value)
            self._send({"op": "result", "value": value})
            record["ok"] = True
        except TypeError as e:
            self._send({"op": "error", "message": f"{fn}: {e}"})
            record["error"] = str(e)
        except Exception as e:  # a tool failure is data for the model, not a crash
            self._send({"op": "error", "message": f"{fn}: {e}"})
            record["error"] = str(e)
        record["seconds"] = time.monotonic() - started
        result.calls.append(record)
        if self.on_call:
            self.on_call(record)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGXCPU": "CPU-time limit", "SIGKILL": "killed", "SIGSEGV": "crashed",
                "SIGXFSZ": "file-size limit"}.get(name, "")
        return f"{name}{', ' + hint if hint else ''}"
    return f"exit code {code}"
