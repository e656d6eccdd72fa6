"""A many-host news site on 127.0.0.1 for cluster crawls, and worker processes to crawl it.

`ManyHosts` serves one `NewsSite` per virtual host (`h0.cluster.test` ...) from a single server
on 127.0.0.1, chosen by the Host header, and logs every request's arrival per host. Workers are
real `morgue worker` processes (`python -m tests.cluster_support CONFIG`), started with the
project's own worker loop and one change: names under `.cluster.test` resolve to 127.0.0.1,
so no request leaves the machine.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from scraper.config import Source
from tests.crawl_support import Hit, NewsSite, _QuietServer, site_source

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = "cluster.test"


@dataclass
class ManyHosts:
    hosts: int
    articles_per_host: int
    crawl_delay: float
    sites: dict[str, NewsSite] = field(default_factory=dict)
    port: int = 0

    def __post_init__(self) -> None:
        for n in range(self.hosts):
            self.sites[f"h{n}.{DOMAIN}"] = NewsSite.with_articles(
                self.articles_per_host,
                first=n * self.articles_per_host,
                crawl_delay=self.crawl_delay,
            )

    def feeds(self) -> list[str]:
        return [site.url("/rss.xml") for site in self.sites.values()]

    def hits(self) -> dict[str, list[Hit]]:
        return {name: list(site.hits) for name, site in self.sites.items()}

    def article_urls(self) -> list[str]:
        return [site.url(a.path) for site in self.sites.values() for a in site.articles]


def feed_only_source(base: str) -> Source:
    """The test site as a source read from its RSS feed alone, one host, articles only (depth
    1): the crawls of the cluster's frontier tests, with nothing but the feed and its articles."""
    return site_source(
        base,
        hosts=("news.test",),
        home=None,
        feeds=(base + "/rss.xml",),
        sitemaps=(),
        sections=(),
        max_depth=1,
    )


def _handler(many: ManyHosts) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            name = (self.headers.get("Host") or "").split(":")[0].lower()
            site = many.sites.get(name)
            hit = Hit(self.path, time.monotonic(), {})
            if site is None:
                status, ctype, body = 404, "text/plain", b"no such host"
            else:
                with site.lock:
                    site.hits.append(hit)
                status, ctype, body = site.respond(self.path)
            etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
            if status == 200 and self.headers.get("If-None-Match") == etag:
                status, body = 304, b""
            hit.status = status
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            if status in (200, 304):
                self.send_header("ETag", etag)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


class _ManyHostsListener(_QuietServer):
    # one listening socket stands in for hundreds of sites, each of which would have its own:
    # with the default backlog of 5, the workers' first connections to the hosts would wait
    # for SYN retransmits (1 s, then 3 s) and time out, which no real site set makes them do
    request_queue_size = 1024


class ManyHostsServer:
    """Serve a ManyHosts on 127.0.0.1:0 in a thread (context manager)."""

    def __init__(self, many: ManyHosts) -> None:
        self.many = many
        self.server = _ManyHostsListener(("127.0.0.1", 0), _handler(many))
        many.port = self.server.server_address[1]
        for name, site in many.sites.items():
            site.base = f"http://{name}:{many.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ManyHosts:
        self._thread.start()
        return self.many

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def cluster_config(
    many: ManyHosts, data_dir: Path, catalog_url: str, path: Path, *, concurrency: int = 16
) -> Path:
    """A cluster config.yaml: the PostgreSQL catalog, one source over every host's feed."""
    feeds = "\n".join(f"      - {url}" for url in many.feeds())
    path.write_text(
        f"data_dir: {data_dir}\n"
        "user_agent: morgue-tests (+https://example.org/morgue)\n"
        "storage:\n"
        f"  catalog: {catalog_url}\n"
        "network:\n  allow: ['127.0.0.1']\n"
        "fetch: {attempts: 2, connect_timeout: 2.0, read_timeout: 5.0, url_budget: 10.0}\n"
        f"politeness: {{delay: 0.0, concurrency: {concurrency}, adaptive: false}}\n"
        "sources:\n"
        "  - name: cluster\n"
        "    feeds:\n"
        f"{feeds}\n"
        "    max_depth: 1\n"
        "    max_pages: 100000\n"
    )
    return path


async def loopback_resolve(host: str, port: int) -> list[str]:
    if host == DOMAIN or host.endswith("." + DOMAIN) or host in ("127.0.0.1", "localhost"):
        return ["127.0.0.1"]
    raise OSError(f"{host}: not a test host")


def start_worker(config: Path, *, concurrency: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.cluster_support", str(config), str(concurrency)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop_worker(proc: subprocess.Popen[bytes], *, timeout: float = 60.0) -> bytes:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate()
    return err or b""


def main(argv: list[str]) -> int:
    """A worker process: `python -m tests.cluster_support CONFIG CONCURRENCY`."""
    import logging

    from scraper.cluster.worker import run_worker
    from scraper.config import load_config

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    config = load_config(argv[0])
    run_worker(config, concurrency=int(argv[1]), resolve=loopback_resolve)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
