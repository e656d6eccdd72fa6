"""Politeness per host: robots.txt rules, the gap between requests, slowing down when asked.

`HostPace` keeps one host's clock: a request may start only `delay` seconds after the previous
response to that host ended (and after the previous request started, when several may be in
flight), where delay = max(configured delay, robots.txt Crawl-delay, adaptive delay). Times
come from an injected `clock` and waits go through an injected `sleep`, so tests run in
simulated time. The adaptive delay doubles on 429/503, follows the server's response time when
that rises well above its usual level, and shrinks by a tenth per good response: slow to recover.
A Retry-After also holds the whole host until then. `RobotsRules` is a parsed robots.txt (protego,
which handles wildcards and fractional Crawl-delay) with its expiry, and what to do when there is
none: 4xx allows everything, 5xx or no answer disallows the host for a while, as major crawlers do.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from protego import Protego

from scraper.config import PolitenessConfig

log = logging.getLogger(__name__)

PRODUCT_TOKEN = "morgue"  # the name robots.txt groups are matched against
ROBOTS_MAX_BYTES = 500 * 1024  # Google reads the first 500 KiB; so do we
ADAPTIVE_MAX = 120.0  # the adaptive delay never grows past this
LATENCY_WEIGHT = 0.3  # weight of the newest response time in the moving average
SLOW_LATENCY = 0.5  # response times below this never trigger a slow-down
PACE_MAX = 3600.0  # a host that wants longer between requests (Crawl-delay) is parked instead


class HostPace:
    """Pacing and slow-down state of one host. Not thread-safe: one event loop owns it."""

    def __init__(
        self,
        host: str,
        politeness: PolitenessConfig,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        self.host = host
        self.politeness = politeness
        self.slots = asyncio.Semaphore(politeness.per_host)
        self.crawl_delay = 0.0
        self.adaptive = 0.0
        self.parked_until = -math.inf  # clock time
        self.active = 0  # requests to this host on the wire now
        self._clock = clock
        self._sleep = sleep
        self._gate = asyncio.Lock()
        self._last_start = -math.inf
        self._last_end = -math.inf
        self._not_before = -math.inf
        self._latency: float | None = None
        self._latency_floor: float | None = None

    @property
    def delay(self) -> float:
        return max(self.politeness.delay, self.crawl_delay, self.adaptive)

    def ready_at(self) -> float:
        """The earliest clock time the next request to this host may start."""
        since = max(self._last_start, self._last_end)
        return max(since + self.delay, self._not_before)

    async def wait_turn(self, *, paced: bool = True) -> None:
        """Sleep until the host may get the next request, then mark the request started.
        `paced=False`: wait only for a hold (Retry-After, a park), not for the delay, which
        something else keeps (a cluster's host leases, `shared.HostGate`)."""
        async with self._gate:
            while True:
                ready = self.ready_at() if paced else self._not_before
                wait = ready - self._clock()
                if wait <= 0:
                    break
                await self._sleep(wait)
            self._last_start = self._clock()

    def idle_for(self) -> float:
        """Seconds since the last request to this host started or ended."""
        return self._clock() - max(self._last_start, self._last_end)

    def hold(self, seconds: float) -> None:
        """Send nothing to this host for `seconds` from now (a Retry-After)."""
        self._not_before = max(self._not_before, self._clock() + seconds)

    def park(self, seconds: float) -> None:
        self.parked_until = max(self.parked_until, self._clock() + seconds)
        self.hold(seconds)

    def parked_for(self) -> float:
        """Seconds the host stays parked, 0 when it is not."""
        return max(0.0, self.parked_until - self._clock())

    def finished(self, *, status: int | None, latency: float | None) -> None:
        """Record the end of a response (or of a failed attempt) and adapt the delay."""
        self._last_end = self._clock()
        if not self.politeness.adaptive:
            return
        if status in (429, 503):
            self.adaptive = min(ADAPTIVE_MAX, max(self.adaptive * 2, self.politeness.delay, 1.0))
            log.info("%s: HTTP %s, delay now %.2f s", self.host, status, self.delay)
            return
        if latency is not None and self._slower(latency):
            self.adaptive = min(ADAPTIVE_MAX, max(self.adaptive, self._latency or 0.0))
            log.info("%s: responses slowing down, delay now %.2f s", self.host, self.delay)
            return
        if status is not None and self.adaptive > 0:
            self.adaptive = 0.0 if self.adaptive < 0.01 else self.adaptive * 0.9

    def _slower(self, latency: float) -> bool:
        """Update the response-time average; True when it is well above its usual level."""
        avg = (
            latency
            if self._latency is None
            else (LATENCY_WEIGHT * latency + (1 - LATENCY_WEIGHT) * self._latency)
        )
        self._latency = avg
        floor = avg if self._latency_floor is None else min(self._latency_floor, avg)
        self._latency_floor = floor
        return avg >= SLOW_LATENCY and avg >= 2 * floor


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """One origin's robots.txt verdicts until `expires` (clock time)."""

    expires: float
    parser: Protego | None = None
    disallow_all: str | None = None  # reason, when the whole host is off-limits
    unavailable_reason: str | None = None  # set when off-limits because robots.txt failed

    def allowed(self, url: str) -> bool:
        if self.disallow_all is not None:
            return False
        return self.parser is None or bool(self.parser.can_fetch(url, PRODUCT_TOKEN))

    def sitemaps(self) -> list[str]:
        """The Sitemap lines, as written (possibly relative)."""
        return [] if self.parser is None else [str(s) for s in self.parser.sitemaps]

    def crawl_delay(self) -> float:
        """Seconds between requests the file asks of us (Crawl-delay or Request-rate), or 0."""
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(PRODUCT_TOKEN) or 0.0
        rate = self.parser.request_rate(PRODUCT_TOKEN)
        if rate is not None and rate.requests:
            delay = max(delay, rate.seconds / rate.requests)
        return float(delay)

    @classmethod
    def from_response(
        cls, status: int, body: bytes, *, now: float, politeness: PolitenessConfig
    ) -> RobotsRules:
        """The rules a robots.txt answer means: 2xx parsed, 4xx allow all, else disallow."""
        if 200 <= status < 300:
            text = body[:ROBOTS_MAX_BYTES].decode("utf-8", errors="replace")
            return cls(expires=now + politeness.robots_ttl, parser=Protego.parse(text))
        if 400 <= status < 500 and status != 429:
            return cls(expires=now + politeness.robots_ttl)
        return cls.unavailable(f"HTTP {status}", now=now, politeness=politeness)

    @classmethod
    def unavailable(cls, why: str, *, now: float, politeness: PolitenessConfig) -> RobotsRules:
        wait = politeness.robots_error_wait
        reason = f"robots.txt unavailable ({why}); host off-limits for {wait:g} s"
        return cls(expires=now + wait, disallow_all=reason, unavailable_reason=reason)
