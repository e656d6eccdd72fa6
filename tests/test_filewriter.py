"""A group commit whose files go to a writer thread (`archive.filewriter`, the crawl's way):
every file is in place before the catalog commit names it, and a batch's later stores find the
files its earlier ones queued (the same article by another URL, the same bytes twice) as they
would on disk.

The writer thread is held back until a commit waits for it, so a commit that did not wait,
or a store that looked only on disk, shows every time rather than now and then."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from archive import filewriter
from archive.filewriter import FileWriter
from archive.maintenance.verify import verify
from archive.store import Archive
from scraper.pipeline import PageJob, ingest_many
from tests.test_ingest_batch import _one_by_one, _outcome, _pages


def _batches(archive: Archive) -> list[list[str]]:
    out = []
    for round_ in (0, 1):
        jobs = [PageJob(page, "news") for page in _pages(round_)]
        out.append([_outcome(r) for r in ingest_many(jobs, archive=archive)])
    return out


def test_queued_files_are_in_place_before_the_commit_and_read_back_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Archive.open(tmp_path / "direct") as archive:
        expected = [_one_by_one(archive, _pages(0)), _one_by_one(archive, _pages(1))]

    gate = threading.Event()
    queued: list[Path] = []
    missing_at_commit: list[Path] = []
    write_atomic = filewriter.write_atomic
    drain = FileWriter.drain
    write = FileWriter.write

    def held_write(path: Path, data: bytes, *, durable: bool = True) -> None:
        gate.wait(timeout=30)  # until a commit waits for the writer
        write_atomic(path, data, durable=durable)

    def drain_opens_gate(self: FileWriter) -> None:
        gate.set()
        drain(self)

    def noting_write(self: FileWriter, path: Path, data: bytes) -> None:
        queued.append(path)
        write(self, path, data)

    monkeypatch.setattr(filewriter, "write_atomic", held_write)
    monkeypatch.setattr(FileWriter, "drain", drain_opens_gate)
    monkeypatch.setattr(FileWriter, "write", noting_write)
    with Archive.open(tmp_path / "deferred") as deferred:
        assert deferred.journal is not None
        deferred.journal.defer_writes()

        def check() -> None:
            missing_at_commit.extend(p for p in queued if not p.exists())
            queued.clear()
            gate.clear()

        deferred.catalog.after_commit.insert(0, check)
        outcomes = _batches(deferred)
        assert queued == [], "every batch committed"
        assert missing_at_commit == []
        report = verify(deferred)
        assert report.ok, report.problems
    assert outcomes == expected
    assert outcomes[1][1].startswith("unchanged"), "found the article its batch filed"


def test_a_write_that_fails_fails_its_batch_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_atomic = filewriter.write_atomic

    def refusing(path: Path, data: bytes, *, durable: bool = True) -> None:
        if path.name.endswith(".meta.json") and "print" not in str(data):
            raise OSError(28, "No space left on device")
        write_atomic(path, data, durable=durable)

    with Archive.open(tmp_path) as archive:
        assert archive.journal is not None
        archive.journal.defer_writes()
        jobs = [PageJob(page, "news") for page in _pages(0)]
        monkeypatch.setattr(filewriter, "write_atomic", refusing)
        results = ingest_many(jobs, archive=archive)
        assert all(isinstance(r, OSError) for r in results), results
        monkeypatch.setattr(filewriter, "write_atomic", write_atomic)
        assert archive.catalog.count_articles() == 0
        report = verify(archive)
        assert report.ok, report.problems
        # and the next batch stores them
        assert [_outcome(r).split()[0] for r in ingest_many(jobs, archive=archive)] == [
            "new",
            "new",
        ]
        assert verify(archive).ok
