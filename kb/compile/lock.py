"""The compile lock: one compile per vault at a time, whoever runs it (the CLI, the TUI, the
watcher, an MCP client), and never a stale lock after a crash."""

from __future__ import annotations

import fcntl
import os

from kb.core.errors import KbError
from kb.core.vault import Vault


class CompileLocked(KbError):
    pass


class Lock:
    """`.kb/compile.lock`, held with an OS lock (flock) for as long as a compile runs: the kernel
    drops it when that process ends however it ends, so a stale file or a reused pid never blocks.
    The pid inside is only for the message."""

    def __init__(self, vault: Vault):
        self.path = vault.state_dir / "compile.lock"
        self._fd: int | None = None

    def __enter__(self):
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        except OSError as e:
            raise CompileLocked(f"{self.path}: cannot create the compile lock ({e.strerror or e}); "
                                "is the vault read-only?") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise CompileLocked(f"another kb compile is running on this vault (pid {pid}); wait for it") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc):
        self.path.unlink(missing_ok=True)  # before the unlock: a waiting run then makes a fresh file
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
