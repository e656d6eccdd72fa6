"""A cluster worker's stores, off its event loop.

A store on PostgreSQL is a parse plus a transaction that waits for the database's disk; run
on the crawl's event loop, each one would hold up the fetches of every other host for that
long. `StoreThreads` runs them in a few threads instead, each with an `Archive` of its own
(its own catalog connections and its own notes of the files it writes, `archive.intents`,
so one thread's commit never settles another's files), and the crawl awaits them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from archive.record import RawPage, Stored
from archive.store import Archive

THREADS = 3  # enough to overlap a commit's wait with the next parse; each holds connections


class StoreThreads:
    """`await threads(page, source=..., rules=...)`: `scraper.pipeline.ingest` in a thread."""

    def __init__(self, open_archive: Callable[[], Archive], threads: int = THREADS) -> None:
        self._open_archive = open_archive
        self._local = threading.local()
        self._archives: list[Archive] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="morgue-store")
        self.seconds: list[float] = []  # each store's own time in its thread
        self.queued: list[float] = []  # how long each waited for a free thread

    def _archive(self) -> Archive:
        archive: Archive | None = getattr(self._local, "archive", None)
        if archive is None:
            archive = self._open_archive()
            self._local.archive = archive
            with self._lock:
                self._archives.append(archive)
        return archive

    def _ingest(self, page: RawPage, source: str, rules: Any, asked: float) -> Stored:
        from scraper.pipeline import ingest

        started = time.monotonic()
        self.queued.append(started - asked)
        try:
            return ingest(page, archive=self._archive(), source=source, rules=rules)
        finally:
            self.seconds.append(time.monotonic() - started)

    async def __call__(self, page: RawPage, *, source: str, rules: Any = None) -> Stored:
        loop = asyncio.get_running_loop()
        asked = time.monotonic()
        return await loop.run_in_executor(self._pool, self._ingest, page, source, rules, asked)

    def close(self) -> None:
        """Wait for the stores under way, then close each thread's archive."""
        self._pool.shutdown(wait=True)
        with self._lock:
            archives, self._archives = self._archives, []
        for archive in archives:
            archive.close()
