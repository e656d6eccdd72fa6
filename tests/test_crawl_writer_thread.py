"""A crawl's group commit holds up no host's next request: the event loop runs between the
pages of a batch and while the commit (its fsyncs) runs in the writer thread; meanwhile the
frontier takes leases and marks, and the catalog answers through the pool's read-only
connection. And a frontier kept in the catalog file by an older morgue moves
to its own file with nothing lost."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.backends.frontier import Entry, Kind, State
from archive.backends.frontier_sqlite import SqliteFrontier
from archive.errors import StorageError
from archive.record import Stored
from archive.store import Archive
from scraper.crawl.workers import IngestPool
from tests.archive_support import article_html, make_page, paragraphs

SITE = "https://news.example"


def test_the_event_loop_runs_while_a_batch_is_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = Archive.open(tmp_path / "a")
    frontier = archive.open_frontier()
    frontier.begin_run("news", now=0.0, starts=[(f"{SITE}/", Kind.PAGE)])
    pages = [
        make_page(f"{SITE}/2024/{n}", article_html(f"Story {n}", paragraphs(n))) for n in range(3)
    ]
    events: list[str] = []
    committing = threading.Event()
    release = threading.Event()
    real_store, real_batch = archive.store, archive.batch

    def store(*args: object, **kwargs: object) -> Stored:
        events.append(f"store on {threading.current_thread().name}")
        return real_store(*args, **kwargs)  # type: ignore[arg-type]

    @contextlib.contextmanager
    def batch(*args: object, **kwargs: object) -> Iterator[None]:
        with real_batch(*args, **kwargs):  # type: ignore[arg-type]
            yield
            # the commit: held open until the test has looked around
            events.append(f"commit on {threading.current_thread().name}")
            committing.set()
            assert release.wait(20), "the test never released the commit"

    monkeypatch.setattr(archive, "store", store)
    monkeypatch.setattr(archive, "batch", batch)

    async def ticker() -> None:
        while True:
            events.append("tick")
            await asyncio.sleep(0)

    async def while_committing(pool: IngestPool) -> int:
        while not committing.is_set():
            await asyncio.sleep(0.01)
        ticks = events.count("tick")
        await asyncio.sleep(0.05)
        # the loop runs during the commit: timers fire, the ticker ticks ...
        assert events.count("tick") > ticks
        # ... the frontier takes writes (its own file, its own lock) ...
        entry = Entry(f"{SITE}/2024/late", Kind.ARTICLE, 1)
        frontier.add("news", [entry], now=1.0, refresh_after=3600)
        leased = frontier.lease("news", 10)
        assert {item.url for item in leased} == {f"{SITE}/", f"{SITE}/2024/late"}
        # ... and the catalog answers through the loop's own connection: nothing uncommitted
        assert pool.reader.find_urls([p.final_url for p in pages]) == {}
        return ticks

    async def crawl() -> list[Stored | Exception]:
        async with IngestPool(archive, workers=1) as pool:
            tick = asyncio.ensure_future(ticker())
            stored = asyncio.gather(
                *(pool.ingest(p, source="news", rules=None, follow=None) for p in pages)
            )
            try:
                await while_committing(pool)
            finally:
                release.set()
            results = [result for result, _ in await stored]
            tick.cancel()
            found = pool.reader.find_urls([p.final_url for p in pages])
            assert found.keys() == {p.final_url for p in pages}
            return results

    try:
        results = asyncio.run(crawl())
    finally:
        release.set()
        frontier.close()
    assert all(isinstance(result, Stored) for result in results), results
    stores = [i for i, e in enumerate(events) if e.startswith("store")]
    assert [events[i] for i in stores] == ["store on MainThread"] * 3
    # the loop ran between one page's store and the next (one batch or more)
    assert all("tick" in events[i:j] for i, j in itertools.pairwise(stores))
    commits = [e for e in events if e.startswith("commit")]
    assert commits
    assert set(commits) == {"commit on morgue-writer_0"}
    archive.close()
    with Archive.open(tmp_path / "a") as again:
        assert all(again.find(p.final_url) is not None for p in pages)


def test_a_read_view_cannot_write(tmp_path: Path) -> None:
    with Archive.open(tmp_path / "a") as archive:
        view = archive.reader()
        try:
            page = make_page(f"{SITE}/2024/one", article_html("One", paragraphs(1)))
            with pytest.raises(StorageError), view.catalog.writing():
                view.catalog.add_source("news", "2024-01-01T00:00:00Z")
            assert view.find(page.final_url) is None
        finally:
            view.close()
        # closing the view leaves the archive open
        assert archive.catalog.article_by_url("x") is None


def _legacy_catalog(root: Path) -> None:
    """A catalog file with the frontier tables in it, as morgue kept them before."""
    with Archive.open(root):
        pass
    old = SqliteFrontier.open(root / "catalog.sqlite")
    old.begin_run("news", now=0.0, starts=[(f"{SITE}/", Kind.PAGE)])
    old.add(
        "news",
        [Entry(f"{SITE}/2024/{n}", Kind.ARTICLE, 1) for n in range(50)],
        now=1.0,
        refresh_after=3600,
    )
    (done,) = [i for i in old.lease("news", 100) if i.url == f"{SITE}/2024/7"]
    old.finish("news", done.key, state=State.DONE, now=2.0, outcome="new", etag='"e7"')
    old.end_run("news", now=3.0, status="ok")
    old.close()


def test_a_frontier_in_the_catalog_file_moves_to_its_own(tmp_path: Path) -> None:
    root = tmp_path / "a"
    _legacy_catalog(root)
    with Archive.open(root) as archive, archive.open_frontier() as frontier:
        states = frontier.states("news")
        assert len(states) == 51
        assert list(states.values()).count("done") == 1
        assert frontier.last_run("news") is not None
    assert (root / "frontier.sqlite").is_file()
    tables = sqlite3.connect(root / "catalog.sqlite").execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'frontier%'"
    )
    assert tables.fetchall() == []
    # the next open finds it where it is now, with the same rows
    with Archive.open(root) as archive, archive.open_frontier() as frontier:
        assert len(frontier.states("news")) == 51


def test_a_move_killed_after_the_copy_finishes_on_the_next_open(tmp_path: Path) -> None:
    root = tmp_path / "a"
    _legacy_catalog(root)
    # the copy is in place, the tables are still in the catalog (killed before the commit)
    from archive.backends.frontier_sqlite import copy_frontier

    copy_frontier(root / "catalog.sqlite", root / "frontier.sqlite")
    with Archive.open(root) as archive, archive.open_frontier() as frontier:
        assert len(frontier.states("news")) == 51
    names = sqlite3.connect(root / "catalog.sqlite").execute(
        "SELECT name FROM sqlite_master WHERE name LIKE 'frontier%'"
    )
    assert names.fetchall() == []
    assert not list(root.glob("frontier.sqlite.*.tmp"))
