"""Sticky hosts are rebalanced: a crawler that arrives after every host was claimed gets a share.

A lease claims hosts up to a fair share: the hosts over the crawlers of the source that are
alive, those holding none yet included (each lease notes its crawler alive, migration 11). A
crawler over its share hands the surplus back: it starts no more URLs of those hosts, queues
again the ones it leased and did not start, and gives each host back once its last request
ended, with that request's start and end, so the next holder keeps the host's delay.

Three real crawls (`crawl_async`, with the cluster's frontier, host claims and host gate) run
in one event loop against one PostgreSQL frontier; the fetcher answers from in-memory sites
through each crawl's own host gate and logs every request.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from archive.backends.catalog_pg import PgCatalog
from archive.backends.frontier import Entry, Item, Kind, State
from archive.backends.frontier_pg import PgFrontier
from archive.backends.hostlease_pg import HostClaiming, HostClaims
from archive.errors import StorageError
from archive.record import RawPage, Stored, Validators
from scraper.cluster.politeness import StickyHostGate
from scraper.config import Config, PolitenessConfig
from scraper.crawl.held import HeldUrls
from scraper.crawl.report import SourceStatus
from scraper.crawl.run import crawl_async
from scraper.errors import BadStatus
from tests.crawl_support import NewsSite, site_source
from tests.test_crawl_run import FakeArchive, fake_ingest

HOSTS = 30  # the first two crawlers claim them all (16 and 14, or so)
PER_HOST = 8
DELAY = 0.3  # seconds between requests to one host
FETCH = 0.02  # seconds a request takes
TTL = 60.0  # leases and claims: none expires during the test
SLACK = 0.002  # float rounding of the times written back and read


@dataclass(frozen=True, slots=True)
class Request:
    worker: str
    host: str
    path: str
    start: float
    end: float


class GateFetcher:
    """Answers from the sites without sockets, each request through the crawl's host gate."""

    def __init__(
        self,
        name: str,
        gate: StickyHostGate,
        sites: dict[str, NewsSite],
        log: list[Request],
        delay: float = DELAY,
    ) -> None:
        self.name = name
        self.delay = delay
        self.gate = gate
        self.sites = sites
        self.log = log

    async def __aenter__(self) -> GateFetcher:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage:
        parts = urlsplit(url)
        host = parts.hostname or ""
        ticket = await self.gate.acquire(host, delay=self.delay, per_host=1)
        start = time.monotonic()
        try:
            await asyncio.sleep(FETCH)
            status, ctype, body = self.sites[host].respond(parts.path)
        finally:
            end = time.monotonic()
            await self.gate.release(ticket, delay=self.delay)
            self.log.append(Request(self.name, host, parts.path, start, end))
        if status != 200:
            raise BadStatus(url, status)
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        return RawPage(
            requested_url=url,
            final_url=url,
            status=status,
            headers=(("content-type", ctype), ("etag", etag)),
            body=body,
            fetched_at=datetime.now(UTC),
        )


class CountingFrontier(PgFrontier):
    leases = 0

    def lease(self, source: str, limit: int) -> list[Item]:
        self.leases += 1
        return super().lease(source, limit)


class StickyArchive(FakeArchive):
    """The fake archive with a cluster crawler's frontier: PostgreSQL, sticky hosts."""

    def __init__(self, root: Path, catalog: PgCatalog, claims: HostClaims) -> None:
        super().__init__(root)
        self.frontier = CountingFrontier(catalog.pool, lease_ttl=TTL)
        self.frontier.host_claims = claims

    def open_frontier(self, *, scratch: bool = False) -> PgFrontier:  # type: ignore[override]
        return self.frontier


