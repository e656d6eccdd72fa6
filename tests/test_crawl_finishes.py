"""The crawl's held "done" marks at the end of a run: written on a clean exit; when the crawl
is already failing, a failing write does not replace the crawl's own error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import cast

import pytest

from archive.backends.frontier import State
from archive.backends.frontier_sqlite import Finish, SqliteFrontier
from scraper.crawl.finishes import HeldFinishes


class _Frontier:
    def __init__(self, fail: bool) -> None:
        self.fail = fail
        self.written: list[Finish] = []

    def finish_many(self, held: list[Finish]) -> None:
        if self.fail:
            raise sqlite3.OperationalError("database or disk is full")
        self.written += held


def _held(fail: bool) -> tuple[HeldFinishes, _Frontier]:
    frontier = _Frontier(fail)
    finishes = HeldFinishes(cast(SqliteFrontier, frontier))
    finishes.add(Finish("src", "https://example.org/a", State.DONE, 0.0, "stored"))
    return finishes, frontier


def test_a_clean_exit_writes_the_held_marks() -> None:
    finishes, frontier = _held(fail=False)
    with contextlib.ExitStack() as stack:
        stack.push(finishes.exit_flush)
    assert [f.key for f in frontier.written] == ["https://example.org/a"]


def test_a_clean_exit_reports_a_failing_write() -> None:
    finishes, _ = _held(fail=True)
    with pytest.raises(sqlite3.OperationalError), contextlib.ExitStack() as stack:
        stack.push(finishes.exit_flush)


def _crawl_that_fails(finishes: HeldFinishes) -> None:
    with contextlib.ExitStack() as stack:
        stack.push(finishes.exit_flush)
        raise RuntimeError("fetcher broke")


def test_a_failing_crawl_keeps_its_own_error(caplog: pytest.LogCaptureFixture) -> None:
    finishes, _ = _held(fail=True)
    with caplog.at_level(logging.WARNING), pytest.raises(RuntimeError, match="fetcher broke"):
        _crawl_that_fails(finishes)
    assert "done marks not written" in caplog.text


def test_a_failed_write_keeps_the_marks_for_the_next_one() -> None:
    finishes, frontier = _held(fail=True)
    with pytest.raises(sqlite3.OperationalError):
        finishes.flush()
    finishes.add(Finish("src", "https://example.org/b", State.DONE, 1.0, "stored"))
    frontier.fail = False
    finishes.flush()
    assert [f.key for f in frontier.written] == ["https://example.org/a", "https://example.org/b"]


def test_a_cluster_worker_writes_its_marks_every_few_tenths_of_a_second() -> None:
    finishes, frontier = _held(fail=False)

    async def run() -> list[Finish]:
        flusher = asyncio.ensure_future(finishes.flush_every(0.01))
        for _ in range(200):  # at most 2 s (a loaded machine), usually one interval
            await asyncio.sleep(0.01)
            if frontier.written:
                break
        written = list(frontier.written)
        flusher.cancel()
        return written

    assert [f.key for f in asyncio.run(run())] == ["https://example.org/a"]
