"""How the ingest workers are started: forked in a process running no other thread, from the
forkserver otherwise (a fork can catch another thread holding a lock; Python 3.12 warns)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from archive.store import Archive
from scraper.crawl import workers
from scraper.crawl.workers import IngestPool
from tests.crawl_support import NewsSite, SiteServer

ROOT = Path(__file__).resolve().parent.parent


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


def test_schedule_through_python_m_stores_with_forkserver_workers(tmp_path: Path) -> None:
    """`python -m scraper schedule` crawls in scheduler threads, so its workers come from the
    forkserver: the whole path, end to end, stores every article and verifies clean."""
    with SiteServer(NewsSite.with_articles(6, crawl_delay=0.005)) as site:
        config = tmp_path / "config.yaml"
        config.write_text(
            f"data_dir: {tmp_path / 'data'}\nnetwork:\n  allow: ['127.0.0.0/8']\n"
            f"politeness:\n  delay: 0.01s\nsources:\n  - name: local\n    home: {site.base}/\n"
            "    schedule: {every: 1h}\n"
        )
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        command = [sys.executable, "-m", "scraper", "--config", str(config)]
        proc = subprocess.Popen(
            [*command, "schedule"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        articles = tmp_path / "data" / "articles" / "local"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if articles.is_dir() and sum(1 for _ in articles.iterdir()) >= 6:
                break
            time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert sum(1 for _ in articles.iterdir()) == 6
    verify = subprocess.run([*command, "verify"], capture_output=True, env=env, check=False)
    assert verify.returncode == 0, verify.stdout.decode() + verify.stderr.decode()
