"""The embedded catalog: SQLite in WAL mode, shared safely between processes.

Writers take the lock up front (BEGIN IMMEDIATE) and wait `busy_timeout` seconds for another
process, retry a few times, then raise `ArchiveBusy`. Every table is named `archive_*`
(`archive.backends.catalog_schema`). The crawl frontier has a file of its own beside this one
(`frontier.sqlite`; older archives kept it here and it moves on first use). The full-text index
is contentless FTS5: no second copy of every body. The connection may be handed to another
thread (a crawl's writer thread) but is used by one thread at a time; readers on other threads
open their own (`reader`).
"""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from archive.atomic import describe
from archive.backends.catalog import (
    COUNT_CAP,
    ArticleRow,
    CopyRow,
    FetchRow,
    FileRow,
    Filters,
    ListedRow,
    PendingDoc,
    RunRow,
    SearchDoc,
    SearchPage,
    SourceCounts,
    SourceRow,
    UrlRow,
    VerifyRun,
    VersionRow,
)
from archive.backends.catalog_schema import (
    ADD_CURRENT,
    CATALOG_SCHEMA_VERSION,
    DDL,
    DERIVED_TABLES,
    DROP_FTS,
    FILL_SEARCH_DAYS,
    FILL_SEARCH_MULTI,
    FTS_RANK,
    REQUEUE_DOCS,
    REQUEUE_VERSIONS,
    SET_CURRENT,
    UPGRADE_TO_3,
    author_keys,
    facets_text,
)
from archive.backends.catalog_sqlite_search import SqliteSearch, listing_sql, read_snapshot
from archive.backends.frontier import Frontier
from archive.backends.frontier_sqlite import FRONTIER_TABLES, SqliteFrontier, copy_frontier
from archive.errors import ArchiveBusy, ArchiveError, StorageError
from archive.fingerprint import BANDS, EMPTY_DIGEST, bands, distance, to_signed, to_unsigned

log = logging.getLogger(__name__)

