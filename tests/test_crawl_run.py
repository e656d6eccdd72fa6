"""The crawl run's logic with in-memory fakes for the fetcher, archive and ingest step.

The fakes answer from the same `NewsSite` content the end-to-end tests serve over HTTP, so these
tests pin the crawler's decisions (what it queues, fetches, skips, reports) without sockets or
sleeping. End-to-end behaviour with the real fetcher and archive is in test_crawl_e2e.py.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import pytest
from protego import Protego

from archive.backends.frontier_sqlite import SqliteFrontier
from archive.record import (
    Article,
    Block,
    Content,
    Outcome,
    RawPage,
    Stored,
    Validators,
)
from archive.urls import url_key
from scraper.config import Config, Source
from scraper.crawl import SourceStatus, crawl, format_report
from scraper.crawl.discover import robots_sitemaps
from scraper.crawl.lock import SourceLock
from scraper.errors import DisallowedByRobots, NotAnArticle, NotHtml, TransientFetchError
from tests.crawl_support import NewsSite, make_article, site_source

BASE = "http://news.test"


class FakeFetcher:
    """Answers from a NewsSite without sockets; obeys its robots.txt; honours ETags."""

    def __init__(self, site: NewsSite, *, down: bool = False) -> None:
        self.site = site
        self.site.base = BASE
        self.down = down
        self.requests: list[str] = []
        self.entered = 0

    async def __aenter__(self) -> FakeFetcher:
        self.entered += 1
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        if self.down:
            raise TransientFetchError(url, "connection refused")
        path = url.removeprefix(BASE) or "/"
        robots = Protego.parse(self.site.robots())
        if not robots.can_fetch(url, "morgue"):
            raise DisallowedByRobots(url)
        self.requests.append(path)
        status, ctype, body = self.site.respond(path)
        if status == 404:
            from scraper.errors import BadStatus

            raise BadStatus(url, 404)
        if accept == "html" and not ctype.startswith("text/html"):
            raise NotHtml(url, ctype)
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if validators is not None and validators.etag == etag:
            status, body = 304, b""
        return RawPage(
            requested_url=url,
            final_url=url,
            status=status,
            headers=(("content-type", ctype), ("etag", etag)),
            body=body,
            fetched_at=datetime.now(UTC),
        )


class FakeArchive:
    """Articles by url_key, versions when the body changes; a real catalog path for the
    frontier."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.catalog_path = root / "catalog.sqlite"
        self.records: dict[str, list[Article]] = {}
        self.etags: dict[str, str] = {}

    def open_frontier(self, *, scratch: bool = False) -> SqliteFrontier:
        return SqliteFrontier.open(":memory:" if scratch else self.catalog_path)

    def validators(self, url: str) -> Validators | None:
        etag = self.etags.get(url_key(url))
        return Validators(etag=etag) if etag else None

    def find(self, url_or_id: str) -> Article | None:
        versions = self.records.get(url_key(url_or_id))
        return versions[-1] if versions else None

    def find_urls(self, urls: Iterable[str]) -> dict[str, Article]:
        return {url: found for url in urls if (found := self.find(url)) is not None}


def fake_ingest(page: RawPage, *, archive: FakeArchive, source: str, rules: object) -> Stored:
    key = url_key(page.requested_url)
    if page.status == 304:
        return Stored(outcome=Outcome.UNCHANGED, article=archive.find(key))
    text = page.body.decode()
    headline = re.search(r"<h1[^>]*>(.*?)</h1>", text)
    paragraphs = re.findall(r"<p>(.*?)</p>", text)
    if headline is None or not paragraphs:
        raise NotAnArticle(page.requested_url, "no headline or body")
    content = Content(
        headline=headline.group(1), body=tuple(Block(p) for p in paragraphs), published="2024-05-01"
    )
    archive.etags[key] = page.header("etag") or ""
    versions = archive.records.setdefault(key, [])
    if versions and versions[-1].content.body == content.body:
        return Stored(outcome=Outcome.UNCHANGED, article=versions[-1])
    article = Article.build(
        page, content, id=key, version=len(versions) + 1, source=source, canonical_url=key
    )
    versions.append(article)
    return Stored(outcome=Outcome.NEW if len(versions) == 1 else Outcome.UPDATED, article=article)


def _source(**kw: object) -> Source:
    return site_source(BASE, **{"hosts": ("news.test",), **kw})


