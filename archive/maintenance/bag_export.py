"""Export the archive (or the part of it a source and date select) as a BagIt bag (RFC 8493).

A bag is the package libraries and archives use to move and audit collections: the payload
under `data/` (here the archive's own files, as they sit under its root: `raw/` blobs and
sidecars, `articles/` record versions), `manifest-sha256.txt` with the sha256 of every payload
file, `bag-info.txt` naming the tool and version, and `tagmanifest-sha256.txt` over the tag
files. The catalog is not in the bag: `morgue import DIR` rebuilds it from the files.

The manifest is the archive's own fixity record: each file is copied from the bytes it was
checked against (the sha256 recorded when it was written), so a file that changed since is
never exported under a checksum that would make it look sound. The bag is written into a temp
folder beside `out` and renamed into place when complete.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from archive.atomic import TEMP_PREFIX, make_dirs, write_atomic
from archive.backends.catalog import FileRow
from archive.errors import ArchiveError
from archive.fixity import RECORD, archive_files

if TYPE_CHECKING:
    from archive.store import Archive

BAGIT_VERSION = "1.0"
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"


class BagError(ArchiveError):
    """A bag that cannot be written, or read back."""


@dataclass(frozen=True, slots=True)
class BagSummary:
    files: int
    bytes: int


def export_bag(
    archive: Archive,
    out: Path,
    *,
    tool: str,
    source: str | None = None,
    since: str | None = None,
    today: date | None = None,
) -> BagSummary:
    """Write the selected files as a bag at `out` (which must not exist yet). `tool` names
    the software and version for bag-info.txt, e.g. "morgue 0.1.0"."""
    if out.exists():
        raise BagError(f"{out} already exists: give a new folder for the bag")
    rows = _selected(archive, source, since)
    tmp = out.parent / f"{TEMP_PREFIX}{out.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        total = 0
        manifest: list[str] = []
        for row in rows:
            data = _checked_bytes(archive, row)
            write_atomic(tmp / "data" / row.path, data, durable=False)
            manifest.append(f"{row.sha256}  data/{row.path}\n")
            total += len(data)
        info = {
            "Bag-Software-Agent": tool,
            "Bagging-Date": (today or date.today()).isoformat(),
            "Payload-Oxum": f"{total}.{len(manifest)}",
            "External-Description": "A morgue news archive: raw pages as served (raw/), fetch "
            "sidecars, and versioned article records (articles/). `morgue import` restores it.",
        }
        if source is not None:
            info["Morgue-Source"] = source
        if since is not None:
            info["Morgue-Since"] = since
        tags = {
            "bagit.txt": f"BagIt-Version: {BAGIT_VERSION}\nTag-File-Character-Encoding: UTF-8\n",
            "bag-info.txt": "".join(f"{k}: {v}\n" for k, v in info.items()),
            MANIFEST: "".join(manifest),
        }
        tag_lines = []
        for name, text in tags.items():
            data = text.encode("utf-8")
            write_atomic(tmp / name, data, durable=False)
            tag_lines.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        write_atomic(tmp / TAG_MANIFEST, "".join(tag_lines).encode("utf-8"), durable=False)
        make_dirs(out.parent)
        tmp.rename(out)
    except OSError as exc:
        raise BagError(f"cannot write the bag {out}: {exc.strerror or exc}") from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return BagSummary(files=len(manifest), bytes=total)


def _checked_bytes(archive: Archive, row: FileRow) -> bytes:
    try:
        data = (archive.root / row.path).read_bytes()
    except FileNotFoundError:
        raise BagError(f"{row.path} is missing (morgue verify)") from None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise BagError(f"{row.path} changed since it was written (morgue verify)")
    return data


def _selected(archive: Archive, source: str | None, since: str | None) -> list[FileRow]:
    """Every recorded file, or for a selection: its records, the raw pages they and its
    fetches came from, the pages those are compressed against, and their sidecars."""
    rows = archive.catalog.files()
    if source is None and since is None:
        _all_recorded(rows, archive_files(archive.root))
        return rows
    cat = archive.catalog
    records = {
        archive.layout.version(v.source, v.article_id, v.version)
        .relative_to(archive.root)
        .as_posix()
        for v in cat.iter_versions(source, since)
    }
    shas = {v.raw_sha256 for v in cat.iter_versions(source, since)}
    shas |= {sha for _fid, sha in cat.fetched_raw(source, since)}
    shas |= _references(archive, shas)
    chosen = [
        row
        for row in rows
        if (row.path in records if row.kind == RECORD else Path(row.path).name[:64] in shas)
    ]
    _all_recorded(chosen, records)
    return chosen


def _all_recorded(rows: list[FileRow], wanted: Iterable[str]) -> None:
    """A file without a recorded checksum cannot go into the manifest on our word."""
    have = {row.path for row in rows}
    unknown = [path for path in wanted if path not in have]
    if unknown:
        raise BagError(
            f"{len(unknown)} file(s) have no recorded checksum, e.g. {unknown[0]}: "
            "run morgue verify --repair first"
        )


def _references(archive: Archive, shas: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for sha in shas:
        try:
            ref = archive.blobs.reference(sha)
        except ArchiveError:
            continue
        if ref is not None:
            found.add(ref)
    return found
