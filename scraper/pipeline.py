"""Where the stages meet: fetch -> keep raw -> parse -> store, for one page or one URL.

Everything else (the CLI, the crawler) goes through `ingest` and `archive_url`, so a page is
handled the same way whether it was asked for by hand or found by a crawl. The raw bytes are
kept even when parsing fails, so a later parser can `rebuild` them.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from archive.record import RawPage, Stored
from archive.urls import site_of
from scraper.config import Config, SiteRules
from scraper.parse import parse_page

if TYPE_CHECKING:
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


def archive_url(url: str, *, fetcher: Fetcher, archive: Archive, config: Config) -> Stored:
    """Fetch one URL (conditionally, when it was fetched before) and ingest it."""
    source, rules = source_for(config, url)
    page = fetcher.fetch(url, validators=archive.validators(url))
    log.debug("fetched %s -> %s (%d bytes)", url, page.status, len(page.body))
    return ingest(page, archive=archive, source=source, rules=rules)
