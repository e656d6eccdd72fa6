"""How the folder blob store looks for a raw page's file (`FolderBlobStore._existing`): a
crawl asks twice for every page it stores, so it asks from strings, without pathlib's joins,
and still finds a file under either codec's name, on disk or queued in a batch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from archive.backends.blobs import FolderBlobStore
from archive.layout import Layout


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_page_is_found_under_either_codec(tmp_path: Path) -> None:
    gzipped = FolderBlobStore(tmp_path, codec="gzip")
    gzipped.ensure_root()
    old = b"<html>kept when the archive was gzip</html>"
    assert gzipped.put(_sha(old), old)
    store = FolderBlobStore(tmp_path)  # zstd now
    new = b"<html>kept since</html>"
    assert store.put(_sha(new), new)
    assert store.has(_sha(old))
    assert store.has(_sha(new))
    assert not store.has(_sha(b"never stored"))
    assert store.get(_sha(old)) == old
    assert not store.put(_sha(old), old)  # there already, under the other name
    assert store._existing(_sha(old)) == store.layout.blob(_sha(old), ".html.gz")
    assert store._existing(_sha(new)) == store.layout.blob(_sha(new))


def test_a_page_queued_in_a_batch_is_found_by_the_name_it_was_queued_under(
    tmp_path: Path,
) -> None:
    store = FolderBlobStore(tmp_path)
    data = b"<html>queued</html>"
    queued = {str(store.layout.blob(_sha(data))): b"packed"}

    class Queue:
        def pending(self, path: Path | str) -> bytes | None:
            return queued.get(str(path))

    store.journal = Queue()  # type: ignore[assignment]
    assert store.has(_sha(data))
    assert store._existing(_sha(data)) == store.layout.blob(_sha(data))
    assert not store.has(_sha(b"other"))


def test_looking_for_a_page_builds_no_path_by_joins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderBlobStore(tmp_path)
    store.ensure_root()
    data = b"<html>x</html>"
    store.put(_sha(data), data)

    def joined(*args: object, **kwargs: object) -> Path:
        raise AssertionError("layout.blob called")

    monkeypatch.setattr(Layout, "blob", joined)
    assert store.has(_sha(data))
    assert not store.has(_sha(b"absent"))
