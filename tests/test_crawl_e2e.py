"""End to end: the real AsyncFetcher, parser and Archive crawling the local news site over HTTP.

What the issue asks of a crawl, checked on what the server saw and what the archive holds:
every article archived exactly once, robots.txt Disallow and Crawl-delay obeyed, traps bounded,
a second crawl fetching only listings (conditionally) and new articles, an edited article
becoming version 2, and a crawl killed with SIGKILL resuming to the same archive as an
uninterrupted one.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scraper.config import Config
from scraper.crawl import CrawlReport, SourceStatus, crawl
from tests.crawl_support import NewsSite, SiteServer, make_article, site_config

# the fetcher and the archive are built on other branches; until both are merged, skip
Archive = pytest.importorskip("archive.store", reason="archive.store not merged yet").Archive
AsyncFetcher = pytest.importorskip(
    "scraper.fetch", reason="scraper.fetch not merged yet"
).AsyncFetcher

ROOT = Path(__file__).resolve().parent.parent
N = 45


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(N, crawl_delay=0.02)) as served:
        yield served


def _crawl(config: Config, archive: Any, **kw: object) -> CrawlReport:
    fetcher = AsyncFetcher(config.fetch, config.politeness)
    return crawl(config, fetcher=fetcher, archive=archive, **kw)  # type: ignore[arg-type]


def _snapshot(data: Path) -> dict[str, tuple[int, str, str]]:
    """url -> (versions, headline, body text) of every archived article."""
    with Archive.open(data) as archive:
        return {
            a.url.split("?")[0]: (
                len(archive.versions(a.id)),
                a.content.headline,
                a.content.text,
            )
            for a in archive.iter_articles(source="local")
        }


def test_first_crawl(site: NewsSite, tmp_path: Path) -> None:
    config = site_config(site.base, tmp_path / "data")
    with Archive.open(config.data_dir) as archive:
        report = _crawl(config, archive)
        stored = list(archive.iter_articles(source="local"))
    r = report.source("local")
    assert r.status is SourceStatus.OK, r
    # every article archived exactly once, each fetched once although linked many times
    assert len(stored) == N
    assert sorted(a.content.headline for a in stored) == sorted(a.headline for a in site.articles)
    hits = Counter(path.split("?")[0] for path in site.article_hits())
    assert set(hits) == {a.path for a in site.articles}
    assert set(hits.values()) == {1}
    assert r.new_articles == N
    # robots.txt: the disallowed article is never requested
    assert site.requested("/private/") == []
    assert r.skipped_robots >= 1
    # Crawl-delay 0.02 s: requests to the host never come closer together than that
    with site.lock:
        times = sorted(h.at for h in site.hits)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 0.02 * 0.9
    # the endless calendar and pagination stop within the depth limit
    assert 0 < len(site.requested("/calendar/")) <= 2
    assert len([p for p in site.requested("/") if "page=" in p]) <= 2


def test_second_crawl_is_conditional_and_fetches_only_new_articles(
    site: NewsSite, tmp_path: Path
) -> None:
    config = site_config(site.base, tmp_path / "data")
    with Archive.open(config.data_dir) as archive:
        _crawl(config, archive)
        site.reset_log()
        with site.lock:
            site.articles.append(make_article(N, when=datetime(2024, 7, 1, tzinfo=UTC)))
        report = _crawl(config, archive)
        assert len(list(archive.iter_articles(source="local"))) == N + 1
    assert site.article_hits() == [site.articles[-1].path]
    r = report.source("local")
    assert r.new_articles == 1
    with site.lock:
        listings = [h for h in site.hits if h.path.endswith((".xml", ".xml.gz"))]
    assert listings
    assert all("if-none-match" in h.headers for h in listings)
    assert r.not_modified >= 1  # the sitemap index did not change

    site.reset_log()  # nothing changed since: every start point answers 304, no article fetched
    with Archive.open(config.data_dir) as archive:
        report = _crawl(config, archive)
    with site.lock:
        statuses = {h.path: h.status for h in site.hits if h.path != "/robots.txt"}
    assert site.article_hits() == []
    assert set(statuses.values()) == {304}
    assert {"/rss.xml", "/atom.xml", "/sitemap-news.xml", "/world", "/"} <= set(statuses)
    assert report.source("local").fetched == len(statuses)


def test_changed_article_gets_version_2(site: NewsSite, tmp_path: Path) -> None:
    config = site_config(site.base, tmp_path / "data")
    edited = site.articles[-1]
    clock = [edited.published + timedelta(hours=1)]
    with Archive.open(config.data_dir) as archive:
        _crawl(config, archive, now=lambda: clock[0])
        site.rewrite(N - 1, seed=999)  # the story was rewritten: a new version, not a typo fix
        new_text = "\n\n".join(site.articles[-1].paragraphs)
        clock[0] += timedelta(hours=7)  # past revisit.every, within revisit.max_age
        report = _crawl(config, archive, now=lambda: clock[0])
        found = archive.find(site.url(edited.path))
        assert found is not None
        assert found.version == 2
        assert found.content.text == new_text
        assert len(archive.versions(found.id)) == 2
    assert report.source("local").new_versions == 1


def test_killed_crawl_resumes_to_the_same_archive(site: NewsSite, tmp_path: Path) -> None:
    site.article_delay = 0.03
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crawl_support", site.base, str(killed)], cwd=ROOT, env=env
    )
    deadline = time.monotonic() + 30
    while len(site.article_hits()) < N // 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    before = len(site.article_hits())
    assert 0 < before < N, "the crawl was not killed midway"

    config = site_config(site.base, killed)
    with Archive.open(killed) as archive:
        report = _crawl(config, archive)
    assert report.source("local").status is SourceStatus.OK
    hits = Counter(p.split("?")[0] for p in site.article_hits())
    refetched = [p for p, n in hits.items() if n > 1]
    # only pages in flight at the kill may be fetched again
    assert len(refetched) <= config.politeness.concurrency

    site.article_delay = 0.0
    straight = tmp_path / "straight"
    with Archive.open(straight) as archive:
        _crawl(site_config(site.base, straight), archive)
    assert _snapshot(killed) == _snapshot(straight)
    assert len(_snapshot(killed)) == N


def test_bare_home_page_finds_feed_and_sitemaps(site: NewsSite, tmp_path: Path) -> None:
    config = site_config(
        site.base, tmp_path / "data", feeds=(), sitemaps=(), sections=(), max_depth=1
    )
    with Archive.open(config.data_dir) as archive:
        report = _crawl(config, archive)
        assert len(list(archive.iter_articles(source="local"))) == N
    assert report.source("local").status is SourceStatus.OK
    assert {"/rss.xml", "/sitemap_index.xml", "/sitemap-news.xml"} <= set(site.requested())
    assert site.requested("/robots.txt") == ["/robots.txt"]  # the fetcher's copy is reused
