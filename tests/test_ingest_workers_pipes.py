"""How pages travel to the ingest workers and back: a pipe each way per worker, read by the
crawl process's event loop itself. A worker that dies fails only the pages it held; the pool
goes on with the others, and no thread of the crawl process stands between loop and workers."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from archive.record import RawPage
from archive.store import Archive
from scraper.crawl import workers
from scraper.crawl.links import Followed
from scraper.crawl.workers import FollowAsk, IngestPool
from tests.archive_support import article_html, make_page, paragraphs

PAGE = make_page("https://news.example/", article_html("Front", paragraphs(1)))


def _held_or_pid(
    page: RawPage, source: str, follow: FollowAsk | None, feeds: bool
) -> tuple[list[str], Followed]:
    """In a worker: with `feeds`, note this worker's pid in the file `source` and hold the
    page a minute; else answer with the pid."""
    if feeds:
        Path(source).write_text(str(os.getpid()))
        time.sleep(60)
    return [str(os.getpid())], []


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> None:
    # forked workers run this module's stand-in for the links job (a forkserver's would not)
    monkeypatch.setattr(workers, "_threads", lambda: 1)
    monkeypatch.setattr(workers, "links_in_worker", _held_or_pid)


def test_a_killed_worker_fails_only_its_page_and_the_others_go_on(
    forked: None, tmp_path: Path
) -> None:
    note = tmp_path / "pid"

    async def run() -> tuple[BaseException | None, list[str], int]:
        with Archive.open(tmp_path / "a") as archive:
            return await crashed(archive)

    async def crashed(archive: Archive) -> tuple[BaseException | None, list[str], int]:
        async with IngestPool(archive, workers=2) as pool:
            held = asyncio.ensure_future(
                pool.links(PAGE, source=str(note), follow=None, feeds=True)
            )
            deadline = time.monotonic() + 30
            while not note.exists() or not note.read_text():
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            killed = int(note.read_text())
            os.kill(killed, signal.SIGKILL)
            try:
                await asyncio.wait_for(held, 10)
                error = None
            except BrokenProcessPool as exc:
                error = exc
            answers = [
                (await pool.links(PAGE, source="news", follow=None, feeds=False))[0][0]
                for _ in range(4)
            ]
            return error, answers, killed

    error, answers, killed = asyncio.run(run())
    assert error is not None
    assert "signal 9" in str(error), error
    # the pool goes on with the worker left: every later page is answered
    assert len(answers) == 4
    assert str(killed) not in answers


def test_no_thread_of_the_crawl_process_carries_pages_to_or_from_the_workers(
    forked: None, tmp_path: Path
) -> None:
    before = {t.ident for t in threading.enumerate()}

    async def run() -> list[str]:
        with Archive.open(tmp_path / "a") as archive:
            return await started(archive)

    async def started(archive: Archive) -> list[str]:
        async with IngestPool(archive, workers=2) as pool:
            await asyncio.gather(
                *(pool.links(PAGE, source="news", follow=None, feeds=False) for _ in range(8))
            )
            return [t.name for t in threading.enumerate() if t.ident not in before]

    # (the pool's own writer threads start with its first commit, none here)
    assert asyncio.run(run()) == []
