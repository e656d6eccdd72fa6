"""The crawl frontier's seam: what a crawl asks of the store of every URL a source's crawls
have found, and what became of each.

`Frontier` is the interface; `archive.backends.frontier_sqlite.SqliteFrontier` keeps it in
the embedded catalog file (its own `frontier_*` tables). A crawl gets one from
`Archive.open_frontier()`, never by opening a database itself. Times are epoch seconds handed
in by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Protocol, runtime_checkable

MAX_ATTEMPTS = 3  # runs in which a transiently failing URL is tried before it is given up
MAX_PAGES_PER_TEMPLATE = 50  # navigation pages of one URL shape per source (calendar traps)


class Kind(StrEnum):
    FEED = "feed"
    SITEMAP = "sitemap"
    PAGE = "page"  # navigation: fetched for its links
    ARTICLE = "article"
    ROBOTS = "robots"  # robots.txt read for its Sitemap lines


# Lease order: listings, then start pages, then articles, then other navigation pages. With a
# page budget, articles come before the pages that would only find more of them.
PRIORITY = {Kind.ROBOTS: 0, Kind.FEED: 0, Kind.SITEMAP: 1, Kind.ARTICLE: 2, Kind.PAGE: 3}
START_PRIORITY = 1


class State(StrEnum):
    QUEUED = "queued"
    LEASED = "leased"  # handed to a crawl that has not reported back (yet)
    DONE = "done"
    RETRY = "retry"  # failed transiently: tried again next run, up to MAX_ATTEMPTS
    FAILED = "failed"  # failed for good (404, robots, not an article...)


# what a crawler that never said how its part of a run ended counts as (killed)
LOST = "lost"


def merged_status(statuses: Iterable[str], *, left: bool) -> str:
    """The label of a run several crawlers shared (a cluster's workers), once the last of
    them ended: from each crawler's own ("ok", "stopped", "failed", or LOST), and whether
    URLs of the source are still to do (`left`). "failed" when every crawler failed;
    "stopped" when one stopped (or was lost) and work is left, even if a later one ended
    "ok"; else "ok" (what one stopped crawler left, the others did). With one crawler, its
    own label: it says "stopped" only when it left work."""
    seen = list(statuses)
    if seen and all(s == "failed" for s in seen):
        return "failed"
    if left and any(s in ("stopped", LOST) for s in seen):
        return "stopped"
    return "ok"


@dataclass(frozen=True, slots=True)
class Entry:
    """A URL found by discovery, for `Frontier.add`."""

    url: str
    kind: Kind
    depth: int
    published: float | None = None  # as the listing gives it (feed date, news sitemap)
    modified: float | None = None  # listing says the page changed at ... (lastmod, updated)
    template: str | None = None  # URL shape; given for navigation pages to bound traps
    refresh: bool = False  # fetch again every run (feeds and sitemaps found by discovery)


@dataclass(frozen=True, slots=True)
class Item:
    """A leased URL: what the crawl needs to fetch it."""

    key: str
    url: str
    kind: Kind
    depth: int
    etag: str | None
    last_modified: str | None
    fetched_at: float | None
    attempts: int
    start: bool = False


@dataclass(frozen=True, slots=True)
class Revisit:
    """Re-check articles younger than max_age (seconds) at most every `every` seconds."""

    max_age: float
    every: float


@runtime_checkable
class RenewsLeases(Protocol):
    """A frontier whose leases expire (a cluster's, `lease_ttl` seconds after they were taken
    or last renewed), so that a dead crawler's URLs go to the others. A live crawler renews
    the URLs it still holds: one whose page waits behind its host's delay for longer than the
    lifetime would otherwise be handed to another crawler and fetched twice."""

    lease_ttl: float | None

    def renew(self, source: str, keys: Iterable[str]) -> None: ...


class UnsentUrls(Protocol):
    """A crawl's leased URLs not started yet, by host (`scraper.crawl.held.HeldUrls`)."""

    def busy(self, host: str) -> bool:
        """Whether a URL of `host` has started and its fetch not ended."""
        ...

    def withdraw(self, host: str) -> list[str]:
        """Take back the URLs of `host` not started (none of them will be): their keys."""
        ...


@runtime_checkable
class HandsBackHosts(Protocol):
    """A frontier whose crawlers hold hosts (a cluster's sticky hosts) and hand some back
    when other crawlers of the source have fewer than their share: the URLs of such a host
    that the crawl leased but did not start go back to the queue, for the host's next
    holder."""

    def track_unsent(self, source: str, urls: UnsentUrls) -> None: ...

    def kept(self, source: str, items: list[Item]) -> list[Item]:
        """Of URLs a lease just gave, those the crawl may start: not those of a host being
        handed back, or handed back while the lease was on its way (they go back to the
        queue). Called on the crawl's event loop, where hosts are handed back."""
        ...

    def withdrawn(self, source: str) -> int:
        """How many URLs the crawl leased and will not start, not queued again yet: they
        go back to the queue with their hosts, after the run's end (`_conclude` counts them
        as work left)."""
        ...

    def claims_more(self, source: str) -> float | None:
        """When the last lease claimed as many hosts as one lease may, and the crawl holds
        fewer than its fair share, the seconds to wait before the next lease (other hosts are
        free now: a poll's wait between leases spread the hosts' first requests over a second
        at a run's start); else None."""
        ...


class Frontier(Protocol):
    """Every URL found per source, its state, and the crawl runs (see SqliteFrontier)."""

    def close(self) -> None: ...

    def __enter__(self) -> Frontier: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def begin_run(
        self,
        source: str,
        *,
        now: float,
        starts: Iterable[tuple[str, Kind]],
        revisit: Revisit | None = None,
    ) -> int: ...

    def end_run(self, source: str, *, now: float, status: str) -> None: ...

    def last_run(self, source: str) -> tuple[float, float | None, str] | None: ...

    def add(
        self, source: str, entries: Iterable[Entry], *, now: float, refresh_after: float
    ) -> list[str]: ...

    def lease(self, source: str, limit: int) -> list[Item]: ...

    def release(self, source: str, keys: Iterable[str]) -> None: ...

    def finish(
        self,
        source: str,
        key: str,
        *,
        state: State,
        now: float,
        outcome: str,
        etag: str | None = None,
        last_modified: str | None = None,
        published: float | None = None,
        keep_validators: bool = False,
    ) -> None: ...

    def mark_known(
        self, source: str, key: str, *, fetched_at: float, published: float | None
    ) -> None: ...

    def url_of(self, source: str, key: str) -> str | None: ...

    def count(self, source: str, state: State | None = None) -> int: ...

    def states(self, source: str) -> dict[str, str]: ...
