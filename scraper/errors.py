"""Every error the scraper raises, in one tree. Each carries the URL it concerns.

    ScraperError
      ConfigError                      config.yaml is wrong; lists every problem with its path
      FetchError(url)                  the page could not be fetched
        DisallowedByRobots(url)        robots.txt says no; never requested
        RobotsUnavailable(url)         robots.txt unreadable (5xx, network): host off-limits a while
        BlockedAddress(url, rule)      resolves to a private/loopback/... address
        TransientFetchError(url, retry_after)  5xx/429/timeout; raised when attempts run out
        HostParked(url, until)         the host asked us to wait longer than we sleep
        BadStatus(url, status)         4xx and other final statuses, never retried
        TooLarge(url, limit)           body or decompressed body over the limit
        TooManyRedirects(url)          over max_redirects, or a redirect loop
        NotHtml(url, content_type)     not an article: the bytes are not parsed as HTML
        LeaseLost(url)                 a cluster worker lost the URL's lease: never requested
      ParseError(url, reason)          the page has no article we can extract
        NotAnArticle(url, reason, content)  a page but not an article; `content` is the main
                                       text found on it (best effort, or None), for `parse`

Third-party errors (httpx, lxml, ...) are wrapped at the boundary; callers never catch them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from archive.record import Content


class ScraperError(Exception):
    """Base of all scraper errors: str() is a one-line, human-readable reason."""


class ConfigError(ScraperError):
    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class FetchError(ScraperError):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url}: {reason}")


class DisallowedByRobots(FetchError):
    def __init__(self, url: str, reason: str = "disallowed by robots.txt") -> None:
        super().__init__(url, reason)


class LeaseLost(FetchError):
    """A cluster worker lost the lease under which it was to fetch the URL (it stalled past
    its lease's lifetime, and another worker held the URL's host since): the URL may be that
    one's now, so this one does not request it."""

    def __init__(self, url: str, reason: str = "lease lost to another worker") -> None:
        super().__init__(url, reason)


class RobotsUnavailable(FetchError):
    """The host's robots.txt answered 5xx or not at all: like the major crawlers, we take that
    as "keep off for a while", but it is a failure to reach the site, not a refusal."""


class BlockedAddress(FetchError):
    def __init__(self, url: str, rule: str) -> None:
        self.rule = rule
        super().__init__(url, f"refused address: {rule}")


class TransientFetchError(FetchError):
    def __init__(self, url: str, reason: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(url, reason)


class HostParked(FetchError):
    def __init__(self, url: str, until: float, reason: str = "host parked") -> None:
        self.until = until
        super().__init__(url, reason)


class BadStatus(FetchError):
    def __init__(self, url: str, status: int) -> None:
        self.status = status
        super().__init__(url, f"HTTP {status}")


class TooLarge(FetchError):
    def __init__(self, url: str, limit: int, what: str = "body") -> None:
        self.limit = limit
        super().__init__(url, f"{what} larger than the limit of {limit} bytes")


class TooManyRedirects(FetchError):
    pass


class NotHtml(FetchError):
    def __init__(self, url: str, content_type: str | None) -> None:
        self.content_type = content_type
        super().__init__(url, f"not an article: content type {content_type or 'unknown'}")


class ParseError(ScraperError):
    def __init__(self, url: str | None, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"{url or '<page>'}: {reason}")


class NotAnArticle(ParseError):
    """The page is not an article (a forum thread, a shop or recipe page, a front page): the
    crawl and the archive keep it raw-only. `content` is what the parser found on it anyway
    when there was readable main text (no invented dates: only stated ones), else None."""

    def __init__(self, url: str | None, reason: str, content: Content | None = None) -> None:
        self.content = content
        super().__init__(url, reason)
