"""Crash safety, two writers, a refusing disk, and paths that never come from URLs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from archive.errors import ArchiveBusy, ArchiveError, StorageError
from archive.layout import BadName
from archive.maintenance.verify import verify
from archive.record import Outcome
from archive.store import Archive
from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse

ROOT = Path(__file__).resolve().parent.parent

WRITER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from archive.store import Archive
    from tests.archive_support import T0, article_html, make_page, paragraphs, tiny_parse

    root, prefix, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with Archive.open(root) as arch:
        for i in range(count):
            # every third page re-fetches an earlier article with a new body: versions too
            n = i - i % 3 if i % 3 == 2 else i
            url = f"https://news.example/{prefix}/{n}"
            html = article_html(f"{prefix} story {n}", paragraphs(hash((prefix, i)) % 10**6))
            page = make_page(url, html, at=T0 + timedelta(seconds=i))
            stored = arch.store(page, tiny_parse(page, "ex"), source="ex")
            print(stored.outcome.value, url, stored.article.version, page.sha256, flush=True)
    """
)


def run_writer(root: Path, prefix: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), prefix, str(count)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize("kill_after", [3, 11, 24])
def test_kill_9_during_a_write_loop_leaves_a_verifiable_archive(
    tmp_path: Path, kill_after: int
) -> None:
    root = tmp_path / "arch"
    proc = run_writer(root, "k", 200)
    assert proc.stdout is not None
    reported = [proc.stdout.readline().split() for _ in range(kill_after)]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    with Archive.open(root) as arch:
        # a store killed between its files and its catalog commit left files nobody recorded:
        # opening the archive removed them (archive.intents), so verify is clean
        report = verify(arch)
        assert report.ok, report.lines()
        for _outcome, url, version, sha in reported:
            found = arch.find(url)
            assert found is not None, url
            assert found.version >= int(version), url
            assert arch.blobs.has(sha)
        repaired = verify(arch, repair=True)
        assert repaired.ok
        assert not [n for n in repaired.notes if "not in the catalog" in n]
        for _outcome, url, version, _sha in reported:
            assert arch.find(url).version >= int(version)  # type: ignore[union-attr]


