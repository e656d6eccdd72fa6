"""Group commit (archive/journal.py): what a power cut after a batch's commit could lose, the
journal gives back; a torn last entry and a live writer's segment are left alone."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from archive.journal import JOURNAL_DIR, Journal, recover
from archive.maintenance.verify import verify
from archive.store import Archive
from tests.archive_support import article_html, make_page, paragraphs, tiny_parse


def _store_batch(root: Path, n: int) -> list[Path]:
    """Store n pages in one batch; the files it wrote (blob, sidecar, record per page)."""
    arch = Archive.open(root)
    assert arch.journal is not None
    with arch.batch():
        for i in range(n):
            page = make_page(
                f"https://news.example/story-{i}", article_html(f"S{i}", paragraphs(i))
            )
            arch.store(page, tiny_parse(page, "ex"), source="ex")
        written = [path for path, _ in arch.journal._pending or []]
    # the process "dies" here: no checkpoint, the journal segment stays (and its lock goes)
    assert arch.journal._fd is not None
    os.close(arch.journal._fd)
    arch.catalog.close()
    return written


def test_a_batch_is_one_journal_segment_and_files_lost_after_commit_come_back(
    tmp_path: Path,
) -> None:
    root = tmp_path / "arch"
    written = _store_batch(root, 3)
    assert len(written) == 9  # blob, sidecar and record of each page
    segments = list((root / JOURNAL_DIR).glob("*.jnl"))
    assert len(segments) == 1
    # what a power cut may do to files that were never synced: gone, or empty
    written[0].unlink()
    written[1].write_bytes(b"")
    written[2].write_bytes(b"half")
    with Archive.open(root) as arch:  # opening replays the journal
        assert not list((root / JOURNAL_DIR).glob("*.jnl"))
        report = verify(arch)
        assert report.ok, report.lines()
        for i in range(3):
            assert arch.find(f"https://news.example/story-{i}") is not None


def test_a_torn_last_entry_is_ignored(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    written = _store_batch(root, 2)
    (segment,) = (root / JOURNAL_DIR).glob("*.jnl")
    segment.write_bytes(segment.read_bytes()[:-10])  # the power went while appending
    written[0].unlink()
    written[-1].unlink()
    assert recover(root) == 1  # the complete entries are replayed ...
    assert written[0].exists()
    assert not written[-1].exists()  # ... the torn one never is
    assert not segment.exists()


def test_a_live_writers_segment_is_not_touched(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    folder = root / JOURNAL_DIR
    folder.mkdir(parents=True)
    segment = folder / "1-1.jnl"
    segment.write_bytes(b"")
    fd = os.open(segment, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert recover(root) == 0
        assert segment.exists()
    finally:
        os.close(fd)


def test_checkpoint_drops_the_segment(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    with Archive.open(root) as arch:
        with arch.batch():
            page = make_page("https://news.example/a", article_html("A", paragraphs(1)))
            arch.store(page, tiny_parse(page, "ex"), source="ex")
        assert list((root / JOURNAL_DIR).glob("*.jnl"))
        assert isinstance(arch.journal, Journal)
        arch.journal.checkpoint()
        assert not list((root / JOURNAL_DIR).glob("*.jnl"))


def test_a_store_that_fails_inside_a_batch_undoes_only_its_own_rows(tmp_path: Path) -> None:
    import pytest

    from archive.errors import SchemaError
    from archive.record import Content

    with Archive.open(tmp_path / "arch") as arch:
        good = make_page("https://news.example/good", article_html("Good", paragraphs(3)))
        bad = make_page("https://news.example/empty", b"<html>odd</html>")
        with arch.batch():
            arch.store(good, tiny_parse(good, "ex"), source="ex")
            with pytest.raises(SchemaError, match="headline"):
                arch.store(bad, Content(headline="", body=()), source="ex")
        assert arch.find("https://news.example/good") is not None
        assert arch.find("https://news.example/empty") is None
        assert arch.blobs.has(bad.sha256)  # its raw page is kept, as outside a batch
        assert bad.sha256 in arch.catalog.raw_shas()
        assert verify(arch).ok
