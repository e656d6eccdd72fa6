"""A source's run shared by several cluster crawlers gets one label, merged from all of theirs.

`frontier_runs` keeps one row per source, and each crawler's `end_run` wrote its own label
there: the last to end labelled the run, so a worker that ended "ok" after another stopped
with work left made the run "ok". Now each crawler's part is kept apart and the run is
labelled when the last live one ends (`frontier.merged_status`); the `/sources` page, the
schedule and `last_run` read that row. A run whose killed crawler still counted as going when
the others ended is labelled by the first cluster reader once that crawler counts as dead.
"""

from __future__ import annotations

import time

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import LOST, Entry, Kind, State, merged_status
from archive.backends.frontier_pg import PgFrontier

TTL = 60.0  # seconds a lease lives: none expires unless a test says so


def crawlers(
    pg_catalog: PgCatalog, run_source: str, n: int = 2, articles: int = 3
) -> list[PgFrontier]:
    """`n` crawlers of one run of `run_source` (the first begins it, the others join it), with
    `articles` URLs queued."""
    them = [PgFrontier(pg_catalog.pool, lease_ttl=TTL) for _ in range(n)]
    now = time.time()
    them[0].begin_run(run_source, now=now, starts=[])
    entries = [Entry(f"https://e.test/{run_source}/{i}", Kind.ARTICLE, 1) for i in range(articles)]
    them[0].add(run_source, entries, now=now, refresh_after=1e9)
    for other in them[1:]:
        other.begin_run(run_source, now=now, starts=[])
    return them


def fetch(frontier: PgFrontier, run_source: str, n: int) -> None:
    for item in frontier.lease(run_source, n):
        frontier.finish(run_source, item.key, state=State.DONE, now=time.time(), outcome="new")


def label(frontier: PgFrontier, run_source: str) -> str:
    run = frontier.last_run(run_source)
    assert run is not None
    return run[2]


