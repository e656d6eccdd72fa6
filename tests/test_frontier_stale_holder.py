"""A cluster crawler whose lease on a URL expired, and went to another crawler, no longer acts
on that URL as its holder.

A URL's lease carries its holder (`frontier_urls.leased_by`). Before, `release`, a retry or
failure `finish` and `renew` acted on any leased row: a stale crawler (slow, or cut off from
the database for longer than a lease's lifetime) queued again a URL another crawler was
fetching (fetched a third time), took it from that crawler with its retry, or kept a dead
crawler's lease alive for as long as it lived. What a stale crawler stored is kept: its
"done" is written whoever holds the URL.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Entry, Item, Kind, State
from archive.backends.frontier_pg import PgFrontier
from archive.backends.frontier_sqlite import Finish

TTL = 60.0  # seconds a lease lives: it expires here only when a test ages it


@pytest.fixture(scope="module")
def catalog(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCatalog]:
    cat = PgCatalog(pg_module_url, root=tmp_path_factory.mktemp("w"))
    yield cat
    cat.close()


@pytest.fixture
def source() -> str:
    return f"s-{uuid.uuid4().hex[:8]}"  # the module's tests share a database


def expire(catalog: PgCatalog, source: str) -> None:
    """Age every lease of `source` past its lifetime."""
    with catalog.pool.connection() as conn:
        conn.execute(
            "UPDATE frontier_urls SET leased_at = leased_at - %s WHERE source = %s",
            (2 * TTL, source),
        )


def leased_one(catalog: PgCatalog, source: str) -> tuple[PgFrontier, Item]:
    """(a crawler that began a run of `source`, the one URL queued, which it leased)."""
    frontier = PgFrontier(catalog.pool, lease_ttl=TTL)
    frontier.begin_run(source, now=time.time(), starts=[])
    frontier.add(
        source, [Entry(f"https://e.test/{source}", Kind.ARTICLE, 1)], now=0.0, refresh_after=1e9
    )
    [item] = frontier.lease(source, 1)
    return frontier, item


def taken_over(catalog: PgCatalog, source: str) -> tuple[PgFrontier, PgFrontier, Item]:
    """(the stale crawler, the URL's holder now, the URL): the first leased it, its lease
    expired, the second leased it."""
    stale, item = leased_one(catalog, source)
    holder = PgFrontier(catalog.pool, lease_ttl=TTL)
    expire(catalog, source)
    [again] = holder.lease(source, 1)
    assert again.key == item.key
    return stale, holder, item


def test_a_stale_crawler_does_not_queue_again_a_url_another_holds(
    catalog: PgCatalog, source: str
) -> None:
    stale, holder, item = taken_over(catalog, source)
    stale.release(source, [item.key])  # its crawl stopped before starting it
    third = PgFrontier(catalog.pool, lease_ttl=TTL)
    assert third.lease(source, 1) == []  # it was queued, and leased a third time
    assert holder.states(source) == {item.key: State.LEASED.value}
    holder.release(source, [item.key])  # the holder's own release still works
    assert [i.key for i in third.lease(source, 1)] == [item.key]


@pytest.mark.parametrize("state", [State.RETRY, State.FAILED])
@pytest.mark.parametrize("many", [False, True])
def test_a_stale_crawlers_retry_or_failure_leaves_the_url_to_its_holder(
    catalog: PgCatalog, source: str, state: State, many: bool
) -> None:
    stale, holder, item = taken_over(catalog, source)
    if many:  # a cluster crawl's held marks
        stale.finish_many([Finish(source, item.key, state, time.time(), "timeout")])
    else:
        stale.finish(source, item.key, state=state, now=time.time(), outcome="timeout")
    assert holder.states(source) == {item.key: State.LEASED.value}
    holder.finish(source, item.key, state=State.DONE, now=time.time(), outcome="new")
    assert holder.states(source) == {item.key: State.DONE.value}


def test_a_stale_crawlers_failure_does_not_keep_a_url_queued_again_from_being_fetched(
    catalog: PgCatalog, source: str
) -> None:
    stale, item = leased_one(catalog, source)
    expire(catalog, source)
    joining = PgFrontier(catalog.pool, lease_ttl=TTL)
    joining.begin_run(source, now=time.time(), starts=[])  # queues expired leases again
    stale.finish(source, item.key, state=State.RETRY, now=time.time(), outcome="timeout")
    assert [i.key for i in joining.lease(source, 1)] == [item.key]


def test_a_stale_crawlers_done_is_kept(catalog: PgCatalog, source: str) -> None:
    """Its page is stored: the URL is done, and the holder's fetch under way (which finds
    the page unchanged) cannot turn that into a retry."""
    stale, holder, item = taken_over(catalog, source)
    stale.finish_many([Finish(source, item.key, State.DONE, time.time(), "new")])
    assert holder.states(source) == {item.key: State.DONE.value}
    holder.finish(source, item.key, state=State.RETRY, now=time.time(), outcome="timeout")
    assert holder.states(source) == {item.key: State.DONE.value}


def test_a_stale_crawler_does_not_keep_another_crawlers_lease_alive(
    catalog: PgCatalog, source: str
) -> None:
    stale, _holder, item = taken_over(catalog, source)  # then the holder dies
    expire(catalog, source)
    stale.renew(source, [item.key])  # it still counts the URL among those it holds
    third = PgFrontier(catalog.pool, lease_ttl=TTL)
    assert [i.key for i in third.lease(source, 1)] == [item.key]


def test_a_crawler_renews_its_own_leases(catalog: PgCatalog, source: str) -> None:
    mine, item = leased_one(catalog, source)
    expire(catalog, source)
    mine.renew(source, [item.key])
    assert PgFrontier(catalog.pool, lease_ttl=TTL).lease(source, 1) == []
    mine.release(source, [item.key])
    assert mine.states(source) == {item.key: State.QUEUED.value}


def test_one_crawl_at_a_time_acts_on_the_leases_of_a_frontier_opened_before(
    catalog: PgCatalog, source: str
) -> None:
    """Without lease lifetimes (one crawl at a time) a lease has no owner to check: a URL
    leased through one frontier is released through another, as on SQLite."""
    first = PgFrontier(catalog.pool)
    first.begin_run(source, now=1.0, starts=[])
    first.add(
        source, [Entry(f"https://e.test/{source}", Kind.ARTICLE, 1)], now=1.0, refresh_after=1e9
    )
    [item] = first.lease(source, 1)
    PgFrontier(catalog.pool).release(source, [item.key])
    assert first.states(source) == {item.key: State.QUEUED.value}


def test_a_new_run_does_not_queue_again_a_start_point_a_live_crawler_holds(
    catalog: PgCatalog, source: str
) -> None:
    """A crawler that begins a new run while one of an earlier run goes on (that run began
    more than a lease's lifetime ago) queues the start points again, but not one the other
    is fetching: it was leased a second time."""
    feed = f"https://e.test/{source}/rss"
    earlier = PgFrontier(catalog.pool, lease_ttl=TTL)
    earlier.begin_run(source, now=time.time() - 2 * TTL, starts=[(feed, Kind.FEED)])
    [item] = earlier.lease(source, 1)  # its lease is fresh
    later = PgFrontier(catalog.pool, lease_ttl=TTL)
    later.begin_run(source, now=time.time(), starts=[(feed, Kind.FEED)])
    assert later.lease(source, 1) == []
    earlier.finish(source, item.key, state=State.DONE, now=time.time(), outcome="feed")
    assert later.states(source) == {item.key: State.DONE.value}
