"""The persistent frontier: dedup, leasing, resume after a crash, revisits, trap caps."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from archive.backends.frontier import (
    MAX_ATTEMPTS,
    MAX_PAGES_PER_TEMPLATE,
    Entry,
    Frontier,
    Kind,
    Revisit,
    State,
)
from archive.backends.frontier_sqlite import Finish, SqliteFrontier
from scraper.crawl.finishes import FinishesMany

DAY = 86400.0


def _open(tmp_path: Path) -> Frontier:
    return SqliteFrontier.open(tmp_path / "catalog.sqlite")


def test_schema_is_idempotent_and_wal(tmp_path: Path) -> None:
    with _open(tmp_path):
        pass
    with _open(tmp_path) as frontier:
        assert frontier.count("s") == 0
    conn = sqlite3.connect(tmp_path / "catalog.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {t for t in tables if t.startswith("frontier_")} == tables


@pytest.fixture
def open_frontier(
    catalog_backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Frontier]]:
    """Opens this test's frontier on its backend; each call reopens the same one."""
    if catalog_backend == "sqlite":
        yield lambda: _open(tmp_path)
        return
    from archive.backends.catalog_pg import PgCatalog

    catalog = PgCatalog(request.getfixturevalue("pg_url"), root=tmp_path)
    try:
        yield lambda: catalog.open_frontier()
    finally:
        catalog.close()


def test_dedup_by_url_key_and_priority_order(open_frontier: Callable[[], Frontier]) -> None:
    with open_frontier() as f:
        f.begin_run(
            "s", now=0.0, starts=[("https://e.org/", Kind.PAGE), ("https://e.org/rss", Kind.FEED)]
        )
        new = f.add(
            "s",
            [
                Entry("https://e.org/a-b-c?utm_source=x", Kind.ARTICLE, 1),
                Entry("https://E.org/a-b-c#top", Kind.ARTICLE, 1),
                Entry("https://e.org/a-b-c/amp", Kind.ARTICLE, 1),
                Entry("https://e.org/a-b-c;jsessionid=0A1B2C3D", Kind.ARTICLE, 1),
                Entry("https://e.org/a-b-c?PHPSESSID=af3e&sid=77", Kind.ARTICLE, 1),
                Entry("https://e.org/rss", Kind.FEED, 1),
            ],
            now=1.0,
            refresh_after=DAY,
        )
        assert new == ["https://e.org/a-b-c"]
        items = f.lease("s", 10)
        assert [(i.kind, i.url) for i in items] == [
            (Kind.FEED, "https://e.org/rss"),
            (Kind.PAGE, "https://e.org/"),
            (Kind.ARTICLE, "https://e.org/a-b-c"),
        ]
        assert f.lease("s", 10) == []
        # sources are separate
        assert f.add("t", [Entry("https://e.org/a-b-c", Kind.ARTICLE, 1)], now=1, refresh_after=DAY)


def test_leased_urls_survive_a_crash_and_done_ones_are_not_requeued(
    open_frontier: Callable[[], Frontier],
) -> None:
    f = open_frontier()
    f.begin_run("s", now=0.0, starts=[("https://e.org/rss", Kind.FEED)])
    f.add(
        "s",
        [Entry(f"https://e.org/story-number-{i}", Kind.ARTICLE, 1) for i in range(5)],
        now=0.0,
        refresh_after=DAY,
    )
    items = f.lease("s", 4)
    f.finish("s", items[0].key, state=State.DONE, now=1.0, outcome="links")
    f.finish("s", items[1].key, state=State.DONE, now=1.0, outcome="new")
    # the process dies here without closing anything
    del f
    with open_frontier() as f2:
        queued = f2.begin_run("s", now=10.0, starts=[("https://e.org/rss", Kind.FEED)])
        # the feed again (a start point) + 2 leased-but-unfinished + 2 never leased
        assert queued == 5
        urls = [i.url for i in f2.lease("s", 10)]
        assert items[1].url not in urls
        assert urls[0] == "https://e.org/rss"


