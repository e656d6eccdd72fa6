"""The /archive form and POST /api/archive: one URL through the real pipeline.

The fetch runs in a worker thread with its own Fetcher and its own Archive handle (SQLite
connections stay in the thread that opened them), so the app keeps answering meanwhile. The
fetcher's rules apply as in `morgue archive`: robots.txt, private addresses refused, size and
time limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from archive.errors import ArchiveError
from archive.record import Outcome
from scraper.cli.support import AppContext
from scraper.errors import ScraperError
from scraper.pipeline import archive_url

ANSWERS = {
    Outcome.NEW: "new",
    Outcome.UPDATED: "new version",
    Outcome.UNCHANGED: "unchanged",
    Outcome.DUPLICATE: "duplicate",
}


@dataclass(frozen=True, slots=True)
class ArchiveAnswer:
    url: str
    result: str  # new | new version | unchanged | duplicate | failed
    reason: str | None = None
    article_id: str | None = None
    version: int | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "result": self.result,
            "reason": self.reason,
            "id": self.article_id,
            "version": self.version,
        }


def check_url(url: str) -> str | None:
    """Why `url` cannot be archived, or None."""
    if len(url) > 2000:
        return "the URL is longer than 2000 characters"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "not an http(s) URL"
    return None


def archive_one(app: AppContext, url: str) -> ArchiveAnswer:
    """Fetch, parse and store `url`; never raises for a failure of the page or the site."""
    url = url.strip()
    problem = check_url(url)
    if problem:
        return ArchiveAnswer(url, "failed", problem)
    try:
        with app.make_fetcher() as fetcher, app.open_archive() as archive:
            stored = archive_url(url, fetcher=fetcher, archive=archive, config=app.config)
    except (ScraperError, ArchiveError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        return ArchiveAnswer(url, "failed", f"{type(exc).__name__}: {text}"[:300])
    article = stored.article
    return ArchiveAnswer(
        url,
        ANSWERS[stored.outcome],
        None,
        stored.duplicate_of or (article.id if article else None),
        article.version if article else None,
    )
