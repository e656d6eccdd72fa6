"""Politeness across a cluster: host leases and the shared robots.txt cache, in PostgreSQL.

Workers now hold hosts instead (sticky hosts: `HostClaims`, at the end of this module); the
per-request leases below are the earlier scheme, kept for comparison and its tests.

Every worker asks `HostLeases.take(host, delay=...)` before each request. A row per host holds
when its last request started and when its last response ended (`cluster_hosts`); the next
request may start `delay` seconds after the later of the two, with the delay the host has now
(robots.txt may have just raised it), as a single crawler's pacing does (`polite.HostPace`).
A turn a few moments ahead may be granted at once (`Ask.reserve`): the host's last start is
then set to that future time, which holds off every other worker as a start would.
The row is read with `SELECT ... FOR UPDATE SKIP LOCKED`, so a worker never waits on another's
lock: it is told to come back. A
request also needs one of the host's `per_host` slots (`cluster_host_slots`), held until the
response ends and given up then; a slot whose holder died expires after `ttl` seconds, so a
killed worker's hosts free up. All times are the database's clock, one clock for all workers.
The robots.txt of each origin is kept in `cluster_robots` until it expires, so the cluster
fetches it once, not once per worker.

These rows are committed without waiting for the disk (`synchronous_commit = off`): they are
worth nothing after a database crash (a restarted database loses at most the last fraction of
a second of them, while every worker pauses for the outage anyway), and a wait for the disk
on each of the two transactions a request costs would pace the whole cluster by the fsync.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from archive.errors import StorageError

RETRY_LOCKED = 0.05  # seconds to come back after when another worker holds the host's row
NO_DISK_WAIT = "SET LOCAL synchronous_commit = off"


@dataclass(frozen=True, slots=True)
class Lease:
    host: str
    slot: int
    holder: str
    started: float  # database time the request may start
    wait: float = 0.0  # seconds from the grant to that time: the holder sleeps them first
    taken: float = field(default_factory=time.monotonic, compare=False)  # local clock


@dataclass(frozen=True, slots=True)
class Ask:
    """A request to `host` would like to start: its delay and per-host cap. A host whose
    turn comes within `reserve` seconds is granted that turn now (a lease whose start is
    ahead): the request then goes out on time, without asking again after its wait."""

    host: str
    delay: float
    per_host: int
    reserve: float = 0.0


class HostLeases:
    """Host leases on the catalog's pool (see the module docstring)."""

    def __init__(self, pool: ConnectionPool, holder: str) -> None:
        self._pool = pool
        self.holder = holder
        self.queries = 0  # statements sent (benchmarks report queries per page)

    def take(self, host: str, *, delay: float, per_host: int, ttl: float) -> Lease | float:
        """A lease to start a request to `host` now, or the seconds to wait before asking
        again. `delay` is the host's gap between request starts; `ttl` how long a slot stays
        held by a holder that never gives it back."""
        return self.take_many([Ask(host, delay, per_host)], ttl=ttl)[0]

    def give_back(self, lease: Lease) -> None:
        """The response ended: free the slot, and note the end (the next request to the host
        waits its delay from the later of this end and the last start)."""
        self.take_many([], ttl=0.0, done=[lease])

    def take_many(
        self,
        asks: Sequence[Ask],
        *,
        ttl: float,
        done: Sequence[Lease] = (),
        ended_ago: Sequence[float] = (),
    ) -> list[Lease | float]:
        """`give_back` each of `done`, then `take` for each of `asks` (in that order, so a
        host's end is noted before its next request is weighed), in one transaction of a few
        round trips however many there are: a worker with requests to hundreds of hosts in
        flight asks for all of them at once. A host asked for twice is granted once at most;
        the other ask waits the host's delay. `ended_ago`: for each of `done`, how many
        seconds ago its response ended (the end is noted then, not when this batch runs)."""
        ago = list(ended_ago) or [0.0] * len(done)
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute(NO_DISK_WAIT)
                self._give_back(conn, list(zip(done, ago, strict=True)))
                return self._take(conn, asks, ttl) if asks else []
        except psycopg.Error as exc:
            raise StorageError(f"host leases: {exc}") from exc

    def _give_back(
        self, conn: psycopg.Connection[Any], done: Sequence[tuple[Lease, float]]
    ) -> None:
        # in one order for every worker: two batches never wait on each other in a circle
        for lease, ago in sorted(done, key=lambda d: (d[0].host, d[0].slot)):
            self.queries += 1
            # the end as it was, on the database's clock: a batch waiting for the one before
            # it would otherwise add its wait to the host's rest
            conn.execute(
                "WITH freed AS (UPDATE cluster_host_slots SET holder = NULL, expires = 0"
                " WHERE host = %s AND slot = %s AND holder = %s)"
                " UPDATE cluster_hosts SET last_end = GREATEST(last_end,"
                " extract(epoch FROM clock_timestamp())::double precision - %s)"
                " WHERE host = %s",
                (lease.host, lease.slot, lease.holder, max(0.0, ago), lease.host),
            )

    def _take(
        self, conn: psycopg.Connection[Any], asks: Sequence[Ask], ttl: float
    ) -> list[Lease | float]:
        hosts = sorted({a.host for a in asks})
        self.queries += 1
        # pipelined: the give-backs above, BEGIN and this go out in one round trip
        rows = conn.execute(
            "SELECT host, GREATEST(last_start, last_end),"
            " extract(epoch FROM clock_timestamp())::double precision"
            " FROM cluster_hosts WHERE host = ANY(%s) ORDER BY host FOR UPDATE SKIP LOCKED",
            (hosts,),
        ).fetchall()
        since = {str(r[0]): float(r[1]) for r in rows}
        now = float(rows[0][2]) if rows else 0.0
        missing = [h for h in hosts if h not in since]
        if missing:  # hosts never seen, or ones another worker holds this instant
            self.queries += 1
            # only the hosts with no row: a conflict with a row another worker holds would
            # wait for that worker, which may be waiting to give back a host this batch
            # holds (a deadlock PostgreSQL broke by failing one of the two)
            new = conn.execute(
                "INSERT INTO cluster_hosts (host) SELECT q.h FROM unnest(%s::text[]) AS q(h)"
                " WHERE NOT EXISTS (SELECT 1 FROM cluster_hosts c WHERE c.host = q.h)"
                " ON CONFLICT DO NOTHING RETURNING host, GREATEST(last_start, last_end),"
                " extract(epoch FROM clock_timestamp())::double precision",
                (missing,),
            ).fetchall()
            since.update({str(r[0]): float(r[1]) for r in new})
            now = max([now, *(float(r[2]) for r in new)])
        answers: list[Lease | float] = []
        claims: list[tuple[int, Ask, psycopg.Cursor[Any], float]] = []
        asked: set[str] = set()
        for ask in asks:
            if ask.host not in since:
                answers.append(RETRY_LOCKED)
                continue
            ready = since[ask.host] + ask.delay
            if ask.host in asked:  # granted (or tried) just now: its next turn is a delay away
                answers.append(max(ask.delay, RETRY_LOCKED))
                continue
            asked.add(ask.host)
            if ready - now > ask.reserve:
                answers.append(ready - now - ask.reserve)
                continue
            start = max(ready, now)
            self.queries += 1
            # a free slot, and the start noted only if one was free; the answers of all the
            # hosts' claims come back together
            cursor = conn.cursor()
            cursor.execute(
                "WITH s AS (INSERT INTO cluster_host_slots AS s (host, slot, holder, expires)"
                " SELECT %(host)s, n, %(holder)s, %(expires)s FROM"
                " generate_series(0, %(per)s - 1) AS n WHERE NOT EXISTS (SELECT 1 FROM"
                " cluster_host_slots o WHERE o.host = %(host)s AND o.slot = n AND o.holder"
                " IS NOT NULL AND o.expires > %(now)s) ORDER BY n LIMIT 1 ON CONFLICT (host,"
                " slot) DO UPDATE SET holder = excluded.holder, expires = excluded.expires"
                " RETURNING slot), u AS (UPDATE cluster_hosts SET last_start = %(start)s"
                " WHERE host = %(host)s AND EXISTS (SELECT 1 FROM s)) SELECT slot FROM s",
                {
                    "host": ask.host,
                    "holder": self.holder,
                    "expires": now + ttl,
                    "per": ask.per_host,
                    "now": now,
                    "start": start,
                },
            )
            claims.append((len(answers), ask, cursor, start))
            answers.append(RETRY_LOCKED)
        for index, ask, cursor, start in claims:
            slot = cursor.fetchone()
            if slot is not None:  # else every slot is busy: the earliest may end any moment
                answers[index] = Lease(ask.host, int(slot[0]), self.holder, start, start - now)
        return answers

    def robots(self, origin: str, *, claim_for: float = 0.0) -> tuple[int, bytes] | float | None:
        """(status, body) of the origin's robots.txt as a worker fetched it, until it expires.

        On a miss with `claim_for` > 0, the caller claims the fetch for that many seconds and
        gets None (fetch it, then `put_robots`); a worker asking while another holds the claim
        gets the seconds to wait before asking again, so the cluster fetches it once.
        """
        self.queries += 1
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(NO_DISK_WAIT)
                row = conn.execute(
                    "SELECT status, body, expires - extract(epoch FROM clock_timestamp())"
                    "::double precision FROM cluster_robots WHERE origin = %s FOR UPDATE",
                    (origin,),
                ).fetchone()
                if row is not None and float(row[2]) > 0:
                    if int(row[0]) >= 0:
                        return int(row[0]), bytes(row[1])
                    return min(0.2, float(row[2]))  # another worker is fetching it now
                if claim_for > 0:
                    conn.execute(
                        "INSERT INTO cluster_robots VALUES (%s, -1, '', extract(epoch FROM"
                        " clock_timestamp())::double precision + %s) ON CONFLICT (origin)"
                        " DO UPDATE SET status = -1, body = '', expires = excluded.expires",
                        (origin, claim_for),
                    )
        except psycopg.Error as exc:
            raise StorageError(f"robots.txt cache: {exc}") from exc
        return None

    def put_robots(self, origin: str, status: int, body: bytes, *, ttl: float) -> None:
        self.queries += 1
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(NO_DISK_WAIT)
                conn.execute(
                    "INSERT INTO cluster_robots VALUES (%s, %s, %s,"
                    " extract(epoch FROM clock_timestamp())::double precision + %s)"
                    " ON CONFLICT (origin) DO UPDATE SET status = excluded.status,"
                    " body = excluded.body, expires = excluded.expires",
                    (origin, status, body, ttl),
                )
        except psycopg.Error as exc:
            raise StorageError(f"robots.txt cache: {exc}") from exc


