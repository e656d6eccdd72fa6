"""The article parser: page bytes in, `Content` out (or `NotAnArticle` / `ParseError`).

    parse_page(page, rules=None) -> Content     # a fetched RawPage; no date after its fetch
    parse_html(html, url, content_type=None, rules=None) -> Content

Pure functions: no I/O, no state between calls (the only module-level objects are compiled
patterns and memo caches of pure helpers). Any input bytes give a `Content` or one of the two
parser errors; any other exception inside is a bug and is reported as `ParseError` rather than
escaping. Modules: charset (bytes -> text), dom (the lxml tree), structured (JSON-LD, meta,
microdata), headline, datetext + dates, authors, boilerplate (furniture by class words),
segment (text blocks), body (container choice and extraction), captions, fields, rules
(per-site overrides), extract (the order they run in),
score_adapter (the corpus scorer's hook).
"""

from __future__ import annotations

import logging
from datetime import datetime

from archive.record import Content, RawPage
from scraper.config import SiteRules
from scraper.errors import ParseError
from scraper.parse.extract import PARSER_NAME, PARSER_REVISION, PARSER_VERSION, extract

log = logging.getLogger(__name__)

__all__ = ["PARSER_NAME", "PARSER_REVISION", "PARSER_VERSION", "parse_html", "parse_page"]


def parse_html(
    html: bytes,
    url: str | None,
    *,
    content_type: str | None = None,
    rules: SiteRules | None = None,
    now: datetime | None = None,
) -> Content:
    """Extract the article from page bytes. `now` (the fetch time) refuses future dates."""
    try:
        return extract(html, url, content_type=content_type, rules=rules, now=now)
    except ParseError:
        raise
    except RecursionError:
        raise ParseError(url, "page nested too deeply to parse") from None
    except Exception as exc:  # a parser bug must not take the crawl down with it
        # one line at WARNING (the CLI shows no tracebacks); the traceback itself at DEBUG (-vv)
        log.warning("parser failed on %s: %r", url, exc)
        log.debug("parser failure on %s", url, exc_info=True)
        raise ParseError(url, f"parser failure: {exc.__class__.__name__}: {exc}") from None


def parse_page(page: RawPage, *, rules: SiteRules | None = None) -> Content:
    """Extract the article from a fetched page (final URL, Content-Type, fetch time)."""
    if not 200 <= page.status < 300:
        raise ParseError(page.final_url, f"HTTP {page.status} has no page to parse")
    return parse_html(
        page.body, page.final_url, content_type=page.content_type, rules=rules, now=page.fetched_at
    )
