"""`kb watch`: drop a file into raw/, get its wiki page.

watchdog reports raw/ events from its own thread; they only stamp a path in the pending map. The
watcher's loop takes a path once it has been quiet for `debounce` seconds and its size and mtime
held still between two looks (an editor writing in bursts, a large file still being copied), and
compiles ready sources with the same `Compile` as `kb compile`, one source per run by default
(`max_batch`): a page appears as soon as its own source is read, not after a whole burst. Compile is
keyed by content hash, so a path that comes back with the same bytes costs nothing: each source
is compiled once however many events it caused.

The pending set is saved in `.kb/watch-queue.json` whenever it changes; on start the watcher
loads it and adds whatever compile's plan says is new, changed or gone, so a stop (Ctrl-C,
SIGTERM, a crash) loses nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from kb.core import events
from kb.core.errors import KbError, PageError
from kb.core.extract import IMAGE_EXTS
from kb.core.kinds import ASSETS, RAW, TEMP_SUFFIX
from kb.core.links import nfc
from kb.core.vault import Vault, atomic_write

TEMP_SUFFIXES = (TEMP_SUFFIX, ".tmp", ".part", ".crdownload", ".download", ".swp", ".swx", "~")


def ignored(rel: str) -> bool:
    """Editor swap files, partial downloads, kb's own temp files, hidden files, assets."""
    name = rel.rsplit("/", 1)[-1]
    return (not rel.startswith(RAW) or rel.startswith(ASSETS) or name.startswith((".", "~$", "#"))
            or name.endswith(TEMP_SUFFIXES) or Path(name).suffix.lower() in IMAGE_EXTS)


@dataclass
class WatchStats:
    compiled: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    batches: int = 0
    errors: list[str] = field(default_factory=list)


