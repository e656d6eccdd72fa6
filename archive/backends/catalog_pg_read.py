"""The reading side of the PostgreSQL catalog: search index, lists, URLs, fetches, sources.

`PgReadMixin` gives `PgCatalog` the `Catalog` methods `archive.query` asks (the SQLite
versions are in `catalog_sqlite.py`, with the same meaning). It runs its SQL through the
catalog's own helpers (`_rows`, `_one`, `_exec`, `_scalar`), inside the caller's `writing`
transaction when there is one.

The search index mirrors SQLite's: storing a version queues it (`QUEUE_SEARCH_DOC`, in
`put_version`'s statement); the reading side reads the record and hands the five searched
fields and the filter metadata to `index_doc`, which keeps them in `archive_search_meta` with
a weighted `tsvector` (headline A; subheadline and authors B; captions C; body D), ranked by
`ts_rank_cd`.

Words are folded (case and diacritics, `archive.snippet.fold`, as SQLite's `unicode61
remove_diacritics 2` and the snippets fold them) and split into runs of letters and digits in
Python, for the indexed text and for the query alike, before PostgreSQL's `simple`
configuration sees them. So "Muller" finds "Müller" on any server: the `unaccent` extension is
not needed (creating it takes a superuser on many servers), and the index does not depend on
the server's locale. Differences from SQLite that remain: a tsvector keeps positions up to
16383 only, so a phrase far down a very long body may be missed (its words still match), and
a phrase may match across the end of one field and the start of the next.

The query comes in FTS5's syntax as `archive.ftsquery` writes it (quoted phrases with an
optional `*`, AND, OR, NOT, parentheses); `fts_to_tsquery` rewrites it for `to_tsquery`.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import psycopg

from archive.backends.catalog import (
    ARTICLES,
    COUNT_CAP,
    FetchRow,
    Filters,
    ListedRow,
    PendingDoc,
    SearchDoc,
    SearchPage,
    SourceRow,
    UrlRow,
    VersionRow,
)
from archive.backends.catalog_schema import author_keys
from archive.errors import QueryError, StorageError
from archive.snippet import fold

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

log = logging.getLogger(__name__)

# Run by the lead as a migration (plain SQL, no parameters, idempotent). The pending queue is
# filled with every version already stored, so an upgraded catalog is indexed on first read.
READ_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive_search_pending (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE, article_id TEXT NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (article_id, version));
CREATE TABLE IF NOT EXISTS archive_search_meta (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, source TEXT NOT NULL,
    day TEXT NOT NULL, fetched_at TEXT NOT NULL, published TEXT, headline TEXT NOT NULL,
    section_key TEXT, authors_key TEXT NOT NULL, url TEXT NOT NULL,
    doc TSVECTOR NOT NULL, PRIMARY KEY (article_id, version));
CREATE INDEX IF NOT EXISTS archive_search_meta_doc ON archive_search_meta USING GIN (doc);
CREATE INDEX IF NOT EXISTS archive_search_meta_day ON archive_search_meta (day, fetched_at);
CREATE INDEX IF NOT EXISTS archive_search_meta_source
    ON archive_search_meta (source, day, fetched_at);
CREATE INDEX IF NOT EXISTS archive_fetches_article ON archive_fetches (article_id, fetched_at);
INSERT INTO archive_search_pending (article_id, version)
    SELECT article_id, version FROM archive_versions ORDER BY fetched_at, article_id, version
    ON CONFLICT DO NOTHING;
"""

# Listings by author and by section through an index (migration 8; SQLite's schema 7): each
# indexed version's folded author names, every name once (a fragment of a name is looked up
# among the names), and the metadata by section and day. Filled from the metadata.
LISTING_SCHEMA = """
CREATE INDEX archive_search_meta_section ON archive_search_meta (section_key, day, fetched_at);
CREATE TABLE archive_search_authors (
    author_key TEXT NOT NULL, article_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (author_key, article_id, version));
CREATE INDEX archive_search_authors_version ON archive_search_authors (article_id, version);
CREATE TABLE archive_author_names (author_key TEXT PRIMARY KEY);
INSERT INTO archive_search_authors
    SELECT DISTINCT a, article_id, version
    FROM archive_search_meta, unnest(string_to_array(authors_key, E'\\n')) AS a
    WHERE btrim(a) <> '';
INSERT INTO archive_author_names SELECT DISTINCT author_key FROM archive_search_authors;
"""

