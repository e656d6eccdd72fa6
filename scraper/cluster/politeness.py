"""The fetcher's cluster seams (`scraper.fetch.shared`) on PostgreSQL.

Workers use `StickyHostGate`: each host is held by one worker, which paces it in memory (see
the class). `PgHostGate`, below, is the earlier gate that asks the database before every
request; it is kept for comparison and its tests.

`PgHostGate.acquire` asks `archive.backends.hostlease_pg.HostLeases` for a lease on the host,
sleeping for as long as the database says the host must rest, so that across every worker no
two requests to a host start closer than its delay and no more than `per_host` are in flight.
A short margin is added to the delay: the lease is granted on the database's clock, and the
request reaches the server a few milliseconds later, by a different amount for each worker.
A turn less than `RESERVE` seconds away is granted ahead (the lease says when it starts), so
a request that waited for its host goes out at its turn, not one database round trip later.
When PostgreSQL cannot be reached, the gate pauses and tries again (with backoff) rather than
failing the page: a worker waits out a database restart. Calls run in a thread so the event
loop keeps serving the fetches in flight.

The gate batches: what the worker's requests ask (and the leases they give back) while one
call to the database is under way go together in the next (`HostLeases.take_many`), so a
worker with hundreds of hosts in flight spends a few round trips per batch, not a few per
request, and needs one connection for it rather than one per waiting request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from archive.backends.hostlease_pg import RETRY_LOCKED, Ask, HostClaiming, HostLeases, Lease
from archive.errors import StorageError

log = logging.getLogger(__name__)

MARGIN = 0.02  # seconds added to each host's delay: jitter between the grant and the request
PAUSE_MAX = 30.0  # longest pause between attempts while the database is unreachable
RESERVE = 1.0  # seconds ahead a host's next turn is granted (see hostlease_pg.Ask)
CLAIM = 15.0  # seconds one worker has to fetch a robots.txt before another may try
OFFSET_WINDOW = 30.0  # seconds of round trips the clock offset is taken from (clocks drift)


class PgHostGate:
    """A `HostGate` over host leases; it also measures how long requests waited for leases."""

    def __init__(
        self,
        leases: HostLeases,
        *,
        ttl: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.leases = leases
        self.ttl = ttl
        self._sleep = sleep
        self.waits: list[float] = []  # seconds each request waited for its lease
        # where a worker's time goes (bench_cluster reports them): seconds per `take` call,
        # seconds a lease was held (the request on the wire), hosts this worker was waiting
        # for or holding at each request, and how late the event loop woke from short sleeps
        self.takes: list[float] = []
        self.held: list[float] = []
        self.hosts_busy: list[int] = []
        self.loop_lag: list[float] = []
        self.batch_sizes: list[float] = []  # asks and give-backs per call to the database
        # each request's (host, first ask, granted start, response end), on this process's
        # monotonic clock (the benchmark's server logs arrivals on the same clock): where a
        # host's gap went, between the grant, the send and the previous response's end
        self.log: list[tuple[str, float, float, float]] = []
        self._planned: dict[int, tuple[float, float]] = {}
        self._busy: dict[str, int] = {}
        # leases this process holds per host, and who waits for one of them to end: a request
        # whose host's slots are all ours waits for our own give-back rather than asking the
        # database every RETRY_LOCKED until one is free (its ask then goes in the give-back's
        # batch, which frees the slot before the ask is weighed)
        self._mine: dict[str, int] = {}
        self._freed: dict[str, list[asyncio.Future[None]]] = {}
        self._lag_task: asyncio.Task[None] | None = None
        self._asking: list[tuple[Ask, asyncio.Future[Lease | float]]] = []
        # leases to give back: each with when its response ended (local clock)
        self._giving: list[tuple[Lease, float, asyncio.Future[Lease | float]]] = []
        self._batcher: asyncio.Task[None] | None = None
        # the batches' own thread: in the loop's shared pool (6 threads on 2 cores) they
        # queued behind 200 robots.txt cache calls and listing writes at a run's start
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="host-leases")
        # (local time, lower bound of the database clock's offset from the local one)
        self._offsets: deque[tuple[float, float]] = deque()

    async def acquire(self, host: str, *, delay: float, per_host: int) -> object:
        if self._lag_task is None:
            self._lag_task = asyncio.get_running_loop().create_task(self._watch_loop())
        self._busy[host] = self._busy.get(host, 0) + 1
        self.hosts_busy.append(len(self._busy))
        try:
            return await self._acquire(host, delay=delay, per_host=per_host)
        except BaseException:
            self._done(host)
            raise

    async def _acquire(self, host: str, *, delay: float, per_host: int) -> Lease:
        started = time.monotonic()
        pause = 0.5
        while True:
            while self._mine.get(host, 0) >= per_host:
                freed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._freed.setdefault(host, []).append(freed)
                await freed
            try:
                asked = time.monotonic()
                got = await self._ask(Ask(host, delay + MARGIN, per_host, reserve=RESERVE))
                self.takes.append(time.monotonic() - asked)
            except StorageError as exc:
                log.warning("host leases unavailable, pausing %.1f s: %s", pause, exc)
                await self._sleep(pause)
                pause = min(PAUSE_MAX, pause * 2)
                continue
            if isinstance(got, Lease):
                self._mine[host] = self._mine.get(host, 0) + 1
                local = self._local_start(got)
                self._planned[id(got)] = (started, local)
                wait = local - time.monotonic()
                try:
                    if wait > 0:  # the host's turn, reserved: no need to ask again after it
                        await self._sleep(wait)
                except BaseException:  # cancelled while waiting for the turn: not used
                    self._planned.pop(id(got), None)
                    # (nobody waits for this give-back: its failure, if any, is only logged)
                    self._give(got).add_done_callback(_log_failed_give_back)
                    raise
                self.waits.append(time.monotonic() - started)
                return got
            await self._sleep(got)

    def _local_start(self, lease: Lease) -> float:
        """When, on this process's clock, the lease's start comes: never before it. The
        database read its clock (`lease.started - lease.wait`) before the lease came back
        (`lease.taken`), so their difference is at most the offset from the local clock to
        the database's; the largest such bound of the last `OFFSET_WINDOW` seconds is the
        tightest (the quickest round trip). Sleeping `lease.wait` from when the asker resumed,
        as before, sent each reserved request late by the call's round trip and the wake-up
        (the `take` call alone: 0.13 s mean in a busy 3-worker crawl, on 1 s gaps)."""
        bound = (lease.started - lease.wait) - lease.taken
        while self._offsets and self._offsets[0][0] < lease.taken - OFFSET_WINDOW:
            self._offsets.popleft()
        while self._offsets and self._offsets[-1][1] <= bound:
            self._offsets.pop()  # (a deque of decreasing bounds: the front is the largest)
        self._offsets.append((lease.taken, bound))
        return lease.started - self._offsets[0][1]

    async def release(self, ticket: object, *, delay: float) -> None:
        if not isinstance(ticket, Lease):
            return
        ended = time.monotonic()
        self.held.append(ended - ticket.taken)
        asked, planned = self._planned.pop(id(ticket), (ended, ended))
        self.log.append((ticket.host, asked, planned, ended))
        self._done(ticket.host)
        done = self._give(ticket)
        try:
            await done
        except StorageError as exc:  # the slot expires on its own after the lease's ttl
            log.warning("could not give back the lease on %s: %s", ticket.host, exc)

    def _give(self, lease: Lease) -> asyncio.Future[Lease | float]:
        """Queue the lease's give-back for the next batch; a future for its end."""
        done: asyncio.Future[Lease | float] = asyncio.get_running_loop().create_future()
        self._giving.append((lease, time.monotonic(), done))
        self._release_mine(lease.host)  # before the batch starts: the waiter's ask joins it
        self._wake()
        return done

    async def _ask(self, ask: Ask) -> Lease | float:
        answer: asyncio.Future[Lease | float] = asyncio.get_running_loop().create_future()
        self._asking.append((ask, answer))
        self._wake()
        return await answer

    def _wake(self) -> None:
        if self._batcher is None or self._batcher.done():
            self._batcher = asyncio.get_running_loop().create_task(self._batches())

    async def _batches(self) -> None:
        """Send what is waiting, one batch at a time, until nothing is."""
        while self._asking or self._giving:
            asking, self._asking = self._asking, []
            giving, self._giving = self._giving, []
            self.batch_sizes.append(float(len(asking) + len(giving)))
            try:
                sent = time.monotonic()
                answers = await asyncio.get_running_loop().run_in_executor(
                    self._thread,
                    functools.partial(
                        self.leases.take_many,
                        [a for a, _ in asking],
                        ttl=self.ttl,
                        done=[lease for lease, _, _ in giving],
                        ended_ago=[sent - ended for _, ended, _ in giving],
                    ),
                )
            except Exception as exc:  # StorageError: acquire pauses and asks again
                for future in (*(f for _, f in asking), *(f for _, _, f in giving)):
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(asking, answers, strict=True):
                if not future.done():
                    future.set_result(answer)
                elif isinstance(answer, Lease):  # its asker was cancelled: free the host
                    self._giving.append(
                        (answer, time.monotonic(), asyncio.get_running_loop().create_future())
                    )
            for lease, _, future in giving:
                if not future.done():
                    future.set_result(lease)

    def close(self) -> None:
        """Let the batches' thread go (after the crawl: nothing is asked any more)."""
        self._thread.shutdown(wait=False)

    def _release_mine(self, host: str) -> None:
        left = self._mine.get(host, 1) - 1
        if left > 0:
            self._mine[host] = left
        else:
            self._mine.pop(host, None)
        waiting = self._freed.get(host)
        while waiting:
            freed = waiting.pop(0)
            if not freed.done():
                freed.set_result(None)
                break
        if not waiting:
            self._freed.pop(host, None)

    def _done(self, host: str) -> None:
        left = self._busy.get(host, 1) - 1
        if left > 0:
            self._busy[host] = left
        else:
            self._busy.pop(host, None)

    async def _watch_loop(self) -> None:
        """Sample how late the event loop wakes up: a blocked loop delays every fetch."""
        while True:
            before = time.monotonic()
            await asyncio.sleep(0.05)
            self.loop_lag.append(time.monotonic() - before - 0.05)


