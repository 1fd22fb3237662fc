"""The sandboxed REPL process: `python -I -S sandbox_child.py MODE SCRATCH LIMITS_JSON RX_FD TX_FD`.

Trusted start-up code walls the process in before any model-written code runs.
MODE `kernel` (see sandbox_walls.py): new user (unless root), mount, PID, network and IPC
namespaces; a private read-only root holding the standard library and a size-capped tmpfs at
/scratch; root drops to nobody; the process forks so that the REPL is PID 1 of its namespace
while the first process waits and passes its exit status on; then rlimits, die-with-parent,
no-new-privileges and the seccomp filter. If a step fails the child reports `unavailable`, with
the reason, and exits: the parent decides whether the weaker mode is allowed.
MODE `weak`: the host scratch dir SCRATCH, a network namespace if the kernel grants one, rlimits,
root drops to nobody, die-with-parent, and the seccomp filter where it can be installed.
In both modes a second, Python-level line follows: an audit hook (refuses process creation,
sockets, ctypes, foreign files), an import allow-list, and an `open` without raw descriptors.
Code can reach around that line (frames, the garbage collector, the real builtins); in kernel
mode what it then reaches is only the walled world above.
The loop serves length-prefixed JSON frames (sandbox_protocol.py) on the two pipe fds.
"""

import ast
import builtins
import io
import json
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sandbox_protocol as protocol  # noqa: E402
import sandbox_walls as walls  # noqa: E402
import sandbox_pyguard as pyguard  # noqa: E402

sys.path.remove(HERE)


def kernel_mode(limits: dict, fds: tuple[int, int]) -> str:
    """Build the kernel walls; returns in the REPL process (PID 1 of the new namespace)."""
    import signal  # for the waiting process, loaded before the old root goes away
    read_only = [p for p in sys.path if os.path.isdir(p)]
    walls.enter_namespaces()
    walls.build_root(read_only, limits["scratch_mb"])
    walls.drop_privileges()
    parent = os.getppid()
    pid = os.fork()
    if pid:  # outside the PID namespace: wait for the REPL and die the way it died
        for fd in fds:
            os.close(fd)
        walls.die_with_parent()
        if os.getppid() != parent:
            os._exit(1)
        _, status, usage = os.wait4(pid, 0)
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            # PID 1 ignores SIGXCPU, so the CPU limit arrives as the hard limit's SIGKILL
            if sig == signal.SIGKILL and usage.ru_utime + usage.ru_stime >= limits["cpu_seconds"] - 0.5:
                sig = signal.SIGXCPU
            if sig != signal.SIGKILL:
                signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
    walls.die_with_parent()
    walls.set_rlimits(limits)
    walls.install_seccomp()
    return ""


def weak_mode(limits: dict) -> str:
    """What can be had without namespaces; returns what is missing, in words."""
    missing = ["mount, PID, IPC namespaces (the host's files are in reach)"]
    try:
        if walls.libc().unshare(walls.CLONE_NEWNET) != 0 and \
                walls.libc().unshare(walls.CLONE_NEWUSER | walls.CLONE_NEWNET) != 0:
            missing.append("network namespace")
    except OSError:
        missing.append("network namespace")
    walls.set_rlimits(limits)
    if os.geteuid() == 0:
        walls.drop_privileges()
    walls.die_with_parent()
    try:
        walls.install_seccomp()
    except walls.WallError as e:
        missing.append(str(e))
    return "; ".join(missing)


class CappedWriter(io.TextIOBase):
    """stdout/stderr for one cell: keeps the first `cap` characters, counts the rest."""

    def __init__(self, cap: int):
        self.cap, self.parts, self.kept, self.total = cap, [], 0, 0

    def write(self, s):
        s = str(s)
        self.total += len(s)
        room = self.cap - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        return len(s)

    def getvalue(self) -> str:
        text = "".join(self.parts)
        if self.total > self.kept:
            text += f"\n... [output truncated: {self.total:,} characters, kept {self.kept:,}]"
        return text


class Channel:
    """Frames on the pipe; the parent is trusted, so what it sends is not capped here."""

    def __init__(self, rx: int, tx: int):
        self.rx, self.tx, self.reader = rx, tx, protocol.FrameReader(cap=1 << 40)

    def send(self, msg: dict) -> None:
        data = protocol.encode(msg)
        if len(data) > protocol.MAX_FROM_CHILD:  # say so rather than break the protocol
            too_big = f"sandbox: a {len(data):,}-byte message is over the pipe's cap"
            if msg["op"] == "call":
                raise ValueError(too_big)
            data = protocol.encode(dict(msg, output="", error=too_big, final=None) if msg["op"] == "done"
                                   else dict(msg, value=None))
        view = memoryview(data)
        while view:
            view = view[os.write(self.tx, view):]

    def recv(self) -> dict:
        while (frame := self.reader.next()) is None:
            chunk = os.read(self.rx, 1 << 20)
            if not chunk:
                os._exit(0)
            self.reader.feed(chunk)
        return json.loads(frame)


