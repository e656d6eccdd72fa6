"""The sources page's figures after a real crawl of the local news site: articles, versions,
the last crawl, robots.txt refusals, the next scheduled run, articles per day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import archive
from archive.store import Archive
from scraper.cli.support import AppContext
from scraper.crawl import crawl
from scraper.fetch import AsyncFetcher
from scraper.web.views import Views
from tests.crawl_support import NewsSite, SiteServer, site_config


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(8, crawl_delay=0.0)) as served:
        yield served


def test_sources_after_a_crawl(site: NewsSite, tmp_path: Path) -> None:
    config = site_config(site.base, tmp_path / "data")
    with Archive.open(config.data_dir) as arch:
        report = crawl(config, fetcher=AsyncFetcher(config.fetch, config.politeness), archive=arch)
    r = report.source("local")
    with archive.open(config.data_dir) as reader:
        (row,) = reader.sources()
        assert row["name"] == "local"
        assert row["articles"] == r.new_articles == 8
        assert row["versions"] == 8
        assert row["last_crawl"]["status"] == "ok"
        assert row["last_crawl"]["finished"] >= row["last_crawl"]["started"]
        assert row["robots_refusals"] == r.skipped_robots >= 1
        assert "robots" not in row["failures"]
        views = Views(reader, AppContext(config), today=lambda: datetime.now(UTC).date())
        data = views.sources(None)  # type: ignore[arg-type]
    (shown,) = data["sources"]
    assert shown["next_run"] > row["last_crawl"]["finished"]  # every 1h by default
    today = datetime.now(UTC).date().isoformat()
    assert shown["per_day"][-1] == {"day": today, "articles": 8}
    assert len(shown["per_day"]) == 90
