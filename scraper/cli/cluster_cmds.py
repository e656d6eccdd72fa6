"""Commands for scaling out: `morgue worker` runs the cluster's queued tasks, `morgue migrate
--to OTHER_CONFIG` copies the archive to the storage another config names (embedded to
PostgreSQL + S3, and back), and `enqueue_crawl` is what `morgue crawl` does with a cluster
configuration: queue the runs for the workers (and with --wait, follow them to the end).

Thin click commands over `archive.maintenance`; exit 0 when the target verifies clean with the
same counts, 1 when something could not be copied, 2 for a bad config.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from archive.errors import ArchiveError
from archive.maintenance.migrate import migrate
from archive.maintenance.stats import stats
from archive.store import Archive
from scraper.cli.support import AppContext
from scraper.config import load_config

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


def enqueue(app: AppContext, task: str, jobs: list[dict[str, Any]], *, wait: bool) -> int:
    """Queue `jobs` of `task` for the workers; with `wait`, poll until every job ended, then
    print the archive's stats. Returns the exit code (1 when a job failed)."""
    from scraper.cluster.queue import defer, job_states

    ids = defer(app.config, task, jobs)
    click.echo(f"queued {len(ids)} {task} job(s)")
    if not wait:
        return 0
    while True:
        states = job_states(app.config, ids)
        if len(states) == len(ids) and all(s not in ("todo", "doing") for s in states.values()):
            break
        time.sleep(2.0)
    failed = sum(1 for s in states.values() if s != "succeeded")
    click.echo(f"{len(ids) - failed} job(s) succeeded, {failed} failed")
    with app.open_archive() as archive:
        for line in stats(archive).lines():
            click.echo(line)
    return EXIT_PROBLEMS if failed else 0


def enqueue_crawl(
    app: AppContext, sources: list[str], *, max_pages: int | None, spread: int, wait: bool
) -> int:
    """What `morgue crawl` does with a cluster config: `spread` jobs per source."""
    jobs = [{"source": s, "max_pages": max_pages} for s in sources for _ in range(spread)]
    return enqueue(app, "crawl_source", jobs, wait=wait)


COMMANDS = (migrate_cmd, worker_cmd)