def test_a_crawler_that_stopped_with_work_left_makes_the_run_stopped_though_another_ended_ok(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    first, second = crawlers(pg_catalog, run_source)
    fetch(first, run_source, 1)
    first.end_run(run_source, now=time.time(), status="stopped")  # SIGTERM: 2 left
    assert label(first, run_source) == "running"  # the other goes on
    fetch(second, run_source, 1)  # a page budget: 1 left
    second.end_run(run_source, now=time.time(), status="ok")
    run = first.last_run(run_source)
    assert run is not None
    assert run[1] is not None  # ended
    assert run[2] == "stopped"


def test_what_a_stopped_crawler_left_and_another_did_makes_the_run_ok(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    first, second = crawlers(pg_catalog, run_source)
    fetch(first, run_source, 1)
    first.end_run(run_source, now=time.time(), status="stopped")
    fetch(second, run_source, 5)
    second.end_run(run_source, now=time.time(), status="ok")
    assert label(second, run_source) == "ok"


def test_a_run_failed_only_when_every_crawler_failed(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    first, second = crawlers(pg_catalog, run_source)
    first.end_run(run_source, now=time.time(), status="failed")  # its start point was down
    second.end_run(run_source, now=time.time(), status="ok")
    assert label(first, run_source) == "ok"
    other = f"{run_source}-2"
    first, second = crawlers(pg_catalog, other)
    first.end_run(other, now=time.time(), status="failed")
    second.end_run(other, now=time.time(), status="failed")
    assert label(first, other) == "failed"


def test_a_dead_crawler_holds_the_run_open_until_its_leases_expire_then_counts_as_stopped(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    dead, alive = crawlers(pg_catalog, run_source)
    dead.lease(run_source, 1)  # then killed
    fetch(alive, run_source, 1)
    alive.end_run(run_source, now=time.time(), status="ok")
    assert label(alive, run_source) == "running"  # the dead one may be alive: its lease is
    with pg_catalog.pool.connection() as conn:  # ... a lease lifetime later
        conn.execute(
            "UPDATE frontier_urls SET leased_at = leased_at - %s WHERE source = %s",
            (2 * TTL, run_source),
        )
        conn.execute(
            "UPDATE frontier_run_crawlers SET seen = seen - %s WHERE source = %s",
            (2 * TTL, run_source),
        )
    late = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    late.begin_run(run_source, now=time.time(), starts=[])  # the dead worker's job, run again
    fetch(late, run_source, 1)
    late.end_run(run_source, now=time.time(), status="ok")  # one left
    assert label(late, run_source) == "stopped"


def expire(pg_catalog: PgCatalog, run_source: str, crawler: PgFrontier) -> None:
    """A lease lifetime passes since `crawler` (killed) was last seen alive: its URL
    leases, its part's start and the run's start move that far back."""
    back = 2 * TTL
    with pg_catalog.pool.connection() as conn:
        conn.execute(
            "UPDATE frontier_urls SET leased_at = leased_at - %s WHERE source = %s",
            (back, run_source),
        )
        conn.execute(
            "UPDATE frontier_run_crawlers SET seen = seen - %s WHERE source = %s AND crawler = %s",
            (back, run_source, crawler.holder),
        )
        conn.execute(
            "UPDATE frontier_runs SET started_at = started_at - %s WHERE source = %s",
            (back, run_source),
        )
        conn.execute(
            "UPDATE cluster_workers SET expires = expires - %s WHERE holder = %s",
            (back, crawler.holder),
        )


def test_a_run_whose_crawler_died_is_labelled_once_it_counts_as_dead_without_a_new_job(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    """Issue #13: the other crawler ended while the killed one still counted as going, so
    nobody ended the run; it said "running" until the source's next job."""
    dead, alive = crawlers(pg_catalog, run_source)
    dead.lease(run_source, 1)  # then killed
    fetch(alive, run_source, 1)
    ended = time.time()
    alive.end_run(run_source, now=ended, status="ok")
    assert label(alive, run_source) == "running"  # the dead one may be alive yet
    expire(pg_catalog, run_source, dead)
    run = alive.last_run(run_source)
    assert run is not None
    assert run[2] == "stopped"  # the dead one's URL and one more are left
    assert run[1] is not None
    assert run[1] >= ended
    with pg_catalog.pool.connection() as conn:
        conn.execute(
            "INSERT INTO archive_sources VALUES (%s, '2026-01-01T00:00:00Z')", (run_source,)
        )
    pg_catalog.frontier_lease_ttl = TTL
    try:
        [row] = [s for s in pg_catalog.sources() if s.name == run_source]
    finally:
        pg_catalog.frontier_lease_ttl = None
    assert (row.last_crawl_status, row.last_crawl_end) == ("stopped", run[1])


def test_the_sources_listing_labels_a_dead_crawlers_run_ok_when_nothing_is_left(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    dead, alive = crawlers(pg_catalog, run_source)  # the dead one killed before it leased
    fetch(alive, run_source, 5)
    alive.end_run(run_source, now=time.time(), status="ok")
    with pg_catalog.pool.connection() as conn:
        conn.execute(
            "INSERT INTO archive_sources VALUES (%s, '2026-01-01T00:00:00Z')", (run_source,)
        )
    pg_catalog.frontier_lease_ttl = TTL
    try:
        [row] = [s for s in pg_catalog.sources() if s.name == run_source]
        assert row.last_crawl_status == "running"  # begun within a lease lifetime
        expire(pg_catalog, run_source, dead)
        [row] = [s for s in pg_catalog.sources() if s.name == run_source]
    finally:
        pg_catalog.frontier_lease_ttl = None
    assert row.last_crawl_status == "ok"
    assert row.last_crawl_end is not None


def test_a_reader_without_the_lease_lifetime_labels_the_run_once_the_dead_heartbeat_expired(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    """The web server's and the scheduler's catalogs are not a worker's: no lease lifetime."""
    dead, alive = crawlers(pg_catalog, run_source)
    dead.lease(run_source, 1)
    with pg_catalog.pool.connection() as conn:  # its heartbeat, as a sticky-host lease writes it
        conn.execute(
            "INSERT INTO cluster_workers VALUES (%s, %s, extract(epoch FROM now()) + %s)",
            (dead.holder, run_source, TTL),
        )
        conn.execute(
            "INSERT INTO archive_sources VALUES (%s, '2026-01-01T00:00:00Z')", (run_source,)
        )
    fetch(alive, run_source, 1)
    alive.end_run(run_source, now=time.time(), status="ok")
    reader = PgFrontier(pg_catalog.pool)  # `morgue schedule`'s frontier
    assert label(reader, run_source) == "running"
    [row] = [s for s in pg_catalog.sources() if s.name == run_source]
    assert row.last_crawl_status == "running"
    expire(pg_catalog, run_source, dead)
    [row] = [s for s in pg_catalog.sources() if s.name == run_source]
    assert row.last_crawl_status == "stopped"
    assert row.last_crawl_end is not None
    assert label(reader, run_source) == "stopped"


def test_a_job_after_a_dead_crawlers_run_begins_a_new_run(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    dead, alive = crawlers(pg_catalog, run_source)
    dead.lease(run_source, 1)
    alive.end_run(run_source, now=time.time(), status="ok")
    expire(pg_catalog, run_source, dead)
    late = PgFrontier(pg_catalog.pool, lease_ttl=TTL)
    now = time.time()
    assert late.begin_run(run_source, now=now, starts=[]) == 3  # the dead one's URL queued again
    run = late.last_run(run_source)
    assert run is not None
    assert run == (now, None, "running")  # its own run


def test_one_crawl_at_a_time_forgets_the_parts_of_an_earlier_cluster_run(
    pg_catalog: PgCatalog, run_source: str
) -> None:
    """A cluster's reader would otherwise label the single crawl's run from them."""
    for dead in crawlers(pg_catalog, run_source):  # both killed
        expire(pg_catalog, run_source, dead)
    single = PgFrontier(pg_catalog.pool)
    single.begin_run(run_source, now=time.time(), starts=[])
    assert label(PgFrontier(pg_catalog.pool, lease_ttl=TTL), run_source) == "running"


def test_the_sources_page_reads_the_merged_label(pg_catalog: PgCatalog, run_source: str) -> None:
    first, second = crawlers(pg_catalog, run_source)
    first.end_run(run_source, now=time.time(), status="stopped")
    second.end_run(run_source, now=time.time(), status="ok")
    with pg_catalog.pool.connection() as conn:
        conn.execute(
            "INSERT INTO archive_sources VALUES (%s, '2026-01-01T00:00:00Z')", (run_source,)
        )
    [row] = [s for s in pg_catalog.sources() if s.name == run_source]
    assert row.last_crawl_status == "stopped"


def test_one_crawl_at_a_time_labels_its_run_itself(pg_catalog: PgCatalog, run_source: str) -> None:
    """Without lease lifetimes (`morgue crawl` on PostgreSQL, not a cluster): as on SQLite."""
    frontier = PgFrontier(pg_catalog.pool)
    frontier.begin_run(run_source, now=1.0, starts=[])
    frontier.end_run(run_source, now=2.0, status="stopped")
    assert frontier.last_run(run_source) == (1.0, 2.0, "stopped")


def test_merged_status() -> None:
    assert merged_status(["ok"], left=True) == "ok"  # a page budget
    assert merged_status(["stopped"], left=True) == "stopped"
    assert merged_status(["failed"], left=True) == "failed"
    assert merged_status(["ok", "stopped"], left=True) == "stopped"
    assert merged_status(["stopped", "ok"], left=False) == "ok"
    assert merged_status(["ok", LOST], left=True) == "stopped"
    assert merged_status(["failed", "ok"], left=True) == "ok"
    assert merged_status(["failed", "stopped"], left=True) == "stopped"
