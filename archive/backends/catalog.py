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
from collections.abc import Callable, Iterator, Sequence
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
class RunRow:
    """A finished run of some task (a crawl, a cluster job), with its counts as JSON text."""

    id: int
    kind: str
    source: str | None
    started: str
    finished: str
    counts: str


@dataclass(frozen=True, slots=True)
class CopyRow:
    """Another article that published the same body text (a syndicated copy)."""

    id: str
    source: str
    url: str


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

    def values(self) -> tuple[object, ...]:
        """The row's columns in the order of the `archive_fetches` table (both backends)."""
        return (
            self.fetch_id,
            self.url,
            self.url_key,
            self.final_url,
            self.status,
            self.etag,
            self.last_modified,
            self.fetched_at,
            self.raw_sha256,
            self.size,
            self.source,
            self.article_id,
            self.outcome,
            self.run_id,
        )


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


@dataclass(frozen=True, slots=True)
class PendingDoc:
    """A stored version the search index has not read yet (see `archive.query`)."""

    doc: int
    article_id: str
    version: int
    source: str
    fetched_at: str


@dataclass(frozen=True, slots=True)
class SearchDoc:
    """What the search index and the reading side's filters know of one version."""

    headline: str
    subheadline: str
    body: str
    captions: str
    authors: str
    day: str  # YYYY-MM-DD: the published day, else the fetch day
    published: str | None
    section_key: str | None  # folded (see archive.query.fold)
    authors_key: str  # folded author names, one per line
    url: str  # the canonical URL


@dataclass(frozen=True, slots=True)
class Filters:
    """Which articles to read: each bound is optional; days are YYYY-MM-DD, inclusive;
    `author` is a folded fragment of a name, `section` a folded section name."""

    source: str | None = None
    since: str | None = None
    until: str | None = None
    author: str | None = None
    section: str | None = None


# Matching articles are counted as Elasticsearch counts hits: exactly up to this many, past it
# "at least 10,000" (the count then a lower bound). Counting every match of a common word
# cost a read of each one, growing with the archive; a page of results needs none of that.
COUNT_CAP = 10_000


@dataclass(frozen=True, slots=True)
class ListedRow:
    """One article (one version of it) as lists and search hits show it."""

    article_id: str
    version: int
    source: str
    headline: str
    published: str | None
    fetched_at: str
    url: str
    score: float = 0.0


# a page of search hits: (rows, the count, whether it is exact, the newest matching versions
# the ranking looked at when not all of them, else None, what was counted: "articles", or
# "versions" when matching versions were counted, each article once per matching version)
SearchPage = tuple[list[ListedRow], int, bool, int | None, str]
ARTICLES = "articles"
VERSIONS = "versions"


@dataclass(frozen=True, slots=True)
class UrlRow:
    url: str
    first_seen: str
    duplicate: bool  # reached through another article's page with the same body


@dataclass(frozen=True, slots=True)
class SourceRow:
    """Per-source figures for the sources page."""

    name: str
    articles: int
    versions: int
    first_seen: str
    last_crawl_start: float | None  # unix time (the frontier's clock)
    last_crawl_end: float | None
    last_crawl_status: str | None
    failures: tuple[tuple[str, int], ...]  # reason -> URLs failed for good
    robots_refusals: int


@dataclass(frozen=True, slots=True)
class FileRow:
    """One file the archive wrote, as it was written: what `verify` checks it against."""

    path: str  # relative to the archive root, '/'-separated
    kind: str  # raw | sidecar | record (archive.fixity.KINDS)
    sha256: str  # of the file's bytes on disk (a raw page's is of its compressed file)
    size: int
    written_at: str


@dataclass(frozen=True, slots=True)
class VerifyRun:
    """One `verify`: what it covered (full, sample N, since DATE) and what it found."""

    scope: str
    started_at: str
    finished_at: str
    checked: int  # files checked
    problems: int
    summary: str  # its first line


