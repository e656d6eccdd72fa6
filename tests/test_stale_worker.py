"""A cluster worker that stalls past its leases' lifetime fetches none of its URLs afterwards.

A worker whose process stops running for a while (descheduled on a loaded machine, paused)
sends nothing meanwhile, and renews nothing: its host claims and URL leases expire, another
worker claims its hosts, leases its URLs again and fetches them. When the stalled worker runs
again, the URLs it held (leased ahead, or waiting for their host's turn) are no longer its
own, and a request for one would be the URL's second: its host gate refuses them
(`LeaseLost`), where it used to claim the host again once the other gave it back, and send
them. Nothing is lost either: what the other worker did not take is queued again.

Two real crawls (`crawl_async`, with the cluster's frontier, host claims and host gate), each
in a thread of its own with its own event loop, on one PostgreSQL frontier; the stall blocks
the first one's thread (its loop, its renewals: all of it).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import State
from archive.backends.frontier_pg import PgFrontier
from archive.backends.hostlease_pg import HostClaiming, HostClaims
from archive.record import RawPage, Stored, Validators
from scraper.cluster.politeness import StickyHostGate
from scraper.crawl.run import crawl_async
from scraper.errors import LeaseLost
from scraper.fetch.shared import LEASE, Lease
from tests import fetch_support
from tests.fetch_support import LocalSite, Reply, fetch_config, polite_config
from tests.test_crawl_run import FakeArchive, fake_ingest
from tests.test_host_rebalance import GateFetcher, Request, StickyArchive, many_hosts

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site

HOSTS = 4
PER_HOST = 6
TTL = 2.0  # leases and claims (renewed every TTL / 4)
STALL = TTL + 1.5  # seconds the stalled worker does nothing at all
DELAY = 1.0  # seconds between requests to one host
QUIET = 0.5  # seconds after a request ended when the stall begins (the marks are written)


@pytest.fixture
def catalog(pg_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


class StallingFetcher(GateFetcher):
    """A `GateFetcher` whose whole thread stops for STALL seconds, QUIET seconds after its
    `at`-th article request ended: with the host's delay longer than that, no request is on
    the wire then, and the pages fetched are stored and marked done (so another worker has
    nothing to fetch again but the URLs the stalled one held and had not sent)."""

    def __init__(self, *args: object, at: int, stalled: threading.Event) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.at = at
        self.stalled = stalled
        self.articles = 0

    def _stall(self) -> None:
        self.stalled.set()
        time.sleep(STALL)  # (blocking: the event loop, and all it runs, stop too)

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        try:
            return await super().fetch(url, validators=validators, accept=accept)
        finally:
            if "/news/" in url:
                self.articles += 1
                if self.articles == self.at:
                    asyncio.get_running_loop().call_later(QUIET, self._stall)


def test_a_stalled_worker_fetches_none_of_the_urls_another_took_over(
    tmp_path: Path, pg_url: str
) -> None:
    sites, config = many_hosts(tmp_path, HOSTS, PER_HOST, DELAY)
    names = ("stale", "other")
    catalogs = {n: PgCatalog(pg_url, root=tmp_path / n) for n in names}
    claims = {n: HostClaims(n, TTL) for n in names}
    gates = {n: StickyHostGate(HostClaiming(catalogs[n].pool, claims[n])) for n in names}
    archives = {n: StickyArchive(tmp_path / n, catalogs[n], claims[n]) for n in names}
    for archive in archives.values():
        archive.frontier.lease_ttl = TTL
    shared = FakeArchive(tmp_path / "data")
    log: list[Request] = []
    stalled = threading.Event()
    fetchers = {
        "stale": StallingFetcher(
            "stale", gates["stale"], sites, log, DELAY, at=2 * HOSTS, stalled=stalled
        ),
        "other": GateFetcher("other", gates["other"], sites, log, DELAY),
    }
    errors: list[BaseException] = []

    async def store(page: RawPage, *, source: str, rules: object = None) -> Stored:
        return fake_ingest(page, archive=shared, source=source, rules=rules)

    def crawler(name: str) -> None:
        async def run() -> None:
            try:
                await crawl_async(
                    config,
                    list(config.sources),
                    fetcher=fetchers[name],
                    archive=archives[name],
                    ingest=fake_ingest,  # type: ignore[arg-type]
                    lock=False,
                    store=store,
                )
            finally:
                gates[name].close()

        try:
            asyncio.run(run())
        except BaseException as exc:  # (reported by the test's thread)
            errors.append(exc)

    threads = {n: threading.Thread(target=crawler, args=(n,)) for n in names}
    try:
        threads["stale"].start()
        assert stalled.wait(30)  # it holds every host now, and URLs of each
        assert set(claims["stale"].hosts()) == set(sites)
        threads["other"].start()  # it takes the hosts over once their claims expired
        for thread in threads.values():
            thread.join(60)
            assert not thread.is_alive()
        assert not errors, errors
        states = Counter(PgFrontier(catalogs["other"].pool, lease_ttl=TTL).states("many").values())
    finally:
        for catalog in catalogs.values():
            catalog.close()

    articles = Counter((r.host, r.path) for r in log if r.path.startswith("/news/"))
    assert len(articles) == HOSTS * PER_HOST  # nothing lost
    assert set(articles.values()) == {1}, articles.most_common(3)  # nothing fetched twice
    assert states == {State.DONE.value: HOSTS * (PER_HOST + 1)}  # and the feeds
    by_worker = Counter(r.worker for r in log if r.path.startswith("/news/"))
    assert by_worker["stale"] > 0  # (it stalled mid-crawl)
    assert by_worker["other"] > 0


def test_a_request_under_a_lease_older_than_its_hosts_last_change_of_hands_is_refused(
    catalog: PgCatalog,
) -> None:
    """The gate's part: a URL leased while its worker held the host is refused once another
    worker held the host since, even after that one gave it back (the host is free to claim
    again, and the URL may be done); a hold that merely lapsed, with no other holder
    meanwhile, keeps the URL this worker's."""
    ttl = 1.0
    stale = HostClaiming(catalog.pool, HostClaims("stale", ttl))
    other = HostClaiming(catalog.pool, HostClaims("other", ttl))

    async def request(host: str, granted: float, *, lease: bool = True) -> None:
        gate = StickyHostGate(stale)
        if lease:
            LEASE.set(Lease(f"http://{host}/news/1", host, granted))
        try:
            ticket = await gate.acquire(host, delay=0.0, per_host=1)
            await gate.release(ticket, delay=0.0)
        finally:
            gate._thread.shutdown(wait=False)

    # lapsed and claimed again by the same worker: still its URL
    assert stale.claim("a.test") is None
    granted = time.monotonic()
    time.sleep(ttl + 0.1)
    asyncio.run(request("a.test", granted))

    # lapsed, held by another worker, given back: not its URL any more
    assert stale.claim("b.test") is None
    granted = time.monotonic()
    time.sleep(ttl + 0.1)
    assert other.claim("b.test") is None
    assert other.release([("b.test", "many", 0.0, 0.0)], dry=False) == ["b.test"]
    with pytest.raises(LeaseLost):
        asyncio.run(request("b.test", granted))
    # a request with no lease (a redirect's host, robots.txt of a host not leased) goes
    asyncio.run(request("b.test", granted, lease=False))
    # a URL leased after the host came back is this worker's
    asyncio.run(request("b.test", time.monotonic()))


