"""One polite GET per call: robots.txt, pacing, retries, limits, redirects -> `RawPage`.

`AsyncFetcher.fetch(url)` is safe to call concurrently for many hosts. Per hop of a redirect
chain (each hop checked again: scheme, robots.txt, address) it takes one of the host's slots
(`per_host`), consults the origin's robots.txt (fetched first, paced like any request, cached),
and runs attempts through tenacity; each attempt (`exchange`) waits for the host's turn,
holds a global slot (`concurrency`) only while on the wire, and enforces the size and time
limits. The URL's time budget covers every attempt and wait. `Fetcher` is the same for
synchronous callers: it runs an `AsyncFetcher` on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpx

from archive.record import RawPage, Validators, utcnow
from scraper.config import FetchConfig, PolitenessConfig
from scraper.errors import (
    BadStatus,
    BlockedAddress,
    DisallowedByRobots,
    FetchError,
    HostParked,
    LeaseLost,
    RobotsUnavailable,
    TooManyRedirects,
    TransientFetchError,
)
from scraper.fetch.decoding import ACCEPT_KINDS
from scraper.fetch.exchange import Answer, Exchange, target_url, without_userinfo
from scraper.fetch.netguard import AddressPolicy, GuardedBackend, Resolver, system_resolve
from scraper.fetch.polite import HostPace, RobotsRules
from scraper.fetch.retry import Budget, Retryable, retrying
from scraper.fetch.shared import HostGate, RobotsCache

log = logging.getLogger(__name__)

ROBOTS_REDIRECTS = 5  # hops followed for robots.txt (as Google does)

T = TypeVar("T")


class AsyncFetcher:
    """Polite, bounded HTTP GETs for many hosts at once. Use as `async with AsyncFetcher(...)`.

    `politeness_for(host)` may give a host its own politeness (the crawler's per-source
    overrides); `resolve` replaces DNS (tests map names to loopback addresses).
    """

    def __init__(
        self,
        fetch_cfg: FetchConfig,
        politeness: PolitenessConfig,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        politeness_for: Callable[[str], PolitenessConfig] | None = None,
        resolve: Resolver = system_resolve,
        ssl_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
        gate: HostGate | None = None,
        robots_cache: RobotsCache | None = None,
    ) -> None:
        """`gate`, `robots_cache`: politeness shared with other processes (fetch.shared)."""
        self._cfg = fetch_cfg
        self._robots_cache = robots_cache
        self._politeness = politeness
        self._politeness_for = politeness_for
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._rng = rng or random.Random()
        self._hosts: dict[str, HostPace] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._exchange = Exchange(
            fetch_cfg,
            concurrency=politeness.concurrency,
            backend=GuardedBackend(AddressPolicy(fetch_cfg.allow), resolve),
            ssl_context=ssl_context,
            clock=clock,
            now=now,
            gate=gate,
        )

    def hold_sends(self, wait: Callable[[], Awaitable[None]] | None) -> None:
        """Have every request, once its host's turn has come, await `wait()` before it leaves
        (a crawl's bound on the pages it holds, `scraper.crawl.backlog`); None: no wait."""
        self._exchange.before_send = wait

    async def __aenter__(self) -> AsyncFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._exchange.aclose()

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        """GET `url` politely: a RawPage with status 2xx, or 304 when `validators` were sent and
        the page did not change. Raises FetchError subclasses only."""
        if accept not in ACCEPT_KINDS:
            raise ValueError(f"accept must be one of {ACCEPT_KINDS}, not {accept!r}")
        conditional = validators.headers() if validators else {}
        budget = Budget(self._cfg.url_budget, self._clock)
        current = target_url(url)
        chain: list[str] = []
        attempts = 0
        waits: tuple[float, ...] = ()
        while True:
            if str(current) in chain:
                loop = " -> ".join([*chain, str(current)])
                raise TooManyRedirects(url, f"redirect loop: {loop}")
            if len(chain) > self._cfg.max_redirects:
                raise TooManyRedirects(url, f"more than {self._cfg.max_redirects} redirects")
            chain.append(str(current))
            answer, used, waited = await self._hop(current, accept, conditional, budget)
            attempts += used
            waits += waited
            if answer.location is None:
                break
            log.debug("%s: HTTP %d redirect to %s", current, answer.status, answer.location)
            current = target_url(answer.location)
        return RawPage(
            requested_url=without_userinfo(url),
            final_url=chain[-1],
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            fetched_at=answer.fetched_at,
            redirects=tuple(chain[:-1]),
            attempts=attempts,
            waits=waits,
        )

    def _host(self, name: str) -> HostPace:
        host = self._hosts.get(name)
        if host is None:
            politeness = self._politeness_for(name) if self._politeness_for else self._politeness
            host = HostPace(name, politeness, clock=self._clock, sleep=self._sleep)
            self._hosts[name] = host
        return host

    def _parked(self, url: str, host: HostPace) -> HostParked | None:
        left = host.parked_for()
        if left <= 0:
            return None
        until = self._now().timestamp() + left
        return HostParked(url, until, f"host parked for another {left:.0f} s at its request")

    async def _hop(
        self, url: httpx.URL, accept: str, conditional: dict[str, str], budget: Budget
    ) -> tuple[Answer, int, tuple[float, ...]]:
        host = self._host(url.raw_host.decode("ascii"))
        if parked := self._parked(str(url), host):
            raise parked
        async with host.slots:
            if parked := self._parked(str(url), host):
                raise parked
            if host.politeness.robots:
                await self._check_robots(url, host)
            return await self._with_retries(url, host, accept, conditional, budget)

    async def sitemaps(self, url: str) -> list[str]:
        """The Sitemap URLs the robots.txt of `url`'s site lists (fetched politely if needed).

        An unavailable robots.txt lists none; an address refusal raises BlockedAddress.
        """
        parsed = target_url(url)
        host = self._host(parsed.raw_host.decode("ascii"))
        async with host.slots:
            rules = await self._robots_rules(parsed, host)
        found = []
        for sitemap in rules.sitemaps():
            try:
                found.append(urljoin(str(parsed), sitemap))
            except ValueError:  # "Sitemap: http://[::1" is no URL
                log.info("%s: robots.txt lists an invalid sitemap %r", url, sitemap[:200])
        return found

    async def _check_robots(self, url: httpx.URL, host: HostPace) -> None:
        rules = await self._robots_rules(url, host)
        if rules.unavailable_reason is not None:
            raise RobotsUnavailable(str(url), rules.unavailable_reason)
        if not rules.allowed(str(url)):
            raise DisallowedByRobots(str(url), rules.disallow_all or "disallowed by robots.txt")

    async def _robots_rules(self, url: httpx.URL, host: HostPace) -> RobotsRules:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        rules = self._robots.get(origin)
        if rules is None or rules.expires <= self._clock():
            async with self._robots_locks.setdefault(origin, asyncio.Lock()):
                rules = self._robots.get(origin)
                if rules is None or rules.expires <= self._clock():
                    rules = await self._load_robots(origin, host)
                    self._robots[origin] = rules
                    host.crawl_delay = rules.crawl_delay()
        return rules

    async def _load_robots(self, origin: str, host: HostPace) -> RobotsRules:
        """Fetch and interpret an origin's robots.txt; only an address refusal escapes."""
        politeness = host.politeness
        if self._robots_cache is not None:
            cached = await self._robots_cache.get(origin)
            if cached is not None:
                return RobotsRules.from_response(
                    cached[0], cached[1], now=self._clock(), politeness=politeness
                )
        budget = Budget(self._cfg.url_budget, self._clock)
        url = target_url(origin + "/robots.txt")
        try:
            for _ in range(ROBOTS_REDIRECTS + 1):
                hop_host = self._host(url.raw_host.decode("ascii"))
                answer, _used, _waits = await self._with_retries(
                    url, hop_host, "robots", {}, budget
                )
                if answer.location is None:
                    if self._robots_cache is not None and answer.status < 500:
                        await self._robots_cache.put(
                            origin, answer.status, answer.body, ttl=politeness.robots_ttl
                        )
                    return RobotsRules.from_response(
                        answer.status, answer.body, now=self._clock(), politeness=politeness
                    )
                url = target_url(answer.location)
            return RobotsRules(expires=self._clock() + politeness.robots_ttl)  # as for a 404
        except (BlockedAddress, LeaseLost):  # (the latter: not the robots.txt's fault)
            raise
        except BadStatus as exc:
            return RobotsRules.from_response(
                exc.status, b"", now=self._clock(), politeness=politeness
            )
        except FetchError as exc:
            # not an error of ours to report: the URL that needed it fails with this reason
            log.info("%s/robots.txt: %s", origin, exc.reason)
            return RobotsRules.unavailable(exc.reason, now=self._clock(), politeness=politeness)

    async def _with_retries(
        self,
        url: httpx.URL,
        host: HostPace,
        accept: str,
        conditional: dict[str, str],
        budget: Budget,
    ) -> tuple[Answer, int, tuple[float, ...]]:
        """The answer, the attempts it took and the seconds waited between them."""
        # Most requests succeed at once, so the first attempt is made before any tenacity
        # object exists: each AsyncRetrying leaves ~40 objects in reference cycles, and the
        # collections that clear them stall the event loop for tens of milliseconds.
        first: Retryable | None
        try:
            return await self._exchange.attempt(url, host, accept, conditional, budget), 1, ()
        except Retryable as exc:
            first = exc
        cfg = self._cfg
        waits: list[float] = []

        async def sleep(seconds: float) -> None:  # every wait goes on the fetch result too
            waits.append(round(seconds, 3))
            await self._sleep(seconds)

        loop = retrying(
            url=str(url),
            attempts=cfg.attempts,
            backoff_base=cfg.backoff_base,
            backoff_max=cfg.backoff_max,
            rng=self._rng,
            sleep=sleep,
            time_left=budget.left,
        )
        answer: Answer | None = None
        tries = 0
        try:
            async for attempt in loop:
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    if first is not None:  # tenacity takes the first failure as attempt 1
                        failure, first = first, None
                        raise failure
                    answer = await self._exchange.attempt(url, host, accept, conditional, budget)
        except Retryable as exc:
            plural = "s" if tries != 1 else ""
            reason = f"{exc.reason} (gave up after {tries} attempt{plural})"
            log.info("%s: %s", url, reason)  # the caller reports the error it gets
            raise TransientFetchError(str(url), reason, exc.retry_after) from None
        assert answer is not None
        return answer, tries, tuple(waits)


class Fetcher:
    """The synchronous face of `AsyncFetcher`: `with Fetcher(cfg, politeness) as f: f.fetch(u)`.

    Runs the async fetcher on its own event loop in a background thread, so it works from any
    thread, even one that already runs an event loop. `sleep` is a blocking sleep (tests pass
    a fake that advances their clock); the default waits without blocking other callers.
    """

    def __init__(
        self,
        fetch_cfg: FetchConfig,
        politeness: PolitenessConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        politeness_for: Callable[[str], PolitenessConfig] | None = None,
        resolve: Resolver = system_resolve,
        ssl_context: ssl.SSLContext | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._args: dict[str, Any] = dict(
            clock=clock,
            now=now,
            politeness_for=politeness_for,
            resolve=resolve,
            ssl_context=ssl_context,
            rng=rng,
        )
        self._cfg = fetch_cfg
        self._politeness = politeness
        self._blocking_sleep = sleep
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inner: AsyncFetcher | None = None

    async def _sleep(self, seconds: float) -> None:
        self._blocking_sleep(seconds)

    def __enter__(self) -> Fetcher:
        sleep = asyncio.sleep if self._blocking_sleep is time.sleep else self._sleep
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="morgue-fetcher", daemon=True
        )
        self._thread.start()
        self._inner = AsyncFetcher(self._cfg, self._politeness, sleep=sleep, **self._args)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is None or self._thread is None:
            return
        if self._inner is not None:
            self._run(self._inner.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = self._inner = None

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        """See `AsyncFetcher.fetch`."""
        return self._run(self._opened().fetch(url, validators=validators, accept=accept))

    def sitemaps(self, url: str) -> list[str]:
        """See `AsyncFetcher.sitemaps`."""
        return self._run(self._opened().sitemaps(url))

    def _opened(self) -> AsyncFetcher:
        if self._inner is None:
            raise RuntimeError("use the Fetcher as a context manager: with Fetcher(...) as f:")
        return self._inner
