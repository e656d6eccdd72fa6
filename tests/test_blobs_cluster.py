"""The cluster's blob stores: S3 (against a local S3 stand-in) and a shared folder, alone and
under an archive on the PostgreSQL catalog."""

from __future__ import annotations

import hashlib
import multiprocessing
import pickle
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from archive.backends.blobs import BlobCorrupt, BlobMissing
from archive.backends.storage import Storage, open_blobs
from archive.maintenance.rebuild import rebuild
from archive.maintenance.verify import verify
from archive.record import Outcome
from archive.store import Archive
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse
from tests.test_archive_blobref import templated


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_s3_store_round_trip_and_reference_compression(s3_storage: Storage, tmp_path: Path) -> None:
    blobs = open_blobs(s3_storage, tmp_path, codec="zstd", level=None, durable=True)
    first, second = templated(1), templated(2)
    assert blobs.put(_sha(first), first)
    assert not blobs.put(_sha(first), first)  # identical bytes are stored once
    assert blobs.put(_sha(second), second, like=[_sha(first)])
    assert blobs.reference(_sha(second)) == _sha(first)
    assert blobs.reference(_sha(first)) is None
    assert blobs.stored_size(_sha(second)) < 0.5 * blobs.stored_size(_sha(first))
    assert blobs.get(_sha(second)) == second
    assert sorted(blobs.iter()) == sorted([_sha(first), _sha(second)])
    assert blobs.has(_sha(first))
    assert not blobs.has("0" * 64)
    with pytest.raises(BlobMissing):
        blobs.get("0" * 64)
    # sidecars: the first fetch's, then later ones in fetch order
    assert blobs.put_sidecar(_sha(first), None, {"fetch_id": "a", "fetched_at": "1"})
    assert not blobs.put_sidecar(_sha(first), None, {"fetch_id": "z"})
    blobs.put_sidecar(_sha(first), "cc", {"fetch_id": "cc", "fetched_at": "3"})
    blobs.put_sidecar(_sha(first), "bb", {"fetch_id": "bb", "fetched_at": "2"})
    assert [d["fetch_id"] for d in blobs.sidecars(_sha(first))] == ["a", "bb", "cc"]
    # a worker process reopens the same store from a picklable opener
    again = pickle.loads(pickle.dumps(blobs.opener()))()
    assert again.get(_sha(second)) == second


def test_s3_corruption_is_reported_not_handed_out(s3_storage: Storage, tmp_path: Path) -> None:
    from archive.backends.blobs_s3 import S3BlobStore

    blobs = open_blobs(s3_storage, tmp_path, codec="zstd", level=None, durable=True)
    assert isinstance(blobs, S3BlobStore)
    page = templated(3)
    blobs.put(_sha(page), page)
    key = blobs._key(_sha(page), ".html.zst")
    data = bytearray(blobs._read(key))
    data[-5] ^= 0xFF
    blobs.client.put_object(Bucket=blobs.bucket, Key=key, Body=bytes(data))
    with pytest.raises(BlobCorrupt):
        blobs.get(_sha(page))


def fill(arch: Archive, count: int = 6) -> None:
    for i in range(count):
        url = f"https://news.example/city/story-{i}"
        page = make_page(url, article_html(f"Story {i}", paragraphs(i)), at=T0 + timedelta(i))
        assert arch.store(page, tiny_parse(page, "ex"), source="ex").outcome is Outcome.NEW
    # the same bytes fetched again: a second sidecar, no second blob
    page = make_page(
        "https://news.example/city/story-0",
        article_html("Story 0", paragraphs(0)),
        at=T0 + timedelta(days=30),
    )
    assert arch.store(page, tiny_parse(page, "ex"), source="ex").outcome is Outcome.UNCHANGED


def test_archive_on_postgresql_and_s3_verifies_and_rebuilds(
    s3_storage: Storage, pg_url: str, tmp_path: Path
) -> None:
    storage = Storage(catalog=pg_url, blobs=s3_storage.blobs, s3=s3_storage.s3)
    with Archive.open(tmp_path / "a", storage=storage) as arch:
        fill(arch)
        assert not (tmp_path / "a" / "raw").exists() or not any((tmp_path / "a" / "raw").iterdir())
        sha = next(iter(arch.blobs.iter()))
        assert (
            len(arch.blobs.sidecars(arch.find("https://news.example/city/story-0").raw_sha256)) == 2
        )  # type: ignore[union-attr]
        report = verify(arch)
        assert report.ok, report.problems
        # rebuild in two worker processes, which reopen the bucket themselves
        result = rebuild(arch, tiny_parse, workers=2)
        assert result.failed == 0
        # a blob gone from the bucket is reported by verify
        blobs: Any = arch.blobs
        blobs.client.delete_object(Bucket=blobs.bucket, Key=blobs._key(sha, ".html.zst"))
        assert not verify(arch).ok


def _store_pages(root: str, seeds: list[int]) -> None:
    storage = Storage(blobs=Path(root).as_uri())
    blobs = open_blobs(storage, Path(root), codec="zstd", level=None, durable=True)
    for seed in seeds:
        data = templated(seed)
        blobs.put(_sha(data), data)


def test_shared_folder_takes_many_writers(tmp_path: Path) -> None:
    shared = tmp_path / "mnt" / "morgue"
    seeds = list(range(12))
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_store_pages, args=(str(shared), seeds)) for _ in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    blobs = open_blobs(
        Storage(blobs=shared.as_uri()), tmp_path, codec="zstd", level=None, durable=True
    )
    assert sorted(blobs.iter()) == sorted(_sha(templated(s)) for s in seeds)
    for seed in seeds:
        assert blobs.get(_sha(templated(seed))) == templated(seed)
    assert not list(shared.rglob(".tmp-*"))


def test_archive_with_a_shared_folder_keeps_raw_pages_there(tmp_path: Path) -> None:
    shared = tmp_path / "mnt"
    storage = Storage(blobs=shared.as_uri())
    with Archive.open(tmp_path / "data", storage=storage) as arch:
        fill(arch)
        assert verify(arch).ok
        assert len(list(arch.blobs.iter())) == 6
        assert rebuild(arch, tiny_parse, workers=2).failed == 0
    assert len(list((shared / "raw").rglob("*.html.zst"))) == 6
    assert not list((tmp_path / "data" / "raw").rglob("*.html.zst"))


def test_a_page_a_killed_worker_half_stored_survives_the_sweep_once_another_stores_it(
    pg_url: str, tmp_path: Path
) -> None:
    storage = Storage(catalog=pg_url)
    page = make_page(
        "https://news.example/2024/05/a", article_html("A story", paragraphs(3)), at=T0
    )
    live = Archive.open(tmp_path, storage=storage)  # a worker up before the other dies
    dead = Archive.open(tmp_path, storage=storage)

    def killed(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # stands in for kill -9 once the files are written

    dead.catalog.after_rollback.clear()  # a killed process settles nothing
    dead.catalog.add_fetch = killed  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        dead.store(page, tiny_parse(page, "s"), source="s")
    dead.intents.close()  # its notes stay behind, no longer locked by a live process
    dead.catalog.close()
    try:
        # the page's raw blob and sidecar are there already: the live store records them
        assert live.store(page, tiny_parse(page, "s"), source="s").outcome is Outcome.NEW
    finally:
        live.close()
    with Archive.open(tmp_path, storage=storage) as after:  # sweeps the dead one's notes
        assert after.blobs.get(page.sha256) == page.body
        report = verify(after)
        assert report.ok, report.problems
