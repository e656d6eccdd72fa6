"""The current-version flag of the search metadata (SQLite schema 9, PostgreSQL migration 13):
a listing reads the versions flagged current instead of joining each version to its article.
Over random catalogs (heads moved forward and back, versions replaced and indexed again, some
waiting to be indexed) the flagged versions are exactly those the join finds, on each backend;
and a catalog from before the flag gets it in place, listing the same articles."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg
from hypothesis import HealthCheck, given, settings

from archive.backends.catalog import Catalog, Filters, SearchDoc
from archive.backends.catalog_pg import PgCatalog
from archive.backends.catalog_pg_schema import MIGRATIONS
from archive.backends.catalog_schema import CATALOG_SCHEMA_VERSION
from archive.backends.catalog_sqlite import SqliteCatalog
from tests.test_search_count import put, steps

JOIN = (
    "SELECT m.article_id, m.version FROM archive_search_meta m JOIN archive_articles a"
    " ON a.id = m.article_id AND a.current_version = m.version"
)
SECTIONS = ("sport", "business", None)


def index_waiting(cat: Catalog) -> None:
    """Index what waits, each version in a section and a source of its own choosing."""
    with cat.writing():
        for pending in cat.pending_docs(1000):
            section = SECTIONS[(int(pending.article_id[1:]) + pending.version) % 3]
            doc = SearchDoc(
                "h", "", "b", "", "", f"2026-01-0{pending.version}", None, section, "", "u"
            )
            cat.index_doc(pending, doc)


def listed(cat: Catalog) -> dict[str | None, tuple[list[tuple[str, int]], int]]:
    out: dict[str | None, tuple[list[tuple[str, int]], int]] = {}
    for section in SECTIONS:
        rows, total, _ = cat.list_rows(Filters(section=section), 100, 0)
        out[section] = (sorted((r.article_id, r.version) for r in rows), total)
    return out


def reference(
    rows: list[tuple[str, int]], sections: dict[tuple[str, int], str | None]
) -> dict[str | None, tuple[list[tuple[str, int]], int]]:
    out = {}
    for section in SECTIONS:
        want = sorted(r for r in rows if section is None or sections[r] == section)
        out[section] = (want, len(want))
    return out


def sections_of(rows: list[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    return {(a, v): SECTIONS[(int(a[1:]) + v) % 3] for a, v in rows}


def run(
    cat: Catalog, plan: list[tuple[int, int, set[str], bool]], check: Callable[[], None]
) -> None:
    for article, version, _, index_now in plan:
        put(cat, article, version)  # the head moves to `version`, forward or back
        if index_now:
            index_waiting(cat)
            check()
    index_waiting(cat)
    check()


def sqlite_check(cat: SqliteCatalog) -> None:
    joined = sorted(tuple(r) for r in cat.db.execute(JOIN))
    flagged = cat.db.execute(
        "SELECT article_id, version FROM archive_search_meta WHERE current = 1"
    ).fetchall()
    assert sorted(tuple(r) for r in flagged) == joined
    assert listed(cat) == reference(joined, sections_of(joined))


@settings(max_examples=50, deadline=None)
@given(steps)
def test_the_current_flag_is_the_join_on_sqlite(
    plan: list[tuple[int, int, set[str], bool]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cat = SqliteCatalog(Path(tmp) / "catalog.sqlite", synchronous="OFF")
        try:
            run(cat, plan, lambda: sqlite_check(cat))
        finally:
            cat.close()


def pg_check(cat: PgCatalog, url: str) -> None:
    with psycopg.connect(url) as conn:
        joined = sorted(conn.execute(JOIN).fetchall())
        flagged = conn.execute(
            "SELECT article_id, version FROM archive_search_meta WHERE current"
        ).fetchall()
    assert sorted(flagged) == joined
    assert listed(cat) == reference(joined, sections_of(joined))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps)
def test_the_current_flag_is_the_join_on_postgresql(
    pg_module_url: str, tmp_path: Path, plan: list[tuple[int, int, set[str], bool]]
) -> None:
    cat = PgCatalog(pg_module_url, root=tmp_path)
    try:
        with cat.writing():
            cat.clear_derived()
        run(cat, plan, lambda: pg_check(cat, pg_module_url))
    finally:
        cat.close()


# a catalog with articles of one and two versions, one whose head moved on before its new
# version was indexed (its old version is listed by neither the join nor the flag)
PLAN: list[tuple[int, int, set[str], bool]] = [
    (0, 1, set(), True),
    (0, 2, set(), True),
    (1, 1, set(), True),
    (2, 1, set(), True),
    (4, 2, set(), True),
    (4, 1, set(), True),  # a head moved back
    (3, 1, set(), True),
    (3, 2, set(), False),  # left waiting
]


def _build(cat: Catalog) -> None:
    for article, version, _, index_now in PLAN:
        put(cat, article, version)
        if index_now:
            index_waiting(cat)


def test_a_schema_8_sqlite_catalog_gets_the_flag_in_place(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    cat = SqliteCatalog(path, synchronous="OFF")
    _build(cat)
    before = listed(cat)
    assert cat.pending_docs(10) != []  # article 3's second version waits
    cat.close()
    db = sqlite3.connect(path)
    db.executescript(  # schema 8: no flag, the section index of schema 7
        "DROP INDEX archive_search_meta_current_section;"
        " ALTER TABLE archive_search_meta DROP COLUMN current;"
        " CREATE INDEX archive_search_meta_section"
        " ON archive_search_meta (section_key, day, fetched_at, article_id, version);"
        " UPDATE archive_info SET value = '8' WHERE key = 'schema';"
    )
    docs = db.execute("SELECT count(*) FROM archive_fts_docs WHERE indexed = 1").fetchone()
    db.close()
    cat = SqliteCatalog(path, synchronous="OFF")
    try:
        schema = cat.db.execute("SELECT value FROM archive_info").fetchone()[0]
        assert schema == str(CATALOG_SCHEMA_VERSION)
        indexes = {r[1] for r in cat.db.execute("PRAGMA index_list(archive_search_meta)")}
        assert "archive_search_meta_section" not in indexes
        assert "archive_search_meta_current_section" in indexes
        # the metadata kept (listings read it), every version queued to be indexed again
        # by schema 11 (the full-text index gained its facets)
        assert docs[0] > 0
        assert cat._scalar("SELECT count(*) FROM archive_fts_docs WHERE indexed = 1") == 0
        assert listed(cat) == before
        sqlite_check(cat)
        index_waiting(cat)  # and it goes on: the waiting version indexed, the flag kept
        sqlite_check(cat)
    finally:
        cat.close()


def test_a_postgresql_catalog_before_migration_13_gets_the_flag_in_place(
    tmp_path: Path, pg_url: str
) -> None:
    cat = PgCatalog(pg_url, root=tmp_path)
    try:
        _build(cat)
        before = listed(cat)
    finally:
        cat.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "DROP INDEX archive_search_meta_current_section;"
            " ALTER TABLE archive_search_meta DROP COLUMN current;"
            " CREATE INDEX archive_search_meta_section"
            " ON archive_search_meta (section_key, day, fetched_at);"
            # and migration 15's column, which the upgrade adds again
            " ALTER TABLE frontier_urls DROP COLUMN leased_by"
        )
        previous = max(v for v in MIGRATIONS if v < 13)
        conn.execute("UPDATE archive_info SET value = %s WHERE key = 'schema'", (str(previous),))
    cat = PgCatalog(pg_url, root=tmp_path)
    try:
        with psycopg.connect(pg_url) as conn:
            indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes")}
        assert "archive_search_meta_section" not in indexes
        assert "archive_search_meta_current_section" in indexes
        assert [p.article_id for p in cat.pending_docs(10)] == ["a3"]  # nothing queued again
        assert listed(cat) == before
        pg_check(cat, pg_url)
        index_waiting(cat)
        pg_check(cat, pg_url)
    finally:
        cat.close()
