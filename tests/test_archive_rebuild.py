"""Rebuild: idempotent byte for byte, in place for a new parser version, in worker processes;
verify and repair from the files."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from archive.errors import ArchiveError
from archive.maintenance.rebuild import rebuild
from archive.maintenance.verify import verify
from archive.query import ArchiveReader
from archive.record import Content, Outcome, RawPage
from archive.store import Archive
from tests.archive_support import (
    T0,
    article_html,
    make_page,
    paragraphs,
    tiny_parse,
    tiny_parse_v2,
)


def fill(arch: Archive, count: int = 8) -> None:
    for i in range(count):
        url = f"https://news.example/{'sport' if i % 2 else 'city'}/story-{i}"
        page = make_page(
            url, article_html(f"Story {i}", paragraphs(i)), at=T0 + timedelta(minutes=i)
        )
        arch.store(page, tiny_parse(page, "ex"), source="ex")
    # a second version of story 0, and a page the parser cannot read
    page = make_page(
        "https://news.example/city/story-0",
        article_html("Story 0", paragraphs(100)),
        at=T0 + timedelta(hours=1),
    )
    assert arch.store(page, tiny_parse(page, "ex"), source="ex").outcome is Outcome.UPDATED
    arch.put_raw(make_page("https://news.example/x", b"<p>no headline</p>"), source="ex")


def files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("v*.json"))}


def test_rebuild_with_the_same_parser_changes_nothing(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        before = files(arch.root)
        report = rebuild(arch, tiny_parse, workers=1)
        assert (report.scanned, report.changed, report.unchanged, report.failed) == (10, 0, 9, 1)
        assert files(arch.root) == before


def test_new_parser_version_updates_in_place_then_a_second_run_changes_nothing(
    open_archive: Callable[..., Archive],
    tmp_path: Path,
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        before = files(arch.root)
        progress: list[tuple[int, int]] = []
        first = rebuild(
            arch, tiny_parse_v2, workers=2, progress=lambda d, t: progress.append((d, t))
        )
        assert first.changed == 9
        assert first.failed == 1
        assert dict(first.fields) == {"parser": 9, "section": 9}
        assert progress[0] == (0, 10)
        assert progress[-1] == (10, 10)
        after = files(arch.root)
        assert after.keys() == before.keys()  # same files, rewritten in place
        record = json.loads(after[next(iter(after))])
        assert record["parser"] == {"name": "tiny", "version": "2"}
        assert record["section"] in ("city", "sport")
        second = rebuild(arch, tiny_parse_v2, workers=2)
        assert second.changed == 0
        assert second.unchanged == 9
        assert files(arch.root) == after
        assert verify(arch).ok


def parse_strict_then_lenient(page: RawPage, source: str) -> Content:
    """Parses pages without a headline too, using the URL's last part."""
    try:
        return tiny_parse(page, source)
    except Exception:
        from archive.record import Block

        return Content(headline=page.final_url.rsplit("/", 1)[-1], body=(Block("no body"),))


def test_rebuild_retries_raw_pages_that_never_parsed(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        assert arch.find("https://news.example/x") is None
        report = rebuild(arch, parse_strict_then_lenient, workers=1)
        assert report.recovered == 1
        assert report.failed == 0
        found = arch.find("https://news.example/x")
        assert found is not None
        assert found.content.headline == "x"
        again = rebuild(arch, parse_strict_then_lenient, workers=1)
        assert again.recovered == 0
        assert again.changed == 0


def test_rebuild_filters_by_source_and_since(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch:
        fill(arch)
        assert rebuild(arch, tiny_parse, source="other", workers=1).scanned == 0
        assert rebuild(arch, tiny_parse, since=T0 + timedelta(minutes=30), workers=1).scanned == 1


def test_a_lambda_parser_cannot_go_to_workers(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path / "a") as arch, pytest.raises(ArchiveError, match="module-level"):
        rebuild(arch, lambda page, source: tiny_parse(page, source), workers=2)


def test_verify_finds_corruption_and_repair_reindexes(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a") as arch:
        fill(arch)
        assert verify(arch).ok
        # a catalog lost entirely: repair rebuilds it from the files
        with sqlite3.connect(arch.catalog_path) as db:
            db.execute("DELETE FROM archive_versions")
            db.execute("DELETE FROM archive_urls")
        db.close()
        assert verify(arch).notes
        repaired = verify(arch, repair=True)
        assert repaired.ok
        found = arch.find("https://news.example/city/story-0")
        assert found is not None
        assert found.version == 2
        assert ArchiveReader(arch).search("story").hits != []
        # a flipped byte in a blob and an edited record are problems
        blob = next(arch.root.joinpath("raw").rglob("*.html.zst"))
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0xFF
        blob.write_bytes(bytes(data))
        record = next(arch.root.joinpath("articles").rglob("v1.json"))
        doc = json.loads(record.read_text())
        doc["headline"] = ""
        record.write_text(json.dumps(doc))
        problems = verify(arch).problems
        assert any(blob.name[:64] in p for p in problems)
        assert any(p.startswith(f"changed: {record.relative_to(arch.root)}") for p in problems)
        # repair never trusts the changed record: it stays out of the index, reported
        repaired = verify(arch, repair=True)
        assert not repaired.ok
        path = str(record.relative_to(arch.root))
        assert any(p.startswith(f"changed: {path}") for p in repaired.problems)
        assert any("unindexed" in n for n in repaired.notes)


def test_rebuild_upgrades_records_of_an_older_schema(tmp_path: Path) -> None:
    """A data folder written by 0.1.0 holds schema-1 records: they verify against their own
    schema, read as the current one, and rebuild writes them in the current schema."""
    import tarfile

    old = Path(__file__).parent / "data" / "old_archives" / "archive-0.1.0-merged-wire.tar.gz"
    with tarfile.open(old) as tar:
        tar.extractall(tmp_path, filter="data")
    data = tmp_path / "morgue-data"
    (record,) = data.joinpath("articles").rglob("v1.json")
    assert json.loads(record.read_text("utf-8"))["schema"] == "morgue.article/1"
    with Archive.open(data) as arch:
        assert verify(arch, repair=True).ok  # records the checksums that release did not keep
        found = arch.find("https://www.alpha.example/2024/05/02/port-strike")
        assert found is not None
        assert found.content.title is None
        report = rebuild(arch, tiny_parse, workers=1)
        assert report.fields["schema"] == 1
        doc = json.loads(record.read_text("utf-8"))
        assert doc["schema"] == "morgue.article/2"
        assert "title" in doc
        assert verify(arch).ok
        assert rebuild(arch, tiny_parse, workers=1).changed == 0