_REFERENCES_KEPT = 8
# the crawl frontier's own file beside the catalog: its writes (a lease, the done marks) never
# wait for a group commit holding the catalog's one write lock (scraper.crawl.workers)
FRONTIER_NAME = "frontier.sqlite"
# a reading server maps the whole catalog file, as far as SQLite's build maps (2 GB on Debian)
MMAP_BYTES = 1 << 40
_LEGACY_FRONTIER = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'frontier_urls'"


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
        read_only: bool = False,
        mapped: bool = False,
    ) -> None:
        self.path = path
        self._mapped = mapped
        self._retries = retries
        self._busy_timeout = busy_timeout
        self.sleep = sleep
        try:
            # handed between threads (one at a time): a crawl's writer thread takes it over
            self.db = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open catalog {path}: {exc}") from exc
        self.db.row_factory = sqlite3.Row
        self._search = SqliteSearch(self.db)
        self._read_only = read_only
        if read_only:
            self.db.execute("PRAGMA query_only=ON")
        self._depth = 0
        # called after each outermost transaction commits (archive.intents forgets its notes)
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute(f"PRAGMA synchronous={synchronous}")
            # a store inside a batch is a savepoint, and SQLite keeps what it changes in a
            # statement journal: past 64 kB (a batch's first few stores) that went to a temp
            # file under /var/tmp, ~75 page writes per store, each a syscall on the crawl's
            # event loop. In memory it is dropped when the savepoint is released.
            self.db.execute("PRAGMA temp_store=MEMORY")
            if mapped:
                # pages read in place from the OS's page cache: with only the default 2 MB
                # page cache of each connection, a server answering varied searches read the
                # same index pages again and again through pread, a copy each (a sixth of the
                # page workers' CPU was in the kernel; 8% less CPU per search page mapped).
                # Only for readers that ask: every page a mapping touched counts in the
                # process's resident memory, so a crawl's writer, which reads little, grew
                # with its catalog file (RSS +27 MB over a 10,000-page crawl, up to the map's
                # 2 GB in a long one), and an I/O error on a mapped page is a SIGBUS, not an
                # exception the writer could report.
                self.db.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
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
        return (
            row is not None and row[0] == str(CATALOG_SCHEMA_VERSION) and self._prefixes_indexed()
        )

    def _prefixes_indexed(self) -> bool:
        """False when the full-text index lacks its prefix indexes: a schema 11 catalog
        built before they were added (a development copy) has its index built again."""
        row = self._one("SELECT sql FROM sqlite_master WHERE name = 'archive_fts'")
        return row is None or "prefix=" in str(row[0])

    def _stored_version(self) -> int | None:
        try:
            row = self._one("SELECT value FROM archive_info WHERE key = 'schema'")
        except sqlite3.OperationalError:
            return None
        return None if row is None else int(row[0])

    def _create(self) -> None:
        with self.writing():
            old = self._stored_version()
            if old is not None and old > CATALOG_SCHEMA_VERSION:
                raise StorageError(
                    f"catalog {self.path} is schema {old}, newer than this morgue reads"
                    f" ({CATALOG_SCHEMA_VERSION}): upgrade morgue"
                )
            upgrading = old is not None and old < 3
            if upgrading:
                for statement in UPGRADE_TO_3.split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            rebuilding = (
                not upgrading and old is not None and (old < 11 or not self._prefixes_indexed())
            )
            if rebuilding:  # the index gains a column: built again (see REQUEUE_DOCS)
                self.db.execute(DROP_FTS)
            columns = [r[1] for r in self.db.execute("PRAGMA table_info(archive_search_meta)")]
            marking = bool(columns) and "current" not in columns  # an upgrade from 3 to 8
            if marking:  # before the DDL, which indexes the column
                self.db.execute(ADD_CURRENT)
            for statement in DDL.split(";"):
                if statement.strip():
                    self.db.execute(statement)
            if marking:
                self.db.execute(SET_CURRENT)
            self.db.execute(
                "INSERT INTO archive_fts (archive_fts, rank) VALUES ('rank', ?)", (FTS_RANK,)
            )
            if upgrading:
                self.db.execute(REQUEUE_VERSIONS)
            elif old is not None and old < 6:
                self.db.execute(FILL_SEARCH_DAYS)
            if not upgrading and old is not None and old < 7:
                self._fill_authors()
            if not upgrading and old is not None and old < 8:
                for statement in FILL_SEARCH_MULTI:
                    self.db.execute(statement)
            if rebuilding:
                for statement in REQUEUE_DOCS:
                    self.db.execute(statement)
            self.db.execute(
                "INSERT OR REPLACE INTO archive_info VALUES ('schema', ?)",
                (str(CATALOG_SCHEMA_VERSION),),
            )

    def _fill_authors(self) -> None:
        """The author index from the search metadata (an upgrade from schema 3 to 6)."""
        rows = self.db.execute(
            "SELECT doc, authors_key FROM archive_search_meta WHERE authors_key != ''"
        ).fetchall()
        for doc, authors_key in rows:
            self._index_authors(doc, authors_key)

    def _index_authors(self, doc: int, authors_key: str | None) -> None:
        for key in author_keys(authors_key):
            self.db.execute("INSERT OR IGNORE INTO archive_author_names VALUES (?)", (key,))
            self.db.execute(
                "INSERT OR IGNORE INTO archive_search_authors VALUES (?, ?)", (key, doc)
            )

    def reader(self) -> SqliteCatalog:
        """A read-only catalog on a connection of its own, for another thread while this one
        writes: it sees what is committed (WAL), and a write through it fails."""
        return SqliteCatalog(
            self.path, busy_timeout=self._busy_timeout, read_only=True, mapped=self._mapped
        )

    def close(self) -> None:
        # fold the write-ahead log back into the database so a closed archive is one file
        # (the writer's job: a reader's checkpoint would wait for the writer)
        if not self._read_only:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.db.close()

    @contextlib.contextmanager
    def writing(self, keys: Sequence[str] = ()) -> Iterator[None]:
        """One write transaction. Re-entrant: an inner `writing` joins the outer one as a
        savepoint, so an inner block that raises undoes its own statements only. SQLite has
        one writer at a time: `keys` make no difference here."""
        if self._depth:
            name = f"sp{self._depth}"
            self.db.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute(f"ROLLBACK TO {name}")
                    self.db.execute(f"RELEASE {name}")
                raise
            else:
                self.db.execute(f"RELEASE {name}")
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield
            self.db.execute("COMMIT")
            for committed in self.after_commit:
                committed()
        except BaseException as exc:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
            for rolled_back in self.after_rollback:
                rolled_back()
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
        return None if row is None else _article_row(row)

    def _articles(self, sql: str, *args: Any) -> list[ArticleRow]:
        return [_article_row(row) for row in self.db.execute(sql, args)]

    def articles_with_body(self, digest: str) -> list[ArticleRow]:
        return self._articles(
            "SELECT * FROM archive_articles WHERE id IN (SELECT article_id FROM "
            "archive_versions WHERE body_digest = ?) ORDER BY first_seen, id",
            digest,
        )

    def articles_with_raw(self, sha: str) -> list[ArticleRow]:
        return self._articles(
            "SELECT * FROM archive_articles WHERE id IN (SELECT article_id FROM "
            "archive_versions WHERE raw_sha256 = ?) ORDER BY first_seen, id",
            sha,
        )

    def copies_of(self, article_id: str) -> list[CopyRow]:
        rows = self.db.execute(
            "SELECT a.id, a.source, coalesce(u.url, a.canonical_key) FROM archive_articles a "
            "LEFT JOIN archive_urls u ON u.key = a.canonical_key WHERE a.id IN (SELECT "
            "o.article_id FROM archive_versions v JOIN archive_versions o ON o.body_digest = "
            "v.body_digest AND o.article_id != v.article_id WHERE v.article_id = ? AND "
            "v.body_digest != ?) ORDER BY a.first_seen, a.id",
            (article_id, EMPTY_DIGEST),
        )
        return [CopyRow(r[0], r[1], r[2]) for r in rows]

    def count_copies(self) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT count(DISTINCT article_id), count(DISTINCT body_digest) FROM archive_versions "
            "WHERE body_digest != ? AND body_digest IN (SELECT body_digest FROM archive_versions "
            "GROUP BY body_digest HAVING count(DISTINCT article_id) > 1)",
            (EMPTY_DIGEST,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def duplicate_fetches(self, source: str | None, since: str | None) -> list[FetchRow]:
        names = [f.name for f in fields(FetchRow)]
        sql = f"SELECT {', '.join(names)} FROM archive_fetches WHERE outcome = 'duplicate'"
        sql, args = _sliced(sql, "source", source, "fetched_at", since)
        rows = self.db.execute(sql + " ORDER BY fetched_at, fetch_id", args)
        return [FetchRow(*r) for r in rows]

    def _id(self, sql: str, key: str) -> str | None:
        row = self._one(sql, key)
        return None if row is None else str(row[0])

    def article_by_url(self, key: str) -> str | None:
        return self._id("SELECT article_id FROM archive_urls WHERE key = ?", key)

    def article_by_canonical(self, key: str) -> str | None:
        return self._id("SELECT article_id FROM archive_canonical WHERE key = ?", key)

    def articles_by_keys(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 400):  # under SQLite's bound-parameter limit
            chunk = unique[start : start + 400]
            marks = ",".join("?" * len(chunk))
            # a URL the article was seen at wins over a canonical naming it (as `find` does)
            for key, article_id, _rank in self.db.execute(
                f"SELECT key, article_id, 1 FROM archive_canonical WHERE key IN ({marks})"
                f" UNION ALL SELECT key, article_id, 0 FROM archive_urls WHERE key IN ({marks})"
                " ORDER BY 3 DESC",
                (*chunk, *chunk),
            ):
                found[key] = article_id
        return found

    def near(self, fingerprint: int, max_distance: int) -> list[tuple[str, int]]:
        """Articles whose current body is within `max_distance` bits of `fingerprint`."""
        if max_distance >= BANDS:
            raise ValueError(f"band lookup finds distances below {BANDS} only")
        found: dict[str, int] = {}
        # every band in one statement (each OR term uses the (band, value) index)
        args = [x for band, value in enumerate(bands(fingerprint)) for x in (band, value)]
        terms = " OR ".join(["(b.band = ? AND b.value = ?)"] * (len(args) // 2))
        for row in self.db.execute(
            "SELECT b.article_id, a.simhash FROM archive_simhash_bands b "
            f"JOIN archive_articles a ON a.id = b.article_id WHERE {terms}",
            args,
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
        sql, args = _sliced(sql, "a.source", source, "v.fetched_at", since)
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
        sql, args = _sliced(sql, "r.source", source, "r.first_fetched", since)
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
            row.values(),
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
        # the indexed version that is the article's current one (schema 9), found through
        # archive_search_meta_article; the new head's own is marked when it is indexed
        self.db.execute(
            "UPDATE archive_search_meta SET current = (version = ?2)"
            " WHERE article_id = ?1 AND current != (version = ?2)",
            (row.id, row.current_version),
        )
        # found through archive_simhash_bands_article (schema 4): the table's own key starts
        # with the band, so without that index this delete scanned every band on every store
        self.db.execute("DELETE FROM archive_simhash_bands WHERE article_id = ?", (row.id,))
        self.db.executemany(
            "INSERT OR IGNORE INTO archive_simhash_bands VALUES (?, ?, ?)",
            [(band, value, row.id) for band, value in enumerate(bands(row.simhash))],
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
        # the search index is filled from the record files by the reading side
        # (`archive.query`), which has every field the record holds; here the version only
        # joins the queue. The index is contentless (no second copy of every body): a replaced
        # version's old entry stays in it, unreachable, under a doc number never used again.
        if self.db.execute(
            "SELECT 1 FROM archive_fts_docs WHERE article_id = ? AND version = ?",
            (row.article_id, row.version),
        ).fetchone():  # a version filed again (rebuild): a crawl's new one has no entry yet
            self._unqueue_version(row.article_id, row.version)
        self.db.execute(
            "INSERT INTO archive_fts_docs (article_id, version) VALUES (?, ?)",
            (row.article_id, row.version),
        )

    def _unqueue_version(self, article_id: str, version: int) -> None:
        """Take a version's earlier search entry out of the queue and the filters (the index
        keeps it, unreachable, under a doc number never used again)."""
        args = (article_id, version)
        for doc, authors_key in self.db.execute(
            "SELECT doc, authors_key FROM archive_search_meta WHERE doc IN (SELECT doc FROM"
            " archive_fts_docs WHERE article_id = ? AND version = ?)",
            args,
        ).fetchall():
            self.db.executemany(
                "DELETE FROM archive_search_authors WHERE author_key = ? AND doc = ?",
                [(key, doc) for key in author_keys(authors_key)],
            )
        # the replaced entry stays in the index: it matches, but is no article (search counts)
        self.db.execute(
            "INSERT OR REPLACE INTO archive_search_multi SELECT doc, NULL FROM archive_fts_docs"
            " WHERE article_id = ? AND version = ? AND indexed = 1",
            args,
        )
        self.db.execute(
            "DELETE FROM archive_search_meta WHERE doc IN (SELECT doc FROM archive_fts_docs"
            " WHERE article_id = ? AND version = ?)",
            args,
        )
        self.db.execute("DELETE FROM archive_fts_docs WHERE article_id = ? AND version = ?", args)

    def add_near_duplicate(self, a: str, b: str, dist: int, seen: str) -> None:
        first, second = sorted((a, b))
        self.db.execute(
            "INSERT OR IGNORE INTO archive_near_duplicates VALUES (?, ?, ?, ?)",
            (first, second, dist, seen),
        )

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

    def finished_runs(self, kind: str, since: str) -> list[RunRow]:
        return [
            RunRow(int(r[0]), r[1], r[2], r[3], r[4], r[5] or "{}")
            for r in self.db.execute(
                "SELECT id, kind, source, started_at, finished_at, counts FROM archive_runs"
                " WHERE kind = ? AND started_at >= ? AND finished_at IS NOT NULL ORDER BY id",
                (kind, since),
            )
        ]

    def clear_derived(self) -> None:
        """Empty every table the files can refill (inside the caller's transaction)."""
        for table in DERIVED_TABLES:
            self.db.execute(f"DELETE FROM {table}")
        self.db.execute("INSERT INTO archive_fts (archive_fts) VALUES ('delete-all')")

    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        if scratch:
            return SqliteFrontier.open(":memory:")
        path = self.path.with_name(FRONTIER_NAME)
        if self._one(_LEGACY_FRONTIER) is not None:
            self._move_frontier(path)
        return SqliteFrontier.open(path)

    def _move_frontier(self, path: Path) -> None:
        """Move the frontier tables an older morgue kept in this file to their own file, once.
        The new file is complete (synced, renamed into place) before the tables go from here,
        in one transaction: a process killed on the way leaves one of them whole."""
        with self.writing():
            if self._one(_LEGACY_FRONTIER) is None:  # another process moved them meanwhile
                return
            if not path.exists():
                copy_frontier(self.path, path)
            for table in FRONTIER_TABLES:
                self.db.execute(f"DROP TABLE IF EXISTS {table}")
        log.info("crawl frontier moved from %s to %s", self.path.name, path.name)

    def _scalar(self, sql: str, *args: Any) -> int:
        row = self.db.execute(sql, args).fetchone()
        return int(row[0] or 0) if row else 0

    def integrity_problem(self) -> str | None:
        result = str(self.db.execute("PRAGMA quick_check").fetchone()[0])
        return None if result == "ok" else f"sqlite quick_check: {result}"

    def raw_shas(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT sha256 FROM archive_raw")}

    def raw_sizes(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT sha256, size FROM archive_raw")}

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
        sql, args = _sliced(sql, "source", source, "fetched_at", since)
        rows = self.db.execute(sql + " ORDER BY fetched_at, fetch_id", args)
        return [(r[0], r[1]) for r in rows]

    def pending_docs(self, limit: int) -> list[PendingDoc]:
        rows = self.db.execute(
            "SELECT d.doc, d.article_id, d.version, a.source, v.fetched_at FROM archive_fts_docs d"
            " JOIN archive_versions v ON v.article_id = d.article_id AND v.version = d.version"
            " JOIN archive_articles a ON a.id = d.article_id WHERE d.indexed = 0"
            " ORDER BY d.doc LIMIT ?",
            (limit,),
        ).fetchall()
        return [PendingDoc(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def search_index_grown(self, indexed: int) -> None:
        """Nothing to do: an FTS5 MATCH always reads the full-text index (SQLite has no
        plan to choose between it and a scan), and its rank needs no statistics."""

    def index_doc(self, pending: PendingDoc, doc: SearchDoc) -> None:
        """Index one waiting version (inside the caller's transaction)."""
        self.db.execute(
            "INSERT INTO archive_fts (rowid, headline, subheadline, body, captions, authors,"
            " facets) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                pending.doc,
                doc.headline,
                doc.subheadline,
                doc.body,
                doc.captions,
                doc.authors,
                facets_text(pending.source, doc.section_key),
            ),
        )
        self.db.execute(
            "INSERT OR REPLACE INTO archive_search_meta VALUES (?,?,?,?,?,?,?,?,?,?,?,"
            " EXISTS (SELECT 1 FROM archive_articles WHERE id = ?2 AND current_version = ?3))",
            (
                pending.doc,
                pending.article_id,
                pending.version,
                pending.source,
                doc.day,
                pending.fetched_at,
                doc.published,
                doc.headline,
                doc.section_key,
                doc.authors_key,
                doc.url,
            ),
        )
        self._index_authors(pending.doc, doc.authors_key)
        # an article's second indexed version: each of its docs joins those that search counts
        # by article (one lookup in the article index per version indexed)
        self.db.execute(
            "INSERT OR REPLACE INTO archive_search_multi SELECT doc, article_id"
            " FROM archive_search_meta WHERE article_id = ?1 AND EXISTS (SELECT 1"
            " FROM archive_search_meta WHERE article_id = ?1 AND doc != ?2)",
            (pending.article_id, pending.doc),
        )
        self.db.execute(
            "INSERT INTO archive_search_days VALUES (?1, ?2, ?2) ON CONFLICT (day) DO UPDATE"
            " SET first_doc = min(first_doc, ?2), last_doc = max(last_doc, ?2)",
            (doc.day, pending.doc),
        )
        self.db.execute("UPDATE archive_fts_docs SET indexed = 1 WHERE doc = ?", (pending.doc,))

    def search_rows(
        self, fts_query: str, filters: Filters, limit: int, offset: int, exact_count: bool = False
    ) -> SearchPage:
        return self._search.rows(fts_query, filters, limit, offset, exact_count)

    def list_rows(
        self, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        # the count and the page from one snapshot (as a search's)
        with read_snapshot(self.db):
            return self._list_rows(filters, limit, offset)

    def _list_rows(
        self, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        where, args = listing_sql(filters)
        # each article at its current version (schema 9: no join to the articles)
        base = " FROM archive_search_meta m WHERE m.current = 1" + where
        by_source = filters == Filters(source=filters.source)
        if by_source and not self.pending_docs(1):
            # every article's current version is indexed: the articles (of the source) are
            # the listing, and counting them reads one table or index (joining each indexed
            # version to its article to count grew with the archive: 113 ms of CPU for the
            # home page at 100,000 articles, 20 ms for one source's)
            total = (
                self.count_articles()
                if filters.source is None
                else self._scalar(
                    "SELECT count(*) FROM archive_articles WHERE source = ?", filters.source
                )
            )
            exact = True
        else:
            # counted up to the cap: a section of a large archive is tens of thousands
            total = self._scalar(
                f"SELECT count(*) FROM (SELECT 1{base} LIMIT ?)", *args, COUNT_CAP + 1
            )
            exact = total <= COUNT_CAP
            total = min(total, COUNT_CAP)
        rows = self.db.execute(
            "SELECT m.article_id, m.version, m.source, m.headline, m.published, m.fetched_at, m.url"
            + base
            + " ORDER BY m.day DESC, m.fetched_at DESC, m.article_id LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        listed = [ListedRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows]
        return listed, total, exact

    def article_urls(self, article_id: str) -> list[UrlRow]:
        # a URL key folds spellings together; the fetches keep each spelling requested
        rows = self.db.execute(
            "SELECT url, min(seen), min(dup) FROM (SELECT url, first_seen AS seen, duplicate AS"
            " dup FROM archive_urls WHERE article_id = ?1 UNION ALL SELECT url, fetched_at,"
            " outcome = 'duplicate' FROM archive_fetches WHERE article_id = ?1 UNION ALL SELECT"
            " final_url, fetched_at, outcome = 'duplicate' FROM archive_fetches WHERE"
            " article_id = ?1) GROUP BY url ORDER BY min(seen), url",
            (article_id,),
        ).fetchall()
        return [UrlRow(r[0], r[1], bool(r[2])) for r in rows]

    @staticmethod
    def _fetch(r: sqlite3.Row) -> FetchRow:
        return FetchRow(*(r[i] for i in range(14)))

    def article_fetches(self, article_id: str) -> list[FetchRow]:
        rows = self.db.execute(
            "SELECT * FROM archive_fetches WHERE article_id = ? ORDER BY fetched_at, fetch_id",
            (article_id,),
        ).fetchall()
        return [self._fetch(r) for r in rows]

    def fetches_of_raw(self, sha: str) -> list[FetchRow]:
        rows = self.db.execute(
            "SELECT * FROM archive_fetches WHERE raw_sha256 = ? ORDER BY fetched_at, fetch_id",
            (sha,),
        ).fetchall()
        return [self._fetch(r) for r in rows]

    def version_row(self, article_id: str, version: int) -> VersionRow | None:
        r = self._one(
            "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at"
            " FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id"
            " WHERE v.article_id = ? AND v.version = ?",
            article_id,
            version,
        )
        return None if r is None else VersionRow(r[0], r[1], r[2], r[3], r[4])

    def recent_versions(
        self, source: str | None, limit: int, updates_only: bool
    ) -> list[VersionRow]:
        sql = (
            "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at"
            " FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id WHERE "
            + ("v.version > 1" if updates_only else "v.version = 1")
        )
        args: list[Any] = []
        if source is not None:
            sql += " AND a.source = ?"
            args.append(source)
        rows = self.db.execute(
            sql + " ORDER BY v.fetched_at DESC, v.article_id LIMIT ?", (*args, limit)
        ).fetchall()
        return [VersionRow(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    def _frontier(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Rows of the crawl frontier's tables, from its own file (or from this one, where an
        older morgue kept them and no crawl has moved them yet); none when no crawl ran here."""
        path = self.path.with_name(FRONTIER_NAME)
        legacy = self._one(_LEGACY_FRONTIER) is not None
        if not legacy and not path.exists():
            return []
        db = self.db
        if not legacy:  # read only: a reader never creates or changes the crawl's file
            db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        finally:
            if db is not self.db:
                db.close()

    def sources(self) -> list[SourceRow]:
        counts = {
            r[0]: (int(r[1]), int(r[2]))
            # versions are numbered 1..current: their count needs no join
            for r in self.db.execute(
                "SELECT source, count(*), sum(current_version) FROM archive_articles"
                " GROUP BY source"
            )
        }
        runs = {r[0]: r for r in self._frontier("SELECT * FROM frontier_runs")}
        failures: dict[str, list[tuple[str, int]]] = {}
        for r in self._frontier(
            "SELECT source, coalesce(outcome, 'unknown'), count(*) FROM frontier_urls"
            " WHERE state = 'failed' GROUP BY 1, 2 ORDER BY 3 DESC, 2"
        ):
            failures.setdefault(r[0], []).append((r[1], int(r[2])))
        refused = {name: dict(reasons).pop("robots", 0) for name, reasons in failures.items()}
        out = []
        for r in self.db.execute("SELECT name, first_seen FROM archive_sources ORDER BY name"):
            name = r[0]
            run = runs.get(name)
            fails = tuple(f for f in failures.get(name, ()) if f[0] != "robots")
            out.append(
                SourceRow(
                    name=name,
                    articles=counts.get(name, (0, 0))[0],
                    versions=counts.get(name, (0, 0))[1],
                    first_seen=r[1],
                    last_crawl_start=run[1] if run else None,
                    last_crawl_end=run[2] if run else None,
                    last_crawl_status=run[3] if run else None,
                    failures=fails,
                    robots_refusals=refused.get(name, 0),
                )
            )
        return out

    def source_names(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM archive_sources ORDER BY name")]

    def articles_per_day(self, source: str | None, since_day: str) -> list[tuple[str, int]]:
        """Articles first archived per day (UTC), from `since_day` on."""
        sql = "SELECT substr(first_seen, 1, 10) AS d, count(*) FROM archive_articles"
        sql += " WHERE first_seen >= ?"
        args: list[Any] = [since_day]
        if source is not None:
            sql += " AND source = ?"
            args.append(source)
        return [(r[0], int(r[1])) for r in self.db.execute(sql + " GROUP BY d ORDER BY d", args)]

    def put_file(self, row: FileRow) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO archive_files VALUES (?, ?, ?, ?, ?)",
            (row.path, row.kind, row.sha256, row.size, row.written_at),
        )

    def known_files(self, paths: list[str]) -> set[str]:
        """Which of `paths` have a row (archive.intents asks after each batch)."""
        known: set[str] = set()
        for at in range(0, len(paths), 500):
            chunk = paths[at : at + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT path FROM archive_files WHERE path IN ({marks})"
            known.update(r[0] for r in self.db.execute(sql, chunk))
        return known

    def file(self, path: str) -> FileRow | None:
        row = self._one("SELECT * FROM archive_files WHERE path = ?", path)
        return None if row is None else FileRow(*row)

    def files(self, since: str | None = None) -> list[FileRow]:
        sql, args = "SELECT * FROM archive_files", []
        if since is not None:
            sql += " WHERE written_at >= ?"
            args.append(since)
        return [FileRow(*r) for r in self.db.execute(sql + " ORDER BY path", args)]

    def sample_files(self, n: int, seed: int | None = None) -> list[FileRow]:
        # random rowids, each taken as the first row at or after it: O(n log N), no scan of
        # the whole table (rows replaced by a rewrite leave gaps: a slight bias, no harm)
        top = self._scalar("SELECT max(rowid) FROM archive_files")
        if n >= self.count_files():
            return self.files()
        rng = random.Random(seed)
        found: dict[str, FileRow] = {}
        for _ in range(n * 4):
            if len(found) >= n:
                break
            row = self._one(
                "SELECT * FROM archive_files WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                rng.randint(1, top),
            )
            if row is not None:
                found[row[0]] = FileRow(*row)
        return sorted(found.values(), key=lambda r: r.path)

    def count_files(self) -> int:
        return self._scalar("SELECT count(*) FROM archive_files")

    def add_verify_run(self, run: VerifyRun) -> None:
        with self.writing():
            self.db.execute(
                "INSERT INTO archive_verify_runs (scope, started_at, finished_at, checked, "
                "problems, summary) VALUES (?, ?, ?, ?, ?, ?)",
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
        sql = "SELECT scope, started_at, finished_at, checked, problems, summary FROM "
        sql += "archive_verify_runs"
        if scope is not None:
            row = self._one(sql + " WHERE scope = ? ORDER BY id DESC LIMIT 1", scope)
        else:
            row = self._one(sql + " ORDER BY id DESC LIMIT 1")
        return None if row is None else VerifyRun(*row)

    def parser_versions(self) -> list[tuple[str, str, int]]:
        rows = self.db.execute(
            "SELECT parser, parser_version, count(*) AS n FROM archive_versions "
            "GROUP BY parser, parser_version ORDER BY n DESC, parser, parser_version"
        )
        return [(r[0], r[1], r[2]) for r in rows]


def _sliced(
    sql: str, source_column: str, source: str | None, time_column: str, since: str | None
) -> tuple[str, list[str]]:
    """`sql` (ending in a WHERE clause) narrowed to one source and to times from `since`."""
    args: list[str] = []
    if source is not None:
        sql += f" AND {source_column} = ?"
        args.append(source)
    if since is not None:
        sql += f" AND {time_column} >= ?"
        args.append(since)
    return sql, args


def _article_row(row: sqlite3.Row) -> ArticleRow:
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
