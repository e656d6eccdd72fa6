"""Fixity: the sha256 of every file the archive writes, recorded in the catalog as it is written.

Raw pages prove themselves (their name is the sha256 of their bytes), but a sidecar or a record
version does not: without a checksum kept elsewhere, an edited headline or a flipped bit in a
record reads back as the truth. So every write of a file (raw page, fetch sidecar, record
version; a reference page is a raw page that others are compressed against) reports its path
and bytes through a `WriteHook`, and the archive records `FileRow(path, kind, sha256, size)`
in the same catalog transaction. The hash is of bytes already in memory: no file is read back.
`archive.maintenance.verify` compares the files with these rows. Paths are relative to the
archive root, '/'-separated, so an archive moved or restored elsewhere keeps its checksums.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

from archive.atomic import TEMP_PREFIX
from archive.backends.catalog import FileRow
from archive.layout import version_of

WriteHook = Callable[[str, bytes], None]  # (path relative to the root, the bytes written)

RAW, SIDECAR, RECORD = "raw", "sidecar", "record"
KINDS = (RAW, SIDECAR, RECORD)
FULL_SCOPE = "full"  # a verify of every file (others: "sample N", "since DATE")
_RAW_SUFFIXES = (".html.zst", ".html.gz")
_SIDECAR_SUFFIXES = (".meta.json", ".fetch.json")
_CHUNK = 1 << 20


def kind_of(path: str) -> str | None:
    """What an archive file is, from its relative path; None for anything the archive does not
    write there (temp files, stray files of other tools)."""
    parts = path.split("/")
    name = parts[-1]
    if name.startswith((TEMP_PREFIX, ".")):
        return None
    if parts[0] == "raw" and len(parts) == 3:
        if name.endswith(_RAW_SUFFIXES):
            return RAW
        if name.endswith(_SIDECAR_SUFFIXES):
            return SIDECAR
    if parts[0] == "articles" and len(parts) == 4 and version_of(Path(name)) is not None:
        return RECORD
    return None


def file_row(path: str, data: bytes, written_at: str) -> FileRow:
    kind = kind_of(path)
    if kind is None:
        raise ValueError(f"not an archive file: {path}")
    return FileRow(path, kind, hashlib.sha256(data).hexdigest(), len(data), written_at)


def hash_file(path: Path) -> tuple[str, int] | None:
    """(sha256, size) of a file on disk, or None when it is not there."""
    digest = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest(), size


def archive_files(root: Path) -> Iterator[str]:
    """Every file under raw/ and articles/ that the archive writes, as relative paths."""
    for top in ("raw", "articles"):
        base = root / top
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            rel = path.relative_to(root).as_posix()
            if kind_of(rel) is not None and path.is_file():
                yield rel