def _run(
    tmp_path: Path,
    site_or_fetcher: NewsSite | FakeFetcher,
    source: Source,
    archive: FakeArchive | None = None,
    **kw: object,
) -> tuple:  # type: ignore[type-arg]
    fetcher = (
        site_or_fetcher
        if isinstance(site_or_fetcher, FakeFetcher)
        else FakeFetcher(site_or_fetcher)
    )
    archive = archive or FakeArchive(tmp_path / "data")
    config = Config(data_dir=tmp_path / "data", sources=(source,))
    report = crawl(config, fetcher=fetcher, archive=archive, ingest=fake_ingest, **kw)  # type: ignore[arg-type]
    return report, fetcher, archive


def test_first_crawl_archives_every_article_once_and_skips_robots_and_traps(
    tmp_path: Path,
) -> None:
    site = NewsSite.with_articles(60)
    report, fetcher, archive = _run(tmp_path, site, _source())
    r = report.source("local")
    assert r.status is SourceStatus.OK
    article_paths = [p for p in fetcher.requests if p.startswith("/news/")]
    assert sorted(article_paths) == sorted(a.path for a in site.articles)  # each exactly once
    assert len(archive.records) == 60
    assert r.new_articles == 60
    assert r.skipped_robots == 1  # the /private/ link, refused by robots, never requested
    assert not [p for p in fetcher.requests if p.startswith("/private/")]
    assert not [p for p in fetcher.requests if "utm_" in p or "#" in p]
    assert report.exit_code == 0


def test_second_crawl_fetches_listings_and_only_new_articles(tmp_path: Path) -> None:
    site = NewsSite.with_articles(60)
    archive = FakeArchive(tmp_path / "data")
    _run(tmp_path, site, _source(), archive)
    site.articles.append(make_article(60, when=datetime(2024, 6, 1, tzinfo=UTC)))
    report, fetcher, _ = _run(tmp_path, site, _source(), archive)
    r = report.source("local")
    assert [p for p in fetcher.requests if p.startswith("/news/")] == [site.articles[-1].path]
    assert r.new_articles == 1
    assert "/rss.xml" in fetcher.requests
    assert "/sitemap-news.xml" in fetcher.requests


def test_revisit_picks_up_an_edited_young_article_as_version_2(tmp_path: Path) -> None:
    site = NewsSite.with_articles(10)
    clock = [datetime(2024, 5, 2, tzinfo=UTC)]
    source = _source()
    archive = FakeArchive(tmp_path / "data")
    _run(tmp_path, site, source, archive, now=lambda: clock[0])
    site.edit(0, "A correction was appended to this story after publication.")
    clock[0] += timedelta(hours=7)  # past revisit.every (6 h), within max_age (2 d)
    report, _fetcher, _ = _run(tmp_path, site, source, archive, now=lambda: clock[0])
    r = report.source("local")
    assert r.new_versions == 1
    assert len(archive.find(site.url(site.articles[0].path)).content.body) == 6  # type: ignore[union-attr]
    assert r.unchanged >= 1  # the other young articles answered 304


def test_max_pages_bounds_a_run_and_the_next_run_continues(tmp_path: Path) -> None:
    site = NewsSite.with_articles(60)
    archive = FakeArchive(tmp_path / "data")
    report, fetcher, _ = _run(tmp_path, site, _source(), archive, max_pages=20)
    assert len(fetcher.requests) == 20
    assert report.source("local").queued > 0
    for _ in range(10):
        report, _, _ = _run(tmp_path, site, _source(), archive, max_pages=40)
        if report.source("local").queued == 0:
            break
    assert len(archive.records) == 60


def test_trap_bounded_even_with_a_huge_depth(tmp_path: Path) -> None:
    site = NewsSite.with_articles(6)
    report, fetcher, _ = _run(tmp_path, site, _source(max_depth=500), max_pages=5000)
    calendar = [p for p in fetcher.requests if p.startswith("/calendar/")]
    pages = [p for p in fetcher.requests if "page=" in p]
    assert 0 < len(calendar) <= 50
    assert 0 < len(pages) <= 2 * 50
    assert report.source("local").queued == 0


def test_unreachable_source_fails_entirely_with_one_line(tmp_path: Path) -> None:
    site = NewsSite.with_articles(3)
    report, _, _ = _run(tmp_path, FakeFetcher(site, down=True), _source(sections=(), home=None))
    r = report.source("local")
    assert r.status is SourceStatus.FAILED
    assert r.error is not None
    assert "\n" not in r.error
    assert r.error.startswith(f"local: could not reach {BASE}/rss.xml: connection refused")
    assert report.exit_code == 1
    assert any(line == r.error for line in format_report(report))


