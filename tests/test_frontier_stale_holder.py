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

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Entry, Item, Kind, State
from archive.backends.frontier_pg import PgFrontier
from archive.backends.frontier_sqlite import Finish

TTL = 60.0  # seconds a lease lives: it expires here only when a test ages it


def expire(pg_catalog: PgCatalog, run_source: str) -> None:
    """Age every lease of `run_source` past its lifetime."""
    with pg_catalog.pool.connection() as conn:
        conn.execute(
            "UPDATE frontier_urls SET leased_at = leased_at - %s WHERE source = %s",
            (2 * TTL, run_source),
        )


def leased_one(pg_catalog: PgCatalog, run_source: str) -> tuple[PgFrontier, Item]:
    """(a crawler that began a run of `run_source`, the one URL queued, which it leased)."""
    frontier = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    frontier.begin_run(run_source, now=time.time(), starts=[])
    frontier.add(
        run_source,
        [Entry(f"https://e.test/{run_source}", Kind.ARTICLE, 1)],
        now=0.0,
        refresh_after=1e9,
    )
    [item] = frontier.lease(run_source, 1)
    return frontier, item


def taken_over(pg_catalog: PgCatalog, run_source: str) -> tuple[PgFrontier, PgFrontier, Item]:
    """(the stale crawler, the URL's holder now, the URL): the first leased it, its lease
    expired, the second leased it."""
    stale, item = leased_one(pg_catalog, run_source)
    holder = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    expire(pg_catalog, run_source)
    [again] = holder.lease(run_source, 1)
    assert again.key == item.key
    return stale, holder, item


def test_a_stale_crawler_does_not_queue_again_a_url_another_holds(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    stale, holder, item = taken_over(pg_catalog, run_source)
    stale.release(run_source, [item.key])  # its crawl stopped before starting it
    third = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    assert third.lease(run_source, 1) == []  # it was queued, and leased a third time
    assert holder.states(run_source) == {item.key: State.LEASED.value}
    holder.release(run_source, [item.key])  # the holder's own release still works
    assert [i.key for i in third.lease(run_source, 1)] == [item.key]


@pytest.mark.parametrize("state", [State.RETRY, State.FAILED])
@pytest.mark.parametrize("many", [False, True])
def test_a_stale_crawlers_retry_or_failure_leaves_the_url_to_its_holder(
    pg_catalog: PgCatalog, run_source: str, state: State, many: bool
) -> None:
    stale, holder, item = taken_over(pg_catalog, run_source)
    if many:  # a cluster crawl's held marks
        stale.finish_many([Finish(run_source, item.key, state, time.time(), "timeout")])
    else:
        stale.finish(run_source, item.key, state=state, now=time.time(), outcome="timeout")
    assert holder.states(run_source) == {item.key: State.LEASED.value}
    holder.finish(run_source, item.key, state=State.DONE, now=time.time(), outcome="new")
    assert holder.states(run_source) == {item.key: State.DONE.value}


def test_a_stale_crawlers_failure_does_not_keep_a_url_queued_again_from_being_fetched(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    stale, item = leased_one(pg_catalog, run_source)
    expire(pg_catalog, run_source)
    joining = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    joining.begin_run(run_source, now=time.time(), starts=[])  # queues expired leases again
    stale.finish(run_source, item.key, state=State.RETRY, now=time.time(), outcome="timeout")
    assert [i.key for i in joining.lease(run_source, 1)] == [item.key]


def test_a_stale_crawlers_done_is_kept(pg_catalog: PgCatalog, run_source: str) -> None:
    """Its page is stored: the URL is done, and the holder's fetch under way (which finds
    the page unchanged) cannot turn that into a retry."""
    stale, holder, item = taken_over(pg_catalog, run_source)
    stale.finish_many([Finish(run_source, item.key, State.DONE, time.time(), "new")])
    assert holder.states(run_source) == {item.key: State.DONE.value}
    holder.finish(run_source, item.key, state=State.RETRY, now=time.time(), outcome="timeout")
    assert holder.states(run_source) == {item.key: State.DONE.value}


def test_a_stale_crawler_does_not_keep_another_crawlers_lease_alive(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    stale, _holder, item = taken_over(pg_catalog, run_source)  # then the holder dies
    expire(pg_catalog, run_source)
    stale.renew(run_source, [item.key])  # it still counts the URL among those it holds
    third = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    assert [i.key for i in third.lease(run_source, 1)] == [item.key]


def test_a_crawler_renews_its_own_leases(pg_catalog: PgCatalog, run_source: str) -> None:
    mine, item = leased_one(pg_catalog, run_source)
    expire(pg_catalog, run_source)
    mine.renew(run_source, [item.key])
    assert PgFrontier(pg_catalog.pool, lease_ttl=TTL).lease(run_source, 1) == []
    mine.release(run_source, [item.key])
    assert mine.states(run_source) == {item.key: State.QUEUED.value}


def test_one_crawl_at_a_time_acts_on_the_leases_of_a_frontier_opened_before(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    """Without lease lifetimes (one crawl at a time) a lease has no owner to check: a URL
    leased through one frontier is released through another, as on SQLite."""
    first = PgFrontier(pg_catalog.pool)
    first.begin_run(run_source, now=1.0, starts=[])
    first.add(
        run_source,
        [Entry(f"https://e.test/{run_source}", Kind.ARTICLE, 1)],
        now=1.0,
        refresh_after=1e9,
    )
    [item] = first.lease(run_source, 1)
    PgFrontier(pg_catalog.pool).release(run_source, [item.key])
    assert first.states(run_source) == {item.key: State.QUEUED.value}


def test_a_new_run_does_not_queue_again_a_start_point_a_live_crawler_holds(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    """A crawler that begins a new run while one of an earlier run goes on (that run began
    more than a lease's lifetime ago) queues the start points again, but not one the other
    is fetching: it was leased a second time."""
    feed = f"https://e.test/{run_source}/rss"
    earlier = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    earlier.begin_run(run_source, now=time.time() - 2 * TTL, starts=[(feed, Kind.FEED)])
    [item] = earlier.lease(run_source, 1)  # its lease is fresh
    later = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    later.begin_run(run_source, now=time.time(), starts=[(feed, Kind.FEED)])
    assert later.lease(run_source, 1) == []
    earlier.finish(run_source, item.key, state=State.DONE, now=time.time(), outcome="feed")
    assert later.states(run_source) == {item.key: State.DONE.value}
