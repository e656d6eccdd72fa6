"""Sticky hosts: a cluster worker claims hosts in PostgreSQL and paces them in memory.

Two workers never hold one host; a lease hands out only URLs of hosts its worker holds and
claims a few at a time; a host changes hands only after its holder gave it back or its claim
expired, and its next request then waits the host's delay from the later of the last activity
(written back) and the expiry.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Entry, Kind, State
from archive.backends.frontier_pg import CLAIM_ALONE_PAUSE, CLAIM_FEW, PgFrontier
from archive.backends.hostlease_pg import HostClaiming, HostClaims
from scraper.cluster.politeness import StickyHostGate

HOSTS = 3 * CLAIM_FEW
PER_HOST = 3


@pytest.fixture
def catalog(pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


def sticky(catalog: PgCatalog, holder: str, ttl: float = 30.0) -> PgFrontier:
    frontier = PgFrontier(catalog.pool, lease_ttl=ttl)
    frontier.host_claims = HostClaims(holder, ttl)
    return frontier


def queue_articles(frontier: PgFrontier, hosts: int = HOSTS, per_host: int = PER_HOST) -> None:
    frontier.begin_run("s", now=0.0, starts=[])
    entries = [
        Entry(f"https://h{h}.test/news/{n}", Kind.ARTICLE, 1)
        for h in range(hosts)
        for n in range(per_host)
    ]
    frontier.add("s", entries, now=0.0, refresh_after=1e9)


def holders(catalog: PgCatalog) -> dict[str, str]:
    with catalog.pool.connection() as conn:
        rows = conn.execute(
            "SELECT host, holder FROM cluster_hosts WHERE holder IS NOT NULL"
        ).fetchall()
    return {str(h): str(w) for h, w in rows}


def test_a_lease_hands_out_only_urls_of_hosts_it_holds_and_claims_a_few(
    catalog: PgCatalog,
) -> None:
    frontier = sticky(catalog, "w1")
    queue_articles(frontier)
    claims = frontier.host_claims
    assert claims is not None
    got = frontier.lease("s", 100)
    held = set(claims.hosts())
    assert len(held) == CLAIM_FEW  # not all the hosts at once
    assert {urlsplit(i.url).hostname for i in got} == held
    assert len(got) == CLAIM_FEW * PER_HOST
    assert set(holders(catalog)) == held


def test_a_lease_that_claimed_its_fill_says_to_claim_more_at_once_with_peers(
    catalog: PgCatalog,
) -> None:
    """A crawl leases again at once while its leases claim CLAIM_FEW hosts each under its
    share (at a run's start it waited a poll between claims: hosts started over a second);
    after a short pause while it is the only crawler known (its peers may be starting); not
    at its share."""
    alone = sticky(catalog, "w1")
    queue_articles(alone)
    alone.lease("s", 0)
    assert len(alone.host_claims.hosts()) == CLAIM_FEW  # type: ignore[union-attr]
    assert alone.claims_more("s") == CLAIM_ALONE_PAUSE  # the only crawler known
    other = sticky(catalog, "w2")
    other.lease("s", 0)
    assert other.claims_more("s") == 0.0  # a peer known: share 24 of 48, 16 held
    other.lease("s", 0)
    assert len(other.host_claims.hosts()) == HOSTS // 2  # type: ignore[union-attr]
    assert other.claims_more("s") is None  # at its share


def test_two_concurrent_claimers_never_hold_one_host(pg_url: str, tmp_path: Path) -> None:
    setup = PgCatalog(pg_url, root=tmp_path)
    try:
        queue_articles(sticky(setup, "setup"))
    finally:
        setup.close()
    leased: dict[str, list[str]] = {"w1": [], "w2": []}
    overlaps: list[set[str]] = []
    frontiers: dict[str, PgFrontier] = {}
    lock = threading.Lock()
    # both in the run before either leases on: under load one thread did all its leases
    # (claiming every host, 16 a lease) before the other had opened its pool
    started = threading.Barrier(2)

    def worker(name: str) -> None:
        cat = PgCatalog(pg_url, root=tmp_path)  # its own pool, as a process has
        try:
            frontier = frontiers[name] = sticky(cat, name)
            assert frontier.lease("s", 0) == []  # (claims hosts, leases no URL)
            started.wait(60)
            for _ in range(HOSTS * PER_HOST):
                for item in frontier.lease("s", 2):
                    with lock:
                        leased[name].append(item.url)
                    frontier.finish("s", item.key, state=State.DONE, now=1.0, outcome="new")
                with lock:
                    if len(frontiers) == 2:
                        a, b = (set(f.host_claims.hosts()) for f in frontiers.values())  # type: ignore[union-attr]
                        overlaps.append(a & b)
        finally:
            cat.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in leased]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    every = leased["w1"] + leased["w2"]
    assert Counter(every) == Counter({u: 1 for u in every})  # each URL once
    assert len(every) == HOSTS * PER_HOST
    hosts = {n: {urlsplit(u).hostname for u in urls} for n, urls in leased.items()}
    assert not hosts["w1"] & hosts["w2"]  # a host's URLs all went to one worker
    assert hosts["w1"]  # and both got a share
    assert hosts["w2"]
    assert all(not o for o in overlaps)


def test_a_host_is_taken_over_only_after_its_claim_expired_plus_the_delay(
    catalog: PgCatalog,
) -> None:
    ttl, delay = 1.0, 0.4
    old = HostClaiming(catalog.pool, HostClaims("old", ttl))
    new = HostClaiming(catalog.pool, HostClaims("new", ttl))
    sent = time.monotonic()
    assert old.claim("h.test") is None  # then it dies, holding the host
    assert old.claims.valid_until("h.test") == pytest.approx(
        sent + ttl - old.claims.margin, abs=0.05
    )
    wait = new.claim("h.test")
    assert wait is not None  # held: come back when the claim expires
    assert 0.5 < wait <= ttl

    async def first_request() -> float:
        gate = StickyHostGate(new)
        try:
            await gate.acquire("h.test", delay=delay, per_host=1)
            return time.monotonic()
        finally:
            gate._thread.shutdown(wait=False)

    started = asyncio.run(first_request())
    assert started >= sent + ttl + delay  # the old claim's expiry, then the delay
    assert started < sent + ttl + delay + 1.5  # (asking again at most a second apart)
    assert holders(catalog) == {"h.test": "new"}


def test_a_dry_host_given_back_goes_to_another_worker_after_its_last_end_plus_the_delay(
    catalog: PgCatalog,
) -> None:
    delay = 0.5
    first = HostClaiming(catalog.pool, HostClaims("first", 30.0))
    second = HostClaiming(catalog.pool, HostClaims("second", 30.0))

    async def one_request(claiming: HostClaiming) -> tuple[float, float]:
        gate = StickyHostGate(claiming)
        try:
            ticket = await gate.acquire("h.test", delay=delay, per_host=1)
            started = time.monotonic()
            await asyncio.sleep(0.2)  # the request
            await gate.release(ticket, delay=delay)
            return started, time.monotonic()
        finally:
            gate._thread.shutdown(wait=False)

    _, ended = asyncio.run(one_request(first))
    # no URL of it left: given back at once, with its last start and end
    assert first.release([("h.test", "s", 0.0, time.monotonic() - ended)], dry=True) == ["h.test"]
    assert first.claims.hosts() == []
    assert holders(catalog) == {}
    started, _ = asyncio.run(one_request(second))
    assert ended + delay <= started < ended + delay + 0.3  # not a claim's lifetime later


def test_a_host_with_urls_left_is_not_given_back_as_dry(catalog: PgCatalog) -> None:
    frontier = sticky(catalog, "w1")
    queue_articles(frontier, hosts=1, per_host=2)
    assert len(frontier.lease("s", 1)) == 1
    claiming = HostClaiming(catalog.pool, frontier.host_claims)  # type: ignore[arg-type]
    assert claiming.release([("h0.test", "s", 1.0, 1.0)], dry=True) == []
    assert holders(catalog) == {"h0.test": "w1"}


def test_a_lease_renews_the_claims_and_a_lapsed_claim_stops_the_sending(
    catalog: PgCatalog,
) -> None:
    frontier = sticky(catalog, "w1", ttl=2.0)
    queue_articles(frontier, hosts=1, per_host=3)
    claims = frontier.host_claims
    assert claims is not None
    frontier.lease("s", 1)
    first = claims.valid_until("h0.test")
    assert first is not None
    time.sleep(0.2)
    frontier.renew("s", [])
    renewed = claims.valid_until("h0.test")
    assert renewed is not None
    assert renewed >= first + 0.2
    # another worker took the host after the claim expired: the next renewal drops it here
    with catalog.pool.connection() as conn:
        conn.execute("UPDATE cluster_hosts SET holder = 'w2' WHERE host = 'h0.test'")
    frontier.renew("s", [])
    assert claims.valid_until("h0.test") is None


def test_a_crawler_holding_no_host_counts_in_the_fair_share_while_it_is_alive(
    catalog: PgCatalog,
) -> None:
    first, second, late = (sticky(catalog, n) for n in ("w1", "w2", "w3"))
    queue_articles(first)
    for _ in range(2):  # the first two claim every host between them
        first.lease("s", 1)
        second.lease("s", 1)
    assert set(holders(catalog).values()) == {"w1", "w2"}
    assert len(holders(catalog)) == HOSTS
    one, two = first.host_claims, second.host_claims
    assert one is not None
    assert two is not None
    assert one.to_hand_back() == two.to_hand_back() == 0  # at their share: keep them all
    assert late.lease("s", 10) == []  # nothing free: it holds none, but it is alive
    first.lease("s", 1)
    second.lease("s", 1)
    # a third each now: the surplus goes back
    assert one.to_hand_back() == len(one.hosts()) - HOSTS // 3
    assert two.to_hand_back() == len(two.hosts()) - HOSTS // 3
    assert one.to_hand_back() + two.to_hand_back() == HOSTS // 3
    # a crawler whose row expired (it died) counts no more; nor does one that ended
    with catalog.pool.connection() as conn:
        conn.execute("UPDATE cluster_workers SET expires = 0 WHERE holder = 'w3'")
    first.lease("s", 1)
    assert one.to_hand_back() == 0
    late.lease("s", 10)
    first.lease("s", 1)
    assert one.to_hand_back() > 0
    HostClaiming(catalog.pool, late.host_claims).release([], dry=False, retire=True)  # type: ignore[arg-type]
    first.lease("s", 1)
    assert one.to_hand_back() == 0


def test_a_crawlers_renewals_and_leases_at_once_never_deadlock(pg_url: str, tmp_path: Path) -> None:
    """A crawl renews its leases in one thread while it leases in another: both lock this
    crawler's host rows and its `cluster_workers` row, in one order (a lease's statement
    wrote its row last, and a renewal wrote it first: "deadlock detected" under load, a
    renewal lost)."""
    cat = PgCatalog(pg_url, root=tmp_path)
    try:
        frontier = sticky(cat, "w1")
        queue_articles(frontier, per_host=50)
        for _ in range(3):
            frontier.lease("s", 0)  # claims its hosts
        errors: list[Exception] = []
        stop = time.monotonic() + 4.0

        def loop(call) -> None:  # type: ignore[no-untyped-def]
            while time.monotonic() < stop and not errors:
                try:
                    call()
                except Exception as exc:
                    errors.append(exc)

        threads = [
            threading.Thread(target=loop, args=(lambda: frontier.lease("s", 0),)),
            threading.Thread(target=loop, args=(lambda: frontier.renew("s", []),)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
    finally:
        cat.close()
