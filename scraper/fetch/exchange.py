"""One HTTP exchange with a host, under hard limits: the request on the wire and its answer.

`Exchange.attempt` waits for the host's turn, takes a global slot only while the request is on the
wire, sends one GET through the host's own small httpcore pool (all pools share one SSL context
and the `GuardedBackend` that refuses private addresses at connect time: one pool shared by
hundreds of hosts spends its time scanning connections, FINDINGS.md), and turns the response into
an `Answer` (a page, a 304 or a redirect) or an error: `Retryable` for what may pass, FetchError
subclasses for what will not. Bodies are read as a stream under the size caps and decoded by
`decoding`, so the body is the entity exactly as served minus its Content-Encoding. The
total time of one attempt is capped too, so a server that trickles bytes cannot hold it.
"""

from __future__ import annotations

import asyncio
import functools
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urljoin

import httpcore
import httpx

from scraper.config import FetchConfig
from scraper.errors import (
    BadStatus,
    BlockedAddress,
    FetchError,
    HostParked,
    NotHtml,
    TooLarge,
)
from scraper.fetch.decoding import (
    ACCEPT_ENCODING,
    ACCEPT_HEADERS,
    BadEncoding,
    BodyDecoder,
    BodyTooLarge,
    looks_like_html,
    type_accepted,
)
from scraper.fetch.netguard import AddressRefused, GuardedBackend
from scraper.fetch.polite import PACE_MAX, ROBOTS_MAX_BYTES, HostPace
from scraper.fetch.retry import RETRY_STATUSES, Budget, Retryable, retry_after_seconds
from scraper.fetch.shared import HostGate

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
KEEPALIVE = 30.0  # seconds an idle connection to a host is kept
SWEEP_EVERY = 512  # requests between closing pools of hosts gone quiet

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Answer:
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
    if parsed.port is not None and not 0 < parsed.port < 65536:
        # httpx accepts any number here; the socket layer then raises OverflowError
        raise FetchError(url, f"not a valid URL (port {parsed.port})")
    # credentials in a URL are never sent, and dropping them here keeps them out of the
    # stored URLs, the raw metadata and WARC exports
    return parsed.copy_with(fragment=None, userinfo=b"")


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")


def without_userinfo(url: str) -> str:
    """The URL as given, less any `user:password@` (which is never sent, nor kept)."""
    return _USERINFO.sub(r"\1", url, count=1)


def header(headers: Headers, name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)


