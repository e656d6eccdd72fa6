"""The fetcher's cluster seams (`scraper.fetch.shared`) on PostgreSQL host leases.

`PgHostGate.acquire` asks `archive.backends.hostlease_pg.HostLeases` for a lease on the host,
sleeping for as long as the database says the host must rest, so that across every worker no
two requests to a host start closer than its delay and no more than `per_host` are in flight.
A short margin is added to the delay: the lease is granted on the database's clock, and the
request reaches the server a few milliseconds later, by a different amount for each worker.
When PostgreSQL cannot be reached, the gate pauses and tries again (with backoff) rather than
failing the page: a worker waits out a database restart. Calls run in a thread so the event
loop keeps serving the fetches in flight.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from archive.backends.hostlease_pg import HostLeases, Lease
from archive.errors import StorageError

log = logging.getLogger(__name__)

MARGIN = 0.02  # seconds added to each host's delay: jitter between the grant and the request
PAUSE_MAX = 30.0  # longest pause between attempts while the database is unreachable
CLAIM = 15.0  # seconds one worker has to fetch a robots.txt before another may try


class PgHostGate:
    """A `HostGate` over host leases; it also measures how long requests waited for leases."""

    def __init__(
        self,
        leases: HostLeases,
        *,
        ttl: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.leases = leases
        self.ttl = ttl
        self._sleep = sleep
        self.waits: list[float] = []  # seconds each request waited for its lease

    async def acquire(self, host: str, *, delay: float, per_host: int) -> object:
        started = time.monotonic()
        pause = 0.5
        while True:
            try:
                got = await asyncio.to_thread(
                    self.leases.take, host, delay=delay + MARGIN, per_host=per_host, ttl=self.ttl
                )
            except StorageError as exc:
                log.warning("host leases unavailable, pausing %.1f s: %s", pause, exc)
                await self._sleep(pause)
                pause = min(PAUSE_MAX, pause * 2)
                continue
            if isinstance(got, Lease):
                self.waits.append(time.monotonic() - started)
                return got
            await self._sleep(got)

    async def release(self, ticket: object, *, delay: float) -> None:
        if not isinstance(ticket, Lease):
            return
        try:
            await asyncio.to_thread(self.leases.give_back, ticket)
        except StorageError as exc:  # the slot expires on its own after the lease's ttl
            log.warning("could not give back the lease on %s: %s", ticket.host, exc)


class PgRobotsCache:
    """A `RobotsCache` in the catalog: one fetch of each robots.txt for the whole cluster."""

    def __init__(self, leases: HostLeases) -> None:
        self.leases = leases

    async def get(self, origin: str) -> tuple[int, bytes] | None:
        """The cached file; else None after claiming its fetch (waiting while another worker
        holds the claim, up to the claim's length)."""
        while True:
            try:
                got = await asyncio.to_thread(self.leases.robots, origin, claim_for=CLAIM)
            except StorageError as exc:  # fetch it ourselves: politeness does not depend on it
                log.warning("robots.txt cache unavailable: %s", exc)
                return None
            if not isinstance(got, float):
                return got
            await asyncio.sleep(got)

    async def put(self, origin: str, status: int, body: bytes, *, ttl: float) -> None:
        try:
            await asyncio.to_thread(self.leases.put_robots, origin, status, body, ttl=ttl)
        except StorageError as exc:
            log.warning("robots.txt cache unavailable: %s", exc)
