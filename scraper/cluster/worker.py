"""`morgue worker`: run the cluster's tasks until SIGTERM, then finish what is in flight.

One process runs up to `concurrency` jobs at once, each in its own thread with its own archive
connection pool and event loop. On SIGTERM or SIGINT it takes no new job, tells running crawls
to start no new page, and exits once the pages in flight are stored; the rest of each source
stays queued in the frontier. Every few seconds it also looks for jobs of workers that stopped
sending heartbeats (killed, or their machine lost) and puts them back on the queue, where
another worker picks them up; the dead worker's frontier leases and host claims expire on their
own, so nothing it held stays held.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from procrastinate import App
from procrastinate.worker import Worker

from archive.backends.catalog_pg import PgCatalog
from archive.backends.hostlease_pg import ClusterRobots, HostClaiming, HostClaims
from archive.errors import ArchiveError, StorageError
from archive.store import Archive
from scraper.cluster.politeness import PgRobotsCache, StickyHostGate
from scraper.cluster.queue import QUEUES, ensure_schema, make_app
from scraper.cluster.reports import RUN_KINDS, crawl_counts, import_counts, rebuild_counts
from scraper.cluster.stores import StoreThreads
from scraper.config import Config, PolitenessConfig
from scraper.crawl import crawl
from scraper.crawl.report import CrawlReport
from scraper.fetch.netguard import Resolver, system_resolve

log = logging.getLogger(__name__)

STALLED_AFTER = 30.0  # seconds without a heartbeat before a worker's jobs are run again
HEARTBEAT = 5.0
REAP_EVERY = 10.0
SWITCH_INTERVAL = 0.001  # seconds (Python's default: 0.005)


@dataclass
class WorkerState:
    """What the tasks of one worker process share (handed to them by Procrastinate)."""

    config: Config
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    stopping: threading.Event = field(default_factory=threading.Event)
    reports: list[CrawlReport] = field(default_factory=list)
    lease_waits: list[float] = field(default_factory=list)
    # seconds (or counts) per kind of step, for the benchmark: see StickyHostGate, StoreThreads
    timings: dict[str, list[float]] = field(default_factory=dict)
    lease_log: list[tuple[str, float, float, float]] = field(default_factory=list)  # StickyHostGate
    resolve: Resolver | None = None  # DNS for the fetcher (tests map names to loopback)
    _crawls: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def lease_ttl(self) -> float:
        # a URL or a host slot in flight is done within one URL's time budget
        return 2 * self.config.fetch.url_budget

    def open_archive(self) -> Archive:
        archive = Archive.open(self.config.data_dir, storage=self.config.storage)
        if isinstance(archive.catalog, PgCatalog):
            archive.catalog.frontier_lease_ttl = self.lease_ttl
        return archive

    def _politeness_for(self, host: str) -> PolitenessConfig:
        source = self.config.source_for_url(f"http://{host}/")
        if source is not None and source.politeness is not None:
            return source.politeness
        return self.config.politeness

    def crawl_source(self, name: str, max_pages: int | None, *, job: int = 0) -> None:
        from scraper.fetch import AsyncFetcher

        source = self.config.source(name)
        if source is None:
            raise ValueError(f"unknown source {name!r} in this worker's config")
        started = datetime.now(UTC)
        with self.open_archive() as archive:
            catalog = archive.catalog
            if not isinstance(catalog, PgCatalog):
                raise TypeError("a worker needs the PostgreSQL catalog (storage.catalog)")
            # this crawl's own holder name: two jobs of one process hold hosts apart
            claims = HostClaims(f"{self.name}#{next(self._crawls)}", self.lease_ttl)
            catalog.frontier_host_claims = claims
            gate = StickyHostGate(HostClaiming(catalog.pool, claims))
            robots = PgRobotsCache(ClusterRobots(catalog.pool), claims)
            fetcher = AsyncFetcher(
                self.config.fetch,
                self.config.politeness,
                politeness_for=self._politeness_for,
                gate=gate,
                robots_cache=robots,
                resolve=self.resolve or system_resolve,
            )
            stores = StoreThreads(self.open_archive)
            try:
                report = crawl(
                    self.config,
                    [source],
                    fetcher=fetcher,
                    archive=archive,
                    max_pages=max_pages,
                    should_stop=self.stopping.is_set,
                    lock=False,  # workers share a source's run; the frontier leases URLs once
                    store=stores,
                )
            finally:
                closing = time.monotonic()
                stores.close()
                stores_closed = time.monotonic()
                gate.close()
                robots.close()
                self.timings.setdefault("close_stores", []).append(stores_closed - closing)
                self.timings.setdefault("close_gate", []).append(time.monotonic() - stores_closed)
            self.reports.append(report)
            with contextlib.suppress(ArchiveError):  # the report is for people; the job is done
                archive.record_run(
                    RUN_KINDS["crawl_source"],
                    name,
                    started,
                    crawl_counts(job, report.source(name)),
                )
            self.lease_waits.extend(gate.waits)
            self.lease_log.extend(gate.log)
            for name, values in (
                ("lease_take", gate.takes),
                ("lease_batch", gate.batch_sizes),
                ("lease_held", gate.held),
                ("hosts_busy", [float(n) for n in gate.hosts_busy]),
                ("loop_lag", gate.loop_lag),
                ("hosts_handed_back", [float(gate.handed_back)]),
                ("store", stores.seconds),
                ("store_queued", stores.queued),
                ("store_batch", stores.batch_sizes),
                ("robots_get", robots.gets),
                ("robots_put", robots.puts),
                # the crawl's catalog pool: its waits for a free connection, and those that
                # timed out (cumulative over the pool's life)
                ("pool_wait_s", [catalog.pool.get_stats().get("requests_wait_ms", 0) / 1000]),
                ("pool_timeouts", [float(catalog.pool.get_stats().get("requests_errors", 0))]),
            ):
                self.timings.setdefault(name, []).extend(values)
        for source_report in report.sources:
            if source_report.error and "archive error" in source_report.error:
                # the catalog or blob store failed: the job is retried later (queue.RETRY)
                raise StorageError(source_report.error)
        log.info("%s: crawl of %s done", self.name, name)

    def rebuild_share(
        self, share: int, shares: int, source: str | None, since: str | None, *, job: int = 0
    ) -> None:
        from archive.maintenance.rebuild import rebuild
        from scraper.cli.archive_cmds import SourceParser

        started = time.monotonic()
        begun = datetime.now(UTC)
        with self.open_archive() as archive:
            report = rebuild(
                archive,
                SourceParser.of(self.config),
                source=source,
                since=since,
                workers=1,  # one process per worker: start as many workers as cores
                shard=(share, shares),
            )
            with contextlib.suppress(ArchiveError):
                archive.record_run(
                    RUN_KINDS["rebuild_share"], source, begun, rebuild_counts(job, report)
                )
        self.timings.setdefault("rebuild_job", []).append(time.monotonic() - started)
        log.info("%s: rebuild share %d/%d: %s", self.name, share, shares, report.lines()[0])

    def import_warc(self, path: str, source: str, *, job: int = 0) -> None:
        from pathlib import Path

        from archive.maintenance.warc_import import import_warc
        from scraper.cli.archive_cmds import SourceParser

        begun = datetime.now(UTC)
        with self.open_archive() as archive:
            counts = import_warc(archive, [Path(path)], SourceParser.of(self.config), source=source)
            with contextlib.suppress(ArchiveError):
                archive.record_run(
                    RUN_KINDS["import_warc"], source, begun, import_counts(job, counts)
                )
        log.info("%s: imported %s: %s", self.name, path, dict(counts))


def run_worker(
    config: Config,
    *,
    concurrency: int = 1,
    queues: Sequence[str] = QUEUES,
    resolve: Resolver | None = None,
) -> WorkerState:
    """Run tasks until SIGTERM/SIGINT; returns the state (reports) of what ran."""
    url = config.storage.catalog
    if url is None:
        raise ValueError("a worker needs a PostgreSQL catalog: set storage.catalog")
    state = WorkerState(config, resolve=resolve)
    # the store threads parse (CPU) while the crawl's event loop and the host-lease calls wait
    # on sockets: a thread back from the network may wait for the interpreter lock up to this
    # interval, on each database round trip (a loop-bound worker wants it handed back sooner)
    sys.setswitchinterval(SWITCH_INTERVAL)
    asyncio.run(_main(make_app(url), state, concurrency, list(queues)))
    return state


async def _main(app: App, state: WorkerState, concurrency: int, queues: list[str]) -> None:
    catalog = PgCatalog(state.config.storage.catalog or "", root=state.config.data_dir)
    try:
        async with app.open_async():
            await ensure_schema(app, catalog)
            worker = Worker(
                app,
                queues=queues,
                name=state.name,
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"morgue": state},
                fetch_job_polling_interval=1.0,
                update_heartbeat_interval=HEARTBEAT,
                stalled_worker_timeout=STALLED_AFTER,
            )
            loop = asyncio.get_running_loop()

            def stop() -> None:
                log.info("%s: stopping: finishing the pages in flight", state.name)
                state.stopping.set()
                worker.stop()  # type: ignore[no-untyped-call]

            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, stop)
            reaper = asyncio.create_task(_reap_stalled(app, state))
            try:
                await worker.run()  # type: ignore[no-untyped-call]
            finally:
                reaper.cancel()
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
    finally:
        catalog.close()


async def _reap_stalled(app: App, state: WorkerState) -> None:
    """Put the jobs of workers that stopped sending heartbeats back on the queue."""
    while not state.stopping.is_set():
        await asyncio.sleep(REAP_EVERY)
        try:
            stalled: Any = await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=STALLED_AFTER
            )
            for job in stalled:
                log.warning(
                    "%s: job %s of a dead worker goes back on the queue", state.name, job.id
                )
                await app.job_manager.retry_job(job)
        except Exception as exc:  # the database may be down: try again next round
            log.warning("%s: could not look for stalled jobs: %s", state.name, exc)
