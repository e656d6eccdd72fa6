"""`morgue crawl` and `morgue schedule`: the crawler's two commands (registered by scraper.cli).

`crawl [SOURCE...] [--max-pages N] [--dry-run]` runs one bounded crawl over the named sources
(all by default): a live table on a terminal (rich), one plain line per page otherwise, then
the per-source report on stdout. Exit 0; 1 when a source failed entirely; 2 for an unknown
source name. The first Ctrl-C (or SIGTERM) stops starting new pages and lets the ones in flight
finish; the rest stays queued for the next run. `schedule` runs in the foreground and starts
each source's crawl when its schedule says, until SIGINT/SIGTERM.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

import click

from scraper.cli.support import AppContext
from scraper.config import Source
from scraper.crawl import CrawlReport, SourceReport, crawl, format_report
from scraper.crawl.run import Progress
from scraper.crawl.schedule import Scheduler

if TYPE_CHECKING:
    from rich.table import Table

log = logging.getLogger(__name__)


def _choose(app: AppContext, names: Sequence[str]) -> list[Source]:
    configured = [s.name for s in app.config.sources]
    if not configured:
        raise click.UsageError("no sources configured: add some under `sources:` in config.yaml")
    chosen: list[Source] = []
    for name in names:
        source = app.config.source(name)
        if source is None:
            raise click.UsageError(f"unknown source {name!r} (configured: {', '.join(configured)})")
        chosen.append(source)
    return chosen or list(app.config.sources)


REFRESH_EVERY = 0.25  # seconds between redraws of the live table


def _refreshing(update: Progress, refresh: Callable[[], None]) -> Progress:
    """`update`, then a redraw when the last one is REFRESH_EVERY old."""
    last = [0.0]

    def progress(report: SourceReport, url: str, event: str) -> None:
        update(report, url, event)
        now = time.monotonic()
        if now - last[0] >= REFRESH_EVERY:
            last[0] = now
            refresh()

    return progress


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """First SIGINT/SIGTERM sets `stop`; a second SIGINT interrupts at once."""

    def handle(signum: int, frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping: finishing pages in flight (Ctrl-C again to abort)", err=True)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Table:
    """The live display: one row per source, re-rendered by rich a few times a second."""

    def __init__(self, names: Sequence[str]) -> None:
        self.reports = {name: SourceReport(name) for name in names}
        self.last = ""

    def update(self, report: SourceReport, url: str, event: str) -> None:
        self.reports[report.name] = report
        self.last = f"{report.name}: {event} {url}"

    def __rich__(self) -> Table:
        from rich.table import Table

        table = Table(caption=self.last[:120], caption_justify="left")
        for title in ("source", "found", "fetched", "new", "versions", "unchanged", "failed"):
            table.add_column(title, justify="left" if title == "source" else "right")
        for r in self.reports.values():
            table.add_row(
                r.name,
                *map(
                    str,
                    (
                        r.discovered,
                        r.fetched,
                        r.new_articles,
                        r.new_versions,
                        r.unchanged,
                        r.failed_total,
                    ),
                ),
            )
        return table


def _plain_progress(report: SourceReport, url: str, event: str) -> None:
    # not a terminal (cron, systemd): one log line per page, shown with -v
    log.info("%s %s %s", report.name, event, url)


def _run_crawl(
    app: AppContext,
    sources: list[Source],
    *,
    max_pages: int | None,
    dry_run: bool,
    stop: threading.Event,
    progress: Callable[[SourceReport, str, str], None],
) -> CrawlReport:
    with app.open_archive() as archive:
        return crawl(
            app.config,
            sources,
            fetcher=app.make_async_fetcher(),
            archive=archive,
            max_pages=max_pages,
            dry_run=dry_run,
            progress=progress,
            should_stop=stop.is_set,
        )


# crawl and schedule with a cluster config: how many queued jobs share each source's run
spread_option = click.option(
    "--spread",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Cluster: workers that share each source's run.",
)


@click.command("crawl")
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option(
    "--max-pages",
    type=click.IntRange(min=1),
    help="Pages per source this run (instead of its max_pages).",
)
@click.option("--dry-run", is_flag=True, help="Read feeds/sitemaps/sections only; list articles.")
@spread_option
@click.option("--wait", is_flag=True, help="Cluster: follow the queued crawl to its end.")
@click.pass_context
def crawl_cmd(
    ctx: click.Context,
    sources: tuple[str, ...],
    max_pages: int | None,
    dry_run: bool,
    spread: int,
    wait: bool,
) -> None:
    """Crawl the configured sources once (all, or the SOURCE names given).

    \b
    Examples:
      morgue crawl
      morgue crawl moscow-times --max-pages 20
      morgue crawl --dry-run npr-news
    """
    app: AppContext = ctx.obj
    chosen = _choose(app, sources)
    if app.config.storage.catalog is not None and not dry_run:
        # a cluster configuration: the workers crawl (morgue worker); this only queues
        from scraper.cli.cluster_cmds import enqueue_crawl

        names = [s.name for s in chosen]
        ctx.exit(enqueue_crawl(app, names, max_pages=max_pages, spread=spread, wait=wait))
    stop = threading.Event()
    with _stop_on_signals(stop):
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.live import Live

            table = _Table([s.name for s in chosen])
            # refreshed from the crawl's own progress calls, not by rich's refresh thread: the
            # crawl forks its ingest workers, and a fork must not happen while a thread runs
            # (it may hold the console's lock; Python 3.12 warns)
            console = Console(stderr=True)
            with Live(table, console=console, auto_refresh=False, transient=True) as live:
                report = _run_crawl(
                    app,
                    chosen,
                    max_pages=max_pages,
                    dry_run=dry_run,
                    stop=stop,
                    progress=_refreshing(table.update, live.refresh),
                )
        else:
            report = _run_crawl(
                app,
                chosen,
                max_pages=max_pages,
                dry_run=dry_run,
                stop=stop,
                progress=_plain_progress,
            )
    _print_report(report, dry_run=dry_run)
    ctx.exit(report.exit_code)


def _print_report(report: CrawlReport, *, dry_run: bool) -> None:
    for line in format_report(report, errors=False):
        click.echo(line)
    for source in report.sources:
        if source.error:
            click.echo(source.error, err=True)
    if dry_run:
        for source in report.sources:
            for url in source.would_fetch:
                click.echo(f"{source.name}\t{url}")


@click.command("schedule")
@click.option(
    "--max-parallel",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Sources crawled at the same time.",
)
@spread_option
@click.pass_context
def schedule_cmd(ctx: click.Context, max_parallel: int, spread: int) -> None:
    """Run in the foreground, crawling each source when its schedule says.

    Stops cleanly on Ctrl-C or SIGTERM: crawls in flight finish their current pages and
    checkpoint the rest. Run it under systemd (see docs/scheduling.md) or use cron with
    `morgue crawl` instead. With a cluster configuration it queues each due run for
    `morgue worker` and follows it to its end (stopping leaves a queued run to the workers).
    """
    app: AppContext = ctx.obj
    sources = _choose(app, ())
    queued = None
    if app.config.storage.catalog is not None:
        from scraper.cli.cluster_cmds import queued_crawl

        queued = queued_crawl(app, spread)

    def run_source(source: Source, should_stop: Callable[[], bool]) -> CrawlReport:
        if queued is not None:
            report = queued(source, should_stop)
            for line in format_report(report):
                click.echo(line)
            return report
        with app.open_archive() as archive:
            report = crawl(
                app.config,
                [source],
                fetcher=app.make_async_fetcher(),
                archive=archive,
                should_stop=should_stop,
            )
        for line in format_report(report):
            click.echo(line)
        return report

    with app.open_archive() as archive, archive.open_frontier() as frontier:
        last = {
            s.name: datetime.fromtimestamp(run[0], UTC)
            for s in sources
            if (run := frontier.last_run(s.name)) is not None
        }
    stop = threading.Event()
    click.echo(f"scheduling {len(sources)} source(s); Ctrl-C or SIGTERM to stop", err=True)
    with _stop_on_signals(stop):
        Scheduler(sources, run_source, max_parallel=max_parallel, last_started=last).run(stop)
    click.echo("stopped", err=True)
