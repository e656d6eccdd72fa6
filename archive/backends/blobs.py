"""The blob store: raw response bytes, content-addressed by sha256, with their fetch sidecars.

`BlobStore` is the seam (an S3-compatible store can implement it later); `FolderBlobStore` is
the embedded default: `raw/ab/<sha256>.html.zst` (or `.html.gz`) beside
`raw/ab/<sha256>.meta.json` (the first fetch that gave these bytes) and one
`raw/ab/<sha256>.<fetch>.fetch.json` per later fetch of them. Blobs are immutable: identical
bytes are stored once, and `get` checks the hash so corruption is never handed out silently.
A zstd blob may be compressed against an earlier page of the same site (`archive.backends.blobref`).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import zstandard

from archive.atomic import make_dirs, write_atomic, write_new
from archive.backends import blobref
from archive.errors import ArchiveError, StorageError
from archive.intents import Intents
from archive.journal import Journal
from archive.layout import Layout, check_sha, relative
from archive.record import dumps

CODECS = {"zstd": ".html.zst", "gzip": ".html.gz"}
ZSTD_LEVEL = 6  # 0.176x of the corpus at ~160 MB/s; level 3 gives 0.191x at ~475 MB/s
GZIP_LEVEL = 6
# zstd's fastest level makes pages of the shared corpus 1.005x to 1.26x (median 1.13x) the size
# of level 6: a reference at most this share of WORTH_IT of the fast size is certainly worth it
# while level 1 is under 1.33x level 6, so pack_blob decides as if it had compressed alone
ESTIMATE_MARGIN = 0.75


class BlobMissing(ArchiveError):
    """A raw page the catalog knows of is not in the blob store."""


class BlobCorrupt(ArchiveError):
    """A stored blob does not decompress, or its bytes no longer match their sha256."""


class BlobStore(Protocol):
    """Raw bytes by sha256 plus the JSON sidecars of the fetches that returned them."""

    def put(
        self, sha: str, data: bytes, like: Sequence[str] = (), packed: bytes | None = None
    ) -> bool:
        """Store `data` under its sha256 unless present; True when it was new. `like` names
        stored pages of the same site, most recent first, that it may be compressed against;
        `packed`: what `pack(data, like)` gave (computed elsewhere, e.g. in a worker)."""
        ...

    def pack(self, data: bytes, like: Sequence[str] = ()) -> bytes:
        """The bytes `put` would store for `data` (pure: writes nothing)."""
        ...

    def reference(self, sha: str) -> str | None:
        """The stored page `sha` was compressed against, or None when it stands alone."""
        ...

    def get(self, sha: str) -> bytes: ...

    def has(self, sha: str) -> bool: ...

    def iter(self) -> Iterator[str]:
        """Every stored sha256."""
        ...

    def stored_size(self, sha: str) -> int: ...

    def alone_size(self, sha: str) -> int:
        """What the page would take compressed on its own (to tell what a reference saved)."""
        ...

    def put_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> bool:
        """The first fetch's sidecar when `fetch_id` is None, else a later fetch's."""
        ...

    def replace_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> None:
        """Overwrite a fetch's sidecar (atomically): only when a fetch is filed anew."""
        ...

    def sidecars(self, sha: str) -> list[dict[str, Any]]:
        """Every fetch sidecar of `sha`, the first fetch's first."""
        ...

    on_write: Callable[[str, bytes], None] | None
    """Called with (path relative to the archive root, bytes) after each file it writes, so
    the archive can record the file's checksum (archive.fixity)."""

    def opener(self) -> Callable[[], BlobStore]:
        """A picklable function that opens this same store again (in a worker process)."""
        ...


def _size(path: Path) -> int | None:
    """The size of the file at `path`, None when there is none (or it cannot be looked at)."""
    try:
        return path.stat().st_size
    except OSError:
        return None


