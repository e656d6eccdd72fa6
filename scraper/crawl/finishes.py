"""A crawl's frontier "done" marks, written in one transaction per group commit.

Marking a URL finished is a frontier transaction of its own, one per page. When pages are
stored through an IngestPool, the marks wait here and the pool writes them all at once at its
next group commit (and the crawl at its end). A cluster worker, whose pages are stored by its
store threads, writes them every `FLUSH_EVERY` seconds instead (`flush_every`), in a thread:
one frontier transaction for a few dozen pages, and none on the crawl's event loop.
A mark is only ever made after its page's batch committed, so a `kill -9` loses at most some
marks: those URLs are still leased, the next run (or, in a cluster, another worker once the
leases expired) queues them again and finds their pages unchanged. Nothing reported as stored
is lost. Reads a crawl makes of the frontier during a run (leasing queued URLs, requeueing
done ones fetched before the run) do not see leased-versus-done; `SourceCrawl` writes the
marks before it counts what is left.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, runtime_checkable

from archive.backends.frontier_sqlite import Finish

log = logging.getLogger(__name__)

MAX_HELD = 256  # marks held before they are written anyway
# seconds between a cluster worker's writes of its marks: a late mark only holds up the end of
# a run (the other workers wait until no URL is leased), and each write is a transaction
FLUSH_EVERY = 0.25


@runtime_checkable
class FinishesMany(Protocol):
    def finish_many(self, finishes: Sequence[Finish]) -> None: ...


class HeldFinishes:
    def __init__(self, frontier: FinishesMany) -> None:
        self.frontier = frontier
        self._held: list[Finish] = []
        # a flush may run in a thread (`flush_every`) while the event loop adds: `_lock`
        # guards the list only (an add never waits for the database), `_flushing` keeps
        # flushes one at a time, so a URL's marks are written in the order they were made
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self.writes = 0

    def add(self, finish: Finish) -> None:
        with self._lock:
            self._held.append(finish)
            full = len(self._held) >= MAX_HELD
        if full:
            self.flush()

    def flush(self) -> None:
        with self._flushing:
            with self._lock:
                held, self._held = self._held, []
            if not held:
                return
            try:
                self.frontier.finish_many(held)
            except BaseException:  # kept, ahead of newer ones, for the next flush
                with self._lock:
                    self._held[:0] = held
                raise
            self.writes += 1

    async def flush_every(self, seconds: float = FLUSH_EVERY) -> None:
        """Write the held marks every `seconds`, in a thread, until cancelled. A write that
        fails is logged: its marks are lost (their URLs are fetched again, found unchanged)
        and the crawl's own writes report the outage."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await asyncio.to_thread(self.flush)
            except Exception as err:
                log.warning("done marks not written (%s): their URLs are fetched again", err)

    def exit_flush(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        """The crawl's last flush, as an exit callback. When the crawl is already failing, a
        failing flush (a full disk, a locked database) is logged instead of raised, so the
        error that stopped the crawl is the one reported; the unwritten marks only mean those
        URLs are fetched again and found unchanged."""
        if exc is None:
            self.flush()
            return False
        try:
            self.flush()
        except Exception as err:  # the crawl's own error is already on its way out
            log.warning("done marks not written (%s): their URLs are fetched again", err)
        return False