def test_transient_failures_retry_a_few_runs_then_stop(
    open_frontier: Callable[[], Frontier],
) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry("https://e.org/flaky-story-here", Kind.ARTICLE, 1)],
            now=0.0,
            refresh_after=DAY,
        )
        for run in range(MAX_ATTEMPTS + 2):
            items = f.lease("s", 10)
            if run < MAX_ATTEMPTS:
                assert len(items) == 1
                f.finish("s", items[0].key, state=State.RETRY, now=run, outcome="unreachable")
            else:
                assert items == []
            f.begin_run("s", now=run + 1.0, starts=[])


def test_revisit_policy_requeues_young_articles_only_when_due(
    open_frontier: Callable[[], Frontier],
) -> None:
    policy = Revisit(max_age=2 * DAY, every=6 * 3600.0)
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [
                Entry("https://e.org/young-story-here", Kind.ARTICLE, 1, published=0.0),
                Entry("https://e.org/old-story-here", Kind.ARTICLE, 1, published=-10 * DAY),
            ],
            now=0.0,
            refresh_after=DAY,
        )
        for item in f.lease("s", 10):
            f.finish("s", item.key, state=State.DONE, now=0.0, outcome="new")
        assert f.begin_run("s", now=3600.0, starts=[], revisit=policy) == 0  # not due yet
        assert f.begin_run("s", now=7 * 3600.0, starts=[], revisit=policy) == 1
        (young,) = f.lease("s", 10)
        assert young.url == "https://e.org/young-story-here"
        f.finish("s", young.key, state=State.DONE, now=7 * 3600.0, outcome="unchanged")
        assert f.begin_run("s", now=3 * DAY, starts=[], revisit=policy) == 0  # too old now


def test_listing_lastmod_requeues_a_changed_article_once(
    open_frontier: Callable[[], Frontier],
) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry("https://e.org/story-that-changes", Kind.ARTICLE, 1)],
            now=0.0,
            refresh_after=DAY,
        )
        (item,) = f.lease("s", 1)
        f.finish("s", item.key, state=State.DONE, now=10.0, outcome="new")
        f.begin_run("s", now=100.0, starts=[])
        same = Entry("https://e.org/story-that-changes", Kind.ARTICLE, 1, modified=5.0)
        assert f.add("s", [same], now=100.0, refresh_after=DAY) == []
        assert f.lease("s", 1) == []
        changed = Entry("https://e.org/story-that-changes", Kind.ARTICLE, 1, modified=50.0)
        f.add("s", [changed], now=100.0, refresh_after=DAY)
        assert len(f.lease("s", 1)) == 1


def test_navigation_pages_of_one_shape_are_capped(open_frontier: Callable[[], Frontier]) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        pages = [
            Entry(
                f"https://e.org/calendar/{2000 + i // 12}/{i % 12 + 1}",
                Kind.PAGE,
                1,
                template="e.org/calendar/N/N?",
            )
            for i in range(200)
        ]
        assert len(f.add("s", pages, now=0.0, refresh_after=DAY)) == MAX_PAGES_PER_TEMPLATE


def test_start_points_and_validators(open_frontier: Callable[[], Frontier]) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[("https://e.org/rss", Kind.FEED)])
        (item,) = f.lease("s", 5)
        assert item.start
        f.finish(
            "s",
            item.key,
            state=State.DONE,
            now=1.0,
            outcome="ok",
            etag='"v1"',
            last_modified="Fri, 17 May 2024 10:00:00 GMT",
        )
        f.begin_run("s", now=2.0, starts=[("https://e.org/rss", Kind.FEED)])
        (again,) = f.lease("s", 5)
        assert (again.etag, again.last_modified) == ('"v1"', "Fri, 17 May 2024 10:00:00 GMT")
        f.finish(
            "s", again.key, state=State.DONE, now=3.0, outcome="not modified", keep_validators=True
        )
        f.end_run("s", now=4.0, status="ok")
        assert f.last_run("s") == (2.0, 4.0, "ok")
        f.begin_run("s", now=5.0, starts=[])
        (third,) = f.lease("s", 5)  # still a start point though not given this time
        assert third.etag == '"v1"'


