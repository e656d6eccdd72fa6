"""Full-text search in the embedded catalog: FTS5 with bm25, bounded per query.

The index (`archive_fts`) is contentless FTS5 keyed by doc (one indexed version of an
article); `archive_search_meta` holds each doc's article, metadata and filter columns. The
source and section are tokens of the index as well (its `facets` column, schema 11): a search
filtered by them has FTS5 find the filter's matches, and its windows and counts are of those;
filtered by them alone, it is an unfiltered search of those matches (ranked and counted in
SQL, of equal ranks the newest first), as they are exactly the versions that pass.
bm25 is computed for every document a ranking reads, so the ranking reads at most the
newest `RANK_CANDIDATES` matching versions (computing bm25 for the newest `RANK_NEWEST` and
the headline's matches among them): the latency of a search does not grow with the
archive, and the results say when older matches were left out (`ranked_newest`). Matching
articles are counted exactly up to `COUNT_CAP`, past it the count is a lower bound ("at
least 10,000"): counting reads the matches up to the cap's article at most, unfiltered the
matches' count and those of the docs that are not one article each. Past `CHEAP_COUNT`
matching versions, unless the caller asks for the articles (`exact_count`), an unfiltered
search counts the matching versions (FTS5 alone) and a filtered one the articles passing
among the matches it read to rank (a lower bound).
`archive.backends.catalog_sqlite` hands its connection to `SqliteSearch`.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from typing import Any

from archive.backends.catalog import ARTICLES, COUNT_CAP, VERSIONS, Filters, ListedRow, SearchPage
from archive.backends.catalog_schema import BM25, facet_token
from archive.errors import QueryError

# Versions ranked at most: the newest 10,000 that match. A decision for ranking quality over
# speed (the lead's, 2026-12): a common word is ranked over this many candidates, so the best
# of the recent articles come first, where a smaller window ranked fewer and answered sooner
# (bm25 costs about the same per candidate: 10,000 of them are most of a common word's search
# time at 100,000 articles). Older matches are still found by a filtered or rarer query.
RANK_CANDIDATES = 10_000
# Of those, bm25 is computed for the newest 1,000 and for every one with a match in its
# headline (a column filter FTS5 answers itself, without bm25): the headline weighs ten
# times a body's word, so those are the versions that rank first. Session 25, measured by
# bench/bench_search_quality.py on the 100,000-article bench (39 queries: the bench's 20,
# the commonest words, rare ones, ANDs, ORs, prefixes, phrases, filtered): against exact
# bm25 over EVERY match, top-10 overlap 0.718 and NDCG@10 0.9958 before and after, the same
# top 10 on each of the 39 (the window, not the tiers, is what costs quality: 0.10 to 0.50
# overlap for words in over 20,000 articles). CPU of the ranking statement for a word in
# 15,000 to 30,000 articles: 8.5 to 11.5 ms before, 2.9 to 6.3 ms after.
RANK_NEWEST = 1_000
ONE_PASS = 1_000  # matching versions at most that are ranked and counted in one joined pass
# Matching versions up to which the articles are counted unasked (each match joined to the
# docs of multi-version articles, about 0.12 microseconds a match: 0.25 ms at this many).
# Past it, unless the caller asks for the exact count, a search says how many versions match
# (from FTS5 alone, exact) or, filtered, how many articles pass among those it ranked (a lower
# bound): counting the articles of a word in 10,000 to 30,000 versions cost 1 to 7 ms at
# 100,000 articles, filtered up to 8 ms (a metadata lookup per match), most of such a search.
CHEAP_COUNT = 2_000
FILTERED_FLOOR = 200  # articles a filtered window must yield before it stops widening
ALL_DOCS = 2**63 - 1  # the highest doc number: a span of every doc


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


def listing_sql(filters: Filters) -> tuple[str, list[Any]]:
    """As `filter_sql`, for a listing (no search term to narrow it first): an author is found
    through the author index (schema 7: each name's docs), where testing every version's
    authors read the whole table (17 ms at 100,000 articles); a section through its index."""
    if filters.author is None:
        return filter_sql(filters)
    sql, args = filter_sql(
        Filters(filters.source, filters.since, filters.until, None, filters.section)
    )
    # the author's docs drive (a name's articles are few); `+` keeps SQLite from walking the
    # source's or the days' index instead and testing each of its versions for the author
    sql = sql.replace(" m.", " +m.")
    sql += (
        " AND m.doc IN (SELECT doc FROM archive_search_authors WHERE author_key IN"
        " (SELECT author_key FROM archive_author_names WHERE instr(author_key, ?) > 0))"
    )
    return sql, [*args, filters.author]


@contextlib.contextmanager
def read_snapshot(db: sqlite3.Connection) -> Iterator[None]:
    """The statements inside read the catalog as of one moment: one read transaction (WAL:
    a writer goes on committing beside it), where each statement outside a transaction read
    its own. A search's count is made of several statements (the matches, the multi-version
    docs, their articles): a version indexed between them made it off by one. Inside a
    transaction already (a write), that one."""
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


class SqliteSearch:
    """Search over one catalog connection (used by one thread at a time, as the catalog)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _scalar(self, sql: str, *args: Any) -> int:
        row = self.db.execute(sql, args).fetchone()
        return int(row[0] or 0) if row else 0

    def rows(
        self, fts_query: str, filters: Filters, limit: int, offset: int, exact_count: bool = False
    ) -> SearchPage:
        try:
            with read_snapshot(self.db):
                if Filters(source=filters.source, section=filters.section) == filters:
                    # unfiltered, or by source and section only: those are the index's
                    # facets (schema 11), so the facet-restricted MATCH is exactly the
                    # passing versions, ranked and counted as an unfiltered search's
                    # (where the filtered reading took every match of the window through
                    # Python: 10,000 of a common word's versions)
                    return self._search_unfiltered(
                        with_facets(fts_query, filters),
                        limit,
                        offset,
                        exact_count,
                        _headline_query(fts_query),
                    )
                return self._search_filtered(fts_query, filters, limit, offset, exact_count)
        except sqlite3.OperationalError as exc:
            # the reading side hands in a query it built and checked itself; whatever
            # SQLite still objects to is said in the user's terms, not SQLite's
            raise QueryError("the search engine could not read this query") from exc

    def _search_unfiltered(
        self, fts_query: str, limit: int, offset: int, exact_count: bool, headline: str
    ) -> SearchPage:
        """The best documents straight from FTS5's ranked order (no join while ranking),
        then their articles; more are read only when old versions crowd the page.

        bm25 is computed for every document the ranking reads (about a microsecond each),
        so a word found in a third of the archive would cost a third of the archive. Past
        `RANK_NEWEST` matching versions, the ranking reads the newest `RANK_CANDIDATES` of them
        but computes bm25 only for the newest `RANK_NEWEST` and for those with a match in
        their headline (`_headline_query`): the headline weighs ten times a body's word, so
        they are the ones that rank first (measured: `bench/bench_search_quality.py`, see
        `RANK_NEWEST`). The articles are counted up to `COUNT_CAP` (`_count_all`) when they
        are few or `exact_count` asks, else the matching versions (`_versions`)."""
        docs = self._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts_query)
        if docs == 0:
            return [], 0, True, None, ARTICLES
        if docs <= min(ONE_PASS, RANK_NEWEST):
            return (*self._search_all(fts_query, limit, offset), None, ARTICLES)
        window = self._newest_bound(fts_query, docs, RANK_CANDIDATES)
        newest = self._newest_bound(fts_query, docs, RANK_NEWEST)
        if newest == 0:  # few enough: every match ranked
            sql = (
                f"SELECT rowid, {BM25} AS r FROM archive_fts WHERE archive_fts MATCH ?"
                " ORDER BY r, rowid DESC LIMIT ?"
            )
            args: tuple[Any, ...] = (fts_query,)
        else:
            # the headline's matches are found by FTS5 itself (a column filter, no bm25) and
            # only tested here: bm25 is computed for the rows that pass the WHERE alone
            sql = (
                f"SELECT rowid, {BM25} AS r FROM archive_fts WHERE archive_fts MATCH ?"
                " AND rowid >= ? AND (rowid >= ? OR rowid IN (SELECT rowid FROM archive_fts"
                " WHERE archive_fts MATCH ? AND rowid >= ?)) ORDER BY r, rowid DESC LIMIT ?"
            )
            args = (fts_query, window, newest, headline, window)
        want = offset + limit
        n = want * 2 + 10
        while True:
            ranked = self.db.execute(sql, (*args, n)).fetchall()
            meta = self._meta_of([r[0] for r in ranked])
            best: dict[str, ListedRow] = {}
            for doc, rank in ranked:
                m = meta.get(doc)  # none: a replaced version's entry, unreachable
                if m is not None and m[0] not in best:
                    best[m[0]] = ListedRow(m[0], m[1], m[2], m[3], m[4], m[5], m[6], -float(rank))
            if len(best) >= want or len(ranked) < n:
                break
            n *= 4
        looked_at = None if newest == 0 else min(docs, RANK_CANDIDATES)
        page = list(best.values())[offset:want]
        if exact_count or docs <= CHEAP_COUNT:
            total, exact = self._count_all(fts_query, docs)
            return page, total, exact, looked_at, ARTICLES
        articles = self._articles_at_least(docs)
        if articles > COUNT_CAP:  # more than the cap whatever the versions: as `_count_all`
            return page, COUNT_CAP, False, looked_at, ARTICLES
        return page, self._versions(fts_query, docs), True, looked_at, VERSIONS

    def _search_all(
        self, fts_query: str, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """A few matches (at most `ONE_PASS`): each one's article and bm25 in one pass,
        which ranks them and counts the articles (a ranking statement, then a count with a
        temporary B-tree of article ids, read the matches twice). Each article at its best
        version, in bm25 order, of equal ranks the newest first: as the ranked order above."""
        best: dict[str, tuple[float, int]] = {}
        for doc, article_id, rank in self._passing(fts_query, "", []):
            _keep_best(best, article_id, rank, doc)  # newest first: of equal ranks the newest
        ranked = sorted(best.items(), key=lambda item: (item[1][0], -item[1][1]))
        return (
            self._listed([doc for _, (_, doc) in ranked[offset : offset + limit]], best),
            min(len(best), COUNT_CAP),
            len(best) <= COUNT_CAP,
        )

    def _count(
        self,
        fts_query: str,
        where: str,
        args: list[Any],
        span: tuple[int, int] = (0, ALL_DOCS),
    ) -> tuple[int, bool]:
        """The articles matching and passing the filters, exactly up to `COUNT_CAP`; past it
        (`COUNT_CAP`, False), a lower bound. The matches are read (each joined to its article
        in the narrow covering index) until the cap's next article is found: the count's
        cost stops growing with the archive there."""
        found = self._scalar(
            "SELECT count(*) FROM (SELECT DISTINCT m.article_id FROM archive_fts f"
            " JOIN archive_search_meta m INDEXED BY archive_search_meta_filter ON m.doc = f.rowid"
            " WHERE archive_fts MATCH ? AND f.rowid BETWEEN ? AND ?" + where + " LIMIT ?)",
            fts_query,
            *span,
            *args,
            COUNT_CAP + 1,
        )
        return (COUNT_CAP, False) if found > COUNT_CAP else (found, True)

    def _count_all(self, fts_query: str, docs: int) -> tuple[int, bool]:
        """`_count` unfiltered, from the `docs` matching: each doc is one article but those in
        `archive_search_multi` (schema 8: the docs of articles with more than one indexed
        version, and the replaced entries, of no article), which count as their distinct
        articles. Only the matches in that small table are joined to an article and made
        distinct, where `_count` did so for every match (12.9 of 18 ms for a word in 6,000
        of 20,000 articles). Past the cap at once when the matches outside it already are."""
        if self._articles_at_least(docs) > COUNT_CAP:
            return COUNT_CAP, False
        row = self.db.execute(
            "SELECT count(*), count(DISTINCT s.article_id) FROM archive_fts f"
            " JOIN archive_search_multi s ON s.doc = f.rowid WHERE archive_fts MATCH ?",
            (fts_query,),
        ).fetchone()
        found = docs - int(row[0]) + int(row[1])
        return (COUNT_CAP, False) if found > COUNT_CAP else (found, True)

    def _articles_at_least(self, docs: int) -> int:
        """A lower bound of the articles among `docs` matches: each match outside
        `archive_search_multi` is an article of its own."""
        return docs - self._scalar("SELECT count(*) FROM archive_search_multi")

    def _versions(self, fts_query: str, docs: int) -> int:
        """The indexed versions among the `docs` matches: less the replaced versions' entries
        left in the contentless index (none unless versions were stored again), each looked
        up in the index by its number (schema 10: those entries in an index of their own)."""
        if not self._scalar(
            "SELECT EXISTS (SELECT 1 FROM archive_search_multi INDEXED BY"
            " archive_search_multi_replaced WHERE article_id IS NULL)"
        ):
            return docs
        return docs - self._scalar(
            "SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ? AND rowid IN"
            " (SELECT doc FROM archive_search_multi WHERE article_id IS NULL)",
            fts_query,
        )

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
        self, fts_query: str, filters: Filters, limit: int, offset: int, exact_count: bool
    ) -> SearchPage:
        """Filtered by dates or an author (the source and section alone are unfiltered
        searches of their facets): as unfiltered, each match joined to its metadata to filter
        it (a lookup per match,
        so bounded the same way; the matches are those of the source and section asked for,
        FTS5 finds them from the index's facets): past `RANK_CANDIDATES` matching versions,
        the newest that many are ranked, widened fourfold at a time until `FILTERED_FLOOR`
        articles (or the page asked for) pass the filters, or the window holds every match.
        The articles are counted while ranking when every match was read, else by `_count`
        (up to `COUNT_CAP`) when `exact_count` asks; otherwise those passing in the ranked
        window are a lower bound.

        One pass, newest match first: a wider window goes on from where the narrower one
        ended (ranking each window from its start again read the first one twice)."""
        span = self._day_span(filters)
        if span is None:  # nothing was indexed on those days
            return [], 0, True, None, ARTICLES
        headline = _headline_query(fts_query)
        # the source and section as the index's facets (schema 11): FTS5 intersects them with
        # the matches, and the versions of other sources are never read; the metadata still
        # decides (`filter_sql` tests them again on the versions that pass)
        fts_query = with_facets(fts_query, filters)
        docs = self._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts_query)
        if docs == 0:
            return [], 0, True, None, ARTICLES
        where, args = filter_sql(filters)
        newest = self._newest_bound(fts_query, docs, RANK_NEWEST)
        want = offset + limit
        found = self._filtered_pass(
            fts_query, where, args, span, docs, want, (newest, headline), exact_count
        )
        best, articles, counted, cut = found
        if newest and len(best) < min(len(articles), offset + limit):
            # too few passing matches were new or matched in their headline to fill the page
            # (a filter that passes old matches only): every passing match ranked instead
            best, articles, counted, cut = self._filtered_pass(
                fts_query, where, args, span, docs, want, (0, headline), exact_count
            )
        ranked = sorted(best.items(), key=lambda item: (item[1][0], item[0]))
        listed = self._listed([doc for _, (_, doc) in ranked[offset : offset + limit]], best)
        if cut is None and len(best) < len(articles):
            cut = min(docs, RANK_CANDIDATES)  # ranked the newest and the headlines' only
        if counted:  # every match read: each article counted
            if len(articles) > COUNT_CAP:
                return listed, COUNT_CAP, False, cut, ARTICLES
            return listed, len(articles), True, cut, ARTICLES
        if not exact_count:  # at least those passing among the matches read
            return listed, min(len(articles), COUNT_CAP), False, cut, ARTICLES
        total, exact = self._count(fts_query, where, args, span)
        return listed, total, exact, cut, ARTICLES

    def _filtered_pass(
        self,
        fts_query: str,
        where: str,
        args: list[Any],
        span: tuple[int, int],
        docs: int,
        want: int,
        ranked: tuple[int, str],
        exact_count: bool,
    ) -> tuple[dict[str, tuple[float, int]], set[str], bool, int | None]:
        """`_search_filtered`'s reading: the passing matches' best ranks by article, the
        passing articles, whether those are all of them (or more than `COUNT_CAP`), and the
        window when older matches were left unranked. bm25 is computed for the passing
        matches from doc `ranked[0]` on and those the headline query `ranked[1]` matches
        (for every one when that doc is 0). Past the window the matches are read on to count the
        articles only when `exact_count` asks."""
        need = max(FILTERED_FLOOR, want)
        window = RANK_CANDIDATES
        bound = self._newest_bound(fts_query, docs, window)
        best: dict[str, tuple[float, int]] = {}
        articles: set[str] = set()
        cut: int | None = None
        ranked_from = ranked if ranked[0] else None
        passing = self._passing(fts_query, where, args, span, ranked_from)
        try:
            for doc, article_id, rank in passing:
                while cut is None and doc < bound:  # the window is read: enough, or widen
                    if len(articles) >= need:
                        cut = window  # older matches are left unranked
                        break
                    bound = self._next_bound(fts_query, docs, bound, window, window * 4)
                    window *= 4
                if cut is not None:
                    if ranked_from is None or not exact_count:
                        break  # `_count` counts the rest, or the count is a lower bound
                    # read on to count the articles: the rest of the matches is read once,
                    # where `_count` read the window again (bm25 is computed past it only
                    # for the headline's matches)
                    if len(articles) > COUNT_CAP:
                        break
                    articles.add(article_id)
                    continue
                articles.add(article_id)
                if rank is not None:
                    _keep_best(best, article_id, rank, doc)
        finally:
            passing.close()
        counted = cut is None or (ranked_from is not None and exact_count)
        return best, articles, counted, cut

    def _day_span(self, filters: Filters) -> tuple[int, int] | None:
        """The docs that can pass the date filters: from the first indexed on the first day
        to the last indexed on the last (schema 6), every doc when no date is asked for;
        None when no doc was indexed on those days. A doc's number is its order of indexing,
        which follows publication only loosely: the span is a bound, the filter still
        decides."""
        if filters.since is None and filters.until is None:
            return 0, ALL_DOCS
        row = self.db.execute(
            "SELECT min(first_doc), max(last_doc) FROM archive_search_days"
            " WHERE day >= ? AND day <= ?",
            (filters.since or "", filters.until or "\uffff"),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def _passing(
        self,
        fts_query: str,
        where: str,
        args: list[Any],
        span: tuple[int, int] = (0, ALL_DOCS),
        ranked_from: tuple[int, str] | None = None,
    ) -> sqlite3.Cursor:
        """(doc, article, bm25) of each match that passes the filters, newest first, read as
        they are needed: each match's filters and article from the narrow covering index
        (schema 5), bm25 computed for those that pass only; of the docs in `span` only.
        With `ranked_from` (a doc, a headline query), bm25 only for the docs from that one on
        and those the headline query matches, None for the others (a CASE computes only the
        branch it takes)."""
        rank, rank_args = "f.rank", []
        if ranked_from is not None:
            rank = (
                "CASE WHEN f.rowid >= ? OR f.rowid IN (SELECT rowid FROM archive_fts"
                " WHERE archive_fts MATCH ? AND rowid BETWEEN ? AND ?) THEN f.rank END"
            )
            rank_args = [*ranked_from, *span]
        cursor = self.db.cursor()
        cursor.row_factory = None  # plain tuples: a row each match that passes
        return cursor.execute(
            f"SELECT f.rowid, m.article_id, {rank} FROM archive_fts f"
            " JOIN archive_search_meta m INDEXED BY archive_search_meta_filter"
            " ON m.doc = f.rowid WHERE archive_fts MATCH ? AND f.rowid BETWEEN ? AND ?"
            + where
            + " ORDER BY f.rowid DESC",
            (*rank_args, fts_query, *span, *args),
        )

    def _listed(self, docs: list[int], best: dict[str, tuple[float, int]]) -> list[ListedRow]:
        """The page's rows, in the order of `docs`, with their scores from `best`."""
        meta = self._meta_of(docs)
        out = []
        for doc in docs:
            m = meta[doc]
            out.append(ListedRow(m[0], m[1], m[2], m[3], m[4], m[5], m[6], -float(best[m[0]][0])))
        return out

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

    def _next_bound(self, fts_query: str, docs: int, bound: int, window: int, wider: int) -> int:
        """`_newest_bound` of the `wider` window, counted on from `bound` (that of `window`)."""
        if docs <= wider:
            return 0
        return self._scalar(
            "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ? AND rowid < ?"
            " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
            fts_query,
            bound,
            wider - window - 1,
        )


def with_facets(fts_query: str, filters: Filters) -> str:
    """`fts_query` restricted to the versions whose facets (schema 11) hold the source and
    the section `filters` ask for, if any."""
    tokens = []
    if filters.source is not None:
        tokens.append(facet_token("s", filters.source))
    if filters.section is not None:
        tokens.append(facet_token("c", filters.section))
    if not tokens:
        return fts_query
    return fts_query + " AND {facets} : (" + " AND ".join(f'"{t}"' for t in tokens) + ")"


def _keep_best(best: dict[str, tuple[float, int]], article_id: str, rank: float, doc: int) -> None:
    """An article's best (lowest) bm25 rank and its doc; of equal ranks the first one met."""
    kept = best.get(article_id)
    if kept is None or rank < kept[0]:
        best[article_id] = (rank, doc)


_PHRASE = re.compile(r'"(?:[^"]|"")*"\*?')
# the phrases a query excludes, as `archive.ftsquery` writes them: `NOT ("a" OR "b"*)` (a
# phrase there holds letters, digits and spaces only: no parenthesis or quote inside)
_EXCLUDED = re.compile(r'NOT \((?:"(?:[^"]|"")*"\*?(?: OR )?)+\)')


def _headline_query(fts_query: str) -> str:
    """The versions with any of the query's phrases in the headline: `{headline} : (...)`
    over each quoted phrase of `fts_query` (as `archive.ftsquery` writes them) but the
    excluded ones: a version with one of those anywhere is no match, and finding the
    headlines of an excluded common word cost a third of `ever -back`'s ranking."""
    kept = _PHRASE.findall(_EXCLUDED.sub("", fts_query))
    return "{headline} : (" + " OR ".join(kept) + ")"
