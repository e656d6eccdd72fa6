"""The app's views. Each builds one plain dict (JSON-able) from the query layer; the HTML
route renders it with a template and the `/api/` route returns it as JSON, so the page and
its JSON twin never disagree (datasette's habit)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request

from archive.backends.catalog import COUNT_CAP
from archive.errors import ArchiveError, FilterError, NotFound, QueryError
from archive.query import ArchiveReader, Results
from archive.record import Article
from archive.render import display_date
from scraper.cli.support import AppContext
from scraper.web.chart import bar_chart

PER_PAGE = 20
CHART_DAYS = 90


class WebError(Exception):
    """An answer other than 200: a clear 4xx page or JSON error, never a traceback."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Views:
    reader: ArchiveReader
    app: AppContext
    token: str | None = None
    today: Any = field(default=lambda: datetime.now(UTC).date())

    def _page(self, request: Request) -> int:
        raw = request.query_params.get("page", "1") or "1"
        if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
            raise WebError(400, f"page must be a whole number from 1, not {raw[:20]!r}")
        return int(raw)

    def _filters(self, request: Request) -> dict[str, str | None]:
        q = request.query_params
        return {k: (q.get(k) or "").strip()[:200] or None for k in FILTER_KEYS}

    def _results(self, results: Results, page: int) -> dict[str, Any]:
        last = max(1, -(-results.total // PER_PAGE))
        if page > last or (page > 1 and not results.hits):  # an estimated count ran out early
            raise WebError(404, f"page {page} is past the last page ({last})")
        return {
            **results.to_json(),  # total, total_exact, total_relation, count
            "page": page,
            "pages": last,
            "ms": round(results.seconds * 1000, 1),
            "hits": [hit.to_json() for hit in results.hits],
        }

    def index(self, request: Request) -> dict[str, Any]:
        page = self._page(request)
        filters = self._filters(request)
        try:
            results = self.reader.listing(**filters, limit=PER_PAGE, offset=(page - 1) * PER_PAGE)
        except QueryError as exc:
            raise WebError(400, str(exc)) from exc
        names = self.reader.known_sources()
        listed = {
            **self._results(results, page),
            "count": results.count_text("article", "articles"),
        }
        return {"filters": filters, "sources": names, **listed}

    def search(self, request: Request) -> dict[str, Any]:
        query = (request.query_params.get("q") or "").strip()
        page = self._page(request)
        filters = self._filters(request)
        counting = request.query_params.get("count") or ""
        if counting not in ("", "exact"):
            raise WebError(400, f"count may only be 'exact', not {counting[:20]!r}")
        base = {"q": query, "filters": filters, "count_exact": counting == "exact"}
        if not query:
            empty = {
                **{"total": 0, "total_exact": True, "total_relation": "eq", "count": "0 matches"},
                **{"total_of": "articles", "ranked_newest": None, "ranking": ""},
            }
            return {**base, **empty, "page": 1, "pages": 1, "ms": 0, "hits": [], "can_count": False}
        try:
            results = self.reader.search(
                query,
                **filters,
                limit=PER_PAGE,
                offset=(page - 1) * PER_PAGE,
                exact_count=counting == "exact",
            )
        except QueryError as exc:
            what = "bad filter" if isinstance(exc, FilterError) else "bad query"
            raise WebError(400, f"{what}: {exc}") from exc
        # the articles can be counted on request when what was counted is not them, or is
        # a lower bound below the cap (a count past the cap is a lower bound either way)
        can_count = counting != "exact" and (
            results.total_of != "articles"
            or (not results.total_exact and results.total < COUNT_CAP)
        )
        return {**base, **self._results(results, page), "can_count": can_count}

    def _article(self, article_id: str, version: int | None) -> Article:
        try:
            return self.reader.get(article_id, version)
        except NotFound as exc:
            raise WebError(404, str(exc)) from exc

    def article(self, request: Request) -> dict[str, Any]:
        article_id = request.path_params["article_id"]
        version = request.path_params.get("version")
        article = self._article(article_id, version)
        return {
            "article": article.to_json(),
            "date": display_date(article.content.published),
            "latest_version": self.reader.latest_version(article.id),
            "urls": [
                {"url": u.url, "first_seen": u.first_seen, "duplicate": u.duplicate}
                for u in self.reader.urls(article.id)
            ],
            "copies": self.reader.copies(article.id),
            "versions": self.reader.version_list(article.id),
            "fetches": self.reader.fetches(article.id),
        }

    def versions(self, request: Request) -> dict[str, Any]:
        try:
            article_id = self.reader.article_id(request.path_params["article_id"])
        except NotFound as exc:
            raise WebError(404, str(exc)) from exc
        return {"id": article_id, "versions": self.reader.version_list(article_id)}

    def diff(self, request: Request) -> dict[str, Any]:
        article = self._article(request.path_params["article_id"], None)
        bounds = []
        for key in ("from", "to"):
            raw = request.query_params.get(key) or ""
            if raw and not raw.isdigit():
                raise WebError(400, f"{key} must be a version number, not {raw[:20]!r}")
            bounds.append(int(raw) if raw else None)
        try:
            diff = self.reader.diff(article.id, bounds[0], bounds[1])
        except NotFound as exc:
            raise WebError(404, str(exc)) from exc
        return {
            "headline": article.content.headline,
            "latest_version": article.version,
            "summary": diff.summary(),
            **diff.to_json(),
        }

    def raw_meta(self, request: Request) -> dict[str, Any]:
        try:
            raw = self.reader.raw(request.path_params["sha"])
        except ArchiveError as exc:
            raise WebError(404, str(exc)) from exc
        return {
            "sha256": raw.sha256,
            "size": len(raw.body),
            "content_type": raw.content_type,
            "meta": raw.meta,
            "fetches": list(raw.fetches),
        }

    def sources(self, request: Request) -> dict[str, Any]:
        configured = {s.name: s for s in self.app.config.sources}
        today = self.today()
        out = []
        for row in self.reader.sources():
            days = self.reader.per_day(row["name"], CHART_DAYS, today)
            out.append(
                {
                    **row,
                    "next_run": _next_run(configured.get(row["name"]), row),
                    "per_day": [{"day": d, "articles": n} for d, n in days],
                }
            )
        return {"sources": out, "days": CHART_DAYS}

    def chart(self, source: dict[str, Any]) -> str:
        days = [(d["day"], d["articles"]) for d in source["per_day"]]
        return bar_chart(days, f"articles per day, {source['name']}")


FILTER_KEYS = ("source", "since", "until", "author", "section")


def _next_run(source: Any, row: dict[str, Any]) -> str | None:
    if source is None:
        return None
    from scraper.crawl.schedule import next_due

    last = row.get("last_crawl") or {}
    after_text = last.get("finished") or last.get("started")
    after = (
        datetime.fromisoformat(after_text.replace("Z", "+00:00"))
        if after_text
        else datetime.now(UTC)
    )
    return next_due(source.schedule, after).astimezone(UTC).isoformat().replace("+00:00", "Z")


def day_of(value: str | None) -> str:
    return display_date(value) or (value or "")[:10]


def today_utc() -> date:
    return datetime.now(UTC).date()
