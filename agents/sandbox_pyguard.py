"""The REPL child's Python-level line: an import allow-list, an `open` without raw descriptors, and
a PEP 578 audit hook that refuses process creation, sockets, ctypes, signals and file access
outside the scratch dir and the standard library.

This is the second line. Python code can reach around it (a traceback's frames lead to the hook's
closure, `print.__self__` is the real builtins module, the garbage collector lists every object),
so it only narrows what a cell does by accident or by a first try; the kernel walls
(sandbox_walls.py) are what hold. Stdlib only: the child imports this file by path.
"""

import builtins
import os
import sys

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
                          "resource.prlimit", "sys.remote_exec", "winreg.", "mmap.", "webbrowser.",
                          "gc.get_objects", "gc.get_referrers", "gc.get_referents",
                          "sys._current_frames", "cpython.PyInterpreterState", "_thread.start_new_thread")
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
                   "shutil", "glob", "pathlib", "sysconfig", "site", "runpy", "webbrowser", "_imp",
                   "sandbox_walls", "resource", "fcntl", "termios")
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})  # the way to frames' locals


class Refused(PermissionError):
    pass


def preload() -> None:
    """Load every allowed module now: later the interpreter's files are out of reach (a private
    root, or a uid that cannot read a Python under /root)."""
    for name in sorted(ALLOWED_IMPORTS):
        try:
            __import__(name)
        except ImportError:
            pass


def forget_blocked() -> None:
    """Drop what start-up imported from sys.modules, so a cell cannot just look it up."""
    for name in BLOCKED_MODULES:
        sys.modules.pop(name, None)


def namespace(scratch: str, extra: dict) -> dict:
    real_import, real_open = builtins.__import__, builtins.open

    def safe_import(name, globals=None, locals=None, fromlist=(), level=0):
        if level or name.partition(".")[0] not in ALLOWED_IMPORTS:
            raise ImportError(f"sandbox: import of '{name}' is not allowed; allowed: "
                              + ", ".join(sorted(ALLOWED_IMPORTS)))
        return real_import(name, globals, locals, fromlist, level)

    def safe_open(file, mode="r", *args, **kwargs):
        if isinstance(file, int):
            raise PermissionError("sandbox: opening file descriptors is not allowed")
        return real_open(file, mode, *args, **kwargs)

    safe_builtins = {k: v for k, v in vars(builtins).items()
                     if k not in ("open", "__import__", "breakpoint", "input", "help", "exit", "quit",
                                  "copyright", "credits", "license", "memoryview", "__loader__", "__spec__")}
    safe_builtins.update(__import__=safe_import, open=safe_open)
    ns = {"__builtins__": safe_builtins, "__name__": "__repl__", **extra}
    for name in ("re", "json", "math", "collections"):  # small models forget to import these
        ns[name] = sys.modules.get(name) or real_import(name)
    return ns


def install_audit_hook(scratch: str) -> list:
    """Returns a one-item list: set it true while trusted code formats a traceback."""
    trusted = [False]
    scratch = os.path.realpath(scratch)
    readable = tuple(sorted({os.path.realpath(p) for p in (sys.base_prefix, sys.prefix) if p} | {scratch}))
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
        if trusted[0]:
            return
        if event == "object.__getattr__" and args[1] in FRAME_ATTRS:
            raise Refused(f"sandbox: reading {args[1]} is not allowed")
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
    return trusted
