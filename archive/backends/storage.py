"""Where an archive keeps its catalog and its raw pages: the `storage:` settings, and opening them.

The default (`Storage()`) is the embedded archive: the data folder's `catalog.sqlite` and its
`raw/` folder. A cluster names a PostgreSQL catalog (`postgresql://user@host/db`) and a blob
store every worker reaches: `s3://bucket/prefix` (credentials from the standard AWS
environment or config files; `s3:` gives the endpoint and region) or `file:///mnt/shared/morgue`
(a shared NFS/EFS folder). Record files (`articles/`) stay in the data folder, which workers of
a cluster share. The backends for a cluster are imported only when named, so the embedded path
needs none of their packages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from archive.errors import ArchiveError

if TYPE_CHECKING:
    from archive.backends.blobs import BlobStore
    from archive.backends.catalog import Catalog

CATALOG_SCHEMES = ("postgresql", "postgres")
BLOB_SCHEMES = ("s3", "file")


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Options:
    endpoint_url: str | None = None  # an S3-compatible service (MinIO, Ceph, R2...), else AWS
    region: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    catalog: str | None = None  # postgresql://...; None: the folder's catalog.sqlite
    blobs: str | None = None  # s3://bucket/prefix or file:///path; None: the folder's raw/
    s3: S3Options = field(default_factory=S3Options)

    @property
    def embedded(self) -> bool:
        return self.catalog is None and self.blobs is None


def check_catalog_url(url: str) -> str:
    """A catalog URL's problem raises ValueError with a short reason."""
    if urlsplit(url).scheme not in CATALOG_SCHEMES:
        raise ValueError(f"catalog must be a postgresql:// URL (or left out for sqlite): {url!r}")
    return url


def check_blobs_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"an s3:// URL needs a bucket: {url!r}")
        return url
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"a file:// URL needs an absolute path (file:///mnt/...): {url!r}")
        return url
    raise ValueError(f"blobs must be an s3:// or file:// URL (or left out for the folder): {url!r}")


def storage_from(raw: Mapping[str, object]) -> Storage:
    """A Storage from already-checked values (`catalog`, `blobs`, `s3` mapping)."""
    s3 = raw.get("s3") or {}
    if not isinstance(s3, Mapping):
        raise ValueError("s3 must be a mapping of endpoint_url and region")
    return Storage(
        catalog=check_catalog_url(str(raw["catalog"])) if raw.get("catalog") else None,
        blobs=check_blobs_url(str(raw["blobs"])) if raw.get("blobs") else None,
        s3=S3Options(
            endpoint_url=str(s3["endpoint_url"]) if s3.get("endpoint_url") else None,
            region=str(s3["region"]) if s3.get("region") else None,
        ),
    )


def open_catalog(storage: Storage, root: Path) -> Catalog:
    """The PostgreSQL catalog a cluster storage names (the embedded one is opened by Archive)."""
    if storage.catalog is None:
        raise ArchiveError("this storage has no catalog URL: the embedded catalog is the folder's")
    try:
        from archive.backends.catalog_pg import PgCatalog
    except ImportError as exc:
        raise ArchiveError(
            f"a postgresql catalog needs the cluster extra (pip install 'morgue[cluster]'): {exc}"
        ) from exc
    return PgCatalog(storage.catalog, root=root)


def open_blobs(
    storage: Storage, root: Path, *, codec: str, level: int | None, durable: bool
) -> BlobStore:
    """The blob store `storage.blobs` names: S3 or a shared folder (not the default folder)."""
    if storage.blobs is None:
        raise ArchiveError("this storage has no blobs URL: the embedded store is the folder's")
    parts = urlsplit(storage.blobs)
    if parts.scheme == "file":
        from archive.backends.blobs_shared import SharedFolderBlobStore

        shared = SharedFolderBlobStore(
            Path(unquote(parts.path)), codec=codec, level=level, durable=durable
        )
        shared.ensure_root()
        return shared
    try:
        from archive.backends.blobs_s3 import S3BlobStore
    except ImportError as exc:
        raise ArchiveError(
            f"an s3 blob store needs the cluster extra (pip install 'morgue[cluster]'): {exc}"
        ) from exc
    return S3BlobStore.from_url(
        storage.blobs,
        endpoint_url=storage.s3.endpoint_url,
        region=storage.s3.region,
        codec=codec,
        level=level,
    )
