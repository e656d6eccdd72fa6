"""One lane for the crawl's page handling, so that hosts' due requests go out on time.

The event loop that fetches also reads the links of every page it fetched: a section front or
a host's first article costs 2-4 ms of link judging and frontier writes. Fetches finish in
bursts (every host of a crawl starts at once, and up to `concurrency` responses arrive
together), and their handlers then ran back to back in one pass of the loop: 16 index pages
took ~50 ms, during which no host whose Crawl-delay had run out could start its request. At
200 hosts the crawl's start was such a burst of 0.8 s, and every host's schedule slid by it.

`HandlingLane.turn()` serializes those handlers and sends each one through the loop once more
before it runs, so between two handlers every timer that fell due (a host's next request) and
every response that arrived gets its turn. Handling keeps its order and its total work; a
request waits for at most one handler instead of a burst. Nothing awaits inside a turn.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class HandlingLane:
    """Page handlers one at a time, with the loop's other work between them."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._lock:
            # after the lock is ours, one more pass through the loop: timers that fell due
            # while the previous handler ran are run before this one (FIFO ready queue)
            await asyncio.sleep(0)
            yield
