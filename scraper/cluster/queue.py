"""The cluster's tasks, on Procrastinate in the catalog's own PostgreSQL database.

Procrastinate (an existing queue, not one of ours) keeps its jobs in tables beside the catalog's,
takes them with `FOR UPDATE SKIP LOCKED`, and notices a worker that stopped sending heartbeats
(killed, or its machine lost): `worker.py` puts such a worker's jobs back on the queue. Tasks
are idempotent, so a job run twice stores nothing twice: the frontier and the catalog's
deduplication see to that.

Tasks (queue in brackets):
    crawl_source(source, max_pages) [crawl]  a run of one source; defer it to several workers
                                             and they share its frontier, each URL leased once
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from procrastinate import App, Blueprint, JobContext, PsycopgConnector

from archive.backends.catalog_pg import PgCatalog
from scraper.config import Config

NAMESPACE = "morgue"
QUEUES = ("crawl",)

tasks = Blueprint()  # the task registry; a worker's App takes its tasks from it


@tasks.task(name="crawl_source", queue="crawl", pass_context=True)
def crawl_source(context: JobContext, source: str, max_pages: int | None = None) -> None:
    """Crawl one source with the frontier, catalog and politeness shared by every worker."""
    state = context.additional_context["morgue"]
    state.crawl_source(source, max_pages)


def make_app(catalog_url: str) -> App:
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
    url = config.storage.catalog
    if url is None:
        raise ValueError("the queue lives in a PostgreSQL catalog: set storage.catalog")

    async def go() -> list[int]:
        catalog = PgCatalog(url, root=config.data_dir)
        try:
            app = make_app(url)
            async with app.open_async():
                await ensure_schema(app, catalog)
                task = app.tasks[f"{NAMESPACE}:crawl_source"]
                return [
                    await task.defer_async(source=name, max_pages=max_pages)
                    for name in sources
                    for _ in range(spread)
                ]
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