class Exchange:
    """Sends single requests for the fetcher: per-host pools, the global cap, the limits."""

    def __init__(
        self,
        cfg: FetchConfig,
        *,
        concurrency: int,
        backend: GuardedBackend,
        ssl_context: ssl.SSLContext | None,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        gate: HostGate | None = None,
    ) -> None:
        self._cfg = cfg
        self._gate = gate
        self._backend = backend
        self._ssl = ssl_context
        self._clock = clock
        self._now = now
        self._global = asyncio.Semaphore(concurrency)
        # awaited by each request once its host's turn has come, before it leaves (a crawl's
        # bound on the pages it holds, `scraper.crawl.backlog`); waiting only adds to the gap
        self.before_send: Callable[[], Awaitable[None]] | None = None
        self._pools: dict[str, httpcore.AsyncConnectionPool] = {}
        self._hosts: dict[str, HostPace] = {}
        self._requests = 0
        self._timeouts = {
            "connect": cfg.connect_timeout,
            "read": cfg.read_timeout,
            "write": cfg.read_timeout,
            "pool": cfg.request_timeout,
        }
        self._base_headers = [
            (b"User-Agent", cfg.user_agent.encode("latin-1", "replace")),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
        if cfg.from_header:
            self._base_headers.append((b"From", cfg.from_header.encode("latin-1", "replace")))

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        for pool in pools.values():
            await pool.aclose()

    async def attempt(
        self,
        url: httpx.URL,
        host: HostPace,
        accept: str,
        conditional: dict[str, str],
        budget: Budget,
    ) -> Answer:
        wait = host.ready_at() - self._clock()
        if wait > PACE_MAX:
            # robots.txt may ask for any Crawl-delay (1e9 s): a pause that long is a refusal,
            # so the host is parked rather than holding the worker (and the run) forever
            host.park(wait)
            until = self._now().timestamp() + wait
            raise HostParked(str(url), until, f"host asks for {wait:g} s between requests: parked")
        # with a cluster's gate, the gate keeps the delay (on one clock for every worker, and
        # it grants a turn ahead, so the request leaves on time): a local wait for the delay
        # first would ask the gate only at the turn, one round trip late, every request
        await host.wait_turn(paced=self._gate is None)
        if self.before_send is not None:  # (before the URL's time budget starts)
            await self.before_send()
        budget.start()
        limit = min(self._cfg.request_timeout, budget.left())
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
        ticket = None
        if self._gate is not None:  # other processes' requests to this host count too
            ticket = await self._gate.acquire(
                host.host, delay=host.delay, per_host=host.politeness.per_host
            )
            # checked again as the request goes out: the grant may be stale by then
            request.extensions["trace"] = functools.partial(self._check_grant, ticket)
        host.active += 1
        try:
            async with self._global:
                started = self._clock()
                async with asyncio.timeout(limit):
                    response = await self._pool(host).handle_async_request(request)
                    try:
                        latency = self._clock() - started
                        status = response.status
                        return await self._answer(url, host, response, accept, conditional, budget)
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
            if self._gate is not None:
                await self._gate.release(ticket, delay=host.delay)
            self._requests += 1
            if self._requests % SWEEP_EVERY == 0:
                await self._sweep()

    async def _check_grant(self, ticket: object, event: str, info: dict[str, object]) -> None:
        """httpcore's trace hook: refuse to write a request whose gate's grant lapsed (the
        process stalled between the grant and the write); it is tried again, and waits for
        the host anew."""
        gate = self._gate
        if event.endswith("send_request_headers.started") and gate and not gate.valid(ticket):
            raise Retryable("the host's turn lapsed before the request went out")

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
            self._hosts[host.host] = host
        return pool

    async def _sweep(self) -> None:
        """Close the pools of hosts unused for a while, so idle sockets do not pile up."""
        quiet = [
            name
            for name in self._pools
            if self._hosts[name].active == 0 and self._hosts[name].idle_for() > KEEPALIVE
        ]
        for name in quiet:
            del self._hosts[name]
            await self._pools.pop(name).aclose()

    async def _answer(
        self,
        url: httpx.URL,
        host: HostPace,
        response: httpcore.Response,
        accept: str,
        conditional: dict[str, str],
        budget: Budget,
    ) -> Answer:
        headers = tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers)
        status = response.status
        fetched_at = self._now()
        if status in REDIRECT_STATUSES:
            location = header(headers, "location")
            if not location:
                raise BadStatus(str(url), status)
            try:
                target = urljoin(str(url), location)
            except ValueError:  # "http://[::1": urlsplit refuses it
                raise FetchError(
                    str(url), f"redirect to an invalid URL {location[:200]!r}"
                ) from None
            return Answer(status, headers, b"", fetched_at, target)
        if status in RETRY_STATUSES:
            wait = retry_after_seconds(header(headers, "retry-after"), fetched_at)
            if wait is not None:
                self._honour_retry_after(str(url), host, status, wait, budget)
            raise Retryable(f"HTTP {status}", status=status, retry_after=wait)
        if status == 304 and conditional:
            return Answer(status, headers, b"", fetched_at)
        if not 200 <= status < 300:
            raise BadStatus(str(url), status)
        content_type = header(headers, "content-type")
        verdict = type_accepted(content_type, accept)
        if verdict is False:
            raise NotHtml(str(url), content_type)
        body = await self._read_body(str(url), response, headers, cut=accept == "robots")
        if verdict is None and accept == "html" and not looks_like_html(body):
            raise NotHtml(str(url), None)
        return Answer(status, headers, body, fetched_at)

    def _honour_retry_after(
        self, url: str, host: HostPace, status: int, wait: float, budget: Budget
    ) -> None:
        """Hold the host for a Retry-After; park it when the wait is longer than we sleep."""
        if wait > self._cfg.retry_after_max or wait >= budget.left():
            host.park(wait)
            until = self._now().timestamp() + wait
            raise HostParked(url, until, f"HTTP {status} with Retry-After {wait:g} s: host parked")
        host.hold(wait)

    async def _read_body(
        self, url: str, response: httpcore.Response, headers: Headers, *, cut: bool = False
    ) -> bytes:
        """The decoded body under the size caps. With `cut` (robots.txt) a body over
        ROBOTS_MAX_BYTES is cut there instead of refused: RFC 9309 has crawlers parse the
        first 500 KiB, and a huge robots.txt must not make its whole host off-limits."""
        limit = ROBOTS_MAX_BYTES if cut else self._cfg.max_body_bytes
        decoded_limit = ROBOTS_MAX_BYTES if cut else self._cfg.max_decompressed_bytes
        length = header(headers, "content-length")
        if not cut and length is not None and length.strip().isdigit() and int(length) > limit:
            raise TooLarge(url, limit)
        decoder: BodyDecoder | None = None
        try:
            decoder = BodyDecoder(header(headers, "content-encoding"), limit=decoded_limit)
            received = 0
            async for chunk in response.aiter_stream():
                received += len(chunk)
                if received > limit:
                    if not cut:
                        raise TooLarge(url, limit)
                    decoder.feed(chunk[: len(chunk) - (received - limit)])
                    return decoder.so_far()
                decoder.feed(chunk)
            return decoder.finish()
        except BodyTooLarge as exc:
            if cut and decoder is not None:
                return decoder.so_far()
            raise TooLarge(url, exc.limit, "decompressed body") from None
        except BadEncoding as exc:
            raise FetchError(url, str(exc)) from None
