"""The reading side: search, lists with filters, one article, its versions, diffs, raw pages.

One layer that `morgue search`, `morgue diff`, `morgue serve` and the Python API
(`archive.open`) all use; it asks the catalog through named methods and runs no SQL itself.

The search index is filled here, from the record files, which hold every field a reader may
search (headline, subheadline, body, captions, authors) and filter on (published day, section,
authors). Storing a version only queues it (`Catalog.put_version`); every read first indexes
whatever is waiting (`refresh`), so an archive written by a crawl in another process, or one
upgraded from an older catalog, is searchable the next time anybody reads it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any

from archive.backends.catalog import ListedRow, PendingDoc, SearchDoc, UrlRow
from archive.diff import ArticleDiff, diff_articles
from archive.errors import ArchiveBusy, ArchiveError, FilterError, NotFound, StorageError
from archive.filters import make_filters, page_bounds
from archive.ftsquery import parse
from archive.record import Article
from archive.results import Hit, Raw, Results, fetch_json, hit_of
from archive.searchdoc import search_doc, snippet_text
from archive.snippet import Snippet, make_snippet, mark_all
from archive.store import Archive
from archive.urls import url_key

__all__ = ["ArchiveReader", "Hit", "Raw", "Results"]

log = logging.getLogger(__name__)

_SHA = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^[0-9a-f]{16,64}$")
INDEX_BATCH = 500
HEADLINE_MARKED = 2_000  # characters of a headline searched for matches to mark
NAMED_SOURCES = 20  # known sources an unknown-source message lists at most


class ArchiveReader:
    """Read an archive: `archive.open("morgue-data")` gives one.

    >>> a = archive.open("morgue-data")                       # doctest: +SKIP
    >>> [h.headline for h in a.search('"port strike"', source="mt").hits]  # doctest: +SKIP
    """

    def __init__(
        self, archive: Archive, *, refresh: bool = True, sources: Iterable[str] = ()
    ) -> None:
        """`sources`: names known besides those the catalog holds (the configured ones, of
        which nothing may be archived yet): a filter naming one is valid and matches nothing."""
        self.archive = archive
        self.catalog = archive.catalog
        self._auto_refresh = refresh
        self.configured_sources = tuple(sources)

    @classmethod
    def open(cls, root: Path | str, *, sources: Iterable[str] = ()) -> ArchiveReader:
        path = Path(root)
        if not (path / "catalog.sqlite").is_file():
            raise NotFound(f"no archive at {path} (no catalog.sqlite there)")
        return cls(Archive.open(path, mapped=True), sources=sources)

    def close(self) -> None:
        self.archive.close()

    def __enter__(self) -> ArchiveReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def refresh(self) -> int:
        """Index every stored version the search index has not read yet; how many."""
        if not self.catalog.pending_docs(1):
            return 0  # the usual case: one indexed lookup, no write lock taken
        done = 0
        while True:
            try:
                with self.catalog.writing():
                    batch = self.catalog.pending_docs(INDEX_BATCH)
                    for pending in batch:
                        self.catalog.index_doc(pending, self._doc(pending))
            except (StorageError, ArchiveBusy) as exc:
                # a read-only archive (a mounted backup), or one a long write holds, still
                # answers from what is indexed
                log.warning("search index not updated: %s", exc)
                return done
            done += len(batch)
            if len(batch) < INDEX_BATCH:
                if done:
                    log.info("search index: %d version(s) indexed", done)
                    self._settle(done)
                return done

    def _settle(self, indexed: int) -> None:
        try:
            self.catalog.search_index_grown(indexed)
        except StorageError as exc:  # searches still answer, with the plans they had
            log.warning("search index statistics not updated: %s", exc)

    def _doc(self, pending: PendingDoc) -> SearchDoc:
        try:
            article = self.archive.load(pending.source, pending.article_id, pending.version)
        except ArchiveError as exc:
            # indexed as empty so it is not retried on every read; `verify` reports the file
            log.warning("search index: %s v%d: %s", pending.article_id, pending.version, exc)
            fetched = pending.fetched_at[:10]
            return SearchDoc("", "", "", "", "", fetched, None, None, "", "")
        return search_doc(article)

    def _ready(self) -> None:
        if self._auto_refresh:
            self.refresh()

    def search(
        self,
        query: str,
        *,
        source: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        author: str | None = None,
        section: str | None = None,
        limit: int = 20,
        offset: int = 0,
        exact_count: bool = False,
    ) -> Results:
        """Articles matching `query` (phrases, prefix*, AND/OR/NOT, -word), best first.

        Ranked by bm25 with the headline weighted. In the embedded catalog a query matching
        very many versions (a word in every other article) is ranked over the newest 10,000
        of them (`Results.ranked_newest` says so; within those, bm25 is computed for the
        newest 1,000 and every one with a match in its headline: see
        `archive.backends.catalog_sqlite_search.RANK_NEWEST`). Matches are counted exactly
        up to 10,000 articles (`COUNT_CAP`); past that
        `Results.total` is 10,000 and `total_exact` False: "at least 10,000", a lower bound.
        Counting the articles of a common word costs more than finding its best ones, so
        unless `exact_count` asks, the embedded catalog may count something cheaper past
        2,000 matching versions: the matching versions (`Results.total_of` "versions":
        exact, an article counted once per matching version), or, filtered, the articles
        passing among the matches it ranked (a lower bound, `total_exact` False).
        A prefix needs at least 3 letters before its `*`; an unknown `source` is a FilterError
        that names the known ones."""
        started = time.perf_counter()
        fts, terms = parse(query)
        filters = make_filters(
            source=source, since=since, until=until, author=author, section=section
        )
        limit, offset = page_bounds(limit, offset)
        self.check_source(filters.source)
        self._ready()
        rows, total, exact, ranked, total_of = self.catalog.search_rows(
            fts, filters, limit, offset, exact_count
        )
        hits = [
            hit_of(
                row,
                make_snippet(self._snippet_text(row), terms),
                # the headline's matches (found nowhere else, the snippet marks none)
                mark_all(row.headline[:HEADLINE_MARKED], terms).marks(),
            )
            for row in rows
        ]
        elapsed = time.perf_counter() - started
        return Results(tuple(hits), total, offset, limit, elapsed, exact, ranked, total_of)

    def listing(
        self,
        *,
        source: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        author: str | None = None,
        section: str | None = None,
        limit: int = 20,
        offset: int = 0,
    ) -> Results:
        """The newest articles (by published day, else fetch day), one page of them."""
        started = time.perf_counter()
        filters = make_filters(
            source=source, since=since, until=until, author=author, section=section
        )
        limit, offset = page_bounds(limit, offset)
        self.check_source(filters.source)
        self._ready()
        rows, total, exact = self.catalog.list_rows(filters, limit, offset)
        hits = tuple(hit_of(row, Snippet()) for row in rows)
        return Results(hits, total, offset, limit, time.perf_counter() - started, exact)

    def articles(
        self,
        *,
        source: str | None = None,
        since: str | date | None = None,
        until: str | date | None = None,
        author: str | None = None,
        section: str | None = None,
    ) -> Iterator[Article]:
        """Every article's latest version (newest first), filtered: an iterator of records."""
        offset = 0
        while True:
            page = self.listing(
                source=source,
                since=since,
                until=until,
                author=author,
                section=section,
                limit=500,
                offset=offset,
            )
            for hit in page.hits:
                yield self.get(hit.id, version=hit.version)
            offset += len(page.hits)
            if not page.hits or (page.total_exact and offset >= page.total):
                return  # (a capped total is a lower bound: read on until a page is empty)

    def get(self, ref: str, version: int | None = None) -> Article:
        """An article by id or by any URL it was seen at; its latest version by default."""
        article_id = self.article_id(ref)
        head = self.catalog.article(article_id)
        if head is None:  # pragma: no cover - article_id found it a moment ago
            raise NotFound(f"not in the archive: {ref[:200]}")
        wanted = head.current_version if version is None else version
        row = self.catalog.version_row(article_id, wanted)
        if row is None:
            raise NotFound(
                f"{article_id} has no version {wanted} (it has 1 to {head.current_version})"
            )
        return self.archive.load(row.source, row.article_id, row.version)

    def article_id(self, ref: str) -> str:
        """The id of the article `ref` names (its id, or any URL it was seen at), from the
        catalog alone; NotFound when the archive has no such article."""
        ref = ref.strip()
        found: str | None = None
        if _ID.match(ref) and self.catalog.article(ref) is not None:
            found = ref
        elif "/" in ref:
            key = url_key(ref)
            found = self.catalog.article_by_url(key) or self.catalog.article_by_canonical(key)
        if found is None:
            raise NotFound(f"not in the archive: {ref[:200]}")
        return found

    def latest_version(self, ref: str) -> int:
        row = self.catalog.article(self.article_id(ref))
        if row is None:  # pragma: no cover - article_id found it a moment ago
            raise NotFound(f"not in the archive: {ref[:200]}")
        return row.current_version

    def versions(self, ref: str) -> list[Article]:
        """Every version of an article, oldest first."""
        return self.archive.versions(self.get(ref).id)

    def version_list(self, ref: str) -> list[dict[str, Any]]:
        """Version numbers with their fetch times and raw pages (no record is read)."""
        return [
            {"version": v.version, "fetched_at": v.fetched_at, "raw_sha256": v.raw_sha256}
            for v in self.catalog.versions(self.article_id(ref))
        ]

    def diff(self, ref: str, from_: int | None = None, to: int | None = None) -> ArticleDiff:
        """Word diff between two versions (default: the last two). NotFound when the
        article has one version only or a version does not exist."""
        article_id = self.article_id(ref)
        latest = self.latest_version(article_id)
        if latest < 2 and from_ is None and to is None:
            raise NotFound(f"{article_id} has one version only: nothing to compare")
        new_n = latest if to is None else to
        old_n = new_n - 1 if from_ is None else from_
        new = self.get(article_id, new_n)
        old = self.get(article_id, old_n)
        return diff_articles(old, new)

    def urls(self, ref: str) -> list[UrlRow]:
        """Every URL the article was seen at (its own and duplicate pages'), first seen first."""
        return self.catalog.article_urls(self.article_id(ref))

    def copies(self, ref: str) -> list[dict[str, str]]:
        """Other articles that published the same text (other sites, other headlines)."""
        return [
            {"id": c.id, "url": c.url, "source": c.source}
            for c in self.catalog.copies_of(self.article_id(ref))
        ]

    def fetches(self, ref: str) -> list[dict[str, Any]]:
        """The article's fetch history: time, URL, status (200, 304, ...), outcome."""
        return [fetch_json(f) for f in self.catalog.article_fetches(self.article_id(ref))]

    def raw(self, ref: str) -> Raw:
        """A stored page by its sha256, or the page an article (id or URL) was parsed from."""
        ref = ref.strip()
        sha = ref if _SHA.match(ref) else self.get(ref).raw_sha256
        blobs = self.archive.blobs
        try:
            if not blobs.has(sha):
                raise NotFound(f"no stored page {sha}")
            body = blobs.get(sha)
            sidecars = blobs.sidecars(sha)
        except NotFound:
            raise
        except ArchiveError as exc:
            raise NotFound(f"stored page {sha} cannot be read: {exc}") from exc
        meta = sidecars[0] if sidecars else {}
        fetches = tuple(fetch_json(f) for f in self.catalog.fetches_of_raw(sha))
        return Raw(sha, body, meta, fetches)

    def sources(self) -> list[dict[str, Any]]:
        """Per source: articles, versions, the last crawl, failures by reason, robots."""
        return [
            {
                "name": s.name,
                "articles": s.articles,
                "versions": s.versions,
                "first_seen": s.first_seen,
                "last_crawl": None
                if s.last_crawl_start is None
                else {
                    "started": _unix_iso(s.last_crawl_start),
                    "finished": _unix_iso(s.last_crawl_end),
                    "status": s.last_crawl_status,
                },
                "failures": dict(s.failures),
                "robots_refusals": s.robots_refusals,
            }
            for s in self.catalog.sources()
        ]

    def source_names(self) -> list[str]:
        """Every source the archive has stored pages of (cheap: no counting)."""
        return self.catalog.source_names()

    def known_sources(self) -> list[str]:
        """The sources a filter may name: those stored and those configured, sorted."""
        return sorted({*self.catalog.source_names(), *self.configured_sources})

    def check_source(self, source: str | None) -> None:
        """FilterError (a QueryError) naming the known sources when `source` is none of them:
        a typo in a filter is a malformed filter, not a search that found nothing."""
        if source is None:
            return
        known = self.known_sources()
        if source in known:
            return
        import difflib

        close = difflib.get_close_matches(source, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        listed = ", ".join(known[:NAMED_SOURCES]) + (
            f" and {len(known) - NAMED_SOURCES} more" if len(known) > NAMED_SOURCES else ""
        )
        raise FilterError(
            f"no source named {source[:80]!r}: {hint}"
            + (f"the known sources are {listed}" if known else "the archive has no sources yet")
        )

    def per_day(self, source: str | None, days: int, today: date) -> list[tuple[str, int]]:
        """Articles first archived on each of the last `days` days (zeros included)."""
        from datetime import timedelta

        first = today - timedelta(days=days - 1)
        counts = dict(self.catalog.articles_per_day(source, first.isoformat()))
        return [
            ((first + timedelta(days=i)).isoformat(), counts.get(str(first + timedelta(days=i)), 0))
            for i in range(days)
        ]

    def changes(self, source: str | None = None, limit: int = 50) -> list[Article]:
        """Articles that got a new version, newest change first (their new version)."""
        rows = self.catalog.recent_versions(source, limit, updates_only=True)
        return [self.archive.load(r.source, r.article_id, r.version) for r in rows]

    def newest(self, source: str | None = None, limit: int = 50) -> list[Article]:
        """Articles newly archived, newest first (their first version)."""
        rows = self.catalog.recent_versions(source, limit, updates_only=False)
        return [self.archive.load(r.source, r.article_id, r.version) for r in rows]

    def _snippet_text(self, row: ListedRow) -> str:
        try:
            record = self.archive.read_record(row.source, row.article_id, row.version)
            return snippet_text(record)
        except ArchiveError as exc:
            log.warning("search: %s v%d: %s", row.article_id, row.version, exc)
            return ""


def _unix_iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")
