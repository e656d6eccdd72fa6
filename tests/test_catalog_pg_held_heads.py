"""A batch's article heads, versions, touches, near-duplicate pairs and sources on PostgreSQL
are held back with its other rows (`test_catalog_pg_held_rows`): a store that sends nothing
sends no savepoint either, the batch's heads and versions go in one statement each, and the
rows left are those the writes one by one (outside a transaction, each sent at once) leave.
A store that did send something (a read between its writes) still rolls back to its own
savepoint, taken just before."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archive.backends.catalog import ArticleRow, VersionRow
from archive.backends.catalog_pg import PgCatalog
from tests.backend_support import count_statements

SEEN = "2026-01-01T00:00:0{}Z"


@pytest.fixture
def catalog(tmp_path: Path, pg_url: str) -> Iterator[PgCatalog]:
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The statements sent, by their first words (`executemany`: one per row)."""
    return count_statements(monkeypatch, each_row=True)


def head(n: int, version: int = 1, simhash: int = 0) -> ArticleRow:
    return ArticleRow(
        f"a{n}", "src", f"c{n}", version, f"headline {n}.{version}", None, f"d{n}.{version}",
        simhash or (n * 0x9E3779B97F4A7C15 + version) % 2**64,
    )  # fmt: skip


def version(n: int, v: int, seen: str) -> tuple[VersionRow, dict[str, Any]]:
    row = VersionRow(f"a{n}", v, "src", f"{n:064x}", seen)
    return row, {
        "digest": f"d{n}.{v}",
        "fingerprint": head(n, v).simhash,
        "headline": f"headline {n}.{v}",
        "body": "body",
        "modified": None,
        "parser": ("p", "1"),
    }


def page(catalog: PgCatalog, n: int, seen: str, *, fail: bool = False) -> None:
    """One page's store of a new article (or a new version of one), in a savepoint."""
    with catalog.writing():
        catalog.add_source("src", seen)
        catalog.add_url(f"k{n}", f"https://e.test/{n}", f"a{n}", seen)
        catalog.add_canonical(f"c{n}", f"a{n}")
        catalog.put_article(head(n), seen)
        row, rest = version(n, 1, seen)
        catalog.put_version(row, **rest)
        if fail:
            raise RuntimeError("the record could not be written")


def test_a_batch_of_stores_sends_no_savepoint_and_one_statement_per_table(
    catalog: PgCatalog, statements: Counter[str]
) -> None:
    with catalog.writing(keys=["k"]):
        for n in range(10):
            page(catalog, n, SEEN.format(1))
            catalog.touch(f"a{n}", SEEN.format(2))
            catalog.add_near_duplicate(f"a{n}", "a0", 3, SEEN.format(1))
            # a link that is a duplicate's, then the real article's
            catalog.add_url(f"x{n}", f"https://e.test/x{n}", "a0", SEEN.format(1), True)
            catalog.add_url(f"x{n}", f"https://e.test/x{n}", f"a{n}", SEEN.format(2))
    assert statements["SAVEPOINT morgue_sp1"] == 0, statements
    assert statements["RELEASE SAVEPOINT morgue_sp1"] == 0, statements
    assert statements["WITH head AS"] == 1, statements  # the heads (and their bands)
    assert statements["WITH v AS"] == 1, statements  # the versions (and their queuing)
    for table in ("archive_urls", "archive_sources", "archive_near_duplicates"):
        assert statements[f"INSERT INTO {table}"] == 1, statements
    assert catalog.count_articles() == 10
    assert catalog.article_at_url("x7") == "a7"
    assert [v.version for v in catalog.versions("a3")] == [1]


def dump(catalog: PgCatalog) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "archive_articles": "id",
        "archive_versions": "article_id, version",
        "archive_urls": "key",
        "archive_simhash_bands": "article_id, band",
        "archive_near_duplicates": "article_id, other_id",
        "archive_sources": "name",
        "archive_search_pending": "seq",
    }
    return {
        table: catalog._rows(
            f"SELECT * FROM {table} ORDER BY {order}"
            if table != "archive_search_pending"
            else f"SELECT article_id, version FROM {table} ORDER BY {order}"
        )
        for table, order in tables.items()
    }