def test_two_processes_write_one_archive(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    Archive.open(root).close()
    procs = [run_writer(root, name, 15) for name in ("p", "q")]
    outputs = [proc.communicate(timeout=120)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0]
    with Archive.open(root) as arch:
        assert verify(arch).ok
        for out in outputs:
            for line in out.splitlines():
                _outcome, url, version, _sha = line.split()
                assert arch.find(url).version >= int(version)  # type: ignore[union-attr]


def test_a_held_lock_gives_archive_busy(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    with Archive.open(root) as first:
        sleeps: list[float] = []
        second = Archive.open(root, busy_timeout=0.05, sleep=sleeps.append)
        page = make_page("https://news.example/a", article_html("A", paragraphs(1)))
        with first.catalog.writing(), pytest.raises(ArchiveBusy, match="busy"):
            second.store(page, tiny_parse(page, "ex"), source="ex")
        assert len(sleeps) == 3
        assert second.store(page, tiny_parse(page, "ex"), source="ex").outcome is Outcome.NEW
        second.close()


@pytest.fixture
def frozen(tmp_path: Path) -> Iterator[Path]:
    """An archive folder nothing may be written to (even by root: immutable directories)."""
    root = tmp_path / "arch"
    with Archive.open(root) as arch:
        page = make_page("https://news.example/a", article_html("A", paragraphs(1)))
        arch.store(page, tiny_parse(page, "ex"), source="ex")
    dirs = [root, *(p for p in root.rglob("*") if p.is_dir())]
    use_chattr = os.geteuid() == 0 and shutil.which("chattr") is not None
    for d in dirs:
        if use_chattr:
            subprocess.run(["chattr", "+i", str(d)], check=True)
        else:
            d.chmod(0o555)
    try:
        yield root
    finally:
        for d in dirs:
            if use_chattr:
                subprocess.run(["chattr", "-i", str(d)], check=True)
            else:
                d.chmod(0o755)


def test_read_only_folder_gives_a_clear_error_and_changes_nothing(frozen: Path) -> None:
    before = snapshot(frozen)
    page = make_page("https://news.example/b", article_html("B", paragraphs(2)))
    with pytest.raises(StorageError) as caught, Archive.open(frozen) as arch:
        arch.store(page, tiny_parse(page, "ex"), source="ex")
    assert "\n" not in str(caught.value)
    assert str(frozen) in str(caught.value)
    assert snapshot(frozen) == before


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from archive.errors import StorageError
    from archive.store import Archive
    from tests.archive_support import article_html, make_page, paragraphs, tiny_parse

    with Archive.open(sys.argv[1]) as arch:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))  # "disk full" for big files
        html = article_html("Big", paragraphs(3, count=200))
        page = make_page("https://news.example/big", html)
        try:
            arch.store(page, tiny_parse(page, "ex"), source="ex")
        except StorageError as exc:
            print("StorageError:", exc)
    """
)


def test_a_refused_write_is_a_storage_error_and_leaves_no_trace(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    Archive.open(root).close()
    before = snapshot(root)
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(root)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    assert out.startswith("StorageError: cannot write")
    assert "file size limit" in out
    assert out.count("\n") == 1
    after = snapshot(root)
    assert {k for k in after if not k.startswith("catalog")} == {
        k for k in before if not k.startswith("catalog")
    }
    with Archive.open(root) as arch:
        assert verify(arch).ok
        assert arch.find("https://news.example/big") is None


@pytest.mark.parametrize("source", ["../evil", "a/b", "..", "", ".hidden", "x" * 80, "a\x00b"])
def test_bad_source_names_are_refused(tmp_path: Path, source: str) -> None:
    with Archive.open(tmp_path / "arch") as arch:
        page = make_page("https://news.example/a", article_html("A", paragraphs(1)))
        with pytest.raises(BadName):
            arch.store(page, tiny_parse(page, "ex"), source=source)


def test_crafted_urls_never_shape_paths(tmp_path: Path) -> None:
    root = tmp_path / "arch"
    hostile = [
        "https://news.example/../../../../etc/passwd",
        "https://news.example/%2e%2e%2f%2e%2e%2fescape",
        "https://..%2f..%2fhost.example/a",
        "https://news.example/a\\..\\..\\b",
    ]
    with Archive.open(root) as arch:
        for i, url in enumerate(hostile):
            html = article_html(f"H{i}", paragraphs(20 + i), canonical="file:///etc/passwd")
            page = make_page(url, html, at=T0 + timedelta(seconds=i))
            arch.store(page, tiny_parse(page, "ex"), source="ex")
        assert arch.find("../../../etc/passwd") is None
        with pytest.raises(ArchiveError):
            arch.blobs.get("../" * 10 + "etc/passwd")
    for path in tmp_path.rglob("*"):
        assert path.resolve().is_relative_to(root.resolve())
    names = {p.name for p in root.rglob("*")}
    assert not any("passwd" in n or "escape" in n or "host" in n for n in names)


def test_a_file_slipped_in_by_hand_is_not_swept_and_verify_names_it(tmp_path: Path) -> None:
    """Only files a store noted before writing them are ever removed: a record copied into
    the archive by hand (or any unknown file) stays, and verify reports it as unknown."""
    root = tmp_path / "arch"
    with Archive.open(root) as arch:
        page = make_page("https://news.example/a", article_html("A", paragraphs(1)))
        stored = arch.store(page, tiny_parse(page, "ex"), source="ex")
        assert stored.article is not None
        first = arch.layout.version("ex", stored.article.id, 1)
    forged = first.with_name("v2.json")
    forged.write_bytes(first.read_bytes())
    with Archive.open(root) as arch:
        assert forged.exists()
        report = verify(arch)
        assert not report.ok
        assert any("unknown" in p and "v2.json" in p for p in report.problems)
