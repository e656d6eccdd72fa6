"""Commands for scaling out: `morgue worker` runs the cluster's queued tasks, `morgue migrate
--to OTHER_CONFIG` copies the archive to the storage another config names (embedded to
PostgreSQL + S3, and back), and `enqueue*` is what `morgue crawl`, `rebuild`, `import` and
`schedule` do with a cluster configuration: queue jobs for the workers and, with --wait, follow
them to their end and print the report the command prints when it works in-process (the
workers keep each job's report in the catalog: scraper.cluster.reports).

Thin click commands over `archive.maintenance`; exit 0 when the target verifies clean with the
same counts, 1 when something could not be copied, 2 for a bad config.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from archive.backends.catalog import RunRow
from archive.errors import ArchiveError
from archive.maintenance.migrate import migrate
from archive.store import Archive
from scraper.cli.support import AppContext
from scraper.cluster.reports import (
    RUN_KINDS,
    merge_crawl,
    merge_import,
    merge_rebuild,
    runs_of_jobs,
)
from scraper.config import Source, load_config
from scraper.crawl.report import CrawlReport, SourceStatus, format_report

EXIT_PROBLEMS = 1


@click.command("migrate")
@click.option(
    "--to",
    "to_config",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The config whose data_dir and storage: receive the copy.",
)
@click.pass_obj
def migrate_cmd(app: AppContext, to_config: Path) -> None:
    """Copy this archive (raw pages, fetch records, article records) into the storage another
    config names, then index it there and check it. Resumable: run it again after an
    interruption and it copies only what is missing.

    Example: morgue --config config.yaml migrate --to cluster.yaml
    """
    target_config = load_config(to_config)
    if (
        target_config.data_dir.resolve() == app.config.data_dir.resolve()
        and target_config.storage == app.config.storage
    ):
        raise click.UsageError("--to names the same archive as --config: nothing to copy")
    try:
        with (
            app.open_archive() as source,
            Archive.open(target_config.data_dir, storage=target_config.storage) as target,
        ):
            report = migrate(source, target, progress=lambda line: click.echo(line, err=True))
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(EXIT_PROBLEMS)


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Tasks run at the same time.",
)
@click.option(
    "--queue",
    "queues",
    multiple=True,
    metavar="NAME",
    help="Take tasks from these queues only (default: all of morgue's).",
)
@click.pass_obj
def worker_cmd(app: AppContext, concurrency: int, queues: tuple[str, ...]) -> None:
    """Run queued tasks (crawls of sources) until SIGTERM, then finish the pages in flight.

    Needs a cluster configuration (storage.catalog: postgresql://...). Start one per core on
    each machine; they share the catalog, the frontier and the politeness of every host.

    Example: morgue --config cluster.yaml worker --concurrency 2
    """
    from scraper.cluster.queue import QUEUES
    from scraper.cluster.worker import run_worker

    if app.config.storage.catalog is None:
        raise click.UsageError("morgue worker needs storage.catalog: postgresql://... in config")
    try:
        run_worker(app.config, concurrency=concurrency, queues=queues or QUEUES)
    except ArchiveError as exc:
        raise click.ClickException(str(exc)) from exc


# workers stamp their runs with their own clocks: read back runs from a little before the jobs
# were queued (and keep only those of our own job ids), so a worker clock that runs behind
# still has its report found
CLOCK_SLACK = timedelta(hours=1)
POLL = 2.0  # seconds between looks at the jobs' states


def enqueue(
    app: AppContext,
    task: str,
    jobs: list[dict[str, Any]],
    *,
    wait: bool,
    sources: Sequence[str] = (),
) -> int:
    """Queue `jobs` of `task` for the workers; with `wait`, follow them to their end and print
    the report the command prints when it works in-process. Returns the exit code: 1 when a
    job failed (or, for a crawl, a source failed entirely)."""
    from scraper.cluster.queue import defer

    queued_at = datetime.now(UTC)
    ids = defer(app.config, task, jobs)
    click.echo(f"queued {len(ids)} {task} job(s)")
    if not wait:
        return 0
    states = follow(app, ids)
    failed = sum(1 for s in states.values() if s != "succeeded")
    click.echo(f"{len(ids) - failed} job(s) succeeded, {failed} failed")
    runs = job_runs(app, task, ids, queued_at)
    code = EXIT_PROBLEMS if failed else 0
    if task == "crawl_source":
        report = merge_crawl(list(dict.fromkeys(sources)), runs)
        for line in format_report(report, errors=False):
            click.echo(line)
        for source in report.sources:
            if source.error:
                click.echo(source.error, err=True)
        return max(code, report.exit_code)
    if task == "rebuild_share":
        rebuilt = merge_rebuild(runs)
        for line in rebuilt.lines():
            click.echo(line)
        return EXIT_PROBLEMS if rebuilt.failed else code
    counts = merge_import(runs)
    click.echo(", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing imported")
    return code


def follow(
    app: AppContext, ids: Sequence[int], should_stop: Callable[[], bool] = lambda: False
) -> dict[int, str]:
    """Poll the jobs until every one has ended (or `should_stop`); a line on stderr each time
    another job ends. Returns each job's last state ('succeeded', 'failed', ...)."""
    from scraper.cluster.queue import job_states

    ended = -1
    while True:
        states = job_states(app.config, ids)
        done = sum(1 for s in states.values() if s not in ("todo", "doing"))
        if done != ended:
            ended = done
            click.echo(f"{done}/{len(ids)} job(s) ended", err=True)
        if (len(states) == len(ids) and done == len(ids)) or should_stop():
            return states
        time.sleep(POLL)


def job_runs(
    app: AppContext, task: str, ids: Sequence[int], queued_at: datetime
) -> list[tuple[RunRow, dict[str, Any]]]:
    """The reports the workers kept for these jobs (see scraper.cluster.reports)."""
    with app.open_archive() as archive:
        runs = archive.finished_runs(RUN_KINDS[task], queued_at - CLOCK_SLACK)
    return runs_of_jobs(runs, ids)


def enqueue_crawl(
    app: AppContext, sources: list[str], *, max_pages: int | None, spread: int, wait: bool
) -> int:
    """What `morgue crawl` does with a cluster config: `spread` jobs per source."""
    jobs = [{"source": s, "max_pages": max_pages} for s in sources for _ in range(spread)]
    return enqueue(app, "crawl_source", jobs, wait=wait, sources=sources)


def queued_crawl(
    app: AppContext, spread: int
) -> Callable[[Source, Callable[[], bool]], CrawlReport]:
    """What `morgue schedule` runs for a due source with a cluster config: queue the source's
    run for the workers and follow it to its end, so the schedule still starts a source's
    next run only after the last one ended. Stopping the scheduler leaves the run queued."""
    from scraper.cluster.queue import defer

    def run_source(source: Source, should_stop: Callable[[], bool]) -> CrawlReport:
        queued_at = datetime.now(UTC)
        jobs = [{"source": source.name, "max_pages": None} for _ in range(spread)]
        ids = defer(app.config, "crawl_source", jobs)
        states = follow(app, ids, should_stop)
        report = merge_crawl([source.name], job_runs(app, "crawl_source", ids, queued_at))
        if any(state in ("todo", "doing") for state in states.values()):
            # the scheduler stops; the run goes on in the workers (or waits for them)
            summary = report.source(source.name)
            summary.status, summary.error = SourceStatus.STOPPED, None
        return report

    return run_source


def enqueue_import(app: AppContext, warcs: Sequence[Path], source: str, *, wait: bool) -> int:
    """What `morgue import` does with WARC files and a cluster config: a job per file, by its
    absolute path (every worker must be able to read it: a shared mount)."""
    jobs = [{"path": str(path.resolve()), "source": source} for path in warcs]
    return enqueue(app, "import_warc", jobs, wait=wait, sources=[source])


COMMANDS = (migrate_cmd, worker_cmd)