IDLE_RELEASE = 1.0  # seconds a held host is idle before its release is tried
RELEASE_AGAIN = 5.0  # seconds before a host found not dry is tried again
RELEASE_EVERY = 0.5  # seconds between looks for idle hosts
LAG_EVERY = 0.05  # seconds between samples of the event loop's lateness
CLAIM_RETRY_MAX = 1.0  # longest wait before asking again for a host another worker holds


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
        # what bench_cluster reports, as PgHostGate's
        self.waits: list[float] = []
        self.takes: list[float] = []  # seconds per claim round trip
        self.held: list[float] = []
        self.hosts_busy: list[int] = []
        self.loop_lag: list[float] = []
        self.batch_sizes: list[float] = []
        self.log: list[tuple[str, float, float, float]] = []

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
            except StorageError as exc:
                log.warning("host claims unavailable, pausing %.1f s: %s", pause, exc)
                await self._sleep(pause)
                pause = min(PAUSE_MAX, pause * 2)
                continue
            if wait is None:
                return
            await self._sleep(min(max(wait, RETRY_LOCKED), CLAIM_RETRY_MAX))

    def _idle(self, *, quiet: float, now: float) -> list[tuple[str, _Pace]]:
        idle = []
        for host in self.claims.hosts():
            pace = self._paces.get(host)
            if pace is None or pace.active or pace.waiting or pace.lock.locked():
                continue  # (never sent to here: leased URLs on their way, or not dry)
            if host in self._releasing or now - max(pace.last_start, pace.last_end) < quiet:
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

    async def _watch(self) -> None:
        """Give back idle hosts that ran dry; sample how late the event loop wakes up."""
        loop = asyncio.get_running_loop()
        looked = time.monotonic()
        while True:
            before = time.monotonic()
            await asyncio.sleep(LAG_EVERY)  # (as PgHostGate samples it: the same figure)
            now = time.monotonic()
            self.loop_lag.append(now - before - LAG_EVERY)
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
        idle = [(h, self._paces.get(h) or _Pace()) for h in self.claims.hosts()]
        try:
            self.claiming.release(self._rows(idle, time.monotonic()), dry=False)
        except StorageError as exc:  # they expire on their own
            log.warning("could not give back the hosts held: %s", exc)
        self._thread.shutdown(wait=False)


