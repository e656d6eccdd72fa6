"""The seams of the crawler: what it needs from a fetcher, an archive and the ingest step.

The real `scraper.fetch.AsyncFetcher`, `archive.store.Archive` and `scraper.pipeline.ingest`
satisfy these; tests may hand in small fakes. Keeping them as Protocols means the crawler
depends on behaviour, not on the other modules' internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Protocol

from archive.backends.frontier import Frontier
from archive.record import Article, RawPage, Stored, Validators


class AsyncFetcherLike(Protocol):
    """An async, polite fetcher: robots.txt, per-host pacing and concurrency caps inside."""

    async def __aenter__(self) -> AsyncFetcherLike: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def fetch(
        self, url: str, *, validators: Validators | None = None, accept: str = "html"
    ) -> RawPage: ...

    # Optional: `async def sitemaps(url) -> list[str]`, the Sitemap lines of the robots.txt the
    # fetcher already holds. When present the crawler uses it instead of fetching robots.txt.


class ArchiveLike(Protocol):
    def open_frontier(self, *, scratch: bool = False) -> Frontier: ...

    def validators(self, url: str) -> Validators | None: ...

    def find(self, url_or_id: str) -> Article | None: ...

    def find_urls(self, urls: Iterable[str]) -> dict[str, Article]: ...


# `scraper.pipeline.ingest(page, *, archive, source, rules) -> Stored`: 304 -> store_unchanged,
# else parse + store; a page that does not parse raises ParseError (its raw bytes kept). Typed
# loosely because the real one takes the concrete Archive.
Ingest = Callable[..., Stored]

# `await store(page, source=..., rules=...) -> Stored`: `Ingest` done elsewhere (a cluster
# worker's store threads), so the event loop keeps fetching while a store waits on its commit.
AsyncIngest = Callable[..., Awaitable[Stored]]
