"""The processes that clean and extract (`--workers N`): each loads the spaCy pipeline once,
takes pieces of a chunk, and hands back picklable records, which the run reads in input
order, so the tables are the same whatever N is.

A worker process that dies (a segfault in a C library, an `os._exit`, the kernel's OOM
killer) breaks the whole `ProcessPoolExecutor`: every piece in flight fails with
`BrokenProcessPool`. The pool is then replaced, and each page of the pieces that failed is
sent again on its own: an innocent page lands as usual, and a page that kills its worker a
second time becomes its own failure row (`dead(item, error)`), never run in this process
(where it would take the run down with it). The same holds for an exception `work` lets
out for a whole piece (its own per-item guards should have caught it).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Generic, TypeVar

from spacy.language import Language

from extract.errors import PipelineError
from extract.nlp.pipeline import load_pipeline

T = TypeVar("T")
R = TypeVar("R")
# A chunk's work in one process: the pipeline, the items, a context (the settings); one
# result per item, in order. Passed to the workers by reference: a module-level function.
Work = Callable[[Language, list[T], Any], list[R]]

# Start method: "spawn". `fork` would copy a process whose asyncio fetcher, executor
# threads and httpx pools are running (a lock held by another thread stays held forever in
# the child, and Python 3.12 warns about it). "forkserver" starts faster, but a run killed
# with SIGKILL leaves its fork server and that server's workers alive for good (they hold
# each other's pipes open, and the run's stderr with them): a cron job killed at its
# timeout would pile them up. Spawned workers are the run's own children; each one watches
# the run (`watch_run`) and leaves when it is gone. The cost: each worker imports spaCy,
# trafilatura and lxml itself, about 2 s, while the run fetches its first pages.
START_METHOD = "spawn"
SOLO_TRIES = 2  # an item alone whose worker dies this often is the one that kills it

# This worker process's pipeline, set once by `start_worker` (the pool's initializer): a
# process-wide value by nature, since the executor calls plain functions in the worker.
_nlp: Language | None = None
_load_error = ""


def start_worker(model: str, run_pid: int) -> None:
    """The initializer of each worker process: load the pipeline once. A model that does
    not load is kept as a message for `ready()`, so the run says one clear line."""
    global _nlp, _load_error
    watch_run(run_pid)
    try:
        _nlp = load_pipeline(model)
    except PipelineError as exc:
        _load_error = str(exc)


def watch_run(run_pid: int, every: float = 0.5) -> None:
    """End this worker when the run that started it is gone. A run killed with SIGKILL
    (cron's timeout, the OOM killer) cannot stop its pool, and its workers, adopted by
    init, would live on, busy or idle, holding the run's stderr open. A daemon thread
    checks that the run's process still exists and leaves with os._exit when it does not."""

    def alive() -> bool:
        try:
            os.kill(run_pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # a process of another user took the pid: not our run
            return False
        return os.getppid() == run_pid

    def watch() -> None:
        while alive():
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, name="watch-run", daemon=True).start()


def ready() -> str:
    """In a worker: "" once its pipeline is loaded, else why it could not be."""
    return _load_error


def run_work(work: Work[T, R], items: list[T], context: Any) -> list[R]:
    """In a worker: `work` over `items` with this process's pipeline."""
    if _nlp is None:
        raise PipelineError(_load_error or "the worker has no pipeline")
    return work(_nlp, items, context)


def pieces(items: Sequence[T], workers: int) -> list[list[T]]:
    """A chunk cut in about two pieces per worker, so that neither waits for the other at
    the end of a chunk (page lengths vary a hundredfold); in order."""
    size = max(1, -(-len(items) // (2 * workers)))
    return [list(items[i:i + size]) for i in range(0, len(items), size)]


class InProcess(Generic[T, R]):
    """--workers 1: `work` in the run's one worker thread, with one pipeline, no pool."""

    def __init__(self, model: str, thread: Executor, work: Work[T, R], context: Any) -> None:
        self.model, self.thread, self.work, self.context = model, thread, work, context
        self.nlp: Language | None = None

    async def ready(self) -> None:
        loop = asyncio.get_running_loop()
        self.nlp = await loop.run_in_executor(self.thread, load_pipeline, self.model)

    def start(self, items: list[T]) -> asyncio.Future[list[R]]:
        assert self.nlp is not None, "ready() first"
        return asyncio.get_running_loop().run_in_executor(self.thread, self.work, self.nlp,
                                                          items, self.context)

    def close(self) -> None:
        """Nothing to stop: the thread is the run's."""


class ChunkPool(Generic[T, R]):
    """`workers` processes running `work` on pieces of each chunk; `dead(item, error)` is
    the result of an item whose piece failed twice (once with others, once alone): its
    worker died (`BrokenProcessPool`), or `work` raised."""

    def __init__(self, model: str, workers: int, work: Work[T, R], context: Any,
                 dead: Callable[[T, Exception], R]) -> None:
        self.model, self.workers, self.work = model, workers, work
        self.context, self.dead = context, dead
        self.context_mp = multiprocessing.get_context(START_METHOD)
        self.executor = self.new_executor()
        self.renewals = 0  # pools replaced after a worker died
        self.solo: asyncio.Lock | None = None  # made in the run's event loop

    def new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.workers, mp_context=self.context_mp,
                                   initializer=start_worker, initargs=(self.model, os.getpid()))

    async def ready(self) -> None:
        """Start every worker and wait until each has loaded the pipeline; a model that
        does not load is a PipelineError."""
        calls = [asyncio.wrap_future(self.executor.submit(ready))
                 for _ in range(self.workers)]
        try:
            problems = [p for p in await asyncio.gather(*calls) if p]
        except BrokenProcessPool as exc:
            raise PipelineError(f"the worker processes could not start ({exc}); "
                                "--workers 1 runs without them") from None
        if problems:
            raise PipelineError(problems[0])

    def start(self, items: list[T]) -> asyncio.Future[list[R]]:
        """Send a chunk's pieces to the workers now; the future is its results in order."""
        sent = [(piece, self.submit(piece)) for piece in pieces(items, self.workers)]
        return asyncio.ensure_future(self.collect(sent))

    def submit(self, piece: list[T]) -> tuple[ProcessPoolExecutor, Future[list[R]] | None]:
        executor = self.executor
        try:
            return executor, executor.submit(run_work, self.work, piece, self.context)
        except BrokenProcessPool:
            return executor, None

    async def collect(self, sent: list[tuple[list[T], tuple[ProcessPoolExecutor,
                                                              Future[list[R]] | None]]]
                      ) -> list[R]:
        out: list[R] = []
        for piece, (executor, future) in sent:
            try:
                if future is None:
                    raise BrokenProcessPool("the pool was broken when the piece was sent")
                done: list[R] = await asyncio.wrap_future(future)
                out.extend(done)
            except Exception as exc:  # noqa: BLE001  (a dead worker, or `work` failed as a
                # whole, outside its per-item guards: each item again, alone)
                if isinstance(exc, BrokenProcessPool):
                    self.renew(executor)
                for item in piece:
                    out.append(await self.alone(item))
        return out

    async def alone(self, item: T) -> R:
        """One item of a piece that failed as a whole, sent again on its own, one such item
        at a time. A worker that dies under it may have been killed by a piece of the next
        chunk running beside it: the item is tried alone twice before its death is its own."""
        if self.solo is None:
            self.solo = asyncio.Lock()
        async with self.solo:
            for attempt in range(SOLO_TRIES):
                executor, future = self.submit([item])
                try:
                    if future is None:
                        raise BrokenProcessPool("the pool was broken when the item was sent")
                    return (await asyncio.wrap_future(future))[0]
                except BrokenProcessPool as exc:
                    self.renew(executor)
                    if attempt + 1 == SOLO_TRIES:
                        return self.dead(item, exc)
                except Exception as exc:  # noqa: BLE001  (this item's failure: recorded)
                    return self.dead(item, exc)
        raise AssertionError("unreachable")

    def renew(self, broken: ProcessPoolExecutor) -> None:
        """A new pool in place of `broken` (once, whichever piece noticed first)."""
        if self.executor is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self.executor = self.new_executor()
            self.renewals += 1

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
