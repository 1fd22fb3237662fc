"""The sandboxed REPL process. Runs as `python -I -S sandbox_child.py SCRATCH LIMITS_JSON RX_FD TX_FD`.

Trusted start-up code hardens the process before any model-written code runs:
1. a new network namespace where the kernel allows it (no interfaces: no network at all);
2. rlimits: address space, CPU seconds, file size, open files, no core dumps;
3. when started as root, drop to the `nobody` user, so the OS itself refuses other users' files
   and writes outside the world-writable scratch dir;
4. a PEP 578 audit hook, which cannot be removed once installed, that refuses process creation,
   sockets, ctypes, signals to other processes, reads outside the scratch dir and the standard
   library, and any write or file-system change outside the scratch dir;
5. user code runs with its own builtins: `__import__` admits an allowlist of pure modules, `open`
   only reaches the scratch dir.
It then serves newline-delimited JSON on the two pipe fds it was given. Only the standard library is
used: `-S` keeps site-packages (and kb itself) out of the child.
"""

import ast
import builtins
import io
import json
import os
import resource
import sys
import traceback

ALLOWED_IMPORTS = frozenset({
    "re", "json", "math", "cmath", "collections", "itertools", "functools", "statistics", "datetime",
    "textwrap", "difflib", "string", "random", "heapq", "bisect", "operator", "decimal", "fractions",
    "unicodedata", "dataclasses", "typing", "copy", "pprint", "enum", "csv", "time", "calendar",
    "hashlib", "base64", "html", "abc", "numbers", "array", "struct", "zlib", "fnmatch", "shlex",
})
BLOCKED_EVENT_PREFIXES = ("socket.", "ctypes.", "subprocess.", "os.exec", "os.spawn", "os.posix_spawn",
                          "os.fork", "os.forkpty", "os.system", "os.startfile", "os.kill", "os.killpg",
                          "pty.", "os.putenv", "os.unsetenv", "sys._getframe", "sys.setprofile",
                          "sys.settrace", "os.chroot", "os.setuid", "os.setgid", "resource.setrlimit",
                          "resource.prlimit", "sys.remote_exec", "winreg.", "mmap.", "webbrowser.")
PATH_EVENTS = {"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod", "os.chown", "os.link",
               "os.symlink", "os.truncate", "os.utime", "os.chdir", "os.listdir", "os.scandir",
               "os.chflags", "os.lchflags", "os.lchmod", "os.lchown", "os.mkfifo", "os.mknod",
               "shutil.copyfile", "shutil.copymode", "shutil.copystat", "shutil.copytree",
               "shutil.move", "shutil.rmtree", "shutil.chown", "os.removexattr", "os.setxattr",
               "glob.glob", "os.walk", "fcntl.ioctl", "fcntl.fcntl", "fcntl.flock", "fcntl.lockf"}
BLOCKED_MODULES = ("ctypes", "_ctypes", "subprocess", "_posixsubprocess", "socket", "_socket", "ssl",
                   "multiprocessing", "_multiprocessing", "pty", "signal", "asyncio", "mmap",
                   "urllib", "http", "ftplib", "smtplib", "telnetlib", "xmlrpc", "_thread", "threading",
                   "concurrent", "selectors", "select", "importlib", "imp", "zipimport", "code",
                   "codeop", "pdb", "bdb", "gc", "inspect", "marshal", "pickle", "shelve", "tempfile",
                   "shutil", "glob", "pathlib", "sysconfig", "site", "runpy", "webbrowser")


class Refused(PermissionError):
    pass


def harden(scratch: str, limits: dict) -> None:
    try:  # a network namespace with no interfaces; needs root or unprivileged user namespaces
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        clone_newnet, clone_newuser = 0x40000000, 0x10000000
        if libc.unshare(clone_newnet) != 0:
            libc.unshare(clone_newuser | clone_newnet)
        del ctypes, libc
    except Exception:
        pass
    mb = 1024 * 1024
    for res, value in ((resource.RLIMIT_AS, limits["memory_mb"] * mb),
                       (resource.RLIMIT_CPU, limits["cpu_seconds"]),
                       (resource.RLIMIT_FSIZE, limits["file_mb"] * mb),
                       (resource.RLIMIT_NOFILE, 64),
                       (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NPROC, 64)):
        try:
            resource.setrlimit(res, (value, value))
        except (ValueError, OSError):
            pass
    # Load every allowed module now: after the uid drop the interpreter's own files may be
    # unreadable (a Python under /root), and later imports would fail.
    for name in sorted(ALLOWED_IMPORTS):
        try:
            __import__(name)
        except ImportError:
            pass
    if os.geteuid() == 0:
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
        except OSError:
            pass
    for name in BLOCKED_MODULES:  # drop what start-up imported, so it cannot be found in sys.modules
        sys.modules.pop(name, None)


