"""A cluster crawl ends when its pages are done, not at its next periodic write of them.

A cluster worker holds its "done" marks and writes them every `finishes.FLUSH_EVERY` seconds.
With nothing in flight, a crawl asks whether URLs of its source are still leased (by other
workers, whose pages may list more); its own last URLs, marked but not written, counted too,
so the run's end waited for the next periodic write and a `JOINED_POLL` after it. Here the
periodic writes never come: the crawl must write its own marks and end.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Item, Kind, State
from archive.backends.frontier_pg import PgFrontier
from archive.record import RawPage, Stored
from scraper.config import Config
from scraper.crawl.finishes import HeldFinishes
from scraper.crawl.run import crawl_async
from scraper.crawl.source_crawl import IDLE_LEASE_MAX
from tests.cluster_support import feed_only_source
from tests.crawl_support import NewsSite
from tests.test_crawl_run import BASE, FakeArchive, FakeFetcher, fake_ingest

TTL = 60.0  # seconds a lease lives: no lease expires during the test


class PgFakeArchive(FakeArchive):
    def __init__(self, root: Path, catalog: PgCatalog) -> None:
        super().__init__(root)
        self.catalog = catalog

    def open_frontier(self, *, scratch: bool = False) -> PgFrontier:  # type: ignore[override]
        return PgFrontier(self.catalog.pool, lease_ttl=TTL)


async def _never(self: HeldFinishes, seconds: float = 0.0) -> None:
    await asyncio.Event().wait()


def test_a_crawl_whose_pages_are_done_ends_without_the_periodic_write(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(HeldFinishes, "flush_every", _never)
    site = NewsSite.with_articles(3)
    source = feed_only_source(BASE)
    config = Config(data_dir=tmp_path / "data", sources=(source,))
    catalog = PgCatalog(pg_url, root=tmp_path / "w")
    shared = FakeArchive(tmp_path / "data")

    async def store(page: RawPage, *, source: str, rules: object = None) -> Stored:
        return fake_ingest(page, archive=shared, source=source, rules=rules)

    async def run() -> None:
        crawl = crawl_async(
            config,
            [source],
            fetcher=FakeFetcher(site),
            archive=PgFakeArchive(tmp_path / "w", catalog),
            ingest=fake_ingest,  # type: ignore[arg-type]
            lock=False,  # a cluster worker's crawl
            store=store,
        )
        await asyncio.wait_for(crawl, 20.0)  # it waited for the write for ever (TTL here)

    try:
        asyncio.run(run())
        states = Counter(PgFrontier(catalog.pool, lease_ttl=TTL).states(source.name).values())
    finally:
        catalog.close()
    assert len(shared.records) == 3
    assert states == {State.DONE.value: 4}  # and the feed


class CountingFrontier(PgFrontier):
    leases = 0

    def lease(self, source: str, limit: int) -> list[Item]:
        self.leases += 1
        return super().lease(source, limit)


def test_an_idle_crawl_spaces_out_its_leases_and_takes_what_is_given_back(
    tmp_path: Path, pg_url: str
) -> None:
    """A crawl that joined a run whose URLs another crawler holds leases at growing
    intervals (it leased every `JOINED_POLL`), and takes what is given back within the
    longest of them (its look for the run's end keeps the `JOINED_POLL` pace)."""
    site = NewsSite.with_articles(2)
    source = feed_only_source(BASE)
    config = Config(data_dir=tmp_path / "data", sources=(source,))
    catalog = PgCatalog(pg_url, root=tmp_path / "w")
    other = PgFrontier(catalog.pool, lease_ttl=TTL)  # the crawler that began the run
    other.begin_run(source.name, now=time.time(), starts=[(BASE + "/rss.xml", Kind.FEED)])
    [feed] = other.lease(source.name, 10)
    idle = CountingFrontier(catalog.pool, lease_ttl=TTL)
    archive = PgFakeArchive(tmp_path / "w", catalog)
    archive.open_frontier = lambda *, scratch=False: idle  # type: ignore[method-assign]
    shared = FakeArchive(tmp_path / "data")

    async def store(page: RawPage, *, source: str, rules: object = None) -> Stored:
        return fake_ingest(page, archive=shared, source=source, rules=rules)

    async def run() -> tuple[int, float]:
        crawl = asyncio.ensure_future(
            crawl_async(
                config,
                [source],
                fetcher=FakeFetcher(site),
                archive=archive,
                ingest=fake_ingest,  # type: ignore[arg-type]
                lock=False,  # a cluster worker's crawl
                store=store,
            )
        )
        await asyncio.sleep(4.0)  # the other holds the feed
        idle_leases = idle.leases
        other.release(source.name, [feed.key])  # given back: the idle crawl takes it
        given = time.monotonic()
        while not shared.records:
            await asyncio.sleep(0.01)
        taken = time.monotonic() - given
        await asyncio.wait_for(crawl, 20.0)
        return idle_leases, taken

    try:
        idle_leases, taken = asyncio.run(run())
        states = Counter(idle.states(source.name).values())
    finally:
        catalog.close()
    # 0, 0.2, 0.6, 1.4, 2.2, 3.0, 3.8 s; every 0.2 s it was 20 (more than 10 on a busy machine)
    assert idle_leases <= 8, idle_leases
    assert taken < IDLE_LEASE_MAX + 1.0
    assert len(shared.records) == 2
    assert states == {State.DONE.value: 3}
