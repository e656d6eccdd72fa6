"""kill -9 at 20 random moments of real crawls: the archive verifies clean after each, and
every page the crawl reported as stored is in it.

Each crawl runs as its own process (`python -m tests.crawl_support`), with the default ingest:
worker processes and group commits. A crawl reports a page only after its batch is committed;
the next crawl resumes the same archive, so kills land at every stage: start-up, discovery,
fetching, batches being written, the journal being synced, shutdown.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archive.maintenance.verify import verify
from archive.store import Archive
from scraper.crawl import SourceStatus, crawl
from scraper.fetch import AsyncFetcher
from tests.crawl_support import NewsSite, SiteServer, site_config

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = 60
KILLS = 20
ARCHIVES = 4  # the kills are spread over this many archives, each crawled until killed


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(ARTICLES, crawl_delay=0.01)) as served:
        served.article_delay = 0.01
        yield served


def _killed_crawl(base: str, data: Path, after: float) -> list[str]:
    """Start a crawl, SIGKILL it `after` seconds later; the URLs it reported as stored."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crawl_support", base, str(data), "--report-stored"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(child.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    time.sleep(after)
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join(10)  # its workers notice within a second and exit, closing the pipe
    assert not reader.is_alive(), "a process of the killed crawl is still running"
    child.stdout.close()
    return [line.split(" ", 1)[1].strip() for line in lines if line.startswith("STORED ")]


def _timed_crawl(base: str, data: Path) -> tuple[float, float]:
    """One whole crawl: seconds to its first stored page and to its end."""
    start = time.monotonic()
    first = None
    with subprocess.Popen(
        [sys.executable, "-m", "tests.crawl_support", base, str(data), "--report-stored"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if first is None and line.startswith("STORED "):
                first = time.monotonic() - start
    assert child.returncode == 0
    assert first is not None, "the crawl stored nothing"
    return first, time.monotonic() - start


def test_kill_9_at_20_random_moments_loses_nothing_reported(site: NewsSite, tmp_path: Path) -> None:
    # the moments follow this machine's pace (a slow or busy machine takes seconds to start a
    # crawl): a third before the first page is stored (start-up, discovery), the rest while
    # pages are being stored and the crawl ends
    first, end = _timed_crawl(site.base, tmp_path / "timing")
    print(f"a whole crawl here: first page stored at {first:.2f} s, end at {end:.2f} s")
    rng = random.Random(11)
    early = KILLS // 3
    moments = [rng.uniform(0.1 * first, first) for _ in range(early)]
    moments += [rng.uniform(first, end) for _ in range(KILLS - early)]
    rng.shuffle(moments)
    reported_total = 0
    for n, after in enumerate(moments):
        data = tmp_path / f"archive{n % ARCHIVES}"
        reported = _killed_crawl(site.base, data, after)
        reported_total += len(reported)
        with Archive.open(data) as archive:
            report = verify(archive)
            assert report.ok, (n, after, report.lines())
            missing = [url for url in reported if archive.find(url) is None]
            assert not missing, (n, after, missing)
    assert reported_total > 0, "no kill landed after a page was stored"
    # each archive then completes: nothing was lost or left half-done
    for n in range(ARCHIVES):
        data = tmp_path / f"archive{n}"
        config = site_config(site.base, data)
        with Archive.open(data) as archive:
            result = crawl(
                config, fetcher=AsyncFetcher(config.fetch, config.politeness), archive=archive
            )
            assert result.source("local").status is SourceStatus.OK
            assert len(list(archive.iter_articles(source="local"))) == ARTICLES
            assert verify(archive).ok
