"""The fetcher's cluster seams (`scraper.fetch.shared`) on PostgreSQL.

`StickyHostGate`: each host is held by one worker at a time, which paces it in memory (see
the class); `PgRobotsCache`: the cluster fetches each robots.txt once. When PostgreSQL cannot
be reached, both pause and try again (with backoff) rather than failing the page: a worker
waits out a database restart. Their calls run in threads of their own, so the event loop
keeps serving the fetches in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from archive.backends.hostlease_pg import RETRY_LOCKED, ClusterRobots, HostClaiming, HostClaims
from archive.errors import StorageError
from scraper.errors import LeaseLost
from scraper.fetch.shared import LEASE

log = logging.getLogger(__name__)

PAUSE_MAX = 30.0  # longest pause between attempts while the database is unreachable
CLAIM = 15.0  # seconds one worker has to fetch a robots.txt before another may try

IDLE_RELEASE = 1.0  # seconds a held host is idle before its release is tried
RELEASE_AGAIN = 5.0  # seconds before a host found not dry is tried again
RELEASE_EVERY = 0.5  # seconds between looks for idle hosts
HAND_BACK_EVERY = 0.1  # seconds between looks for hosts to hand back (in memory until one)
LAG_EVERY = 0.05  # seconds between samples of the event loop's lateness
CLAIM_RETRY_MAX = 1.0  # longest wait before asking again for a host another worker holds
SLOW = 2.0  # seconds after which a cache or claim round trip is worth a line in the log


@dataclass(slots=True)
class _Pace:
    """One held host's clock, local to this process (`time.monotonic`)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_start: float = -math.inf
    last_end: float = -math.inf
    active: int = 0
    waiting: int = 0
    tried: float = -math.inf  # when its release was last tried


@dataclass(frozen=True, slots=True)
class _Ticket:
    host: str
    asked: float
    started: float


