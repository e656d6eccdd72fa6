"""Which catalog connections map the SQLite file into memory."""

from __future__ import annotations

from pathlib import Path

import pytest

import archive
from archive.backends.catalog_sqlite import SqliteCatalog
from archive.store import Archive
from tests.read_support import Stored, build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Stored]:
    root = tmp_path_factory.mktemp("mapped") / "data"
    return root, build(root)


def test_only_readers_map_the_catalog(built: tuple[Path, Stored]) -> None:
    """A reading server maps the catalog file (fewer copies per search); a writer does not:
    mapped pages count as its resident memory, which then grew with the catalog file."""

    def mapped_bytes(catalog: object) -> int:
        assert isinstance(catalog, SqliteCatalog)
        return int(catalog.db.execute("PRAGMA mmap_size").fetchone()[0])

    with archive.open(built[0]) as reader:
        assert mapped_bytes(reader.catalog) > 0
    with Archive.open(built[0]) as writer:
        assert mapped_bytes(writer.catalog) == 0
        view = writer.reader()  # the crawl's read connection beside its writer
        try:
            assert mapped_bytes(view.catalog) == 0
        finally:
            view.close()
