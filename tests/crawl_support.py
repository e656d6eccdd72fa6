"""A local news site on 127.0.0.1 for crawl tests and the crawl benchmark.

`NewsSite` serves, from a real `ThreadingHTTPServer` on port 0: robots.txt (Disallow /private/,
a Crawl-delay, a Sitemap line), an RSS feed, an Atom feed, a sitemap index pointing at a Google
News sitemap and a gzipped sitemap, a home page advertising its feed, section pages whose links
carry tracking parameters and fragments, an endless calendar and endless pagination (traps),
a disallowed article, and articles in three different page layouts. Feeds, sitemaps and
articles answer conditional GET (ETag). Articles can be added or edited between crawls; every
request is logged with its arrival time so tests can assert what the server saw.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from scraper.config import Config, FetchConfig, PolitenessConfig, Source

WORDS = [
    "council",
    "budget",
    "river",
    "harbour",
    "election",
    "minister",
    "school",
    "hospital",
    "court",
    "storm",
    "festival",
    "market",
    "railway",
    "bridge",
    "museum",
    "library",
    "union",
    "strike",
    "vote",
    "farmers",
    "energy",
    "prices",
    "water",
    "forest",
    "police",
    "report",
    "inquiry",
    "village",
    "mayor",
    "teachers",
    "doctors",
    "science",
    "climate",
    "flood",
    "drought",
    "island",
    "ferry",
]


def _paragraph(seed: int) -> str:
    """Four sentences of news-like words, the same for the same seed."""
    rng = random.Random(seed)
    sentences = [" ".join(rng.choices(WORDS, k=rng.randint(10, 18))) for _ in range(4)]
    return " ".join(s.capitalize() + "." for s in sentences)


@dataclass
class SiteArticle:
    slug: str
    headline: str
    paragraphs: list[str]
    published: datetime
    layout: int
    in_feed: bool = True

    @property
    def path(self) -> str:
        d = self.published
        return f"/news/{d.year}/{d.month:02d}/{d.day:02d}/{self.slug}"


def make_article(i: int, *, when: datetime | None = None, layout: int | None = None) -> SiteArticle:
    when = when or datetime(2024, 5, 1, 9, tzinfo=UTC) + timedelta(hours=7 * (i % 5000))
    words = [WORDS[(i * 3 + k * 5) % len(WORDS)] for k in range(4)]
    return SiteArticle(
        slug="-".join(words) + f"-{i}",
        headline=" ".join(words).capitalize() + f" number {i}",
        paragraphs=[_paragraph(i * 11 + k) for k in range(5)],
        published=when,
        layout=i % 3 if layout is None else layout,
    )


@dataclass
class Hit:
    path: str  # path + query as requested
    at: float  # time.monotonic() on arrival
    headers: dict[str, str]
    status: int = 200


@dataclass
class NewsSite:
    """The site's content; mutate `articles` between crawls (under `lock`)."""

    articles: list[SiteArticle] = field(default_factory=list)
    crawl_delay: float | None = 0.01
    article_delay: float = 0.0  # seconds each article response is held back
    base: str = ""
    hits: list[Hit] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def with_articles(cls, n: int, *, first: int = 0, **kw: object) -> NewsSite:
        """A site of articles number first .. first+n-1 (distinct numbers, distinct text)."""
        articles = [make_article(i) for i in range(first, first + n)]
        return cls(articles=articles, **kw)  # type: ignore[arg-type]

    def url(self, path: str) -> str:
        return self.base + path

    def requested(self, prefix: str = "/") -> list[str]:
        with self.lock:
            return [h.path for h in self.hits if h.path.startswith(prefix)]

    def article_hits(self) -> list[str]:
        return self.requested("/news/")

    def reset_log(self) -> None:
        with self.lock:
            self.hits.clear()

    def edit(self, index: int, paragraph: str) -> None:
        """Append a paragraph to an article (a small change)."""
        with self.lock:
            self.articles[index].paragraphs.append(paragraph)

    def rewrite(self, index: int, seed: int) -> None:
        """Replace an article's body with different text (a substantial change)."""
        with self.lock:
            self.articles[index].paragraphs = [_paragraph(seed * 17 + k) for k in range(5)]

    # content --------------------------------------------------------------------------

    def _recent(self) -> list[SiteArticle]:
        return sorted(self.articles, key=lambda a: a.published, reverse=True)

    def robots(self) -> str:
        lines = ["User-agent: *", "Disallow: /private/"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        lines.append(f"Sitemap: {self.url('/sitemap_index.xml')}")
        return "\n".join(lines) + "\n"

    def rss(self) -> str:
        items = []
        for n, a in enumerate(self._recent()[:20]):
            link = self.url(a.path) + ("?utm_source=rss&utm_medium=feed" if n % 2 else "")
            items.append(
                f"<item><title>{escape(a.headline)}</title><link>{escape(link)}</link>"
                f"<pubDate>{format_datetime(a.published, usegmt=True)}</pubDate></item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Local News</title><link>{self.url('/')}</link>{''.join(items)}"
            "</channel></rss>"
        )

    def atom(self) -> str:
        entries = [
            f'<entry><title>{escape(a.headline)}</title><link rel="alternate" '
            f'href="{self.url(a.path)}#top"/><published>{a.published.isoformat()}</published>'
            "</entry>"
            for a in self._recent()[10:30]
        ]
        return (
            '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>Local</title>{''.join(entries)}</feed>"
        )

    def sitemap_index(self) -> str:
        return (
            '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{self.url('/sitemap-news.xml')}</loc></sitemap>"
            f"<sitemap><loc>{self.url('/sitemap-archive.xml.gz')}</loc></sitemap>"
            "</sitemapindex>"
        )

    def news_sitemap(self) -> str:
        urls = [
            f"<url><loc>{self.url(a.path)}</loc><news:news><news:publication>"
            "<news:name>Local</news:name><news:language>en</news:language></news:publication>"
            f"<news:publication_date>{a.published.isoformat()}</news:publication_date>"
            f"<news:title>{escape(a.headline)}</news:title></news:news></url>"
            for a in self._recent()[:40]
        ]
        return (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"{''.join(urls)}</urlset>"
        )

    def archive_sitemap(self) -> bytes:
        urls = [f"<url><loc>{self.url(a.path)}</loc></url>" for a in self._recent()[40:]]
        xml = (
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"{''.join(urls)}</urlset>"
        )
        return gzip.compress(xml.encode(), mtime=0)

    def page(self, title: str, links: list[str], head: str = "") -> str:
        items = "".join(f'<li><a href="{escape(href)}">{escape(href)}</a></li>' for href in links)
        return (
            f"<!doctype html><html><head><title>{escape(title)}</title>{head}</head><body>"
            f'<nav><a href="/">Home</a> <a href="/world">World</a> <a href="/politics">Politics'
            f'</a> <a href="/tag/weather">Weather</a></nav><h1>{escape(title)}</h1><ul>{items}'
            "</ul></body></html>"
        )

    def home(self) -> str:
        head = '<link rel="alternate" type="application/rss+xml" title="RSS" href="/rss.xml">'
        return self.page("Local News", [a.path for a in self._recent()[:5]], head)

    def section(self, name: str, page: int) -> str:
        recent = self._recent()
        chosen = recent[0::2] if name == "world" else recent[1::2]
        links = [
            a.path + ("?utm_campaign=section" if i % 3 == 0 else "")
            for i, a in enumerate(chosen[:30])
        ]
        links += [a.path + "#comments" for a in chosen[:3]]
        links += [
            "/private/secret-plans-of-the-council-revealed",
            "/calendar/2024/05",
            f"/{name}?page={page + 1}",
            "mailto:desk@example.org",
            "https://elsewhere.example/2024/05/01/off-site-story-here",
        ]
        return self.page(f"{name.title()} page {page}", links)

    def calendar(self, year: int, month: int) -> str:
        prev_y, prev_m = (year, month - 1) if month > 1 else (year - 1, 12)
        next_y, next_m = (year, month + 1) if month < 12 else (year + 1, 1)
        return self.page(
            f"Calendar {year}-{month:02d}",
            [f"/calendar/{prev_y}/{prev_m:02d}", f"/calendar/{next_y}/{next_m:02d}"],
        )

    def article_html(self, a: SiteArticle) -> str:
        body = "".join(f"<p>{escape(p)}</p>" for p in a.paragraphs)
        published = a.published.isoformat()
        title = escape(a.headline)
        if a.layout == 0:
            ld = (
                '{"@context":"https://schema.org","@type":"NewsArticle","headline":"'
                f'{title}","datePublished":"{published}","author":{{"@type":"Person",'
                '"name":"Jane Reporter"}}'
            )
            return (
                f"<!doctype html><html lang=en><head><title>{title} | Local</title>"
                f'<script type="application/ld+json">{ld}</script></head><body>'
                f"<header>Local News</header><article><h1>{title}</h1>"
                f'<p class="byline">By Jane Reporter</p>{body}</article>'
                "<footer>Copyright Local</footer></body></html>"
            )
        if a.layout == 1:
            return (
                f'<!doctype html><html lang=en><head><meta property="og:title" content="{title}">'
                f'<meta property="og:type" content="article"><meta property="article:'
                f'published_time" content="{published}"><title>{title}</title></head><body>'
                f'<div class="header">menu</div><div class="story"><h1 class="headline">{title}'
                f'</h1><time datetime="{published}">{a.published:%d %B %Y}</time>'
                f'<div class="story-body">{body}</div></div><div class="related">'
                '<a href="/world">More world news</a></div></body></html>'
            )
        return (
            f"<!doctype html><html lang=en><head><title>{title}</title>"
            f'<meta name="description" content="{escape(a.paragraphs[0][:100])}"></head>'
            f'<body><main><h1>{title}</h1><div class="meta">Published {a.published:%Y-%m-%d}'
            f'</div><div id="content">{body}</div></main><aside><a href="/politics">'
            "Politics</a></aside></body></html>"
        )

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a path; the server adds validators and 304."""
        parts = urlsplit(path)
        route = parts.path
        query = parse_qs(parts.query)
        html, xml = "text/html; charset=utf-8", "application/xml"
        with self.lock:
            if route == "/robots.txt":
                return 200, "text/plain", self.robots().encode()
            if route == "/rss.xml":
                return 200, "application/rss+xml", self.rss().encode()
            if route == "/atom.xml":
                return 200, "application/atom+xml", self.atom().encode()
            if route == "/sitemap_index.xml":
                return 200, xml, self.sitemap_index().encode()
            if route == "/sitemap-news.xml":
                return 200, xml, self.news_sitemap().encode()
            if route == "/sitemap-archive.xml.gz":
                return 200, "application/x-gzip", self.archive_sitemap()
            if route == "/":
                return 200, html, self.home().encode()
            if route in ("/world", "/politics"):
                page = int(query.get("page", ["1"])[0])
                return 200, html, self.section(route[1:], page).encode()
            if route.startswith("/calendar/"):
                bits = route.split("/")
                return 200, html, self.calendar(int(bits[2]), int(bits[3])).encode()
            if route.startswith("/private/"):
                return 200, html, self.page("Secret", []).encode()
            for a in self.articles:
                if a.path == route:
                    return 200, html, self.article_html(a).encode()
        return 404, "text/plain", b"not found"


def _handler(site: NewsSite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            hit = Hit(self.path, time.monotonic(), {k.lower(): v for k, v in self.headers.items()})
            with site.lock:
                site.hits.append(hit)
            status, ctype, body = site.respond(self.path)
            if self.path.startswith("/news/") and site.article_delay:
                time.sleep(site.article_delay)
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


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # a client that drops its keep-alive connections on exit is not an error worth a
        # traceback; anything else still gets one
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class SiteServer:
    """Serve a NewsSite on `host`:0 in a thread; the context manager starts and stops it."""

    def __init__(self, site: NewsSite, host: str = "127.0.0.1") -> None:
        self.site = site
        self.server = _QuietServer((host, 0), _handler(site))
        site.base = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self.site

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def site_source(base: str, **overrides: object) -> Source:
    """The test site as a configured source: every kind of start point, depth 2."""
    values: dict[str, object] = {
        "name": "local",
        "home": base + "/",
        "feeds": (base + "/rss.xml", base + "/atom.xml"),
        "sitemaps": (base + "/sitemap_index.xml",),
        "sections": (base + "/world", base + "/politics"),
        "max_depth": 2,
        "max_pages": 1000,
        "hosts": ("127.0.0.1",),
    }
    values.update(overrides)
    return Source(**values)  # type: ignore[arg-type]


def site_config(base: str, data_dir: Path, **source_overrides: object) -> Config:
    """Config for crawling the test site: loopback allowed, no delay of our own (the site's
    robots.txt Crawl-delay applies), few retries."""
    politeness = PolitenessConfig(delay=0.0, concurrency=8, adaptive=False)
    fetch = FetchConfig(allow=("127.0.0.1",), attempts=1, connect_timeout=2.0, read_timeout=5.0)
    return Config(
        data_dir=data_dir,
        fetch=fetch,
        politeness=politeness,
        sources=(site_source(base, **source_overrides),),
    )


def main(argv: list[str]) -> int:
    """`python -m tests.crawl_support BASE DATA_DIR [--report-stored]`: one crawl of the site
    (for kill -9 tests); with --report-stored, a `STORED <url>` line per page it stored."""
    from archive.store import Archive
    from scraper.crawl import crawl
    from scraper.fetch import AsyncFetcher

    base, data = argv[0], Path(argv[1])
    config = site_config(base, data)
    stored_events = {"new", "updated", "unchanged", "duplicate"}

    def report_stored(report: object, url: str, event: str) -> None:
        # what the crawl reports as stored, as soon as it does (for the kill -9 tests)
        if "--report-stored" in argv and event in stored_events:
            print(f"STORED {url}", flush=True)

    with Archive.open(data) as archive:
        report = crawl(
            config,
            fetcher=AsyncFetcher(config.fetch, config.politeness),
            archive=archive,
            progress=report_stored,
        )
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
