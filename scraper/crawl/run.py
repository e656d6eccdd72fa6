"""One bounded crawl run over some sources: discovery, the frontier, fetching, ingesting.

`crawl(config, sources, fetcher=..., archive=...)` runs every source concurrently in one event
loop (the AsyncFetcher keeps each host polite), each under its own file lock. For a source it
queues the start points again (feeds and sitemaps are re-fetched with conditional GET every run),
then leases URLs from the persistent frontier, fetches them, reads listings for article URLs,
follows links of section pages down to max_depth, and hands article pages to `ingest`. Every
URL's fate is committed to the frontier as soon as it is known (with pooled ingest: at the next
group commit, `scraper.crawl.finishes`), so a run killed at any point is
resumed by the next one. A source none of whose start points could be fetched "failed
entirely": its report carries one line saying why.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from datetime import datetime

from archive.backends.frontier_sqlite import SqliteFrontier
from archive.record import utcnow
from archive.store import Archive
from scraper.config import Config, Source
from scraper.crawl.backlog import Backlog
from scraper.crawl.finishes import FinishesMany, HeldFinishes
from scraper.crawl.ports import ArchiveLike, AsyncFetcherLike, AsyncIngest, Ingest
from scraper.crawl.report import CrawlReport, SourceReport
from scraper.crawl.source_crawl import Progress, RunContext, SourceCrawl, start_points
from scraper.crawl.workers import IngestPool

log = logging.getLogger(__name__)

__all__ = ["Progress", "crawl", "crawl_async", "start_points"]


def _no_progress(report: SourceReport, url: str, event: str) -> None:
    return None


def _log_backlog(backlog: Backlog) -> None:
    log.info(
        "backlog: at most %d of %d pages held, %d requests waited for room",
        backlog.peak,
        backlog.limit,
        backlog.waits,
    )


def _never() -> bool:
    return False


def crawl(
    config: Config,
    sources: Sequence[Source] | None = None,
    *,
    fetcher: AsyncFetcherLike,
    archive: ArchiveLike,
    max_pages: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    ingest: Ingest | None = None,
    now: Callable[[], datetime] = utcnow,
    should_stop: Callable[[], bool] = _never,
    lock: bool = True,
    store: AsyncIngest | None = None,
) -> CrawlReport:
    """Crawl `sources` (default: all configured) once; returns the per-source report.

    `fetcher` is an AsyncFetcher that is not yet entered: the crawl enters it inside its own
    event loop. `max_pages` overrides every source's max_pages. A dry run fetches the start
    points only, writes nothing (its frontier is in memory) and lists the article URLs it would
    fetch. `should_stop` is polled between fetches: when it says True no new URL is started,
    in-flight fetches finish, and the rest stays queued for the next run. With the default
    `ingest` and an embedded Archive, pages are parsed in worker processes and stored in group
    commits (`scraper.crawl.workers`); a cluster worker stores as it goes (its catalog takes
    many writers). `lock=False` lets several crawls of one source run at once (cluster workers
    sharing its frontier). `store`, when given, stores article pages instead of `ingest` and
    is awaited (a cluster worker's store threads).
    """
    embedded = isinstance(archive, Archive) and archive.embedded
    pooled = ingest is None and store is None and embedded and not dry_run
    if ingest is None:
        from scraper.pipeline import ingest as pipeline_ingest

        ingest = pipeline_ingest
    chosen = list(config.sources if sources is None else sources)
    return asyncio.run(
        crawl_async(
            config,
            chosen,
            fetcher=fetcher,
            archive=archive,
            max_pages=max_pages,
            dry_run=dry_run,
            progress=progress,
            ingest=ingest,
            now=now,
            should_stop=should_stop,
            pooled=pooled,
            lock=lock,
            store=store,
        )
    )


async def crawl_async(
    config: Config,
    sources: Sequence[Source],
    *,
    fetcher: AsyncFetcherLike,
    archive: ArchiveLike,
    ingest: Ingest,
    max_pages: int | None = None,
    dry_run: bool = False,
    progress: Progress | None = None,
    now: Callable[[], datetime] = utcnow,
    should_stop: Callable[[], bool] = _never,
    pooled: bool = False,
    lock: bool = True,
    store: AsyncIngest | None = None,
) -> CrawlReport:
    """`crawl` for callers that already run an event loop (`pooled`: ingest through an
    IngestPool; needs a real Archive)."""
    report = CrawlReport([SourceReport(s.name) for s in sources])
    async with AsyncExitStack() as stack:
        frontier = stack.enter_context(archive.open_frontier(scratch=dry_run))
        pool = None
        finishes = None
        if pooled and isinstance(archive, Archive) and isinstance(frontier, SqliteFrontier):
            # written after the pool's last group commit, before the frontier closes
            finishes = HeldFinishes(frontier)
            stack.push(finishes.exit_flush)
            # its workers are forked now, before the fetcher opens any connection
            pool = await stack.enter_async_context(
                IngestPool(archive, before_commit=finishes.flush)
            )
        elif store is not None and not dry_run and isinstance(frontier, FinishesMany):
            # a cluster worker: its marks are written together every quarter of a second
            finishes = HeldFinishes(frontier)
            stack.push(finishes.exit_flush)
            flusher = asyncio.ensure_future(finishes.flush_every())
            stack.callback(flusher.cancel)
        await stack.enter_async_context(fetcher)
        backlog = None
        hold_sends = getattr(fetcher, "hold_sends", None)
        if pool is not None and hold_sends is not None:
            # pages come in no faster than the workers and the commits take them
            backlog = Backlog()
            hold_sends(backlog.before_send)
            stack.callback(hold_sends, None)
            stack.callback(_log_backlog, backlog)
        run = RunContext(
            config=config,
            fetcher=fetcher,
            # the pool's writer thread writes; the loop asks through a connection of its own
            archive=archive if pool is None else pool.reader,
            frontier=frontier,
            ingest=ingest,
            max_pages=max_pages,
            dry_run=dry_run,
            progress=progress or _no_progress,
            now=now,
            should_stop=should_stop,
            pool=pool,
            backlog=backlog,
            finishes=finishes,
            lock_dir=config.data_dir / "locks" if lock else None,
            store=None if dry_run else store,
        )
        drivers = [SourceCrawl(run, s, r) for s, r in zip(sources, report.sources, strict=True)]
        await asyncio.gather(*(d.run() for d in drivers))
    return report