def pack_blob(
    codecs: blobref.Codecs,
    codec: str,
    level: int,
    data: bytes,
    like: Sequence[str],
    usable: Callable[[str], bool],
    get: Callable[[str], bytes],
) -> bytes:
    """What a blob store keeps for `data`: gzip, or zstd alone, or zstd against the best
    usable page of `like` when that takes at most WORTH_IT of the size alone.

    A page its reference serves well is not compressed alone at the archive's level (the
    dearest step of a store): the size alone is first bounded with zstd's fastest level, about
    4x cheaper (`Codecs.estimate`), and only a reference result near the threshold is
    compared with the real size alone."""
    if codec != "zstd":
        return gzip.compress(data, compresslevel=level, mtime=0)
    best: bytes | None = None
    for ref in like:
        if not usable(ref):
            continue
        try:
            packed = blobref.header(ref) + codecs.compress_against(
                ref, functools.partial(get, ref), data
            )
        except ArchiveError:  # an unreadable reference: verify reports it, skip it here
            continue
        if best is None or len(packed) < len(best):
            best = packed
    if best is not None and len(best) <= blobref.WORTH_IT * ESTIMATE_MARGIN * codecs.estimate(data):
        return best
    alone = codecs.compress(data)
    if best is not None and len(best) <= blobref.WORTH_IT * len(alone):
        return best
    return alone


