"""Where the stages meet: fetch -> keep raw -> parse -> store, for one page or one URL.

Everything else (the CLI, the crawler) goes through `ingest` and `archive_url`, so a page is
handled the same way whether it was asked for by hand or found by a crawl. The raw bytes are
kept even when parsing fails, so a later parser can `rebuild` them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from archive.record import Content, RawPage, Stored
from archive.urls import site_of, url_key
from scraper.config import Config, SiteRules
from scraper.parse import parse_page

if TYPE_CHECKING:
    from archive.prepare import Prepared
    from archive.store import Archive
    from scraper.fetch import Fetcher

log = logging.getLogger(__name__)


def source_for(config: Config, url: str) -> tuple[str, SiteRules | None]:
    """The configured source a URL belongs to (name and parser rules), else its site name."""
    source = config.source_for_url(url)
    if source is not None:
        return source.name, source.rules
    # Unconfigured sites are filed under their host name, reduced to safe characters.
    # The archive takes names of up to 64 characters; the end of a host name says the most.
    name = re.sub(r"[^a-z0-9.-]+", "-", site_of(url))[-64:].strip(".-")
    return name or "unknown", None


def ingest(
    page: RawPage, *, archive: Archive, source: str, rules: SiteRules | None = None
) -> Stored:
    """Store one fetched page: a 304 is 'unchanged'; otherwise parse and store.

    Raises ParseError (after keeping the raw page) when the page holds no article.
    """
    if page.status == 304:
        return archive.store_unchanged(page, source=source)
    try:
        content = parse_page(page, rules=rules)
    except Exception:
        archive.put_raw(page, source=source)
        raise
    return archive.store(page, content, source=source)


@dataclass(frozen=True, slots=True)
class PageJob:
    """One fetched page to ingest, with the source it is filed under and its parser rules."""

    page: RawPage
    source: str
    rules: SiteRules | None = None


def ingest_many(jobs: Sequence[PageJob], *, archive: Archive) -> list[Stored | Exception]:
    """`ingest` each page, all in one `Archive.batch` (one catalog transaction and one sync of
    the files for the lot, where each page alone would wait for its own): for each page its
    Stored, or the exception `ingest` would have raised (a page that holds no article is kept
    raw, as by `ingest`). A page that fails is rolled back alone; when the commit itself fails
    every page gets its error.

    The pages are parsed first, outside the transaction, and the batch locks at once every key
    its stores will lock (their URLs, canonical keys and bodies, `Catalog.writing`), plus each
    page's raw sha256, so two batches that share a page's bytes wait for each other before
    either writes. They are stored in the order of their sites: a site's reference rows
    (`Archive.blob_references`) are then taken in one order by every batch."""
    from archive.prepare import prepare

    order = sorted(range(len(jobs)), key=lambda i: site_of(jobs[i].page.final_url))
    work: dict[int, tuple[Content, Prepared] | Exception | None] = {}
    keys: set[str] = set()
    for i in order:
        page = jobs[i].page
        keys.add(page.sha256)
        if page.status == 304:
            keys.update(url_key(u) for u in (page.final_url, page.requested_url))
            work[i] = None
            continue
        try:
            content = parse_page(page, rules=jobs[i].rules)
            prepared = prepare(page, content, jobs[i].source, archive.validator)
        except Exception as exc:
            work[i] = exc
            continue
        pkeys = prepared.keys
        keys.update((*pkeys.keys, pkeys.canonical_key, prepared.prints.digest))
        work[i] = (content, prepared)
    results: dict[int, Stored | Exception] = {}
    try:
        with archive.batch(keys=sorted(keys)):
            archive.read_ahead(
                [(jobs[i].page, w[1]) for i in order if isinstance(w := work[i], tuple)]
            )
            for i in order:
                results[i] = _store_one(archive, jobs[i], work[i])
    except Exception as exc:  # the commit failed: nothing of the batch is stored
        return [exc] * len(jobs)
    return [results[i] for i in range(len(jobs))]


def _store_one(
    archive: Archive, job: PageJob, work: tuple[Content, Prepared] | Exception | None
) -> Stored | Exception:
    try:
        if work is None:
            return archive.store_unchanged(job.page, source=job.source)
        if isinstance(work, Exception):
            archive.put_raw(job.page, source=job.source)
            return work
        content, prepared = work
        return archive.store(job.page, content, source=job.source, prepared=prepared)
    except Exception as exc:  # its own rows are rolled back (a savepoint), not the batch's
        return exc


def archive_url(url: str, *, fetcher: Fetcher, archive: Archive, config: Config) -> Stored:
    """Fetch one URL (conditionally, when it was fetched before) and ingest it."""
    source, rules = source_for(config, url)
    page = fetcher.fetch(url, validators=archive.validators(url))
    log.debug("fetched %s -> %s (%d bytes)", url, page.status, len(page.body))
    return ingest(page, archive=archive, source=source, rules=rules)
