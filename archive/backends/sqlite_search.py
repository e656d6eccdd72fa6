"""Full-text search in the embedded catalog: FTS5 with bm25, bounded per query.

The index (`archive_fts`) is contentless FTS5 keyed by doc (one indexed version of an
article); `archive_search_meta` holds each doc's article, metadata and filter columns.
bm25 is computed for every document a ranking reads, so the ranking reads at most the
newest `RANK_CANDIDATES` matching versions: the latency of a search does not grow with the
archive. `archive.backends.catalog_sqlite` hands its connection to `SqliteSearch`.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from archive.backends.catalog import Filters, ListedRow
from archive.backends.catalog_schema import BM25
from archive.errors import QueryError

# versions ranked at most (the newest that match), and matches counted exactly at most
RANK_CANDIDATES = 10_000
EXACT_COUNT = 1_000
FILTERED_FLOOR = 200  # articles a filtered window must yield before it stops widening


def filter_sql(filters: Filters) -> tuple[str, list[Any]]:
    """The filters as SQL conditions on `archive_search_meta m`, and their arguments."""
    sql, args = "", []
    for clause, value in (
        (" AND m.source = ?", filters.source),
        (" AND m.day >= ?", filters.since),
        (" AND m.day <= ?", filters.until),
        (" AND instr(m.authors_key, ?) > 0", filters.author),
        (" AND m.section_key = ?", filters.section),
    ):
        if value is not None:
            sql += clause
            args.append(value)
    return sql, args


class SqliteSearch:
    """Search over one catalog connection (used by one thread at a time, as the catalog)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _scalar(self, sql: str, *args: Any) -> int:
        row = self.db.execute(sql, args).fetchone()
        return int(row[0] or 0) if row else 0

    _per_doc: tuple[float, float] | None = None  # (when read, articles per indexed version)

    def rows(
        self, fts_query: str, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        try:
            if filters == Filters():
                return self._search_unfiltered(fts_query, limit, offset)
            return self._search_filtered(fts_query, filters, limit, offset)
        except sqlite3.OperationalError as exc:
            # the reading side hands in a query it built and checked itself; whatever
            # SQLite still objects to is said in the user's terms, not SQLite's
            raise QueryError("the search engine could not read this query") from exc

    def _search_unfiltered(
        self, fts_query: str, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """The best documents straight from FTS5's ranked order (no join while ranking),
        then their articles; more are read only when old versions crowd the page.

        bm25 is computed for every document the ranking reads, so a word found in a third of
        the archive costs a third of the archive. Past `RANK_CANDIDATES` matching versions
        only the newest that many are ranked (documented in `ArchiveReader.search`): the
        latency of a search no longer grows with the archive. Counting (FTS5 alone, no join)
        is cheap; the exact number of articles (a join per match) only up to `EXACT_COUNT`,
        an estimate beyond it."""
        docs = self._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts_query)
        if docs == 0:
            return [], 0, True
        bound = self._newest_bound(fts_query, docs, RANK_CANDIDATES)
        want = offset + limit
        n = want * 2 + 10
        while True:
            ranked = self.db.execute(
                f"SELECT rowid, {BM25} AS r FROM archive_fts WHERE archive_fts MATCH ?"
                " AND rowid >= ? ORDER BY r, rowid DESC LIMIT ?",
                (fts_query, bound, n),
            ).fetchall()
            meta = self._meta_of([r[0] for r in ranked])
            best: dict[str, ListedRow] = {}
            for doc, rank in ranked:
                m = meta.get(doc)  # none: a replaced version's entry, unreachable
                if m is not None and m[0] not in best:
                    best[m[0]] = ListedRow(m[0], m[1], m[2], m[3], m[4], m[5], m[6], -float(rank))
            if len(best) >= want or len(ranked) < n:
                break
            n *= 4
        if docs <= EXACT_COUNT:
            total = self._scalar(
                "SELECT count(DISTINCT m.article_id) FROM archive_fts f JOIN archive_search_meta"
                " m INDEXED BY archive_search_meta_filter ON m.doc = f.rowid"
                " WHERE archive_fts MATCH ?",
                fts_query,
            )
            return list(best.values())[offset:want], total, True
        return list(best.values())[offset:want], max(self._estimate(docs), len(best)), False

    def _estimate(self, docs: int, *, per_doc: bool = True) -> int:
        """Articles among `docs` matching versions, from the archive's articles per indexed
        version (read at most once a minute), to two significant digits (`per_doc` False:
        `docs` counts articles already, only rounded)."""
        now = time.monotonic()
        if per_doc and (self._per_doc is None or now - self._per_doc[0] > 60):
            articles = self._scalar("SELECT count(*) FROM archive_articles")
            indexed = self._scalar("SELECT count(*) FROM archive_search_meta")
            self._per_doc = (now, min(1.0, articles / max(indexed, 1)))
        guess = round(docs * self._per_doc[1]) if per_doc and self._per_doc else docs
        digits = max(len(str(guess)) - 2, 0)
        return round(guess, -digits)

    def _meta_of(self, docs: list[int]) -> dict[int, tuple[Any, ...]]:
        out: dict[int, tuple[Any, ...]] = {}
        for start in range(0, len(docs), 500):
            chunk = docs[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.db.execute(
                "SELECT doc, article_id, version, source, headline, published, fetched_at, url"
                f" FROM archive_search_meta WHERE doc IN ({marks})",
                chunk,
            ):
                out[r[0]] = tuple(r[1:])
        return out

    def _search_filtered(
        self, fts_query: str, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """As unfiltered, each match joined to its metadata to filter it (a lookup per match,
        so bounded the same way): past `RANK_CANDIDATES` matching versions, the newest that
        many are ranked, widened fourfold at a time until `FILTERED_FLOOR` articles (or the
        page asked for) pass the filters, or the window holds every match. The count is exact
        when it does, else estimated from the share of the window that passed."""
        docs = self._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts_query)
        if docs == 0:
            return [], 0, True
        window = RANK_CANDIDATES
        while True:
            bound = self._newest_bound(fts_query, docs, window)
            rows = self._filtered_page(fts_query, filters, bound, limit, offset)
            if not rows and offset:
                rows = self._filtered_page(fts_query, filters, bound, 1, 0)
                passed, page = (int(rows[0][8]) if rows else 0), []
            else:
                passed, page = (int(rows[0][8]) if rows else 0), rows
            if bound == 0 or passed >= max(FILTERED_FLOOR, offset + limit):
                break
            window *= 4
        listed = [ListedRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], -float(r[7])) for r in page]
        if bound == 0:
            return listed, passed, True
        return listed, self._estimate(round(passed * docs / window), per_doc=False), False

    def _newest_bound(self, fts_query: str, docs: int, window: int) -> int:
        """The doc number from which the newest `window` matching versions on are; 0: all."""
        if docs <= window:
            return 0
        return self._scalar(
            "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ?"
            " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            fts_query,
            window - 1,
        )

    def _filtered_page(
        self, fts_query: str, filters: Filters, bound: int, limit: int, offset: int
    ) -> list[sqlite3.Row]:
        # each match's filters and article from the narrow covering index (schema 5), its
        # best version per article (SQLite takes a min()'s bare columns from the min row);
        # the table's wide rows are read for the page's rows only
        where, args = filter_sql(filters)
        return self.db.execute(
            "SELECT t.article_id, t.version, t.source, t.headline, t.published, t.fetched_at,"
            " t.url, g.r, g.n FROM (SELECT doc, article_id, r, count(*) OVER () AS n FROM"
            " (SELECT m.article_id, m.doc, min(f.rank) AS r FROM archive_fts f"
            " JOIN archive_search_meta m INDEXED BY archive_search_meta_filter"
            " ON m.doc = f.rowid WHERE archive_fts MATCH ? AND f.rowid >= ?"
            + where
            + " GROUP BY m.article_id) ORDER BY r, article_id LIMIT ? OFFSET ?) g"
            " JOIN archive_search_meta t ON t.doc = g.doc ORDER BY g.r, g.article_id",
            (fts_query, bound, *args, limit, offset),
        ).fetchall()
