"""Cluster crawls renew the frontier leases of the URLs they hold.

A cluster's frontier hands a URL whose lease expired to another crawler (a dead worker's URLs
must not stay held). A live crawler can hold a URL longer than a lease's lifetime: its pages
wait for their host's turns, and with many URLs of one host leased together the last waits
many delays. Two crawls share one PostgreSQL frontier here, in one event loop, with a lease
lifetime shorter than the time their leased pages wait; each page must be fetched once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Entry, Kind, State
from archive.backends.frontier_pg import PgFrontier
from archive.record import RawPage, Stored, Validators
from scraper.config import Config
from scraper.crawl.run import crawl_async
from tests.cluster_support import feed_only_source
from tests.crawl_support import NewsSite
from tests.test_crawl_run import BASE, FakeArchive, FakeFetcher, fake_ingest

TTL = 0.5  # seconds a lease lives unless renewed
FETCH = 0.4  # seconds each article takes to fetch: a crawl's third one waits past TTL
ARTICLES = 10


class SlowFetcher(FakeFetcher):
    """A slow host: every article takes FETCH seconds; all fetchers log to one list."""

    def __init__(self, site: NewsSite, requests: list[str]) -> None:
        super().__init__(site)
        self.requests = requests

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        if "/news/" in url:
            await asyncio.sleep(FETCH)
        return await super().fetch(url, validators=validators, accept=accept)


class PgFakeArchive(FakeArchive):
    """The fake archive, with a cluster's frontier: PostgreSQL, leases that expire."""

    def __init__(self, root: Path, catalog: PgCatalog) -> None:
        super().__init__(root)
        self.catalog = catalog

    def open_frontier(self, *, scratch: bool = False) -> PgFrontier:  # type: ignore[override]
        return PgFrontier(self.catalog.pool, lease_ttl=TTL)


def test_urls_held_past_a_lease_lifetime_are_fetched_once(tmp_path: Path, pg_url: str) -> None:
    site = NewsSite.with_articles(ARTICLES)
    source = feed_only_source(BASE)
    config = Config(data_dir=tmp_path / "data", sources=(source,))
    requests: list[str] = []
    catalogs = [PgCatalog(pg_url, root=tmp_path / f"w{n}") for n in range(2)]  # two workers
    shared = FakeArchive(tmp_path / "data")  # what was stored, by either

    async def store(page: RawPage, *, source: str, rules: object = None) -> Stored:
        return fake_ingest(page, archive=shared, source=source, rules=rules)

    async def both() -> None:
        await asyncio.gather(
            *(
                crawl_async(
                    config,
                    [source],
                    fetcher=SlowFetcher(site, requests),
                    archive=PgFakeArchive(tmp_path / f"w{n}", catalog),
                    ingest=fake_ingest,  # type: ignore[arg-type]
                    lock=False,  # cluster workers share the run
                    store=store,
                )
                for n, catalog in enumerate(catalogs)
            )
        )

    try:
        asyncio.run(both())
        frontier = PgFrontier(catalogs[0].pool, lease_ttl=TTL)
        states = Counter(frontier.states(source.name).values())
    finally:
        for catalog in catalogs:
            catalog.close()
    articles = Counter(path for path in requests if path.startswith("/news/"))
    assert len(articles) == ARTICLES
    assert set(articles.values()) == {1}, articles.most_common(3)
    assert len(shared.records) == ARTICLES
    assert states == {State.DONE.value: ARTICLES + 1}  # and the feed


def test_renew_restarts_a_lease_lifetime_only_for_urls_still_leased(
    tmp_path: Path, pg_url: str
) -> None:
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        mine, other = (PgFrontier(catalog.pool, lease_ttl=TTL) for _ in range(2))
        mine.begin_run("s", now=0.0, starts=[])
        entries = [Entry(f"https://e.org/story-{n}", Kind.ARTICLE, 1) for n in range(3)]
        mine.add("s", entries, now=0.0, refresh_after=86400.0)
        held, done, dropped = mine.lease("s", 3)
        mine.finish("s", done.key, state=State.DONE, now=1.0, outcome="new")
        for _ in range(4):  # twice the lifetime, renewed (but not `dropped`) a few times over
            asyncio.run(asyncio.sleep(TTL / 2))
            mine.renew("s", [held.key, done.key])
        assert [item.key for item in other.lease("s", 3)] == [dropped.key]  # expired
        assert mine.states("s")[done.key] == State.DONE.value  # a renewal leases nothing
    finally:
        catalog.close()