def writes(catalog: PgCatalog) -> None:
    """Writes whose rules see the rows before them: an article put twice (its first_seen and
    source kept, the rest the last's), touched before and after, a version written twice,
    a URL first a duplicate's link, a near pair found twice, an existing article touched."""
    catalog.put_article(head(1), SEEN.format(1))
    catalog.touch("a1", SEEN.format(5))  # replaced by the next head's last_seen
    catalog.put_article(
        ArticleRow("a1", "other", "c9", 2, "h", "m", "d", head(1, 2).simhash), SEEN.format(3)
    )
    catalog.touch("a1", SEEN.format(2))  # older: GREATEST keeps 3
    catalog.touch("a1", SEEN.format(4))
    catalog.touch("a2", SEEN.format(3))
    catalog.touch("a2", SEEN.format(1))
    for seen, v in ((1, 1), (2, 2), (3, 2)):
        row, rest = version(1, v, SEEN.format(seen))
        catalog.put_version(row, **rest)
    catalog.add_url("k", "https://e.test/dup", "a2", SEEN.format(1), True)
    catalog.add_url("k", "https://e.test/dup2", "a3", SEEN.format(2), True)
    catalog.add_url("k", "https://e.test/real", "a1", SEEN.format(3))
    catalog.add_url("k", "https://e.test/later", "a4", SEEN.format(4))
    catalog.add_url("j", "https://e.test/j", "a2", SEEN.format(1))
    catalog.add_url("j", "https://e.test/j2", "a3", SEEN.format(2), True)
    catalog.add_near_duplicate("a2", "a1", 4, SEEN.format(2))
    catalog.add_near_duplicate("a1", "a2", 2, SEEN.format(3))
    catalog.add_source("src", SEEN.format(2))
    catalog.add_source("src", SEEN.format(1))


@pytest.mark.parametrize("existing", [False, True])
def test_held_heads_leave_what_the_writes_one_by_one_leave(
    catalog: PgCatalog, existing: bool
) -> None:
    def before() -> None:
        if existing:  # rows in place before: an article 2 to touch, a duplicate link
            catalog.put_article(head(2), SEEN.format(2))
            catalog.add_url("k", "https://e.test/old", "a5", SEEN.format(0), True)
            catalog.add_url("j", "https://e.test/old", "a5", SEEN.format(0), True)

    def fresh() -> None:
        with catalog.writing():
            catalog.clear_derived()

    before()
    writes(catalog)  # outside a transaction: each sent at once
    one_by_one = dump(catalog)
    fresh()
    before()
    with catalog.writing(keys=["k"]), catalog.writing():
        writes(catalog)
    assert dump(catalog) == one_by_one


def store_that_reads(catalog: PgCatalog, n: int) -> None:
    """A store that reads between its writes (its held rows sent first), then fails."""
    with catalog.writing():
        catalog.put_article(head(n), SEEN.format(1))
        assert catalog.article(f"a{n}") is not None
        catalog.add_url(f"k{n}", f"https://e.test/{n}", f"a{n}", SEEN.format(1))
        raise RuntimeError("the parse went wrong")


def test_a_store_that_sent_rows_rolls_back_to_its_savepoint(
    catalog: PgCatalog, statements: Counter[str]
) -> None:
    with catalog.writing(keys=["k"]):
        page(catalog, 1, SEEN.format(1))
        with pytest.raises(RuntimeError):
            store_that_reads(catalog, 2)
        page(catalog, 3, SEEN.format(1))
        with pytest.raises(RuntimeError):
            page(catalog, 4, SEEN.format(1), fail=True)  # sent nothing
    assert statements["SAVEPOINT morgue_sp1"] == 1, statements
    assert statements["ROLLBACK TO SAVEPOINT"] == 1, statements
    assert catalog.article("a2") is None
    assert catalog.article("a4") is None
    assert catalog.article_at_url("k2") is None
    assert catalog.article_at_url("k4") is None
    assert {a for a in ("a1", "a3") if catalog.article(a)} == {"a1", "a3"}
    assert catalog.article_at_url("k1") == "a1"
    assert [v.article_id for v in catalog.iter_versions(None, None)] == ["a1", "a3"]


def test_a_nested_store_that_sends_rows_sends_its_outer_savepoint_first(
    catalog: PgCatalog, statements: Counter[str]
) -> None:
    # a page, whose nested store reads (sp1, sp2, its rows)
    with catalog.writing(keys=["k"]), catalog.writing():
        catalog.put_article(head(1), SEEN.format(1))
        with pytest.raises(RuntimeError):
            store_that_reads(catalog, 2)
        assert catalog.article("a1") is not None
        assert catalog.article("a2") is None
    assert statements["SAVEPOINT morgue_sp1"] == 1, statements
    assert statements["SAVEPOINT morgue_sp2"] == 1, statements
    assert catalog.article("a1") is not None
    assert catalog.article("a2") is None
