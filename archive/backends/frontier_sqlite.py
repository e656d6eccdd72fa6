"""The crawl frontier: every URL a source's crawls have found, and what became of it, in SQLite.

It lives in its own SQLite file beside the archive's catalog (`frontier.sqlite`, WAL mode: a
lease or a done mark never waits for the catalog's write lock), so that a crawl killed at any
point loses nothing: each fetched URL's state is committed as soon as it is known,
URLs leased to a crawl that died are queued again by the next `begin_run`, and the queue itself
never sits in Python lists (memory stays flat at hundreds of thousands of queued URLs). URLs are
deduplicated per source by `archive.urls.url_key`. Start points (feeds, sitemaps, sections) are
queued again every run; an article is queued again only by the revisit policy (young articles
every so often) or when a listing says it changed after we fetched it. Times are epoch seconds
handed in by the caller.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from archive.atomic import fsync_dir
from archive.backends.frontier import (
    MAX_ATTEMPTS,
    MAX_PAGES_PER_TEMPLATE,
    PRIORITY,
    START_PRIORITY,
    Entry,
    Item,
    Kind,
    Revisit,
    State,
)
from archive.errors import ArchiveBusy, StorageError
from archive.urls import normalize_url, url_key

_SCHEMA = """
CREATE TABLE IF NOT EXISTS frontier_urls (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    key TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    depth INTEGER NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    start INTEGER NOT NULL DEFAULT 0,  -- 1 configured start point, 2 refreshed every run
    discovered_at REAL NOT NULL,
    first_fetched REAL,
    fetched_at REAL,
    published REAL,
    etag TEXT,
    last_modified TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    UNIQUE (source, key)
);
CREATE INDEX IF NOT EXISTS frontier_queue ON frontier_urls (source, state, priority, depth);
CREATE TABLE IF NOT EXISTS frontier_templates (
    source TEXT NOT NULL,
    template TEXT NOT NULL,
    pages INTEGER NOT NULL,
    PRIMARY KEY (source, template)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS frontier_runs (
    source TEXT PRIMARY KEY,
    started_at REAL NOT NULL,
    finished_at REAL,
    status TEXT NOT NULL
) WITHOUT ROWID;
"""


FRONTIER_TABLES = ("frontier_urls", "frontier_templates", "frontier_runs")


def copy_frontier(catalog: Path, path: Path) -> None:
    """Copy the frontier tables an older morgue kept in the catalog file `catalog` into a new
    frontier file `path`: written whole under a temporary name, synced, then renamed."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.executescript(_SCHEMA)
            conn.execute("ATTACH ? AS old", (str(catalog),))
            conn.execute("BEGIN")
            for table in FRONTIER_TABLES:
                conn.execute(f"INSERT INTO main.{table} SELECT * FROM old.{table}")
            conn.execute("COMMIT")
            conn.execute("DETACH old")
        finally:
            conn.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(path.parent)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(
            f"{path}: cannot move the crawl frontier out of {catalog}: {exc}"
        ) from exc


class SqliteFrontier:
    """The frontier in SQLite: one connection on its file. Not shared between threads."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._db = conn
        self._run_started: dict[str, float] = {}

    @classmethod
    def open(cls, path: Path | str, *, timeout: float = 30.0) -> SqliteFrontier:
        """Open (creating the tables if needed) the frontier in the SQLite file at `path`."""
        try:
            conn = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a killed process loses no committed transaction; a power cut
            # may lose the last few, which only means refetching pages the archive then
            # finds unchanged
            conn.execute("PRAGMA synchronous=NORMAL")
            # statement journals and sorts in memory, not in temp files (see SqliteCatalog)
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.executescript(_SCHEMA)
        except sqlite3.OperationalError as exc:
            raise _archive_error(exc, path) from None
        return cls(conn)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteFrontier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise _archive_error(exc, "catalog") from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            raise _archive_error(exc, "catalog") from None

    def begin_run(
        self,
        source: str,
        *,
        now: float,
        starts: Iterable[tuple[str, Kind]],
        revisit: Revisit | None = None,
    ) -> int:
        """Prepare a run: requeue what a dead run had leased, transient failures, every start
        point and the articles due for a revisit. Returns how many URLs are queued."""
        self._run_started[source] = now
        with self._tx() as db:
            db.execute(
                "INSERT INTO frontier_runs VALUES (?, ?, NULL, 'running') ON CONFLICT (source)"
                " DO UPDATE SET started_at = excluded.started_at, finished_at = NULL,"
                " status = 'running'",
                (source, now),
            )
            db.execute(
                "UPDATE frontier_urls SET state = 'queued' WHERE source = ? AND (state = 'leased'"
                " OR (state = 'retry' AND attempts < ?))",
                (source, MAX_ATTEMPTS),
            )
            # start points (1) and what discovery marked for every run (2)
            db.execute(
                "UPDATE frontier_urls SET state = 'queued' WHERE source = ? AND start > 0"
                " AND state != 'queued'",
                (source,),
            )
            for url, kind in starts:
                self._insert(db, source, Entry(url, kind, 0), now, start=True)
            if revisit is not None:
                db.execute(
                    "UPDATE frontier_urls SET state = 'queued' WHERE source = ? AND state = 'done'"
                    " AND kind = 'article' AND COALESCE(published, first_fetched) >= ?"
                    " AND fetched_at <= ?",
                    (source, now - revisit.max_age, now - revisit.every),
                )
            row = db.execute(
                "SELECT COUNT(*) FROM frontier_urls WHERE source = ? AND state = 'queued'",
                (source,),
            ).fetchone()
        return int(row[0])

    def end_run(self, source: str, *, now: float, status: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE frontier_runs SET finished_at = ?, status = ? WHERE source = ?",
                (now, status, source),
            )

    def last_run(self, source: str) -> tuple[float, float | None, str] | None:
        """(started_at, finished_at, status) of the source's latest run, or None."""
        row = self._db.execute(
            "SELECT started_at, finished_at, status FROM frontier_runs WHERE source = ?", (source,)
        ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _insert(
        self, db: sqlite3.Connection, source: str, entry: Entry, now: float, *, start: bool
    ) -> bool:
        url = normalize_url(entry.url)
        cursor = db.execute(
            "INSERT INTO frontier_urls (source, key, url, kind, depth, priority, state, start,"
            " discovered_at, published) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)"
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
            ),
        )
        return cursor.rowcount == 1

    def add(
        self, source: str, entries: Iterable[Entry], *, now: float, refresh_after: float
    ) -> list[str]:
        """Queue what discovery found; returns the keys of URLs never seen before.

        A known URL is queued again only when this run has not fetched it yet and: a listing
        says it was modified after our fetch (articles, sitemaps), it is a sitemap/feed whose
        listing gives no date (conditional GET is cheap), or it is a navigation page last
        fetched more than `refresh_after` seconds ago. Navigation pages of one URL shape are
        capped at MAX_PAGES_PER_TEMPLATE per source.
        """
        run_started = self._run_started.get(source, now)
        new: list[str] = []
        with self._tx() as db:
            for entry in entries:
                if (
                    entry.kind is Kind.PAGE
                    and entry.template
                    and not self._template_ok(db, source, entry)
                ):
                    continue
                if self._insert(db, source, entry, now, start=False):
                    new.append(url_key(entry.url))
                    continue
                if entry.refresh:
                    db.execute(
                        "UPDATE frontier_urls SET start = 2 WHERE source = ? AND key = ?"
                        " AND start = 0",
                        (source, url_key(entry.url)),
                    )
                self._maybe_requeue(db, source, entry, run_started, now - refresh_after)
        return new

    def _template_ok(self, db: sqlite3.Connection, source: str, entry: Entry) -> bool:
        known = db.execute(
            "SELECT 1 FROM frontier_urls WHERE source = ? AND key = ?",
            (source, url_key(entry.url)),
        ).fetchone()
        if known:
            return True
        row = db.execute(
            "SELECT pages FROM frontier_templates WHERE source = ? AND template = ?",
            (source, entry.template),
        ).fetchone()
        if row is not None and row[0] >= MAX_PAGES_PER_TEMPLATE:
            return False
        db.execute(
            "INSERT INTO frontier_templates VALUES (?, ?, 1) ON CONFLICT (source, template)"
            " DO UPDATE SET pages = pages + 1",
            (source, entry.template),
        )
        return True

    def _maybe_requeue(
        self, db: sqlite3.Connection, source: str, entry: Entry, run_started: float, stale: float
    ) -> None:
        key = url_key(entry.url)
        if entry.published is not None:
            db.execute(
                "UPDATE frontier_urls SET published = ? WHERE source = ? AND key = ?"
                " AND published IS NULL",
                (entry.published, source, key),
            )
        if entry.kind in (Kind.SITEMAP, Kind.FEED):
            condition = "(? IS NULL OR fetched_at IS NULL OR fetched_at < ?)"
            args: tuple[object, ...] = (entry.modified, entry.modified)
        elif entry.kind is Kind.ARTICLE:
            condition = "(? IS NOT NULL AND fetched_at < ?)"
            args = (entry.modified, entry.modified)
        else:
            condition = "fetched_at <= ?"
            args = (stale,)
        db.execute(
            "UPDATE frontier_urls SET state = 'queued' WHERE source = ? AND key = ?"
            " AND state IN ('done', 'failed') AND fetched_at < ? AND " + condition,
            (source, key, run_started, *args),
        )

    def lease(self, source: str, limit: int) -> list[Item]:
        """Take up to `limit` queued URLs, start points first, then by depth and age."""
        with self._tx() as db:
            rows = db.execute(
                "UPDATE frontier_urls SET state = 'leased' WHERE id IN (SELECT id FROM"
                " frontier_urls WHERE source = ? AND state = 'queued' ORDER BY priority, depth, id"
                " LIMIT ?) RETURNING key, url, kind, depth, etag, last_modified, fetched_at,"
                " attempts, priority, id, start",
                (source, limit),
            ).fetchall()
        rows.sort(key=lambda r: (r[8], r[3], r[9]))
        return [
            Item(r[0], r[1], Kind(r[2]), r[3], r[4], r[5], r[6], r[7], r[10] == 1) for r in rows
        ]

    def release(self, source: str, keys: Iterable[str]) -> None:
        """Give leased URLs back to the queue (a run stopping early)."""
        with self._tx() as db:
            db.executemany(
                "UPDATE frontier_urls SET state = 'queued' WHERE source = ? AND key = ?"
                " AND state = 'leased'",
                [(source, k) for k in keys],
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
        """Record what fetching a leased URL gave. A 304 passes keep_validators=True."""
        self.finish_many(
            [
                Finish(
                    source,
                    key,
                    state,
                    now,
                    outcome,
                    etag,
                    last_modified,
                    published,
                    keep_validators,
                )
            ]
        )

    def finish_many(self, finishes: Sequence[Finish]) -> None:
        """`finish` for many URLs in one transaction (a crawl's group commit of "done")."""
        if not finishes:
            return
        with self._tx() as db:
            for (retry, keep, guard), rows in grouped_finishes(finishes):
                db.executemany(finish_statement(retry, keep, guard), rows)

    def mark_known(
        self, source: str, key: str, *, fetched_at: float, published: float | None
    ) -> None:
        """A URL the archive already holds: done, as if this frontier had fetched it."""
        with self._tx() as db:
            db.execute(
                "UPDATE frontier_urls SET state = 'done', fetched_at = ?, first_fetched = ?,"
                " published = COALESCE(published, ?), outcome = 'archived' WHERE source = ?"
                " AND key = ? AND state = 'queued'",
                (fetched_at, fetched_at, published, source, key),
            )

    def url_of(self, source: str, key: str) -> str | None:
        row = self._db.execute(
            "SELECT url FROM frontier_urls WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def count(self, source: str, state: State | None = None) -> int:
        if state is None:
            row = self._db.execute("SELECT COUNT(*) FROM frontier_urls WHERE source = ?", (source,))
        else:
            row = self._db.execute(
                "SELECT COUNT(*) FROM frontier_urls WHERE source = ? AND state = ?",
                (source, state.value),
            )
        return int(row.fetchone()[0])

    def states(self, source: str) -> dict[str, str]:
        """key -> state of every URL of a source (tests and `morgue crawl --dry-run`)."""
        rows = self._db.execute(
            "SELECT key, state FROM frontier_urls WHERE source = ?", (source,)
        ).fetchall()
        return {str(k): str(s) for k, s in rows}


def _archive_error(exc: sqlite3.OperationalError, path: Path | str) -> Exception:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return ArchiveBusy(f"{path}: the catalog is busy (another process holds it): {text}")
    return StorageError(f"{path}: cannot use the frontier tables: {text}")


@dataclass(frozen=True, slots=True)
class Finish:
    """One `SqliteFrontier.finish`, held to be written with others."""

    source: str
    key: str
    state: State
    now: float
    outcome: str
    etag: str | None = None
    last_modified: str | None = None
    published: float | None = None
    keep_validators: bool = False


def finish_statement(retry: bool, keep: bool, guard: bool, mark: str = "?") -> str:
    """The UPDATE for one shape of `grouped_finishes`' rows; `mark` is the driver's parameter
    placeholder (SQLite's ?, psycopg's %s). `guard`: the finish is not "done" (a retry or a
    failure), and does not overwrite a "done" the URL already has: in a cluster, a second
    worker whose copy of an expired lease failed would otherwise queue a stored page again
    (or mark it failed)."""
    attempts = "attempts + 1" if retry else "0"
    validators = (
        "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified)"
        if keep
        else "etag = ?, last_modified = ?"
    )
    sql = (
        "UPDATE frontier_urls SET state = ?, fetched_at = ?,"
        " first_fetched = COALESCE(first_fetched, ?), outcome = ?,"
        f" attempts = {attempts}, {validators}, published = COALESCE(?, published)"
        " WHERE source = ? AND key = ?"
    )
    if guard:
        sql += " AND state != 'done'"
    return sql.replace("?", mark)


def grouped_finishes(
    finishes: Sequence[Finish],
) -> list[tuple[tuple[bool, bool, bool], list[tuple[Any, ...]]]]:
    """Runs of rows of one statement shape (retry or not, validators kept or not, guarded
    against overwriting "done" or not), in order."""
    runs: list[tuple[tuple[bool, bool, bool], list[tuple[Any, ...]]]] = []
    for f in finishes:
        shape = (f.state is State.RETRY, f.keep_validators, f.state is not State.DONE)
        if not runs or runs[-1][0] != shape:
            runs.append((shape, []))
        row = (f.state.value, f.now, f.now, f.outcome, f.etag, f.last_modified, f.published)
        runs[-1][1].append((*row, f.source, f.key))
    return runs
