"""One polite GET per call: robots.txt, pacing, retries, limits, redirects -> `RawPage`.

`AsyncFetcher.fetch(url)` is safe to call concurrently for many hosts. Per hop of a redirect
chain it takes one of the host's slots (`per_host`), consults the origin's robots.txt (fetched
first, paced like any request, cached), waits for the host's turn (`HostPace`), takes one of the
global slots (`concurrency`) only while the request is on the wire, and retries transient
failures with tenacity. Each host gets its own small httpcore connection pool, all sharing one
SSL context and the `GuardedBackend` that refuses private addresses at connect time: one pool
shared by hundreds of hosts spends its time scanning connections (FINDINGS.md). Bodies are read
as a stream under the size caps and decoded here (scraper/body.py), so `RawPage.body` is the
entity exactly as served, minus only its Content-Encoding. `Fetcher` is the same for synchronous
callers: it runs an `AsyncFetcher` on an event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urljoin

import httpcore
import httpx

from archive.record import RawPage, Validators, utcnow
from scraper.body import (
    ACCEPT_ENCODING,
    ACCEPT_HEADERS,
    ACCEPT_KINDS,
    BadEncoding,
    BodyDecoder,
    BodyTooLarge,
    looks_like_html,
    type_accepted,
)
from scraper.config import FetchConfig, PolitenessConfig
from scraper.errors import (
    BadStatus,
    BlockedAddress,
    DisallowedByRobots,
    FetchError,
    HostParked,
    NotHtml,
    TooLarge,
    TooManyRedirects,
    TransientFetchError,
)
from scraper.netguard import AddressPolicy, AddressRefused, GuardedBackend, Resolver, system_resolve
from scraper.polite import HostPace, RobotsRules
from scraper.retry import RETRY_STATUSES, Retryable, retry_after_seconds, retrying

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ROBOTS_REDIRECTS = 5  # hops followed for robots.txt (as Google does)
KEEPALIVE = 30.0  # seconds an idle connection to a host is kept
SWEEP_EVERY = 512  # requests between closing pools of hosts gone quiet

T = TypeVar("T")
Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Answer:
    """One hop's final answer: a page, a 304, or a redirect to `location`."""

    status: int
    headers: Headers
    body: bytes
    fetched_at: datetime
    location: str | None = None