class Catalog(Protocol):
    """What the archive needs from an index; see SqliteCatalog for the meaning of each."""

    path: Path  # where it lives (for SQLite: the file other modules may add tables to)

    # called after each outermost `writing` transaction commits, or rolls back
    after_commit: list[Callable[[], None]]
    after_rollback: list[Callable[[], None]]

    def writing(self, keys: Sequence[str] = ()) -> contextlib.AbstractContextManager[None]:
        """One write transaction. `keys` name everything its decisions read (URL keys,
        canonical key, body digest): a backend shared by many writers may run transactions
        with disjoint keys at once; without keys a transaction excludes every other."""
        ...

    def article(self, article_id: str) -> ArticleRow | None: ...
    def article_by_url(self, key: str) -> str | None: ...
    def article_by_canonical(self, key: str) -> str | None: ...
    def articles_with_body(self, digest: str) -> list[ArticleRow]:
        """Articles any version of which has this body digest."""
        ...

    def articles_with_raw(self, sha: str) -> list[ArticleRow]:
        """Articles any version of which was made from these raw bytes."""
        ...

    def copies_of(self, article_id: str) -> list[CopyRow]:
        """Other articles sharing a (non-empty) body text with any version of this one."""
        ...

    def count_copies(self) -> tuple[int, int]:
        """(articles that share their text with another article, texts so shared)."""
        ...

    def duplicate_fetches(self, source: str | None, since: str | None) -> list[FetchRow]:
        """Fetches filed as DUPLICATE of another article, oldest first."""
        ...

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
    def near_duplicates(self) -> list[tuple[str, str, int]]: ...
    def start_run(self, kind: str, source: str | None, started: str) -> int: ...
    def articles_by_keys(self, keys: Sequence[str]) -> dict[str, str]:
        """URL key -> article id, for the keys some article was seen at (or names as its
        canonical URL): one question for a whole listing's links."""
        ...

    def finish_run(self, run_id: int, finished: str, counts: str) -> None: ...
    def finished_runs(self, kind: str, since: str) -> list[RunRow]:
        """Runs of `kind` started at or after `since` (ISO UTC) that have finished."""
        ...

    def clear_derived(self) -> None: ...
    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        """The crawl frontier kept beside this catalog (`scratch`: a throwaway one, for a
        dry run that must leave no trace)."""
        ...

    # fixity: the sha256 of every file when it was written, and the verify runs
    def put_file(self, row: FileRow) -> None:
        """Record (or, for a rewritten record, replace) a file's checksum."""
        ...

    def file(self, path: str) -> FileRow | None: ...
    def files(self, since: str | None = None) -> list[FileRow]:
        """Every recorded file (written on or after `since`), by path."""
        ...

    def sample_files(self, n: int, seed: int | None = None) -> list[FileRow]:
        """About `n` recorded files drawn at random (all of them when there are fewer)."""
        ...

    def count_files(self) -> int: ...
    def add_verify_run(self, run: VerifyRun) -> None: ...
    def last_verify_run(self, scope: str | None = None) -> VerifyRun | None:
        """The latest run (of `scope`, e.g. "full"), if any."""
        ...

    def parser_versions(self) -> list[tuple[str, str, int]]:
        """(parser name, parser version, versions made by it), most used first."""
        ...

    # what verify, stats and export read
    def integrity_problem(self) -> str | None:
        """The backend's own consistency check: None when it finds nothing wrong."""
        ...

    def raw_shas(self) -> set[str]: ...
    def raw_sizes(self) -> dict[str, int]:
        """sha256 -> size as fetched, of every raw page."""
        ...

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

    # the reading side (archive.query): the search index, lists, an article's URLs and fetches
    def pending_docs(self, limit: int) -> list[PendingDoc]: ...
    def index_doc(self, pending: PendingDoc, doc: SearchDoc) -> None: ...
    def search_index_grown(self, indexed: int) -> None:
        """`refresh` has indexed `indexed` versions (committed): bring what the database
        knows of the index up to date, so searches keep their plans (PostgreSQL's planner)."""
        ...

    def search_rows(
        self, fts_query: str, filters: Filters, limit: int, offset: int, exact_count: bool = False
    ) -> SearchPage:
        """One page of the articles matching, best first (one row each: its best-matching
        version), how many match in all, whether that number is exact (counted exactly up
        to `COUNT_CAP` articles; past it the number is `COUNT_CAP` and False, a lower bound:
        "at least 10,000"), how many of the newest matching versions the ranking looked at
        when that was not all of them (None: every match was ranked), and what was counted.
        Unless `exact_count`, a backend may give a count that is cheaper than the articles':
        a lower bound (False), or the exact number of matching versions ("versions")."""
        ...

    def list_rows(
        self, filters: Filters, limit: int, offset: int
    ) -> tuple[list[ListedRow], int, bool]:
        """Current versions, newest day first, how many match in all and whether that is
        exact (as `search_rows`: capped at `COUNT_CAP`)."""
        ...

    def article_urls(self, article_id: str) -> list[UrlRow]:
        """Every URL the article was seen at (each spelling), first seen first."""
        ...

    def article_fetches(self, article_id: str) -> list[FetchRow]: ...
    def fetches_of_raw(self, sha: str) -> list[FetchRow]: ...
    def version_row(self, article_id: str, version: int) -> VersionRow | None: ...
    def recent_versions(
        self, source: str | None, limit: int, updates_only: bool
    ) -> list[VersionRow]: ...
    def sources(self) -> list[SourceRow]: ...
    def source_names(self) -> list[str]: ...
    def articles_per_day(self, source: str | None, since_day: str) -> list[tuple[str, int]]: ...

    def close(self) -> None: ...
