"""Run model-written Python in a persistent, sandboxed child process.

One child per agent run keeps its namespace between cells. The parent (the kb process) owns the
model and the vault; the child reaches them only through bridged functions (`llm_query`,
`search`, `read`, ...) whose calls arrive here over the pipe and are answered here.

What holds, and where (the child's side: sandbox_child.py, sandbox_walls.py, sandbox_pyguard.py;
the process and the pipe as the parent sees them: sandbox_process.py, sandbox_protocol.py):
- Kernel walls (the default): the child lives in its own user, mount, PID, network and IPC
  namespaces, in a root that holds only the standard library (read-only, noexec) and a
  size-capped tmpfs scratch dir; root becomes nobody, anyone else keeps no capabilities; it
  cannot create processes or threads, exec, ptrace, signal anything but itself, leave its
  process group, open sockets other than AF_UNIX, map executable memory, mount or unshare
  (seccomp). The vault, `$HOME`, /proc, the network and the kb process are not in its world;
  pages reach it only as data over the pipe. It dies with kb (PR_SET_PDEATHSIG) and its
  process group is killed on every exit path; its scratch dies with its mount namespace.
- The parent does not trust the pipe (sandbox_protocol.py): length-prefixed frames with a size
  cap, a strict schema per message, request ids; any violation ends the child and is reported
  as a protocol violation. Model code can write to the pipe (it runs in the same process as
  the REPL loop), so a forged `done` can end its own turn early with its own output, as FINAL
  could; the real `done` that follows is a violation, and the child is replaced.
- Limits: a cell's wall time counts time spent in bridged calls; the run's deadline (when given)
  is enforced while a cell runs; FINAL_VAR is rendered in the child under the cell limit and
  capped. The parent waits on the child at most until the deadline (plus the kill).
- Where the kernel refuses namespaces or seccomp (some containers), starting a sandbox raises a
  SandboxError saying what is missing, unless weak mode is allowed (`[sandbox] allow_weak`):
  then a Python-level line (audit hook, import allow-list), rlimits, the drop to nobody for
  root, a network namespace and seccomp where available are all there is: the host's files
  are in reach of whatever the uid may read, and Python code can reach around the first line.
  Its scratch is a host dir, removed by the parent, and by the next kb if the parent died.

What it does NOT cover:
- Interpreter or kernel bugs; CPU and memory are limited per child, not per cell (the scratch
  tmpfs is memory too, up to `scratch_mb`). The Python-level line is a second line only: frames,
  the garbage collector and the real builtins lead around it (tests run the hostile suite with
  it switched off to show the kernel walls alone hold).
- The standard library is readable (imports need it); `uname` shows the kernel release.
- The root of a rootless container, where nobody is not mapped, keeps uid 0 inside its own user
  namespace (no capabilities) rather than becoming nobody.
- Bridged functions run in the parent with the parent's rights: each tool validates its own
  arguments. A bridged call that is already running is not interrupted: the limit is applied
  when it returns, so a tool must bound its own time (llm_query checks the run budget first).
- The seccomp filter is written for x86_64; elsewhere kernel mode reports seccomp as missing.
- PR_SET_PDEATHSIG follows the thread that started the child: start and use a sandbox from a
  thread that outlives it (the RLM loop does).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kb.agents.sandbox_process import ChildProcess, Stop, make_scratch
from kb.core.errors import KbError

HOW_TO_ALLOW = ("allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, "
                "user.max_user_namespaces > 0; in Docker, --security-opt seccomp=unconfined) or set "
                "[sandbox] allow_weak = true in .kb/config.toml to run model code behind "
                "Python-level walls only")


class SandboxError(KbError):
    pass


class SandboxRefused(SandboxError):
    """The kernel would not build the walls and weak mode is not allowed: no model code runs."""


@dataclass
class Limits:
    cell_seconds: float = 30.0  # wall time per cell, bridged calls included
    cpu_seconds: int = 120  # per child process
    memory_mb: int = 1024  # address space
    file_mb: int = 16  # largest file the child may write
    scratch_mb: int = 64  # the scratch tmpfs (kernel mode)
    output_chars: int = 20000  # kept per cell; the rest is counted and dropped
    final_chars: int = 100_000  # of a FINAL()/FINAL_VAR() answer or a variable read back
    allow_weak: bool | None = None  # None: the process-wide setting (allow_weak_walls)
    python_walls: bool = True  # the second line; tests turn it off to show the kernel walls alone


_ALLOW_WEAK = False
_KERNEL_MISSING: str | None = None  # why kernel walls failed on this machine, once known


def allow_weak_walls(allowed: bool) -> None:
    """The front end's `[sandbox] allow_weak` setting, for sandboxes whose Limits do not say."""
    global _ALLOW_WEAK
    _ALLOW_WEAK = bool(allowed)