# Sticky hosts: a worker claims a host (`cluster_hosts.holder`) and paces it in memory, with no
# round trip per request; the frontier (`frontier_pg.PgFrontier.lease`) claims hosts and
# renews the claims with its URL leases, `HostLeases.claim` claims one host a worker must
# fetch from without having leased its URLs (a redirect), and `HostLeases.release` writes the
# host's last start and end back and drops the claim once it ran dry.

CLAIM_MARGIN = 0.1  # share of a claim's lifetime before its expiry at which the holder stops


@dataclass(slots=True)
class Claim:
    """A host this worker holds. Local times (`time.monotonic`): `since`, when the statement
    that claimed or last renewed it was sent (the database's expiry is `ttl` after a moment
    no earlier); `after`, the previous holder's last activity (its last start or end, or its
    claim's expiry if it never gave the host back): the first request waits its delay from
    there."""

    since: float
    after: float
    source: str | None = None


class HostClaims:
    """The hosts one worker holds, shared by its frontier (which claims them and renews the
    claims, in its crawl's threads) and its host gate (which paces them, on the event loop)."""

    def __init__(self, holder: str, ttl: float) -> None:
        self.holder = holder
        self.ttl = ttl
        self.margin = max(0.5, CLAIM_MARGIN * ttl)
        self._lock = threading.Lock()
        self._held: dict[str, Claim] = {}
        self._released: dict[str, float] = {}  # host -> local time its release came back

    def valid_until(self, host: str) -> float | None:
        """The local time to stop starting requests to `host` unless renewed; None if not
        held."""
        with self._lock:
            claim = self._held.get(host)
            return None if claim is None else claim.since + self.ttl - self.margin

    def after(self, host: str) -> float:
        with self._lock:
            claim = self._held.get(host)
            return -math.inf if claim is None else claim.after

    def source_of(self, host: str) -> str | None:
        with self._lock:
            claim = self._held.get(host)
            return None if claim is None else claim.source

    def hosts(self) -> list[str]:
        with self._lock:
            return list(self._held)

    def note(
        self,
        rows: Sequence[tuple[str, float | None, float]],
        *,
        sent: float,
        received: float,
        source: str | None = None,
        complete: bool = True,
    ) -> None:
        """What a claiming statement sent at `sent` returned at `received`: (host, the
        previous holder's last activity on the database's clock or None for a renewal, the
        database's clock). `complete`: the rows are every host this worker holds (a renewal
        of all of them), so a host missing was lost (another worker took it after it
        expired)."""
        with self._lock:
            got: set[str] = set()
            for host, ready, now in rows:
                if ready is None and self._released.get(host, -math.inf) > sent:
                    continue  # renewed before its release committed: no longer ours
                got.add(host)
                claim = self._held.get(host)
                # on the local clock, no earlier than it is: the database read `now` before
                # the answer came back
                after = -math.inf if ready is None else received - (now - ready)
                if claim is None:
                    self._held[host] = Claim(sent, after, source)
                else:
                    claim.since = max(claim.since, sent)
                    claim.after = max(claim.after, after)
                    claim.source = claim.source or source
            if complete:
                for host in [h for h, c in self._held.items() if h not in got and c.since < sent]:
                    del self._held[host]

    def dropped(self, hosts: Sequence[str], *, received: float) -> None:
        """`hosts` were given back (`HostLeases.release`)."""
        with self._lock:
            for host in hosts:
                self._held.pop(host, None)
                self._released[host] = received


