"""The crawl frontier on PostgreSQL: the `Frontier` interface over the catalog's database.

The same rules as the SQLite frontier (`frontier_sqlite.py`, whose docstrings explain them):
every found URL deduplicated per source by `url_key`, state committed as soon as it is known,
leased URLs of a dead run queued again by the next `begin_run`. What differs is that many
workers lease from one source at once: `lease` takes rows with `FOR UPDATE SKIP LOCKED`, so
two workers never get the same URL and neither waits for the other. The tables are created by
the catalog's migrations (`catalog_pg_schema.py`).

Its transactions commit without waiting for the disk (`synchronous_commit = off`; the
catalog's stay durable). What a database crash can take back is the last fraction of a second
of URL states, and each such loss is harmless: a URL whose 'done' is lost is fetched again and
the catalog, committed durably before, files it as unchanged; a lost discovery is found again
in its feed. Waiting for an fsync on each of the few frontier commits a page costs would
otherwise hold the crawl's event loop for most of a page's time.

In a cluster a URL's lease carries its holder (`leased_by`, this frontier's `holder`): a
crawler whose lease expired, and whose URL another crawler may hold since, no longer queues
it again, marks it failed or renews it; its "done" is kept (its page is stored). Each
crawler's part of a run is kept apart (`frontier_run_crawlers`) and the run labelled from
all of them when the last live one ends (`end_run`), or, when a killed crawler still counted
as live then, by the first reader of the run once it no longer does (`settle_runs`).

`lease` hands out URLs of many hosts before a second URL of any one host (by `host_seq`, a
URL's rank among the URLs of its host that one listing added): a worker's pages in flight
then wait for many hosts' turns at once rather than queueing behind one host's delay.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg_pool import ConnectionPool

from archive.backends.frontier import (
    LOST,
    MAX_ATTEMPTS,
    MAX_PAGES_PER_TEMPLATE,
    PRIORITY,
    START_PRIORITY,
    Entry,
    Item,
    Kind,
    Revisit,
    State,
    UnsentUrls,
    merged_status,
)
from archive.backends.frontier_sqlite import Finish, finish_statement, grouped_finishes
from archive.backends.hostlease_pg import DB_NOW, READY, HostClaims, claim_rows, renew_claims
from archive.errors import StorageError
from archive.urls import normalize_url, url_key

Conn = psycopg.Connection[Any]
RUN_LOCK = 0x6D6F7272  # advisory lock class of `begin_run` (its second key: the source)
CLAIM_FEW = 16  # hosts a lease claims at most: a worker that starts first does not take all
CLAIM_ALONE_PAUSE = 0.05  # seconds between claiming leases of a crawler that knows no other
# whether crawler c's part of the run goes on (in SQL, with the database's time as now.t and
# the lease lifetime as %(ttl)s): it has not ended, and it began within a lease's lifetime,
# or is alive as its sticky hosts' crawler (`cluster_workers`), or holds a live URL lease
CRAWLING = (
    "c.finished_at IS NULL AND (c.seen > now.t - %(ttl)s OR EXISTS (SELECT 1 FROM"
    " cluster_workers w WHERE w.holder = c.crawler AND w.expires > now.t) OR EXISTS (SELECT 1"
    " FROM frontier_urls f WHERE f.source = c.source AND f.state = 'leased' AND f.leased_by ="
    " c.crawler AND f.leased_at > now.t - %(ttl)s))"
)
# the same for a reader that does not know the lease lifetime (`settle_runs`): going unless
# its crawler's heartbeat in `cluster_workers` expired a while ago. Each lease and renewal
# writes that row's expiry in the transaction that times the URL leases (a lease's a few
# milliseconds before them: the slack), after the part began, so a part this calls dead
# CRAWLING calls dead too (a crawler without the row, or whose row was cleared, goes on)
HEARTBEAT_SLACK = 5.0
CRAWLING_UNTIMED = (
    "c.finished_at IS NULL AND NOT EXISTS (SELECT 1 FROM cluster_workers w WHERE w.holder ="
    f" c.crawler AND w.expires <= now.t - {HEARTBEAT_SLACK})"
)


class PgFrontier:
    """The frontier in PostgreSQL, on connections from the catalog's pool."""

    def __init__(
        self, pool: ConnectionPool, url: str = "postgresql", *, lease_ttl: float | None = None
    ) -> None:
        """`lease_ttl`: None for one crawl at a time (a new run takes back every lease, as on
        SQLite); in a cluster, the seconds after which a URL leased by a worker that never
        reported back (killed) is handed out again, while other workers' leases are left alone.
        """
        self._pool = pool
        self._url = url
        self._run_started: dict[str, float] = {}
        self.lease_ttl = lease_ttl
        # a cluster worker's sticky hosts: `lease` hands out only URLs of hosts it holds
        # (claimed with the lease, `hostlease_pg.HostClaims`); None: any host's URLs
        self.host_claims: HostClaims | None = None
        # this crawler's name when it holds no sticky hosts (else theirs): its URL leases
        # and its part of a run are marked with it
        self._crawler = f"crawler-{uuid.uuid4().hex[:16]}"
        self._claims_more: dict[str, float | None] = {}  # per source: see `claims_more`
        # one of this crawler's lease and renewal transactions at a time: both lock its
        # host rows (a lease's in the order its plan reads them, its `cluster_workers` row
        # last) and, run at once from the crawl's threads, they deadlocked under load (the
        # renewal lost); a lease waits a renewal's round trip at most
        self._own_rows = threading.Lock()

    @property
    def holder(self) -> str:
        """Who this frontier's crawler is to the others (`frontier_urls.leased_by`)."""
        claims = self.host_claims
        return self._crawler if claims is None else claims.holder

    def _mine(self) -> str:
        """The condition, for a URL row, that this crawler still holds its lease (in a
        cluster: one whose lease expired may have seen it leased by another since); its
        parameter is `holder`. Empty without lease lifetimes: one crawl at a time."""
        return "" if self.lease_ttl is None else " AND state = 'leased' AND leased_by = %s"

    def _me(self) -> tuple[str, ...]:
        return () if self.lease_ttl is None else (self.holder,)

    def close(self) -> None:
        """Nothing to close: the pool belongs to the catalog."""

    def __enter__(self) -> PgFrontier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[Conn]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc

    def _write(self, sql: str, args: tuple[Any, ...]) -> None:
        """One write in its own transaction, sent in one round trip (pipeline mode: BEGIN,
        the setting, the write and COMMIT go out together); a URL's state changes this way
        once or twice per page, from the crawl's event loop."""
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")
                conn.execute(sql, args)
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc

    def _expired_before(self, db: Conn) -> float:
        """Leases taken at or before this database time have expired (all, without a TTL)."""
        return _db_now(db) - self.lease_ttl if self.lease_ttl is not None else float("inf")

    def _rows(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            with self._pool.connection() as conn:
                return conn.execute(sql, args).fetchall()
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc

    def begin_run(
        self,
        source: str,
        *,
        now: float,
        starts: Iterable[tuple[str, Kind]],
        revisit: Revisit | None = None,
    ) -> int:
        """Prepare a run (see SqliteFrontier.begin_run). Returns how many URLs are queued."""
        self._run_started[source] = now
        with self._tx() as db:
            # one worker at a time begins a source's run: two that start together would both
            # find no run under way, and the second would queue again the start points the
            # first had already leased (every feed of the source fetched twice)
            db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RUN_LOCK, source))
            if self._joins_a_run(db, source, now):
                self._crawler_begins(db, source, now, new_run=False)
                return self._queued(db, source)
            self._crawler_begins(db, source, now, new_run=True)
            db.execute(
                "INSERT INTO frontier_runs VALUES (%s, %s, NULL, 'running') ON CONFLICT (source)"
                " DO UPDATE SET started_at = excluded.started_at, finished_at = NULL,"
                " status = 'running'",
                (source, now),
            )
            db.execute(
                "UPDATE frontier_urls SET state = 'queued' WHERE source = %s AND"
                " ((state = 'leased' AND COALESCE(leased_at, 0) <= %s)"
                " OR (state = 'retry' AND attempts < %s))",
                (source, self._expired_before(db), MAX_ATTEMPTS),
            )
            # (not those leased: their leases live, held by crawlers of an earlier run that
            # go on; queued again, a second crawler would fetch them while the first does)
            db.execute(
                "UPDATE frontier_urls SET state = 'queued' WHERE source = %s AND start > 0"
                " AND state NOT IN ('queued', 'leased')",
                (source,),
            )
            points = [Entry(url, kind, 0) for url, kind in starts]
            for entry, rank in zip(points, _host_ranks(points), strict=True):
                self._insert(db, source, entry, now, start=True, host_seq=rank)
            self._note_hosts(db, [entry.url for entry in points])
            if revisit is not None:
                db.execute(
                    "UPDATE frontier_urls SET state = 'queued' WHERE source = %s AND"
                    " state = 'done' AND kind = 'article' AND COALESCE(published, first_fetched)"
                    " >= %s AND fetched_at <= %s",
                    (source, now - revisit.max_age, now - revisit.every),
                )
            return self._queued(db, source)

    def _queued(self, db: Conn, source: str) -> int:
        row = db.execute(
            "SELECT COUNT(*) FROM frontier_urls WHERE source = %s AND state = 'queued'",
            (source,),
        ).fetchone()
        return int(row[0]) if row else 0

    def _joins_a_run(self, db: Conn, source: str, now: float) -> bool:
        """In a cluster, a worker whose job starts while another worker's run of the source is
        under way (begun within a lease's lifetime, not ended) joins that run: it takes back
        only expired leases, and does not queue the start points a second time."""
        if self.lease_ttl is None:
            return False
        row = db.execute(
            "SELECT started_at FROM frontier_runs WHERE source = %s AND status = 'running'"
            " FOR UPDATE",
            (source,),
        ).fetchone()
        if row is None or float(row[0]) < now - self.lease_ttl:
            return False
        self._run_started[source] = float(row[0])
        db.execute(
            "UPDATE frontier_urls SET state = 'queued' WHERE source = %s AND state = 'leased'"
            " AND COALESCE(leased_at, 0) <= %s",
            (source, self._expired_before(db)),
        )
        return True

    def _crawler_begins(self, db: Conn, source: str, now: float, *, new_run: bool) -> None:
        """In a cluster, note this crawler's part of the run (`end_run` merges the parts);
        a new run first forgets the parts of earlier runs that ended, or whose crawler died
        (those still going take part in this one: they lease from the same queue). One crawl
        at a time forgets them all: a cluster reader would label its run from them
        (`settle_runs`)."""
        if self.lease_ttl is None:
            db.execute("DELETE FROM frontier_run_crawlers WHERE source = %s", (source,))
            return
        args = {"s": source, "me": self.holder, "now": now, "ttl": self.lease_ttl}
        if new_run:
            db.execute(
                f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t) DELETE FROM"
                f" frontier_run_crawlers c USING now WHERE c.source = %(s)s AND NOT ({CRAWLING})",
                args,
            )
        db.execute(
            f"INSERT INTO frontier_run_crawlers VALUES (%(s)s, %(me)s, %(now)s, {DB_NOW}, NULL,"
            " 'running') ON CONFLICT (source, crawler) DO UPDATE SET started_at ="
            " excluded.started_at, seen = excluded.seen, finished_at = NULL, status = 'running'",
            args,
        )

    def end_run(self, source: str, *, now: float, status: str) -> None:
        """End this crawler's part of the run. Without lease lifetimes (one crawl at a time)
        that is the run. In a cluster the run ends when the last of its live crawlers does,
        with a label merged from all of theirs (`frontier.merged_status`): the last one to end
        wrote its own, and a worker's "ok" took the place of a stopped one's "stopped"."""
        if self.lease_ttl is None:
            self._write(
                "UPDATE frontier_runs SET finished_at = %s, status = %s WHERE source = %s",
                (now, status, source),
            )
            return
        args = {"s": source, "me": self.holder, "now": now, "st": status, "ttl": self.lease_ttl}
        with self._tx() as db:
            # one at a time with the source's other ends and begins: two crawlers ending
            # together would each see the other still going, and neither end the run
            db.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RUN_LOCK, source))
            db.execute(
                f"INSERT INTO frontier_run_crawlers VALUES (%(s)s, %(me)s, %(now)s, {DB_NOW},"
                " %(now)s, %(st)s) ON CONFLICT (source, crawler) DO UPDATE SET finished_at ="
                " excluded.finished_at, status = excluded.status",
                args,
            )
            _label_run(db, source, self.lease_ttl, finished_at=now)

    def last_run(self, source: str) -> tuple[float, float | None, str] | None:
        """The source's run; in a cluster, one still "running" whose crawlers all ended or
        died is labelled first (`settle_runs`)."""
        settle_runs(self._pool, [source], self.lease_ttl)
        rows = self._rows(
            "SELECT started_at, finished_at, status FROM frontier_runs WHERE source = %s",
            (source,),
        )
        return None if not rows else (rows[0][0], rows[0][1], rows[0][2])

    def _insert(
        self, db: Conn, source: str, entry: Entry, now: float, *, start: bool, host_seq: int
    ) -> bool:
        url = normalize_url(entry.url)
        cursor = db.execute(
            "INSERT INTO frontier_urls (source, key, url, kind, depth, priority, state, start,"
            " discovered_at, published, host_seq, host)"
            " VALUES (%s, %s, %s, %s, %s, %s, 'queued', %s, %s, %s, %s, %s)"
            " ON CONFLICT (source, key) DO NOTHING",
            (
                source,
                url_key(url),
                url,
                entry.kind.value,
                entry.depth,
                min(PRIORITY[entry.kind], START_PRIORITY) if start else PRIORITY[entry.kind],
                1 if start else 2 if entry.refresh else 0,
                now,
                entry.published,
                host_seq,
                host_of(url),
            ),
        )
        return cursor.rowcount == 1

    def add(
        self, source: str, entries: Iterable[Entry], *, now: float, refresh_after: float
    ) -> list[str]:
        """Queue what discovery found; the keys of URLs never seen before (see SqliteFrontier).

        The URLs are inserted in one statement (a feed's 20 articles were 20 round trips on
        the crawl's event loop, one feed after another at a run's start, while every host's
        first article waited); only those already known are looked at one by one (refreshed
        or queued again), and pages under a template, whose admission counts pages in order."""
        run_started = self._run_started.get(source, now)
        new: list[str] = []
        batch = list(entries)
        with self._tx() as db:
            ranked = list(zip(batch, _host_ranks(batch), strict=True))
            plain = [
                (entry, rank)
                for entry, rank in ranked
                if not (entry.kind is Kind.PAGE and entry.template)
            ]
            inserted = self._insert_many(db, source, plain, now)
            for entry, rank in ranked:
                key = url_key(normalize_url(entry.url))
                if entry.kind is Kind.PAGE and entry.template:
                    if not self._template_ok(db, source, entry):
                        continue
                    if self._insert(db, source, entry, now, start=False, host_seq=rank):
                        new.append(url_key(entry.url))
                        continue
                elif key in inserted:
                    inserted.discard(key)  # (a URL twice in the batch: the second is known)
                    new.append(url_key(entry.url))
                    continue
                if entry.refresh:
                    db.execute(
                        "UPDATE frontier_urls SET start = 2 WHERE source = %s AND key = %s"
                        " AND start = 0",
                        (source, url_key(entry.url)),
                    )
                self._maybe_requeue(db, source, entry, run_started, now - refresh_after)
            self._note_hosts(db, [entry.url for entry in batch])
        return new

    def _note_hosts(self, db: Conn, urls: Sequence[str]) -> None:
        """A sticky-host cluster's host rows for these URLs (a lease claims hosts by them),
        last in the transaction and in one order, so two adds never wait on each other in a
        circle."""
        if self.host_claims is None or not urls:
            return
        hosts = sorted({host_of(normalize_url(url)) for url in urls})
        db.execute(
            "INSERT INTO cluster_hosts (host) SELECT h FROM unnest(%s::text[]) AS q(h)"
            " ORDER BY h ON CONFLICT DO NOTHING",
            (hosts,),
        )

    def _insert_many(
        self, db: Conn, source: str, ranked: Sequence[tuple[Entry, int]], now: float
    ) -> set[str]:
        """Insert the URLs not queued yet, in one statement; the keys inserted."""
        if not ranked:
            return set()
        urls = [normalize_url(entry.url) for entry, _ in ranked]
        rows = db.execute(
            "INSERT INTO frontier_urls (source, key, url, kind, depth, priority, state, start,"
            " discovered_at, published, host_seq, host) SELECT %s, q.key, q.url, q.kind,"
            " q.depth, q.priority, 'queued', q.start, %s, q.published, q.host_seq, q.host FROM"
            " unnest(%s::text[], %s::text[], %s::text[], %s::integer[], %s::integer[],"
            " %s::integer[], %s::double precision[], %s::integer[], %s::text[]) WITH ORDINALITY"
            " AS q(key, url, kind, depth, priority, start, published, host_seq, host, n)"
            " ORDER BY q.n"
            " ON CONFLICT (source, key) DO NOTHING RETURNING key",
            (
                source,
                now,
                [url_key(url) for url in urls],
                urls,
                [entry.kind.value for entry, _ in ranked],
                [entry.depth for entry, _ in ranked],
                [PRIORITY[entry.kind] for entry, _ in ranked],
                [2 if entry.refresh else 0 for entry, _ in ranked],
                [entry.published for entry, _ in ranked],
                [rank for _, rank in ranked],
                [host_of(url) for url in urls],
            ),
        ).fetchall()
        return {str(row[0]) for row in rows}

    def _template_ok(self, db: Conn, source: str, entry: Entry) -> bool:
        known = db.execute(
            "SELECT 1 FROM frontier_urls WHERE source = %s AND key = %s",
            (source, url_key(entry.url)),
        ).fetchone()
        if known:
            return True
        row = db.execute(
            "SELECT pages FROM frontier_templates WHERE source = %s AND template = %s",
            (source, entry.template),
        ).fetchone()
        if row is not None and row[0] >= MAX_PAGES_PER_TEMPLATE:
            return False
        db.execute(
            "INSERT INTO frontier_templates VALUES (%s, %s, 1) ON CONFLICT (source, template)"
            " DO UPDATE SET pages = frontier_templates.pages + 1",
            (source, entry.template),
        )
        return True

    def _maybe_requeue(
        self, db: Conn, source: str, entry: Entry, run_started: float, stale: float
    ) -> None:
        key = url_key(entry.url)
        if entry.published is not None:
            db.execute(
                "UPDATE frontier_urls SET published = %s WHERE source = %s AND key = %s"
                " AND published IS NULL",
                (entry.published, source, key),
            )
        if entry.kind in (Kind.SITEMAP, Kind.FEED):
            condition = "(%s::double precision IS NULL OR fetched_at IS NULL OR fetched_at < %s)"
            args: tuple[object, ...] = (entry.modified, entry.modified)
        elif entry.kind is Kind.ARTICLE:
            condition = "(%s::double precision IS NOT NULL AND fetched_at < %s)"
            args = (entry.modified, entry.modified)
        else:
            condition = "fetched_at <= %s"
            args = (stale,)
        db.execute(
            "UPDATE frontier_urls SET state = 'queued' WHERE source = %s AND key = %s"
            " AND state IN ('done', 'failed') AND fetched_at < %s AND " + condition,
            (source, key, run_started, *args),
        )

    def lease(self, source: str, limit: int) -> list[Item]:
        """Take up to `limit` queued URLs, start points first, then by depth and age; rows
        another worker is leasing right now are skipped, not waited for. One round trip:
        the database's clock is read in the statement (the crawl's event loop waits for it)."""
        claims = self.host_claims
        # sticky hosts: only URLs of the hosts this worker holds, claimed just before, and
        # not of those it is handing back (`HostClaims.leave`)
        mine = (
            ""
            if claims is None
            else " AND host IN (SELECT host FROM cluster_hosts WHERE holder = %(me)s)"
            " AND host <> ALL(%(leaving)s::text[])"
        )
        try:
            with self._own_rows, self._pool.connection() as conn:
                with conn.pipeline(), conn.transaction():
                    conn.execute("SET LOCAL synchronous_commit = off")
                    if claims is not None:
                        sent = time.monotonic()
                        claimed = self._claim_hosts(conn, source, claims)
                    # queued URLs by the lease-order index (only those taken are read),
                    # then expired leases (a dead worker's, rare); the expiry a scalar
                    # subquery, read once rather than for every leased row
                    order = "ORDER BY priority, depth, host_seq, id"
                    cursor = conn.execute(
                        f"WITH q AS (SELECT id, priority, depth, host_seq FROM frontier_urls WHERE"
                        f" source = %(s)s AND state = 'queued'{mine} {order} LIMIT %(n)s FOR"
                        " UPDATE SKIP LOCKED), x AS (SELECT id, priority, depth, host_seq FROM"
                        " frontier_urls WHERE source = %(s)s AND state = 'leased' AND leased_at"
                        f" <= (SELECT {DB_NOW} - %(ttl)s::double precision){mine} {order} LIMIT"
                        " %(n)s FOR UPDATE SKIP LOCKED) UPDATE frontier_urls SET state ="
                        f" 'leased', leased_at = {DB_NOW}, leased_by = %(me)s WHERE id IN"
                        " (SELECT id FROM (SELECT * FROM q UNION ALL SELECT * FROM x) AS u"
                        f" {order} LIMIT %(n)s)"
                        " RETURNING key, url, kind, depth, etag, last_modified,"
                        " fetched_at, attempts, priority, id, start, host_seq",
                        {
                            "s": source,
                            "ttl": self.lease_ttl,
                            "n": limit,
                            "me": self.holder,
                            "leaving": [] if claims is None else claims.leaving_hosts(),
                        },
                    )
                rows = cursor.fetchall()
                if claims is not None:
                    # at least one row, with the share: a host-less row when none is held
                    # or claimed (the share noted from every lease, or it went stale)
                    claimed_rows = claimed.fetchall()
                    share = int(claimed_rows[0][3])
                    claims.note(
                        claim_rows([r for r in claimed_rows if r[0] is not None]),
                        sent=sent,
                        received=time.monotonic(),
                        source=source,
                        share=share,
                    )
                    # as many claimed as one lease may, still under the share: more hosts
                    # are free, for a lease at once; after a short pause for a crawler that
                    # knows no other (it may be the first of a few starting together, whose
                    # shares it would take before their first leases say they are there)
                    new = sum(1 for r in claimed_rows if r[0] is not None and r[1] is not None)
                    more = new >= CLAIM_FEW and len(claims.hosts()) < share
                    alone = int(claimed_rows[0][4]) == 0
                    self._claims_more[source] = (
                        None if not more else CLAIM_ALONE_PAUSE if alone else 0.0
                    )
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc
        rows.sort(key=lambda r: (r[8], r[3], r[11], r[9]))
        return [
            Item(r[0], r[1], Kind(r[2]), r[3], r[4], r[5], r[6], r[7], r[10] == 1) for r in rows
        ]

    def _claim_hosts(self, conn: Conn, source: str, claims: HostClaims) -> psycopg.Cursor[Any]:
        """In a lease's transaction: note this crawler alive (`cluster_workers`), renew its
        host claims, and claim a few hosts nobody holds (or whose holder's claim expired) that
        have URLs of `source` to lease, skipping the hosts another worker is claiming that
        instant. Up to a fair share: the hosts held or with work, over the crawlers of the
        source that are alive, those holding no host yet included (a worker that claimed more
        than it can serve would slow its hosts down, and one that came late would only poll).
        Rows for `HostClaims.note`, each with the fair share: a crawler over it hands hosts
        back (`HostClaims.to_hand_back`); one row with no host when it holds and claims none,
        so the share is known from every lease."""
        work = (
            "EXISTS (SELECT 1 FROM frontier_urls f WHERE f.source = %(s)s AND f.host = c.host"
            " AND (f.state = 'queued' OR (f.state = 'leased' AND f.leased_at <= (SELECT t FROM"
            " now) - %(lttl)s)))"
        )
        free = (
            "(c.holder IS NULL OR c.holder_expires <= (SELECT t FROM now))"
            " AND c.holder IS DISTINCT FROM %(me)s"
        )
        live = "c.holder IS NOT NULL AND c.holder_expires > (SELECT t FROM now)"
        return conn.execute(
            f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t), alive AS (INSERT INTO"
            " cluster_workers VALUES (%(me)s,"
            " %(s)s, (SELECT t FROM now) + %(cttl)s) ON CONFLICT (holder) DO UPDATE SET"
            " source = excluded.source, expires = excluded.expires), gone AS (DELETE FROM"
            " cluster_workers w WHERE w.expires < (SELECT t FROM now) - %(cttl)s AND w.holder"
            " <> %(me)s), mine AS (UPDATE cluster_hosts SET holder_expires = (SELECT t FROM"
            " now) + %(cttl)s WHERE holder = %(me)s RETURNING host),"
            f" seen AS (SELECT count(*) FILTER (WHERE {live} AND c.holder <> %(me)s AND"
            " EXISTS (SELECT 1 FROM frontier_urls f WHERE f.source = %(s)s AND f.host ="
            f" c.host)) AS held, count(*) FILTER (WHERE {free} AND {work}) AS free,"
            " count(*) FILTER (WHERE c.holder = %(me)s) AS mine FROM cluster_hosts c),"
            f" peers AS (SELECT c.holder FROM cluster_hosts c WHERE {live} AND c.holder <>"
            " %(me)s UNION SELECT w.holder FROM cluster_workers w WHERE w.source = %(s)s AND"
            " w.expires > (SELECT t FROM now) AND w.holder <> %(me)s),"
            " share AS (SELECT CEIL((held + free + mine) / ((SELECT count(*) FROM peers)"
            " + 1.0))::integer AS n, mine FROM seen),"
            " room AS (SELECT GREATEST(0, LEAST(%(few)s, n - mine))::integer AS k FROM share),"
            f" pick AS (SELECT c.host, {READY} AS ready FROM cluster_hosts c WHERE {free}"
            f" AND {work} ORDER BY c.host LIMIT (SELECT k FROM room) FOR UPDATE SKIP LOCKED),"
            " got AS (UPDATE cluster_hosts c SET holder = %(me)s, holder_expires = (SELECT t"
            " FROM now) + %(cttl)s FROM pick WHERE c.host = pick.host RETURNING c.host,"
            " pick.ready) SELECT h.host, h.ready, (SELECT t FROM now), share.n,"
            " (SELECT count(*) FROM peers) FROM share"
            " LEFT JOIN (SELECT host, NULL::double precision AS ready FROM mine UNION ALL"
            " SELECT host, ready FROM got) AS h ON true",
            {
                "s": source,
                "me": claims.holder,
                "cttl": claims.ttl,
                "lttl": self.lease_ttl if self.lease_ttl is not None else float("inf"),
                "few": CLAIM_FEW,
            },
        )

    def renew(self, source: str, keys: Iterable[str]) -> None:
        """Restart the lifetime of the leases on `keys` that this crawler still holds: the
        crawl holding them is alive (`RenewsLeases`); and of this worker's host claims, and
        of the URLs not started of the hosts it is handing back (taken from the crawl). A
        lease that expired and went to another crawler is not renewed: that one's lease
        would live on as long as this crawler does, its holder dead or not."""
        claims = self.host_claims
        renewing = list(keys) + ([] if claims is None else claims.leaving_keys(source))
        try:
            with (
                self._own_rows,
                self._pool.connection() as conn,
                conn.pipeline(),
                conn.transaction(),
            ):
                conn.execute("SET LOCAL synchronous_commit = off")
                conn.execute(
                    f"UPDATE frontier_urls SET leased_at = {DB_NOW} WHERE source = %s AND key"
                    " = ANY(%s) AND state = 'leased' AND leased_by = %s",
                    (source, renewing, self.holder),
                )
                if claims is None:
                    return
                conn.execute(  # this crawler is alive: it counts in the hosts' fair share
                    f"UPDATE cluster_workers SET expires = {DB_NOW} + %s WHERE holder = %s",
                    (claims.ttl, claims.holder),
                )
                sent = time.monotonic()
                renewed = renew_claims(conn, claims.holder, claims.ttl)
            claims.note(claim_rows(renewed.fetchall()), sent=sent, received=time.monotonic())
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc

    def track_unsent(self, source: str, urls: UnsentUrls) -> None:
        """Sticky hosts: the crawl's URLs of `source` not started yet, from which its host
        gate takes those of a host it hands back (`HandsBackHosts`)."""
        if self.host_claims is not None:
            self.host_claims.urls = urls

    def kept(self, source: str, items: list[Item]) -> list[Item]:
        claims = self.host_claims
        if claims is None:
            return items
        drop = claims.divert(source, [(host_of(item.url), item.key) for item in items])
        return [item for item in items if item.key not in drop] if drop else items

    def withdrawn(self, source: str) -> int:
        claims = self.host_claims
        return 0 if claims is None else claims.withdrawn(source)

    def claims_more(self, source: str) -> float | None:
        return self._claims_more.get(source)

    def release(self, source: str, keys: Iterable[str]) -> None:
        """Queue again the URLs of `keys` this crawler leased and will not fetch; in a
        cluster only those it still holds: one whose lease expired and went to another
        crawler is that one's, and queued again it would be fetched twice."""
        self._write(
            "UPDATE frontier_urls SET state = 'queued' WHERE source = %s"
            " AND key = ANY(%s) AND state = 'leased'" + self._mine(),
            (source, list(keys), *self._me()),
        )

    def finish(
        self,
        source: str,
        key: str,
        *,
        state: State,
        now: float,
        outcome: str,
        etag: str | None = None,
        last_modified: str | None = None,
        published: float | None = None,
        keep_validators: bool = False,
    ) -> None:
        """Record what fetching a leased URL gave. A 304 passes keep_validators=True. A
        retry or a failure does not overwrite "done" (see `finish_statement`), and in a
        cluster is written only while this crawler holds the URL (`_finish_statement`)."""
        guard = state is not State.DONE
        self._write(
            self._finish_statement(state is State.RETRY, keep_validators, guard),
            (state.value, now, now, outcome, etag, last_modified, published, source, key)
            + (self._me() if guard else ()),
        )

    def _finish_statement(self, retry: bool, keep: bool, guard: bool) -> str:
        """`finish_statement`, and in a cluster, for a retry or a failure (`guard`), only
        while this crawler holds the URL's lease: one whose lease expired may find the URL
        leased by another crawler (whose fetch is under way: a retry would take it from
        that one, and queue it for a third), or queued again. A "done" is written whoever
        holds the URL: its page is stored, and a fetch of it under way finds it unchanged."""
        sql = finish_statement(retry, keep, guard, "%s")
        return sql + self._mine() if guard else sql

    def finish_many(self, finishes: Sequence[Finish]) -> None:
        """`finish` for many URLs in one transaction and one round trip (a crawl's held
        "done" marks, `scraper.crawl.finishes`): one statement per shape, its rows sent
        together (pipeline mode)."""
        if not finishes:
            return
        try:
            with self._pool.connection() as conn, conn.pipeline(), conn.transaction():
                conn.execute("SET LOCAL synchronous_commit = off")
                with conn.cursor() as cursor:
                    for (retry, keep, guard), rows in grouped_finishes(finishes):
                        me = self._me() if guard else ()
                        cursor.executemany(
                            self._finish_statement(retry, keep, guard),
                            [(*row, *me) for row in rows],
                        )
        except psycopg.Error as exc:
            raise StorageError(f"frontier: {exc}") from exc

    def mark_known(
        self, source: str, key: str, *, fetched_at: float, published: float | None
    ) -> None:
        self._write(
            "UPDATE frontier_urls SET state = 'done', fetched_at = %s, first_fetched = %s,"
            " published = COALESCE(published, %s), outcome = 'archived' WHERE source = %s"
            " AND key = %s AND state = 'queued'",
            (fetched_at, fetched_at, published, source, key),
        )

    def url_of(self, source: str, key: str) -> str | None:
        rows = self._rows(
            "SELECT url FROM frontier_urls WHERE source = %s AND key = %s", (source, key)
        )
        return None if not rows else str(rows[0][0])

    def count(self, source: str, state: State | None = None) -> int:
        if state is None:
            rows = self._rows("SELECT COUNT(*) FROM frontier_urls WHERE source = %s", (source,))
        else:
            rows = self._rows(
                "SELECT COUNT(*) FROM frontier_urls WHERE source = %s AND state = %s",
                (source, state.value),
            )
        return int(rows[0][0])

    def states(self, source: str) -> dict[str, str]:
        rows = self._rows("SELECT key, state FROM frontier_urls WHERE source = %s", (source,))
        return {str(k): str(s) for k, s in rows}