def _log_failed_give_back(done: asyncio.Future[Lease | float]) -> None:
    if not done.cancelled() and done.exception() is not None:
        log.warning("could not give back an unused lease: %s", done.exception())


class PgRobotsCache:
    """A `RobotsCache` in the catalog: one fetch of each robots.txt for the whole cluster."""

    def __init__(self, leases: HostLeases) -> None:
        self.leases = leases
        # its own threads, not the loop's shared pool (where the host leases' batches queued
        # behind these calls at a run's start, one per host)
        self._threads = ThreadPoolExecutor(2, thread_name_prefix="robots-cache")

    def close(self) -> None:
        self._threads.shutdown(wait=False)

    async def get(self, origin: str) -> tuple[int, bytes] | None:
        """The cached file; else None after claiming its fetch (waiting while another worker
        holds the claim, up to the claim's length)."""
        while True:
            try:
                got = await asyncio.get_running_loop().run_in_executor(
                    self._threads, functools.partial(self.leases.robots, origin, claim_for=CLAIM)
                )
            except StorageError as exc:  # fetch it ourselves: politeness does not depend on it
                log.warning("robots.txt cache unavailable: %s", exc)
                return None
            if not isinstance(got, float):
                return got
            await asyncio.sleep(got)

    async def put(self, origin: str, status: int, body: bytes, *, ttl: float) -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(
                self._threads,
                functools.partial(self.leases.put_robots, origin, status, body, ttl=ttl),
            )
        except StorageError as exc:
            log.warning("robots.txt cache unavailable: %s", exc)
