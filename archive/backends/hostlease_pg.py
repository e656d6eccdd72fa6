"""Politeness across a cluster in PostgreSQL: sticky host claims and the shared robots.txt
cache.

A worker holds a host (`cluster_hosts.holder`, until `holder_expires`) and paces it in its own
memory (`HostClaims`, below; the gate is `scraper.cluster.politeness.StickyHostGate`): the
frontier (`frontier_pg.PgFrontier.lease`) claims hosts and renews the claims with its URL
leases, `HostClaiming.claim` claims one host a worker must fetch from without having leased
its URLs (a redirect), and `HostClaiming.release` writes the host's last start and end back
and drops the claim once it ran dry. All times in these rows are the database's clock, one
clock for all workers. The robots.txt of each origin is kept in `cluster_robots` until it
expires, so the cluster fetches it once, not once per worker (`ClusterRobots`).

These rows are committed without waiting for the disk (`synchronous_commit = off`): they are
worth nothing after a database crash (a restarted database loses at most the last fraction of
a second of them, while every worker pauses for the outage anyway).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from archive.backends.frontier import UnsentUrls
from archive.errors import StorageError

RETRY_LOCKED = 0.05  # seconds to come back after when another worker holds the host's claim
NO_DISK_WAIT = "SET LOCAL synchronous_commit = off"


class ClusterRobots:
    """The robots.txt cache shared by a cluster's workers (`cluster_robots`)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self._pool = pool
        self.queries = 0  # statements sent

    def get(
        self, origin: str, *, claim_for: float = 0.0, take: bool = False
    ) -> tuple[int, bytes] | float | None:
        """(status, body) of the origin's robots.txt as a worker fetched it, until it expires.

        On a miss with `claim_for` > 0, the caller claims the fetch for that many seconds and
        gets None (fetch it, then `put`); a worker asking while another holds the claim
        gets the seconds to wait before asking again, so the cluster fetches it once. With
        `take`, the caller holds the origin's host (sticky hosts): no other worker sends to
        it, so another's claim is stale (that worker stalled or died holding the host, which
        then went to the caller) and is taken over rather than waited out.
        """
        self.queries += 1
        # one round trip (pipelined): the claim is taken in the same transaction, after the
        # row's lock, only where the row read found none alive (one clock for both: the
        # transaction's), and it is ours only if the insert says so: another worker that
        # claimed the fetch the same instant (no row to lock yet) keeps it
        now = "extract(epoch FROM now())::double precision"
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute(NO_DISK_WAIT)
                read = conn.execute(
                    f"SELECT status, body, expires - {now} FROM cluster_robots"
                    " WHERE origin = %s FOR UPDATE",
                    (origin,),
                )
                claim = None
                if claim_for > 0:
                    claim = conn.execute(
                        f"INSERT INTO cluster_robots AS r VALUES (%s, -1, '', {now} + %s)"
                        " ON CONFLICT (origin) DO UPDATE SET status = -1, body = '', expires ="
                        f" excluded.expires WHERE r.expires <= {now} OR (%s AND r.status < 0)"
                        " RETURNING 1",
                        (origin, claim_for, take),
                    )
                row = read.fetchone()
                claimed = claim is not None and claim.fetchone() is not None
        except psycopg.Error as exc:
            raise StorageError(f"robots.txt cache: {exc}") from exc
        if row is not None and float(row[2]) > 0 and int(row[0]) >= 0:
            return int(row[0]), bytes(row[1])
        if claimed:
            return None
        if row is not None and float(row[2]) > 0:
            return min(0.2, float(row[2]))  # another worker is fetching it now
        if claim is not None:
            return RETRY_LOCKED  # claimed by another worker as this one asked
        return None

    def put(self, origin: str, status: int, body: bytes, *, ttl: float) -> None:
        self.queries += 1
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
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
    claims, in its crawl's threads) and its host gate (which paces them, on the event loop).

    Each lease also says the fair share of hosts (`frontier_pg.PgFrontier._claim_hosts`): a
    worker that holds more hands the surplus back (`to_hand_back`), so one that arrived after
    every host was claimed gets some. The gate picks the hosts (`leave`): from then on the
    crawl starts none of their URLs (those not started are withdrawn from it, kept here and
    renewed until they are queued again) and the frontier leases none; once none of their
    requests is in flight they are given back with their last start and end, and those URLs
    queued again, in one transaction (`HostClaiming.release`)."""

    def __init__(self, holder: str, ttl: float) -> None:
        self.holder = holder
        self.ttl = ttl
        self.margin = max(0.5, CLAIM_MARGIN * ttl)
        self._lock = threading.Lock()
        self._held: dict[str, Claim] = {}
        self._released: dict[str, float] = {}  # host -> local time its release came back
        # host -> the last local time this worker's hold on it broke: it gave the host back,
        # found it taken, or claimed it from no holder or another (see `broken_since`)
        self._broken: dict[str, float] = {}
        self._share: int | None = None  # the fair share at the last lease
        # hosts being handed back -> (the source, keys of its leased URLs not started)
        self._leaving: dict[str, tuple[str, list[str]]] = {}
        self._orphans: list[tuple[str, str]] = []  # see `divert`
        # the crawl's URLs not started, by host (set by the crawl: `HandsBackHosts`)
        self.urls: UnsentUrls | None = None

    def to_hand_back(self) -> int:
        """How many more hosts to hand back: those held over the fair share, less those
        already on their way back. Hysteresis: a share rounds up, and a host is handed back
        only once its requests in flight ended (the gate's), so a worker at its share keeps
        every host it holds, and one that gave hosts back claims none again unless the share
        grows."""
        with self._lock:
            if self._share is None:
                return 0
            return max(0, len(self._held) - self._share - len(self._leaving))

    def leave(self, host: str, source: str, keys: list[str]) -> None:
        with self._lock:
            self._leaving[host] = (source, keys)

    def leaving_hosts(self) -> list[str]:
        with self._lock:
            return list(self._leaving)

    def leaving(self) -> dict[str, tuple[str, list[str]]]:
        with self._lock:
            return dict(self._leaving)

    def leaving_keys(self, source: str) -> list[str]:
        with self._lock:
            return [k for s, keys in self._leaving.values() if s == source for k in keys]

    def withdrawn(self, source: str) -> int:
        """How many leased URLs of `source` wait here to be queued again (of hosts on their
        way back, and `orphans`). A host's keys stay in `_leaving` until its hand-back committed
        (`left`), so counted before the queue, each is seen at least once."""
        with self._lock:
            leaving = sum(len(keys) for s, keys in self._leaving.values() if s == source)
            return leaving + sum(1 for s, _ in self._orphans if s == source)

    def divert(self, source: str, urls: Sequence[tuple[str, str]]) -> set[str]:
        """Of (host, key) of URLs a lease just gave, the keys not to start: of a host being
        handed back (queued again with its others) or no longer held (handed back while the
        lease was on its way: queued again at the gate's next look, `orphans`)."""
        drop: set[str] = set()
        with self._lock:
            for host, key in urls:
                leaving = self._leaving.get(host)
                if leaving is not None:
                    leaving[1].append(key)
                elif host not in self._held:
                    self._orphans.append((source, key))
                else:
                    continue
                drop.add(key)
        return drop

    def orphans(self) -> list[tuple[str, str]]:
        """(source, key) of leased URLs to queue again (`divert`), taken."""
        with self._lock:
            taken, self._orphans = self._orphans, []
            return taken

    def requeue_later(self, urls: Sequence[tuple[str, str]]) -> None:
        """`orphans` not queued again yet (the database was unreachable)."""
        with self._lock:
            self._orphans.extend(urls)

    def left(self, hosts: Sequence[str], requeued: set[tuple[str, str]]) -> None:
        """`hosts` were handed back, with the URLs `requeued`; those a lease gave while that
        was on its way (`divert`) are queued again at the gate's next look."""
        with self._lock:
            for host in hosts:
                source, keys = self._leaving.pop(host, ("", []))
                self._orphans += [(source, k) for k in keys if (source, k) not in requeued]

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

    def broken_since(self, host: str) -> float:
        """The last local time this worker's hold on `host` broke (-inf if never): a URL of it
        leased before then may have been leased by the host's holder since (its lease
        expired while this worker was stalled), so this worker must not fetch it. A hold that
        lapsed and was renewed, or claimed again from this worker itself, did not break: no
        other worker held the host meanwhile, and only its holder leases its URLs."""
        with self._lock:
            return self._broken.get(host, -math.inf)

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
        share: int | None = None,
        fresh: bool = True,
    ) -> None:
        """What a claiming statement sent at `sent` returned at `received`: (host, the
        previous holder's last activity on the database's clock or None for a renewal, the
        database's clock). `complete`: the rows are every host this worker holds (a renewal
        of all of them), so a host missing was lost (another worker took it after it
        expired). `share`: the fair share of hosts a lease found. `fresh`: the rows with a
        previous holder's activity were claimed from no holder or another worker, not from
        this one (a hold that lapsed): the hold breaks there (`broken_since`)."""
        with self._lock:
            if share is not None:
                self._share = share
            got: set[str] = set()
            for host, ready, now in rows:
                if ready is None and self._released.get(host, -math.inf) > sent:
                    continue  # renewed before its release committed: no longer ours
                got.add(host)
                claim = self._held.get(host)
                # on the local clock, no earlier than it is: the database read `now` before
                # the answer came back
                after = -math.inf if ready is None else received - (now - ready)
                if ready is not None and fresh:
                    self._broken[host] = sent
                if claim is None:
                    self._held[host] = Claim(sent, after, source)
                else:
                    claim.since = max(claim.since, sent)
                    claim.after = max(claim.after, after)
                    claim.source = claim.source or source
            if complete:
                for host in [h for h, c in self._held.items() if h not in got and c.since < sent]:
                    del self._held[host]
                    self._broken[host] = sent

    def dropped(self, hosts: Sequence[str], *, received: float) -> None:
        """`hosts` were given back (`HostClaiming.release`)."""
        with self._lock:
            for host in hosts:
                self._held.pop(host, None)
                self._released[host] = received
                self._broken[host] = received


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
                    " (SELECT t FROM now), c.holder_expires - (SELECT t FROM now),"
                    " c.holder IS DISTINCT FROM %(me)s FROM c",
                    {"h": host, "me": claims.holder, "ttl": claims.ttl},
                ).fetchone()
        except psycopg.Error as exc:
            raise StorageError(f"host claims: {exc}") from exc
        received = time.monotonic()
        if row is None or not int(row[0]):
            return max(0.0, float(row[3])) if row is not None else RETRY_LOCKED
        claims.note(
            [(host, float(row[1]), float(row[2]))],
            sent=sent,
            received=received,
            complete=False,
            fresh=bool(row[4]),
        )
        return None

    def release(
        self,
        hosts: Sequence[tuple[str, str | None, float, float]],
        *,
        dry: bool,
        requeue: Sequence[tuple[str, str]] = (),
        retire: bool = False,
    ) -> list[str]:
        """Give back hosts this worker holds: (host, the source whose URLs it was claimed
        for, seconds since its last request started, since its last response ended). With
        `dry`, only those with no URL of that source queued or leased. `requeue`: (source,
        key) of URLs this worker leased and will not start (of hosts it hands back), queued
        again in the same transaction, so the next holder leases them (those it still holds:
        `frontier_urls.leased_by`). `retire`: this crawler
        ends, and counts no more in the hosts' fair share. The hosts given back."""
        if not hosts and not requeue and not retire:
            return []
        self.queries += 1
        dry_only = (
            " AND NOT EXISTS (SELECT 1 FROM frontier_urls f WHERE f.source = q.s AND f.host"
            " = q.h AND f.state IN ('queued', 'leased'))"
            if dry
            else ""
        )
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute(NO_DISK_WAIT)
                if requeue:  # (the URLs' rows first, then the hosts': as a renewal does)
                    # only those this crawler still holds: a hand-back tried again after a
                    # commit whose answer was lost finds them leased by the host's next holder
                    conn.execute(
                        "UPDATE frontier_urls f SET state = 'queued' FROM unnest(%s::text[],"
                        " %s::text[]) AS r(s, k) WHERE f.source = r.s AND f.key = r.k AND"
                        " f.state = 'leased' AND f.leased_by = %s",
                        ([s for s, _ in requeue], [k for _, k in requeue], self.claims.holder),
                    )
                if retire:
                    conn.execute(
                        "DELETE FROM cluster_workers WHERE holder = %s", (self.claims.holder,)
                    )
                # the start and end as they were, on the database's clock, and no earlier
                cursor = conn.execute(
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
                )
            rows = cursor.fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"host claims: {exc}") from exc
        released = [str(r[0]) for r in rows]
        self.claims.dropped(released, received=time.monotonic())
        return released
