"""The cluster's tasks, on Procrastinate in the catalog's own PostgreSQL database.

Procrastinate (an existing queue, not one of ours) keeps its jobs in tables beside the catalog's,
takes them with `FOR UPDATE SKIP LOCKED`, and notices a worker that stopped sending heartbeats
(killed, or its machine lost): `worker.py` puts such a worker's jobs back on the queue. Tasks
are idempotent, so a job run twice stores nothing twice: the frontier and the catalog's
deduplication see to that.

Tasks (queue in brackets):
    crawl_source(source, max_pages) [crawl]  a run of one source; defer it to several workers
                                             and they share its frontier, each URL leased once
    rebuild_share(share, shares, ...) [rebuild]  re-parse one of n disjoint shares of the
                                             stored pages (by article id or raw hash)
    import_warc(path, source) [import]       ingest one WARC file the workers can all read
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from procrastinate import App, Blueprint, JobContext, PsycopgConnector, RetryStrategy

from archive.backends.catalog_pg import PgCatalog
from archive.errors import ArchiveError
from scraper.config import Config

NAMESPACE = "morgue"
QUEUES = ("crawl", "rebuild", "import")


def crawl_source(context: JobContext, source: str, max_pages: int | None = None) -> None:
    """Crawl one source with the frontier, catalog and politeness shared by every worker."""
    context.additional_context["morgue"].crawl_source(source, max_pages, job=_job_id(context))


def rebuild_share(
    context: JobContext,
    share: int,
    shares: int,
    source: str | None = None,
    since: str | None = None,
) -> None:
    context.additional_context["morgue"].rebuild_share(
        share, shares, source, since, job=_job_id(context)
    )


def import_warc(context: JobContext, path: str, source: str) -> None:
    context.additional_context["morgue"].import_warc(path, source, job=_job_id(context))


def _job_id(context: JobContext) -> int:
    # the job's report is kept under its id (scraper.cluster.reports), for `--wait`
    return int(context.job.id or 0)


# a storage outage (PostgreSQL or S3) fails the job; it runs again after 1, 2, 4 ... 256 s
RETRY = RetryStrategy(max_attempts=8, exponential_wait=2, retry_exceptions=[ArchiveError])


def make_app(catalog_url: str) -> App:
    # a Blueprint per app: adding one to an app renames its tasks in place
    tasks = Blueprint()
    for name, fn, queue in (
        ("crawl_source", crawl_source, "crawl"),
        ("rebuild_share", rebuild_share, "rebuild"),
        ("import_warc", import_warc, "import"),
    ):
        tasks.task(name=name, queue=queue, pass_context=True, retry=RETRY)(fn)
    app = App(connector=PsycopgConnector(conninfo=catalog_url))
    app.add_tasks_from(tasks, namespace=NAMESPACE)
    return app


async def ensure_schema(app: App, catalog: PgCatalog) -> None:
    """Create Procrastinate's tables in the catalog's database on first use."""
    if catalog.has_table("procrastinate_jobs"):
        return
    try:
        await app.schema_manager.apply_schema_async()
    except Exception:  # another worker created it at the same moment
        if not catalog.has_table("procrastinate_jobs"):
            raise


def defer_crawl(
    config: Config, sources: Sequence[str], *, max_pages: int | None, spread: int
) -> list[int]:
    """Queue a run of each source, `spread` jobs per source (that many workers share it)."""
    jobs = [{"source": name, "max_pages": max_pages} for name in sources for _ in range(spread)]
    return defer(config, "crawl_source", jobs)


def defer(config: Config, task_name: str, jobs: Sequence[dict[str, Any]]) -> list[int]:
    """Queue one job of `task_name` (crawl_source, rebuild_share, import_warc) per kwargs."""
    url = config.storage.catalog
    if url is None:
        raise ValueError("the queue lives in a PostgreSQL catalog: set storage.catalog")

    async def go() -> list[int]:
        catalog = PgCatalog(url, root=config.data_dir)
        try:
            app = make_app(url)
            async with app.open_async():
                await ensure_schema(app, catalog)
                task = app.tasks[f"{NAMESPACE}:{task_name}"]
                return [await task.defer_async(**kwargs) for kwargs in jobs]
        finally:
            catalog.close()

    return asyncio.run(go())


def job_states(config: Config, ids: Sequence[int]) -> dict[int, str]:
    """id -> status ('todo', 'doing', 'succeeded', 'failed', ...) of the given jobs."""
    url = config.storage.catalog
    if url is None:
        raise ValueError("no PostgreSQL catalog configured")

    async def go() -> dict[int, str]:
        app = make_app(url)
        out: dict[int, str] = {}
        async with app.open_async():
            for job_id in ids:
                jobs: Any = await app.job_manager.list_jobs_async(id=job_id)
                for job in jobs:
                    out[job_id] = str(job.status)
        return out

    return asyncio.run(go())
