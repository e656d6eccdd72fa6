"""Workers crawling together: real `morgue worker` processes on one PostgreSQL catalog crawl a
200-host site on 127.0.0.1 whose robots.txt asks for 1 s between requests."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from pathlib import Path

import pytest

from archive.backends.frontier import State
from archive.maintenance.verify import verify
from archive.store import Archive
from scraper.cluster.queue import defer_crawl, job_states
from scraper.config import load_config
from tests.cluster_support import (
    ManyHosts,
    ManyHostsServer,
    cluster_config,
    start_worker,
    stop_worker,
)

DELAY = 1.0
SLACK = 0.01  # server-side arrival jitter: the gate's margin (20 ms) covers it


def wait_for(config, ids: list[int], timeout: float) -> dict[int, str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        states = job_states(config, ids)
        if len(states) == len(ids) and all(s not in ("todo", "doing") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            pytest.fail(f"jobs did not end within {timeout:g} s: {states}")
        time.sleep(1.0)


def short_gaps(many: ManyHosts) -> list[tuple[str, float]]:
    found = []
    for host, hits in many.hits().items():
        times = sorted(h.at for h in hits)
        found += [(host, b - a) for a, b in itertools.pairwise(times) if b - a < DELAY - SLACK]
    return found


@pytest.mark.slow
def test_three_workers_crawl_200_hosts_politely_and_store_each_article_once(
    tmp_path: Path, pg_url: str
) -> None:
    many = ManyHosts(hosts=200, articles_per_host=2, crawl_delay=DELAY)
    with ManyHostsServer(many):
        path = cluster_config(many, tmp_path / "data", pg_url, tmp_path / "cluster.yaml")
        config = load_config(path)
        workers = [start_worker(path) for _ in range(3)]
        errors: list[bytes] = []
        try:
            ids = defer_crawl(config, ["cluster"], max_pages=None, spread=3)
            states = wait_for(config, ids, timeout=300)
        finally:
            errors = [stop_worker(w) for w in workers]
        assert set(states.values()) == {"succeeded"}, (states, errors)
        # every article fetched once, over all workers
        article_hits = Counter(
            (host, h.path)
            for host, hits in many.hits().items()
            for h in hits
            if h.path.startswith("/news/")
        )
        assert len(article_hits) == 400
        assert set(article_hits.values()) == {1}
        # robots.txt fetched once per host for the whole cluster
        robots = Counter(
            host for host, hits in many.hits().items() for h in hits if h.path == "/robots.txt"
        )
        assert set(robots.values()) == {1}
        assert short_gaps(many) == []
    with Archive.open(tmp_path / "data", storage=config.storage) as arch:
        assert arch.catalog.count_articles() == 400
        assert verify(arch).ok


def article_fetches(many: ManyHosts) -> int:
    return sum(1 for hits in many.hits().values() for h in hits if h.path.startswith("/news/"))


def wait_until(condition, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the crawl did not get that far in time")
        time.sleep(0.2)


@pytest.mark.slow
def test_a_worker_killed_mid_crawl_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    many = ManyHosts(hosts=60, articles_per_host=4, crawl_delay=DELAY)
    with ManyHostsServer(many):
        path = cluster_config(many, tmp_path / "data", pg_url, tmp_path / "cluster.yaml")
        config = load_config(path)
        workers = [start_worker(path) for _ in range(3)]
        try:
            ids = defer_crawl(config, ["cluster"], max_pages=None, spread=3)
            wait_until(lambda: article_fetches(many) >= 60, timeout=120)
            workers[0].kill()  # SIGKILL: no goodbye, its leases and its job left behind
            workers[0].communicate()  # reaped, its pipe closed
            states = wait_for(config, ids, timeout=400)
        finally:
            for worker in workers[1:]:
                stop_worker(worker)
        assert set(states.values()) == {"succeeded"}, states
        fetched = {
            (host, h.path)
            for host, hits in many.hits().items()
            for h in hits
            if h.path.startswith("/news/")
        }
        assert len(fetched) == 240  # nothing lost
        assert short_gaps(many) == []
    with Archive.open(tmp_path / "data", storage=config.storage) as arch:
        assert arch.catalog.count_articles() == 240  # nothing duplicated
        report = verify(arch)
        assert report.ok, report.problems
        with arch.open_frontier() as frontier:
            assert frontier.count("cluster", State.LEASED) == 0


@pytest.mark.slow
def test_sigterm_finishes_the_pages_in_flight_and_leaves_the_rest_queued(
    tmp_path: Path, pg_url: str
) -> None:
    many = ManyHosts(hosts=20, articles_per_host=10, crawl_delay=DELAY)
    with ManyHostsServer(many):
        path = cluster_config(many, tmp_path / "data", pg_url, tmp_path / "cluster.yaml")
        config = load_config(path)
        worker = start_worker(path)
        try:
            ids = defer_crawl(config, ["cluster"], max_pages=None, spread=1)
            wait_until(lambda: article_fetches(many) >= 20, timeout=120)
        finally:
            started = time.monotonic()
            stop_worker(worker, timeout=60)
        assert worker.returncode == 0
        assert time.monotonic() - started < 30
        assert job_states(config, ids) == {ids[0]: "succeeded"}
    with Archive.open(tmp_path / "data", storage=config.storage) as arch:
        stored = arch.catalog.count_articles()
        assert 20 <= stored < 200
        assert verify(arch).ok
        with arch.open_frontier() as frontier:
            assert frontier.count("cluster", State.LEASED) == 0
            assert frontier.count("cluster", State.QUEUED) > 0
