"""Import a BagIt bag written by `morgue export --format bagit` back into an archive.

The bag is validated as RFC 8493 asks before anything is copied: `bagit.txt` is there, every
payload file is in `manifest-sha256.txt` and every manifest entry is a payload file with that
sha256, and `Payload-Oxum` (if given) matches. Then each payload file is copied into the
archive (from the bytes just checked), its checksum recorded as the manifest gives it, and the
catalog is rebuilt from the files. A file the archive already holds with the same bytes is left
alone; one that differs is a conflict: it is not overwritten and is reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archive.atomic import write_atomic
from archive.errors import ArchiveError
from archive.fixity import file_row, kind_of
from archive.maintenance.bag_export import MANIFEST, BagError
from archive.maintenance.reindex import reindex
from archive.record import iso_utc

if TYPE_CHECKING:
    from archive.store import Archive


@dataclass
class BagImport:
    copied: int = 0
    already: int = 0  # identical files the archive held already
    conflicts: list[str] = field(default_factory=list)  # differing files, left as they were

    def lines(self) -> list[str]:
        out = [f"bag: {self.copied} files restored, {self.already} already present"]
        out += [f"conflict: {path} differs from the archive's own; kept" for path in self.conflicts]
        return out


def is_bag(path: Path) -> bool:
    return path.is_dir() and (path / "bagit.txt").is_file()


def read_manifest(bag: Path) -> dict[str, str]:
    """payload path (relative to data/) -> sha256, after checking the bag is complete and
    every file matches."""
    _check_declaration(bag)
    try:
        lines = (bag / MANIFEST).read_text("utf-8").splitlines()
    except OSError as exc:
        raise BagError(f"{bag}: no readable {MANIFEST}: {exc.strerror}") from exc
    manifest: dict[str, str] = {}
    for number, line in enumerate(lines, 1):
        digest, _sep, name = line.partition(" ")
        name = name.lstrip(" *")
        if len(digest) != 64 or not name.startswith("data/"):
            raise BagError(f"{bag}/{MANIFEST} line {number}: not `<sha256>  data/<path>`")
        rel = name.removeprefix("data/")
        if kind_of(rel) is None or ".." in rel.split("/"):
            raise BagError(f"{bag}: {name} is not a file of a morgue archive")
        manifest[rel] = digest.lower()
    payload = {p.relative_to(bag / "data").as_posix() for p in (bag / "data").rglob("*")}
    payload = {rel for rel in payload if (bag / "data" / rel).is_file()}
    extra = sorted(payload - manifest.keys())
    if extra:
        raise BagError(f"{bag}: data/{extra[0]} is not in {MANIFEST}")
    missing = sorted(manifest.keys() - payload)
    if missing:
        raise BagError(f"{bag}: data/{missing[0]} is in {MANIFEST} but not in the bag")
    _check_oxum(bag, manifest)
    for rel, digest in sorted(manifest.items()):
        if _sha256_of(bag / "data" / rel) != digest:
            raise BagError(f"{bag}: data/{rel} does not match its sha256 in {MANIFEST}")
    return manifest


def _sha256_of(path: Path) -> str:
    total = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            total.update(chunk)
    return total.hexdigest()


def _check_declaration(bag: Path) -> None:
    try:
        text = (bag / "bagit.txt").read_text("utf-8")
    except OSError as exc:
        raise BagError(f"{bag}: not a bag (no bagit.txt)") from exc
    if not text.startswith("BagIt-Version: "):
        raise BagError(f"{bag}: bagit.txt does not declare a BagIt version")


def _check_oxum(bag: Path, manifest: dict[str, str]) -> None:
    info = bag / "bag-info.txt"
    if not info.is_file():
        return
    for line in info.read_text("utf-8").splitlines():
        if line.startswith("Payload-Oxum:"):
            size = sum((bag / "data" / rel).stat().st_size for rel in manifest)
            if line.split(":", 1)[1].strip() != f"{size}.{len(manifest)}":
                raise BagError(f"{bag}: Payload-Oxum does not match the payload")


def import_bag(archive: Archive, bag: Path) -> BagImport:
    """Validate `bag`, copy its files into `archive` and rebuild the catalog from them."""
    manifest = read_manifest(bag)
    result = BagImport()
    written = iso_utc(archive.now())
    cat = archive.catalog
    with cat.writing():
        for rel, digest in sorted(manifest.items()):
            data = (bag / "data" / rel).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise BagError(f"{bag}: data/{rel} does not match its sha256 in {MANIFEST}")
            target = archive.root / rel
            try:
                held = target.read_bytes()
            except FileNotFoundError:
                held = None
            except OSError as exc:
                raise ArchiveError(f"cannot read {target}: {exc.strerror}") from exc
            if held is None:
                write_atomic(target, data, durable=archive.durable)
                cat.put_file(file_row(rel, data, written))
                result.copied += 1
            elif held == data:
                if cat.file(rel) is None:
                    cat.put_file(file_row(rel, data, written))
                result.already += 1
            else:
                result.conflicts.append(rel)
        reindex(archive)
    return result
