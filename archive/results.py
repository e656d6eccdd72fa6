"""What the reading side hands out: search hits, pages of results, stored raw pages, fetches.
Plain data with `to_json`, so the CLI, the web app and the Python API show the same fields."""

from __future__ import annotations

import re
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
    headline_marks: tuple[tuple[int, int], ...] = ()  # [start, end) of matches in `headline`

    def headline_marked(self, limit: int) -> Snippet:
        """The headline with its matches marked, white space folded, cut at `limit`
        characters (a hostile headline may be megabytes)."""
        pieces: list[tuple[str, bool]] = []
        pos, room = 0, limit
        for start, end in (*self.headline_marks, (len(self.headline), len(self.headline))):
            for text, marked in (
                (self.headline[pos:start], False),
                (self.headline[start:end], True),
            ):
                text = _SPACES.sub(" ", text[: room + 1])
                if not pieces:
                    text = text.lstrip()
                if text and room > 0:
                    cut = text[:room] + ("…" if len(text) > room else "")
                    pieces.append((cut, marked))
                    room -= len(text)
            pos = end
        return Snippet(tuple(pieces))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "headline": self.headline,
            "headline_marks": [list(m) for m in self.headline_marks],
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
    total: int  # matches in all, over every page (at most COUNT_CAP: see total_exact, total_of)
    offset: int
    limit: int
    seconds: float  # time taken
    # False: more match than `total` (COUNT_CAP, 10,000), which is then a lower bound
    total_exact: bool = True
    # the newest matching versions the ranking looked at when it did not rank every match
    # (a common word in a large archive), else None: the best of those come first
    ranked_newest: int | None = None
    # what `total` counts: "articles", or "versions" (exact: the matching versions, each
    # article once per version that matches; a search's cheap count, see `ArchiveReader.search`)
    total_of: str = "articles"

    @property
    def total_relation(self) -> str:
        """Elasticsearch's word for `total`: "eq" (exact) or "gte" (a lower bound)."""
        return "eq" if self.total_exact else "gte"

    def to_json(self) -> dict[str, Any]:
        """The count as the API gives it: `total` with `total_relation` ("eq", or "gte"
        when it is a lower bound, as Elasticsearch says), `total_exact` and `total_of` (what
        was counted: "articles" or "versions")."""
        return {
            "total": self.total,
            "total_exact": self.total_exact,
            "total_relation": self.total_relation,
            "total_of": self.total_of,
            "count": self.count_text(),
            "ranked_newest": self.ranked_newest,
            "ranking": self.ranking_text(),
        }

    def ranking_text(self) -> str:
        """What a reader must know when only part of the matches was ranked, else ''."""
        if self.ranked_newest is None:
            return ""
        return (
            f"best of the newest {self.ranked_newest:,} matches: a longer query or a date"
            " filter finds older ones"
        )

    def count_text(self, noun: str = "match", plural: str = "matches") -> str:
        """'3 matches', '1 match', 'at least 10,000 matches', '2,345 matching versions'."""
        if self.total_of == "versions":
            return f"{self.total:,} matching version{'' if self.total == 1 else 's'}"
        counted = f"{self.total:,} {noun if self.total == 1 else plural}"
        return counted if self.total_exact else f"at least {counted}"


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


_SPACES = re.compile(r"\s+")


def hit_of(row: ListedRow, snippet: Snippet, headline_marks: list[list[int]] | None = None) -> Hit:
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
        headline_marks=tuple((a, b) for a, b in headline_marks or ()),
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
