"""The cluster catalog: the `Catalog` interface on PostgreSQL, through psycopg 3 and a pool.

Same tables and meaning as the embedded SQLite catalog (`catalog_sqlite.py`), so dedup, rebuild,
verify, stats and export run unchanged on either. Many processes share one database: a write
transaction (`writing`) first takes a transaction-level advisory lock, so writers serialize as
they do on SQLite (dedup reads, then writes, and two workers must not both file one article as
new); readers never wait. The schema is versioned (`catalog_pg_schema.MIGRATIONS`) and
migrated on open. Connection failures become `StorageError`; a worker retries them.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool

from archive.backends.catalog import (
    ArticleRow,
    CopyRow,
    FetchRow,
    FileRow,
    RunRow,
    SourceCounts,
    VerifyRun,
    VersionRow,
)
from archive.backends.catalog_pg_ahead import ReadAhead, Wanted
from archive.backends.catalog_pg_read import PgReadMixin
from archive.backends.catalog_pg_schema import DERIVED_TABLES, MIGRATIONS, SCHEMA_VERSION
from archive.backends.frontier import Frontier
from archive.backends.hostlease_pg import HostClaims
from archive.errors import StorageError
from archive.fingerprint import BANDS, EMPTY_DIGEST, bands, distance, to_signed, to_unsigned

_REFERENCES_KEPT = 8
WRITE_LOCK = 0x6D6F7267  # "morg": the advisory lock every catalog write transaction holds
MIGRATE_LOCK = 0x6D6F7268
KEY_LOCKS = 0x6D6F7269  # the first half of the two-part advisory locks on keys


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def open_pool(url: str, *, max_size: int = 4, timeout: float = 10.0) -> ConnectionPool:
    """A connection pool on `url` (autocommit connections), checked to be reachable."""
    pool: ConnectionPool = ConnectionPool(
        url,
        min_size=1,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
        name="morgue-catalog",
    )
    try:
        pool.open(wait=True, timeout=timeout)
    except Exception as exc:  # psycopg_pool.PoolTimeout hides the connection error's text
        pool.close()
        raise StorageError(f"cannot reach the catalog {safe_url(url)}: {exc}") from exc
    return pool


_ARTICLE = "id, source, canonical_key, current_version, headline, modified, body_digest, simhash"
_ARTICLE_A = ", ".join(f"a.{column}" for column in _ARTICLE.split(", "))
_FILE = "path, kind, sha256, size, written_at"
_NEAR = (
    "SELECT DISTINCT b.article_id, a.simhash FROM archive_simhash_bands b"
    " JOIN archive_articles a ON a.id = b.article_id"
    " JOIN unnest(%s::int[], %s::int[]) AS q(band, value)"
    " ON b.band = q.band AND b.value = q.value"
)
# `_NEAR` for many fingerprints at once: (index of the fingerprint, band, value) in, rows of
# (that index, article, its SimHash) out
_NEAR_MANY = (
    "SELECT DISTINCT q.i, b.article_id, a.simhash FROM archive_simhash_bands b"
    " JOIN archive_articles a ON a.id = b.article_id"
    " JOIN unnest(%s::int[], %s::int[], %s::int[]) AS q(i, band, value)"
    " ON b.band = q.band AND b.value = q.value"
)


_ADD_URL = (
    "INSERT INTO archive_urls VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key) DO UPDATE"
    " SET article_id = excluded.article_id, url = excluded.url, duplicate = 0"
    " WHERE archive_urls.duplicate = 1 AND excluded.duplicate = 0"
)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows of `width` values as `width` lists (one array parameter per column, `unnest`)."""
    return [[row[i] for row in rows] for i in range(width)] if rows else [[]] * width


