"""Where the archive's files go: paths only, no I/O.

Every path is built from a sha256, an article id, a version number or a validated source
name, never from a URL or anything in a page, so a crafted URL cannot reach outside the
archive folder.

    raw/ab/<sha256>.html.zst            exact response bytes, compressed (gzip: .html.gz),
                                        maybe against another page's (archive.backends.blobref)
    raw/ab/<sha256>.meta.json           the first fetch that gave these bytes
    raw/ab/<sha256>.<fetch>.fetch.json  every later fetch that gave (or, 304, confirmed) them
    articles/<source>/<id>/v<N>.json    one file per version of an article
    catalog.sqlite                      the index (rebuildable from the files above)
    frontier.sqlite                     the crawl frontier (archive.backends.frontier_sqlite)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from archive.errors import ArchiveError

_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[0-9a-f]{16,64}$")
_FETCH = re.compile(r"^[0-9a-f]{16,64}$")
_SOURCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_VERSION_FILE = re.compile(r"^v([1-9][0-9]{0,8})\.json$")

CATALOG_NAME = "catalog.sqlite"


def relative(path: Path, root: Path) -> str:
    """`path.relative_to(root).as_posix()` by slicing the strings when `path` is plainly under
    `root`: it names every file a store writes, and pathlib's way cost tens of microseconds."""
    full, base = str(path), str(root)
    if os.sep == "/" and full.startswith(base) and full[len(base) : len(base) + 1] == "/":
        return full[len(base) + 1 :]
    return path.relative_to(root).as_posix()


class BadName(ArchiveError):
    """A hash, id or source name that cannot safely become part of a path."""


def check_sha(sha: str) -> str:
    if not _SHA.match(sha):
        raise BadName(f"not a sha256 hex digest: {sha[:80]!r}")
    return sha


def check_id(article_id: str) -> str:
    if not _ID.match(article_id):
        raise BadName(f"not an article id: {article_id[:80]!r}")
    return article_id


def check_source(source: str) -> str:
    """Source names become folder names: letters, digits, '_', '-', '.'; no '..'."""
    if not _SOURCE.match(source) or ".." in source:
        raise BadName(f"source name not usable as a folder name: {source[:80]!r}")
    return source


def version_of(path: Path) -> int | None:
    match = _VERSION_FILE.match(path.name)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path
    blob_suffix: str = ".html.zst"

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def articles_dir(self) -> Path:
        return self.root / "articles"

    @property
    def catalog(self) -> Path:
        return self.root / CATALOG_NAME

    def blob(self, sha: str, suffix: str | None = None) -> Path:
        check_sha(sha)
        return self.raw_dir / sha[:2] / f"{sha}{suffix or self.blob_suffix}"

    def meta(self, sha: str) -> Path:
        check_sha(sha)
        return self.raw_dir / sha[:2] / f"{sha}.meta.json"

    def fetch(self, sha: str, fetch_id: str) -> Path:
        check_sha(sha)
        if not _FETCH.match(fetch_id):
            raise BadName(f"not a fetch id: {fetch_id[:80]!r}")
        return self.raw_dir / sha[:2] / f"{sha}.{fetch_id}.fetch.json"

    def article_dir(self, source: str, article_id: str) -> Path:
        return self.articles_dir / check_source(source) / check_id(article_id)

    def version(self, source: str, article_id: str, version: int) -> Path:
        return Path(self.version_file(source, article_id, version))

    def version_file(self, source: str, article_id: str, version: int) -> str:
        """`version` as a string: what a reader opens twenty of for a search page, without
        building (and parsing) a Path for each."""
        if version < 1:
            raise BadName(f"not a version number: {version}")
        return f"{self.root}/articles/{check_source(source)}/{check_id(article_id)}/v{version}.json"
