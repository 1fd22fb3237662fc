"""One REPL child process as the parent sees it: started with nothing but its two pipes, talked
to in frames under deadlines, killed with its whole process group.

Every wait has a deadline and every write is non-blocking, so a child that stops reading or
writing, floods the pipe or sends garbage cannot hold the parent: it raises `Stop`, saying why,
and the caller kills the child. Children still alive when kb exits are killed too (atexit); the
child's own die-with-parent signal covers a kb that is killed outright.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

from kb.agents import sandbox_protocol as protocol

CHILD = Path(__file__).with_name("sandbox_child.py")
_LIVE: "weakref.WeakSet[ChildProcess]" = weakref.WeakSet()


class Stop(Exception):
    """The child must go: kind is time | dead | violation."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class ChildProcess:
    def __init__(self, mode: str, settings: dict, workdir: Path):
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
        # Only the two protocol pipes are inherited (close_fds): none of kb's files or sockets.
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(CHILD), mode, str(workdir), json.dumps(settings),
             str(to_child_r), str(from_child_w)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(to_child_r, from_child_w), close_fds=True, cwd=workdir, env=env, start_new_session=True)
        _LIVE.add(self)
        os.close(to_child_r)
        os.close(from_child_w)
        os.set_blocking(to_child_w, False)
        self.tx, self.rx = to_child_w, from_child_r
        self.rpoll, self.wpoll = select.poll(), select.poll()  # poll: no FD_SETSIZE limit
        self.rpoll.register(self.rx, select.POLLIN)
        self.wpoll.register(self.tx, select.POLLOUT)
        self.reader = protocol.FrameReader()

    def send(self, msg: dict, deadline: float) -> None:
        view = memoryview(protocol.encode(msg))
        while view:
            try:
                view = view[os.write(self.tx, view[:1 << 16]):]
                continue
            except BlockingIOError:
                pass
            except OSError:
                raise Stop("dead") from None
            left = deadline - time.monotonic()
            if left <= 0 or not self.wpoll.poll(left * 1000):
                raise Stop("time", "the child stopped reading")

    def recv(self, deadline: float, expect: tuple[str, ...], rid: int | None = None) -> dict:
        """The next message, checked; Stop at the deadline, on EOF or on a violation."""
        while True:
            try:
                frame = self.reader.next()
                if frame is not None:
                    return protocol.parse(frame, expect, rid)
            except protocol.ProtocolViolation as e:
                raise Stop("violation", str(e)) from None
            left = deadline - time.monotonic()
            if left <= 0 or not self.rpoll.poll(left * 1000):
                raise Stop("time")
            chunk = os.read(self.rx, 1 << 20)
            if not chunk:
                raise Stop("dead")
            self.reader.feed(chunk)

    def exit_description(self) -> str:
        try:
            return describe_exit(self.proc.wait(timeout=2))
        except subprocess.TimeoutExpired:
            return describe_exit(None)

    def kill(self) -> None:
        if self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its whole group: the waiter and the REPL
            except (ProcessLookupError, PermissionError):
                pass
        self.proc.wait()
        for fd in (self.tx, self.rx):
            try:
                os.close(fd)
            except OSError:
                pass
        _LIVE.discard(self)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running; killed"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = {"SIGXCPU": "CPU-time limit", "SIGKILL": "killed", "SIGSEGV": "crashed",
                "SIGXFSZ": "file-size limit"}.get(name, "")
        return f"{name}{', ' + hint if hint else ''}"
    return f"exit code {code}"


def make_scratch() -> Path:
    """A host dir for a weak-mode child, named for this kb process so that a later kb can tell
    a dead one's leftovers (removed here) from a live one's."""
    for path in Path(tempfile.gettempdir()).glob("kb-scratch-*"):
        m = re.match(r"kb-scratch-(\d+)-", path.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            os.kill(int(m.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass
    path = Path(tempfile.mkdtemp(prefix=f"kb-scratch-{os.getpid()}-"))
    if os.geteuid() == 0:  # a weak-mode child drops to nobody and must still write here
        os.chown(path, 65534, 65534)
    return path


@atexit.register
def _kill_all() -> None:
    for child in list(_LIVE):
        child.kill()
