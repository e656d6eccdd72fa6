"""Seams for politeness shared with other crawler processes (a cluster's workers).

A fetcher alone keeps each host polite in its own memory (`polite.HostPace`). Several fetchers
on several machines also ask a `HostGate` before each request and tell it when the response
ended, and read robots.txt through a `RobotsCache` so the cluster fetches it once per origin.
`scraper.cluster.politeness` implements both on PostgreSQL; without them nothing changes.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Lease:
    """The lease a crawl fetches a URL under: the URL, its host (lower case), and when the
    lease was granted (`time.monotonic`, after the lease's answer came back)."""

    url: str
    host: str
    granted: float


# set by a crawl for each URL it fetches (in the URL's task): a `HostGate` refuses a request
# made under a lease whose host this process stopped holding since (another may hold the URL)
LEASE: ContextVar[Lease | None] = ContextVar("lease", default=None)


class HostGate(Protocol):
    async def acquire(self, host: str, *, delay: float, per_host: int) -> object:
        """Wait until this process may start a request to `host`; a ticket for `release`.
        Raises LeaseLost when the request's `LEASE` was lost meanwhile."""
        ...

    def valid(self, ticket: object) -> bool:
        """Whether the request granted `ticket` may still go out: checked just before its
        first byte is written, since the process may have stalled since the grant (then its
        right to send to the host, a cluster's claim, may have lapsed)."""
        ...

    async def release(self, ticket: object, *, delay: float) -> None: ...


class RobotsCache(Protocol):
    async def get(self, origin: str) -> tuple[int, bytes] | None:
        """(status, body) of the origin's robots.txt if another process fetched it lately."""
        ...

    async def put(self, origin: str, status: int, body: bytes, *, ttl: float) -> None: ...
