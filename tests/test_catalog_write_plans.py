"""Storing a page never scans a catalog table: every statement of the store's write path
finds its rows by an index, so a store costs the same in an archive of millions of articles
as in an empty one (a DELETE of SimHash bands by article id alone used to scan them all)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archive.record import RawPage
from archive.store import Archive
from scraper.parse import parse_page
from tests.crawl_support import NewsSite

_CONTROL = ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT", "ROLLBACK")


def _page(site: NewsSite, index: int, when: datetime) -> RawPage:
    article = site.articles[index]
    _, ctype, body = site.respond(article.path)
    url = "https://news.example" + article.path
    return RawPage(
        requested_url=url,
        final_url=url,
        status=200,
        headers=(("content-type", ctype),),
        body=body,
        fetched_at=when,
    )


def test_store_statements_use_indexes(tmp_path: Path) -> None:
    site = NewsSite.with_articles(6)
    when = datetime(2024, 6, 1, tzinfo=UTC)
    statements: dict[str, str] = {}
    with Archive.open(tmp_path / "a") as archive:
        db = archive.catalog.db  # type: ignore[attr-defined]

        def trace(sql: str) -> None:
            statements.setdefault(re.sub(r"'[^']*'|\b-?\d+\b", "?", sql), sql)

        db.set_trace_callback(trace)
        outcomes = []
        for round_ in range(2):  # new articles, then new versions of them (bands replaced)
            if round_:
                for i in range(len(site.articles)):
                    site.rewrite(i, seed=1000 + i)
            with archive.batch():
                for i in range(len(site.articles)):
                    page = _page(site, i, when + timedelta(hours=round_))
                    stored = archive.store(page, parse_page(page), source="news")
                    outcomes.append(stored.outcome.value)
        db.set_trace_callback(None)
        assert "new" in outcomes
        assert "updated" in outcomes
        scans = {}
        for sql in statements.values():
            if sql.lstrip().upper().startswith(_CONTROL):
                continue
            plan = [str(row[3]) for row in db.execute("EXPLAIN QUERY PLAN " + sql)]
            if any(step.startswith("SCAN") for step in plan):
                scans[sql[:120]] = plan
        assert not scans


def test_statement_journals_stay_in_memory(tmp_path: Path) -> None:
    """Each store of a batch is a savepoint: with SQLite's default temp store its statement
    journal went to a temp file past 64 kB, ~75 page writes per stored page (strace of a crawl).
    The catalog's and the frontier's connections keep temp data in memory (temp_store=2)."""
    with Archive.open(tmp_path / "a") as archive:
        db = archive.catalog.db  # type: ignore[attr-defined]
        assert db.execute("PRAGMA temp_store").fetchone()[0] == 2
        reader = archive.reader()
        try:
            assert reader.catalog.db.execute("PRAGMA temp_store").fetchone()[0] == 2  # type: ignore[attr-defined]
        finally:
            reader.close()
        with archive.open_frontier() as frontier:
            assert frontier._db.execute("PRAGMA temp_store").fetchone()[0] == 2  # type: ignore[attr-defined]
