"""A bound on the pages a crawl holds in memory: sent for, and not yet parsed and stored.

A pooled crawl fetches on the event loop and parses and stores behind it (`workers`). When
that is slower than the hosts' turns, fetched pages wait, and each waits with its body, its
parsed content and its links: at 400 hosts the crawl process grew by ~90 MB within seconds, and
the bound it had (a few visits in flight per source) grew with the number of sources.

`Backlog` gives each visit one ticket, taken right before its first request leaves (the
fetcher calls `before_send` after the host's turn has come, `AsyncFetcher.hold_sends`) and
given back when the visit ends, its page stored. While every ticket is out, a request whose
turn came waits: its host only waits longer than its delay (polite), and no more pages come
in than the crawl can keep up with. A visit's later requests (its robots.txt, a redirect's
next hop, a retry) go on the ticket it holds. Tickets go out in the order they were asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Iterator

# pages sent for and not yet stored: enough to keep the workers and the group commits busy at
# a few hundred pages a second (a page takes ~0.1-0.3 s from its request to its commit)
MAX_PAGES = 128


class _Ticket:
    __slots__ = ("held",)

    def __init__(self) -> None:
        self.held = False


_current: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar(
    "morgue_backlog_ticket", default=None
)


class Backlog:
    """At most `limit` visits between their first request and their end (see module doc)."""

    def __init__(self, limit: int = MAX_PAGES) -> None:
        self.limit = max(1, limit)
        self.out = 0  # tickets held now
        self.peak = 0
        self.waits = 0  # requests that waited for a ticket
        self._waiting: deque[asyncio.Future[None]] = deque()

    @contextlib.contextmanager
    def visit(self) -> Iterator[None]:
        """Around one visit (in its own task): the ticket it takes, if any, is given back at
        its end, whatever the end."""
        ticket = _Ticket()
        token = _current.set(ticket)
        try:
            yield
        finally:
            _current.reset(token)
            if ticket.held:
                ticket.held = False
                self._give_back()

    async def before_send(self) -> None:
        """Wait for a ticket unless this visit holds one (requests outside a visit go)."""
        ticket = _current.get()
        if ticket is None or ticket.held:
            return
        if self.out >= self.limit or self._waiting:
            self.waits += 1
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter  # the ticket was counted as out when this waiter was woken
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._give_back()  # woken, then cancelled: pass the ticket on
                else:
                    with contextlib.suppress(ValueError):
                        self._waiting.remove(waiter)
                raise
        else:
            self.out += 1
        self.peak = max(self.peak, self.out)
        ticket.held = True

    def _give_back(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the ticket passes straight to it: `out` unchanged
                return
        self.out -= 1