# The indexed versions that are not one article each (migration 12; SQLite's schema 8): every
# version of an article with more than one indexed. An unfiltered search counts its articles
# as the matching versions less those, plus their distinct articles (`_search_unfiltered`):
# the set of distinct articles is made of that small table's matches only. Filled from the
# metadata.
MULTI_SCHEMA = """
CREATE TABLE IF NOT EXISTS archive_search_multi (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (article_id, version));
INSERT INTO archive_search_multi SELECT article_id, version FROM archive_search_meta
    WHERE article_id IN (SELECT article_id FROM archive_search_meta GROUP BY article_id
    HAVING count(*) > 1)
    ON CONFLICT DO NOTHING;
"""

# Each indexed version says whether it is its article's current one (migration 13; SQLite's
# schema 9), kept by `put_article` and `index_doc`: a listing reads the current versions without
# joining each to its article, and a section's count reads the section index alone (with the
# source in it, a section and source listing's too). The column comes with every row current
# (a default: no row rewritten to add it), then the few older versions are marked; the default
# for rows inserted later is false (each insert gives the value anyway).
CURRENT_SCHEMA = """
ALTER TABLE archive_search_meta ADD COLUMN current BOOLEAN NOT NULL DEFAULT true;
UPDATE archive_search_meta m SET current = false WHERE NOT EXISTS (SELECT 1
    FROM archive_articles a WHERE a.id = m.article_id AND a.current_version = m.version);
ALTER TABLE archive_search_meta ALTER COLUMN current SET DEFAULT false;
DROP INDEX IF EXISTS archive_search_meta_section;
CREATE INDEX archive_search_meta_current_section
    ON archive_search_meta (section_key, current, day, fetched_at, article_id DESC, source);
"""

# What the planner needs to find a search's matches through the GIN index (migration 14;
# `search_index_grown` after each refresh). It prices the index by its pending list (new
# entries not yet merged, which every search also scans) and takes its row estimates from
# ANALYZE. The scan it weighs the index against reads each row's tsvector back from TOAST,
# twice for a match (the test, then the rank), which it does not count: at 20,000 articles
# the scan took 100-140 ms for any word, the index 1-5 ms for a rare one. A catalog filled
# in bulk (a build, an upgrade, a rebuild) had no statistics unless autovacuum came by (it
# lags a bulk load, and may be off) and a pending list of up to 4 MB: planned as the scan
# even for a rare word. The list also refilled as a crawl went on, statistics fresh or not:
# 114 pages of it (150 new articles) turned "minister" back to the scan at 20,000 articles,
# and ten pages a rare word at 2,000. So each refresh leaves it empty: a refresh of a few
# versions merges their entries at once (~2 ms more a version), a bulk one still fills it
# in 4 MB batches (as fast as before; the index without a pending list, `fastupdate` off,
# indexed a bulk three times slower). A word in about half the rows or more was still
# planned as the scan with fresh statistics: a search's statement is planned without it
# (`PgCatalog.without_seq_scan`), the estimates still choosing between a filter's index and
# the GIN index.
SETTLE_SCHEMA = """
SELECT gin_clean_pending_list('archive_search_meta_doc'::regclass);
ANALYZE archive_search_meta;
ANALYZE archive_search_multi;
ANALYZE archive_search_authors;
"""

# what `clear_derived` must empty besides the catalog's own derived tables
READ_DERIVED_TABLES = (
    "archive_search_pending",
    "archive_search_meta",
    "archive_search_authors",
    "archive_author_names",
    "archive_search_multi",
)

