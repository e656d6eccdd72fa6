"""The catalog seam: what the archive asks of its index, and the rows it passes around.

`Catalog` is the interface a PostgreSQL catalog could implement later;
`archive.backends.catalog_sqlite` holds the embedded default (`SqliteCatalog`, one SQLite file
in WAL mode). The catalog answers the questions dedup and the fetcher ask (which article has
this URL key, canonical key or body digest; which articles are near this fingerprint; what were
the last validators for this URL) and records what `Archive` stored, all rows of one store in
one transaction. The files are the truth: everything in it except crawl runs can be rebuilt
from them (`archive.maintenance.verify`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from archive.backends.frontier import Frontier


@dataclass(frozen=True, slots=True)
class ArticleRow:
    id: str
    source: str
    canonical_key: str
    current_version: int
    headline: str
    modified: str | None
    body_digest: str
    simhash: int  # unsigned


@dataclass(frozen=True, slots=True)
class VersionRow:
    article_id: str
    version: int
    source: str
    raw_sha256: str
    fetched_at: str


@dataclass(frozen=True, slots=True)
class FetchRow:
    fetch_id: str
    url: str
    url_key: str
    final_url: str
    status: int
    etag: str | None
    last_modified: str | None
    fetched_at: str
    raw_sha256: str | None
    size: int
    source: str
    article_id: str | None
    outcome: str | None
    run_id: int | None = None


@dataclass(frozen=True, slots=True)
class SourceCounts:
    """What the catalog holds of one source, for `stats`."""

    source: str
    articles: int = 0
    versions: int = 0
    fetches: int = 0
    raw_bytes: int = 0  # bytes fetched (every 2xx fetch's body)
    duplicates: int = 0  # fetches filed as DUPLICATE of another article
    raw_pages: int = 0
    stored_bytes: int = 0  # compressed blob bytes
    identical_refetches: int = 0  # fetches whose bytes were already stored


class Catalog(Protocol):
    """What the archive needs from an index; see SqliteCatalog for the meaning of each."""

    path: Path  # where it lives (for SQLite: the file other modules may add tables to)

    def writing(self, keys: Sequence[str] = ()) -> contextlib.AbstractContextManager[None]:
        """One write transaction. `keys` name everything its decisions read (URL keys,
        canonical key, body digest): a backend shared by many writers may run transactions
        with disjoint keys at once; without keys a transaction excludes every other."""
        ...

    def article(self, article_id: str) -> ArticleRow | None: ...
    def article_by_url(self, key: str) -> str | None: ...
    def article_by_canonical(self, key: str) -> str | None: ...
    def article_by_body(self, digest: str) -> str | None: ...
    def near(self, fingerprint: int, max_distance: int) -> list[tuple[str, int]]: ...
    def latest_validators(self, key: str) -> tuple[str | None, str | None] | None: ...
    def seen_before(self, article_id: str, digest: str, fetched_at: str) -> bool: ...
    def versions(self, article_id: str) -> list[VersionRow]: ...
    def iter_versions(
        self, source: str | None, since: str | None, latest_only: bool = False
    ) -> Iterator[VersionRow]: ...
    def unfiled_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        """(sha256, source) of raw pages no article was filed from, oldest first."""
        ...

    def add_source(self, name: str, seen: str) -> None: ...
    def add_raw(self, sha: str, size: int, stored: int, source: str, seen: str) -> None: ...
    def references(self, site: str, limit: int) -> list[str]:
        """Pages of `site` stored alone, newest first: what its next pages compress against."""
        ...

    def add_reference(self, site: str, sha: str, since: str) -> None: ...
    def add_fetch(self, row: FetchRow) -> None: ...
    def add_url(
        self, key: str, url: str, article_id: str, seen: str, duplicate: bool = False
    ) -> None: ...
    def article_at_url(self, key: str) -> str | None: ...
    def add_canonical(self, key: str, article_id: str) -> None: ...
    def put_article(self, row: ArticleRow, seen: str) -> None: ...
    def put_version(
        self,
        row: VersionRow,
        *,
        digest: str,
        fingerprint: int,
        headline: str,
        body: str,
        modified: str | None,
        parser: tuple[str, str],
    ) -> None: ...
    def add_near_duplicate(self, a: str, b: str, dist: int, seen: str) -> None: ...
    def touch(self, article_id: str, seen: str) -> None: ...
    def search(self, query: str, limit: int) -> list[str]: ...
    def near_duplicates(self) -> list[tuple[str, str, int]]: ...
    def start_run(self, kind: str, source: str | None, started: str) -> int: ...
    def finish_run(self, run_id: int, finished: str, counts: str) -> None: ...
    def clear_derived(self) -> None: ...
    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        """The crawl frontier kept beside this catalog (`scratch`: a throwaway one, for a
        dry run that must leave no trace)."""
        ...

    # what verify, stats and export read
    def integrity_problem(self) -> str | None:
        """The backend's own consistency check: None when it finds nothing wrong."""
        ...

    def raw_shas(self) -> set[str]: ...
    def indexed_versions(self) -> dict[tuple[str, int], tuple[str, str]]:
        """(article id, version) -> (source, raw sha256) for every indexed version."""
        ...

    def heads_without_version(self) -> list[tuple[str, int]]:
        """Articles whose current version has no version row: (id, current version)."""
        ...

    def fetches_without_raw(self) -> int: ...
    def count_articles(self) -> int: ...
    def count_near_duplicates(self) -> int: ...
    def source_counts(self) -> list[SourceCounts]: ...
    def fetched_raw(self, source: str | None, since: str | None) -> list[tuple[str, str]]:
        """(fetch id, raw sha256) of every fetch that kept a raw page, oldest first."""
        ...

    def close(self) -> None: ...
