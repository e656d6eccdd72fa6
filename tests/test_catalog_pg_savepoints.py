"""A batch's stores on PostgreSQL: each store is a savepoint, named by its depth (siblings
share a name), and one that raises undoes its own rows and what the batch read ahead of them.

`PgCatalog.writing` nests: the batch is the transaction, each page's store a savepoint, and a
store's own nested `writing` a savepoint inside that. The read-ahead answers (`ReadAhead`)
keep a site's reference pages across `add_reference`: a store rolled back must not leave its
reference among them, or the next page of the site is compressed against a blob whose row
was never written.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.backends.catalog_pg import PgCatalog
from archive.backends.catalog_pg_ahead import Wanted

SITE = "e.test"
SINCE = "2026-01-01T00:00:00Z"


@pytest.fixture
def catalog(tmp_path: Path, pg_url: str) -> Iterator[PgCatalog]:
    cat = PgCatalog(pg_url, root=tmp_path)
    yield cat
    cat.close()


def sha(n: int) -> str:
    return f"{n:064x}"


def failed_store(catalog: PgCatalog, n: int, *, nested: int | None = None) -> None:
    """A page's store (a savepoint) that adds reference `n`, and `nested` in a savepoint of
    its own released, then raises."""
    with catalog.writing():
        catalog.add_reference(SITE, sha(n), SINCE)
        if nested is not None:
            with catalog.writing():
                catalog.add_reference(SITE, sha(nested), SINCE)
        raise RuntimeError("parse went wrong after the blob")


def test_a_store_rolled_back_leaves_no_reference_in_the_batchs_read_ahead(
    catalog: PgCatalog,
) -> None:
    with catalog.writing():
        catalog.add_reference(SITE, sha(1), SINCE)
    with catalog.writing():
        catalog.read_ahead(Wanted(sites=[SITE], references=3))
        with pytest.raises(RuntimeError):
            failed_store(catalog, 2)
        # the next page of the site, in the same batch
        assert catalog.references(SITE, 3) == [sha(1)]
        with catalog.writing():
            catalog.add_reference(SITE, sha(3), SINCE)
        assert catalog.references(SITE, 3) == [sha(3), sha(1)]
    assert catalog.references(SITE, 3) == [sha(3), sha(1)]


def test_sibling_and_nested_savepoints_undo_only_their_own_rows(catalog: PgCatalog) -> None:
    with catalog.writing():
        with catalog.writing():  # page 1
            catalog.add_reference(SITE, sha(1), SINCE)
        with pytest.raises(RuntimeError):  # page 2: its savepoint has page 1's name
            failed_store(catalog, 2, nested=3)
        with catalog.writing():  # page 3: its nested store fails, the page goes on
            catalog.add_reference(SITE, sha(4), SINCE)
            with pytest.raises(RuntimeError):
                failed_store(catalog, 5)
            catalog.add_reference(SITE, sha(6), SINCE)
    assert catalog.references(SITE, 10) == [sha(6), sha(4), sha(1)]