def many_hosts(
    tmp_path: Path, hosts: int, per_host: int, delay: float
) -> tuple[dict[str, NewsSite], Config]:
    """`hosts` news sites (h0.test ...) of `per_host` articles each, and a config whose one
    source crawls all of them from their feeds (each site's links are judged from its base)."""
    sites = {
        f"h{n}.test": NewsSite.with_articles(per_host, first=n * per_host, crawl_delay=None)
        for n in range(hosts)
    }
    for name, site in sites.items():
        site.base = f"http://{name}"
    source = site_source(
        "http://h0.test",
        name="many",
        hosts=tuple(sites),
        home=None,
        feeds=tuple(site.url("/rss.xml") for site in sites.values()),
        sitemaps=(),
        sections=(),
        max_depth=1,
    )
    config = Config(
        data_dir=tmp_path / "data",
        sources=(source,),
        politeness=PolitenessConfig(delay=delay, concurrency=64, adaptive=False),
    )
    return sites, config


def held_hosts(catalog: PgCatalog) -> Counter[str]:
    with catalog.pool.connection() as conn:
        rows = conn.execute("SELECT holder FROM cluster_hosts WHERE holder IS NOT NULL").fetchall()
    return Counter(str(r[0]) for r in rows)


def test_a_late_crawler_gets_its_share_politely_and_nothing_is_fetched_twice(
    tmp_path: Path, pg_url: str
) -> None:
    sites, config = many_hosts(tmp_path, HOSTS, PER_HOST, DELAY)
    names = ("w1", "w2", "w3")
    catalogs = {n: PgCatalog(pg_url, root=tmp_path / n) for n in names}  # a pool each
    claims = {n: HostClaims(n, TTL) for n in names}
    gates = {n: StickyHostGate(HostClaiming(catalogs[n].pool, claims[n])) for n in names}
    shared = FakeArchive(tmp_path / "data")  # what was stored, by any of them
    log: list[Request] = []
    overlaps: list[tuple[float, set[str]]] = []
    # (seconds since it began, hosts it held, its leases so far)
    w3_hosts: list[tuple[float, int, int]] = []
    joined: list[float] = []

    async def store(page: RawPage, *, source: str, rules: object = None) -> Stored:
        return fake_ingest(page, archive=shared, source=source, rules=rules)

    archives = {n: StickyArchive(tmp_path / n, catalogs[n], claims[n]) for n in names}

    async def crawler(name: str) -> None:
        archive = archives[name]
        try:
            await crawl_async(
                config,
                list(config.sources),
                fetcher=GateFetcher(name, gates[name], sites, log),
                archive=archive,
                ingest=fake_ingest,  # type: ignore[arg-type]
                lock=False,  # cluster crawlers share the run
                store=store,
            )
        finally:
            gates[name].close()

    def views() -> dict[str, set[str]]:
        """The hosts each crawler may send to: held, and not on their way back (a host's
        release blocks its gate until it is committed, and the next holder notes its claim
        only after that)."""
        return {n: set(claims[n].hosts()) - set(gates[n]._releasing) for n in names}

    async def watch(done: asyncio.Event) -> None:
        while not done.is_set():
            seen = views()
            for a, b in itertools.combinations(names, 2):
                if seen[a] & seen[b]:
                    overlaps.append((time.monotonic(), seen[a] & seen[b]))
            if joined:
                w3 = (time.monotonic() - joined[0], len(seen["w3"]), archives["w3"].frontier.leases)
                w3_hosts.append(w3)
            await asyncio.sleep(0.02)

    async def late() -> None:
        # the third arrives once the first two hold every host
        deadline = time.monotonic() + 20
        while sum(held_hosts(catalogs["w1"]).values()) < HOSTS:
            assert time.monotonic() < deadline, held_hosts(catalogs["w1"])
            await asyncio.sleep(0.05)
        assert set(held_hosts(catalogs["w1"])) == {"w1", "w2"}
        joined.append(time.monotonic())
        await crawler("w3")

    async def run() -> None:
        done = asyncio.Event()
        watcher = asyncio.ensure_future(watch(done))
        await asyncio.wait_for(asyncio.gather(crawler("w1"), crawler("w2"), late()), 120)
        done.set()
        await watcher

    try:
        asyncio.run(run())
        states = Counter(PgFrontier(catalogs["w1"].pool, lease_ttl=TTL).states("many").values())
    finally:
        for catalog in catalogs.values():
            catalog.close()

    # the late crawler got its share (a third, less one for the rounding) within a few of
    # its leases, from hosts the others handed back
    share = [(t, leases) for t, n, leases in w3_hosts if n >= HOSTS // 3 - 1]
    assert share, max(n for _, n, _ in w3_hosts)
    assert share[0][1] <= 15, share[0]
    assert gates["w1"].handed_back + gates["w2"].handed_back >= HOSTS // 3 - 1
    # no host was held by two crawlers at once
    assert not overlaps, overlaps[:3]
    # every article fetched once, stored once, and its URL done
    articles = Counter((r.host, r.path) for r in log if r.path.startswith("/news/"))
    assert len(articles) == HOSTS * PER_HOST
    assert set(articles.values()) == {1}, articles.most_common(3)
    assert len(shared.records) == HOSTS * PER_HOST
    assert states == {State.DONE.value: HOSTS * (PER_HOST + 1)}  # and the feeds
    # the delay held at every hand-over: no request closer to the previous one to its host
    # (its start, or its end) than the delay, whoever sent them
    by_host: dict[str, list[Request]] = {}
    for r in sorted(log, key=lambda r: r.start):
        by_host.setdefault(r.host, []).append(r)
    handovers = 0
    for host, requests in by_host.items():
        for a, b in itertools.pairwise(requests):
            assert b.start - max(a.start, a.end) >= DELAY - SLACK, (host, a, b)
            handovers += a.worker != b.worker
    assert handovers >= HOSTS // 3 - 1
    assert {r.worker for r in log} == set(names)
    print(f"w3 got its share {share[0][0]:.2f} s after it began, in {share[0][1]} leases")


def holding_one_host(catalog: PgCatalog) -> tuple[PgFrontier, HostClaims, list[str]]:
    """Crawler w1 of source "s" holding h0.test with its three article URLs leased, unsent."""
    first = PgFrontier(catalog.pool, lease_ttl=TTL)
    claims = first.host_claims = HostClaims("w1", TTL)
    first.begin_run("s", now=0.0, starts=[])
    urls = [f"https://h0.test/news/{n}" for n in range(3)]
    first.add("s", [Entry(u, Kind.ARTICLE, 1) for u in urls], now=0.0, refresh_after=1e9)
    held = HeldUrls(per_host=1)
    held.add(first.kept("s", first.lease("s", 10)))
    assert len(held) == 3
    first.track_unsent("s", held)
    return first, claims, urls


class SlowRelease(HostClaiming):
    """A hand-back whose round trip is slow (a busy database): the run's end finds it in
    the gate's thread."""

    def release(self, hosts, *, dry, requeue=(), retire=False):  # type: ignore[no-untyped-def]
        if requeue and not retire:
            time.sleep(0.3)
        return super().release(hosts, dry=dry, requeue=requeue, retire=retire)


def test_urls_a_hand_back_queued_at_the_runs_end_are_not_queued_again_under_their_next_holder(
    tmp_path: Path, pg_url: str
) -> None:
    """The run's event loop ended (its tasks cancelled) while a hand-back was in the gate's
    thread: the gate's close queued that host's URLs a second time, after another crawler
    had leased them, so a third could lease and fetch them again."""
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        first, claims, urls = holding_one_host(catalog)
        gate = StickyHostGate(SlowRelease(catalog.pool, claims))
        now = time.monotonic()  # a share of none: the host goes back
        claims.note([], sent=now, received=now, complete=False, share=0)

        async def run_ends_during_a_hand_back() -> None:
            loop = asyncio.get_running_loop()
            hand_back = loop.create_task(gate._hand_back(loop))
            await asyncio.sleep(0.1)  # the host is on its way back, in the gate's thread
            hand_back.cancel()

        asyncio.run(run_ends_during_a_hand_back())
        second = PgFrontier(catalog.pool, lease_ttl=TTL)
        second.host_claims = HostClaims("w2", TTL)
        deadline = time.monotonic() + 5
        got: list[Item] = []
        while len(got) < 3:  # the hand-back commits; the next holder leases the URLs
            assert time.monotonic() < deadline, got
            got += second.lease("s", 10)
            time.sleep(0.05)
        gate.close()
        states = first.states("s")
    finally:
        catalog.close()
    assert sorted(item.url for item in got) == urls
    assert set(states.values()) == {State.LEASED.value}  # w2's, not queued for a third


def test_a_lease_that_claims_nothing_still_updates_the_fair_share(
    tmp_path: Path, pg_url: str
) -> None:
    """A crawler that holds no host and whose lease claims none (others hold them all) notes
    the fair share that lease found: it kept the share of an older lease, and handed back a
    host it then claimed for a redirect although it was under its share now."""
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        w1 = PgFrontier(catalog.pool, lease_ttl=TTL)
        claims = w1.host_claims = HostClaims("w1", TTL)
        w1.begin_run("s", now=0.0, starts=[])
        w1.add("s", [Entry("https://h0.test/news/0", Kind.ARTICLE, 1)], now=0.0, refresh_after=1e9)
        [item] = w1.lease("s", 10)  # alone: a share of the one host
        w1.finish("s", item.key, state=State.DONE, now=1.0, outcome="archived")
        claiming = HostClaiming(catalog.pool, claims)
        assert claiming.release([("h0.test", "s", 1.0, 1.0)], dry=True) == ["h0.test"]
        assert claims.hosts() == []
        hosts = [f"h{n}.test" for n in range(1, 7)]
        w1.add(
            "s",
            [Entry(f"https://{h}/news/0", Kind.ARTICLE, 1) for h in hosts],
            now=0.0,
            refresh_after=1e9,
        )
        w2 = HostClaiming(catalog.pool, HostClaims("w2", TTL))
        for host in hosts:  # another crawler holds every host with work
            assert w2.claim(host) is None
        assert w1.lease("s", 10) == []  # a share of 3 (6 hosts, 2 crawlers); none free
        for host in ("r1.test", "r2.test"):  # redirects: claimed outside a lease
            assert claiming.claim(host) is None
        handing_back = claims.to_hand_back()
    finally:
        catalog.close()
    assert handing_back == 0  # 2 held, under the share of 3 (it was 1: one went back)


class ShareOfNone(HostClaims):
    """Claims whose fair share drops to none once `shrink` is set: every host goes back."""

    shrink = False

    def note(self, rows, *, sent, received, source=None, complete=True, share=None):  # type: ignore[no-untyped-def]
        if self.shrink:
            share = 0
        super().note(
            rows, sent=sent, received=received, source=source, complete=complete, share=share
        )


class HandBackFails(HostClaiming):
    """A hand-back the database refuses (it is kept and tried again, or done at `close`)."""

    failed = False

    def release(self, hosts, *, dry, requeue=(), retire=False):  # type: ignore[no-untyped-def]
        if requeue and not retire:
            self.failed = True
            raise StorageError("host claims: the database went away")
        return super().release(hosts, dry=dry, requeue=requeue, retire=retire)


def test_a_stopped_run_whose_urls_are_on_their_way_back_is_labelled_stopped(
    tmp_path: Path, pg_url: str
) -> None:
    """A crawl stopped while a host it hands back still held URLs it withdrew: they are
    queued again only when its gate closes, after the run's end counted the queue, and the
    run was labelled "ok" although work was left."""
    site = NewsSite.with_articles(4, crawl_delay=None)
    site.base = "http://h0.test"
    source = site_source(
        site.base,
        name="one",
        hosts=("h0.test",),
        home=None,
        feeds=(site.url("/rss.xml"),),
        sitemaps=(),
        sections=(),
        max_depth=1,
    )
    config = Config(
        data_dir=tmp_path / "data",
        sources=(source,),
        politeness=PolitenessConfig(delay=DELAY, concurrency=8, adaptive=False),
    )
    catalog = PgCatalog(pg_url, root=tmp_path / "w")
    claims = ShareOfNone("w1", TTL)
    claiming = HandBackFails(catalog.pool, claims)
    gate = StickyHostGate(claiming)
    log: list[Request] = []

    class ShrinkAtFirstArticle(GateFetcher):
        async def fetch(
            self, url: str, *, validators: Validators | None = None, accept: str = "html"
        ) -> RawPage:
            if "/news/" in url and not claims.shrink:  # the others leased: all held here
                claims.shrink = True
                now = time.monotonic()
                claims.note([], sent=now, received=now, complete=False)
            return await super().fetch(url, validators=validators, accept=accept)

    async def run() -> SourceStatus:
        try:
            report = await asyncio.wait_for(
                crawl_async(
                    config,
                    [source],
                    fetcher=ShrinkAtFirstArticle("w1", gate, {"h0.test": site}, log),
                    archive=StickyArchive(tmp_path / "w", catalog, claims),
                    ingest=fake_ingest,  # type: ignore[arg-type]
                    should_stop=lambda: claiming.failed,  # SIGTERM, the hand-back pending
                    lock=False,
                ),
                30,
            )
        finally:
            gate.close()  # queues the withdrawn URLs again
        return report.sources[0].status

    try:
        status = asyncio.run(run())
        frontier = PgFrontier(catalog.pool, lease_ttl=TTL)
        run_row = frontier.last_run("one")
        states = Counter(frontier.states("one").values())
    finally:
        catalog.close()
    # those under way when the host was picked (on the wire, or waiting for its turn) were
    # fetched; the rest were withdrawn, and queued again
    fetched = len([r for r in log if r.path.startswith("/news/")])
    assert fetched < 4
    assert states == {State.DONE.value: 1 + fetched, State.QUEUED.value: 4 - fetched}
    assert run_row is not None
    assert run_row[2] == "stopped"
    assert status is SourceStatus.STOPPED


class AnswerLost(HostClaiming):
    """A hand-back that commits, and whose answer is lost once (the connection dropped after
    the commit): the gate takes it as failed and tries it again."""

    lost = False

    def release(self, hosts, *, dry, requeue=(), retire=False):  # type: ignore[no-untyped-def]
        released = super().release(hosts, dry=dry, requeue=requeue, retire=retire)
        if requeue and not retire and not self.lost:
            self.lost = True
            raise StorageError("host claims: server closed the connection unexpectedly")
        return released


def test_a_hand_back_tried_again_after_its_commit_does_not_requeue_the_next_holders_urls(
    tmp_path: Path, pg_url: str
) -> None:
    """A hand-back whose commit went through but whose answer was lost is tried again; by
    then the host's next holder has leased its URLs, which the second try queued again
    (URL leases had no owner): leased, and fetched, a second time."""
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        first, claims, urls = holding_one_host(catalog)
        claiming = AnswerLost(catalog.pool, claims)
        gate = StickyHostGate(claiming)
        now = time.monotonic()  # a share of none: the host goes back
        claims.note([], sent=now, received=now, complete=False, share=0)

        async def hand_back() -> None:
            await gate._hand_back(asyncio.get_running_loop())

        asyncio.run(hand_back())  # committed, then taken as failed
        assert claiming.lost
        second = PgFrontier(catalog.pool, lease_ttl=TTL)
        second.host_claims = HostClaims("w2", TTL)
        got = second.lease("s", 10)  # the host's next holder
        asyncio.run(hand_back())  # the first's second try
        again = second.lease("s", 10)  # (a crawler of the host: the next holder, or a third)
        gate.close()
        states = first.states("s")
    finally:
        catalog.close()
    assert sorted(item.url for item in got) == urls
    assert again == []
    assert set(states.values()) == {State.LEASED.value}  # w2's, not queued for a third