def install_audit_hook(scratch: str) -> None:
    scratch = os.path.realpath(scratch)
    readable = tuple(sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix)
                             if p} | {scratch}))
    blocked_modules = frozenset(BLOCKED_MODULES)
    realpath, isabs, join, fspath = os.path.realpath, os.path.isabs, os.path.join, os.fspath
    prefixes, path_events = BLOCKED_EVENT_PREFIXES, frozenset(PATH_EVENTS)

    def inside(path, roots) -> bool:
        try:
            p = fspath(path)
            if isinstance(p, bytes):
                p = p.decode("utf-8", "replace")
        except TypeError:
            return False
        p = realpath(p if isabs(p) else join(scratch, p))
        return any(p == r or p.startswith(r + "/") for r in roots)

    def hook(event, args):
        if event.startswith(prefixes):
            raise Refused(f"sandbox: {event} is not allowed")
        if event == "import":
            if args[0].partition(".")[0] in blocked_modules:
                raise Refused(f"sandbox: import of {args[0]} is not allowed")
        elif event == "open":
            path, mode, flags = args
            if isinstance(path, int):
                raise Refused("sandbox: opening file descriptors is not allowed")
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or \
                      (isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC))
            if not inside(path, (scratch,) if writing else readable):
                raise Refused(f"sandbox: {'writing' if writing else 'reading'} {path} is not allowed "
                              "(only the scratch dir)")
        elif event in path_events:
            if event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move"):
                paths = args[:2]
            else:
                paths = args[:1]
            if not all(inside(p, (scratch,)) for p in paths):
                raise Refused(f"sandbox: {event} outside the scratch dir is not allowed")

    sys.addaudithook(hook)


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


def main() -> None:
    scratch, limits = sys.argv[1], json.loads(sys.argv[2])
    rx = os.fdopen(int(sys.argv[3]), "r", encoding="utf-8")
    tx = os.fdopen(int(sys.argv[4]), "w", encoding="utf-8")
    os.chdir(scratch)
    harden(scratch, limits)

    def send(msg):
        tx.write(json.dumps(msg, default=repr) + "\n")
        tx.flush()

    def recv():
        line = rx.readline()
        if not line:
            os._exit(0)
        return json.loads(line)

    real_import = builtins.__import__
    real_open = builtins.open
    state = {"final": None}

    def safe_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or name.partition(".")[0] not in ALLOWED_IMPORTS:
            raise ImportError(f"sandbox: import of '{name}' is not allowed; allowed: "
                              + ", ".join(sorted(ALLOWED_IMPORTS)))
        return real_import(name, globals, locals, fromlist, level)

    def safe_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            raise PermissionError("sandbox: opening file descriptors is not allowed")
        return real_open(file, mode, *args, **kwargs)

    def bridge(fn):
        def call(*args, **kwargs):
            send({"op": "call", "fn": fn, "args": list(args), "kwargs": kwargs})
            reply = recv()
            if reply.get("op") == "error":
                raise RuntimeError(reply["message"])
            return reply.get("value")
        call.__name__ = fn
        return call

    def FINAL(answer):  # noqa: N802 - the names the model is told to use
        state["final"] = {"kind": "text", "value": str(answer)}
        return answer

    def FINAL_VAR(name):  # noqa: N802
        if not isinstance(name, str):
            state["final"] = {"kind": "text", "value": str(name)}
        elif name not in namespace:
            raise NameError(f"FINAL_VAR: no variable named {name!r}")
        else:
            state["final"] = {"kind": "var", "name": name, "value": str(namespace[name])}
        return None

    safe_builtins = {k: v for k, v in vars(builtins).items()
                     if k not in ("open", "__import__", "breakpoint", "input", "help", "exit", "quit",
                                  "copyright", "credits", "license", "memoryview", "__loader__", "__spec__")}
    safe_builtins.update(__import__=safe_import, open=safe_open)
    namespace = {"__builtins__": safe_builtins, "__name__": "__repl__", "FINAL": FINAL, "FINAL_VAR": FINAL_VAR}
    for name in ("re", "json", "math", "collections"):  # small models forget to import these
        namespace[name] = sys.modules.get(name) or real_import(name)

    install_audit_hook(scratch)
    send({"op": "ready", "pid": os.getpid(), "uid": os.getuid()})
    while True:
        msg = recv()
        op = msg.get("op")
        if op == "set":
            namespace[msg["name"]] = msg["value"]
            send({"op": "ok"})
        elif op == "tools":
            for fn in msg["names"]:
                namespace[fn] = bridge(fn)
            send({"op": "ok"})
        elif op == "get":
            name = msg["name"]
            value = namespace.get(name)
            if msg.get("as_json"):  # structured results (a dict of verdicts), when they are JSON
                try:
                    value = json.loads(json.dumps(value))
                except (TypeError, ValueError):
                    value = None
            else:
                value = str(value) if name in namespace else None
            send({"op": "value", "found": name in namespace, "value": value})
        elif op == "exec":
            out = CappedWriter(msg.get("cap", 20000))
            error = None
            state["final"] = None
            sys.stdout = sys.stderr = out
            try:
                tree = ast.parse(msg["code"], "<cell>", "exec")
                last = None
                if tree.body and isinstance(tree.body[-1], ast.Expr):
                    last = ast.Expression(tree.body.pop().value)
                exec(compile(tree, "<cell>", "exec"), namespace)
                if last is not None:
                    value = eval(compile(last, "<cell>", "eval"), namespace)
                    if value is not None:
                        print(repr(value))
            except BaseException as e:  # the model reads its own traceback
                tb = traceback.format_exception(type(e), e, e.__traceback__)
                # keep only frames from the cell itself
                lines = [l for l in tb if "sandbox_child.py" not in l]
                error = "".join(lines)[-4000:]
            finally:
                sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
            send({"op": "done", "output": out.getvalue(), "error": error, "final": state["final"]})
        else:
            send({"op": "error", "message": f"unknown op {op!r}"})


if __name__ == "__main__":
    main()
