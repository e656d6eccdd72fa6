"""A crawl's frontier "done" marks, written in one transaction per group commit.

Marking a URL finished is a frontier transaction of its own, one per page. When pages are
stored through an IngestPool, the marks wait here and the pool writes them all at once at its
next group commit (and the crawl at its end). A mark is only ever made after its page's
batch committed, so a `kill -9` loses at most some marks: those URLs are still leased, the next
run queues them again and finds their pages unchanged. Nothing reported as stored is lost.
Reads a crawl makes of the frontier during a run (leasing queued URLs, requeueing done ones
fetched before the run) do not see leased-versus-done; `SourceCrawl` writes the marks before
it counts what is left.
"""

from __future__ import annotations

import logging
from types import TracebackType

from archive.backends.frontier_sqlite import Finish, SqliteFrontier

log = logging.getLogger(__name__)

MAX_HELD = 256  # marks held before they are written anyway


class HeldFinishes:
    def __init__(self, frontier: SqliteFrontier) -> None:
        self.frontier = frontier
        self._held: list[Finish] = []
        self.writes = 0

    def add(self, finish: Finish) -> None:
        self._held.append(finish)
        if len(self._held) >= MAX_HELD:
            self.flush()

    def flush(self) -> None:
        held, self._held = self._held, []
        if held:
            self.frontier.finish_many(held)
            self.writes += 1

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
