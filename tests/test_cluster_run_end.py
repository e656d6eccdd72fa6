"""A cluster crawl ends when its pages are done, not at its next periodic write of them.

A cluster worker holds its "done" marks and writes them every `finishes.FLUSH_EVERY` seconds.
With nothing in flight, a crawl asks whether URLs of its source are still leased (by other
workers, whose pages may list more); its own last URLs, marked but not written, counted too,
so the run's end waited for the next periodic write and a `JOINED_POLL` after it. Here the
periodic writes never come: the crawl must write its own marks and end.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import State
from archive.backends.frontier_pg import PgFrontier
from archive.record import RawPage, Stored
from scraper.config import Config
from scraper.crawl.finishes import HeldFinishes
from scraper.crawl.run import crawl_async
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
