"""Filters and pages as people give them (`--since 2024-03-01`, `?page=3`), checked and made
into the catalog's `Filters`; a `QueryError` says which one makes no sense."""

from __future__ import annotations

from datetime import date

from archive.backends.catalog import Filters
from archive.errors import FilterError
from archive.snippet import fold

MAX_LIMIT = 1000


def day_bound(value: str | date | None, name: str) -> str | None:
    """A --since/--until value as a YYYY-MM-DD bound; QueryError when it is no date."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()[:10]
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise FilterError(f"{name} {text[:40]!r} is not a date: use YYYY-MM-DD") from None


def make_filters(
    *,
    source: str | None = None,
    since: str | date | None = None,
    until: str | date | None = None,
    author: str | None = None,
    section: str | None = None,
) -> Filters:
    """Filters from what a user typed; QueryError names the one that makes no sense."""
    low, high = day_bound(since, "since"), day_bound(until, "until")
    if low and high and low > high:
        raise FilterError(f"since {low} is after until {high}: nothing can match")
    return Filters(
        source=source or None,
        since=low,
        until=high,
        author=fold(author).strip() or None if author else None,
        section=fold(section).strip() or None if section else None,
    )


def page_bounds(limit: int, offset: int) -> tuple[int, int]:
    if not 1 <= limit <= MAX_LIMIT:
        raise FilterError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise FilterError(f"offset must be 0 or more, not {offset}")
    return limit, offset
