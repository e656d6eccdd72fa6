"""How the ingest workers are started: forked in a process running no other thread, from the
forkserver otherwise (a fork can catch another thread holding a lock; Python 3.12 warns)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive
from scraper.crawl import workers
from scraper.crawl.workers import IngestPool


def _methods_used(monkeypatch: pytest.MonkeyPatch, archive: Archive) -> list[str]:
    used: list[str] = []
    real = workers.multiprocessing.get_context

    def spy(method: str | None = None) -> Any:
        used.append(str(method))
        return real(method)

    monkeypatch.setattr(workers.multiprocessing, "get_context", spy)

    async def enter_and_leave() -> None:
        async with IngestPool(archive, workers=1):
            pass

    asyncio.run(enter_and_leave())
    return used


def test_with_another_thread_running_workers_come_from_the_forkserver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        with Archive.open(tmp_path / "a") as archive:
            used = _methods_used(monkeypatch, archive)
    finally:
        stop.set()
        thread.join()
    assert used == ["forkserver"]


def test_alone_the_process_forks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(workers, "_threads", lambda: 1)
    with Archive.open(tmp_path / "a") as archive:
        assert _methods_used(monkeypatch, archive) == ["fork"]
