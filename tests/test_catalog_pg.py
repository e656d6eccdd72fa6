"""The PostgreSQL catalog itself: migrations, and many writers at once deduplicating right."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.catalog_pg_schema import MIGRATIONS, SCHEMA_VERSION
from archive.backends.storage import Storage
from archive.errors import StorageError
from archive.maintenance.verify import verify
from archive.store import Archive
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse


def test_an_older_schema_is_migrated_and_a_newer_one_refused(tmp_path: Path, pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(MIGRATIONS[1])  # a database made by the first released schema
        conn.execute("INSERT INTO archive_info VALUES ('schema', '1')")
    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        assert catalog.has_table("cluster_hosts")
        # the per-request leases' slots (migration 1) went with migration 10
        assert not catalog.has_table("cluster_host_slots")
        assert catalog.integrity_problem() is None
    finally:
        catalog.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        version = conn.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()
        assert version == (str(SCHEMA_VERSION),)
        conn.execute("UPDATE archive_info SET value = %s", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(StorageError, match="newer than this morgue"):
        PgCatalog(pg_url, root=tmp_path)


def test_an_unreachable_catalog_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot reach the catalog"):
        Archive.open(tmp_path, storage=Storage(catalog="postgresql://nobody@127.0.0.1:9/none"))


def _store_all(root: Path, url: str, order: list[int], variant: int) -> None:
    with Archive.open(root, storage=Storage(catalog=url)) as arch:  # each writer its own pool
        for i in order:
            canon = f"https://news.example/2024/story-{i}"
            page = make_page(
                f"{canon}?utm_source=w{variant}",
                article_html(f"Story {i}", paragraphs(i), canonical=canon),
                at=T0 + timedelta(seconds=variant),
            )
            arch.store(page, tiny_parse(page, "ex"), source="ex")


def test_writers_storing_the_same_pages_at_once_make_each_article_once(
    tmp_path: Path, pg_url: str
) -> None:
    pages = list(range(25))
    threads = [
        threading.Thread(target=_store_all, args=(tmp_path, pg_url, pages[n:] + pages[:n], n))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    with Archive.open(tmp_path, storage=Storage(catalog=pg_url)) as arch:
        assert arch.catalog.count_articles() == 25
        assert all(len(arch.versions(a.id)) == 1 for a in arch.iter_articles())
        report = verify(arch)
        assert report.ok, report.problems


def test_a_schema_7_catalog_gets_the_listing_indexes(tmp_path: Path, pg_url: str) -> None:
    """Migration 8 fills the author index from the search metadata already there."""
    from archive.query import ArchiveReader
    from tests.read_support import content, store

    root = tmp_path / "data"
    storage = Storage(catalog=pg_url)
    with Archive.open(root, storage=storage) as arch:
        strike = content("Port strike", ["Text."], authors=("Jane Roe",), section="Business")
        strike_id = store(arch, "http://news.example/strike", strike, at_hours=0)
        strike2 = content("Port strike ends", ["Text."], authors=("Jane Roe",), section="Business")
        store(arch, "http://news.example/strike", strike2, at_hours=1)
        council = content("Council", ["Met."], authors=("Anna Müller", "Jane Roe"))
        council_id = store(arch, "http://news.example/council", council, at_hours=2)
    with ArchiveReader(Archive.open(root, storage=storage)) as reader:
        reader.refresh()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            "DROP TABLE archive_search_authors; DROP TABLE archive_author_names;"
            # and migrations 12 and 13 (the multi-version docs, the current-version flag)
            " DROP TABLE archive_search_multi; DROP INDEX archive_search_meta_current_section;"
            " ALTER TABLE archive_search_meta DROP COLUMN current;"
            # and migration 9's sticky-host columns (their indexes go with them)
            " ALTER TABLE cluster_hosts DROP COLUMN holder, DROP COLUMN holder_expires;"
            " ALTER TABLE frontier_urls DROP COLUMN host;"
            # and migration 11's live crawlers
            " DROP TABLE cluster_workers;"
            # and migration 15's lease holder of a URL
            " ALTER TABLE frontier_urls DROP COLUMN leased_by;"
            " UPDATE archive_info SET value = '7' WHERE key = 'schema'"
        )
    with ArchiveReader(Archive.open(root, storage=storage)) as reader:
        assert reader.catalog.pending_docs(10) == []  # nothing to index again
        assert [h.id for h in reader.listing(author="muller").hits] == [council_id]
        assert {h.id for h in reader.listing(author="roe").hits} == {strike_id, council_id}
        assert [h.id for h in reader.listing(section="business").hits] == [strike_id]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        names = conn.execute("SELECT author_key FROM archive_author_names ORDER BY 1").fetchall()
        assert names == [("anna muller",), ("jane roe",)]
        # two versions of the strike, one name each; the council's two names
        assert conn.execute("SELECT count(*) FROM archive_search_authors").fetchone() == (4,)
        schema = conn.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()
        assert schema == (str(SCHEMA_VERSION),)


def test_a_batch_of_new_articles_takes_a_few_statements_in_all(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cluster worker's stores: each statement costs the worker psycopg's work and the
    database its own, so a batch's rows go in few of them, however many pages: its locks,
    its look-ups read ahead, and one statement per table written (16 and two savepoints per
    page once; then a savepoint, the head and the version per page, and a URL row each)."""
    from scraper.pipeline import PageJob, ingest_many

    pages = [
        make_page(
            f"https://news{i % 3}.example/2024/story-{i}",
            article_html(f"Story number {i}", paragraphs(i)),
            at=T0,
        )
        for i in range(17)
    ]
    sent: list[str] = []
    execute = psycopg.Cursor.execute
    executemany = psycopg.Cursor.executemany

    def counted(self: psycopg.Cursor[object], query: object, *args: object, **kw: object) -> object:
        sent.append(str(query))
        return execute(self, query, *args, **kw)  # type: ignore[call-overload]

    def counted_many(self: psycopg.Cursor[object], query: object, rows: Any, **kw: Any) -> None:
        rows = list(rows)
        sent.extend([str(query)] * len(rows))  # one statement per row
        executemany(self, query, rows, **kw)  # type: ignore[arg-type]

    with Archive.open(tmp_path, storage=Storage(catalog=pg_url)) as arch:
        assert not isinstance(ingest_many([PageJob(pages[0], "ex")], archive=arch)[0], Exception)
        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        monkeypatch.setattr(psycopg.Cursor, "executemany", counted_many)
        results = ingest_many([PageJob(page, "ex") for page in pages[1:]], archive=arch)
        monkeypatch.undo()
        assert not [r for r in results if isinstance(r, Exception)]
        assert arch.catalog.count_articles() == 17
        report = verify(arch)
        assert report.ok, report.problems
    assert not [q for q in sent if "SAVEPOINT" in q], sorted(sent)
    assert len(sent) <= 20, sorted(sent)