def _label_run(db: Conn, source: str, ttl: float | None, *, finished_at: float | None) -> bool:
    """Label the source's run from its crawlers' parts when none of them goes on (the
    caller holds the run's advisory lock, `RUN_LOCK`): each ended part by its own label, a
    dead one that never ended as LOST, merged by `frontier.merged_status`. Ended at
    `finished_at`, or when None (the run found over on reading) at the last part's end or
    last sign of life. `ttl`: the lease lifetime, None when the caller does not know it
    (`CRAWLING_UNTIMED`). Whether it was labelled."""
    args = {"s": source, "ttl": ttl}
    going = CRAWLING if ttl is not None else CRAWLING_UNTIMED
    parts = db.execute(
        f"WITH now AS MATERIALIZED (SELECT {DB_NOW} AS t) SELECT c.status, c.finished_at IS"
        f" NOT NULL, {going}, COALESCE(c.finished_at, GREATEST(c.seen, (SELECT w.expires"
        " - %(ttl)s::double precision FROM cluster_workers w WHERE w.holder = c.crawler), (SELECT"
        " max(f.leased_at) FROM frontier_urls f WHERE f.source = c.source AND f.state ="
        " 'leased' AND f.leased_by = c.crawler))) FROM frontier_run_crawlers c, now"
        " WHERE c.source = %(s)s",
        args,
    ).fetchall()
    if not parts or any(going for _, _, going, _ in parts):
        return False  # the run goes on: the last of its crawlers labels it
    left = db.execute(
        "SELECT EXISTS (SELECT 1 FROM frontier_urls WHERE source = %s"
        " AND state IN ('queued', 'leased'))",
        (source,),
    ).fetchone()
    label = merged_status(
        [str(s) if ended else LOST for s, ended, _, _ in parts], left=bool(left and left[0])
    )
    if finished_at is None:
        finished_at = max(float(last) for _, _, _, last in parts)
    db.execute(
        "UPDATE frontier_runs SET finished_at = %s, status = %s WHERE source = %s",
        (finished_at, label, source),
    )
    return True


