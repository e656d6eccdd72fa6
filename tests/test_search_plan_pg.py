"""How PostgreSQL plans a search after a bulk index (catalog_pg_read.search_index_grown,
migration 14): a rare word is found through the GIN index, not a scan that reads every row's
tsvector back from TOAST.

A catalog filled in bulk has every new GIN entry in the index's pending list and no
statistics (the server's autovacuum may be off, and lags a bulk load when on): the planner
then prices the index as if it had to be read whole and picks the scan. The tests read the
plan PostgreSQL makes for the very statement a search sends (EXPLAIN, no timing).
"""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from archive.backends.catalog import Filters, PendingDoc, SearchDoc
from archive.backends.catalog_pg import PgCatalog
from archive.backends.storage import Storage
from archive.errors import StorageError
from archive.ftsquery import to_fts
from archive.query import ArchiveReader
from archive.store import Archive
from tests.read_support import content, store

DOCS = 2000  # enough rows that reading them all costs more than the index, by any estimate
RARE = "zanzibar"  # in one document in a thousand
# in every other document, and in nine in ten: the planner's estimate (from ANALYZE) says
# about half the rows or more, where it priced a scan of every row below the index
COMMON = {"halfword": 2, "mostword": 10}


def _bulk_index(catalog: PgCatalog, docs: int, first: int = 0, batch: int = 500) -> None:
    """`docs` versions indexed as `ArchiveReader.refresh` indexes them (batches of 500, one
    transaction each), each a few hundred words long (its tsvector stored out of line)."""
    rng = random.Random(7 + first)
    vocab = [f"w{i}x" for i in range(3000)]
    for start in range(first, first + docs, batch):
        with catalog.writing():
            for i in range(start, min(first + docs, start + batch)):
                body = " ".join(rng.choices(vocab, k=300))
                if i % 1000 == 7:
                    body += " " + RARE
                if i % 2:
                    body += " halfword"
                if i % 10:
                    body += " mostword"
                day = f"2025-{1 + i % 12:02d}-01"
                catalog.index_doc(
                    PendingDoc(i, f"a{i}", 1, f"s{i % 4}", day + "T00:00:00"),
                    SearchDoc(f"Story {i}", "", body, "", "", day, day, None, "", f"u{i}"),
                )


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child)


