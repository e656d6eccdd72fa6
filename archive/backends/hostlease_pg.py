"""Politeness across a cluster: host leases and the shared robots.txt cache, in PostgreSQL.

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