def test_a_held_lock_skips_the_source(tmp_path: Path) -> None:
    site = NewsSite.with_articles(3)
    with SourceLock(tmp_path / "data" / "locks", "local") as lock:
        assert lock.acquire()
        report, fetcher, _ = _run(tmp_path, site, _source())
    assert report.source("local").status is SourceStatus.BUSY
    assert fetcher.requests == []
    assert report.exit_code == 0


def test_dry_run_lists_articles_and_writes_nothing(tmp_path: Path) -> None:
    site = NewsSite.with_articles(12)
    report, fetcher, archive = _run(tmp_path, site, _source(), dry_run=True)
    r = report.source("local")
    # robots.txt is the fetcher's business: a dry run lists what it would ask the fetcher for
    listed = {url_key(u) for u in r.would_fetch}
    assert listed - {url_key(site.url(a.path)) for a in site.articles} == {
        url_key(site.url("/private/secret-plans-of-the-council-revealed"))
    }
    assert len(r.would_fetch) == len(site.articles) + 1
    assert not [p for p in fetcher.requests if p.startswith("/news/")]
    assert archive.records == {}
    assert not archive.catalog_path.exists()


def test_bare_home_page_discovers_feed_and_robots_sitemaps(tmp_path: Path) -> None:
    site = NewsSite.with_articles(60)
    source = _source(feeds=(), sitemaps=(), sections=(), max_depth=1)
    _report, fetcher, archive = _run(tmp_path, site, source)
    assert {"/robots.txt", "/rss.xml", "/sitemap_index.xml", "/sitemap-news.xml"} <= set(
        fetcher.requests
    )
    assert len(archive.records) == 60  # the sitemaps list every article


def test_stop_request_leaves_the_rest_queued(tmp_path: Path) -> None:
    site = NewsSite.with_articles(60)
    archive = FakeArchive(tmp_path / "data")
    fetched: list[int] = []

    def should_stop() -> bool:
        fetched.append(1)
        return len(fetched) > 5

    report, _fetcher, _ = _run(tmp_path, site, _source(), archive, should_stop=should_stop)
    r = report.source("local")
    assert r.status is SourceStatus.STOPPED
    assert r.queued > 0
    report, _, _ = _run(tmp_path, site, _source(), archive)
    assert len(archive.records) == 60


def test_pages_that_do_not_parse_are_failed_not_retried(tmp_path: Path) -> None:
    site = NewsSite.with_articles(6)
    broken = site.articles[0]
    site.articles[0] = replace(broken, paragraphs=[])
    archive = FakeArchive(tmp_path / "data")
    report, _, _ = _run(tmp_path, site, _source(), archive)
    assert report.source("local").failed["not an article"] == 1
    report, fetcher, _ = _run(tmp_path, site, _source(), archive)
    assert broken.path not in fetcher.requests


@pytest.mark.parametrize("kind", ["feeds", "sitemaps"])
def test_listing_that_is_not_xml_is_reported(tmp_path: Path, kind: str) -> None:
    site = NewsSite.with_articles(3)
    source = _source(**{kind: (BASE + "/world",)})
    report, _, _ = _run(tmp_path, site, source)
    assert report.source("local").failed["not a feed or sitemap"] == 1


class RobotsAwareFetcher(FakeFetcher):
    """A fetcher that hands out the Sitemap lines of the robots.txt it already holds."""

    async def sitemaps(self, url: str) -> list[str]:
        return robots_sitemaps(self.site.robots(), url)


def test_robots_sitemaps_come_from_the_fetcher_when_it_offers_them(tmp_path: Path) -> None:
    site = NewsSite.with_articles(20)
    source = _source(feeds=(), sitemaps=(), sections=(), max_depth=1)
    _, fetcher, archive = _run(tmp_path, RobotsAwareFetcher(site), source)
    assert "/robots.txt" not in fetcher.requests
    assert "/sitemap_index.xml" in fetcher.requests
    assert len(archive.records) == 20


def test_a_small_budget_goes_to_articles_before_navigation_pages(tmp_path: Path) -> None:
    site = NewsSite.with_articles(60)
    _, fetcher, archive = _run(tmp_path, site, _source(max_depth=3), max_pages=40)
    navigation = [
        p for p in fetcher.requests if "page=" in p or p.startswith(("/calendar", "/tag"))
    ]
    assert navigation == []
    assert len(archive.records) == 40 - 8  # the budget less 6 start points and 2 sitemaps
