"""Many polite loopback news sites in one asyncio process, stamping every request's arrival.

Host i listens on 127.1.x.y (one address per host, so per-host politeness really is per host)
and serves robots.txt (`Crawl-delay: D`), an index page `/` listing its articles, and the
articles: ~60 kB each, like a real news page (inline scripts and styles of a site template,
a navigation of ~35 links, ~20 related links to the host's other articles, a few off-site and
utility links: ~57 links), with a body of distinct news-like text. The server records, per
host, (arrival, end of response, path) with the system-wide monotonic clock and writes the log
as JSON when it gets SIGTERM. Used by `bench_crawl.py --polite`.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.crawl_support import WORDS, _paragraph  # noqa: E402

SECTIONS = (
    "world",
    "politics",
    "business",
    "technology",
    "science",
    "health",
    "sport",
    "culture",
    "opinion",
    "climate",
    "education",
    "travel",
    "food",
    "books",
    "film",
    "music",
    "weather",
    "local",
    "national",
    "europe",
    "asia",
    "africa",
    "americas",
    "economy",
    "markets",
    "media",
    "religion",
    "society",
    "crime",
    "courts",
    "elections",
)


def host_addresses(count: int) -> list[str]:
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


def _template_head() -> bytes:
    """~45 kB of site template: the inline CSS and JS news sites ship on every page."""
    css = "".join(
        f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{i * 2654435761 % 0xFFFFFF:06x}}}\n"
        for i in range(640)
    )
    js = "".join(
        f"window.cfg{i}={{id:{i},slot:'ad-{i % 13}',lazy:{str(i % 2 == 0).lower()}}};\n"
        for i in range(540)
    )
    return f"<style>{css}</style><script>{js}</script>".encode()


class Host:
    def __init__(self, n: int, per_host: int, delay: float) -> None:
        self.n = n
        self.delay = delay
        first = n * per_host
        self.articles = list(range(first, first + per_host))
        self.paths = {self._path(i): i for i in self.articles}

    def _path(self, i: int) -> str:
        when = datetime(2024, 5, 1, 9, tzinfo=UTC) + timedelta(hours=7 * (i % 5000))
        words = "-".join(WORDS[(i * 3 + k * 5) % len(WORDS)] for k in range(4))
        return f"/news/{when:%Y/%m/%d}/{words}-{i}"

    def robots(self) -> bytes:
        return f"User-agent: *\nAllow: /\nCrawl-delay: {self.delay:g}\n".encode()

    def nav(self) -> str:
        links = [f'<a href="/{s}">{s.title()}</a>' for s in SECTIONS]
        links += ['<a href="/">Home</a>', '<a href="/about">About us</a>']
        return "<nav>" + " ".join(links) + "</nav>"

    def index(self) -> bytes:
        items = "".join(f'<li><a href="{p}">Story {i}</a></li>' for p, i in self.paths.items())
        return (
            f"<!doctype html><html><head><title>Site {self.n}</title></head><body>"
            f"{self.nav()}<h1>Latest news</h1><ul>{items}</ul></body></html>"
        ).encode()

    def article(self, i: int, head: bytes) -> bytes:
        when = datetime(2024, 5, 1, 9, tzinfo=UTC) + timedelta(hours=7 * (i % 5000))
        title = escape(" ".join(WORDS[(i * 3 + k * 5) % len(WORDS)] for k in range(6))).title()
        body = "".join(f"<p>{escape(_paragraph(i * 17 + k))}</p>" for k in range(10))
        related = "".join(
            f'<li><a href="{p}{"?utm_source=related" if j % 4 == 0 else ""}">Related {j}</a></li>'
            for j, p in enumerate(self.paths)
            if self.paths[p] != i
        )
        off_site = (
            '<a href="https://twitter.example/share?u=1">Share</a> '
            '<a href="https://facebook.example/sharer">Share</a> '
            '<a href="mailto:desk@example.org">Tip us</a> <a href="#top">Top</a>'
        )
        ld = json.dumps(
            {
                "@context": "https://schema.org",
                "@type": "NewsArticle",
                "headline": title,
                "datePublished": when.isoformat(),
                "author": {"@type": "Person", "name": "Jane Reporter"},
            }
        )
        page = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} | Site "
            f'{self.n}</title><script type="application/ld+json">{ld}</script>'
        ).encode()
        page += head
        page += (
            f"</head><body><header>{self.nav()}</header><article><h1>{title}</h1>"
            f'<p class="byline">By Jane Reporter</p><time datetime="{when.isoformat()}">'
            f"{when:%d %B %Y}</time>{body}</article><aside><h2>Related</h2><ul>{related}</ul>"
            f"</aside><footer>{off_site} Copyright Site {self.n}</footer></body></html>"
        ).encode()
        return page


def _response(status: str, body: bytes, ctype: str) -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


async def serve(count: int, per_host: int, delay: float, out: Path) -> None:
    log: dict[str, list[tuple[float, float, str]]] = {}
    head = _template_head()
    missing = _response("404 Not Found", b"not found", "text/plain")

    def handler(
        address: str, host: Host
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        entries = log.setdefault(address, [])
        robots = _response("200 OK", host.robots(), "text/plain")
        index = _response("200 OK", host.index(), "text/html; charset=utf-8")

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    request = await reader.readuntil(b"\r\n\r\n")
                    arrived = time.monotonic()
                    path = request.split(b" ", 2)[1].decode()
                    if path == "/robots.txt":
                        answer = robots
                    elif path == "/":
                        answer = index
                    elif path.split("?")[0] in host.paths:
                        body = host.article(host.paths[path.split("?")[0]], head)
                        answer = _response("200 OK", body, "text/html; charset=utf-8")
                    else:
                        answer = missing
                    # stamped before the write: the client cannot have the answer earlier
                    entries.append((arrived, time.monotonic(), path))
                    writer.write(answer)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        return handle

    servers = []
    ports = {}
    for n, address in enumerate(host_addresses(count)):
        host = Host(n, per_host, delay)
        server = await asyncio.start_server(handler(address, host), address, 0, backlog=64)
        ports[address] = server.sockets[0].getsockname()[1]
        servers.append(server)
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    out.write_text(json.dumps(log))


if __name__ == "__main__":
    hosts, per_host, delay, out = sys.argv[1:5]
    asyncio.run(serve(int(hosts), int(per_host), float(delay), Path(out)))
