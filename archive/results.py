"""What the reading side hands out: search hits, pages of results, stored raw pages, fetches.
Plain data with `to_json`, so the CLI, the web app and the Python API show the same fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from archive.backends.catalog import FetchRow, ListedRow
from archive.snippet import Snippet


@dataclass(frozen=True, slots=True)
class Hit:
    """One search hit (or one listed article: score 0, empty snippet)."""

    id: str
    version: int
    headline: str
    published: str | None
    fetched_at: str
    source: str
    url: str
    snippet: Snippet
    score: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "headline": self.headline,
            "published": self.published,
            "fetched_at": self.fetched_at,
            "source": self.source,
            "url": self.url,
            "snippet": self.snippet.text,
            "marks": self.snippet.marks(),
            "score": round(self.score, 4),
        }


@dataclass(frozen=True, slots=True)
class Results:
    hits: tuple[Hit, ...]
    total: int  # matches in all, over every page
    offset: int
    limit: int
    seconds: float  # time taken
    total_exact: bool = True  # False: `total` is an estimate (a query matching very many)

    def count_text(self, noun: str = "match", plural: str = "matches") -> str:
        """'3 matches', '1 match', 'about 27,000 matches'."""
        about = "" if self.total_exact else "about "
        return f"{about}{self.total:,} {noun if self.total == 1 else plural}"


@dataclass(frozen=True, slots=True)
class Raw:
    """A stored page exactly as served, with what is known of its fetches."""

    sha256: str
    body: bytes
    meta: dict[str, Any]  # the first fetch's sidecar: URLs, status, headers, time
    fetches: tuple[dict[str, Any], ...] = field(default=())

    @property
    def content_type(self) -> str:
        for name, value in self.meta.get("headers", ()):
            if str(name).lower() == "content-type":
                return str(value)
        return "application/octet-stream"


def hit_of(row: ListedRow, snippet: Snippet) -> Hit:
    return Hit(
        id=row.article_id,
        version=row.version,
        headline=row.headline,
        published=row.published,
        fetched_at=row.fetched_at,
        source=row.source,
        url=row.url,
        snippet=snippet,
        score=row.score,
    )


def fetch_json(row: FetchRow) -> dict[str, Any]:
    return {
        "fetched_at": row.fetched_at,
        "url": row.url,
        "final_url": row.final_url,
        "status": row.status,
        "outcome": row.outcome,
        "raw_sha256": row.raw_sha256,
        "size": row.size,
        "source": row.source,
    }
