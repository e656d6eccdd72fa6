"""Worker processes the event loop feeds itself, over one socket pair each: no helper threads.

`concurrent.futures.ProcessPoolExecutor` hands every task to a manager thread and a queue
feeder thread, which wake each other through a pipe, pickle, send, and set each result's
future from their thread. In the crawling process, the archive's one writer, each of those
handoffs is a GIL switch away from the event loop (a submit cost ~0.7 ms of the loop's time
under load), and the threads make every later fork unsafe (Python 3.12 warns). Here the loop
writes a pickled task (length-prefixed) to the least busy worker's socket and a reader task per
worker takes the results back in order.

Workers are forked all at once by `start()`, before the crawl opens any connection or starts a
thread. A worker closes the parent's ends of every pair, so when the crawling process dies
(even by `kill -9`) its socket reads end of file and it exits: no worker is left behind.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import multiprocessing
import os
import pickle
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

_HEADER = struct.Struct("!I")


class WorkerDied(RuntimeError):
    """A worker process ended with tasks still waiting for it."""


def _serve(sock: socket.socket, inherited: list[socket.socket], init: Callable[[], None]) -> None:
    """The worker's loop: read a task, run it, send back (ok, result or exception)."""
    for other in inherited:  # the parent's ends: only the parent may hold them open
        other.close()
    init()
    rfile = sock.makefile("rb")
    while True:
        head = rfile.read(_HEADER.size)
        if len(head) < _HEADER.size:
            os._exit(0)  # the crawling process closed the pool, or is gone
        fn, args = pickle.loads(rfile.read(_HEADER.unpack(head)[0]))
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            reply = (False, exc)
        try:
            data = pickle.dumps(reply, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an exception or result that does not pickle
            failure = RuntimeError(f"ingest worker: {type(exc).__name__}: {exc}")
            data = pickle.dumps((False, failure), pickle.HIGHEST_PROTOCOL)
        sock.sendall(_HEADER.pack(len(data)) + data)


@dataclass
class _Worker:
    process: BaseProcess
    sock: socket.socket
    waiting: collections.deque[asyncio.Future[Any]] = field(default_factory=collections.deque)
    writer: asyncio.StreamWriter | None = None
    reader_task: asyncio.Task[None] | None = None
    dead: bool = False


class PipePool:
    """`start()` (forks), `await open()`, `await run(fn, *args)`, `await close()`."""

    def __init__(self, workers: int, init: Callable[[], None]) -> None:
        self.size = workers
        self.init = init
        self._workers: list[_Worker] = []

    def start(self) -> None:
        context = multiprocessing.get_context("fork")
        parents: list[socket.socket] = []
        for _ in range(self.size):
            mine, theirs = socket.socketpair()
            parents.append(mine)
            process = context.Process(
                target=_serve, args=(theirs, list(parents), self.init), daemon=True
            )
            process.start()
            theirs.close()
            self._workers.append(_Worker(process, mine))

    async def open(self) -> None:
        for worker in self._workers:
            reader, writer = await asyncio.open_unix_connection(sock=worker.sock)
            worker.writer = writer
            worker.reader_task = asyncio.create_task(self._results(worker, reader))

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` in the least busy worker; its result, or its exception raised."""
        alive = [w for w in self._workers if not w.dead and w.writer is not None]
        if not alive:
            raise WorkerDied("no ingest worker is running")
        worker = min(alive, key=lambda w: len(w.waiting))
        assert worker.writer is not None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        data = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        worker.waiting.append(future)
        worker.writer.write(_HEADER.pack(len(data)) + data)
        await worker.writer.drain()
        return await future

    async def _results(self, worker: _Worker, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                head = await reader.readexactly(_HEADER.size)
                data = await reader.readexactly(_HEADER.unpack(head)[0])
                future = worker.waiting.popleft()
                try:
                    ok, value = pickle.loads(data)
                except Exception as exc:  # e.g. an exception whose __init__ takes other args
                    ok, value = False, RuntimeError(f"ingest worker reply: {exc!r}")
                if future.done():  # its caller was cancelled
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            worker.dead = True
            while worker.waiting:
                future = worker.waiting.popleft()
                if not future.done():
                    future.set_exception(WorkerDied("an ingest worker process died"))

    async def close(self) -> None:
        for worker in self._workers:
            if worker.writer is not None:
                worker.writer.close()  # the worker reads end of file and exits
            else:
                worker.sock.close()
        for worker in self._workers:
            if worker.reader_task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.reader_task
        for worker in self._workers:
            worker.process.join(5.0)  # it exits as soon as it reads end of file
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
        self._workers = []
