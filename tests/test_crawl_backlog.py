"""A pooled crawl holds at most `backlog.MAX_PAGES` pages between their request and their
store, however many sources it crawls: each visit takes a ticket right before its first request
leaves (after its host's turn), and gives it back when it ends."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive
from scraper.crawl import SourceStatus, crawl
from scraper.crawl import run as crawl_run
from scraper.crawl.backlog import Backlog
from scraper.fetch import AsyncFetcher
from tests.crawl_support import NewsSite, SiteServer, site_config


def test_tickets_bound_the_visits_past_their_first_send_in_order() -> None:
    backlog = Backlog(limit=2)
    sent: list[int] = []
    most = 0

    async def visit(n: int) -> None:
        nonlocal most
        with backlog.visit():
            await backlog.before_send()
            await backlog.before_send()  # a second request of the visit: its own ticket
            sent.append(n)
            most = max(most, backlog.out)
            await asyncio.sleep(0.01)

    async def main() -> None:
        await asyncio.gather(*(visit(n) for n in range(7)))
        await backlog.before_send()  # outside a visit: never waits

    asyncio.run(main())
    assert sent == list(range(7))  # first asked, first served
    assert most == backlog.peak == 2
    assert backlog.out == 0


def test_a_cancelled_or_failed_visit_gives_its_ticket_back() -> None:
    backlog = Backlog(limit=1)

    async def failing() -> None:
        with backlog.visit():
            await backlog.before_send()
            raise ValueError("fetch failed")

    async def waiting() -> None:
        with backlog.visit():
            await backlog.before_send()
            await asyncio.sleep(10)

    async def main() -> None:
        with pytest.raises(ValueError, match="fetch failed"):
            await failing()
        assert backlog.out == 0
        holder = asyncio.ensure_future(waiting())
        queued = asyncio.ensure_future(waiting())
        await asyncio.sleep(0.01)
        assert backlog.out == 1
        queued.cancel()  # cancelled while waiting for a ticket: nothing taken
        holder.cancel()  # cancelled while holding one: given back
        await asyncio.gather(holder, queued, return_exceptions=True)
        assert backlog.out == 0
        with backlog.visit():
            await asyncio.wait_for(backlog.before_send(), 1)

    asyncio.run(main())


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(12, crawl_delay=0.01)) as served:
        yield served


def test_a_pooled_crawl_holds_no_more_pages_than_the_bound(
    site: NewsSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[Backlog] = []

    def one_ticket(*args: Any, **kwargs: Any) -> Backlog:
        made.append(Backlog(limit=1))
        return made[-1]

    monkeypatch.setattr(crawl_run, "Backlog", one_ticket)
    config = site_config(site.base, tmp_path / "data")
    with Archive.open(config.data_dir) as archive:
        fetcher = AsyncFetcher(config.fetch, config.politeness)
        report = crawl(config, fetcher=fetcher, archive=archive)
        stored = list(archive.iter_articles(source="local"))
    assert report.source("local").status is SourceStatus.OK
    assert len(stored) == 12
    # every request went through the tickets, never more than one page held at once
    assert len(made) == 1
    assert made[0].peak == 1
    assert made[0].out == 0
