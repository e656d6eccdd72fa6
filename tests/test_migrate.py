"""`migrate`: an archive copied embedded -> PostgreSQL + S3 -> embedded is the same archive."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.backends.storage import Storage
from archive.maintenance.migrate import migrate
from archive.maintenance.verify import verify
from archive.query import ArchiveReader
from archive.store import Archive
from scraper.cli.main import main
from tests.test_archive_rebuild import fill


def records(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("v*.json"))}


def test_round_trip_through_the_cluster_gives_the_same_archive(
    tmp_path: Path, pg_url: str, s3_storage: Storage
) -> None:
    cluster = Storage(catalog=pg_url, blobs=s3_storage.blobs, s3=s3_storage.s3)
    with Archive.open(tmp_path / "a") as first:
        fill(first)
        want = first.catalog.source_counts()
        with Archive.open(tmp_path / "b", storage=cluster) as middle:
            there = migrate(first, middle)
            assert there.ok, there.lines()
            assert there.blobs_copied == len(list(first.blobs.iter())) > 0
            # a second run (as after an interruption) finds everything in place
            again = migrate(first, middle)
            assert (again.blobs_copied, again.records_copied, again.sidecars_copied) == (0, 0, 0)
            assert again.ok, again.lines()
            with Archive.open(tmp_path / "c") as last:
                back = migrate(middle, last)
                assert back.ok, back.lines()
                assert verify(last).ok
                got = last.catalog.source_counts()
                assert [(c.articles, c.versions, c.fetches, c.raw_pages) for c in got] == [
                    (c.articles, c.versions, c.fetches, c.raw_pages) for c in want
                ]
                assert ArchiveReader(last).search("story").hits
    assert records(tmp_path / "c") == records(tmp_path / "a")
    # the compressed blobs came back byte for byte too (references kept)
    blobs_a = {p.name: p.read_bytes() for p in (tmp_path / "a" / "raw").rglob("*.html.zst")}
    blobs_c = {p.name: p.read_bytes() for p in (tmp_path / "c" / "raw").rglob("*.html.zst")}
    assert blobs_a == blobs_c


def test_a_missing_blob_is_reported_and_the_rest_copied(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a") as first, Archive.open(tmp_path / "b") as second:
        fill(first)
        gone = next((tmp_path / "a" / "raw").rglob("*.html.zst"))
        gone.unlink()
        report = migrate(first, second)
        assert not report.ok
        assert any(gone.name[:64] in p for p in report.problems)
        assert report.blobs_copied == len(list(first.blobs.iter()))


def test_migrate_command_copies_to_the_other_config(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Archive.open(tmp_path / "a") as first:
        fill(first)
    embedded = tmp_path / "embedded.yaml"
    embedded.write_text("data_dir: a\n")
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        f"data_dir: b\nstorage:\n  catalog: {pg_url}\n  blobs: {(tmp_path / 'shared').as_uri()}\n"
    )
    assert main(["--config", str(embedded), "migrate", "--to", str(cluster)]) == 0
    out = capsys.readouterr().out
    assert "verify: ok" in out
    assert main(["--config", str(cluster), "verify"]) == 0
    assert main(["--config", str(embedded), "migrate", "--to", str(embedded)]) == 2
