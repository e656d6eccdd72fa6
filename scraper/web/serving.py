"""Run the app: one process holding the connections, and page worker processes.

A page is mostly Python (reading records, cutting snippets, templates), and one process runs
Python on one core at a time whatever its threads do. With several processes, `morgue serve`
forks page workers (`scraper.web.pool`) and serves HTTP from the first process, which hands
each request to whichever worker is idle; a worker whose parent dies stops with it, and the
first process stops them when it stops.
"""

from __future__ import annotations

import os
from typing import Any

import uvicorn


def default_workers() -> int:
    """One page process per core, at most 4 (each keeps its own connections and caches)."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def run(app: Any, host: str, port: int, workers: int) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    pages = getattr(getattr(app, "state", None), "pages", None)
    if workers <= 1 or not hasattr(os, "fork") or pages is None:
        uvicorn.Server(config).run()  # pages built in threads of this process
        return
    pages.start(workers)
    try:
        uvicorn.Server(config).run()
    finally:
        pages.stop()
