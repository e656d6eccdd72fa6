"""BagIt export (RFC 8493) and its round trip: export, validate with the `bagit` package,
break one file so validation fails, import the untouched bag, verify the restored archive."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import bagit
import pytest
from click.testing import CliRunner

from archive.fixity import archive_files
from archive.maintenance.bag_export import BagError, export_bag
from archive.maintenance.bag_import import import_bag
from archive.maintenance.verify import verify
from archive.query import ArchiveReader
from archive.store import Archive
from scraper import __version__
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse
from tests.test_archive_cli import group


def fill(arch: Archive) -> None:
    for i in range(6):
        source = "city" if i % 2 else "sport"
        page = make_page(
            f"https://news.example/{source}/story-{i}",
            article_html(f"Story {i}", paragraphs(i)),
            at=T0 + timedelta(days=i),
        )
        arch.store(page, tiny_parse(page, source), source=source)
    arch.put_raw(make_page("https://news.example/x", b"<p>no headline</p>"), source="city")


@pytest.fixture
def archive_root(tmp_path: Path) -> Path:
    root = tmp_path / "arch"
    with Archive.open(root) as arch:
        fill(arch)
    return root


def bag_files(bag: Path) -> dict[str, bytes]:
    return {
        p.relative_to(bag / "data").as_posix(): p.read_bytes()
        for p in (bag / "data").rglob("*")
        if p.is_file()
    }


def test_export_is_a_valid_bag_and_import_restores_the_archive(
    archive_root: Path, tmp_path: Path
) -> None:
    bag = tmp_path / "bag"
    with Archive.open(archive_root) as arch:
        summary = export_bag(arch, bag, tool=f"morgue {__version__}", today=date(2026, 12, 1))
        originals = {p: (arch.root / p).read_bytes() for p in archive_files(arch.root)}
    assert summary.files == len(originals)
    assert bag_files(bag) == originals
    info = (bag / "bag-info.txt").read_text()
    assert f"Bag-Software-Agent: morgue {__version__}\n" in info
    assert "Bagging-Date: 2026-12-01\n" in info
    assert (bag / "manifest-sha256.txt").is_file()
    assert (bag / "tagmanifest-sha256.txt").is_file()
    # the bagit package (the Library of Congress tool) validates it, library and command line
    assert bagit.Bag(str(bag)).is_valid()
    assert set(bagit.Bag(str(bag)).algorithms) == {"sha256"}
    command = [sys.executable, "-m", "bagit", "--validate", str(bag)]
    assert subprocess.run(command, capture_output=True, check=False).returncode == 0
    # one changed byte in a copy of the bag: validation fails, and so does our import
    broken = tmp_path / "broken"
    shutil.copytree(bag, broken)
    victim = sorted((broken / "data" / "articles").rglob("v1.json"))[0]
    victim.write_bytes(victim.read_bytes().replace(b"Story", b"Storm", 1))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(broken)).validate()
    assert subprocess.run([*command[:-1], str(broken)], capture_output=True).returncode != 0
    with Archive.open(tmp_path / "nope") as empty, pytest.raises(BagError, match="sha256"):
        import_bag(empty, broken)
    # the untouched bag restores the archive, byte for byte, and it verifies clean
    with Archive.open(tmp_path / "restored") as restored:
        result = import_bag(restored, bag)
        assert (result.copied, result.conflicts) == (len(originals), [])
        report = verify(restored)
        assert report.ok, report.lines()
        assert {p: (restored.root / p).read_bytes() for p in archive_files(restored.root)} == (
            originals
        )
        found = restored.find("https://news.example/city/story-1")
        assert found is not None
        assert found.content.headline == "Story 1"
        assert ArchiveReader(restored).search("Story").hits


def test_a_selection_takes_its_records_raw_pages_and_sidecars(
    archive_root: Path, tmp_path: Path
) -> None:
    bag = tmp_path / "bag"
    with Archive.open(archive_root) as arch:
        export_bag(arch, bag, tool="morgue test", source="city", since="2026-05-10")
        wanted = {v.article_id for v in arch.catalog.iter_versions("city", "2026-05-10")}
    files = bag_files(bag)
    records = {p.split("/")[2] for p in files if p.startswith("articles/")}
    assert records == wanted
    assert {p.split("/")[1] for p in files if p.startswith("articles/")} == {"city"}
    assert "Morgue-Source: city" in (bag / "bag-info.txt").read_text()
    assert bagit.Bag(str(bag)).is_valid()
    with Archive.open(tmp_path / "restored") as restored:
        import_bag(restored, bag)
        assert verify(restored).ok
        assert {a.id for a in restored.iter_articles()} == wanted


def test_a_changed_file_is_never_exported_as_sound(archive_root: Path, tmp_path: Path) -> None:
    with Archive.open(archive_root) as arch:
        record = sorted(arch.root.glob("articles/*/*/v1.json"))[0]
        record.write_text(record.read_text().replace("Story", "Storm"))
        with pytest.raises(BagError, match="changed since it was written"):
            export_bag(arch, tmp_path / "bag", tool="morgue test")
    assert not (tmp_path / "bag").exists()


def test_export_and_import_through_the_cli(archive_root: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    bag = tmp_path / "bag"
    out = runner.invoke(group(archive_root), ["export", "--format", "bagit", "--out", str(bag)])
    assert out.exit_code == 0, out.output
    assert bagit.Bag(str(bag)).is_valid()
    again = runner.invoke(group(archive_root), ["export", "--format", "bagit", "--out", str(bag)])
    assert again.exit_code != 0
    assert "already exists" in again.output
    restored = tmp_path / "restored"
    result = runner.invoke(group(restored), ["import", str(bag)])
    assert result.exit_code == 0, result.output
    assert "files restored" in result.output
    checked = runner.invoke(group(restored), ["verify"])
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("verify: ok")
    # importing it again changes nothing and finds no conflict
    twice = runner.invoke(group(restored), ["import", str(bag)])
    assert twice.exit_code == 0, twice.output
    assert "0 files restored" in twice.output