def target_url(url: str) -> httpx.URL:
    """The URL as it goes on the wire (IDNA host, percent-encoded, no fragment), or FetchError."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError(url, f"not a valid URL ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        raise FetchError(url, f"only http and https are fetched, not {parsed.scheme or 'none'!r}")
    if not parsed.raw_host:
        raise FetchError(url, "URL has no host")
    return parsed.copy_with(fragment=None)


def _header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


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
    ) -> None:
        self._cfg = fetch_cfg
        self._politeness = politeness
        self._politeness_for = politeness_for
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._backend = GuardedBackend(AddressPolicy(fetch_cfg.allow), resolve)
        self._ssl = ssl_context
        self._rng = rng or random.Random()
        self._global = asyncio.Semaphore(politeness.concurrency)
        self._hosts: dict[str, HostPace] = {}
        self._pools: dict[str, httpcore.AsyncConnectionPool] = {}
        self._robots: dict[str, RobotsRules] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}
        self._requests = 0
        self._timeouts = {
            "connect": fetch_cfg.connect_timeout,
            "read": fetch_cfg.read_timeout,
            "write": fetch_cfg.read_timeout,
            "pool": fetch_cfg.request_timeout,
        }
        self._base_headers = [
            (b"User-Agent", fetch_cfg.user_agent.encode("latin-1", "replace")),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
        if fetch_cfg.from_header:
            self._base_headers.append((b"From", fetch_cfg.from_header.encode("latin-1", "replace")))

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
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        """GET `url` politely: a RawPage with status 2xx, or 304 when `validators` were sent and
        the page did not change. Raises FetchError subclasses only."""
        if accept not in ACCEPT_KINDS:
            raise ValueError(f"accept must be one of {ACCEPT_KINDS}, not {accept!r}")
        conditional = validators.headers() if validators else {}
        deadline = self._clock() + self._cfg.url_budget
        current = target_url(url)
        chain: list[str] = []
        attempts = 0
        while True:
            if str(current) in chain:
                loop = " -> ".join([*chain, str(current)])
                raise TooManyRedirects(url, f"redirect loop: {loop}")
            if len(chain) > self._cfg.max_redirects:
                raise TooManyRedirects(url, f"more than {self._cfg.max_redirects} redirects")
            chain.append(str(current))
            answer, used = await self._hop(current, accept, conditional, deadline)
            attempts += used
            if answer.location is None:
                break
            log.debug("%s: HTTP %d redirect to %s", current, answer.status, answer.location)
            current = target_url(answer.location)
        return RawPage(
            requested_url=url,
            final_url=chain[-1],
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            fetched_at=answer.fetched_at,
            redirects=tuple(chain[:-1]),
            attempts=attempts,
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
        self, url: httpx.URL, accept: str, conditional: dict[str, str], deadline: float
    ) -> tuple[_Answer, int]:
        host = self._host(url.raw_host.decode("ascii"))
        if parked := self._parked(str(url), host):
            raise parked
        async with host.slots:
            if parked := self._parked(str(url), host):
                raise parked
            if host.politeness.robots:
                await self._check_robots(url, host)
            return await self._with_retries(url, host, accept, conditional, deadline)

    async def _check_robots(self, url: httpx.URL, host: HostPace) -> None:
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        rules = self._robots.get(origin)
        if rules is None or rules.expires <= self._clock():
            async with self._robots_locks.setdefault(origin, asyncio.Lock()):
                rules = self._robots.get(origin)
                if rules is None or rules.expires <= self._clock():
                    rules = await self._load_robots(origin, host)
                    self._robots[origin] = rules
                    host.crawl_delay = rules.crawl_delay()
        if not rules.allowed(str(url)):
            raise DisallowedByRobots(str(url), rules.disallow_all or "disallowed by robots.txt")

    async def _load_robots(self, origin: str, host: HostPace) -> RobotsRules:
        """Fetch and interpret an origin's robots.txt; only an address refusal escapes."""
        politeness = host.politeness
        deadline = self._clock() + self._cfg.url_budget
        url = target_url(origin + "/robots.txt")
        try:
            for _ in range(ROBOTS_REDIRECTS + 1):
                hop_host = self._host(url.raw_host.decode("ascii"))
                answer, _used = await self._with_retries(url, hop_host, "any", {}, deadline)
                if answer.location is None:
                    return RobotsRules.from_response(
                        answer.status, answer.body, now=self._clock(), politeness=politeness
                    )
                url = target_url(answer.location)
            return RobotsRules(expires=self._clock() + politeness.robots_ttl)  # as for a 404
        except BlockedAddress:
            raise
        except BadStatus as exc:
            return RobotsRules.from_response(
                exc.status, b"", now=self._clock(), politeness=politeness
            )
        except FetchError as exc:
            log.warning("%s/robots.txt: %s", origin, exc.reason)
            return RobotsRules.unavailable(exc.reason, now=self._clock(), politeness=politeness)

    async def _with_retries(
        self,
        url: httpx.URL,
        host: HostPace,
        accept: str,
        conditional: dict[str, str],
        deadline: float,
    ) -> tuple[_Answer, int]:
        cfg = self._cfg
        loop = retrying(
            url=str(url),
            attempts=cfg.attempts,
            backoff_base=cfg.backoff_base,
            backoff_max=cfg.backoff_max,
            rng=self._rng,
            sleep=self._sleep,
            time_left=lambda: deadline - self._clock(),
        )
        answer: _Answer | None = None
        tries = 0
        try:
            async for attempt in loop:
                with attempt:
                    tries = attempt.retry_state.attempt_number
                    answer = await self._attempt(url, host, accept, conditional, deadline)
        except Retryable as exc:
            plural = "s" if tries != 1 else ""
            reason = f"{exc.reason} (gave up after {tries} attempt{plural})"
            log.warning("%s: %s", url, reason)
            raise TransientFetchError(str(url), reason, exc.retry_after) from None
        assert answer is not None
        return answer, tries

    async def _attempt(
        self,
        url: httpx.URL,
        host: HostPace,
        accept: str,
        conditional: dict[str, str],
        deadline: float,
    ) -> _Answer:
        await host.wait_turn()
        limit = min(self._cfg.request_timeout, deadline - self._clock())
        if limit <= 0:
            raise Retryable("the URL's time budget is spent")
        request = httpcore.Request(
            "GET",
            httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=[(b"Host", url.netloc), *self._headers(accept, conditional)],
            extensions={"timeout": self._timeouts},
        )
        status: int | None = None
        latency: float | None = None
        host.active += 1
        try:
            async with self._global:
                started = self._clock()
                async with asyncio.timeout(limit):
                    response = await self._pool(host).handle_async_request(request)
                    try:
                        latency = self._clock() - started
                        status = response.status
                        return await self._answer(
                            url, host, response, accept, conditional, deadline
                        )
                    finally:
                        await response.aclose()
        except TimeoutError:
            raise Retryable(f"no complete answer within {limit:g} s") from None
        except httpcore.TimeoutException as exc:
            raise Retryable(f"timed out ({type(exc).__name__})") from None
        except (httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
            raise Retryable(f"connection failed ({exc or type(exc).__name__})") from None
        except AddressRefused as exc:
            raise BlockedAddress(str(url), str(exc)) from None
        except (httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            raise FetchError(str(url), f"HTTP protocol error ({exc})") from None
        finally:
            host.active -= 1
            host.finished(status=status, latency=latency)
            self._requests += 1
            if self._requests % SWEEP_EVERY == 0:
                await self._sweep()

    def _headers(self, accept: str, conditional: dict[str, str]) -> list[tuple[bytes, bytes]]:
        headers = [*self._base_headers, (b"Accept", ACCEPT_HEADERS[accept].encode())]
        headers += [(k.encode(), v.encode("latin-1", "replace")) for k, v in conditional.items()]
        return headers

    def _pool(self, host: HostPace) -> httpcore.AsyncConnectionPool:
        pool = self._pools.get(host.host)
        if pool is None:
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            pool = httpcore.AsyncConnectionPool(
                ssl_context=self._ssl,
                max_connections=host.politeness.per_host,
                keepalive_expiry=KEEPALIVE,
                network_backend=self._backend,
            )
            self._pools[host.host] = pool
        return pool

    async def _sweep(self) -> None:
        """Close the pools of hosts unused for a while, so idle sockets do not pile up."""
        quiet = [
            name
            for name in self._pools
            if self._hosts[name].active == 0 and self._hosts[name].idle_for() > KEEPALIVE
        ]
        for name in quiet:
            await self._pools.pop(name).aclose()

    async def _answer(
        self,
        url: httpx.URL,
        host: HostPace,
        response: httpcore.Response,
        accept: str,
        conditional: dict[str, str],
        deadline: float,
    ) -> _Answer:
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers)
        status = response.status
        fetched_at = self._now()
        if status in REDIRECT_STATUSES:
            location = _header(headers, "location")
            if not location:
                raise BadStatus(str(url), status)
            return _Answer(status, headers, b"", fetched_at, urljoin(str(url), location))
        if status in RETRY_STATUSES:
            wait = retry_after_seconds(_header(headers, "retry-after"), fetched_at)
            if wait is not None:
                self._honour_retry_after(str(url), host, status, wait, deadline)
            raise Retryable(f"HTTP {status}", status=status, retry_after=wait)
        if status == 304 and conditional:
            return _Answer(status, headers, b"", fetched_at)
        if not 200 <= status < 300:
            raise BadStatus(str(url), status)
        content_type = _header(headers, "content-type")
        verdict = type_accepted(content_type, accept)
        if verdict is False:
            raise NotHtml(str(url), content_type)
        body = await self._read_body(str(url), response, headers)
        if verdict is None and accept == "html" and not looks_like_html(body):
            raise NotHtml(str(url), None)
        return _Answer(status, headers, body, fetched_at)

    def _honour_retry_after(
        self, url: str, host: HostPace, status: int, wait: float, deadline: float
    ) -> None:
        """Hold the host for a Retry-After; park it when the wait is longer than we sleep."""
        if wait > self._cfg.retry_after_max or wait >= deadline - self._clock():
            host.park(wait)
            until = self._now().timestamp() + wait
            raise HostParked(url, until, f"HTTP {status} with Retry-After {wait:g} s: host parked")
        host.hold(wait)

    async def _read_body(self, url: str, response: httpcore.Response, headers: Headers) -> bytes:
        limit = self._cfg.max_body_bytes
        length = _header(headers, "content-length")
        if length is not None and length.strip().isdigit() and int(length) > limit:
            raise TooLarge(url, limit)
        try:
            decoder = BodyDecoder(
                _header(headers, "content-encoding"), limit=self._cfg.max_decompressed_bytes
            )
            received = 0
            async for chunk in response.aiter_stream():
                received += len(chunk)
                if received > limit:
                    raise TooLarge(url, limit)
                decoder.feed(chunk)
            return decoder.finish()
        except BodyTooLarge as exc:
            raise TooLarge(url, exc.limit, "decompressed body") from None
        except BadEncoding as exc:
            raise FetchError(url, str(exc)) from None


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
        if self._inner is None:
            raise RuntimeError("use the Fetcher as a context manager: with Fetcher(...) as f:")
        return self._run(self._inner.fetch(url, validators=validators, accept=accept))
