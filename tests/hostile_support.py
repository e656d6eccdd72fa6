"""A hostile web server on 127.0.0.1 for end-to-end abuse tests, speaking raw sockets.

`HostileSite` accepts connections on port 0 and hands each request to a route: a function that
gets the socket and the parsed request and writes whatever bytes it likes (half a status line,
headers forever, a body that lies about its length, nothing at all). Routes are registered per
test (`site.route("/a", handler)`); robots.txt answers 404 unless a test routes it. The server
records every request it saw, so tests can assert what was (and was not) asked for. Helpers
build the usual answers (`reply`, `redirect`, `article_html`) and the config file a `morgue`
CLI run needs to fetch from loopback with small limits.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

MAX_HEAD = 64 * 1024


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


Handler = Callable[[socket.socket, Request], None]


def send(conn: socket.socket, data: bytes) -> None:
    """Write, ignoring a client that went away (that is often the point of the test)."""
    with contextlib.suppress(OSError):
        conn.sendall(data)


def reply(
    conn: socket.socket,
    body: bytes = b"",
    *,
    status: str = "200 OK",
    headers: dict[str, str] | None = None,
    content_type: str | None = "text/html; charset=utf-8",
) -> None:
    lines = [f"HTTP/1.1 {status}"]
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers.setdefault("Content-Type", content_type)
    all_headers.setdefault("Content-Length", str(len(body)))
    all_headers.setdefault("Connection", "close")
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    send(conn, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)


def redirect(location: str, status: str = "302 Found") -> Handler:
    def handler(conn: socket.socket, request: Request) -> None:
        reply(conn, status=status, headers={"Location": location}, content_type=None)

    return handler


def static(body: bytes, **kwargs: object) -> Handler:
    def handler(conn: socket.socket, request: Request) -> None:
        reply(conn, body, **kwargs)  # type: ignore[arg-type]

    return handler


def raw(data: bytes) -> Handler:
    def handler(conn: socket.socket, request: Request) -> None:
        send(conn, data)

    return handler


def article_html(
    headline: str = "Council votes to rebuild the old harbour bridge",
    paragraphs: int = 6,
    *,
    extra_head: str = "",
    extra_body: str = "",
) -> bytes:
    text = (
        "The city council voted on Tuesday to rebuild the harbour bridge, closed since a storm "
        "damaged its northern pier, after engineers said repairs would cost more than a new span."
    )
    paras = "".join(f"<p>{text} Paragraph {n}.</p>" for n in range(paragraphs))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{headline}</title>"
        '<meta property="article:published_time" content="2024-05-09T10:00:00+00:00">'
        f"{extra_head}</head><body><article><h1>{headline}</h1>"
        f"<p class='byline'>By Ann Example</p>{paras}</article>{extra_body}</body></html>"
    ).encode()


def gzip_bytes(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)


def zeros_gzip(size: int) -> bytes:
    """A gzip member inflating to `size` zero bytes, built without holding them in memory."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    piece = b"\0" * (1 << 20)
    out = [comp.compress(piece) for _ in range(size // len(piece))]
    out.append(comp.flush())
    return b"".join(out)


@dataclass
class HostileSite:
    host: str = "127.0.0.1"
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)
    port: int = 0
    _sock: socket.socket | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> HostileSite:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(64)
        sock.settimeout(0.2)
        self._sock, self.port = sock, sock.getsockname()[1]
        thread = threading.Thread(target=self._accept, daemon=True, name="hostile-site")
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, target: str) -> str:
        return self.origin + target

    def route(self, path: str, handler: Handler) -> str:
        self.routes[path] = handler
        return self.url(path)

    def hits(self, path: str) -> int:
        return sum(1 for r in self.seen if r.path == path)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            head = b""
            try:
                while b"\r\n\r\n" not in head and len(head) < MAX_HEAD:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
            except OSError:
                return
            request = _parse_head(head)
            if request is None:
                return
            self.seen.append(request)
            handler = self.routes.get(request.path) or self.routes.get(request.target)
            if handler is None:
                reply(conn, b"not here", status="404 Not Found", content_type="text/plain")
                return
            with contextlib.suppress(OSError):
                handler(conn, request)
                conn.shutdown(socket.SHUT_WR)
                # let the client read everything before the socket closes (no RST)
                conn.settimeout(0.5)
                with contextlib.suppress(OSError):
                    while conn.recv(4096):
                        pass


def _parse_head(head: bytes) -> Request | None:
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], headers)


def dribble(site: HostileSite, conn: socket.socket, data: bytes, pause: float = 0.05) -> None:
    """Send `data` one byte per pause, then one more byte per pause until the test ends."""
    for byte in data:
        if site.stopping():
            return
        conn.sendall(bytes([byte]))
        time.sleep(pause)
    while not site.stopping():
        conn.sendall(b"x")
        time.sleep(pause)


@pytest.fixture(name="hostile")
def hostile_site() -> Iterator[HostileSite]:
    site = HostileSite().start()
    yield site
    site.stop()


def write_config(tmp_path: Path, **fetch: object) -> Path:
    """A config for CLI runs: loopback allowed, no delays, small limits, short timeouts."""
    limits: dict[str, object] = {
        "connect_timeout": "1s",
        "read_timeout": "1s",
        "request_timeout": "2s",
        "url_budget": "3s",
        "attempts": 1,
        "backoff_base": "0.01s",
        "backoff_max": "0.05s",
        "retry_after_max": "1s",
        "max_body_bytes": 1_000_000,
        "max_decompressed_bytes": 2_000_000,
        "max_redirects": 5,
    }
    limits.update(fetch)
    fetch_yaml = ", ".join(f"{k}: {v}" for k, v in limits.items())
    path = tmp_path / "config.yaml"
    path.write_text(
        "data_dir: ./data\n"
        "politeness: {delay: 0s, robots_error_wait: 60s}\n"
        "network: {allow: [127.0.0.1]}\n"
        f"fetch: {{{fetch_yaml}}}\n",
        encoding="utf-8",
    )
    return path