def run_cell(code: str, namespace: dict, cap: int, trusted: list) -> tuple[str, str | None]:
    out = CappedWriter(cap)
    error = None
    sys.stdout = sys.stderr = out
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(last, "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
    except BaseException as e:  # the model reads its own traceback
        trusted[0] = True
        try:
            tb = traceback.format_exception(type(e), e, e.__traceback__)
        finally:
            trusted[0] = False
        error = "".join(l for l in tb if not l.startswith(f'  File "{HERE}'))[-4000:]  # the cell's frames
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return out.getvalue(), error


def main() -> None:
    mode, scratch, limits = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    chan = Channel(int(sys.argv[4]), int(sys.argv[5]))
    pyguard.preload()
    if mode == "kernel":
        try:
            missing = kernel_mode(limits, (chan.rx, chan.tx))
        except (walls.WallError, OSError) as e:
            chan.send({"op": "unavailable", "missing": str(e)})
            os._exit(3)
        scratch = walls.SCRATCH
    else:
        os.chdir(scratch)
        missing = weak_mode(limits)
    pyguard.forget_blocked()
    state = {"final": None, "call": 0}
    final_cap = int(limits.get("final_chars", 100_000))

    def bridge(fn):
        def call(*args, **kwargs):
            chan.send({"op": "call", "id": state["call"], "fn": fn, "args": list(args), "kwargs": kwargs})
            reply = chan.recv()
            if reply.get("op") == "error":
                raise RuntimeError(reply["message"])
            return reply.get("value")
        call.__name__ = fn
        return call

    def FINAL(answer):  # noqa: N802 - the names the model is told to use
        state["final"] = {"kind": "text", "value": str(answer)[:final_cap]}
        return answer

    def FINAL_VAR(name):  # noqa: N802 - rendered here, inside the cell and its time limit
        if not isinstance(name, str):
            state["final"] = {"kind": "text", "value": str(name)[:final_cap]}
        elif name not in namespace and not name.isidentifier():  # FINAL_VAR(answer): the value, not its name
            state["final"] = {"kind": "text", "value": name[:final_cap]}
        elif name not in namespace:
            raise NameError(f"FINAL_VAR: no variable named {name!r}")
        else:
            state["final"] = {"kind": "var", "name": name, "value": str(namespace[name])[:final_cap]}

    extra = {"FINAL": FINAL, "FINAL_VAR": FINAL_VAR}
    if limits.get("python_walls", True):
        namespace = pyguard.namespace(scratch, extra)
        trusted = pyguard.install_audit_hook(scratch)
    else:  # tests: show that the kernel walls hold on their own
        namespace = {"__name__": "__repl__", **extra, **{m: sys.modules[m] for m in ("re", "json", "math", "collections")}}
        trusted = [False]
    chan.send({"op": "ready", "pid": os.getpid(), "uid": os.getuid(),
               "walls": mode, "missing": missing})
    while True:
        msg = chan.recv()
        op, rid = msg.get("op"), msg.get("id", 0)
        if op == "set":
            namespace[msg["name"]] = msg["value"]
            chan.send({"op": "ok", "id": rid})
        elif op == "tools":
            for fn in msg["names"]:
                namespace[fn] = bridge(fn)
            chan.send({"op": "ok", "id": rid})
        elif op == "get":
            name, value = msg["name"], namespace.get(msg["name"])
            if msg.get("as_json"):  # structured results (a dict of verdicts), when they are JSON
                try:
                    value = json.loads(json.dumps(value))
                except (TypeError, ValueError, RecursionError):
                    value = None
            else:
                value = str(value)[:final_cap] if name in namespace else None
            chan.send({"op": "value", "id": rid, "found": name in namespace, "value": value})
        elif op == "exec":
            state["final"], state["call"] = None, rid
            output, error = run_cell(msg["code"], namespace, msg.get("cap", 20000), trusted)
            chan.send({"op": "done", "id": rid, "output": output, "error": error, "final": state["final"]})


if __name__ == "__main__":
    main()
