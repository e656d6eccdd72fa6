"""One source's part of a crawl run: lease URLs, fetch them, read what they list or link to.

`SourceCrawl.run()` takes the source's lock, queues its start points again in the frontier,
then keeps up to what its hosts take in flight: feeds and sitemaps are read for article URLs
(and child sitemaps), section pages and articles for links down to `max_depth`, article pages
go to `ingest`. Every URL's fate is committed to the frontier as soon as it is known, so a
killed run is resumed by the next one. A source none of whose start points could be fetched
"failed entirely"; its report carries one line saying why.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from archive.backends.frontier import (
    Entry,
    Frontier,
    HandsBackHosts,
    Item,
    Kind,
    RenewsLeases,
    Revisit,
    State,
)
from archive.backends.frontier_sqlite import Finish
from archive.errors import ArchiveError
from archive.record import Outcome, RawPage, Stored, Validators
from archive.urls import url_key
from scraper.config import Config, PolitenessConfig, Source
from scraper.crawl.backlog import Backlog
from scraper.crawl.classify import UrlPolicy, Verdict
from scraper.crawl.discover import (
    ListingKind,
    feed_links,
    page_hrefs,
    parse_date,
    parse_listing,
    robots_sitemaps,
)
from scraper.crawl.finishes import HeldFinishes
from scraper.crawl.held import HeldUrls
from scraper.crawl.lane import HandlingLane
from scraper.crawl.links import Followed, LinkJudge, followed
from scraper.crawl.lock import SourceLock
from scraper.crawl.ports import ArchiveLike, AsyncFetcherLike, AsyncIngest, Ingest
from scraper.crawl.report import SourceReport, SourceStatus
from scraper.crawl.workers import FollowAsk, IngestPool
from scraper.errors import (
    BadStatus,
    DisallowedByRobots,
    FetchError,
    HostParked,
    LeaseLost,
    NotAnArticle,
    ParseError,
    RobotsUnavailable,
    TransientFetchError,
)
from scraper.fetch.shared import LEASE, Lease

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[SourceReport, str, str], None]  # (report so far, url, what happened)
JOINED_POLL = 0.2  # seconds between looks while only other crawlers of the run hold URLs
# longest wait between the leases of a crawl with nothing in flight: from JOINED_POLL, it
# doubles while they grant nothing (others hold the URLs left, or their hosts)
IDLE_LEASE_MAX = 0.8
LEASE_AHEAD = 8  # URLs leased at once by a crawl of a source
HOLD_PLACES = 4  # leased URLs held at most, per fetch place (`workers`)
LISTING_THREADS = 4  # a cluster crawl's listings handled at once (frontier round trips)
RENEWALS_PER_TTL = 4  # a held URL's lease is renewed this often within its lifetime


@dataclass(frozen=True, slots=True)
class RunContext:
    """What every source of one run shares."""

    config: Config
    fetcher: AsyncFetcherLike
    archive: ArchiveLike
    frontier: Frontier
    ingest: Ingest
    max_pages: int | None
    dry_run: bool
    progress: Progress
    now: Callable[[], datetime]
    should_stop: Callable[[], bool]
    lock_dir: Path | None  # None: no source lock (cluster workers share a run)
    pool: IngestPool | None = None  # when set, article pages are ingested through it
    backlog: Backlog | None = None  # when set, each visit holds a ticket from its first send
    store: AsyncIngest | None = None  # when set, article pages are stored through it
    finishes: HeldFinishes | None = None  # when set, "done" marks wait for the group commit
    # page handlers take turns, so a burst of them cannot hold back hosts' due requests
    lane: HandlingLane = field(default_factory=HandlingLane)


def start_points(source: Source) -> list[tuple[str, Kind]]:
    """What a run of `source` starts from. A bare home page also gets its robots.txt read for
    Sitemap lines (its <link rel=alternate> feeds are found when the home page is fetched)."""
    points: list[tuple[str, Kind]] = [(u, Kind.FEED) for u in source.feeds]
    points += [(u, Kind.SITEMAP) for u in source.sitemaps]
    points += [(u, Kind.PAGE) for u in source.sections]
    if source.home:
        points.append((source.home, Kind.PAGE))
        if not source.feeds and not source.sitemaps:
            parts = urlsplit(source.home)
            points.append(
                (urlunsplit((parts.scheme, parts.netloc, "/robots.txt", "", "")), Kind.ROBOTS)
            )
    return list(dict.fromkeys(points))


_ACCEPT = {
    Kind.ARTICLE: "html",
    Kind.PAGE: "html",
    Kind.FEED: "feed",
    Kind.SITEMAP: "feed",
    Kind.ROBOTS: "any",
}


def failure_reason(exc: Exception) -> str:
    """A short, groupable reason for the report ("HTTP 404", "robots", "not an article")."""
    if isinstance(exc, BadStatus):
        return f"HTTP {exc.status}"
    if isinstance(exc, DisallowedByRobots):
        return "robots"
    if isinstance(exc, RobotsUnavailable):
        return "robots.txt unavailable"
    if isinstance(exc, NotAnArticle):
        return "not an article"
    if isinstance(exc, ParseError):
        return "parse error"
    if isinstance(exc, TransientFetchError | HostParked):
        return "unreachable"
    name = type(exc).__name__
    return "".join(" " + c.lower() if c.isupper() else c for c in name).strip()


@dataclass
class SourceCrawl:
    run_: RunContext
    source: Source
    report: SourceReport
    policy: UrlPolicy = field(init=False)
    links: LinkJudge = field(init=False)
    started: int = 0
    start_ok: int = 0
    start_error: str | None = None
    fatal: str | None = None

    def __post_init__(self) -> None:
        self.policy = UrlPolicy.for_source(self.source)
        self.links = LinkJudge(self.policy)
        # visits whose page went to the store threads (`RunContext.store`), and the event
        # that wakes the crawl loop when one does: its fetch's place is free
        self._storing: set[asyncio.Task[Any]] = set()
        self._handed = asyncio.Event()
        # leased URLs not started yet: per host, one asking for its next turn behind the
        # ones on the wire, the rest held back (they would only wait in the fetcher)
        self._held = HeldUrls(self._politeness().per_host + 1)
        # whether this crawl queued URLs since its last lease, and when a lease that found
        # fewer than it asked for may be tried again without that (`_loop`)
        self._queued_more = True
        self._lease_again_at = 0.0
        # when a crawl with nothing in flight leases next, and its wait after that one
        self._idle_lease_at = 0.0
        self._idle_wait = JOINED_POLL
        # a cluster's frontier and catalog take calls from any thread (a pool of
        # connections): listings are handled, and URLs leased, in a thread (see `_handle`)
        frontier = self.run_.frontier
        self._off_loop = isinstance(frontier, RenewsLeases) and frontier.lease_ttl is not None
        self._counting = threading.Lock()  # `report.discovered` from a handler's thread
        # a cluster crawl's leased URLs (sticky hosts): when each lease was granted, local
        # time, for the host gate's check that its host was held ever since (`LEASE`)
        self._granted: dict[str, float] = {}
        # their own threads, not the loop's shared pool, where the host leases' and robots.txt
        # cache's calls wait too (created by `_crawl`, gone when it ends)
        self._thread: ThreadPoolExecutor | None = None

    @property
    def name(self) -> str:
        return self.source.name

    def _now(self) -> float:
        return self.run_.now().timestamp()

    def _politeness(self) -> PolitenessConfig:
        return self.source.politeness or self.run_.config.politeness

    async def run(self) -> None:
        if self.run_.lock_dir is None:
            await self._crawl()
            return
        lock = SourceLock(self.run_.lock_dir, self.name)
        if not self.run_.dry_run and not lock.acquire():
            self.report.status = SourceStatus.BUSY
            self.report.error = (
                f"{self.name}: skipped, another crawl holds its lock ({lock.holder()})"
            )
            log.warning("%s", self.report.error)
            return
        try:
            await self._crawl()
        finally:
            lock.release()

    async def _crawl(self) -> None:
        frontier = self.run_.frontier
        revisit = Revisit(self.source.revisit.max_age, self.source.revisit.every)
        queued = frontier.begin_run(
            self.name, now=self._now(), starts=start_points(self.source), revisit=revisit
        )
        log.info("%s: %d URL(s) queued at start", self.name, queued)
        budget = self.run_.max_pages or self.source.max_pages
        # as many pages in flight as the source's hosts take at once, plus one ready to go:
        # more would only queue inside the fetcher, where waiting eats each URL's time budget
        politeness = self._politeness()
        hosts = max(1, len(self.policy.sites))
        workers = min(politeness.concurrency, politeness.per_host * hosts + 1)
        # ... and a place for each host's next request besides (`HeldUrls` starts per_host + 1
        # of a host): a request waiting for its host's turn is not on the wire (the fetcher
        # caps those at `concurrency`). With only `workers` places, at 200 hosts and 200
        # places the hosts that started two took the places of others, which then had no
        # request waiting when their turn came (idle for 0.1-0.4 s of each 1 s turn)
        workers = max(workers, min((politeness.per_host + 1) * hosts, 2 * workers))
        inflight: dict[asyncio.Task[None], Item] = {}
        # URLs leased but not started yet. A crawl leases a few ahead: a lease is a write
        # transaction, and with one page in flight per host it was one per page. Those not
        # started when the run stops are given back; a killed run's are requeued by the next
        # one's begin_run (a killed cluster worker's expire), as the ones in flight are.
        held = self._held
        if isinstance(frontier, HandsBackHosts):  # a cluster's gate hands hosts back from it
            frontier.track_unsent(self.name, held)
        keeper = None
        if isinstance(frontier, RenewsLeases) and frontier.lease_ttl:
            keeper = asyncio.ensure_future(self._keep_leases(frontier, held, inflight))
        if self._off_loop:
            self._thread = ThreadPoolExecutor(
                LISTING_THREADS, thread_name_prefix=f"crawl-{self.name}"
            )
        try:
            await self._loop(frontier, budget, workers, held, inflight)
        finally:
            if keeper is not None:
                keeper.cancel()
            if self._thread is not None:
                self._thread.shutdown(wait=False)

    async def _in_thread(self, call: Callable[[], T]) -> T:
        """`call()` in the crawl's thread (a cluster's: see `_off_loop`), else on the loop."""
        if self._thread is None:
            return call()
        return await asyncio.get_running_loop().run_in_executor(self._thread, call)

    async def _loop(
        self,
        frontier: Frontier,
        budget: int,
        workers: int,
        held: HeldUrls,
        inflight: dict[asyncio.Task[None], Item],
    ) -> None:
        stopped = False
        while True:
            lease_now = False  # the last lease left hosts to claim (`claims_more`)
            if self.run_.should_stop() or self.fatal:
                stopped = True
            self._handed.clear()  # before counting: a hand-off from now on wakes the wait
            # a page handed to the store threads no longer takes a fetch's place (its host's
            # next turn need not wait for the store), up to as many again waiting to be stored
            fetching = len(inflight) - len(self._storing)
            room = min(workers - fetching, 2 * workers - len(inflight), budget - self.started)
            if not stopped and room > 0:
                # URLs held for hosts busy with this crawl's fetches take no place. More are
                # leased while fewer hosts can start one than there are places, whatever is
                # held: a lease early in a run, when few listings were read yet, took all the
                # articles of those few hosts, and with "no more held than places" no other
                # host's were leased until they drained (hosts whose listings came later sat
                # idle for up to 8 s, and lagged by that to the end). A lease that found
                # fewer than it asked for is not repeated until this crawl queued more URLs
                # or JOINED_POLL has passed (other crawlers of the run queue some too); with
                # nothing in flight, when its idle wait has passed (`_idle_leases`).
                now = time.monotonic()
                if (
                    held.startable < room
                    and len(held) < HOLD_PLACES * workers
                    and (
                        self._queued_more
                        or now >= (self._lease_again_at if inflight else self._idle_lease_at)
                    )
                ):
                    want = min(max(room, LEASE_AHEAD), budget - self.started - len(held))
                    if want > 0:
                        self._queued_more = False
                        got = await self._in_thread(
                            functools.partial(frontier.lease, self.name, want)
                        )
                        if isinstance(frontier, HandsBackHosts):
                            # (after the answer: no earlier than the lease's host claims)
                            granted = time.monotonic()
                            self._granted.update((item.key, granted) for item in got)
                        if len(got) < want:
                            self._lease_again_at = time.monotonic() + JOINED_POLL
                        self._idle_leases(granted=bool(got), idle=not inflight)
                        if isinstance(frontier, HandsBackHosts):
                            got = frontier.kept(self.name, got)
                            # more hosts free: claimed now, not one lease per poll
                            pause = frontier.claims_more(self.name)
                            if pause is not None:
                                soon = time.monotonic() + pause
                                self._lease_again_at = self._idle_lease_at = soon
                                lease_now = True
                        held.add(got)
                while room > 0 and (item := held.pop()) is not None:
                    room -= 1
                    self.started += 1
                    inflight[self._start(item)] = item
            if not inflight:
                if stopped or self.started >= budget:
                    break
                if not await self._in_thread(self._others_leasing):
                    break
                # other crawlers of this run (cluster workers) hold URLs whose pages may list
                # more, and a dead one's leases expire into ours: wait, then lease again
                await asyncio.sleep(JOINED_POLL)
                continue
            handed = asyncio.ensure_future(self._handed.wait())
            # a cluster's lease that came up short is tried again when JOINED_POLL has passed,
            # not only when a page ends: with sticky hosts a lease claims a few hosts at a time,
            # and at a run's start the next page ended a host's delay later (hosts started
            # 1.7-2.1 s into the run, 8 per second)
            again = self._lease_again_at - time.monotonic()
            if lease_now and not stopped:
                again = max(0.0, again)  # (a look at what ended meanwhile, then the lease)
            elif not (self._off_loop and not stopped and again > 0):
                again = -1.0
            await asyncio.wait(
                [*inflight, handed],
                timeout=again if again >= 0 else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            handed.cancel()
            for task in [t for t in inflight if t.done()]:
                item = inflight.pop(task)
                if task not in self._storing:  # (a page handed to the store was counted then)
                    held.fetched(item)
                self._storing.discard(task)
                task.result()
        if len(held):  # leased ahead, never started: queued again for the next run
            frontier.release(self.name, held.keys())
        self._conclude(stopped)

    def _start(self, item: Item) -> asyncio.Task[None]:
        """The URL's visit, as a task; a cluster crawl's in a context of its own that carries
        the URL's lease (`LEASE`), for the host gate."""
        granted = self._granted.pop(item.key, None)
        if granted is None:
            return asyncio.ensure_future(self._visit(item))
        context = contextvars.copy_context()
        context.run(LEASE.set, Lease(item.url, urlsplit(item.url).hostname or "", granted))
        return asyncio.get_running_loop().create_task(self._visit(item), context=context)

    def _idle_leases(self, *, granted: bool, idle: bool) -> None:
        """Space out the leases of a crawl with nothing in flight that grant nothing: a
        cluster worker that joined a run whose URLs (or hosts) others hold asked the database
        every JOINED_POLL for the whole run. Its look for the run's end (`_others_leasing`)
        keeps that pace, so the end is seen as soon as before; a grant resets the wait."""
        if granted:
            self._idle_wait = JOINED_POLL
            self._idle_lease_at = 0.0
        elif idle:
            self._idle_lease_at = time.monotonic() + self._idle_wait
            self._idle_wait = min(IDLE_LEASE_MAX, 2 * self._idle_wait)

    async def _keep_leases(
        self,
        frontier: RenewsLeases,
        held: HeldUrls,
        inflight: dict[asyncio.Task[None], Item],
    ) -> None:
        """Renew the leases on the URLs this crawl holds (leased ahead, or in flight: waiting
        for their host, fetched, or being stored) a few times per lease lifetime, in a
        thread. A URL's wait for its host is not bounded by the lifetime: with many URLs of
        one host leased together (as at the start of a run, when few listings are read yet),
        the last waits many delays, and an expired lease went to another worker, which
        fetched the page a second time. A URL whose page is done waits for its mark at most
        a flush (`finishes.FLUSH_EVERY`), well within what is left of its lifetime."""
        assert frontier.lease_ttl is not None
        every = frontier.lease_ttl / RENEWALS_PER_TTL
        while True:
            await asyncio.sleep(every)
            keys = held.keys() + [item.key for item in inflight.values()]
            if not keys:
                continue
            try:
                await asyncio.to_thread(frontier.renew, self.name, keys)
            except ArchiveError as err:  # the database is down: the next round tries again
                log.warning("%s: leases not renewed (%s)", self.name, err)

    def _others_leasing(self) -> bool:
        """Whether URLs of this source are leased by another crawl (none in flight here), or
        still queued: a lease skips the URLs another crawl is leasing that instant, so a
        worker that joined a run just then found none, saw none leased yet, and quit. In the
        crawl's thread (a cluster's frontier: round trips)."""
        if self.run_.lock_dir is not None:
            return False
        if self.run_.finishes is not None:
            # this crawl's own held "done" marks first: they left its last URLs leased, and
            # the run's end waited for the next periodic write and a JOINED_POLL after it
            try:
                self.run_.finishes.flush()
            except ArchiveError as err:  # kept for the next write: this crawl waits for it
                log.warning("%s: done marks not written yet (%s)", self.name, err)
        frontier = self.run_.frontier
        return frontier.count(self.name, State.LEASED) > 0 or (
            frontier.count(self.name, State.QUEUED) > 0
        )

    def _conclude(self, stopped: bool) -> None:
        frontier = self.run_.frontier
        if self.run_.finishes is not None:
            self.run_.finishes.flush()
        # with the URLs a cluster crawl withdrew for hosts it hands back: still leased, they
        # are queued again only when its host gate closes, after this (a stopped run whose
        # work was all withdrawn was labelled "ok"); counted first, so none is missed
        withdrawn = frontier.withdrawn(self.name) if isinstance(frontier, HandsBackHosts) else 0
        self.report.queued = frontier.count(self.name, State.QUEUED) + withdrawn
        status = "ok"
        if self.fatal:
            self.report.status = SourceStatus.FAILED
            self.report.error = f"{self.name}: {self.fatal}"
            status = "failed"
        elif self.start_ok == 0 and self.start_error is not None:
            self.report.status = SourceStatus.FAILED
            self.report.error = f"{self.name}: could not reach {self.start_error}"
            status = "failed"
        elif stopped and self.report.queued:
            self.report.status = SourceStatus.STOPPED
            status = "stopped"
        frontier.end_run(self.name, now=self._now(), status=status)
        log.info(
            "%s: run %s, %d fetched, %d new",
            self.name,
            status,
            self.report.fetched,
            self.report.new_articles,
        )

    async def _visit(self, item: Item) -> None:
        backlog = self.run_.backlog
        if backlog is None:
            await self._visit_once(item)
            return
        with backlog.visit():
            await self._visit_once(item)

    async def _visit_once(self, item: Item) -> None:
        if item.kind is Kind.ARTICLE and self.run_.dry_run:
            self.report.would_fetch.append(item.url)
            self._finish(item, State.DONE, "dry run")
            return
        finder = getattr(self.run_.fetcher, "sitemaps", None)
        if item.kind is Kind.ROBOTS and finder is not None:
            await self._robots_sitemaps(item, finder)
            return
        try:
            page = await self.run_.fetcher.fetch(
                item.url, validators=self._validators(item), accept=_ACCEPT[item.kind]
            )
        except LeaseLost:
            # the host went to another worker while this one stalled: the URL too, maybe
            # (queued again only if still this crawler's, `Frontier.release`)
            log.info("%s: %s not fetched: its lease went to another worker", self.name, item.url)
            await self._in_thread(
                functools.partial(self.run_.frontier.release, self.name, [item.key])
            )
            return
        except FetchError as exc:
            self._fetch_failed(item, exc)
            return
        self.report.fetched += 1
        if item.start:
            self.start_ok += 1
        try:
            await self._handle(item, page)
        except ArchiveError as exc:
            # the disk or catalog said no: stop this source, keep the URL queued for next time
            self.fatal = f"archive error: {exc}"
            self.run_.frontier.release(self.name, [item.key])
            log.error("%s: %s", self.name, self.fatal)

    async def _robots_sitemaps(
        self, item: Item, finder: Callable[[str], Awaitable[list[str]]]
    ) -> None:
        """Sitemap lines from the robots.txt the fetcher keeps anyway: no second request."""
        try:
            sitemaps = await finder(item.url)
        except FetchError as exc:
            self._fetch_failed(item, exc)
            return
        if item.start:
            self.start_ok += 1
        self._add([Entry(u, Kind.SITEMAP, item.depth, refresh=True) for u in sitemaps])
        self._finish(item, State.DONE, f"{len(sitemaps)} sitemap(s)")
        self.run_.progress(self.report, item.url, "robots.txt")

    def _validators(self, item: Item) -> Validators | None:
        if item.kind is Kind.ARTICLE:
            if item.fetched_at is None:
                # never fetched for this source, and no stored article had the URL when it
                # was found (`_add` marks those done): a look-up per new page on the event
                # loop would find at most a page that once failed to parse, which a plain
                # GET gives the parser again
                return None
            return self.run_.archive.validators(item.url)
        if item.etag or item.last_modified:
            return Validators(etag=item.etag, last_modified=item.last_modified)
        return None

    def _fetch_failed(self, item: Item, exc: FetchError) -> None:
        reason = failure_reason(exc)
        transient = isinstance(exc, TransientFetchError | HostParked | RobotsUnavailable)
        if isinstance(exc, DisallowedByRobots):
            self.report.skipped_robots += 1
        else:
            self.report.failed[reason] += 1
        if item.start and self.start_error is None:
            self.start_error = f"{item.url}: {exc.reason}"
        self._finish(item, State.RETRY if transient else State.FAILED, reason)
        log.debug("%s: %s failed: %s", self.name, item.url, exc)
        self.run_.progress(self.report, item.url, reason)

    def _finish(
        self,
        item: Item,
        state: State,
        outcome: str,
        page: RawPage | None = None,
        published: float | None = None,
    ) -> None:
        finish = Finish(
            self.name,
            item.key,
            state,
            self._now(),
            outcome,
            etag=page.header("etag") if page else None,
            last_modified=page.header("last-modified") if page else None,
            published=published,
            keep_validators=page is None or page.status == 304,
        )
        if self.run_.finishes is not None:
            self.run_.finishes.add(finish)
            return
        self.run_.frontier.finish(
            finish.source,
            finish.key,
            state=finish.state,
            now=finish.now,
            outcome=finish.outcome,
            etag=finish.etag,
            last_modified=finish.last_modified,
            published=finish.published,
            keep_validators=finish.keep_validators,
        )

    async def _handle(self, item: Item, page: RawPage) -> None:
        if item.kind is Kind.ARTICLE:
            await self._ingest(item, page)
            return
        if self._thread is not None:
            # in a cluster, a listing's parse and its frontier and catalog round trips go
            # off the loop that sends every host's requests, a few at once: at a run's start
            # 200 feeds came back together, and handling them in turn on the loop held back
            # the hosts' first articles (lane or not, each one blocked the loop while it ran)
            await self._in_thread(functools.partial(self._handle_other, item, page))
            return
        found = None
        pool = self.run_.pool
        if pool is not None and item.kind is Kind.PAGE and page.status != 304:
            # a section page is read in an ingest worker (its parse, its links judged), off
            # the loop that sends every host's requests
            found = await pool.links(
                page, source=self.name, follow=self._follow_ask(item), feeds=self._feeds(item)
            )
        async with self.run_.lane.turn():
            self._handle_other(item, page, found)

    def _follow_ask(self, item: Item) -> FollowAsk | None:
        """What a worker judges of a page's links: None when the depth follows none."""
        depth = item.depth + 1
        if depth > self.source.max_depth:
            return None
        return FollowAsk(self.policy, pages=depth < self.source.max_depth)

    def _feeds(self, item: Item) -> bool:
        """Whether a page's advertised feeds are read: a start page of a source with none."""
        return item.start and not self.source.feeds

    def _handle_other(
        self, item: Item, page: RawPage, found: tuple[list[str], Followed] | None = None
    ) -> None:
        """A page that is not an article: its links or listing read, its URL finished."""
        if page.status == 304:
            with self._counting:
                self.report.not_modified += 1
            self._finish(item, State.DONE, "not modified", page)
            self.run_.progress(self.report, item.url, "not modified")
            return
        if item.kind in (Kind.FEED, Kind.SITEMAP):
            self._read_listing(item, page)
        elif item.kind is Kind.ROBOTS:
            text = page.body.decode("utf-8", "replace")
            sitemaps = robots_sitemaps(text, page.final_url)
            self._add([Entry(u, Kind.SITEMAP, item.depth, refresh=True) for u in sitemaps])
            self._finish(item, State.DONE, f"{len(sitemaps)} sitemap(s)", page)
        elif item.kind is Kind.PAGE:
            if found is None:
                self._follow_links(item, page)
            else:
                self._follow_links(item, page, found[1], feeds=found[0])
            self._finish(item, State.DONE, "links read", page)
        self.run_.progress(self.report, item.url, item.kind.value)

    def _read_listing(self, item: Item, page: RawPage) -> None:
        listing = parse_listing(page.body, page.final_url)
        if listing.kind is ListingKind.UNKNOWN:
            with self._counting:
                self.report.failed["not a feed or sitemap"] += 1
            self._finish(item, State.FAILED, "not a feed or sitemap", page)
            return
        if listing.kind is ListingKind.SITEMAP_INDEX:
            entries = [
                Entry(
                    link.url,
                    Kind.SITEMAP,
                    item.depth,
                    modified=_ts(link.modified),
                    refresh=link.modified is None,
                )
                for link in listing.links
                if self.policy.in_scope(link.url)
            ]
        else:
            entries = []
            if item.depth + 1 <= self.source.max_depth:
                for link in listing.links:
                    if self.policy.judge(link.url).verdict is Verdict.ARTICLE:
                        entries.append(
                            Entry(
                                link.url,
                                Kind.ARTICLE,
                                item.depth + 1,
                                published=_ts(link.published),
                                modified=_ts(link.modified),
                            )
                        )
        self._add(entries)
        self._finish(item, State.DONE, f"{len(listing.links)} link(s)", page)

    def _follow_links(
        self,
        item: Item,
        page: RawPage,
        links: Followed | None = None,
        *,
        feeds: list[str] | None = None,
    ) -> None:
        """Queue what the page links to; `links` (and `feeds`) when an ingest worker judged
        (and read) them already."""
        depth = item.depth + 1
        entries: list[Entry] = []
        if self._feeds(item) and page.status != 304:
            if feeds is None:
                feeds = feed_links(page.body, page.final_url)
            entries += [Entry(u, Kind.FEED, item.depth, refresh=True) for u in feeds]
        if depth <= self.source.max_depth:
            if links is None:
                base, raw = page_hrefs(page.body, page.final_url)
                links = followed(self.links, raw, base, pages=depth < self.source.max_depth)
            first_time = self.links.first_time
            for url, template in links:
                if template is None:
                    # a plain link this run already queued would change nothing in the frontier
                    if first_time(url):
                        entries.append(Entry(url, Kind.ARTICLE, depth))
                else:
                    entries.append(Entry(url, Kind.PAGE, depth, template=template))
        self._add(entries)

    def _add(self, entries: Iterable[Entry]) -> None:
        batch = list(entries)
        if not batch:
            return
        frontier = self.run_.frontier
        new = frontier.add(
            self.name, batch, now=self._now(), refresh_after=self.source.revisit.every
        )
        self._queued_more = True  # (new URLs, or known ones queued again: lease again)
        with self._counting:
            self.report.discovered += len(new)
        kinds = {url_key(e.url): e for e in batch}
        fresh = {
            key: entry.url
            for key in new
            if (entry := kinds.get(key)) is not None and entry.kind is Kind.ARTICLE
        }
        if not fresh:
            return
        # archived by an earlier crawl, another source or `morgue archive`: not fetched again
        # (one catalog question for the page's new links, not two per link)
        known = self.run_.archive.find_urls(fresh.values())
        for key, url in fresh.items():
            article = known.get(url)
            if article is not None:
                published = _ts(parse_date(article.content.published))
                frontier.mark_known(
                    self.name, key, fetched_at=article.fetched_at.timestamp(), published=published
                )

    async def _ingest(self, item: Item, page: RawPage) -> None:
        follow = page.status != 304 and item.depth < self.source.max_depth
        pool = self.run_.pool
        result: Stored | ParseError
        if pool is None:
            if follow:
                self._follow_links(item, page)
            try:
                if self.run_.store is not None:
                    task = asyncio.current_task()
                    if task is not None:
                        self._storing.add(task)
                        self._held.fetched(item)
                        self._handed.set()
                    result = await self.run_.store(page, source=self.name, rules=self.source.rules)
                else:
                    result = self.run_.ingest(
                        page, archive=self.run_.archive, source=self.name, rules=self.source.rules
                    )
            except ParseError as exc:
                result = exc
        else:
            # the links are judged in the worker too: only what needs this run's state is left
            # here (`_follow_links`)
            ask = self._follow_ask(item) if follow else None
            result, links = await pool.ingest(
                page, source=self.name, rules=self.source.rules, follow=ask
            )
            if follow:
                self._follow_links(item, page, links)
        if isinstance(result, ParseError):
            reason = failure_reason(result)
            self.report.failed[reason] += 1
            self._finish(item, State.FAILED, reason, page)
            self.run_.progress(self.report, item.url, reason)
            return
        stored = result
        self._count(stored)
        published = None
        if stored.article is not None:
            published = _ts(parse_date(stored.article.content.published))
        self._finish(item, State.DONE, stored.outcome.value, page, published)
        self.run_.progress(self.report, item.url, stored.outcome.value)

    def _count(self, stored: Stored) -> None:
        if stored.outcome is Outcome.NEW:
            self.report.new_articles += 1
        elif stored.outcome is Outcome.UPDATED:
            self.report.new_versions += 1
        elif stored.outcome is Outcome.DUPLICATE:
            self.report.duplicates += 1
        else:
            self.report.unchanged += 1


def _ts(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()