def test_finish_many_writes_what_finish_would(open_frontier: Callable[[], Frontier]) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry(f"https://e.org/story-{n}", Kind.ARTICLE, 1) for n in range(3)],
            now=0.0,
            refresh_after=DAY,
        )
        done, retry, kept = sorted(f.lease("s", 5), key=lambda i: i.url)
        assert isinstance(f, FinishesMany)  # both backends; not part of `Frontier`
        f.finish_many(
            [
                Finish("s", done.key, State.DONE, 1.0, "new", etag='"e"', published=5.0),
                Finish("s", retry.key, State.RETRY, 1.0, "unreachable"),
                Finish("s", kept.key, State.DONE, 1.0, "not modified", keep_validators=True),
            ]
        )
        assert f.states("s") == {done.key: "done", retry.key: "retry", kept.key: "done"}
        f.begin_run("s", now=2.0, starts=[])
        (again,) = f.lease("s", 5)
        assert (again.key, again.attempts, again.fetched_at) == (retry.key, 1, 1.0)


def test_a_retry_or_failure_never_overwrites_done(open_frontier: Callable[[], Frontier]) -> None:
    # in a cluster two workers can hold one URL (an expired lease): the one whose page was
    # stored says "done", and the other's failed copy must not queue it again or fail it
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[])
        f.add(
            "s",
            [Entry(f"https://e.org/story-{n}", Kind.ARTICLE, 1) for n in range(3)],
            now=0.0,
            refresh_after=DAY,
        )
        a, b, c = sorted(f.lease("s", 5), key=lambda i: i.url)
        for item in (a, b):
            f.finish("s", item.key, state=State.DONE, now=1.0, outcome="new")
        f.finish("s", a.key, state=State.RETRY, now=2.0, outcome="unreachable")
        assert isinstance(f, FinishesMany)
        f.finish_many(
            [
                Finish("s", b.key, State.FAILED, 2.0, "HTTP 404"),
                Finish("s", c.key, State.FAILED, 2.0, "HTTP 404"),
            ]
        )
        assert f.states("s") == {a.key: "done", b.key: "done", c.key: "failed"}
        f.finish("s", c.key, state=State.DONE, now=3.0, outcome="new")  # done still wins
        assert f.states("s")[c.key] == "done"


def test_release_returns_leased_urls(open_frontier: Callable[[], Frontier]) -> None:
    with open_frontier() as f:
        f.begin_run("s", now=0.0, starts=[("https://e.org/rss", Kind.FEED)])
        (item,) = f.lease("s", 5)
        f.release("s", [item.key])
        assert f.count("s", State.QUEUED) == 1


def test_workers_leasing_at_once_never_share_a_url(tmp_path: Path, pg_url: str) -> None:
    from archive.backends.catalog_pg import PgCatalog

    catalog = PgCatalog(pg_url, root=tmp_path)
    try:
        with catalog.open_frontier() as f:
            f.begin_run("s", now=0.0, starts=[])
            entries = [Entry(f"https://e.org/story-{i}", Kind.ARTICLE, 1) for i in range(300)]
            f.add("s", entries, now=0.0, refresh_after=DAY)
        taken: list[list[str]] = [[] for _ in range(4)]

        def work(slot: int) -> None:
            mine = PgCatalog(pg_url, root=tmp_path)  # a worker: its own pool
            try:
                while items := mine.open_frontier().lease("s", 7):
                    taken[slot].extend(i.key for i in items)
            finally:
                mine.close()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        keys = [k for slot in taken for k in slot]
        assert len(keys) == len(set(keys)) == 300
    finally:
        catalog.close()
