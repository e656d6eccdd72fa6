"""Counting a search's articles from the matching docs (SQLite schema 8, PostgreSQL migration
12): each doc is an article of its own but those in `archive_search_multi`, which count as their
distinct articles. Over random catalogs (articles with several versions, versions replaced and
indexed again, some waiting to be indexed) the count equals the plain count of distinct
matching articles, below and past the cap, on each backend (PostgreSQL: a database of the
test's own, emptied before each example)."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.backends import catalog_pg_read as pg_read
from archive.backends import catalog_sqlite_search as sqlite_search
from archive.backends.catalog import Catalog, Filters, SearchDoc
from archive.backends.catalog_pg import PgCatalog
from archive.backends.catalog_pg_read import READ_DERIVED_TABLES
from archive.backends.catalog_pg_schema import DERIVED_TABLES, MIGRATIONS
from archive.backends.catalog_schema import CATALOG_SCHEMA_VERSION
from archive.backends.catalog_sqlite import SqliteCatalog
from archive.ftsquery import to_fts
from tests.catalog_rows import put_version_row

WORDS = ["ferry", "tide", "harbour", "gale"]

# one step: store (article, version) with these words (again: the version is replaced), and
# whether to index every waiting version afterwards
steps = st.lists(
    st.tuples(
        st.integers(0, 5),
        st.integers(1, 3),
        st.sets(st.sampled_from(WORDS), max_size=3),
        st.booleans(),
    ),
    max_size=25,
)


def put(cat: Catalog, article: int, version: int) -> None:
    put_version_row(cat, f"a{article}", version=version, seen=f"2026-01-0{version}T00:00:00Z")


def index_waiting(cat: Catalog, texts: dict[tuple[str, int], str]) -> None:
    with cat.writing():
        for pending in cat.pending_docs(1000):
            body = texts[(pending.article_id, pending.version)]
            doc = SearchDoc("h", "", body, "", "", "2026-01-01", None, None, "", "u")
            cat.index_doc(pending, doc)


def reference(db: sqlite3.Connection, word: str) -> int:
    """The articles with an indexed version matching `word`: the plain distinct count."""
    row = db.execute(
        "SELECT count(DISTINCT m.article_id) FROM archive_fts f JOIN archive_search_meta m"
        " ON m.doc = f.rowid WHERE archive_fts MATCH ?",
        (word,),
    ).fetchone()
    return int(row[0])


def versions(db: sqlite3.Connection, word: str) -> int:
    """The indexed versions matching `word` (the replaced ones' entries are not versions)."""
    row = db.execute(
        "SELECT count(*) FROM archive_fts f JOIN archive_search_meta m"
        " ON m.doc = f.rowid WHERE archive_fts MATCH ?",
        (word,),
    ).fetchone()
    return int(row[0])


def check(cat: SqliteCatalog) -> None:
    search = sqlite_search.SqliteSearch(cat.db)
    for word in WORDS:
        want = reference(cat.db, word)
        for cap in (1, 2, 4, 10_000):
            # ONE_PASS 0: every search is counted from the docs, never while ranking
            with (
                mock.patch.object(sqlite_search, "COUNT_CAP", cap),
                mock.patch.object(sqlite_search, "ONE_PASS", 0),
            ):
                _, total, exact, _, of = search.rows(word, Filters(), 10, 0, exact_count=True)
            assert (total, exact) == ((want, True) if want <= cap else (cap, False)), (word, cap)
            assert of == "articles"
        # the cheap count past CHEAP_COUNT (0 here): the matching versions, exactly (the
        # replaced versions' entries left in the index subtracted), or more than the cap
        # when the matches outside the multi-version docs already are
        for cap in (1, 10_000):
            with (
                mock.patch.object(sqlite_search, "COUNT_CAP", cap),
                mock.patch.object(sqlite_search, "ONE_PASS", 0),
                mock.patch.object(sqlite_search, "CHEAP_COUNT", 0),
            ):
                _, total, exact, _, of = search.rows(word, Filters(), 10, 0)
            matched = versions(cat.db, word)
            if (total, exact, of) != (cap, False, "articles"):
                assert (
                    (total, exact, of) == (matched, True, "versions")
                    if matched
                    else (0, True, "articles")
                ), (word, cap)


def run_plan(
    cat: Catalog, plan: list[tuple[int, int, set[str], bool]], check: Callable[[], None]
) -> None:
    texts: dict[tuple[str, int], str] = {}
    for article, version, words, index_now in plan:
        put(cat, article, version)
        texts[(f"a{article}", version)] = " ".join(sorted(words)) or "filler"
        if index_now:
            index_waiting(cat, texts)
            check()
    index_waiting(cat, texts)
    check()


@settings(max_examples=60, deadline=None)
@given(steps)
def test_the_count_from_docs_equals_the_distinct_articles(
    plan: list[tuple[int, int, set[str], bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cat = SqliteCatalog(Path(tmp) / "catalog.sqlite", synchronous="OFF")
        try:
            run_plan(cat, plan, lambda: check(cat))
        finally:
            cat.close()


def pg_reference(url: str, word: str) -> int:
    """The articles with an indexed version matching `word`: the plain distinct count."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT article_id) FROM archive_search_meta"
            " WHERE doc @@ to_tsquery('simple', %s)",
            (word,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def pg_check(cat: PgCatalog, url: str) -> None:
    for word in WORDS:
        want = pg_reference(url, word)
        for cap in (1, 2, 4, 10_000):
            with mock.patch.object(pg_read, "COUNT_CAP", cap):
                _, total, exact, _, of = cat.search_rows(to_fts(word), Filters(), 10, 0)
            assert of == "articles"  # counted in the ranking statement: always the articles
            assert (total, exact) == ((want, True) if want <= cap else (cap, False)), (word, cap)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_the_count_from_docs_equals_the_distinct_articles_on_postgresql(
    pg_module_url: str, tmp_path: Path, plan: list[tuple[int, int, set[str], bool]]
) -> None:
    cat = PgCatalog(pg_module_url, root=tmp_path)
    try:
        with cat.writing():
            cat.clear_derived()
        run_plan(cat, plan, lambda: pg_check(cat, pg_module_url))
    finally:
        cat.close()


def test_the_multi_version_table_is_emptied_with_the_derived_tables() -> None:
    assert "archive_search_multi" in READ_DERIVED_TABLES
    assert "archive_search_multi" in DERIVED_TABLES


def test_a_schema_7_catalog_gets_its_multi_version_docs_from_the_index(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    cat = SqliteCatalog(path, synchronous="OFF")
    texts = {("a0", 1): "ferry", ("a0", 2): "ferry tide", ("a1", 1): "ferry", ("a2", 1): "tide"}
    for article, version in [(0, 1), (0, 2), (1, 1), (2, 1)]:
        put(cat, article, version)
    index_waiting(cat, texts)
    put(cat, 2, 1)  # replaced: its old entry stays in the index, of no article
    texts[("a2", 1)] = "gale"
    index_waiting(cat, texts)
    rows = cat.db.execute("SELECT doc, article_id FROM archive_search_multi ORDER BY doc")
    want = [tuple(r) for r in rows]
    assert [r[1] for r in want] == ["a0", "a0", None]
    cat.db.executescript(
        "DROP TABLE archive_search_multi; UPDATE archive_info SET value = '7' WHERE key = 'schema';"
    )
    cat.close()
    cat = SqliteCatalog(path, synchronous="OFF")
    try:
        got = cat.db.execute("SELECT doc, article_id FROM archive_search_multi ORDER BY doc")
        # schema 11 builds the full-text index again: the replaced entry is no longer in it
        assert [tuple(r) for r in got] == want[:2]
        index_waiting(cat, texts)
        check(cat)
    finally:
        cat.close()


def test_a_postgresql_catalog_before_migration_12_gets_its_multi_version_docs(
    tmp_path: Path, pg_url: str
) -> None:
    cat = PgCatalog(pg_url, root=tmp_path)
    texts = {("a0", 1): "ferry", ("a0", 2): "ferry tide", ("a1", 1): "ferry", ("a2", 1): "tide"}
    try:
        for article, version in [(0, 1), (0, 2), (1, 1), (2, 1)]:
            put(cat, article, version)
        index_waiting(cat, texts)
        put(cat, 2, 1)  # replaced: the same row indexed again, still one article's only
        texts[("a2", 1)] = "gale"
        index_waiting(cat, texts)
    finally:
        cat.close()
    before = max(v for v in MIGRATIONS if v < 12)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        want = conn.execute("SELECT * FROM archive_search_multi ORDER BY 1, 2").fetchall()
        assert want == [("a0", 1), ("a0", 2)]
        conn.execute("DROP TABLE archive_search_multi")
        # and migration 13's current-version flag, which the upgrade adds again
        conn.execute(
            "DROP INDEX archive_search_meta_current_section;"
            " ALTER TABLE archive_search_meta DROP COLUMN current;"
            " CREATE INDEX archive_search_meta_section"
            " ON archive_search_meta (section_key, day, fetched_at);"
            # and migration 15's column, which the upgrade adds again
            " ALTER TABLE frontier_urls DROP COLUMN leased_by"
        )
        conn.execute("UPDATE archive_info SET value = %s WHERE key = 'schema'", (str(before),))
    cat = PgCatalog(pg_url, root=tmp_path)
    try:
        with psycopg.connect(pg_url) as conn:
            got = conn.execute("SELECT * FROM archive_search_multi ORDER BY 1, 2").fetchall()
        assert got == want
        pg_check(cat, pg_url)
    finally:
        cat.close()


class _Interleaved(sqlite3.Connection):
    """A connection that runs `between` once, right after its statement counting the matches:
    another process indexing a version in the middle of a search's count."""

    between: Callable[[], None] | None = None

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        cursor = super().execute(sql, parameters)
        if self.between is not None and sql.startswith("SELECT count(*) FROM archive_fts "):
            between, self.between = self.between, None
            between()
        return cursor


def test_a_version_indexed_during_a_search_does_not_skew_its_count(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    texts = {("a0", 1): "ferry", ("a1", 1): "ferry", ("a0", 2): "ferry"}
    writer = SqliteCatalog(path, synchronous="OFF")
    db = sqlite3.connect(path, isolation_level=None, factory=_Interleaved)
    try:
        put(writer, 0, 1)
        put(writer, 1, 1)
        index_waiting(writer, texts)

        def second_version() -> None:  # a0's second version: both of its docs become multi
            put(writer, 0, 2)
            index_waiting(writer, texts)

        db.between = second_version
        with mock.patch.object(sqlite_search, "ONE_PASS", 0):  # counted from the docs
            search = sqlite_search.SqliteSearch(db)
            _, total, exact, *_ = search.rows("ferry", Filters(), 10, 0, exact_count=True)
        assert db.between is None  # it ran, mid-count
        assert (total, exact) == (2, True)  # a0 and a1, at either moment
    finally:
        db.close()
        writer.close()


def test_a_version_indexed_during_a_postgresql_listing_does_not_skew_its_count(
    tmp_path: Path, pg_url: str
) -> None:
    """A listing counts, then reads its page: an article indexed between the two statements
    was on the page and not in the count."""
    texts = {("a0", 1): "ferry", ("a1", 1): "ferry"}
    cat = PgCatalog(pg_url, root=tmp_path)
    writer = PgCatalog(pg_url, root=tmp_path)
    scalar = PgCatalog._scalar
    hooked: list[str] = []

    def counted_then_indexed(self: PgCatalog, sql: str, args: Any = ()) -> int:
        got = scalar(self, sql, args)
        if self is cat and not hooked:
            hooked.append(sql)
            put(writer, 1, 1)
            index_waiting(writer, texts)
        return got

    try:
        put(cat, 0, 1)
        index_waiting(cat, texts)
        with mock.patch.object(PgCatalog, "_scalar", counted_then_indexed):
            rows, total, exact = cat.list_rows(Filters(), 10, 0)
        assert hooked  # the write came between the count and the page
        assert ([r.article_id for r in rows], total, exact) == (["a0"], 1, True)
        assert cat.list_rows(Filters(), 10, 0)[1] == 2
    finally:
        writer.close()
        cat.close()


def test_a_schema_9_catalog_gets_the_index_of_replaced_entries(tmp_path: Path) -> None:
    """Schema 10: the replaced versions' entries of `archive_search_multi` in an index of
    their own, built when a schema 9 catalog is opened; the versions are counted with it."""
    path = tmp_path / "catalog.sqlite"
    cat = SqliteCatalog(path, synchronous="OFF")
    texts = {("a0", 1): "ferry", ("a0", 2): "ferry tide", ("a1", 1): "ferry"}
    for article, version in [(0, 1), (0, 2), (1, 1)]:
        put(cat, article, version)
    index_waiting(cat, texts)
    put(cat, 1, 1)  # replaced: its old entry stays in the index, of no article
    index_waiting(cat, texts)
    cat.db.executescript(
        "DROP INDEX archive_search_multi_replaced;"
        " UPDATE archive_info SET value = '9' WHERE key = 'schema';"
    )
    cat.close()
    cat = SqliteCatalog(path, synchronous="OFF")
    try:
        schema = cat.db.execute("SELECT value FROM archive_info").fetchone()[0]
        assert schema == str(CATALOG_SCHEMA_VERSION)
        indexes = {r[1] for r in cat.db.execute("PRAGMA index_list(archive_search_multi)")}
        assert "archive_search_multi_replaced" in indexes
        index_waiting(cat, texts)  # schema 11: the full-text index built again
        with (
            mock.patch.object(sqlite_search, "CHEAP_COUNT", 0),
            mock.patch.object(sqlite_search, "ONE_PASS", 0),
        ):
            _, total, exact, _, of = cat.search_rows("ferry", Filters(), 10, 0)
        assert (total, exact, of) == (3, True, "versions")  # a0 v1 and v2, a1 v1 (not twice)
        check(cat)
    finally:
        cat.close()
