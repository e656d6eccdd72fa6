"""Fixity: every file the archive writes has its sha256 in the catalog, and `verify` names
each file that changed, went missing or appeared unknown; repair never trusts a changed one."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from archive.fixity import archive_files
from archive.maintenance.rebuild import rebuild
from archive.maintenance.stats import stats
from archive.maintenance.verify import verify
from archive.query import ArchiveReader
from archive.record import Outcome
from archive.store import Archive
from tests.archive_support import (
    T0,
    article_html,
    clock,
    make_page,
    paragraphs,
    tiny_parse,
    tiny_parse_v2,
)
from tests.test_archive_blobref import store, templated

URL0 = "https://news.example/city/story-0"


def fill(arch: Archive, count: int = 6, start: int = 0) -> None:
    for i in range(start, start + count):
        page = make_page(
            f"https://news.example/city/story-{i}",
            article_html(f"Story {i}", paragraphs(i)),
            at=T0 + timedelta(minutes=i),
            etag=f'"e{i}"',
        )
        arch.store(page, tiny_parse(page, "ex"), source="ex")


def filled(tmp_path: Path) -> Archive:
    arch = Archive.open(tmp_path / "a", now=clock())
    fill(arch)
    # a later fetch of the same bytes (a second sidecar), a 304, and an unparsed page
    again = make_page(URL0, article_html("Story 0", paragraphs(0)), at=T0 + timedelta(hours=2))
    assert arch.store(again, tiny_parse(again, "ex"), source="ex").outcome is Outcome.UNCHANGED
    arch.store_unchanged(make_page(URL0, b"", status=304, at=T0 + timedelta(hours=3)), source="ex")
    arch.put_raw(make_page("https://news.example/x", b"<p>no headline</p>"), source="ex")
    return arch


def first(root: Path, pattern: str) -> Path:
    return sorted(root.glob(pattern))[0]


KINDS: dict[str, Callable[[Path], Path]] = {
    "raw page": lambda root: first(root, "raw/*/*.html.zst"),
    "first sidecar": lambda root: first(root, "raw/*/*.meta.json"),
    "later sidecar": lambda root: first(root, "raw/*/*.fetch.json"),
    "record": lambda root: first(root, "articles/ex/*/v1.json"),
}


def test_every_file_written_has_its_checksum(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        rows = {row.path: row for row in arch.catalog.files()}
        assert set(rows) == set(archive_files(arch.root))
        assert {row.kind for row in rows.values()} == {"raw", "sidecar", "record"}
        for path, row in rows.items():
            data = (arch.root / path).read_bytes()
            assert (row.sha256, row.size) == (hashlib.sha256(data).hexdigest(), len(data))
        assert len([p for p in rows if p.endswith(".fetch.json")]) == 2  # re-fetch and 304
        report = verify(arch)
        assert report.ok, report.lines()
        assert report.counts["files"] == len(rows)


@pytest.mark.parametrize("kind", KINDS)
def test_one_changed_byte_in_any_file_is_named(tmp_path: Path, kind: str) -> None:
    with filled(tmp_path) as arch:
        path = KINDS[kind](arch.root)
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        report = verify(arch)
        rel = path.relative_to(arch.root).as_posix()
        assert not report.ok
        assert report.changed == [rel]
        assert any(p.startswith(f"changed: {rel} (") for p in report.problems), report.lines()


@pytest.mark.parametrize("kind", KINDS)
def test_a_deleted_file_of_any_kind_is_named(tmp_path: Path, kind: str) -> None:
    with filled(tmp_path) as arch:
        path = KINDS[kind](arch.root)
        path.unlink()
        report = verify(arch)
        rel = path.relative_to(arch.root).as_posix()
        assert report.missing == [rel]
        assert any(p.startswith(f"missing: {rel} (") for p in report.problems)
        # repair cannot bring it back, and does not forget it was there
        assert verify(arch, repair=True).missing == [rel]


def test_a_damaged_reference_page_is_named_as_one(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a") as arch:
        shas = [store(arch, f"https://www.news.example/a/{n}", templated(n)) for n in range(3)]
        assert arch.blobs.reference(shas[1]) == shas[0]
        path = next(arch.root.glob(f"raw/*/{shas[0]}.html.zst"))
        data = bytearray(path.read_bytes())
        data[-3] ^= 0x01
        path.write_bytes(bytes(data))
        problems = verify(arch).problems
        rel = path.relative_to(arch.root).as_posix()
        assert any(p.startswith(f"changed: {rel} (reference page)") for p in problems), problems
        # the pages compressed against it cannot be read either, and say so
        assert any(shas[1] in p and "reference" in p for p in problems), problems


def test_a_file_the_archive_did_not_write_is_unknown(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        record = first(arch.root, "articles/ex/*/v1.json")
        stray = record.with_name("v7.json")
        doc = json.loads(record.read_text())
        doc["version"] = 7
        stray.write_text(json.dumps(doc))
        report = verify(arch)
        rel = stray.relative_to(arch.root).as_posix()
        assert report.unknown == [rel]
        assert not report.ok


def test_a_tampered_headline_is_caught_never_trusted_and_rebuilt(tmp_path: Path) -> None:
    """The issue's walk-through: edit a record's headline by hand."""
    with filled(tmp_path) as arch:
        found = arch.find(URL0)
        assert found is not None
        path = arch.layout.version(found.source, found.id, 1)
        doc = json.loads(path.read_text())
        doc["headline"] = "TAMPERED " + doc["headline"]
        path.write_text(json.dumps(doc, indent=2))
        report = verify(arch)
        assert len(report.problems) == 1, report.lines()  # named once, as changed
        assert f"morgue rebuild --article {found.id}" in report.problems[0]
        repaired = verify(arch, repair=True)
        assert not repaired.ok  # still changed: repair does not take the edit for the truth
        assert repaired.changed == [path.relative_to(arch.root).as_posix()]
        assert all(not a.content.headline.startswith("TAMPERED") for a in arch.iter_articles())
        assert not ArchiveReader(arch).search("TAMPERED").hits
        result = rebuild(arch, tiny_parse, workers=1, article=found.id)
        assert (result.changed, result.failed) == (1, 0)
        after = verify(arch)
        assert after.ok, after.lines()
        again = arch.find(URL0)
        assert again is not None
        assert again.content.headline == "Story 0"


def test_a_catalog_made_before_checksums_is_filled_in_by_repair(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        root = arch.root
        count = len(list(archive_files(root)))
    # what an archive of catalog schema 2 looked like: no file checksums, no verify runs
    with contextlib.closing(sqlite3.connect(root / "catalog.sqlite")) as db:
        db.execute("DROP TABLE archive_files")
        db.execute("DROP TABLE archive_verify_runs")
        db.execute("UPDATE archive_info SET value = '2' WHERE key = 'schema'")
        db.commit()
    with Archive.open(root) as arch:
        report = verify(arch)
        assert len(report.unknown) == count
        repaired = verify(arch, repair=True)
        assert repaired.ok, repaired.lines()
        assert f"recorded the checksums of {count} intact file(s)" in repaired.notes
        assert verify(arch).ok


def test_sample_checks_that_many_files(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        total = arch.catalog.count_files()
        report = verify(arch, sample=3, seed=1)
        assert report.ok
        assert report.counts["files"] == 3
        assert report.scope == "sample 3"
        assert f"checked 3 of {total} recorded files" in report.notes
        # a sample as large as the archive is the archive: it finds the change
        path = first(arch.root, "articles/ex/*/v1.json")
        path.write_text(path.read_text().replace("Story", "Storm"))
        whole = verify(arch, sample=total + 5)
        assert whole.counts["files"] == total
        assert whole.changed == [path.relative_to(arch.root).as_posix()]


def test_since_checks_only_the_files_written_since(tmp_path: Path) -> None:
    later = T0 + timedelta(days=30)
    with Archive.open(tmp_path / "a", now=clock()) as arch:
        fill(arch, 3)
    with Archive.open(tmp_path / "a", now=clock(later)) as arch:
        fill(arch, 2, start=10)
        new_files = [r.path for r in arch.catalog.files() if r.written_at >= "2026-06-08"]
        assert len(new_files) == 2 * 3  # blob, sidecar, record each
        story = arch.find(URL0)
        assert story is not None
        old = arch.layout.version("ex", story.id, 1)
        assert old.relative_to(arch.root).as_posix() not in new_files
        old.write_text(old.read_text().replace("Story", "Storm"))
        report = verify(arch, since="2026-06-08")
        assert report.ok, report.lines()  # the old file is outside the slice
        assert report.counts["files"] == len(new_files)
        new = arch.root / next(p for p in new_files if p.endswith("v1.json"))
        new.write_text(new.read_text().replace("Story", "Storm"))
        assert verify(arch, since="2026-06-08").changed == [new.relative_to(arch.root).as_posix()]
        assert len(verify(arch).changed) == 2


def test_stats_shows_the_last_full_verify(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        assert any(line.startswith("last full verify: never") for line in stats(arch).lines())
        verify(arch)
        path = first(arch.root, "raw/*/*.meta.json")
        path.write_bytes(path.read_bytes() + b" ")
        verify(arch, sample=2)  # a slice is not a full run
        lines = stats(arch).lines()
        line = next(line for line in lines if line.startswith("last full verify:"))
        assert "0 problem(s): verify: ok" in line
        verify(arch)
        line = next(line for line in stats(arch).lines() if line.startswith("last full verify"))
        assert "0 problem(s)" not in line
        assert path.relative_to(arch.root).as_posix() in verify(arch).changed


def test_rebuild_reports_records_made_by_an_older_parser(tmp_path: Path) -> None:
    with filled(tmp_path) as arch:
        report = rebuild(arch, tiny_parse_v2, workers=1)
        assert report.older == {"1": 6}
        assert report.parser_version == "2"
        assert any("made by older parser versions: 1 (6); now 2" in line for line in report.lines())
        assert rebuild(arch, tiny_parse_v2, workers=1).older == {}
        assert verify(arch).ok
        assert ("tiny", "2", 6) in arch.catalog.parser_versions()
