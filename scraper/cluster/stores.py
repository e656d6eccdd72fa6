"""A cluster worker's stores, off its event loop and in group commits.

A store on PostgreSQL is a parse plus a transaction that waits for the database's disk (and,
for its files, the archive folder's); run on the crawl's event loop, each one would hold up
the fetches of every other host for that long. `StoreThreads` runs them in a few threads
instead, each with an `Archive` of its own (its own catalog connections, its own notes of the
files it writes, `archive.intents`, and its own journal, `archive.journal`, so one thread's
commit never settles another's files), and the crawl awaits them.

A thread that comes free takes every page waiting (up to `MAX_BATCH`) and stores them in one
batch (`scraper.pipeline.ingest_many`): one catalog commit and one fsync of the journal for
the lot, where page by page each waited for its own commit and two fsyncs per file. Pages
queue only while every thread is busy, so a lone page is stored at once; under load the
batches grow and the waits per page shrink. A page's caller is answered after its batch
committed, so a URL is marked done only once its page is in the archive.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from archive.record import RawPage, Stored
from archive.store import Archive
from scraper.pipeline import PageJob

THREADS = 3  # enough to overlap a commit's wait with the next batch's parse
MAX_BATCH = 32  # pages per batch; more waiting go to the next free thread
CHECKPOINT_EVERY = 5.0  # seconds between syncs of a thread's journaled files


@dataclass
class _Waiting:
    job: PageJob
    answer: asyncio.Future[Stored]
    loop: asyncio.AbstractEventLoop
    asked: float = field(default_factory=time.monotonic)


def _answer(future: asyncio.Future[Stored], result: Stored | Exception) -> None:
    if future.done():  # its crawl task was cancelled
        return
    if isinstance(result, Exception):
        future.set_exception(result)
    else:
        future.set_result(result)


class StoreThreads:
    """`await threads(page, source=..., rules=...)`: `scraper.pipeline.ingest`, in batches."""

    def __init__(
        self,
        open_archive: Callable[[], Archive],
        threads: int = THREADS,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._open_archive = open_archive
        self._max_batch = max_batch
        self._local = threading.local()
        self._archives: list[Archive] = []
        self._lock = threading.Lock()
        self._waiting: deque[_Waiting] = deque()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="morgue-store")
        self.seconds: list[float] = []  # each batch's own time in its thread
        self.queued: list[float] = []  # how long each page waited for a free thread
        self.batch_sizes: list[float] = []  # pages per batch

    def _archive(self) -> Archive:
        archive: Archive | None = getattr(self._local, "archive", None)
        if archive is None:
            archive = self._open_archive()
            archive.use_journal()  # one fsync per batch for its files (archive.journal)
            self._local.archive = archive
            self._local.synced = time.monotonic()
            with self._lock:
                self._archives.append(archive)
        return archive

    def _drain(self) -> None:
        """Store what is waiting (one call per page asked: a call that finds nothing left,
        taken by an earlier one, returns at once)."""
        from scraper.pipeline import ingest_many

        with self._lock:
            batch = [
                self._waiting.popleft() for _ in range(min(self._max_batch, len(self._waiting)))
            ]
        if not batch:
            return
        started = time.monotonic()
        self.queued.extend(started - w.asked for w in batch)
        self.batch_sizes.append(float(len(batch)))
        results: list[Stored | Exception]
        try:
            archive = self._archive()
            results = ingest_many([w.job for w in batch], archive=archive)
        except Exception as exc:  # the archive could not be opened
            results = [exc] * len(batch)
        for waiting, result in zip(batch, results, strict=True):
            waiting.loop.call_soon_threadsafe(_answer, waiting.answer, result)
        self.seconds.append(time.monotonic() - started)
        self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        """Sync this thread's journaled files now and then: its journal stays small."""
        archive: Archive | None = getattr(self._local, "archive", None)
        if archive is None or archive.journal is None:
            return
        if time.monotonic() - self._local.synced >= CHECKPOINT_EVERY:
            self._local.synced = time.monotonic()
            archive.journal.checkpoint()

    async def __call__(self, page: RawPage, *, source: str, rules: Any = None) -> Stored:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(PageJob(page, source, rules), loop.create_future(), loop)
        with self._lock:
            self._waiting.append(waiting)
        self._pool.submit(self._drain)
        return await waiting.answer

    def close(self) -> None:
        """Wait for the stores under way, then close each thread's archive (which syncs its
        journaled files)."""
        self._pool.shutdown(wait=True)
        with self._lock:
            archives, self._archives = self._archives, []
        for archive in archives:
            archive.close()