class LapsedGate:
    """A host gate whose grants have all lapsed by the time the request would go out (the
    process stalled between the grant and the write)."""

    def __init__(self) -> None:
        self.grants = 0

    async def acquire(self, host: str, *, delay: float, per_host: int) -> object:
        self.grants += 1
        return object()

    async def release(self, ticket: object, *, delay: float) -> None:
        return None

    def valid(self, ticket: object) -> bool:
        return False


def test_a_request_whose_grant_lapsed_before_it_was_written_is_not_sent(
    local_site: LocalSite,
) -> None:
    """A worker stopped (SIGSTOP) between its host gate's grant and the request's write wrote
    it once it ran again, after its claim on the host had lapsed: next to the new holder's
    first request to the host (0.11 s apart, server-side). The fetcher asks the gate again as
    the request goes out, and sends nothing on a lapsed grant."""
    from scraper.errors import TransientFetchError
    from scraper.fetch import AsyncFetcher

    local_site.route("/a", Reply())
    gate = LapsedGate()

    async def fetch() -> None:
        async with AsyncFetcher(
            fetch_config(attempts=2, backoff_base=0.01, backoff_max=0.02),
            polite_config(robots=False),
            gate=gate,
        ) as fetcher:
            await fetcher.fetch(local_site.url("/a"))

    with pytest.raises(TransientFetchError):
        asyncio.run(fetch())
    assert gate.grants == 2  # each attempt waited for the host anew
    assert [hit.path for hit in local_site.log] == []
