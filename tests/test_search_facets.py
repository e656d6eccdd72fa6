"""A search filtered by source or section (SQLite schema 11): the index holds each version's
source and section as facet tokens, so FTS5 finds the filter's matches itself, where the
metadata of every match was looked up; a word searched for never matches a facet."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

from archive.backends import catalog_sqlite_search as sqlite_search
from archive.backends.catalog import Filters, SearchDoc
from archive.backends.catalog_schema import facet_token
from archive.backends.catalog_sqlite import SqliteCatalog
from archive.ftsquery import parse
from tests.catalog_rows import put_version_row


def put(cat: SqliteCatalog, article: int, source: str) -> None:
    put_version_row(cat, f"a{article}", source=source)


def index_waiting(cat: SqliteCatalog, section: str) -> None:
    with cat.writing():
        for pending in cat.pending_docs(1000):
            doc = SearchDoc("h", "", "ferry", "", "", "2026-01-01", None, section, "", "u")
            cat.index_doc(pending, doc)


def catalog(tmp_path: Path) -> SqliteCatalog:
    """Twelve articles matching "ferry", one in four (the 2nd, 6th and 10th) of source b."""
    cat = SqliteCatalog(tmp_path / "catalog.sqlite", synchronous="OFF")
    for n in range(12):
        put(cat, n, "b" if n % 4 == 1 else "a")
        index_waiting(cat, "sport" if n % 2 else "politics")
    return cat


def test_a_source_filter_ranks_and_counts_among_the_sources_matches(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    try:
        # a window of the newest 4 matches, enough when one article passes: before schema
        # 11 it held one of source b's three and the count was "at least 1"; the source's
        # own matches are 3, all ranked and counted
        with (
            mock.patch.object(sqlite_search, "RANK_CANDIDATES", 4),
            mock.patch.object(sqlite_search, "FILTERED_FLOOR", 1),
        ):
            rows, total, exact, ranked, _ = cat.search_rows("ferry", Filters(source="b"), 1, 0)
            assert (total, exact, ranked) == (3, True, None)
            rows, total, exact, ranked, _ = cat.search_rows("ferry", Filters(source="b"), 3, 0)
        # every match scores alike: the newest first, as unfiltered (ids in order before)
        assert [r.article_id for r in rows] == ["a9", "a5", "a1"]
        rows, total, exact, _, _ = cat.search_rows(
            "ferry", Filters(source="a", section="sport"), 10, 0
        )
        assert [r.article_id for r in rows] == ["a11", "a7", "a3"]
        assert (total, exact) == (3, True)
    finally:
        cat.close()


def test_a_word_searched_for_never_matches_a_facet(tmp_path: Path) -> None:
    cat = catalog(tmp_path)
    try:
        token = facet_token("s", "b")
        # what a user could type for it: the query keeps the word's letters and digits only
        fts, _ = parse(token + " OR " + token[1:])
        assert "\ue000" not in fts
        assert cat.search_rows(fts, Filters(), 10, 0)[1] == 0
        assert cat.search_rows("sport", Filters(), 10, 0)[1] == 0  # a section's name
    finally:
        cat.close()


def test_a_source_alone_is_ranked_and_counted_in_sql(tmp_path: Path) -> None:
    """Past `RANK_NEWEST` matches, a search by source (or section) alone ranks in FTS5's
    statement as an unfiltered one does: no match is joined to its metadata and handed to
    Python to be filtered (the window's 10,000 versions were, for a common word)."""
    cat = catalog(tmp_path)
    try:
        with (
            mock.patch.object(sqlite_search, "ONE_PASS", 2),
            mock.patch.object(sqlite_search, "RANK_NEWEST", 2),
            mock.patch.object(sqlite_search, "RANK_CANDIDATES", 4),
        ):
            statements: list[str] = []
            cat.db.set_trace_callback(statements.append)
            fts = parse("ferry")[0]
            rows, total, exact, ranked, _ = cat.search_rows(fts, Filters(source="a"), 3, 0)
            cat.db.set_trace_callback(None)
        assert not [q for q in statements if "JOIN archive_search_meta" in q], statements
        # the newest 2 of source a's 9 ranked (the headlines "h" do not match): a11, a10
        assert [r.article_id for r in rows] == ["a11", "a10"]
        assert (total, exact, ranked) == (9, True, 4)
    finally:
        cat.close()
