"""The group commit runs in the writer thread: while a batch is being stored the event loop
keeps going (timers fire, the frontier takes leases and marks, the catalog answers through the
pool's read-only connection), and a frontier kept in the catalog file by an older morgue moves
to its own file with nothing lost."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
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
    first = make_page(f"{SITE}/2024/one", article_html("One", paragraphs(1)))
    inside = threading.Event()
    release = threading.Event()
    real_store = archive.store
    threads: list[str] = []

    def slow_store(*args: object, **kwargs: object) -> Stored:
        # the store of this batch holds the catalog's write transaction until released
        threads.append(threading.current_thread().name)
        inside.set()
        assert release.wait(20), "the test never released the batch"
        return real_store(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(archive, "store", slow_store)

    async def crawl() -> tuple[list[float], Stored | Exception]:
        async with IngestPool(archive, workers=1) as pool:
            task = asyncio.ensure_future(pool.ingest(first, source="news", rules=None, links=False))
            try:
                ticks = await _while_stored(pool)
            finally:
                release.set()
            result, _ = await task
            assert pool.reader.find_urls([first.final_url]).keys() == {first.final_url}
            return ticks, result

    async def _while_stored(pool: IngestPool) -> list[float]:
        while not inside.is_set():
            await asyncio.sleep(0.01)
        # the batch is inside its transaction now: the loop still runs its timers ...
        ticks = []
        for _ in range(5):
            start = time.monotonic()
            await asyncio.sleep(0.01)
            ticks.append(time.monotonic() - start)
        # ... writes the frontier (its own file, its own lock) ...
        entry = Entry(f"{SITE}/2024/two", Kind.ARTICLE, 1)
        frontier.add("news", [entry], now=1.0, refresh_after=3600)
        leased = frontier.lease("news", 10)
        assert {item.url for item in leased} == {f"{SITE}/", f"{SITE}/2024/two"}
        # ... and asks the catalog through its own connection, which sees no uncommitted row
        assert pool.reader.find_urls([first.final_url]) == {}
        return ticks

    try:
        ticks, result = asyncio.run(crawl())
    finally:
        release.set()
        frontier.close()
    assert isinstance(result, Stored)
    assert result.article is not None
    assert threads
    assert all(name.startswith("morgue-writer") for name in threads)
    assert max(ticks) < 1.0, ticks
    archive.close()
    with Archive.open(tmp_path / "a") as again:
        assert again.find(first.final_url) is not None


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
