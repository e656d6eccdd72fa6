"""The embedded catalog: SQLite in WAL mode, shared safely between processes.

Writers take the lock up front (BEGIN IMMEDIATE) and wait `busy_timeout` seconds for another
process, retry a few times, then raise `ArchiveBusy`. Every table is named `archive_*`
(`archive.backends.catalog_schema`), so other modules may keep their tables in the same file. The
full-text index is contentless FTS5: no second copy of every body.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from archive.atomic import describe
from archive.backends.catalog import ArticleRow, FetchRow, SourceCounts, VersionRow
from archive.backends.catalog_schema import CATALOG_SCHEMA_VERSION, DDL, DERIVED_TABLES
from archive.backends.frontier import Frontier
from archive.backends.frontier_sqlite import SqliteFrontier
from archive.errors import ArchiveBusy, ArchiveError, StorageError
from archive.fingerprint import BANDS, bands, distance, to_signed, to_unsigned

_REFERENCES_KEPT = 8


def _sleep(seconds: float) -> None:
    time.sleep(seconds)


class SqliteCatalog:
    """The catalog in one SQLite file, shared safely between processes."""

    def __init__(
        self,
        path: Path,
        *,
        busy_timeout: float = 30.0,
        retries: int = 3,
        sleep: Callable[[float], None] = _sleep,
        synchronous: str = "FULL",
    ) -> None:
        self.path = path
        self._retries = retries
        self.sleep = sleep
        try:
            self.db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open catalog {path}: {exc}") from exc
        self.db.row_factory = sqlite3.Row
        self._depth = 0
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous}")
            if not self._schema_current():
                self._create()
        except ArchiveError:
            self.db.close()
            raise
        except sqlite3.Error as exc:
            self.db.close()
            raise _storage_error(exc, path) from exc

    def _schema_current(self) -> bool:
        """True when the tables exist (opening then needs no write lock)."""
        try:
            row = self._one("SELECT value FROM archive_info WHERE key = 'schema'")
        except sqlite3.OperationalError:
            return False
        return row is not None and row[0] == str(CATALOG_SCHEMA_VERSION)

    def _create(self) -> None:
        with self.writing():
            for statement in DDL.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            self.db.execute(
                "INSERT OR REPLACE INTO archive_info VALUES ('schema', ?)",
                (str(CATALOG_SCHEMA_VERSION),),
            )

    def close(self) -> None:
        # fold the write-ahead log back into the database so a closed archive is one file
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    @contextlib.contextmanager
    def writing(self, keys: Sequence[str] = ()) -> Iterator[None]:
        """One write transaction (re-entrant: an inner `writing` joins the outer one). SQLite
        has one writer at a time: `keys` make no difference here."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _storage_error(exc, self.path) from exc
            raise
        finally:
            self._depth = 0

    def _begin(self) -> None:
        for attempt in range(self._retries + 1):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise _storage_error(exc, self.path) from exc
                if attempt == self._retries:
                    raise ArchiveBusy(
                        f"archive {self.path.parent} is busy: another morgue process holds it"
                    ) from exc
                self.sleep(0.5 * (attempt + 1))

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(sql, args).fetchone()
        return row

    def article(self, article_id: str) -> ArticleRow | None:
        row = self._one("SELECT * FROM archive_articles WHERE id = ?", article_id)
        if row is None:
            return None
        return ArticleRow(
            id=row["id"],
            source=row["source"],
            canonical_key=row["canonical_key"],
            current_version=row["current_version"],
            headline=row["headline"],
            modified=row["modified"],
            body_digest=row["body_digest"],
            simhash=to_unsigned(row["simhash"]),
        )

    def _id(self, sql: str, key: str) -> str | None:
        row = self._one(sql, key)
        return None if row is None else str(row[0])

    def article_by_url(self, key: str) -> str | None:
        return self._id("SELECT article_id FROM archive_urls WHERE key = ?", key)

    def article_by_canonical(self, key: str) -> str | None:
        return self._id("SELECT article_id FROM archive_canonical WHERE key = ?", key)

    def article_by_body(self, digest: str) -> str | None:
        return self._id("SELECT article_id FROM archive_bodies WHERE digest = ?", digest)

    def near(self, fingerprint: int, max_distance: int) -> list[tuple[str, int]]:
        """Articles whose current body is within `max_distance` bits of `fingerprint`."""
        if max_distance >= BANDS:
            raise ValueError(f"band lookup finds distances below {BANDS} only")
        found: dict[str, int] = {}
        for band, value in enumerate(bands(fingerprint)):
            for row in self.db.execute(
                "SELECT b.article_id, a.simhash FROM archive_simhash_bands b "
                "JOIN archive_articles a ON a.id = b.article_id WHERE b.band = ? AND b.value = ?",
                (band, value),
            ):
                dist = distance(fingerprint, to_unsigned(row[1]))
                if dist <= max_distance:
                    found[row[0]] = dist
        return sorted(found.items(), key=lambda item: (item[1], item[0]))

    def seen_before(self, article_id: str, digest: str, fetched_at: str) -> bool:
        """True when `digest` is the body of an earlier version and the fetch is no newer
        than the article's latest version (an old fetch replayed, e.g. from a WARC)."""
        row = self._one(
            "SELECT 1 FROM archive_versions WHERE article_id = ? AND body_digest = ? AND ? <= "
            "(SELECT max(fetched_at) FROM archive_versions WHERE article_id = ?)",
            article_id,
            digest,
            fetched_at,
            article_id,
        )
        return row is not None

    def latest_validators(self, key: str) -> tuple[str | None, str | None] | None:
        row = self._one(
            "SELECT etag, last_modified FROM archive_fetches WHERE url_key = ? AND "
            "(etag IS NOT NULL OR last_modified IS NOT NULL) AND status IN (200, 203, 304) "
            "ORDER BY fetched_at DESC LIMIT 1",
            key,
        )
        return None if row is None else (row[0], row[1])

    def versions(self, article_id: str) -> list[VersionRow]:
        return [
            VersionRow(r[0], r[1], r[2], r[3], r[4])
            for r in self.db.execute(
                "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at "
                "FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id "
                "WHERE v.article_id = ? ORDER BY v.version",
                (article_id,),
            )
        ]

    def iter_versions(
        self, source: str | None, since: str | None, latest_only: bool = False
    ) -> Iterator[VersionRow]:
        sql = (
            "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at "
            "FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id WHERE 1"
        )
        args: list[Any] = []
        if source is not None:
            sql += " AND a.source = ?"
            args.append(source)
        if since is not None:
            sql += " AND v.fetched_at >= ?"
            args.append(since)
        if latest_only:
            sql += " AND v.version = a.current_version"
        sql += " ORDER BY v.fetched_at, v.article_id, v.version"
        rows = self.db.execute(sql, args).fetchall()  # not a live cursor: callers write
        for r in rows:
            yield VersionRow(r[0], r[1], r[2], r[3], r[4])

    def unfiled_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        sql = (
            "SELECT sha256, source FROM archive_raw r WHERE NOT EXISTS (SELECT 1 FROM "
            "archive_fetches f WHERE f.raw_sha256 = r.sha256 AND f.article_id IS NOT NULL) "
            "AND NOT EXISTS (SELECT 1 FROM archive_versions v WHERE v.raw_sha256 = r.sha256)"
        )
        args: list[str] = []
        if source is not None:
            sql += " AND r.source = ?"
            args.append(source)
        if since is not None:
            sql += " AND r.first_fetched >= ?"
            args.append(since)
        rows = self.db.execute(sql + " ORDER BY first_fetched, sha256", args).fetchall()
        return [(r[0], r[1]) for r in rows]

    def add_source(self, name: str, seen: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO archive_sources VALUES (?, ?)", (name, seen))

    def add_raw(self, sha: str, size: int, stored: int, source: str, seen: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO archive_raw VALUES (?, ?, ?, ?, ?)",
            (sha, size, stored, source, seen),
        )

    def references(self, site: str, limit: int) -> list[str]:
        rows = self.db.execute(
            "SELECT raw_sha256 FROM archive_references WHERE site = ?"
            " ORDER BY rowid DESC LIMIT ?",  # the newest stored first
            (site, limit),
        ).fetchall()
        return [r[0] for r in rows]

    def add_reference(self, site: str, sha: str, since: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO archive_references VALUES (?, ?, ?)", (site, sha, since)
        )
        # only the newest few are ever tried: a site whose every page is unlike the last
        # (a hostile one, or random bytes) must not grow a long list to sort on each store
        self.db.execute(
            "DELETE FROM archive_references WHERE site = ? AND rowid NOT IN (SELECT rowid"
            " FROM archive_references WHERE site = ? ORDER BY rowid DESC LIMIT ?)",
            (site, site, _REFERENCES_KEPT),
        )

    def add_fetch(self, row: FetchRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO archive_fetches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                row.fetch_id,
                row.url,
                row.url_key,
                row.final_url,
                row.status,
                row.etag,
                row.last_modified,
                row.fetched_at,
                row.raw_sha256,
                row.size,
                row.source,
                row.article_id,
                row.outcome,
                row.run_id,
            ),
        )

    def add_url(
        self, key: str, url: str, article_id: str, seen: str, duplicate: bool = False
    ) -> None:
        """Map a URL key to an article; a real article's claim replaces a duplicate link."""
        self.db.execute(
            "INSERT INTO archive_urls VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
            "article_id = excluded.article_id, url = excluded.url, duplicate = 0 "
            "WHERE archive_urls.duplicate = 1 AND excluded.duplicate = 0",
            (key, url, article_id, seen, int(duplicate)),
        )

    def article_at_url(self, key: str) -> str | None:
        """The article a URL is its own address of (not a duplicate link)."""
        return self._id("SELECT article_id FROM archive_urls WHERE key = ? AND duplicate = 0", key)

    def add_canonical(self, key: str, article_id: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO archive_canonical VALUES (?, ?)", (key, article_id))

    def put_article(self, row: ArticleRow, seen: str) -> None:
        """Insert or move the article's head to `row` (its current version and fingerprints)."""
        self.db.execute(
            "INSERT INTO archive_articles VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO "
            "UPDATE SET current_version = excluded.current_version, headline = "
            "excluded.headline, modified = excluded.modified, body_digest = "
            "excluded.body_digest, simhash = excluded.simhash, last_seen = excluded.last_seen",
            (
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
            ),
        )
        self.db.execute("DELETE FROM archive_simhash_bands WHERE article_id = ?", (row.id,))
        self.db.executemany(
            "INSERT OR IGNORE INTO archive_simhash_bands VALUES (?, ?, ?)",
            [(band, value, row.id) for band, value in enumerate(bands(row.simhash))],
        )
        self.db.execute(
            "INSERT OR IGNORE INTO archive_bodies VALUES (?, ?)", (row.body_digest, row.id)
        )

    def touch(self, article_id: str, seen: str) -> None:
        self.db.execute(
            "UPDATE archive_articles SET last_seen = max(last_seen, ?) WHERE id = ?",
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
        self.db.execute(
            "INSERT OR REPLACE INTO archive_versions VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
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
            ),
        )
        # the full-text index is contentless (no second copy of every body): a replaced
        # version gets a new doc number and the old one is left unreachable
        self.db.execute(
            "DELETE FROM archive_fts_docs WHERE article_id = ? AND version = ?",
            (row.article_id, row.version),
        )
        cur = self.db.execute(
            "INSERT INTO archive_fts_docs (article_id, version) VALUES (?, ?)",
            (row.article_id, row.version),
        )
        self.db.execute(
            "INSERT INTO archive_fts (rowid, headline, body) VALUES (?, ?, ?)",
            (cur.lastrowid, headline, body),
        )
        self.db.execute(
            "INSERT OR IGNORE INTO archive_bodies VALUES (?, ?)", (digest, row.article_id)
        )

    def add_near_duplicate(self, a: str, b: str, dist: int, seen: str) -> None:
        first, second = sorted((a, b))
        self.db.execute(
            "INSERT OR IGNORE INTO archive_near_duplicates VALUES (?, ?, ?, ?)",
            (first, second, dist, seen),
        )

    def search(self, query: str, limit: int) -> list[str]:
        """Article ids whose headline or body (any version) match an FTS5 query, best first."""
        try:
            rows = self.db.execute(
                "SELECT d.article_id, min(f.rank) AS r FROM archive_fts f "
                "JOIN archive_fts_docs d ON d.doc = f.rowid WHERE archive_fts MATCH ? "
                "GROUP BY d.article_id ORDER BY r LIMIT ?",
                (query, limit),
            ).fetchall()
        except sqlite3.OperationalError as exc:
            raise ArchiveError(f"bad search query {query!r}: {exc}") from exc
        return [str(r[0]) for r in rows]

    def near_duplicates(self) -> list[tuple[str, str, int]]:
        return [
            (r[0], r[1], r[2])
            for r in self.db.execute(
                "SELECT article_id, other_id, distance FROM archive_near_duplicates "
                "ORDER BY distance, article_id"
            )
        ]

    def start_run(self, kind: str, source: str | None, started: str) -> int:
        with self.writing():
            cur = self.db.execute(
                "INSERT INTO archive_runs (kind, source, started_at) VALUES (?, ?, ?)",
                (kind, source, started),
            )
        return int(cur.lastrowid or 0)

    def finish_run(self, run_id: int, finished: str, counts: str) -> None:
        with self.writing():
            self.db.execute(
                "UPDATE archive_runs SET finished_at = ?, counts = ? WHERE id = ?",
                (finished, counts, run_id),
            )

    def clear_derived(self) -> None:
        """Empty every table the files can refill (inside the caller's transaction)."""
        for table in DERIVED_TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("INSERT INTO archive_fts (archive_fts) VALUES ('delete-all')")

    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        return SqliteFrontier.open(":memory:" if scratch else self.path)

    def _scalar(self, sql: str, *args: Any) -> int:
        row = self.db.execute(sql, args).fetchone()
        return int(row[0] or 0) if row else 0

    def integrity_problem(self) -> str | None:
        result = str(self.db.execute("PRAGMA quick_check").fetchone()[0])
        return None if result == "ok" else f"sqlite quick_check: {result}"

    def raw_shas(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM archive_raw")}

    def indexed_versions(self) -> dict[tuple[str, int], tuple[str, str]]:
        rows = self.db.execute(
            "SELECT v.article_id, v.version, a.source, v.raw_sha256 FROM archive_versions v "
            "LEFT JOIN archive_articles a ON a.id = v.article_id"
        )
        return {(r[0], r[1]): (r[2], r[3]) for r in rows}

    def heads_without_version(self) -> list[tuple[str, int]]:
        rows = self.db.execute(
            "SELECT id, current_version FROM archive_articles a WHERE NOT EXISTS (SELECT 1 "
            "FROM archive_versions v WHERE v.article_id = a.id AND v.version = a.current_version)"
        )
        return [(r[0], r[1]) for r in rows]

    def fetches_without_raw(self) -> int:
        return self._scalar(
            "SELECT count(*) FROM archive_fetches f WHERE f.raw_sha256 IS NOT NULL AND NOT "
            "EXISTS (SELECT 1 FROM archive_raw r WHERE r.sha256 = f.raw_sha256)"
        )

    def count_articles(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_articles")

    def count_near_duplicates(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_near_duplicates")

    def source_counts(self) -> list[SourceCounts]:
        per: dict[str, dict[str, int]] = {}

        def add(sql: str, *names: str) -> None:
            for row in self.db.execute(sql):
                per.setdefault(row[0], {}).update(
                    {name: int(value or 0) for name, value in zip(names, row[1:], strict=True)}
                )

        add("SELECT source, count(*) FROM archive_articles GROUP BY source", "articles")
        add(
            "SELECT a.source, count(*) FROM archive_versions v JOIN archive_articles a "
            "ON a.id = v.article_id GROUP BY a.source",
            "versions",
        )
        add(
            "SELECT source, count(*), sum(CASE WHEN status < 300 THEN size ELSE 0 END), "
            "sum(outcome = 'duplicate') FROM archive_fetches GROUP BY source",
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
            "SELECT f.source, count(*) - count(DISTINCT f.raw_sha256) FROM archive_fetches f "
            "WHERE f.status < 300 AND f.raw_sha256 IS NOT NULL GROUP BY f.source",
            "identical_refetches",
        )
        return [SourceCounts(source=name, **counts) for name, counts in sorted(per.items())]

    def fetched_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        sql = "SELECT fetch_id, raw_sha256 FROM archive_fetches WHERE raw_sha256 IS NOT NULL"
        args: list[str] = []
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        if since is not None:
            sql += " AND fetched_at >= ?"
            args.append(since)
        rows = self.db.execute(sql + " ORDER BY fetched_at, fetch_id", args)
        return [(r[0], r[1]) for r in rows]


def _storage_error(exc: sqlite3.Error, path: Path) -> ArchiveError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return ArchiveBusy(f"archive {path.parent} is busy: {text}")
    if "readonly" in text or "read-only" in text:
        return StorageError(f"cannot write {path}: read-only file system or folder")
    if "disk" in text and "full" in text:
        return StorageError(f"cannot write {path}: disk full")
    if isinstance(exc, OSError):
        return StorageError(describe(exc, path))
    return StorageError(f"catalog {path}: {text}")
