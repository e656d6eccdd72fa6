"""Raw pages compressed against an earlier page of the same site (archive/backends/blobref.py)."""

from __future__ import annotations

import io
import random
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from archive.backends.blobref import split
from archive.backends.blobs import BlobCorrupt, FolderBlobStore
from archive.maintenance.verify import verify
from archive.store import Archive
from archive.urls import site_of
from tests.archive_support import make_page, paragraphs, sql, tiny_parse


def templated(seed: int, template: int = 0) -> bytes:
    """A page of a site: 40 kB of the site's own scripts and navigation around new text."""
    rng = random.Random(template)
    links = [(rng.randrange(10**6), paragraphs(rng.randrange(999), 1, 6)[0]) for _ in range(400)]
    chrome = "".join(f'<li><a href="/section/{n}">{text}</a></li>' for n, text in links)
    script = "var config = {" + ",".join(f'"k{i}": {rng.random()}' for i in range(800)) + "};"
    paras = "".join(f"<p>{p}</p>" for p in paragraphs(seed, 8, 60))
    return (
        f"<!doctype html><html><head><title>Story {seed}</title><script>{script}</script>"
        f"</head><body><nav><ul>{chrome}</ul></nav><article><h1>Story {seed}</h1>"
        f"<time datetime=2012-05-09>May 9</time>{paras}</article></body></html>"
    ).encode()


def store(arch: Archive, url: str, body: bytes) -> str:
    page = make_page(url, body)
    arch.store(page, tiny_parse(page, "site"), source="site")
    return page.sha256


def blob_file(root: Path, sha: str) -> Path:
    return root / "raw" / sha[:2] / f"{sha}.html.zst"


