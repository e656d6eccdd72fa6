"""A batch's blind writes on PostgreSQL (raw, fetch, URL, canonical, reference and file rows)
are held back and sent as one statement per table at the next read or at the commit, not one
per store; a store rolled back drops the rows it held and keeps those held before it; the
rows read back as one at a time would have left them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.backends.catalog import FetchRow
from archive.backends.catalog_pg import PgCatalog
from tests.backend_support import count_statements

SITE = "e.test"
SEEN = "2026-01-01T00:00:00Z"


@pytest.fixture
def catalog(tmp_path: Path, pg_url: str) -> Iterator[PgCatalog]:
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


def sha(n: int) -> str:
    return f"{n:064x}"


def fetch(n: int, outcome: str = "new") -> FetchRow:
    return FetchRow(
        f"f{n}", f"https://e.test/{n}", f"k{n}", f"https://e.test/{n}", 200, None, None,
        SEEN, sha(n), 10, "src", f"a{n}", outcome, None,
    )  # fmt: skip


def store(catalog: PgCatalog, n: int, *, fail: bool = False) -> None:
    """One page's rows, in a savepoint of the batch (as `Archive.store`)."""
    with catalog.writing():
        catalog.add_raw(sha(n), 10, 8, "src", SEEN)
        catalog.add_reference(SITE, sha(n), SEEN)
        catalog.add_fetch(fetch(n))
        catalog.add_url(f"k{n}", f"https://e.test/{n}", f"a{n}", SEEN)
        catalog.add_canonical(f"c{n}", f"a{n}")
        if fail:
            raise RuntimeError("the parse went wrong")


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The statements sent, by their first words."""
    return count_statements(monkeypatch, each_row=False)


def test_a_batch_sends_each_tables_rows_in_one_statement(
    catalog: PgCatalog, statements: Counter[str]
) -> None:
    with catalog.writing(keys=["k"]):
        for n in range(10):
            store(catalog, n)
    for table in ("archive_raw", "archive_fetches", "archive_urls", "archive_canonical"):
        assert statements[f"INSERT INTO {table}"] == 1, statements
    assert statements["INSERT INTO archive_references"] == 1, statements
    assert catalog.article_at_url("k3") == "a3"
    assert catalog.article_by_canonical("c9") == "a9"
    assert len(catalog.raw_shas()) == 10
    assert catalog.references(SITE, 100) == [sha(n) for n in range(9, 1, -1)]  # the newest 8


def test_a_store_rolled_back_drops_its_held_rows_and_keeps_the_earlier_ones(
    catalog: PgCatalog,
) -> None:
    with catalog.writing(keys=["k"]):
        store(catalog, 1)
        with pytest.raises(RuntimeError):
            store(catalog, 2, fail=True)
        store(catalog, 3)
    assert catalog.raw_shas() == {sha(1), sha(3)}
    assert catalog.article_at_url("k2") is None
    assert catalog.article_by_canonical("c2") is None
    assert catalog.references(SITE, 8) == [sha(3), sha(1)]
    assert {f.fetch_id for f in catalog.duplicate_fetches(None, None)} == set()


def test_a_read_inside_the_batch_sees_the_held_rows(catalog: PgCatalog) -> None:
    with catalog.writing(keys=["k"]):
        store(catalog, 1)
        assert catalog.article_at_url("k1") == "a1"
        assert catalog.articles_by_keys(["c1"]) == {"c1": "a1"}


def test_held_rows_keep_one_at_a_times_conflict_rules(catalog: PgCatalog) -> None:
    with catalog.writing(keys=["k"]):
        # a duplicate link's URL row is taken over by the real article's, a later one's not
        catalog.add_url("k1", "https://e.test/1", "dup", SEEN, duplicate=True)
        catalog.add_url("k1", "https://e.test/1", "real", SEEN)
        catalog.add_url("k1", "https://e.test/1", "later", SEEN)
        # a fetch written twice keeps the last
        catalog.add_fetch(fetch(1))
        catalog.add_fetch(fetch(1, outcome="duplicate"))
        catalog.add_raw(sha(1), 10, 8, "src", SEEN)
        catalog.add_raw(sha(1), 10, 8, "src", SEEN)
    assert catalog.article_at_url("k1") == "real"
    assert [f.fetch_id for f in catalog.duplicate_fetches(None, None)] == ["f1"]
