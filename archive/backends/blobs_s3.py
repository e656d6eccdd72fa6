"""The blob store in S3 (or any S3-compatible service): `storage.blobs: s3://bucket/prefix`.

Objects mirror the folder layout under the prefix: `raw/ab/<sha256>.html.zst` (or `.html.gz`),
`raw/ab/<sha256>.meta.json` for the first fetch and `raw/ab/<sha256>.<fetch>.fetch.json` for
later ones, so `aws s3 sync` of a bucket gives a folder the embedded archive reads. Blobs are
immutable and named by their hash: two workers storing the same page write the same object,
which makes a plain PUT safe without a lock. Pages are compressed against an earlier page of
their site as in the folder store (`archive.backends.blobref`); reading a header takes a ranged
GET, not the whole object. Credentials come from the standard AWS environment and config files.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

from archive.backends import blobref
from archive.backends.blobs import (
    CODECS,
    GZIP_LEVEL,
    ZSTD_LEVEL,
    BlobCorrupt,
    BlobMissing,
    pack_blob,
    unpack_blob,
)
from archive.errors import ArchiveError, StorageError
from archive.layout import check_sha
from archive.record import dumps

if TYPE_CHECKING:
    from archive.backends.blobs import BlobStore

_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3BlobStore:
    """Raw pages as objects in a bucket, under a prefix."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        *,
        codec: str = "zstd",
        level: int | None = None,
        reopen: Callable[[], BlobStore] | None = None,
    ) -> None:
        if codec not in CODECS:
            raise ArchiveError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.codec = codec
        self.suffix = CODECS[codec]
        self.level = level if level is not None else (ZSTD_LEVEL if codec == "zstd" else GZIP_LEVEL)
        self._zstd = blobref.Codecs(self.level)
        self._reopen = reopen
        # file checksums (archive.fixity) are kept for the archive folder's own files; a
        # bucket has its own integrity checks (Content-MD5 on every put)
        self.on_write: Callable[[str, bytes], None] | None = None

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        codec: str = "zstd",
        level: int | None = None,
    ) -> S3BlobStore:
        """Open `s3://bucket/prefix` (on `endpoint_url`, an S3-compatible service, if given)."""
        parts = urlsplit(url)
        client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            # retries with backoff when S3 is briefly unavailable (workers pause, then go on)
            config=BotoConfig(retries={"max_attempts": 8, "mode": "standard"}),
        )
        reopen = functools.partial(
            cls.from_url, url, endpoint_url=endpoint_url, region=region, codec=codec, level=level
        )
        return cls(client, parts.netloc, parts.path, codec=codec, level=level, reopen=reopen)

    def opener(self) -> Callable[[], BlobStore]:
        if self._reopen is None:
            raise ArchiveError("this S3 store was built from a client: open it with from_url")
        return self._reopen

    def _key(self, sha: str, tail: str) -> str:
        return f"{self.prefix}raw/{sha[:2]}/{sha}{tail}"

    def _call(self, what: str, fn: Callable[..., Any], **kw: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kw)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise BlobMissing(f"{what}: not in s3://{self.bucket}/{self.prefix}") from exc
            raise StorageError(f"s3://{self.bucket}: {what}: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3://{self.bucket}: {what}: {exc}") from exc

    def _read(self, key: str, end: int | None = None) -> bytes:
        kw: dict[str, Any] = {"Key": key}
        if end is not None:
            kw["Range"] = f"bytes=0-{end - 1}"
        body: bytes = self._call(key, self.client.get_object, **kw)["Body"].read()
        return body

    def _exists(self, key: str) -> bool:
        try:
            self._call(key, self.client.head_object, Key=key)
        except BlobMissing:
            return False
        return True

    def _blob_key(self, sha: str) -> str | None:
        """The key of a stored blob in either codec, or None."""
        for suffix in (self.suffix, *(s for s in CODECS.values() if s != self.suffix)):
            if self._exists(self._key(sha, suffix)):
                return self._key(sha, suffix)
        return None

    def put(
        self, sha: str, data: bytes, like: Sequence[str] = (), packed: bytes | None = None
    ) -> bool:
        check_sha(sha)
        if self._blob_key(sha) is not None:
            return False
        if packed is None:
            packed = self.pack(data, [ref for ref in like if ref != sha])
        self._call(sha, self.client.put_object, Key=self._key(sha, self.suffix), Body=packed)
        return True

    def alone_size(self, sha: str) -> int:
        data = self.get(sha)
        if self.codec != "zstd":
            return len(gzip.compress(data, compresslevel=self.level, mtime=0))
        return len(self._zstd.compress(data))

    def pack(self, data: bytes, like: Sequence[str] = ()) -> bytes:
        return pack_blob(
            self._zstd, self.codec, self.level, data, like, self._usable_reference, self.get
        )

    def _usable_reference(self, ref: str) -> bool:
        try:
            return blobref.can_be_reference(
                self._read(self._key(check_sha(ref), ".html.zst"), blobref.PREFIX_SIZE)
            )
        except ArchiveError:
            return False

    def reference(self, sha: str) -> str | None:
        key = self._blob_key(check_sha(sha))
        if key is None or not key.endswith(".zst"):
            return None
        return blobref.reference_in(self._read(key, blobref.HEADER_SIZE))

    def get(self, sha: str) -> bytes:
        key = self._blob_key(check_sha(sha))
        if key is None:
            raise BlobMissing(f"raw page {sha} is missing from s3://{self.bucket}/{self.prefix}")
        packed = self._read(key)
        return unpack_blob(self._zstd, sha, packed, key.endswith(".zst"), self._reference_bytes)

    def _reference_bytes(self, sha: str, ref: str) -> bytes:
        if self.reference(ref) is not None:
            raise BlobCorrupt(f"raw page {sha}: its reference {ref} has a reference itself")
        try:
            return self.get(ref)
        except ArchiveError as exc:
            raise BlobCorrupt(f"raw page {sha}: its reference is unreadable: {exc}") from exc

    def has(self, sha: str) -> bool:
        return self._blob_key(check_sha(sha)) is not None

    def _list(self, prefix: str) -> Iterator[tuple[str, int]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        try:
            for page in pages:
                for obj in page.get("Contents", ()):
                    yield str(obj["Key"]), int(obj["Size"])
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3://{self.bucket}: cannot list {prefix}: {exc}") from exc

    def iter(self) -> Iterator[str]:
        for key, _size in self._list(f"{self.prefix}raw/"):
            name = key.rsplit("/", 1)[-1]
            for suffix in CODECS.values():
                if name.endswith(suffix):
                    yield name[: -len(suffix)]

    def stored_size(self, sha: str) -> int:
        key = self._blob_key(check_sha(sha))
        if key is None:
            return 0
        return int(self._call(key, self.client.head_object, Key=key)["ContentLength"])

    def put_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> bool:
        tail = ".meta.json" if fetch_id is None else f".{fetch_id}.fetch.json"
        key = self._key(check_sha(sha), tail)
        if self._exists(key):
            return False
        self._call(key, self.client.put_object, Key=key, Body=dumps(doc).encode("utf-8"))
        return True

    def replace_sidecar(self, sha: str, fetch_id: str | None, doc: dict[str, Any]) -> None:
        tail = ".meta.json" if fetch_id is None else f".{fetch_id}.fetch.json"
        key = self._key(check_sha(sha), tail)
        self._call(key, self.client.put_object, Key=key, Body=dumps(doc).encode("utf-8"))

    def sidecars(self, sha: str) -> list[dict[str, Any]]:
        first = self._key(check_sha(sha), ".meta.json")
        keys = [key for key, _ in self._list(self._key(sha, "."))]
        later = sorted(k for k in keys if k.endswith(".fetch.json"))
        docs = []
        for key in ([first] if first in keys else []) + later:
            try:
                docs.append(json.loads(self._read(key)))
            except ValueError as exc:
                raise BlobCorrupt(f"unreadable sidecar {key}: {exc}") from exc
        return docs[:1] + sorted(docs[1:], key=lambda d: str(d.get("fetched_at", "")))