def test_later_pages_of_a_site_are_stored_against_its_first(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    bodies = [templated(n) for n in range(5)]
    with open_archive(tmp_path) as arch:
        shas = [store(arch, f"https://www.news.example/a/{n}", b) for n, b in enumerate(bodies)]
        assert arch.blobs.reference(shas[0]) is None
        assert [arch.blobs.reference(s) for s in shas[1:]] == [shas[0]] * 4
        for sha, body in zip(shas, bodies, strict=True):
            assert arch.blobs.get(sha) == body
        alone = len(zstandard.ZstdCompressor(level=6).compress(bodies[1]))
        assert blob_file(tmp_path, shas[1]).stat().st_size < 0.5 * alone
        assert verify(arch).ok


def test_a_referenced_blob_is_standard_zstd(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    first, second = templated(1), templated(2)
    with open_archive(tmp_path) as arch:
        ref = store(arch, "https://news.example/a/1", first)
        sha = store(arch, "https://news.example/a/2", second)
    packed = blob_file(tmp_path, sha).read_bytes()
    assert split(packed)[0] == ref
    # any zstd reader given the reference page as a dictionary steps over the header frame
    dictionary = zstandard.ZstdCompressionDict(first, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    reader = zstandard.ZstdDecompressor(dict_data=dictionary).stream_reader(
        io.BytesIO(packed), read_across_frames=True
    )
    assert reader.read() == second


@pytest.mark.skipif(shutil.which("zstd") is None, reason="no zstd command on this machine")
def test_the_zstd_command_reads_a_referenced_blob(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    first, second = templated(1), templated(2)
    with open_archive(tmp_path / "a") as arch:
        store(arch, "https://news.example/a/1", first)
        sha = store(arch, "https://news.example/a/2", second)
    (tmp_path / "ref.html").write_bytes(first)
    out = subprocess.run(
        ["zstd", "-d", "-c", "-D", str(tmp_path / "ref.html"), str(blob_file(tmp_path / "a", sha))],
        capture_output=True,
        check=True,
    )
    assert out.stdout == second


def test_references_are_never_chained(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    a, b, c = templated(1), templated(2), templated(3)
    sha = [zstandard_sha(x) for x in (a, b, c)]
    blobs.put(sha[0], a)
    blobs.put(sha[1], b, [sha[0]])
    assert blobs.reference(sha[1]) == sha[0]
    blobs.put(sha[2], c, [sha[1]])  # offered only a page that has a reference itself
    assert blobs.reference(sha[2]) is None
    assert blobs.get(sha[2]) == c


def test_a_page_unlike_the_references_is_stored_alone_and_becomes_one(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path) as arch:
        first = store(arch, "https://news.example/a/1", templated(1, template=0))
        other = store(arch, "https://news.example/live/2", templated(2, template=1))
        third = store(arch, "https://news.example/live/3", templated(3, template=1))
        assert arch.blobs.reference(other) is None
        assert arch.blobs.reference(third) == other
        assert arch.catalog.references("news.example", 3) == [other, first]


def test_references_outlive_the_process(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path) as arch:
        first = store(arch, "https://news.example/a/1", templated(1))
    with open_archive(tmp_path) as arch:
        later = store(arch, "https://www.news.example/a/2", templated(2))
        assert arch.blobs.reference(later) == first
        assert site_of("https://www.news.example/a/2") == "news.example"


def test_sites_do_not_share_references(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path) as arch:
        store(arch, "https://news.example/a/1", templated(1))
        elsewhere = store(arch, "https://other.example/a/2", templated(2))
        assert arch.blobs.reference(elsewhere) is None


def test_a_missing_reference_is_a_clear_error_and_verify_reports_it(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path) as arch:
        ref = store(arch, "https://news.example/a/1", templated(1))
        sha = store(arch, "https://news.example/a/2", templated(2))
        blob_file(tmp_path, ref).unlink()
        with pytest.raises(BlobCorrupt, match="reference"):
            arch.blobs.get(sha)
        report = verify(arch)
        assert not report.ok
        assert any(sha in p and "reference" in p for p in report.problems)


def test_a_damaged_reference_header_is_corruption(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path) as arch:
        store(arch, "https://news.example/a/1", templated(1))
        sha = store(arch, "https://news.example/a/2", templated(2))
    path = blob_file(tmp_path, sha)
    packed = bytearray(path.read_bytes())
    packed[10] ^= 0xFF  # inside the label
    path.write_bytes(bytes(packed))
    blobs = FolderBlobStore(tmp_path)
    with pytest.raises(BlobCorrupt):
        blobs.get(sha)


def test_an_unreadable_reference_is_skipped_when_storing(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    a, b = templated(1), templated(2)
    blobs.put(zstandard_sha(a), a)
    path = blob_file(tmp_path, zstandard_sha(a))
    path.write_bytes(path.read_bytes()[:-20])  # truncated on disk
    assert blobs.put(zstandard_sha(b), b, [zstandard_sha(a)])
    assert blobs.reference(zstandard_sha(b)) is None
    assert blobs.get(zstandard_sha(b)) == b


def test_gzip_archives_store_every_page_alone(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    with open_archive(tmp_path, codec="gzip") as arch:
        store(arch, "https://news.example/a/1", templated(1))
        sha = store(arch, "https://news.example/a/2", templated(2))
        assert arch.blobs.reference(sha) is None
        assert arch.blobs.get(sha) == templated(2)


def zstandard_sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_big_page_is_never_a_reference(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    big = templated(1) + b"<!-- " + bytes(random.Random(1).randbytes(1_300_000).hex(), "ascii")
    with open_archive(tmp_path) as arch:
        store(arch, "https://news.example/a/1", big)
        assert arch.catalog.references("news.example", 3) == []
        later = store(arch, "https://news.example/a/2", templated(2))
        assert arch.blobs.reference(later) is None
        assert arch.catalog.references("news.example", 3) == [later]
    blobs = FolderBlobStore(tmp_path / "b")
    blobs.put(zstandard_sha(big), big)
    assert blobs.put(zstandard_sha(templated(3)), templated(3), [zstandard_sha(big)])
    assert blobs.reference(zstandard_sha(templated(3))) is None


def test_a_site_of_pages_unlike_each_other_keeps_a_short_list(
    open_archive: Callable[..., Archive], tmp_path: Path
) -> None:
    rng = random.Random(5)
    with open_archive(tmp_path) as arch:
        shas = [
            store(arch, f"https://noise.example/{n}", templated(n, template=rng.randrange(10**9)))
            for n in range(12)
        ]
        assert all(arch.blobs.reference(s) is None for s in shas)
        kept = sql(arch, "SELECT count(*) FROM archive_references")[0][0]
        assert kept == 8
        assert arch.catalog.references("noise.example", 3) == shas[::-1][:3]


def test_an_archive_made_before_references_is_upgraded_on_open(tmp_path: Path) -> None:
    import sqlite3

    with Archive.open(tmp_path) as arch:
        first = store(arch, "https://news.example/a/1", templated(1))
    db = sqlite3.connect(tmp_path / "catalog.sqlite")
    db.execute("DROP TABLE archive_references")
    db.execute("UPDATE archive_info SET value = '1' WHERE key = 'schema'")
    db.commit()
    db.close()
    with Archive.open(tmp_path) as arch:
        assert arch.blobs.get(first) == templated(1)
        later = store(arch, "https://news.example/a/2", templated(2))
        assert arch.blobs.reference(later) is None  # the old archive named no references yet
        assert arch.catalog.references("news.example", 3) == [later]
        assert verify(arch).ok


def test_a_frame_claiming_gigabytes_is_corruption_not_an_allocation(tmp_path: Path) -> None:
    blobs = FolderBlobStore(tmp_path)
    data = templated(1) * 4
    sha = zstandard_sha(data)
    blobs.put(sha, data)
    path = blob_file(tmp_path, sha)
    packed = bytearray(path.read_bytes())
    fhd = packed[4]
    single, dict_flag, fcs_flag = (fhd >> 5) & 1, fhd & 3, fhd >> 6
    at = 5 + (0 if single else 1) + (0, 1, 2, 4)[dict_flag]
    width = (1 if single else 0, 2, 4, 8)[fcs_flag]
    assert width == 4  # a page over 64 kB
    packed[at : at + width] = b"\xff\xff\xff\xff"  # now claims 4 GiB
    path.write_bytes(bytes(packed))
    with pytest.raises(BlobCorrupt, match="claims"):
        blobs.get(sha)


def test_stats_say_how_many_pages_a_reference_served_and_what_it_saved(tmp_path: Path) -> None:
    from archive.maintenance.stats import stats

    bodies = [templated(n) for n in range(4)]
    with Archive.open(tmp_path) as arch:
        for n, body in enumerate(bodies):
            store(arch, f"https://www.news.example/a/{n}", body)
        store(arch, "https://elsewhere.example/b/1", templated(99, template=7))
        refs = stats(arch).references
        alone = sum(len(zstandard.ZstdCompressor(level=6).compress(b)) for b in bodies[1:])
        assert refs.pages == 3  # the site's first page and the other site's stand alone
        assert refs.raw_bytes == sum(len(b) for b in bodies[1:])
        assert refs.alone_bytes == alone
        assert 0 < refs.stored_bytes < 0.5 * alone
        assert refs.saved == alone - refs.stored_bytes
        line = next(x for x in stats(arch).lines() if "reference page" in x)
        assert line.startswith("stored against a reference page: 3 of 5 raw pages")
        assert f"saved {refs.saved} bytes" in line
