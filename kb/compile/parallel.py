"""Model calls side by side, results in order: how `kb compile --jobs N` keeps N requests in
flight at a server without changing what it writes.

Reading a source (extract, one model call per chunk, the cache file) depends on that source alone,
so it can run in a thread. Writing does not: a source page links to the concepts earlier sources
registered, and the manifest records sources in turn. So `InOrder` reads ahead in threads and
hands the results back in plan order, and the caller writes them one by one exactly as a serial
run would: the same pages, the same manifest, the same crash-safety (a result is cached before it
is handed back; nothing is written out of turn).

With `jobs` = 1 nothing runs in a thread: each item is read when the caller asks for it, so a
serial compile is the same code path it always was.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class InOrder(Generic[T, R]):
    """`read(item)` for every item, up to `jobs` at once, yielded as (item, get) in the items'
    order; `get()` returns the result or raises what `read` raised. `stop()` is asked before
    each item is handed out (and before more are started): when it says yes, iteration ends and
    the items not handed out are the caller's to report. Leaving the `with` block (normally, on
    stop or on an exception) cancels what has not started and waits for what has, so no thread
    outlives the run and every result read is in its cache."""

    def __init__(self, items: list[T], read: Callable[[T], R], jobs: int = 1,
                 stop: Callable[[], bool] | None = None):
        self.items, self.read, self.jobs = list(items), read, max(1, jobs)
        self.stop = stop or (lambda: False)
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: deque[tuple[T, Future]] = deque()

    def __enter__(self) -> "InOrder[T, R]":
        if self.jobs > 1 and len(self.items) > 1:
            self._pool = ThreadPoolExecutor(self.jobs, thread_name_prefix="kb-compile")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            for _, fut in self._ahead:
                fut.cancel()
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __iter__(self) -> Iterator[tuple[T, Callable[[], R]]]:
        if self._pool is None:
            for item in self.items:
                if self.stop():
                    return
                yield item, (lambda item=item: self.read(item))
            return
        # twice the pool's size: N requests in flight while up to N finished ones wait for the
        # writer, so a slow write does not leave the server idle
        todo = iter(self.items)
        self._fill(todo)
        while self._ahead:
            if self.stop():
                return
            item, fut = self._ahead.popleft()
            self._fill(todo)
            yield item, fut.result

    def _fill(self, todo: Iterator[T]) -> None:
        while len(self._ahead) < 2 * self.jobs and not self.stop():
            item = next(todo, _END)
            if item is _END:
                return
            self._ahead.append((item, self._pool.submit(self.read, item)))


def each(fn: Callable[[T], object], items: list[T], jobs: int) -> None:
    """`fn(item)` for every item, up to `jobs` at once, for its side effect (a cache file). The
    first error is raised after the calls already started have ended; the rest never start."""
    if jobs <= 1 or len(items) <= 1:
        for item in items:
            fn(item)
        return
    with InOrder(items, fn, jobs) as run:
        for _, get in run:
            get()


_END = object()