def claim_rows(rows: Sequence[tuple[Any, ...]]) -> list[tuple[str, float | None, float]]:
    return [(str(r[0]), None if r[1] is None else float(r[1]), float(r[2])) for r in rows]


# the database's clock, read once per statement
DB_NOW = "extract(epoch FROM clock_timestamp())::double precision"
# a host's rest starts at the later of its last start and end, and of its previous holder's
# claim's expiry when that holder never gave it back (it may have sent up to then)
READY = (
    "GREATEST(c.last_start, c.last_end, CASE WHEN c.holder IS NULL THEN 0"
    " ELSE c.holder_expires END)"
)


def renew_claims(conn: psycopg.Connection[Any], holder: str, ttl: float) -> psycopg.Cursor[Any]:
    """Renew every claim of `holder` (in the caller's transaction); rows for `HostClaims.note`."""
    return conn.execute(
        f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t) UPDATE cluster_hosts SET"
        " holder_expires = (SELECT t FROM now) + %s WHERE holder = %s"
        " RETURNING host, NULL::double precision, (SELECT t FROM now)",
        (ttl, holder),
    )


class HostClaiming:
    """`HostLeases`' statements for sticky hosts (see `HostClaims`)."""

    def __init__(self, pool: ConnectionPool, claims: HostClaims) -> None:
        self._pool = pool
        self.claims = claims
        self.queries = 0

    def claim(self, host: str) -> float | None:
        """Claim `host` for this worker (or renew the claim): None when it is ours now (the
        claims are noted), else the seconds until another worker's claim on it expires."""
        claims = self.claims
        self.queries += 1
        sent = time.monotonic()
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute(NO_DISK_WAIT)
                conn.execute(
                    "INSERT INTO cluster_hosts (host) VALUES (%s) ON CONFLICT DO NOTHING",
                    (host,),
                )
                row = conn.execute(
                    f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t), c AS (SELECT * FROM"
                    " cluster_hosts WHERE host = %(h)s FOR UPDATE), u AS (UPDATE cluster_hosts"
                    " SET holder = %(me)s, holder_expires = (SELECT t FROM now) + %(ttl)s"
                    " FROM c WHERE cluster_hosts.host = c.host AND (c.holder IS NULL OR"
                    " c.holder = %(me)s OR c.holder_expires <= (SELECT t FROM now))"
                    f" RETURNING 1) SELECT (SELECT count(*) FROM u), CASE WHEN c.holder ="
                    f" %(me)s THEN GREATEST(c.last_start, c.last_end) ELSE {READY} END,"
                    " (SELECT t FROM now), c.holder_expires - (SELECT t FROM now) FROM c",
                    {"h": host, "me": claims.holder, "ttl": claims.ttl},
                ).fetchone()
        except psycopg.Error as exc:
            raise StorageError(f"host claims: {exc}") from exc
        received = time.monotonic()
        if row is None or not int(row[0]):
            return max(0.0, float(row[3])) if row is not None else RETRY_LOCKED
        claims.note(
            [(host, float(row[1]), float(row[2]))], sent=sent, received=received, complete=False
        )
        return None

    def release(
        self, hosts: Sequence[tuple[str, str | None, float, float]], *, dry: bool
    ) -> list[str]:
        """Give back hosts this worker holds: (host, the source whose URLs it was claimed
        for, seconds since its last request started, since its last response ended). With
        `dry`, only those with no URL of that source queued or leased. The hosts given back."""
        if not hosts:
            return []
        self.queries += 1
        dry_only = (
            " AND NOT EXISTS (SELECT 1 FROM frontier_urls f WHERE f.source = q.s AND f.host"
            " = q.h AND f.state IN ('queued', 'leased'))"
            if dry
            else ""
        )
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute(NO_DISK_WAIT)
                # the start and end as they were, on the database's clock, and no earlier
                rows = conn.execute(
                    f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t) UPDATE cluster_hosts c"
                    " SET holder = NULL, holder_expires = 0, last_start = GREATEST("
                    "c.last_start, (SELECT t FROM now) - q.a), last_end = GREATEST(c.last_end,"
                    " (SELECT t FROM now) - q.e) FROM unnest(%s::text[], %s::text[],"
                    " %s::double precision[], %s::double precision[]) AS q(h, s, a, e)"
                    " WHERE c.host = q.h AND c.holder = %s" + dry_only + " RETURNING c.host",
                    (
                        [h[0] for h in hosts],
                        [h[1] or "" for h in hosts],
                        [max(0.0, h[2]) for h in hosts],
                        [max(0.0, h[3]) for h in hosts],
                        self.claims.holder,
                    ),
                ).fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"host claims: {exc}") from exc
        released = [str(r[0]) for r in rows]
        self.claims.dropped(released, received=time.monotonic())
        return released