class Watcher:
    def __init__(self, vault: Vault, engine_factory: Callable[[], object] | None, settings=None, *,
                 debounce: float = 1.0, max_batch: int = 1, on_log: Callable[[str], None] | None = None,
                 on_progress: events.OnProgress | None = None,
                 record: Callable[[Callable[[], object]], object] | None = None):
        self.vault = vault
        self.settings = settings
        self.record = record or (lambda run: run())  # the API's: each batch ends in one commit
        self.debounce = debounce
        self.max_batch = max_batch  # 1: each page appears as soon as its source is read
        self.log = on_log or (lambda line: None)
        self.on_progress = on_progress or events.ignore
        self.stats = WatchStats()
        self._engine = None
        self._engine_factory = engine_factory
        self._pending: dict[str, tuple[float, tuple | None]] = {}  # path -> (last event, last size/mtime)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._observer = None
        self._queue_file = vault.state_dir / "watch-queue.json"
        self._once = False  # set by run(until_idle=True)

    # -- the queue ----------------------------------------------------------------------------
    @property
    def pending(self) -> list[str]:
        with self._lock:
            return sorted(self._pending)

    def touch(self, rel: str) -> None:
        rel = nfc(rel)
        if ignored(rel):
            return
        with self._lock:
            new = rel not in self._pending
            self._pending[rel] = (time.monotonic(), self._stat(rel))
        if new:
            self._save()
            self.on_progress(events.Queued(rel, len(self._pending)))

    def _stat(self, rel: str) -> tuple | None:
        try:
            st = os.stat(self.vault.root / rel)
            return (st.st_size, st.st_mtime_ns)
        except OSError:
            return None

    def _save(self) -> None:
        """Called from watchdog's thread as well as the loop's: a compile starting in the loop
        sweeps `.kb/` for temp files a killed run left, and can take this one mid-write; the
        queue is written whole each time, so writing it again is the repair (a lasting failure,
        a read-only folder, still raises on the third try)."""
        for attempt in range(3):
            try:
                atomic_write(self._queue_file, json.dumps({"pending": self.pending}) + "\n")
                return
            except (OSError, PageError):
                if attempt == 2:
                    raise

    def _load(self) -> list[str]:
        try:
            return list(json.loads(self._queue_file.read_text())["pending"])
        except (OSError, ValueError, KeyError, TypeError):
            return []

    def ready(self) -> list[str]:
        """Paths quiet for `debounce` seconds whose size and mtime did not move since last look."""
        now = time.monotonic()
        out = []
        with self._lock:
            for rel, (t, seen) in list(self._pending.items()):
                if now - t < self.debounce:
                    continue
                current = self._stat(rel)
                if current != seen:  # still being written: look again after another quiet spell
                    self._pending[rel] = (now, current)
                    continue
                out.append(rel)
        return sorted(out)

    # -- running ------------------------------------------------------------------------------
    def start(self) -> None:
        """Resume the saved queue, add what changed while nobody watched, then watch raw/."""
        from kb.compile.job import Compile
        for rel in self._load():
            self.touch(rel)
        plan = Compile(self.vault, None).plan()
        for rel in plan.work + plan.removed:
            self.touch(rel)
        with self._lock:  # these are not being written: no need to wait for them
            self._pending = {p: (0.0, s) for p, (_, s) in self._pending.items()}
        self._observe()
        self.log(f"watching {self.vault.root / 'raw'} ({len(self._pending)} queued)")

    def _observe(self) -> None:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
        watcher, root = self, self.vault.root

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                    return
                for p in (event.src_path, getattr(event, "dest_path", "")):
                    if p:
                        watcher.touch(os.path.relpath(os.fsdecode(p), root).replace(os.sep, "/"))

        self._observer = Observer()
        self._observer.schedule(Handler(), str(root / RAW), recursive=True)
        self._observer.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self, until_idle: bool = False, poll: float = 0.1) -> WatchStats:
        """The loop: compile ready batches until stopped (or, with `until_idle`, until nothing is
        pending or a batch fails as a whole: a missing model or a held lock would fail again on
        every retry, and `--once` must end). The queue is saved on the way out."""
        self._once = until_idle
        try:
            while not self._stop.is_set():
                batch = self.ready()[:self.max_batch]
                if batch:
                    self.compile(batch)
                    if until_idle and self.stats.errors:
                        break
                elif until_idle and not self.pending:
                    break
                else:
                    self._stop.wait(poll)
        finally:
            if self._observer is not None:
                self._observer.stop()
                self._observer.join(timeout=5)
            self._save()
        return self.stats

    def compile(self, batch: list[str]) -> None:
        from kb.compile.job import Compile, Settings
        with self._lock:
            for rel in batch:
                self._pending.pop(rel, None)
        self.stats.batches += 1
        self.log(f"compiling {len(batch)} source{'s' if len(batch) != 1 else ''}")
        try:
            job = Compile(self.vault, self._engine_once, self.settings or Settings(),
                          on_progress=self.on_progress)
            report = self.record(lambda: job.run(only=set(batch), stop=self._stop.is_set))
        except KbError as e:  # a model error or a busy lock: report, requeue, go on
            self.stats.errors.append(str(e))
            self.log(f"error: {e}; " + ("left queued for the next start" if self._once else "will retry in 5 s"))
            with self._lock:
                for rel in batch:
                    self._pending.setdefault(rel, (time.monotonic() + 5.0, self._stat(rel)))
            self._save()
            return
        for rel in report.skipped:  # asked to stop: these wait for the next start
            with self._lock:
                self._pending.setdefault(rel, (0.0, self._stat(rel)))
        for rel in report.compiled:
            self.stats.compiled.append(rel)
            self.log(f"compiled {rel}")
        for rel in report.removed:
            self.stats.removed.append(rel)
            self.log(f"removed {rel}")
        for rel, why in report.failed.items():
            if rel in batch:
                self.stats.failed[rel] = why
                self.log(f"failed {rel}: {why}")
        for c in report.conflicts:
            self.log(f"conflict: {c}")
        self._save()
        self.on_progress(events.BatchDone(report, len(self.pending)))

    def _engine_once(self):
        """One model load for the watcher's lifetime, and only when a source needs it."""
        if self._engine is None and self._engine_factory is not None:
            self._engine = self._engine_factory()
        return self._engine


def serve(watcher: Watcher, once: bool = False) -> WatchStats:
    """Run a watcher in the foreground: SIGTERM and Ctrl-C finish the source in hand, save the
    queue and return (what `kb watch` does)."""
    import signal
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: watcher.stop())
    watcher.start()
    stats = watcher.run(until_idle=once)
    left = len(watcher.pending)
    watcher.log(f"stopped: {len(stats.compiled)} compiled, {len(stats.removed)} removed, "
                f"{len(stats.failed)} failed" + (f", {left} still queued (resumed on the next start)" if left else ""))
    return stats