def settle_runs(pool: ConnectionPool, sources: Iterable[str], ttl: float | None) -> None:
    """Label each of these sources' cluster runs still "running" whose crawlers all ended
    or died (`_label_run`): a crawler killed while the others ended within a lease lifetime
    of its death counted as going when they did, and nobody else would end the run; so it is
    labelled by whoever reads it first once its dead part no longer counts as live. Under
    the run's lock, as `end_run` (taken in the sources' order: each of those takes one), in
    one transaction. `ttl`: the lease lifetime, or None for a reader that does not know it
    (the web server, the scheduler), which labels the run once the dead crawler's heartbeat
    expired."""
    try:
        with pool.connection() as conn, conn.transaction():
            running = conn.execute(
                "SELECT source FROM frontier_runs WHERE status = 'running' AND source = ANY(%s)"
                " ORDER BY source",
                (list(sources),),
            ).fetchall()
            if not running:
                return
            conn.execute("SET LOCAL synchronous_commit = off")
            for (source,) in running:
                conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (RUN_LOCK, source))
                still = conn.execute(  # (an end or a begin may have come first)
                    "SELECT 1 FROM frontier_runs WHERE source = %s AND status = 'running'",
                    (source,),
                ).fetchone()
                if still is not None:
                    _label_run(conn, str(source), ttl, finished_at=None)
    except psycopg.Error as exc:
        raise StorageError(f"frontier: {exc}") from exc


def _host_ranks(entries: list[Entry]) -> list[int]:
    """Each entry's rank among the entries of its host in this list (0 for the first)."""
    seen: dict[str, int] = {}
    ranks = []
    for entry in entries:
        host = urlsplit(entry.url).hostname or ""
        ranks.append(seen.get(host, 0))
        seen[host] = ranks[-1] + 1
    return ranks


def host_of(url: str) -> str:
    """A URL's host as a fetcher keys its politeness (lower case, no port)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _db_now(db: Conn) -> float:
    """The database's clock (epoch seconds): one clock for every worker of a cluster."""
    row = db.execute(f"SELECT {DB_NOW}").fetchone()
    return float(row[0]) if row else 0.0