def _plan(catalog: PgCatalog, word: str, filters: Filters, *, bare: bool = False) -> dict[str, Any]:
    """The plan PostgreSQL makes for the statement a search of `word` sends, explained as
    it is sent: on the same connection, in the same transaction and settings; `bare`: on
    a connection of its own, with the server's settings (what the estimates alone make)."""
    plans: list[dict[str, Any]] = []
    rows = catalog._rows

    def recording(sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
        if bare:
            with psycopg.connect(catalog.url) as conn:
                row = conn.execute("EXPLAIN (FORMAT JSON) " + sql, args).fetchone()
                assert row is not None
                plans.append(row[0][0]["Plan"])
        else:
            plans.append(rows("EXPLAIN (FORMAT JSON) " + sql, args)[0][0][0]["Plan"])
        return rows(sql, args)

    catalog._rows = recording  # type: ignore[method-assign]
    try:
        hits, total, *_ = catalog.search_rows(to_fts(word), filters, 20, 0)
    finally:
        del catalog._rows
    assert len(hits) == min(total, 20) > 0
    return plans[-1]


def _match_nodes(
    catalog: PgCatalog, filters: Filters, word: str = RARE, *, bare: bool = False
) -> list[tuple[str, str | None]]:
    """The plan nodes that test a tsvector against the query, for the statement a search of
    `word` sends: (node type, index)."""
    found = []
    for node in _nodes(_plan(catalog, word, filters, bare=bare)):
        cond = node.get("Index Cond", "") + node.get("Filter", "")
        if "@@" in cond:
            found.append((node["Node Type"], node.get("Index Name")))
    return found


FILTERS = [
    Filters(),
    Filters(source="s3"),
    Filters(since="2025-03-01", until="2025-09-30"),
]


@pytest.fixture
def catalog(tmp_path: Path, pg_url: str) -> Iterator[PgCatalog]:
    cat = PgCatalog(pg_url, root=tmp_path)
    try:
        yield cat
    finally:
        cat.close()


@pytest.mark.parametrize("filters", FILTERS, ids=["unfiltered", "source", "dates"])
def test_after_a_bulk_index_a_rare_word_is_found_through_the_gin_index(
    catalog: PgCatalog, filters: Filters
) -> None:
    _bulk_index(catalog, DOCS)
    catalog.search_index_grown(DOCS)
    assert _match_nodes(catalog, filters) == [("Bitmap Index Scan", "archive_search_meta_doc")]


@pytest.mark.parametrize("word", COMMON)
def test_a_word_in_half_the_rows_or_more_is_found_through_the_gin_index(
    catalog: PgCatalog, word: str
) -> None:
    """The scan reads every row's tsvector back from TOAST to test it, and each match's
    again to rank it; through the index only the matches', once. The planner, which
    counts neither, priced the scan below the index for these words."""
    _bulk_index(catalog, DOCS)
    catalog.search_index_grown(DOCS)
    assert _match_nodes(catalog, Filters(), word) == [
        ("Bitmap Index Scan", "archive_search_meta_doc")
    ]


@pytest.mark.parametrize("filters", FILTERS[1:], ids=["source", "dates"])
@pytest.mark.parametrize("word", [RARE, *COMMON])
def test_a_filtered_search_scans_no_table_and_keeps_its_filters_index(
    catalog: PgCatalog, filters: Filters, word: str
) -> None:
    """A filter's own index (source, day) may still find the rows to test, rather than
    the GIN index: the setting that keeps the scan out leaves that choice to the planner.
    Whichever it is, no node reads the whole table."""
    _bulk_index(catalog, DOCS)
    catalog.search_index_grown(DOCS)
    scans = [n for n in _nodes(_plan(catalog, word, filters)) if "Relation Name" in n]
    assert scans
    assert all(n["Node Type"] != "Seq Scan" for n in scans), scans
    # the words are tested through the GIN index or under an index on the filters
    indexes = {n.get("Index Name") for n in scans} - {None}
    assert indexes <= {
        "archive_search_meta_doc",
        "archive_search_meta_source",
        "archive_search_meta_day",
        "archive_search_meta_pkey",
    }, indexes


def _seqscan(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("SHOW enable_seqscan").fetchone()
    assert row is not None
    return str(row[0])


def test_a_search_leaves_the_connection_as_it_found_it(tmp_path: Path, pg_url: str) -> None:
    """`enable_seqscan` is off for the search's statement alone: not for what its pool
    connection runs next (a listing, a write), after a search that failed either, nor for
    the rest of a caller's transaction it ran in."""
    pool: ConnectionPool = ConnectionPool(
        pg_url, min_size=1, max_size=1, kwargs={"autocommit": True}, open=True
    )
    catalog = PgCatalog(pg_url, root=tmp_path, pool=pool)
    try:
        _bulk_index(catalog, 20)
        catalog.search_rows(to_fts("mostword"), Filters(), 20, 0)
        with pool.connection() as conn:
            assert _seqscan(conn) == "on"
        with pytest.raises(StorageError), catalog.without_seq_scan():  # a refused statement
            catalog._rows("SELECT to_tsquery('simple', '&')")
        with pool.connection() as conn:
            assert _seqscan(conn) == "on"
        with catalog.reading():
            assert catalog.search_rows(to_fts("mostword"), Filters(), 20, 0)[1] > 0
            assert catalog._rows("SHOW enable_seqscan") == [("on",)]
        with catalog.writing():
            page = catalog.search_rows(to_fts("mostword"), Filters(source="s1"), 20, 0)
            assert page[1] > 0
            assert catalog._rows("SHOW enable_seqscan") == [("on",)]
    finally:
        catalog.close()
        pool.close()


def test_a_crawl_indexed_little_by_little_keeps_the_plan(catalog: PgCatalog) -> None:
    """New entries wait in the index's pending list, which every search scans and the
    planner prices: ten pages of it turned this search into the scan. Each refresh merges
    it; the plan is read after each."""
    _bulk_index(catalog, DOCS)
    catalog.search_index_grown(DOCS)
    for first in range(DOCS, DOCS + 50, 5):  # refreshes of five new versions each
        _bulk_index(catalog, 5, first=first, batch=5)
        catalog.search_index_grown(5)
        assert _match_nodes(catalog, Filters()) == [
            ("Bitmap Index Scan", "archive_search_meta_doc")
        ]


def test_migration_14_settles_a_catalog_indexed_in_bulk(tmp_path: Path, pg_url: str) -> None:
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        _bulk_index(catalog, DOCS)  # as an upgrade's first read leaves it, at schema 13
        # the estimates alone: a search's statement no longer follows them to a scan, but
        # a filtered one still weighs them (`PgCatalog.without_seq_scan`)
        before = _match_nodes(catalog, Filters(), bare=True)
    finally:
        catalog.close()
    # what this test is for: unsettled, the planner would scan every row
    assert ("Seq Scan", None) in before
    with psycopg.connect(pg_url, autocommit=True) as conn:
        # (and migration 15's column, which the upgrade adds again)
        conn.execute("ALTER TABLE frontier_urls DROP COLUMN leased_by")
        conn.execute("UPDATE archive_info SET value = '13' WHERE key = 'schema'")
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        assert _match_nodes(catalog, Filters(), bare=True) == [
            ("Bitmap Index Scan", "archive_search_meta_doc")
        ]
    finally:
        catalog.close()


def test_a_refresh_that_indexes_many_versions_renews_the_statistics(
    tmp_path: Path, pg_url: str
) -> None:
    root = tmp_path / "data"
    storage = Storage(catalog=pg_url)
    with Archive.open(root, storage=storage) as arch:
        for i in range(60):  # past autovacuum's threshold of 50 rows on an empty table
            page = content(f"Story {i}", [f"Paragraph {i} of the story."])
            store(arch, f"http://news.example/{i}", page, at_hours=i)
    with ArchiveReader(Archive.open(root, storage=storage)) as reader:
        assert reader.refresh() == 60
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = 'archive_search_meta'::regclass"
        ).fetchone()
    assert row == (60.0,)  # ANALYZE counted them (an index build on the empty table said 0)


@pytest.fixture
def reader_role(pg_url: str) -> Iterator[str]:
    """The URL of `pg_url`'s database for a role that reads and writes its tables but owns
    none (the migrations ran as another role): it cannot merge the search index's pending
    list (`gin_clean_pending_list` takes the index's owner)."""
    role = f"morgue_reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    try:
        yield pg_url.replace("postgres@", f"{role}@", 1)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")  # its grants, so the role can go
            conn.execute(f"DROP ROLE {role}")


def test_a_role_that_does_not_own_the_index_refreshes_and_says_so_once(
    tmp_path: Path, pg_url: str, reader_role: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "data"
    with Archive.open(root, storage=Storage(catalog=pg_url)) as arch:  # migrated as the owner
        store(arch, "http://news.example/0", content("Story 0", ["First story."]), at_hours=0)
    role = reader_role.split("//", 1)[1].split("@", 1)[0]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    storage = Storage(catalog=reader_role)
    with ArchiveReader(Archive.open(root, storage=storage)) as reader:
        catalog = reader.catalog
        assert isinstance(catalog, PgCatalog)
        sent: list[str] = []
        execute = catalog._exec

        def recording(sql: str, args: Any = ()) -> None:
            sent.append(sql)
            execute(sql, args)

        catalog._exec = recording  # type: ignore[method-assign]
        with caplog.at_level(logging.WARNING):
            assert reader.refresh() == 1
            for i in (1, 2):  # a crawl stores more; the next searches index them
                page = content(f"Story {i}", [f"Story number {i}."])
                store(reader.archive, f"http://news.example/{i}", page, at_hours=i)
                assert reader.refresh() == 1
        assert reader.search("story").total == 3
    # the merge is left to autovacuum after the first refusal: one warning, not one a refresh
    assert sum("gin_clean_pending_list" in sql for sql in sent) == 1
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "left to autovacuum" in warnings[0].getMessage()


def test_a_refresh_does_not_wait_for_another_analyze_of_the_search_tables(
    catalog: PgCatalog,
) -> None:
    """Page workers that refresh at once, or autovacuum, analyze the tables too: a refresh
    (inside a reader's search) skips a table another is analyzing, where it waited for it."""
    _bulk_index(catalog, 60)  # past the threshold: a refresh analyzes
    with psycopg.connect(catalog.url) as other:  # a transaction: the lock is held till its end
        other.execute("LOCK TABLE archive_search_meta IN SHARE UPDATE EXCLUSIVE MODE")
        done = threading.Event()

        def refresh_settles() -> None:
            catalog.search_index_grown(60)
            done.set()

        settling = threading.Thread(target=refresh_settles)
        settling.start()
        try:
            assert done.wait(5)
        finally:
            other.rollback()
            settling.join()