_SPLIT = re.compile(r"[^\w]+|_")  # as archive.ftsquery splits words: runs of letters and digits
_MAX_WORD = 200  # characters: PostgreSQL drops longer words (2047 bytes) with a notice
_FIELD_CHARS = 400_000  # a tsvector holds at most 1 MB
_FTS_TOKEN = re.compile(r'\s+|"(?:[^"]|"")*"\*?|\(|\)|AND\b|OR\b|NOT\b')


def index_words(text: str) -> str:
    """`text` as the index keeps it: folded words separated by single spaces."""
    words = _SPLIT.split(fold(text[:_FIELD_CHARS]))
    return " ".join(w for w in words if w and len(w) <= _MAX_WORD)


def _phrase(token: str) -> str:
    prefix = token.endswith("*")
    inner = token.rstrip("*")[1:-1].replace('""', '"')
    words = index_words(inner).split()
    if not words:
        # nothing the index could hold (ftsquery never writes this): matches nothing
        return "'_'"
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
    if prefix:
        quoted[-1] += ":*"
    return quoted[0] if len(quoted) == 1 else "(" + " <-> ".join(quoted) + ")"


class _FtsReader:
    """FTS5's precedence: NOT binds tighter than AND (also implicit), AND than OR."""

    def __init__(self, query: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        while pos < len(query):
            match = _FTS_TOKEN.match(query, pos)
            if match is None:
                raise QueryError("the search engine could not read this query")
            pos = match.end()
            if not match.group().isspace():
                self.tokens.append(match.group())
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise QueryError("the search engine could not read this query")
        self.pos += 1
        return token

    def read(self) -> str:
        expr = self._or()
        if self._peek() is not None:
            raise QueryError("the search engine could not read this query")
        return expr

    def _or(self) -> str:
        parts = [self._and()]
        while self._peek() == "OR":
            self.pos += 1
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._not()]
        while True:
            token = self._peek()
            if token == "AND":
                self.pos += 1
            elif token is None or token in ("OR", ")", "NOT"):
                break
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else "(" + " & ".join(parts) + ")"

    def _not(self) -> str:
        expr = self._primary()
        while self._peek() == "NOT":
            self.pos += 1
            expr = f"({expr} & !{self._primary()})"
        return expr

    def _primary(self) -> str:
        token = self._next()
        if token == "(":
            expr = self._or()
            if self._next() != ")":
                raise QueryError("the search engine could not read this query")
            return expr
        if token.startswith('"'):
            return _phrase(token)
        raise QueryError("the search engine could not read this query")


def fts_to_tsquery(fts_query: str) -> str:
    """An FTS5 expression (as `archive.ftsquery.to_fts` writes it) as `to_tsquery` text.

    >>> fts_to_tsquery('(("port strike") NOT ("rumour" OR "dock"*))')
    "(('port' <-> 'strike') & !('rumour' | 'dock':*))"
    """
    return _FtsReader(fts_query).read()


_LISTED = "m.article_id, m.version, m.source, m.headline, m.published, m.fetched_at, m.url"


