"""The blob store: raw response bytes, content-addressed by sha256, with their fetch sidecars.

`BlobStore` is the seam (an S3-compatible store can implement it later); `FolderBlobStore` is
the embedded default: `raw/ab/<sha256>.html.zst` (or `.html.gz`) beside
`raw/ab/<sha256>.meta.json` (the first fetch that gave these bytes) and one
`raw/ab/<sha256>.<fetch>.fetch.json` per later fetch of them. Blobs are immutable: identical
bytes are stored once, and `get` checks the hash so corruption is never handed out silently.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import zstandard

from archive.atomic import make_dirs, write_atomic, write_new
from archive.errors import ArchiveError, StorageError
from archive.layout import Layout, check_sha
from archive.record import dumps

CODECS = {"zstd": ".html.zst", "gzip": ".html.gz"}
ZSTD_LEVEL = 6  # 0.176x of the corpus at ~160 MB/s; level 3 gives 0.191x at ~475 MB/s
GZIP_LEVEL = 6


class BlobMissing(ArchiveError):
    """A raw page the catalog knows of is not in the blob store."""


class BlobCorrupt(ArchiveError):
    """A stored blob does not decompress, or its bytes no longer match their sha256."""


class BlobStore(Protocol):
    """Raw bytes by sha256 plus the JSON sidecars of the fetches that returned them."""

    def put(self, sha: str, data: bytes) -> bool:
        """Store `data` under its sha256 unless present; True when it was new."""
        ...

    def get(self, sha: str) -> bytes: ...

    def has(self, sha: str) -> bool: ...

    def iter(self) -> Iterator[str]:
        """Every stored sha256."""
        ...

    def stored_size(self, sha: str) -> int: ...

    def put_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> bool:
        """The first fetch's sidecar when `fetch_id` is None, else a later fetch's."""
        ...

    def sidecars(self, sha: str) -> list[dict[str, Any]]:
        """Every fetch sidecar of `sha`, the first fetch's first."""
        ...


class FolderBlobStore:
    """Blobs as compressed files under `raw/`, two-character fan-out (Scrapy's httpcache)."""

    def __init__(
        self,
        root: Path,
        *,
        codec: str = "zstd",
        level: int | None = None,
        durable: bool = True,
    ) -> None:
        if codec not in CODECS:
            raise ArchiveError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
        self.layout = Layout(root, CODECS[codec])
        self.codec = codec
        self.level = level if level is not None else (ZSTD_LEVEL if codec == "zstd" else GZIP_LEVEL)
        self.durable = durable

    def _compress(self, data: bytes) -> bytes:
        if self.codec == "zstd":
            return zstandard.ZstdCompressor(level=self.level).compress(data)
        return gzip.compress(data, compresslevel=self.level, mtime=0)

    def _existing(self, sha: str) -> Path | None:
        for suffix in CODECS.values():
            path = self.layout.blob(sha, suffix)
            if path.exists():
                return path
        return None

    def put(self, sha: str, data: bytes) -> bool:
        check_sha(sha)
        if self._existing(sha) is not None:
            return False
        return write_new(self.layout.blob(sha), self._compress(data), durable=self.durable)

    def get(self, sha: str) -> bytes:
        path = self._existing(check_sha(sha))
        if path is None:
            raise BlobMissing(f"raw page {sha} is missing from {self.layout.raw_dir}")
        try:
            packed = path.read_bytes()
        except OSError as exc:
            raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            if path.name.endswith(".zst"):
                data = zstandard.ZstdDecompressor().decompress(packed)
            else:
                data = gzip.decompress(packed)
        except (zstandard.ZstdError, OSError, EOFError, zlib.error) as exc:
            raise BlobCorrupt(f"raw page {sha} does not decompress: {exc}") from exc
        if hashlib.sha256(data).hexdigest() != sha:
            raise BlobCorrupt(f"raw page {sha} does not match its sha256")
        return data

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
        return path.stat().st_size if path else 0

    def put_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> bool:
        path = self.layout.meta(sha) if fetch_id is None else self.layout.fetch(sha, fetch_id)
        return write_new(path, dumps(doc).encode("utf-8"), durable=self.durable)

    def sidecars(self, sha: str) -> list[dict[str, Any]]:
        first = self.layout.meta(sha)
        paths = [first] if first.exists() else []
        paths += sorted(first.parent.glob(f"{check_sha(sha)}.*.fetch.json"))
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