def _url_rows(rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """URL rows (key, url, article id, first seen, duplicate) in the order added, one per
    key, that leave in one statement what `_ADD_URL` one by one would: the key's first row
    not a duplicate link's (which takes over a row in place that is one, or a first row of
    the batch that is), with the first row's first_seen (an update keeps it); else its
    first row (the later ones change nothing)."""
    first: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        held = first.get(row[0])
        if held is None:
            first[row[0]] = row
        elif held[4] and not row[4]:
            first[row[0]] = (row[0], row[1], row[2], held[3], 0)
    return list(first.values())


def _put_articles(rows: Sequence[tuple[Any, ...]]) -> tuple[str, tuple[Any, ...]]:
    """One statement (and its arguments) that inserts or moves the heads of `rows` (one per
    article: id, source, canonical key, current version, headline, modified, body digest,
    signed SimHash, first_seen, last_seen): the articles' rows, their indexed versions'
    `current` mark and their SimHash bands; one, not four: each cost the worker a round of
    psycopg's work. Every part sees the rows as they were before it: the bands not among
    the new ones are deleted, the new ones inserted (those there already are kept), so no
    row is touched twice."""
    ids = [row[0] for row in rows]
    band_rows = [
        (row[0], band, value)
        for row in rows
        for band, value in enumerate(bands(to_unsigned(row[7])))
    ]
    sql = (
        "WITH head AS (INSERT INTO archive_articles SELECT * FROM unnest(%s::text[],"
        " %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::text[], %s::bigint[],"
        " %s::text[], %s::text[]) ON CONFLICT (id) DO UPDATE SET current_version ="
        " excluded.current_version, headline = excluded.headline, modified = excluded.modified,"
        " body_digest = excluded.body_digest, simhash = excluded.simhash, last_seen ="
        " excluded.last_seen),"
        # the indexed version that is the article's current one (migration 13); the new
        # head's own is marked when it is indexed
        " cur AS (SELECT * FROM unnest(%s::text[], %s::int[]) AS c(id, version)),"
        " meta AS (UPDATE archive_search_meta m SET current = (m.version = c.version)"
        " FROM cur c WHERE m.article_id = c.id AND m.current <> (m.version = c.version)),"
        " q AS (SELECT * FROM unnest(%s::text[], %s::int[], %s::int[]) AS q(a, b, v)),"
        " gone AS (DELETE FROM archive_simhash_bands WHERE article_id = ANY(%s) AND"
        " (article_id, band, value) NOT IN (SELECT a, b, v FROM q))"
        " INSERT INTO archive_simhash_bands SELECT b, v, a FROM q ON CONFLICT DO NOTHING"
    )
    args = (
        *_columns(rows, 10),
        ids,
        [row[3] for row in rows],
        *_columns(band_rows, 3),
        ids,
    )
    return sql, args


def _article_row(row: tuple[Any, ...]) -> ArticleRow:
    return ArticleRow(
        id=row[0],
        source=row[1],
        canonical_key=row[2],
        current_version=row[3],
        headline=row[4],
        modified=row[5],
        body_digest=row[6],
        simhash=to_unsigned(row[7]),
    )


@dataclass
class _TxNotes:
    """What the open write transaction has written, so that it is not sent twice: the file
    rows recorded, the sources and canonical keys inserted; and the rows held back to go in
    one statement per table (`PgCatalog._flush_held`). A savepoint rolled back restores the
    notes as they were before it: the rows it held are dropped, those held before it kept."""

    files: set[str] = field(default_factory=set)
    pending_files: dict[str, FileRow] = field(default_factory=dict)
    sources: set[str] = field(default_factory=set)
    canonical: set[tuple[str, str]] = field(default_factory=set)
    held: _Held = field(default_factory=lambda: _Held())

    def copy(self) -> _TxNotes:
        return _TxNotes(
            set(self.files),
            dict(self.pending_files),
            set(self.sources),
            set(self.canonical),
            self.held.copy(),
        )


@dataclass
class _Held:
    """Rows a write transaction holds back, in the order written: writes that read nothing
    (inserts whose conflict rule depends on the row in place only), sent together before
    the next read and at the commit (`PgCatalog._flush_held`). A store writes one row to
    each of these tables, and a batch of stores shares one transaction: one statement per
    table for the batch, where each row cost a statement (a round of psycopg's work in the
    worker, and of parsing and planning in PostgreSQL). A store that sends nothing needs no
    savepoint either (`PgCatalog.writing`): rolled back, it drops the rows it held."""

    raw: list[tuple[Any, ...]] = field(default_factory=list)
    fetches: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # by fetch_id: the last
    urls: list[tuple[Any, ...]] = field(default_factory=list)
    canonical: list[tuple[str, str]] = field(default_factory=list)
    references: list[tuple[str, str, str]] = field(default_factory=list)
    sources: list[tuple[str, str]] = field(default_factory=list)
    # an article's head by id: the last one put, with the first's first_seen (and source and
    # canonical key, which an update keeps), as the upserts one by one leave it
    articles: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    touched: dict[str, str] = field(default_factory=dict)  # article id: latest last_seen
    versions: dict[tuple[str, int], tuple[Any, ...]] = field(default_factory=dict)  # the last
    near: list[tuple[str, str, int, str]] = field(default_factory=list)

    def copy(self) -> _Held:
        return _Held(
            list(self.raw),
            dict(self.fetches),
            list(self.urls),
            list(self.canonical),
            list(self.references),
            list(self.sources),
            dict(self.articles),
            dict(self.touched),
            dict(self.versions),
            list(self.near),
        )

    def __bool__(self) -> bool:
        return bool(
            self.raw
            or self.fetches
            or self.urls
            or self.canonical
            or self.references
            or self.sources
            or self.articles
            or self.touched
            or self.versions
            or self.near
        )


class PgCatalog(PgReadMixin):
    """The catalog in a PostgreSQL database shared by every worker of a cluster."""

    def __init__(self, url: str, *, root: Path, pool: ConnectionPool | None = None) -> None:
        self.url = url
        # no file: a name under the data folder that messages can show
        self.path = root / "catalog.postgresql"
        self.pool = pool if pool is not None else open_pool(url)
        self._owns_pool = pool is None
        self._tx: psycopg.Connection[Any] | None = None
        # what the open transaction wrote (see _TxNotes), the files the last commit
        # recorded, and the sources known to have their row
        self._notes = _TxNotes()
        self._committed_files: set[str] = set()
        self._sources_known: set[str] = set()
        # how deep the open savepoints of nested `writing` blocks are: a savepoint is named by
        # its depth, so a batch's stores send one statement text over and over (psycopg
        # converts and PostgreSQL prepares it once), not a new one per store
        self._savepoints = 0
        self._savepoints_sent = 0  # ... and how many of them were sent (`_savepoint_now`)
        self._ahead = ReadAhead()  # a batch's look-ups, asked at once (`read_ahead`)
        # called after each outermost transaction commits, or rolls back
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []
        # None: one crawl at a time; a cluster worker sets how long its frontier leases last
        self.frontier_lease_ttl: float | None = None
        # ... and the hosts its crawl holds (sticky hosts: `hostlease_pg.HostClaims`)
        self.frontier_host_claims: HostClaims | None = None
        try:
            migrate(self.pool)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._owns_pool:
            self.pool.close()

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        if self._tx is not None:
            yield self._tx
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc

    @contextlib.contextmanager
    def writing(self, keys: Sequence[str] = ()) -> Iterator[None]:
        """One write transaction (re-entrant: an inner `writing` joins the outer one).

        With `keys`, it shares the catalog's write lock with other keyed transactions and
        takes one advisory lock per key, so stores of different pages run at once while two
        that could touch one article (a URL, canonical key or body in common) wait for each
        other; without keys (repair, rebuild batches) it holds the write lock alone.
        """
        if self._tx is not None:
            # a savepoint: a store that raises inside a batch undoes its own rows only. It is
            # sent only when something is (`_savepoint_now`): a store whose rows are all held
            # back sends nothing, and rolled back it drops them (the notes restored as they
            # were: those held before it kept, its own dropped). Sent as plain statements:
            # psycopg's nested transaction() would wait for the server twice (a pipeline
            # sync on entry and on exit)
            conn = self._tx
            notes = self._notes.copy()
            self._savepoints += 1
            depth = self._savepoints
            name = f"morgue_sp{depth}"
            try:
                yield
            except BaseException as exc:
                self._notes = notes
                self._ahead.clear()  # it may hold what the rolled-back rows said (references)
                sent = self._savepoints_sent >= depth
                # psycopg.Error: the transaction is lost anyway
                if sent and not isinstance(exc, psycopg.Error):
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                if isinstance(exc, psycopg.Error):
                    raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc
                raise
            else:
                if self._savepoints_sent >= depth:
                    conn.execute(f"RELEASE SAVEPOINT {name}")
            finally:
                self._savepoints = depth - 1
                self._savepoints_sent = min(self._savepoints_sent, depth - 1)
            return
        self._notes = _TxNotes()
        self._committed_files = set()
        self._ahead.clear()
        self._savepoints = self._savepoints_sent = 0
        try:
            # pipeline mode: the writes of a store go out without waiting for each answer
            with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
                if keys:
                    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (WRITE_LOCK,))
                    # in one order for every writer, so two never wait on each other in a
                    # circle: unnest gives the sorted array's elements in order, and each
                    # row's lock is taken as the row is produced; one statement for them all
                    conn.execute(
                        "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k",
                        (KEY_LOCKS, sorted({_lock_id(k) for k in keys})),
                    )
                else:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                self._tx = conn
                try:
                    yield
                    self._flush_held()
                finally:
                    self._tx = None
                    self._ahead.clear()
        except BaseException as exc:
            self._notes = _TxNotes()
            for rolled_back in self.after_rollback:
                rolled_back()
            if isinstance(exc, psycopg.Error):
                raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc
            raise
        notes, self._notes = self._notes, _TxNotes()
        self._committed_files = notes.files
        self._sources_known |= notes.sources
        for committed in self.after_commit:
            committed()

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read snapshot: the statements inside see the catalog as of one moment
        (REPEATABLE READ, read only), where each autocommit statement saw its own. Inside a
        write transaction, that transaction. Not for writes: a `writing` inside fails."""
        if self._tx is not None:
            yield
            return
        with self._own_transaction("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"):
            yield

    @contextlib.contextmanager
    def without_seq_scan(self) -> Iterator[None]:
        """The statements inside (a search's) planned with `enable_seqscan` off, in a
        transaction of their own (`SET LOCAL`: undone at its end, committed or not), or
        inside the caller's, under a savepoint rolled back after them.

        The planner prices a scan of the search table by its pages, not by reading each
        row's tsvector back from TOAST (most of a search's cost), twice for a match: the
        test, then the rank. Through the GIN index a word's matches are read once (a word
        needs no recheck) and other rows never. It picked the scan for a word in about half
        the rows or more ("said" at 20,000 articles: 130 ms, the index 60 ms) and for broad
        filters; at any share of rows, alone or filtered, the scan was never faster by more
        than noise (a phrase of two words in every row: even). A filter's own index
        (source, day, section) stays the planner's choice; the small `archive_search_multi`
        is joined through its key (0.3 ms less for a rare word than hashing all its rows).
        The statements go out in a pipeline: one round trip more than a bare statement."""
        if self._tx is not None:
            conn = self._tx
            self._flush_held()  # held-back rows go in before the savepoint, not under it
            try:
                conn.execute("SAVEPOINT morgue_search")
                conn.execute("SET LOCAL enable_seqscan = off")
                # a read: rolling back to the savepoint undoes the setting alone
                undo = ("ROLLBACK TO SAVEPOINT morgue_search", "RELEASE SAVEPOINT morgue_search")
                try:
                    yield
                except psycopg.Error:
                    raise  # the caller's transaction is lost anyway
                except BaseException:
                    for statement in undo:
                        conn.execute(statement)
                    raise
                for statement in undo:
                    conn.execute(statement)
            except psycopg.Error as exc:
                raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc
            return
        with self._own_transaction("SET LOCAL enable_seqscan = off", pipeline=True):
            yield

    @contextlib.contextmanager
    def _own_transaction(self, opening: str, *, pipeline: bool = False) -> Iterator[None]:
        """A transaction on a pooled connection of its own, begun with `opening`, that the
        statements inside use (`_tx`); in a pipeline when asked (fewer round trips)."""
        try:
            with contextlib.ExitStack() as stack:
                conn = stack.enter_context(self.pool.connection())
                if pipeline:
                    stack.enter_context(conn.pipeline())
                stack.enter_context(conn.transaction())
                conn.execute(opening)
                self._tx = conn
                try:
                    yield
                finally:
                    self._tx = None
        except psycopg.Error as exc:
            raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc

    def known_files(self, paths: list[str]) -> set[str]:
        """Which of `paths` have a row (archive.intents asks after each transaction): those
        the transaction that just committed recorded, without asking, and the rest in one
        query."""
        known = {p for p in paths if p in self._committed_files}
        rest = [p for p in paths if p not in known]
        if rest:
            rows = self._rows("SELECT path FROM archive_files WHERE path = ANY(%s)", (rest,))
            known.update(str(r[0]) for r in rows)
        return known

    def _savepoint_now(self) -> None:
        """Before a write is sent inside nested `writing` blocks: their savepoints not sent
        yet, outermost first (a block that sends nothing never sends its own)."""
        conn = self._tx
        while conn is not None and self._savepoints_sent < self._savepoints:
            self._savepoints_sent += 1
            conn.execute(f"SAVEPOINT morgue_sp{self._savepoints_sent}")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._flush_held()  # a read sees every row written before it
        if not sql.lstrip().upper().startswith("SELECT"):
            self._savepoint_now()  # a write that returns rows (INSERT ... RETURNING)
        with self._conn() as conn:
            return conn.execute(sql, args).fetchall()

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> None:
        self._flush_held()  # a write may read what the held rows write
        self._exec_blind(sql, args)

    def _exec_blind(self, sql: str, args: Sequence[Any] = ()) -> None:
        """`_exec` for a write that reads none of the tables whose rows are held back: they
        stay held."""
        self._savepoint_now()
        with self._conn() as conn:
            conn.execute(sql, args)

    def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(sql, args)
        return rows[0] if rows else None

    def _id(self, sql: str, key: str) -> str | None:
        row = self._one(sql, (key,))
        return None if row is None else str(row[0])

    def _scalar(self, sql: str, args: Sequence[Any] = ()) -> int:
        row = self._one(sql, args)
        return int(row[0] or 0) if row else 0

    def read_ahead(self, wanted: Wanted) -> None:
        """Ask what a batch's stores will ask, all at once, inside the batch's transaction
        (after its locks); they are answered from it until it ends (`catalog_pg_ahead`)."""
        if self._tx is None:
            return  # outside a transaction nothing holds the answers still
        self._flush_held()
        try:
            self._ahead.fill(self._tx, wanted, _ARTICLE_A, _NEAR_MANY, _article_row)
        except psycopg.Error as exc:
            raise StorageError(f"catalog {safe_url(self.url)}: {exc}") from exc

    def _ahead_of(self, kind: str, key: str) -> tuple[bool, Any]:
        return self._ahead.get(kind, key) if self._tx is not None else (False, None)

    def article(self, article_id: str) -> ArticleRow | None:
        found, answer = self._ahead_of("article", article_id)
        if found:
            return answer  # type: ignore[no-any-return]
        row = self._one(f"SELECT {_ARTICLE} FROM archive_articles WHERE id = %s", (article_id,))
        return None if row is None else _article_row(row)

    def _articles_whose_version(self, column: str, value: str) -> list[ArticleRow]:
        sql = (
            f"SELECT {_ARTICLE} FROM archive_articles WHERE id IN (SELECT article_id FROM"
            f" archive_versions WHERE {column} = %s) ORDER BY first_seen, id"
        )
        return [_article_row(r) for r in self._rows(sql, (value,))]

    def articles_with_body(self, digest: str) -> list[ArticleRow]:
        found, answer = self._ahead_of("body", digest)
        if found:
            return list(answer)
        return self._articles_whose_version("body_digest", digest)

    def articles_with_raw(self, sha: str) -> list[ArticleRow]:
        found, answer = self._ahead_of("raw", sha)
        if found:
            return list(answer)
        return self._articles_whose_version("raw_sha256", sha)

    def copies_of(self, article_id: str) -> list[CopyRow]:
        rows = self._rows(
            "SELECT a.id, a.source, coalesce(u.url, a.canonical_key) FROM archive_articles a"
            " LEFT JOIN archive_urls u ON u.key = a.canonical_key WHERE a.id IN (SELECT"
            " o.article_id FROM archive_versions v JOIN archive_versions o ON o.body_digest ="
            " v.body_digest AND o.article_id != v.article_id WHERE v.article_id = %s AND"
            " v.body_digest != %s) ORDER BY a.first_seen, a.id",
            (article_id, EMPTY_DIGEST),
        )
        return [CopyRow(r[0], r[1], r[2]) for r in rows]

    def count_copies(self) -> tuple[int, int]:
        row = self._one(
            "SELECT count(DISTINCT article_id), count(DISTINCT body_digest) FROM archive_versions"
            " WHERE body_digest != %s AND body_digest IN (SELECT body_digest FROM"
            " archive_versions GROUP BY body_digest HAVING count(DISTINCT article_id) > 1)",
            (EMPTY_DIGEST,),
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def duplicate_fetches(self, source: str | None, since: str | None) -> list[FetchRow]:
        names = ", ".join(f.name for f in fields(FetchRow))
        sql = f"SELECT {names} FROM archive_fetches WHERE outcome = 'duplicate'"
        args: list[str] = []
        if source is not None:
            sql += " AND source = %s"
            args.append(source)
        if since is not None:
            sql += " AND fetched_at >= %s"
            args.append(since)
        return [FetchRow(*r) for r in self._rows(sql + " ORDER BY fetched_at, fetch_id", args)]

    def put_file(self, row: FileRow) -> None:
        if self._tx is not None:
            # a store records a few files: one INSERT of a batch's all (`_flush_held`)
            self._notes.files.add(row.path)
            self._notes.pending_files[row.path] = row
            return
        self._exec(
            "INSERT INTO archive_files VALUES (%s, %s, %s, %s, %s) ON CONFLICT (path) DO UPDATE"
            " SET kind = excluded.kind, sha256 = excluded.sha256, size = excluded.size,"
            " written_at = excluded.written_at",
            (row.path, row.kind, row.sha256, row.size, row.written_at),
        )

    def _flush_held(self) -> None:
        """Send the rows held back in this transaction (`_Held`, the file rows): one
        statement per table, each row's columns in an array (one statement text whatever
        the count: psycopg converts and PostgreSQL prepares it once). Each table's rows
        keep their order, and their conflict rules see each other as one by one: a fetch
        and a file row are replaced whole by a later one of the same id (the last is sent),
        URL rows, whose rule reads the row in place, go one by one (`executemany`)."""
        conn, notes = self._tx, self._notes
        if conn is None or not (notes.pending_files or notes.held):
            return
        self._savepoint_now()  # a store's rows among them are undone with it
        files, held = list(notes.pending_files.values()), notes.held
        notes.pending_files, notes.held = {}, _Held()
        if held.sources:
            conn.execute(
                "INSERT INTO archive_sources SELECT s, f FROM unnest(%s::text[], %s::text[])"
                " WITH ORDINALITY AS q(s, f, n) ORDER BY n ON CONFLICT DO NOTHING",
                _columns(held.sources, 2),
            )
        if held.raw:
            conn.execute(
                "INSERT INTO archive_raw SELECT * FROM unnest(%s::text[], %s::bigint[],"
                " %s::bigint[], %s::text[], %s::text[]) ON CONFLICT DO NOTHING",
                _columns(held.raw, 5),
            )
        if held.fetches:
            conn.execute(
                "INSERT INTO archive_fetches SELECT * FROM unnest(%s::text[], %s::text[],"
                " %s::text[], %s::text[], %s::int[], %s::text[], %s::text[], %s::text[],"
                " %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::bigint[])"
                " ON CONFLICT (fetch_id) DO UPDATE SET url = excluded.url, url_key ="
                " excluded.url_key, final_url = excluded.final_url, status = excluded.status,"
                " etag = excluded.etag, last_modified = excluded.last_modified, fetched_at ="
                " excluded.fetched_at, raw_sha256 = excluded.raw_sha256, size = excluded.size,"
                " source = excluded.source, article_id = excluded.article_id, outcome ="
                " excluded.outcome, run_id = excluded.run_id",
                _columns(list(held.fetches.values()), 14),
            )
        if held.urls:
            conn.execute(
                "INSERT INTO archive_urls SELECT * FROM unnest(%s::text[], %s::text[],"
                " %s::text[], %s::text[], %s::int[]) ON CONFLICT (key) DO UPDATE"
                " SET article_id = excluded.article_id, url = excluded.url, duplicate = 0"
                " WHERE archive_urls.duplicate = 1 AND excluded.duplicate = 0",
                _columns(_url_rows(held.urls), 5),
            )
        if held.canonical:
            conn.execute(
                "INSERT INTO archive_canonical SELECT * FROM unnest(%s::text[], %s::text[])"
                " ON CONFLICT DO NOTHING",
                _columns(held.canonical, 2),
            )
        if held.references:
            self._flush_references(conn, held.references)
        if held.articles:
            self._flush_articles(conn, list(held.articles.values()))
        if held.touched:
            touched = sorted(held.touched.items())  # the rows locked in one order
            conn.execute(
                "UPDATE archive_articles a SET last_seen = GREATEST(a.last_seen, q.seen)"
                " FROM unnest(%s::text[], %s::text[]) AS q(id, seen) WHERE a.id = q.id",
                _columns(touched, 2),
            )
        if held.versions:
            versions = list(held.versions.values())
            conn.execute(
                "WITH v AS (INSERT INTO archive_versions SELECT * FROM unnest(%s::text[],"
                " %s::int[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::text[],"
                " %s::text[], %s::text[], %s::text[]) ON CONFLICT (article_id, version) DO"
                " UPDATE SET raw_sha256 = excluded.raw_sha256, fetched_at = excluded.fetched_at,"
                " body_digest = excluded.body_digest, simhash = excluded.simhash, headline ="
                " excluded.headline, modified = excluded.modified, parser = excluded.parser,"
                " parser_version = excluded.parser_version)"
                # queued for the search index in the order stored (the reading side indexes)
                " INSERT INTO archive_search_pending (article_id, version) SELECT a, n FROM"
                " unnest(%s::text[], %s::int[]) WITH ORDINALITY AS q(a, n, o) ORDER BY o"
                " ON CONFLICT DO NOTHING",
                (*_columns(versions, 10), [v[0] for v in versions], [v[1] for v in versions]),
            )
        if held.near:
            # a pair's first row (DO NOTHING one by one), the pairs in one order (their
            # index entries)
            near = sorted({(r[0], r[1]): r for r in reversed(held.near)}.values())
            conn.execute(
                "INSERT INTO archive_near_duplicates SELECT * FROM unnest(%s::text[], %s::text[],"
                " %s::int[], %s::text[]) ON CONFLICT DO NOTHING",
                _columns(near, 4),
            )
        if files:
            conn.execute(
                "INSERT INTO archive_files SELECT * FROM unnest(%s::text[], %s::text[],"
                " %s::text[], %s::bigint[], %s::text[]) ON CONFLICT (path) DO UPDATE"
                " SET kind = excluded.kind, sha256 = excluded.sha256, size = excluded.size,"
                " written_at = excluded.written_at",
                _columns([(r.path, r.kind, r.sha256, r.size, r.written_at) for r in files], 5),
            )

    @staticmethod
    def _flush_references(conn: psycopg.Connection[Any], rows: list[tuple[str, str, str]]) -> None:
        """The held reference rows, numbered (`seq`) in the order added, then each of their
        sites trimmed to its newest few, as one at a time would have left them. The rows
        trimmed are locked in one order (site, seq) by every batch: two batches trimming
        the same sites wait for each other, never in a circle."""
        conn.execute(
            "INSERT INTO archive_references (site, raw_sha256, since) SELECT site, sha, since"
            " FROM unnest(%s::text[], %s::text[], %s::text[]) WITH ORDINALITY AS"
            " q(site, sha, since, n) ORDER BY n ON CONFLICT DO NOTHING",
            _columns(rows, 3),
        )
        # only the newest few are ever tried (see SqliteCatalog.add_reference)
        conn.execute(
            "WITH doomed AS (SELECT r.seq FROM archive_references r WHERE r.site = ANY(%s)"
            " AND r.seq NOT IN (SELECT k.seq FROM archive_references k WHERE k.site = r.site"
            " ORDER BY k.seq DESC LIMIT %s) ORDER BY r.site, r.seq FOR UPDATE)"
            " DELETE FROM archive_references WHERE seq IN (SELECT seq FROM doomed)",
            (sorted({row[0] for row in rows}), _REFERENCES_KEPT),
        )

    def file(self, path: str) -> FileRow | None:
        row = self._one(f"SELECT {_FILE} FROM archive_files WHERE path = %s", (path,))
        return None if row is None else FileRow(*row)

    def files(self, since: str | None = None) -> list[FileRow]:
        if since is None:
            rows = self._rows(f"SELECT {_FILE} FROM archive_files ORDER BY path")
        else:
            rows = self._rows(
                f"SELECT {_FILE} FROM archive_files WHERE written_at >= %s ORDER BY path",
                (since,),
            )
        return [FileRow(*r) for r in rows]

    def sample_files(self, n: int, seed: int | None = None) -> list[FileRow]:
        # a seeded random order of the paths' hashes: repeatable, no scan of the rows' data
        salt = str(seed if seed is not None else random.getrandbits(63))
        rows = self._rows(
            f"SELECT {_FILE} FROM archive_files ORDER BY md5(path || %s) LIMIT %s", (salt, n)
        )
        return sorted((FileRow(*r) for r in rows), key=lambda r: r.path)

    def raw_sizes(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows("SELECT sha256, size FROM archive_raw")}

    def count_files(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_files")

    def add_verify_run(self, run: VerifyRun) -> None:
        with self.writing():
            self._exec(
                "INSERT INTO archive_verify_runs (scope, started_at, finished_at, checked,"
                " problems, summary) VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    run.scope,
                    run.started_at,
                    run.finished_at,
                    run.checked,
                    run.problems,
                    run.summary,
                ),
            )

    def last_verify_run(self, scope: str | None = None) -> VerifyRun | None:
        sql = "SELECT scope, started_at, finished_at, checked, problems, summary"
        sql += " FROM archive_verify_runs"
        if scope is not None:
            row = self._one(sql + " WHERE scope = %s ORDER BY id DESC LIMIT 1", (scope,))
        else:
            row = self._one(sql + " ORDER BY id DESC LIMIT 1")
        return None if row is None else VerifyRun(*row)

    def parser_versions(self) -> list[tuple[str, str, int]]:
        rows = self._rows(
            "SELECT parser, parser_version, count(*) AS n FROM archive_versions"
            " GROUP BY parser, parser_version ORDER BY n DESC, parser, parser_version"
        )
        return [(r[0], r[1], int(r[2])) for r in rows]

    def article_by_url(self, key: str) -> str | None:
        return self._id("SELECT article_id FROM archive_urls WHERE key = %s", key)

    def article_by_canonical(self, key: str) -> str | None:
        found, answer = self._ahead_of("canonical", key)
        if found:
            return answer  # type: ignore[no-any-return]
        return self._id("SELECT article_id FROM archive_canonical WHERE key = %s", key)

    def articles_by_keys(self, keys: Sequence[str]) -> dict[str, str]:
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        found: dict[str, str] = {}
        # a URL the article was seen at wins over a canonical naming it (as `find` does)
        for key, article_id, _rank in self._rows(
            "SELECT key, article_id, 1 FROM archive_canonical WHERE key = ANY(%s)"
            " UNION ALL SELECT key, article_id, 0 FROM archive_urls WHERE key = ANY(%s)"
            " ORDER BY 3 DESC",
            (unique, unique),
        ):
            found[key] = article_id
        return found

    def near(self, fingerprint: int, max_distance: int) -> list[tuple[str, int]]:
        """Articles whose current body is within `max_distance` bits of `fingerprint`."""
        if max_distance >= BANDS:
            raise ValueError(f"band lookup finds distances below {BANDS} only")
        found_ahead, answer = self._ahead_of("near", str(fingerprint))
        if found_ahead:
            rows: list[tuple[Any, ...]] = answer
        else:
            pairs = list(enumerate(bands(fingerprint)))
            rows = self._rows(_NEAR, ([p[0] for p in pairs], [p[1] for p in pairs]))
        found: dict[str, int] = {}
        for article_id, simhash in rows:
            dist = distance(fingerprint, to_unsigned(simhash))
            if dist <= max_distance:
                found[article_id] = dist
        return sorted(found.items(), key=lambda item: (item[1], item[0]))

    def seen_before(self, article_id: str, digest: str, fetched_at: str) -> bool:
        row = self._one(
            "SELECT 1 FROM archive_versions WHERE article_id = %s AND body_digest = %s AND %s <="
            " (SELECT max(fetched_at) FROM archive_versions WHERE article_id = %s)",
            (article_id, digest, fetched_at, article_id),
        )
        return row is not None

    def latest_validators(self, key: str) -> tuple[str | None, str | None] | None:
        row = self._one(
            "SELECT etag, last_modified FROM archive_fetches WHERE url_key = %s AND"
            " (etag IS NOT NULL OR last_modified IS NOT NULL) AND status IN (200, 203, 304)"
            " ORDER BY fetched_at DESC LIMIT 1",
            (key,),
        )
        return None if row is None else (row[0], row[1])

    def versions(self, article_id: str) -> list[VersionRow]:
        return [
            VersionRow(*r)
            for r in self._rows(
                "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at"
                " FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id"
                " WHERE v.article_id = %s ORDER BY v.version",
                (article_id,),
            )
        ]

    def iter_versions(
        self, source: str | None, since: str | None, latest_only: bool = False
    ) -> Iterator[VersionRow]:
        sql = (
            "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at"
            " FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id WHERE TRUE"
        )
        args: list[Any] = []
        if source is not None:
            sql += " AND a.source = %s"
            args.append(source)
        if since is not None:
            sql += " AND v.fetched_at >= %s"
            args.append(since)
        if latest_only:
            sql += " AND v.version = a.current_version"
        sql += " ORDER BY v.fetched_at, v.article_id, v.version"
        for r in self._rows(sql, args):  # not a live cursor: callers write
            yield VersionRow(*r)

    def unfiled_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        sql = (
            "SELECT sha256, source FROM archive_raw r WHERE NOT EXISTS (SELECT 1 FROM"
            " archive_fetches f WHERE f.raw_sha256 = r.sha256 AND f.article_id IS NOT NULL)"
            " AND NOT EXISTS (SELECT 1 FROM archive_versions v WHERE v.raw_sha256 = r.sha256)"
        )
        args: list[str] = []
        if source is not None:
            sql += " AND r.source = %s"
            args.append(source)
        if since is not None:
            sql += " AND r.first_fetched >= %s"
            args.append(since)
        return [(r[0], r[1]) for r in self._rows(sql + " ORDER BY first_fetched, sha256", args)]

    def add_source(self, name: str, seen: str) -> None:
        # a source this catalog saw committed has its row (DO NOTHING would change nothing)
        if name in self._sources_known or name in self._notes.sources:
            return
        if self._tx is not None:
            self._notes.sources.add(name)
            self._notes.held.sources.append((name, seen))
            return
        self._exec(
            "INSERT INTO archive_sources VALUES (%s, %s) ON CONFLICT DO NOTHING", (name, seen)
        )

    def add_raw(self, sha: str, size: int, stored: int, source: str, seen: str) -> None:
        if self._tx is not None:
            self._notes.held.raw.append((sha, size, stored, source, seen))
            return
        self._exec(
            "INSERT INTO archive_raw VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (sha, size, stored, source, seen),
        )

    def references(self, site: str, limit: int) -> list[str]:
        ahead = self._ahead.references(site, limit) if self._tx is not None else None
        if ahead is not None:
            return ahead
        rows = self._rows(
            "SELECT raw_sha256 FROM archive_references WHERE site = %s ORDER BY seq DESC LIMIT %s",
            (site, limit),
        )
        return [r[0] for r in rows]

    def add_reference(self, site: str, sha: str, since: str) -> None:
        self._ahead.added_reference(site, sha)
        if self._tx is not None:
            self._notes.held.references.append((site, sha, since))
            return
        self._exec(
            "INSERT INTO archive_references (site, raw_sha256, since) VALUES (%s, %s, %s)"
            " ON CONFLICT DO NOTHING",
            (site, sha, since),
        )
        # only the newest few are ever tried (see SqliteCatalog.add_reference)
        self._exec(
            "DELETE FROM archive_references WHERE site = %s AND seq NOT IN (SELECT seq"
            " FROM archive_references WHERE site = %s ORDER BY seq DESC LIMIT %s)",
            (site, site, _REFERENCES_KEPT),
        )

    def add_fetch(self, row: FetchRow) -> None:
        values = row.values()
        if self._tx is not None:
            self._notes.held.fetches.pop(row.fetch_id, None)  # (in the order of the last)
            self._notes.held.fetches[row.fetch_id] = values
            return
        self._exec(
            "INSERT INTO archive_fetches VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (fetch_id) DO UPDATE SET url = excluded.url, url_key ="
            " excluded.url_key, final_url = excluded.final_url, status = excluded.status,"
            " etag = excluded.etag, last_modified = excluded.last_modified, fetched_at ="
            " excluded.fetched_at, raw_sha256 = excluded.raw_sha256, size = excluded.size,"
            " source = excluded.source, article_id = excluded.article_id, outcome ="
            " excluded.outcome, run_id = excluded.run_id",
            values,
        )

    def add_url(
        self, key: str, url: str, article_id: str, seen: str, duplicate: bool = False
    ) -> None:
        """Map a URL key to an article; a real article's claim replaces a duplicate link."""
        self._ahead.forget("url", key)
        if self._tx is not None:
            self._notes.held.urls.append((key, url, article_id, seen, int(duplicate)))
            return
        self._exec(_ADD_URL, (key, url, article_id, seen, int(duplicate)))

    def article_at_url(self, key: str) -> str | None:
        found, answer = self._ahead_of("url", key)
        if found:
            return answer  # type: ignore[no-any-return]
        return self._id("SELECT article_id FROM archive_urls WHERE key = %s AND duplicate = 0", key)

    def add_canonical(self, key: str, article_id: str) -> None:
        # a store files an article's canonical key twice (its keys, then its version's)
        if (key, article_id) in self._notes.canonical:
            return
        if self._tx is not None:
            self._notes.canonical.add((key, article_id))
        self._ahead.forget("canonical", key)
        if self._tx is not None:
            self._notes.held.canonical.append((key, article_id))
            return
        self._exec(
            "INSERT INTO archive_canonical VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (key, article_id),
        )

    def put_article(self, row: ArticleRow, seen: str) -> None:
        """Insert or move the article's head to `row` (its current version and fingerprints)."""
        self._ahead.forget_article(row)
        values = (
            row.id,
            row.source,
            row.canonical_key,
            row.current_version,
            row.headline,
            row.modified,
            row.body_digest,
            to_signed(row.simhash),
            seen,
            seen,
        )
        if self._tx is not None:
            held = self._notes.held
            before = held.articles.get(row.id)
            if before is not None:  # an update keeps the source, canonical key, first_seen
                values = (*values[:1], *before[1:3], *values[3:8], before[8], seen)
            held.articles[row.id] = values
            held.touched.pop(row.id, None)  # the head's last_seen replaces a touch before it
            return
        self._exec_blind(*_put_articles([values]))

    @staticmethod
    def _flush_articles(conn: psycopg.Connection[Any], rows: list[tuple[Any, ...]]) -> None:
        conn.execute(*_put_articles(rows))

    def touch(self, article_id: str, seen: str) -> None:
        if self._tx is not None:
            held = self._notes.held
            head = held.articles.get(article_id)
            if head is not None:  # after its head was put: GREATEST on that head's
                held.articles[article_id] = (*head[:9], max(head[9], seen))
            else:
                held.touched[article_id] = max(held.touched.get(article_id, seen), seen)
            return
        self._exec_blind(
            "UPDATE archive_articles SET last_seen = GREATEST(last_seen, %s) WHERE id = %s",
            (seen, article_id),
        )

    def put_version(
        self,
        row: VersionRow,
        *,
        digest: str,
        fingerprint: int,
        headline: str,
        body: str,
        modified: str | None,
        parser: tuple[str, str],
    ) -> None:
        """Insert or replace one version and (re)index its text for search."""
        self._ahead.forget("body", digest)
        self._ahead.forget("raw", row.raw_sha256)
        values = (
            row.article_id,
            row.version,
            row.raw_sha256,
            row.fetched_at,
            digest,
            to_signed(fingerprint),
            headline,
            modified,
            parser[0],
            parser[1],
        )
        if self._tx is not None:
            # the last row of (article, version) wins (ON CONFLICT DO UPDATE one by one),
            # in the place of the first (its queuing for search, DO NOTHING)
            self._notes.held.versions[(row.article_id, row.version)] = values
            return
        # one statement with its queuing for the search index (the reading side indexes it)
        self._exec_blind(
            "WITH v AS (INSERT INTO archive_versions VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
            " ON CONFLICT (article_id, version) DO UPDATE SET raw_sha256 = excluded.raw_sha256,"
            " fetched_at = excluded.fetched_at, body_digest = excluded.body_digest, simhash ="
            " excluded.simhash, headline = excluded.headline, modified = excluded.modified,"
            " parser = excluded.parser, parser_version = excluded.parser_version) "
            + self.QUEUE_SEARCH_DOC,
            (*values, row.article_id, row.version),
        )

    def add_near_duplicate(self, a: str, b: str, dist: int, seen: str) -> None:
        first, second = sorted((a, b))
        if self._tx is not None:
            self._notes.held.near.append((first, second, dist, seen))
            return
        self._exec(
            "INSERT INTO archive_near_duplicates VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (first, second, dist, seen),
        )

    def near_duplicates(self) -> list[tuple[str, str, int]]:
        return [
            (r[0], r[1], r[2])
            for r in self._rows(
                "SELECT article_id, other_id, distance FROM archive_near_duplicates"
                " ORDER BY distance, article_id"
            )
        ]

    def start_run(self, kind: str, source: str | None, started: str) -> int:
        with self.writing():
            row = self._one(
                "INSERT INTO archive_runs (kind, source, started_at) VALUES (%s, %s, %s)"
                " RETURNING id",
                (kind, source, started),
            )
        return int(row[0]) if row else 0

    def finish_run(self, run_id: int, finished: str, counts: str) -> None:
        with self.writing():
            self._exec(
                "UPDATE archive_runs SET finished_at = %s, counts = %s WHERE id = %s",
                (finished, counts, run_id),
            )

    def finished_runs(self, kind: str, since: str) -> list[RunRow]:
        return [
            RunRow(int(r[0]), r[1], r[2], r[3], r[4], r[5] or "{}")
            for r in self._rows(
                "SELECT id, kind, source, started_at, finished_at, counts FROM archive_runs"
                " WHERE kind = %s AND started_at >= %s AND finished_at IS NOT NULL ORDER BY id",
                (kind, since),
            )
        ]

    def clear_derived(self) -> None:
        """Empty every table the files can refill (inside the caller's transaction)."""
        self._sources_known.clear()
        self._flush_held()
        self._ahead.clear()
        self._exec("TRUNCATE " + ", ".join(DERIVED_TABLES))

    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        if scratch:  # a dry run: a throwaway frontier in memory leaves no trace anywhere
            from archive.backends.frontier_sqlite import SqliteFrontier

            return SqliteFrontier.open(":memory:")
        from archive.backends.frontier_pg import PgFrontier

        frontier = PgFrontier(self.pool, self.url, lease_ttl=self.frontier_lease_ttl)
        frontier.host_claims = self.frontier_host_claims
        return frontier

    def has_table(self, name: str) -> bool:
        """Whether the database has a table `name` (the queue's, created by its own schema)."""
        row = self._one(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname ="
            " current_schema() AND tablename = %s)",
            (name,),
        )
        return bool(row and row[0])

    def integrity_problem(self) -> str | None:
        version = self._one("SELECT value FROM archive_info WHERE key = 'schema'")
        if version is None or version[0] != str(SCHEMA_VERSION):
            return f"postgresql catalog schema is {version and version[0]}, not {SCHEMA_VERSION}"
        bad = self._rows(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE NOT i.indisvalid"
        )
        return None if not bad else f"invalid postgresql indexes: {', '.join(r[0] for r in bad)}"

    def raw_shas(self) -> set[str]:
        return {r[0] for r in self._rows("SELECT sha256 FROM archive_raw")}

    def indexed_versions(self) -> dict[tuple[str, int], tuple[str, str]]:
        rows = self._rows(
            "SELECT v.article_id, v.version, a.source, v.raw_sha256 FROM archive_versions v"
            " LEFT JOIN archive_articles a ON a.id = v.article_id"
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    def heads_without_version(self) -> list[tuple[str, int]]:
        rows = self._rows(
            "SELECT id, current_version FROM archive_articles a WHERE NOT EXISTS (SELECT 1"
            " FROM archive_versions v WHERE v.article_id = a.id AND v.version = a.current_version)"
        )
        return [(r[0], r[1]) for r in rows]

    def fetches_without_raw(self) -> int:
        return self._scalar(
            "SELECT count(*) FROM archive_fetches f WHERE f.raw_sha256 IS NOT NULL AND NOT"
            " EXISTS (SELECT 1 FROM archive_raw r WHERE r.sha256 = f.raw_sha256)"
        )

    def count_articles(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_articles")

    def count_near_duplicates(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_near_duplicates")

    def source_counts(self) -> list[SourceCounts]:
        per: dict[str, dict[str, int]] = {}

        def add(sql: str, *names: str) -> None:
            for row in self._rows(sql):
                per.setdefault(row[0], {}).update(
                    {name: int(value or 0) for name, value in zip(names, row[1:], strict=True)}
                )

        add("SELECT source, count(*) FROM archive_articles GROUP BY source", "articles")
        add(
            "SELECT a.source, count(*) FROM archive_versions v JOIN archive_articles a"
            " ON a.id = v.article_id GROUP BY a.source",
            "versions",
        )
        add(
            "SELECT source, count(*), sum(CASE WHEN status < 300 THEN size ELSE 0 END),"
            " count(*) FILTER (WHERE outcome = 'duplicate') FROM archive_fetches GROUP BY source",
            "fetches",
            "raw_bytes",
            "duplicates",
        )
        add(
            "SELECT source, count(*), sum(stored_size) FROM archive_raw GROUP BY source",
            "raw_pages",
            "stored_bytes",
        )
        add(
            "SELECT f.source, count(*) - count(DISTINCT f.raw_sha256) FROM archive_fetches f"
            " WHERE f.status < 300 AND f.raw_sha256 IS NOT NULL GROUP BY f.source",
            "identical_refetches",
        )
        return [SourceCounts(source=name, **counts) for name, counts in sorted(per.items())]

    def fetched_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        sql = "SELECT fetch_id, raw_sha256 FROM archive_fetches WHERE raw_sha256 IS NOT NULL"
        args: list[str] = []
        if source is not None:
            sql += " AND source = %s"
            args.append(source)
        if since is not None:
            sql += " AND fetched_at >= %s"
            args.append(since)
        return [(r[0], r[1]) for r in self._rows(sql + " ORDER BY fetched_at, fetch_id", args)]


def _lock_id(key: str) -> int:
    """A key's 32-bit advisory lock number (a collision only makes two stores wait)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=4).digest(), "big", signed=True)


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """Where a database's catalog schema stands: 0 when it has none yet."""
    # a scan of pg_tables, not to_regclass: after waiting on an advisory lock, the cached
    # catalog may not show the tables another process has just created
    exists = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
        " AND tablename = 'archive_info')"
    ).fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()
    return int(row[0]) if row else 0


def migrate(pool: ConnectionPool) -> int:
    """Apply the missing migrations in order (each in its own transaction, one process at a
    time); returns the schema version. A newer schema than this code knows is refused."""
    try:
        with pool.connection() as conn:
            if schema_version(conn) == SCHEMA_VERSION:
                return SCHEMA_VERSION
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                current = schema_version(conn)
                if current > SCHEMA_VERSION:
                    raise StorageError(
                        f"the catalog's schema {current} is newer than this morgue's "
                        f"({SCHEMA_VERSION}): upgrade morgue"
                    )
                for version in range(current + 1, SCHEMA_VERSION + 1):
                    with conn.transaction():
                        conn.execute(MIGRATIONS[version])
                        conn.execute(
                            "INSERT INTO archive_info VALUES ('schema', %s) ON CONFLICT (key)"
                            " DO UPDATE SET value = excluded.value",
                            (str(version),),
                        )
            return SCHEMA_VERSION
    except psycopg.Error as exc:
        raise StorageError(f"cannot migrate the catalog: {exc}") from exc