class StickyHostGate:
    """A `HostGate` over sticky hosts (`hostlease_pg.HostClaims`): a host's requests go out
    from the one worker that holds it, paced here in memory, with no database round trip
    per request and no polling between workers; `per_host` is kept by the fetcher's own slots
    per host (`polite.HostPace.slots`), since no other worker sends to the host.

    The frontier claims the hosts whose URLs it leases, and renews the claims with its
    leases. A request to a host this worker does not hold (a redirect to another host, or a
    claim that lapsed) claims it first, waiting while another worker's claim on it lasts. A
    request waits its delay from the later of the host's previous start and previous end, and
    a newly claimed host's first one waits it from the previous holder's last activity (its
    written-back last start and end, or its claim's expiry if it died holding the host). No
    request starts once the claim is within its margin of expiring unrenewed, so a killed
    worker's hosts go to others after its claims' lifetime with no overlap. A host idle here
    whose URLs ran dry is given back, with its last start and end written back.

    A worker holding more hosts than its fair share hands the surplus back
    (`HostClaims.to_hand_back`): the hosts with the fewest requests under way, whose URLs
    not started it withdraws from the crawl at once (`HostClaims.urls`), and gives each back
    once its last request ended, with that request's start and end and those URLs queued
    again, so the next holder waits the delay from there and leases them.
    """

    def __init__(
        self,
        claiming: HostClaiming,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.claiming = claiming
        self.claims = claiming.claims
        self._sleep = sleep
        self._paces: dict[str, _Pace] = {}
        self._releasing: dict[str, asyncio.Future[None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="host-claims")
        # what bench_cluster reports
        self.waits: list[float] = []
        self.takes: list[float] = []  # seconds per claim round trip
        self.held: list[float] = []
        self.hosts_busy: list[int] = []
        self.loop_lag: list[float] = []
        self.batch_sizes: list[float] = []
        self.log: list[tuple[str, float, float, float]] = []
        self.handed_back = 0  # hosts given back over the fair share

    async def acquire(self, host: str, *, delay: float, per_host: int) -> object:
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        pace = self._paces.get(host)
        if pace is None:
            pace = self._paces[host] = _Pace()
        asked = time.monotonic()
        pace.waiting += 1
        self.hosts_busy.append(sum(1 for p in self._paces.values() if p.active or p.waiting))
        try:
            async with pace.lock:  # one request at a time takes the host's next turn
                while True:
                    self._check_lease()
                    releasing = self._releasing.get(host)
                    if releasing is not None:
                        await asyncio.shield(releasing)
                        continue
                    now = time.monotonic()
                    until = self.claims.valid_until(host)
                    if until is None or until <= now:
                        await self._claim(host)
                        continue
                    after = max(pace.last_start, pace.last_end, self.claims.after(host))
                    ready = after + delay
                    if ready <= now:
                        break
                    await self._sleep(min(ready, until) - now)
                pace.last_start = time.monotonic()
                pace.active += 1
        finally:
            pace.waiting -= 1
        self.waits.append(pace.last_start - asked)
        return _Ticket(host, asked, pace.last_start)

    def _check_lease(self) -> None:
        """Raise LeaseLost if the request's URL lease (`LEASE`) was granted before this
        worker's hold on its host broke (`HostClaims.broken_since`): a worker that stalled
        past its claims' lifetime finds, once it runs again, that another took the host and
        may have fetched the URL; or it claims the host again once that one gave it back
        (which then waits for nothing). Either way the URL is not this worker's to fetch."""
        lease = LEASE.get()
        if lease is not None and self.claims.broken_since(lease.host) > lease.granted:
            raise LeaseLost(lease.url)

    def valid(self, ticket: object) -> bool:
        """The host is still held with a margin: a request granted before this process
        stalled, and still unsent (connecting, say), would otherwise go out after the claim
        lapsed, next to the new holder's first request (seen 0.11 s apart, SIGSTOP)."""
        if not isinstance(ticket, _Ticket):
            return True
        until = self.claims.valid_until(ticket.host)
        return until is not None and until > time.monotonic()

    async def release(self, ticket: object, *, delay: float) -> None:
        if not isinstance(ticket, _Ticket):
            return
        pace = self._paces[ticket.host]
        pace.last_end = time.monotonic()
        pace.active -= 1
        self.held.append(pace.last_end - ticket.started)
        self.log.append((ticket.host, ticket.asked, ticket.started, pace.last_end))

    async def _claim(self, host: str) -> None:
        """Claim `host`: wait while another worker holds it, pause while the database is
        unreachable."""
        pause = 0.5
        loop = asyncio.get_running_loop()
        while True:
            try:
                asked = time.monotonic()
                wait = await loop.run_in_executor(
                    self._thread, functools.partial(self.claiming.claim, host)
                )
                self.takes.append(time.monotonic() - asked)
                if self.takes[-1] > SLOW:
                    log.warning("host claims: %s claimed after %.1f s", host, self.takes[-1])
            except StorageError as exc:
                log.warning("host claims unavailable, pausing %.1f s: %s", pause, exc)
                await self._sleep(pause)
                pause = min(PAUSE_MAX, pause * 2)
                continue
            if wait is None:
                return
            await self._sleep(min(max(wait, RETRY_LOCKED), CLAIM_RETRY_MAX))

    def _quiet(self, host: str) -> bool:
        """No request to `host` under way or waiting here, and none about to take a turn."""
        pace = self._paces.get(host)
        if pace is not None and (pace.active or pace.waiting or pace.lock.locked()):
            return False
        return host not in self._releasing

    def _idle(self, *, quiet: float, now: float) -> list[tuple[str, _Pace]]:
        idle = []
        leaving = self.claims.leaving_hosts()  # (handed back by `_hand_back`)
        for host in self.claims.hosts():
            pace = self._paces.get(host)
            if pace is None or host in leaving or not self._quiet(host):
                continue  # (never sent to here: leased URLs on their way, or not dry)
            if now - max(pace.last_start, pace.last_end) < quiet:
                continue
            idle.append((host, pace))
        return idle

    def _rows(
        self, idle: list[tuple[str, _Pace]], now: float
    ) -> list[tuple[str, str | None, float, float]]:
        far = 1e9  # never sent to: the database keeps what it has
        return [
            (
                host,
                self.claims.source_of(host),
                min(far, now - pace.last_start),
                min(far, now - pace.last_end),
            )
            for host, pace in idle
        ]

    def _pick_hand_backs(self) -> None:
        """Choose the hosts to hand back over the fair share, the least busy first (idle ones
        go back at once, the others once their requests under way ended), and withdraw their
        URLs not started from the crawl."""
        claims, urls = self.claims, self.claims.urls
        more = claims.to_hand_back()
        if urls is None or more <= 0:
            return
        leaving = set(claims.leaving_hosts())

        def load(host: str) -> tuple[bool, int]:
            pace = self._paces.get(host)
            return urls.busy(host), 0 if pace is None else pace.active + pace.waiting

        hosts = [h for h in claims.hosts() if h not in leaving and h not in self._releasing]
        for host in sorted(hosts, key=load)[:more]:
            claims.leave(host, claims.source_of(host) or "", urls.withdraw(host))

    async def _hand_back(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give back the hosts picked by `_pick_hand_backs` whose requests all ended, with
        their URLs not started queued again (and those a lease gave after their host left)."""
        self._pick_hand_backs()
        urls = self.claims.urls
        leaving = self.claims.leaving()
        ready = [
            (host, self._paces.get(host) or _Pace())
            for host in leaving
            if self._quiet(host) and not (urls is not None and urls.busy(host))
        ]
        orphans = self.claims.orphans()
        requeue = [(leaving[h][0], k) for h, _ in ready for k in leaving[h][1]] + orphans
        if not ready and not requeue:
            return
        for host, _ in ready:
            self._releasing[host] = loop.create_future()
        try:
            await loop.run_in_executor(
                self._thread,
                functools.partial(self._give_back, self._rows(ready, time.monotonic()), requeue),
            )
            self.handed_back += len(ready)
        except StorageError as exc:  # tried again at the next look (orphans kept in mind)
            log.warning("could not hand hosts back: %s", exc)
            self.claims.requeue_later(orphans)
        finally:
            for host, _ in ready:
                done = self._releasing.pop(host)
                done.set_result(None)

    def _give_back(
        self, rows: list[tuple[str, str | None, float, float]], requeue: list[tuple[str, str]]
    ) -> None:
        """In the gate's thread: hand `rows`' hosts back with the URLs `requeue`, and note
        them gone there, not on the loop: a run whose loop ends meanwhile (its tasks
        cancelled) still notes them, and `close` (after this, in the same thread) does not
        queue those URLs a second time, when another crawler may hold them."""
        self.claiming.release(rows, dry=False, requeue=requeue)
        self.claims.left([row[0] for row in rows], set(requeue))

    async def _watch(self) -> None:
        """Hand back hosts over the fair share; give back idle hosts that ran dry; sample
        how late the event loop wakes up."""
        loop = asyncio.get_running_loop()
        looked = handed = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_EVERY)
            now = time.monotonic()
            self.loop_lag.append(now - before - LAG_EVERY)
            if now - handed >= HAND_BACK_EVERY:
                handed = now
                await self._hand_back(loop)
                now = time.monotonic()
            if now - looked < RELEASE_EVERY:
                continue
            looked = now
            idle = [
                (h, p)
                for h, p in self._idle(quiet=IDLE_RELEASE, now=now)
                if now - p.tried >= RELEASE_AGAIN
            ]
            if not idle:
                continue
            for host, pace in idle:
                pace.tried = now
                self._releasing[host] = loop.create_future()
            try:
                await loop.run_in_executor(
                    self._thread,
                    functools.partial(self.claiming.release, self._rows(idle, now), dry=True),
                )
            except StorageError as exc:  # kept: tried again later, or expires
                log.warning("could not give back idle hosts: %s", exc)
            finally:
                for host, _ in idle:
                    done = self._releasing.pop(host)
                    done.set_result(None)

    def close(self) -> None:
        """Give back every host still held (the crawl ended: another worker may take those
        with URLs left at once, not after their claims expire), and let the thread go."""
        if self._watcher is not None and not self._watcher.done():
            with contextlib.suppress(RuntimeError):  # its loop is closed: it runs no more
                self._watcher.cancel()
        try:  # after a hand-back still under way in the thread (see `_give_back`)
            self._thread.submit(self._give_back_all).result()
        finally:
            self._thread.shutdown(wait=False)

    def _give_back_all(self) -> None:
        idle = [(h, self._paces.get(h) or _Pace()) for h in self.claims.hosts()]
        leaving = self.claims.leaving()
        requeue = [(s, k) for s, keys in leaving.values() for k in keys]
        try:
            self.claiming.release(
                self._rows(idle, time.monotonic()),
                dry=False,
                requeue=requeue + self.claims.orphans(),
                retire=True,
            )
            self.claims.left(list(leaving), set(requeue))
        except StorageError as exc:  # they expire on their own
            log.warning("could not give back the hosts held: %s", exc)


class PgRobotsCache:
    """A `RobotsCache` in the catalog: one fetch of each robots.txt for the whole cluster."""

    def __init__(self, robots: ClusterRobots, claims: HostClaims | None = None) -> None:
        """`claims`: this worker's sticky hosts; another worker's claim on the robots.txt of
        a host held here is stale, and taken over (`ClusterRobots.get`)."""
        self.robots = robots
        self.claims = claims
        # its own threads, not the loop's shared pool (where the host claims' calls would
        # queue behind these at a run's start, one per host)
        self._threads = ThreadPoolExecutor(2, thread_name_prefix="robots-cache")
        # what bench_cluster reports: seconds from a get's call to its answer, per put
        self.gets: list[float] = []
        self.puts: list[float] = []

    def close(self) -> None:
        self._threads.shutdown(wait=False)

    async def get(self, origin: str) -> tuple[int, bytes] | None:
        """The cached file; else None after claiming its fetch (waiting while another worker
        holds the claim, up to the claim's length)."""
        asked = time.monotonic()
        try:
            return await self._get(origin)
        finally:
            self.gets.append(time.monotonic() - asked)
            if self.gets[-1] > SLOW:
                log.warning("robots.txt cache: %s answered after %.1f s", origin, self.gets[-1])

    async def _get(self, origin: str) -> tuple[int, bytes] | None:
        while True:
            until = None
            if self.claims is not None:
                until = self.claims.valid_until(urlsplit(origin).hostname or "")
            take = until is not None and until > time.monotonic()
            try:
                got = await asyncio.get_running_loop().run_in_executor(
                    self._threads,
                    functools.partial(self.robots.get, origin, claim_for=CLAIM, take=take),
                )
            except StorageError as exc:  # fetch it ourselves: politeness does not depend on it
                log.warning("robots.txt cache unavailable: %s", exc)
                return None
            if not isinstance(got, float):
                return got
            await asyncio.sleep(got)

    async def put(self, origin: str, status: int, body: bytes, *, ttl: float) -> None:
        asked = time.monotonic()
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._threads,
                functools.partial(self.robots.put, origin, status, body, ttl=ttl),
            )
        except StorageError as exc:
            log.warning("robots.txt cache unavailable: %s", exc)
        self.puts.append(time.monotonic() - asked)
        if self.puts[-1] > SLOW:
            log.warning("robots.txt cache: %s stored after %.1f s", origin, self.puts[-1])