@dataclass
class CellResult:
    output: str = ""
    error: str | None = None  # a traceback the model can read
    killed: str | None = None  # why the child was killed (limit, death, protocol), if it was
    final: dict | None = None  # FINAL()/FINAL_VAR() called inside the cell
    seconds: float = 0.0
    calls: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None and self.killed is None


class _Unavailable(Exception):
    pass


class Sandbox:
    def __init__(self, tools: dict[str, Callable[..., Any]] | None = None, limits: Limits | None = None,
                 on_call: Callable[[dict], None] | None = None, deadline: float | None = None):
        self.tools = dict(tools or {})
        if "llm_query" in self.tools and "llm_query_batched" not in self.tools:
            query = self.tools["llm_query"]
            self.tools["llm_query_batched"] = lambda prompts, **kw: [query(p, **kw) for p in prompts]
        self.limits = limits or Limits()
        self.on_call = on_call
        self.deadline = deadline  # time.monotonic() by which the whole run must end, if any
        self.variables: dict[str, Any] = {}
        self.restarts = 0
        self.walls = ""  # kernel | weak, once started
        self.missing = ""  # what weak mode lacks, in words
        self._child: ChildProcess | None = None
        self._scratch: Path | None = None
        self._rid = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "Sandbox":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def scratch(self) -> Path:
        """The host dir a weak-mode child works in (kernel mode: its start dir, empty; its real
        scratch is a tmpfs that exists only in its own mount namespace)."""
        if self._scratch is None:
            self._scratch = make_scratch()
        return self._scratch

    @property
    def _proc(self):
        """The child's process while one runs (None once killed)."""
        return self._child.proc if self._child is not None else None

    def start(self) -> None:
        global _KERNEL_MISSING
        allow_weak = _ALLOW_WEAK if self.limits.allow_weak is None else self.limits.allow_weak
        if _KERNEL_MISSING is None:
            try:
                self._spawn("kernel")
            except _Unavailable as e:
                _KERNEL_MISSING = str(e)
        if _KERNEL_MISSING is not None:
            if not allow_weak:
                raise SandboxRefused(f"refusing to run model code: the kernel would not build the "
                                   f"sandbox's walls ({_KERNEL_MISSING}); {HOW_TO_ALLOW}")
            self._spawn("weak")
        try:
            names = sorted(self.tools)
            if names:
                self._request({"op": "tools", "names": names}, ("ok",))
            for name, value in self.variables.items():
                self._request({"op": "set", "name": name, "value": value}, ("ok",))
        except Stop as stop:
            self._kill()
            raise SandboxError(f"the sandbox process failed while starting ({self._why(stop)})") from None

    def _spawn(self, mode: str) -> None:
        lim = self.limits
        settings = {"memory_mb": lim.memory_mb, "cpu_seconds": lim.cpu_seconds, "file_mb": lim.file_mb,
                    "scratch_mb": lim.scratch_mb, "final_chars": lim.final_chars, "python_walls": lim.python_walls}
        self._child = ChildProcess(mode, settings, self.scratch if mode == "weak" else Path("/"))
        try:
            msg = self._child.recv(time.monotonic() + 30, ("ready", "unavailable"))
        except Stop as stop:
            why = self._why(stop)
            self._kill()
            raise SandboxError(f"the sandbox process did not start ({why})") from None
        if msg["op"] == "unavailable":
            self._kill()
            raise _Unavailable(msg["missing"][:300])
        self.walls, self.missing = msg["walls"], msg["missing"]

    def close(self) -> None:
        self._kill()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.kill()

    def _restart(self) -> None:
        self._kill()
        self.restarts += 1
        self.start()

    # -- protocol ----------------------------------------------------------------------------
    def _request(self, msg: dict, expect: tuple[str, ...], seconds: float = 30.0) -> dict:
        self._rid += 1
        deadline = time.monotonic() + seconds
        self._child.send(dict(msg, id=self._rid), deadline)
        return self._child.recv(deadline, expect, self._rid)

    def _why(self, stop: Stop, limit: str = "") -> str:
        if stop.kind == "violation":
            return f"it broke the pipe protocol: {stop.detail}; it was killed"
        if stop.kind == "dead":
            return f"the sandbox process died ({self._child.exit_description() if self._child else 'gone'})"
        return limit or f"no answer in time{': ' + stop.detail if stop.detail else ''}"

    # -- public API --------------------------------------------------------------------------
    def set(self, name: str, value: Any) -> None:
        """Hand a JSON-able value to the REPL as a variable (kept across restarts)."""
        if not name.isidentifier():
            raise SandboxError(f"{name!r} is not a valid variable name")
        self.variables[name] = value
        if self._proc is not None:
            try:
                self._request({"op": "set", "name": name, "value": value}, ("ok",))
            except Stop as stop:
                self._restart()
                raise SandboxError(f"setting {name}: {self._why(stop)}") from None

    def get(self, name: str, as_json: bool = False) -> Any:
        """A variable's value as text (what the model sees), or as JSON data (None if it is not).
        Rendering runs in the child under the cell limit; a child that overruns it is replaced."""
        if self._proc is None:
            self.start()
        try:
            reply = self._request({"op": "get", "name": name, "as_json": as_json}, ("value",),
                                  self.limits.cell_seconds)
        except Stop as stop:
            why = self._why(stop, f"rendering it ran past the {self.limits.cell_seconds:g}s cell limit")
            self._restart()
            raise SandboxError(f"reading {name}: {why}; the REPL was restarted") from None
        return reply["value"] if reply["found"] else None

    def run(self, code: str, *, seconds: float | None = None) -> CellResult:
        """`seconds`: this cell's wall limit, when not `Limits.cell_seconds` (the first cell kb
        writes itself makes its planned sub-calls, which the sub-call budget bounds; on a CPU a
        dozen of them take minutes). The run's own deadline holds either way."""
        if self._proc is None:
            self.start()
        result = CellResult()
        t0 = time.monotonic()
        cell_limit = self.limits.cell_seconds if seconds is None else seconds
        cell_end = t0 + cell_limit
        deadline = min(cell_end, self.deadline) if self.deadline is not None else cell_end
        self._rid += 1
        rid = self._rid
        try:
            self._child.send({"op": "exec", "id": rid, "code": code, "cap": self.limits.output_chars}, deadline)
            while True:
                msg = self._child.recv(deadline, ("call", "done"), rid)
                if msg["op"] == "done":
                    result.output, result.error, result.final = msg["output"], msg["error"], msg["final"]
                    break
                self._answer_call(msg, result, deadline)
                if time.monotonic() >= deadline:
                    raise Stop("time")
        except Stop as stop:
            budget_out = self.deadline is not None and time.monotonic() >= self.deadline and self.deadline < cell_end
            limit = ("the run's time budget ran out while the cell ran; it was killed" if budget_out else
                     f"cell ran past its {cell_limit:g}s wall-time limit (bridged calls "
                     "included) and was killed")
            result.killed = self._why(stop, limit)
            result.seconds = time.monotonic() - t0  # until the kill; a fresh child is not the cell's time
            if budget_out:
                self._kill()  # nothing more will run: no fresh child
            else:
                result.killed += "; the REPL was restarted: variables you created are gone, the inputs are back"
                self._restart()
        result.seconds = result.seconds or time.monotonic() - t0
        return result

    def _answer_call(self, msg: dict, result: CellResult, deadline: float) -> None:
        fn, args, kwargs = msg["fn"], msg["args"], msg["kwargs"]
        record = {"fn": fn, "args": args, "kwargs": kwargs}
        tool = self.tools.get(fn)
        started = time.monotonic()
        try:
            if tool is None:
                raise SandboxError(f"no function {fn!r}")
            value = tool(*args, **kwargs)
            json.dumps(value)
            reply = {"op": "result", "value": value}
            record["ok"] = True
        except Exception as e:  # a tool failure is data for the model, not a crash
            reply = {"op": "error", "message": f"{fn}: {e}"}
            record["error"] = str(e)
        record["seconds"] = time.monotonic() - started
        result.calls.append(record)
        if self.on_call:
            self.on_call(record)
        self._child.send(reply, deadline)


def sandbox_mode(allow_weak: bool) -> str:
    """One line for `kb status`: which walls model code runs behind here."""
    try:
        with Sandbox(limits=Limits(cell_seconds=10, allow_weak=allow_weak)) as sb:
            if sb.walls == "kernel":
                return "kernel walls (namespaces, private root, seccomp)"
            return f"weak, allowed by [sandbox] allow_weak (missing: {sb.missing})"
    except SandboxRefused:
        return f"refused: the kernel would not build the walls ({_KERNEL_MISSING}); {HOW_TO_ALLOW}"
    except SandboxError as e:
        return f"refused: {e}"
