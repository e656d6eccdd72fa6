"""The cluster's shared robots.txt cache, and a dead worker's frontier leases expire."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.hostlease_pg import ClusterRobots


@pytest.fixture
def catalog(pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


def test_robots_txt_is_shared_until_it_expires(catalog: PgCatalog) -> None:
    one, two = ClusterRobots(catalog.pool), ClusterRobots(catalog.pool)
    assert two.get("http://a.example") is None
    one.put("http://a.example", 200, b"User-agent: *\nCrawl-delay: 1\n", ttl=0.3)
    assert two.get("http://a.example") == (200, b"User-agent: *\nCrawl-delay: 1\n")
    time.sleep(0.35)
    assert two.get("http://a.example") is None


def test_a_robots_txt_fetch_is_claimed_by_one_worker_of_two_asking_at_once(
    catalog: PgCatalog,
) -> None:
    """Two workers miss the cache the same instant: the second's claim waits on the first's
    row, and finds it claimed (before: it claimed the fetch too, and both fetched the file)."""
    import threading

    import psycopg

    with psycopg.connect(catalog.url) as first:  # the first worker, its claim not committed
        first.execute(
            "INSERT INTO cluster_robots VALUES ('http://a.example', -1, '',"
            " extract(epoch FROM clock_timestamp())::double precision + 15)"
        )
        answer: list[object] = []
        second = threading.Thread(
            target=lambda: answer.append(
                ClusterRobots(catalog.pool).get("http://a.example", claim_for=15.0)
            )
        )
        second.start()
        time.sleep(0.3)  # the second one's claim waits on the first one's row
        first.commit()
    second.join(10)
    assert len(answer) == 1
    assert isinstance(answer[0], float)  # not None: it is the first one's to fetch
    assert ClusterRobots(catalog.pool).get("http://a.example", claim_for=15.0) == 0.2


def test_the_holder_of_a_host_takes_over_a_stale_claim_on_its_robots_txt(
    catalog: PgCatalog,
) -> None:
    """A worker that claimed a robots.txt fetch and stalled (or died) before storing the file
    kept the others waiting for the claim's whole length (15 s): the worker that took its host
    over waited that long before its first request to the host. The host's holder is the only
    one sending to it, so it takes the claim over at once; a cached file is still used."""
    stalled, holder = ClusterRobots(catalog.pool), ClusterRobots(catalog.pool)
    assert stalled.get("http://a.example", claim_for=15.0) is None  # then it stalls
    assert holder.get("http://a.example", claim_for=15.0) == 0.2  # not holding the host
    assert holder.get("http://a.example", claim_for=15.0, take=True) is None  # holding it
    holder.put("http://a.example", 200, b"User-agent: *\n", ttl=60.0)
    assert holder.get("http://a.example", claim_for=15.0, take=True) == (200, b"User-agent: *\n")


def test_frontier_leases_of_a_dead_worker_expire(catalog: PgCatalog) -> None:
    from archive.backends.frontier import Entry, Kind, State

    catalog.frontier_lease_ttl = 0.3
    with catalog.open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry(f"https://e.org/s-{i}", Kind.ARTICLE, 1) for i in range(3)],
            now=0.0,
            refresh_after=1e9,
        )
        taken = f.lease("s", 2)  # a worker that dies now
        # a second worker joining the run does not take the live leases back
        f.begin_run("s", now=1.0, starts=[])
        (mine,) = f.lease("s", 5)
        assert mine.key == "https://e.org/s-2"
        f.finish("s", mine.key, state=State.DONE, now=2.0, outcome="new")
        time.sleep(0.35)
        assert sorted(i.key for i in f.lease("s", 5)) == sorted(i.key for i in taken)


def test_a_workers_robots_cache_takes_over_the_claim_only_for_a_host_it_holds(
    catalog: PgCatalog,
) -> None:
    import asyncio

    from archive.backends.hostlease_pg import HostClaiming, HostClaims
    from scraper.cluster.politeness import PgRobotsCache

    claims = HostClaims("holder", 30.0)
    assert HostClaiming(catalog.pool, claims).claim("a.example") is None
    for origin in ("http://a.example", "http://b.example"):  # (b.example: held by nobody)
        assert ClusterRobots(catalog.pool).get(origin, claim_for=15.0) is None  # a stale claim
    cache = PgRobotsCache(ClusterRobots(catalog.pool), claims)

    async def get(origin: str, within: float) -> tuple[int, bytes] | str | None:
        try:
            return await asyncio.wait_for(cache.get(origin), within)
        except TimeoutError:
            return "still waiting"

    try:
        assert asyncio.run(get("http://a.example", 2.0)) is None  # at once: its to fetch
        assert asyncio.run(get("http://b.example", 1.0)) == "still waiting"  # the claim's
    finally:
        cache.close()