class PgReadMixin:
    """The reading side's `Catalog` methods, for `PgCatalog` (which supplies the helpers)."""

    _pending_list_refused = False  # `search_index_grown`: this role may not merge the index

    if TYPE_CHECKING:

        def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
        def _one(self, sql: str, args: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...
        def _exec(self, sql: str, args: Sequence[Any] = ()) -> None: ...
        def _scalar(self, sql: str, args: Sequence[Any] = ()) -> int: ...
        def writing(self, keys: Sequence[str] = ()) -> contextlib.AbstractContextManager[None]: ...
        def reading(self) -> contextlib.AbstractContextManager[None]: ...
        def without_seq_scan(self) -> contextlib.AbstractContextManager[None]: ...

        pool: ConnectionPool
        frontier_lease_ttl: float | None

    # storing a version marks it as waiting for the search index (in `put_version`'s
    # statement); a replaced version is indexed again
    QUEUE_SEARCH_DOC = (
        "INSERT INTO archive_search_pending (article_id, version) VALUES (%s, %s)"
        " ON CONFLICT DO NOTHING"
    )

    def pending_docs(self, limit: int) -> list[PendingDoc]:
        rows = self._rows(
            "SELECT p.seq, p.article_id, p.version, a.source, v.fetched_at"
            " FROM archive_search_pending p JOIN archive_versions v"
            " ON v.article_id = p.article_id AND v.version = p.version"
            " JOIN archive_articles a ON a.id = p.article_id ORDER BY p.seq LIMIT %s",
            (limit,),
        )
        return [PendingDoc(int(r[0]), r[1], int(r[2]), r[3], r[4]) for r in rows]

    def index_doc(self, pending: PendingDoc, doc: SearchDoc) -> None:
        """Index one waiting version (inside the caller's transaction)."""
        self._exec(
            "INSERT INTO archive_search_meta (article_id, version, source, day, fetched_at,"
            " published, headline, section_key, authors_key, url, doc, current)"
            " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,"
            " setweight(to_tsvector('simple', %s), 'A')"
            " || setweight(to_tsvector('simple', %s), 'B')"
            " || setweight(to_tsvector('simple', %s), 'B')"
            " || setweight(to_tsvector('simple', %s), 'C')"
            " || setweight(to_tsvector('simple', %s), 'D'),"
            " EXISTS (SELECT 1 FROM archive_articles WHERE id = %s AND current_version = %s))"
            " ON CONFLICT (article_id, version) DO UPDATE SET source = excluded.source,"
            " day = excluded.day, fetched_at = excluded.fetched_at,"
            " published = excluded.published, headline = excluded.headline,"
            " section_key = excluded.section_key, authors_key = excluded.authors_key,"
            " url = excluded.url, doc = excluded.doc, current = excluded.current",
            (
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
                index_words(doc.headline),
                index_words(doc.subheadline),
                index_words(doc.authors),
                index_words(doc.captions),
                index_words(doc.body),
                pending.article_id,
                pending.version,
            ),
        )
        self._exec(
            "DELETE FROM archive_search_authors WHERE article_id = %s AND version = %s",
            (pending.article_id, pending.version),
        )
        for key in author_keys(doc.authors_key):
            self._exec(
                "INSERT INTO archive_author_names VALUES (%s) ON CONFLICT DO NOTHING", (key,)
            )
            self._exec(
                "INSERT INTO archive_search_authors VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (key, pending.article_id, pending.version),
            )
        # an article's second indexed version: each of its versions joins those that search
        # counts by article (a replaced version is the same row: it stays where it was)
        self._exec(
            "INSERT INTO archive_search_multi SELECT article_id, version FROM archive_search_meta"
            " WHERE article_id = %s AND EXISTS (SELECT 1 FROM archive_search_meta"
            " WHERE article_id = %s AND version <> %s) ON CONFLICT DO NOTHING",
            (pending.article_id, pending.article_id, pending.version),
        )
        self._exec("DELETE FROM archive_search_pending WHERE seq = %s", (pending.doc,))

    def search_index_grown(self, indexed: int) -> None:
        """The index's pending list merged and, when the versions indexed since the last
        ANALYZE are a tenth of the table (autovacuum's rule: it may be off, and lags a bulk
        index), the search tables' statistics renewed (`SETTLE_SCHEMA` says why). A role
        that does not own the index may not merge it: said once, then left to autovacuum
        (a refusal at every refresh was a warning at every search while a crawl stored)."""
        if not self._pending_list_refused:
            try:
                self._exec("SELECT gin_clean_pending_list('archive_search_meta_doc'::regclass)")
            except StorageError as exc:
                if not isinstance(exc.__cause__, psycopg.errors.InsufficientPrivilege):
                    raise
                self._pending_list_refused = True
                log.warning(
                    "search index: its pending list is left to autovacuum (this database role"
                    " does not own the index): %s",
                    exc,
                )
        row = self._one(
            "SELECT c.reltuples, coalesce(s.n_mod_since_analyze, 0) FROM pg_class c"
            " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid"
            " WHERE c.oid = 'archive_search_meta'::regclass"
        )
        tuples, changed = (float(row[0]), int(row[1])) if row else (-1.0, 0)
        # reltuples < 0: never analyzed; the statistics counters may lag a second behind
        if tuples < 0 or max(changed, indexed) > 50 + 0.1 * tuples:
            # a table another process is analyzing (a page worker's refresh, autovacuum) is
            # skipped: this runs inside a reader's search, which waited for the other's end
            for table in ("archive_search_meta", "archive_search_multi", "archive_search_authors"):
                self._exec(f"ANALYZE (SKIP_LOCKED) {table}")

    @staticmethod
    def _where(filters: Filters, *, listing: bool = False) -> tuple[str, list[Any]]:
        """The filters as conditions on `archive_search_meta m`; for a listing (`listing`),
        an author through the author index (a search tests the authors of each match)."""
        by_name = (
            " AND (m.article_id, m.version) IN (SELECT article_id, version"
            " FROM archive_search_authors WHERE author_key IN (SELECT author_key"
            " FROM archive_author_names WHERE strpos(author_key, %s) > 0))"
        )
        sql, args = "", []
        for clause, value in (
            (" AND m.source = %s", filters.source),
            (" AND m.day >= %s", filters.since),
            (" AND m.day <= %s", filters.until),
            (by_name if listing else " AND strpos(m.authors_key, %s) > 0", filters.author),
            (" AND m.section_key = %s", filters.section),
        ):
            if value is not None:
                sql += clause
                args.append(value)
        return sql, args

    def search_rows(
        self, fts_query: str, filters: Filters, limit: int, offset: int, exact_count: bool = False
    ) -> SearchPage:
        """As the protocol says; the articles are counted (up to `COUNT_CAP`) in the ranking
        statement itself, so `exact_count` changes nothing here."""
        tsquery = fts_to_tsquery(fts_query)
        try:
            # the page and its count come from one statement (one snapshot), so they agree
            # with each other whatever is indexed meanwhile
            with self.without_seq_scan():  # see there why
                if filters == Filters():
                    return (*self._search_unfiltered(tsquery, limit, offset), None, ARTICLES)
                return (*self._search_filtered(tsquery, filters, limit, offset), None, ARTICLES)
        except StorageError as exc:
            if _is_query_error(exc):
                raise QueryError("the search engine could not read this query") from exc
            raise

    def _search_filtered(
        self, tsquery: str, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """Every match that passes the filters ranked, each article at its best version, and
        counted in the same pass (the filters are tested on each match anyway)."""
        where, args = self._where(filters)
        rows = self._rows(
            "SELECT article_id, version, source, headline, published, fetched_at, url, r,"
            " count(*) OVER () FROM (SELECT DISTINCT ON (m.article_id) " + _LISTED + ","
            " ts_rank_cd(m.doc, q) AS r FROM archive_search_meta m,"
            " to_tsquery('simple', %s) q WHERE m.doc @@ q"
            + where
            + " ORDER BY m.article_id, r DESC, m.version DESC) best"
            " ORDER BY r DESC, article_id LIMIT %s OFFSET %s",
            (tsquery, *args, limit, offset),
        )
        if not rows and offset:
            _, total, exact = self._search_filtered(tsquery, filters, 1, 0)
            return [], total, exact
        total = int(rows[0][8]) if rows else 0
        # capped as SQLite's count is, so both say the same
        return (
            [ListedRow(r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], float(r[7])) for r in rows],
            min(total, COUNT_CAP),
            total <= COUNT_CAP,
        )

    def _search_unfiltered(
        self, tsquery: str, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """The best matching versions (a top-N sort, no set of articles over every match),
        each article at its first: more are read only when old versions crowd the page. The
        order is the filtered one's: an article's best rank (of equal ranks its newest
        version), then its id.

        The articles are counted in the same statement, from the same matches (found once,
        kept in a materialized CTE): each matching version is an article of its own but
        those in `archive_search_multi` (migration 12), which count as their distinct
        articles. A count of its own found the matches again: testing a version's tsvector
        is most of a search's cost (each is read from TOAST), so that doubled it."""
        want = offset + limit
        n = want * 2 + 10
        while True:
            rows = self._rows(
                "WITH hits AS MATERIALIZED (SELECT m.article_id, m.version,"
                " ts_rank_cd(m.doc, q) AS r FROM archive_search_meta m,"
                " to_tsquery('simple', %s) q WHERE m.doc @@ q),"
                " top AS (SELECT * FROM hits ORDER BY r DESC, article_id, version DESC LIMIT %s)"
                " SELECT " + _LISTED + ", top.r, (SELECT count(*) FROM hits)"
                " - (SELECT count(*) - count(DISTINCT h.article_id) FROM hits h"
                " JOIN archive_search_multi s"
                " ON s.article_id = h.article_id AND s.version = h.version)"
                " FROM top JOIN archive_search_meta m"
                " ON m.article_id = top.article_id AND m.version = top.version"
                " ORDER BY top.r DESC, top.article_id, top.version DESC",
                (tsquery, n),
            )
            best: dict[str, ListedRow] = {}
            for r in rows:
                if r[0] not in best:
                    best[r[0]] = ListedRow(
                        r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6], float(r[7])
                    )
            if len(best) >= want or len(rows) < n:
                break
            n *= 4
        total = int(rows[0][8]) if rows else 0
        return list(best.values())[offset:want], min(total, COUNT_CAP), total <= COUNT_CAP

    def list_rows(
        self, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        with self.reading():  # the count and the page from one snapshot (as a search's)
            return self._list_rows(filters, limit, offset)

    def _list_rows(
        self, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        where, args = self._where(filters, listing=True)
        # each article at its current version (migration 13: no join to the articles)
        base = " FROM archive_search_meta m WHERE m.current" + where
        total = self._scalar(
            f"SELECT count(*) FROM (SELECT 1{base} LIMIT %s) capped", (*args, COUNT_CAP + 1)
        )
        rows = self._rows(
            "SELECT " + _LISTED + base + " ORDER BY m.day DESC, m.fetched_at DESC,"
            " m.article_id LIMIT %s OFFSET %s",
            (*args, limit, offset),
        )
        listed = [ListedRow(r[0], int(r[1]), r[2], r[3], r[4], r[5], r[6]) for r in rows]
        return listed, min(total, COUNT_CAP), total <= COUNT_CAP

    def article_urls(self, article_id: str) -> list[UrlRow]:
        # a URL key folds spellings together; the fetches keep each spelling requested
        rows = self._rows(
            "SELECT url, min(seen), min(dup) FROM (SELECT url, first_seen AS seen,"
            " duplicate AS dup FROM archive_urls WHERE article_id = %s UNION ALL"
            " SELECT url, fetched_at, (outcome = 'duplicate')::int FROM archive_fetches"
            " WHERE article_id = %s UNION ALL SELECT final_url, fetched_at,"
            " (outcome = 'duplicate')::int FROM archive_fetches WHERE article_id = %s) u"
            ' GROUP BY url ORDER BY min(seen) COLLATE "C", url COLLATE "C"',
            (article_id, article_id, article_id),
        )
        return [UrlRow(r[0], r[1], bool(r[2])) for r in rows]

    @staticmethod
    def _fetch(r: tuple[Any, ...]) -> FetchRow:
        return FetchRow(*r[:14])

    _FETCH_COLUMNS = (
        "fetch_id, url, url_key, final_url, status, etag, last_modified, fetched_at,"
        " raw_sha256, size, source, article_id, outcome, run_id"
    )

    def article_fetches(self, article_id: str) -> list[FetchRow]:
        rows = self._rows(
            f"SELECT {self._FETCH_COLUMNS} FROM archive_fetches WHERE article_id = %s"
            ' ORDER BY fetched_at COLLATE "C", fetch_id COLLATE "C"',
            (article_id,),
        )
        return [self._fetch(r) for r in rows]

    def fetches_of_raw(self, sha: str) -> list[FetchRow]:
        rows = self._rows(
            f"SELECT {self._FETCH_COLUMNS} FROM archive_fetches WHERE raw_sha256 = %s"
            ' ORDER BY fetched_at COLLATE "C", fetch_id COLLATE "C"',
            (sha,),
        )
        return [self._fetch(r) for r in rows]

    def version_row(self, article_id: str, version: int) -> VersionRow | None:
        r = self._one(
            "SELECT v.article_id, v.version, a.source, v.raw_sha256, v.fetched_at"
            " FROM archive_versions v JOIN archive_articles a ON a.id = v.article_id"
            " WHERE v.article_id = %s AND v.version = %s",
            (article_id, version),
        )
        return None if r is None else VersionRow(r[0], int(r[1]), r[2], r[3], r[4])

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
            sql += " AND a.source = %s"
            args.append(source)
        rows = self._rows(
            sql + ' ORDER BY v.fetched_at COLLATE "C" DESC, v.article_id LIMIT %s',
            (*args, limit),
        )
        return [VersionRow(r[0], int(r[1]), r[2], r[3], r[4]) for r in rows]

    def sources(self) -> list[SourceRow]:
        counts = {
            r[0]: (int(r[1]), int(r[2] or 0))
            # versions are numbered 1..current: their count needs no join
            for r in self._rows(
                "SELECT source, count(*), sum(current_version) FROM archive_articles"
                " GROUP BY source"
            )
        }
        runs = self._runs()
        failures: dict[str, list[tuple[str, int]]] = {}
        for r in self._rows(
            "SELECT source, coalesce(outcome, 'unknown'), count(*) FROM frontier_urls"
            " WHERE state = 'failed' GROUP BY 1, 2 ORDER BY 3 DESC, 2"
        ):
            failures.setdefault(r[0], []).append((r[1], int(r[2])))
        refused = {name: dict(reasons).pop("robots", 0) for name, reasons in failures.items()}
        out = []
        for name, first_seen in self._rows(
            'SELECT name, first_seen FROM archive_sources ORDER BY name COLLATE "C"'
        ):
            run = runs.get(name)
            fails = tuple(f for f in failures.get(name, ()) if f[0] != "robots")
            articles, versions = counts.get(name, (0, 0))
            out.append(
                SourceRow(
                    name=name,
                    articles=articles,
                    versions=versions,
                    first_seen=first_seen,
                    last_crawl_start=run[1] if run else None,
                    last_crawl_end=run[2] if run else None,
                    last_crawl_status=run[3] if run else None,
                    failures=fails,
                    robots_refusals=refused.get(name, 0),
                )
            )
        return out

    def _runs(self) -> dict[str, tuple[Any, ...]]:
        """Each source's last run, the runs still "running" whose crawlers all ended or died
        labelled first (`frontier_pg.settle_runs`), as `last_run` does. A role that may not
        write the frontier shows them as they are."""
        sql = "SELECT source, started_at, finished_at, status FROM frontier_runs"
        runs = {r[0]: r for r in self._rows(sql)}
        running = [name for name, r in runs.items() if r[3] == "running"]
        if running:
            from archive.backends.frontier_pg import settle_runs

            try:
                settle_runs(self.pool, running, self.frontier_lease_ttl)
            except StorageError as exc:
                log.warning("runs left unlabelled: %s", exc)
                return runs
            runs = {r[0]: r for r in self._rows(sql)}
        return runs

    def source_names(self) -> list[str]:
        return [
            r[0] for r in self._rows('SELECT name FROM archive_sources ORDER BY name COLLATE "C"')
        ]

    def articles_per_day(self, source: str | None, since_day: str) -> list[tuple[str, int]]:
        """Articles first archived per day (UTC), from `since_day` on."""
        sql = "SELECT substr(first_seen, 1, 10) AS d, count(*) FROM archive_articles"
        sql += " WHERE first_seen >= %s"
        args: list[Any] = [since_day]
        if source is not None:
            sql += " AND source = %s"
            args.append(source)
        return [(r[0], int(r[1])) for r in self._rows(sql + " GROUP BY d ORDER BY d", args)]

    def raw_sizes(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self._rows("SELECT sha256, size FROM archive_raw")}


def _is_query_error(exc: BaseException) -> bool:
    """Whether PostgreSQL refused the query text (not the connection or the server)."""
    import psycopg

    cause = exc.__cause__
    return isinstance(cause, psycopg.errors.SyntaxError | psycopg.DataError)
