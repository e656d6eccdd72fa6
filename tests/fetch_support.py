"""A scripted HTTP server on loopback for the fetcher's tests, and a fake clock.

`local_site` serves on 127.0.0.1 and, as a second machine, 127.0.0.2 (one ThreadingHTTPServer
each, port 0, started once per session, reset for every test). Tests script replies per path
(`site.route("/a", Reply(503), Reply(503), Reply(200))`; the last reply repeats) and then assert
what the server saw: every request with its host, headers and times, the connections accepted
per address, and the most requests it had in flight at once, overall and per Host header.
Unscripted paths, robots.txt included, answer 404.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from scraper.config import FetchConfig, PolitenessConfig
from scraper.fetch import Fetcher

HTML = b"<!doctype html><html><head><title>t</title></head><body><p>Hello</p></body></html>"


@dataclass
class Reply:
    status: int = 200
    body: bytes = HTML
    headers: dict[str, str] = field(
        default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"}
    )
    delay: float = 0.0  # real seconds before the answer
    stall: bool = False  # never answer (until the test ends)
    chunks: Callable[[], Iterator[bytes]] | None = None  # chunked body instead of `body`


@dataclass
class Hit:
    path: str
    host: str
    address: str
    headers: dict[str, str]  # lower-cased names
    at: float  # site clock when the request arrived
    end: float = 0.0  # site clock when the answer was written


class FakeClock:
    """Simulated time: `sleep` records and advances it. Sleeps of concurrent tasks add up, so
    use it where one task sleeps at a time."""

    def __init__(self, start: float = 1000.0) -> None:
        self.start = start
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += max(0.0, seconds)

    def utcnow(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=self.now - self.start)


class LocalSite:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.servers: list[ThreadingHTTPServer] = []
        self.reset()

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.routes: dict[str, list[Reply]] = {}
            self.log: list[Hit] = []
            self.connections: dict[str, int] = {}
            self.in_flight: dict[str, int] = {}
            self.max_in_flight: dict[str, int] = {}
            self.clock: Callable[[], float] = time.monotonic
            old = getattr(self, "release", None)
            self.release = threading.Event()
        if old is not None:
            old.set()  # let stalled handlers of the last test finish

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def port(self, address: str = "127.0.0.1") -> int:
        server = next(s for s in self.servers if s.server_address[0] == address)
        return int(server.server_address[1])

    def url(self, path: str, address: str = "127.0.0.1", host: str | None = None) -> str:
        return f"http://{host or address}:{self.port(address)}{path}"

    def hits(self, path: str | None = None, address: str = "127.0.0.1") -> list[Hit]:
        with self.lock:
            return [
                h for h in self.log if (path is None or h.path == path) and h.address == address
            ]

    def paths(self, address: str = "127.0.0.1") -> list[str]:
        return [h.path for h in self.hits(address=address)]

    def next_reply(self, path: str) -> Reply:
        with self.lock:
            replies = self.routes.get(path)
            if not replies:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def enter(self, hit: Hit) -> None:
        with self.lock:
            self.log.append(hit)
            for key in ("*", hit.host):
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
                self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self.in_flight[key])

    def leave(self, hit: Hit) -> None:
        """The answer is given: called just before its headers go out, since the client may act
        on them alone (stop reading, send the next request, move a fake clock on) before this
        thread runs again."""
        with self.lock:
            if hit.end:
                return
            hit.end = self.clock()
            for key in ("*", hit.host):
                if key in self.in_flight:  # else the site was reset under a stalled request
                    self.in_flight[key] -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        site = self.server.site
        with site.lock:
            address = self.server.server_address[0]
            site.connections[address] = site.connections.get(address, 0) + 1

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        site = self.server.site
        hit = Hit(
            path=self.path,
            host=self.headers.get("Host", ""),
            address=self.server.server_address[0],
            headers={k.lower(): v for k, v in self.headers.items()},
            at=site.clock(),
        )
        site.enter(hit)
        try:
            self._answer(site.next_reply(self.path), site.release, hit)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            site.leave(hit)

    def _answer(self, reply: Reply, release: threading.Event, hit: Hit) -> None:
        if reply.stall:
            release.wait(30)
            self.close_connection = True
            return
        if reply.delay:
            time.sleep(reply.delay)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunks is None and "Content-Length" not in reply.headers:
            self.send_header("Content-Length", str(len(reply.body)))
        if reply.chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
        self.server.site.leave(hit)
        self.end_headers()
        if reply.chunks is None:
            self.wfile.write(reply.body)
            return
        for chunk in reply.chunks():
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: LocalSite


def _serve(site: LocalSite, address: str) -> _Server:
    server = _Server((address, 0), _Handler)
    server.site = site
    server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True, name=f"site-{address}"
    ).start()
    return server


@pytest.fixture(scope="session")
def local_site_server() -> Iterator[LocalSite]:
    site = LocalSite()
    site.servers = [_serve(site, "127.0.0.1"), _serve(site, "127.0.0.2")]
    yield site
    site.release.set()
    for server in site.servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def local_site(local_site_server: LocalSite) -> Iterator[LocalSite]:
    local_site_server.reset()
    yield local_site_server
    local_site_server.reset()


def fetch_config(**changes: Any) -> FetchConfig:
    """Fetch settings for tests: loopback 127.0.0.1 allowed, quick backoff."""
    values: dict[str, Any] = {
        "allow": ("127.0.0.1",),
        "backoff_base": 0.5,
        "backoff_max": 4.0,
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "request_timeout": 5.0,
    }
    values.update(changes)
    return FetchConfig(**values)


def polite_config(**changes: Any) -> PolitenessConfig:
    values: dict[str, Any] = {"delay": 0.0}
    values.update(changes)
    return PolitenessConfig(**values)


@pytest.fixture
def make_fetcher() -> Iterator[Callable[..., Fetcher]]:
    """make_fetcher(fetch=..., politeness=..., clock=FakeClock) -> an open Fetcher."""
    opened: list[Fetcher] = []

    def make(
        fetch: FetchConfig | None = None,
        politeness: PolitenessConfig | None = None,
        clock: FakeClock | None = None,
        **kwargs: Any,
    ) -> Fetcher:
        if clock is not None:
            kwargs.update(sleep=clock.sleep, clock=clock, now=clock.utcnow)
        fetcher = Fetcher(fetch or fetch_config(), politeness or polite_config(), **kwargs)
        opened.append(fetcher.__enter__())
        return fetcher

    yield make
    for fetcher in opened:
        fetcher.close()


def run(coro: Any) -> Any:
    return asyncio.run(coro)
