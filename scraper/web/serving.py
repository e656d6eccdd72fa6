"""Run the app in several processes on one listening socket.

A page is mostly Python (reading records, cutting snippets, templates), and one process runs
Python on one core at a time whatever its threads do. So `morgue serve` binds the socket once,
then forks worker processes that each accept on it with their own uvicorn server and their own
SQLite connections (opened after the fork, in each worker's threads). The first process serves
too and, when it stops, stops the others; a worker whose parent dies stops with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from typing import Any

import uvicorn

_PR_SET_PDEATHSIG = 1


def default_workers() -> int:
    """One process per core, at most 4 (each keeps its own connections and caches)."""
    if not hasattr(os, "fork"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def run(app: Any, host: str, port: int, workers: int) -> None:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    if workers <= 1 or not hasattr(os, "fork"):
        uvicorn.Server(config).run()
        return
    sock = config.bind_socket()
    first = os.getpid()
    children: list[int] = []
    try:
        for _ in range(workers - 1):
            pid = os.fork()
            if pid == 0:  # a worker: serve until told to stop, then leave without cleanup
                code = 0
                try:
                    _stop_with_parent(first)
                    uvicorn.Server(config).run(sockets=[sock])
                except BaseException:  # a worker never returns into the CLI
                    code = 1
                os._exit(code)
            children.append(pid)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for pid in children:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in children:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        sock.close()


def _stop_with_parent(parent: int) -> None:
    """Linux: SIGTERM when the first process dies, even by SIGKILL (no orphans on the port)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)