def unpack_blob(
    codecs: blobref.Codecs,
    sha: str,
    packed: bytes,
    zstd: bool,
    reference_bytes: Callable[[str, str], bytes],
) -> bytes:
    """The page a stored blob holds, checked against its sha256 (BlobCorrupt otherwise);
    `reference_bytes(sha, ref)` gives the page it was compressed against."""
    try:
        if zstd:
            ref, frame = blobref.split(packed)
            if ref is None:
                data = codecs.decompress(frame)
            elif ref == sha:
                raise BlobCorrupt(f"raw page {sha} names itself as its reference")
            else:
                data = codecs.decompress_against(
                    ref, functools.partial(reference_bytes, sha, ref), frame
                )
        else:
            data = gzip.decompress(packed)
    except (zstandard.ZstdError, OSError, EOFError, zlib.error, blobref.BadBlob) as exc:
        raise BlobCorrupt(f"raw page {sha} does not decompress: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != sha:
        raise BlobCorrupt(f"raw page {sha} does not match its sha256")
    return data


def path_alone(stored: bytes | None) -> bool:
    """Whether a zstd blob file's bytes are one frame, compressed against no reference."""
    return stored is not None and blobref.reference_in(stored[: blobref.HEADER_SIZE]) is None


class FolderBlobStore:
    """Blobs as compressed files under `raw/`, two-character fan-out (Scrapy's httpcache)."""

    def __init__(
        self,
        root: Path,
        *,
        codec: str = "zstd",
        level: int | None = None,
        durable: bool = True,
        keep_references: int = 0,
    ) -> None:
        if codec not in CODECS:
            raise ArchiveError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
        self.layout = Layout(root, CODECS[codec])
        self._raw = f"{self.layout.raw_dir}/"  # `_existing` builds its paths from this
        self.codec = codec
        self.level = level if level is not None else (ZSTD_LEVEL if codec == "zstd" else GZIP_LEVEL)
        self.durable = durable
        self._zstd = blobref.Codecs(self.level)
        # `pack` keeps the reference pages it read (read, decompressed and checked once), up to
        # `keep_references` bytes: a crawl of many sites compresses each page against its site's
        # reference, and only a few of the compressors built from them stay warm (Codecs)
        self.keep_references = keep_references
        self._references: OrderedDict[str, bytes] = OrderedDict()
        self._references_size = 0
        # and their files as stored (zstd alone, ~6x smaller), up to as many bytes again: a
        # crawl of more sites than the pages kept cycles through them, and evicted the page it
        # needs next each time; from its file kept here it is one decompression away, not a
        # read, a decompression and a sha256
        self._reference_files: OrderedDict[str, bytes] = OrderedDict()
        self._reference_files_size = 0
        self.on_write: Callable[[str, bytes], None] | None = None
        # set by Archive: inside a batch, files are journaled instead of fsynced one by one
        self.journal: Journal | None = None
        # set by Archive: new files are noted before they are written (archive.intents)
        self.intents: Intents | None = None
        # set by a cluster's Archive: told of a file found already there (Archive.adopt)
        self.on_reuse: Callable[[str], None] | None = None

    def _write_new(self, path: Path, data: bytes, *, absent: bool = False) -> bool:
        """Write an immutable file unless it is there (`absent`: the caller just saw it is
        not); one stat of the path serves the intents note and the journaled write."""
        queued = self._queued(path)
        size = len(queued) if queued is not None else None if absent else _size(path)
        if self.intents is not None and size is None:
            self.intents.note(path, data)
        journal = self.journal
        if journal is None or not journal.active:
            written = write_new(path, data, durable=self.durable)
        else:
            written = self._journaled(journal, path, data, size)
        if written and self.on_write is not None:
            self.on_write(relative(path, self.layout.root), data)
        elif not written and self.on_reuse is not None:
            self.on_reuse(relative(path, self.layout.root))
        return written

    def _journaled(self, journal: Journal, path: Path, data: bytes, size: int | None) -> bool:
        # an empty file is what a power cut leaves of a write that was never synced
        if size is not None and size > 0:
            return False
        journal.write(path, data)  # on the journal's writer thread, when it has one
        return True

    def _queued(self, path: Path | str) -> bytes | None:
        """The bytes of a file queued in this batch and not on disk yet (archive.filewriter)."""
        journal = self.journal
        return journal.pending(path) if journal is not None else None

    def _read(self, path: Path) -> bytes:
        """A file's bytes, a queued one's included."""
        queued = self._queued(path)
        return queued if queued is not None else path.read_bytes()

    def opener(self) -> Callable[[], BlobStore]:
        return functools.partial(
            FolderBlobStore,
            self.layout.root,
            codec=self.codec,
            level=self.level,
            durable=self.durable,
        )

    def pack(self, data: bytes, like: Sequence[str] = ()) -> bytes:
        return pack_blob(
            self._zstd, self.codec, self.level, data, like, self._usable_reference, self._reference
        )

    def _reference(self, sha: str) -> bytes:
        """A reference page's bytes for `pack`, kept when `keep_references` allows."""
        kept = self._references.get(sha)
        if kept is not None:
            self._references.move_to_end(sha)
            return kept
        stored = self._reference_files.get(sha)
        if stored is not None:
            self._reference_files.move_to_end(sha)
            # checked against its sha256 when it was read: the same bytes decompress the same
            data = self._zstd.decompress(stored)
        else:
            data, stored = self._get(sha)
            if self.keep_references and stored is not None and path_alone(stored):
                self._reference_files[sha] = stored
                self._reference_files_size += len(stored)
                while self._reference_files_size > self.keep_references:
                    _, dropped = self._reference_files.popitem(last=False)
                    self._reference_files_size -= len(dropped)
        if self.keep_references and len(data) <= self.keep_references:
            self._references[sha] = data
            self._references_size += len(data)
            while self._references_size > self.keep_references:
                _, dropped = self._references.popitem(last=False)
                self._references_size -= len(dropped)
        return data

    def _usable_reference(self, ref: str) -> bool:
        """Only a page stored alone can be a reference (chains stay one link long), and only
        a page of ordinary size."""
        if ref in self._references or ref in self._reference_files:
            # read as a reference before: its file was one then
            return True
        try:
            path = self._existing(check_sha(ref))
            if path is None or not path.name.endswith(".zst"):
                return False
            queued = self._queued(path)
            if queued is not None:
                return blobref.can_be_reference(queued[: blobref.PREFIX_SIZE])
            with path.open("rb") as fh:
                return blobref.can_be_reference(fh.read(blobref.PREFIX_SIZE))
        except (ArchiveError, OSError):
            return False

    def _existing(self, sha: str) -> Path | None:
        """The blob's file (`sha` checked by the caller), queued or on disk, else None. From
        strings, and a Path only for a file found: a crawl asks twice for every page it
        stores, and three pathlib joins a suffix were most of the cost (38 -> 9 us)."""
        stem = f"{self._raw}{sha[:2]}/{sha}"  # as `layout.blob` spells it
        for suffix in CODECS.values():
            name = stem + suffix
            # queued first: a file leaves the queue only once it is on disk
            if self._queued(name) is not None or os.path.exists(name):  # noqa: PTH110
                return Path(name)
        return None

    def put(
        self, sha: str, data: bytes, like: Sequence[str] = (), packed: bytes | None = None
    ) -> bool:
        check_sha(sha)
        existing = self._existing(sha)
        if existing is not None:
            if self.on_reuse is not None:
                self.on_reuse(relative(existing, self.layout.root))
            return False
        if packed is None:
            packed = self.pack(data, [ref for ref in like if ref != sha])
        return self._write_new(self.layout.blob(sha), packed, absent=True)

    def packed_facts(self, packed: bytes) -> tuple[str | None, int]:
        """(reference, stored size) of the blob `put` writes from `packed`: what `reference`
        and `stored_size` would read back from the file just written."""
        ref = blobref.reference_in(packed[: blobref.HEADER_SIZE]) if self.codec == "zstd" else None
        return ref, len(packed)

    def reference(self, sha: str) -> str | None:
        path = self._existing(check_sha(sha))
        if path is None or not path.name.endswith(".zst"):
            return None
        queued = self._queued(path)
        if queued is not None:
            return blobref.reference_in(queued[: blobref.HEADER_SIZE])
        try:
            with path.open("rb") as fh:
                return blobref.reference_in(fh.read(blobref.HEADER_SIZE))
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc

    def get(self, sha: str) -> bytes:
        return self._get(sha)[0]

    def _get(self, sha: str) -> tuple[bytes, bytes | None]:
        """The page, and its file's bytes when the file is zstd (else None)."""
        path = self._existing(check_sha(sha))
        if path is None:
            raise BlobMissing(f"raw page {sha} is missing from {self.layout.raw_dir}")
        try:
            packed = self._read(path)
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        zstd = path.name.endswith(".zst")
        data = unpack_blob(self._zstd, sha, packed, zstd, self._reference_bytes)
        return data, packed if zstd else None

    def _reference_bytes(self, sha: str, ref: str) -> bytes:
        if self.reference(ref) is not None:
            raise BlobCorrupt(f"raw page {sha}: its reference {ref} has a reference itself")
        try:
            return self.get(ref)
        except ArchiveError as exc:
            raise BlobCorrupt(f"raw page {sha}: its reference is unreadable: {exc}") from exc

    def has(self, sha: str) -> bool:
        return self._existing(check_sha(sha)) is not None

    def iter(self) -> Iterator[str]:
        raw = self.layout.raw_dir
        if not raw.is_dir():
            return
        for fan in sorted(raw.iterdir()):
            if not fan.is_dir():
                continue
            for path in sorted(fan.iterdir()):
                name = path.name
                for suffix in CODECS.values():
                    if name.endswith(suffix) and not name.startswith("."):
                        yield name[: -len(suffix)]

    def stored_size(self, sha: str) -> int:
        path = self._existing(check_sha(sha))
        if path is None:
            return 0
        queued = self._queued(path)
        return len(queued) if queued is not None else path.stat().st_size

    def alone_size(self, sha: str) -> int:
        data = self.get(sha)
        if self.codec != "zstd":
            return len(gzip.compress(data, compresslevel=self.level, mtime=0))
        return len(self._zstd.compress(data))

    def put_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> bool:
        path = self.layout.meta(sha) if fetch_id is None else self.layout.fetch(sha, fetch_id)
        return self._write_new(path, dumps(doc).encode("utf-8"))

    def replace_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> None:
        path = self.layout.meta(sha) if fetch_id is None else self.layout.fetch(sha, fetch_id)
        self.rewrite(path, dumps(doc).encode("utf-8"))  # its new checksum is recorded too

    def sidecars(self, sha: str) -> list[dict[str, Any]]:
        if self.journal is not None:
            self.journal.drain()  # the folder as it is, its queued files in place
        first = self.layout.meta(sha)
        paths = [first] if first.exists() else []
        # the names `<sha>.*.fetch.json`, from a listing: a glob would compile a pattern for
        # each page, which cost a rebuild a fifth of its time
        head, tail = f"{check_sha(sha)}.", ".fetch.json"
        try:
            names = [entry.name for entry in first.parent.iterdir()]
        except FileNotFoundError:
            names = []
        paths += sorted(
            first.parent / name
            for name in names
            if name.startswith(head) and name.endswith(tail) and len(name) >= len(head + tail)
        )
        docs = []
        for path in paths:
            try:
                docs.append(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError) as exc:
                raise BlobCorrupt(f"unreadable sidecar {path.name}: {exc}") from exc
        # later fetches in the order they happened
        return docs[:1] + sorted(docs[1:], key=lambda d: str(d.get("fetched_at", "")))

    def ensure_root(self) -> None:
        make_dirs(self.layout.raw_dir)

    def rewrite(self, path: Path, data: bytes) -> None:
        write_atomic(path, data, durable=self.durable)
        if self.on_write is not None:
            self.on_write(relative(path, self.layout.root), data)
