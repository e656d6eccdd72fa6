"""Page work in worker processes that take requests, not connections.

`morgue serve` with several processes keeps the HTTP connections in the first one (uvicorn's
event loop: reading requests and writing responses is little work) and builds the pages
(SQLite, records, snippets, templates: Python, so one core per process at most) in worker
processes forked before the loop starts. Each request goes to whichever worker is idle, in
arrival order. When every process accepted connections of its own, a keep-alive client
stayed with the process that happened to accept it: eight clients split 7:1 or 6:2 between
two processes, and the busy one's queue waited while the other core idled.

A job and its reply travel pickled over a socket pair, four bytes of length first. A worker
builds one page at a time: with one worker per core the cores stay busy and a page waits
in the front's queue, not half-built in a thread that shares its core with others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import sys
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1
_HEAD = 4  # bytes of length before each message


class WorkerLost(RuntimeError):
    """A page worker died (a crash, the OOM killer): the server cannot answer for it."""


class PagePool:
    """Worker processes running `handle(job) -> reply` for the event loop of this process."""

    def __init__(self, handle: Callable[[Any], Any]) -> None:
        self.handle = handle
        self.pids: list[int] = []
        self._socks: list[socket.socket] = []
        self._idle: asyncio.Queue[socket.socket] | None = None
        self.on_lost: Callable[[], None] = _stop_this_process

    @property
    def started(self) -> bool:
        return bool(self.pids)

    def start(self, workers: int) -> None:
        """Fork the workers (before any event loop or thread runs in this process)."""
        parent = os.getpid()
        for _ in range(workers):
            mine, theirs = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # a worker: serve jobs until the pipe closes, leave without cleanup
                code = 0
                try:
                    mine.close()
                    for other in self._socks:
                        other.close()
                    _stop_with_parent(parent)
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the first process stops us
                    _serve(theirs, self.handle)
                except BaseException:  # a worker never returns into the caller's code
                    code = 1
                os._exit(code)
            theirs.close()
            mine.setblocking(False)
            self._socks.append(mine)
            self.pids.append(pid)

    def stop(self) -> None:
        for sock in self._socks:
            sock.close()
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids:
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
        self.pids.clear()
        self._socks.clear()

    async def run(self, job: Any) -> Any:
        """`handle(job)` in the next idle worker; its reply."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for sock in self._socks:
                self._idle.put_nowait(sock)
        sock = await self._idle.get()
        # shielded: a request given up half-way (the client left) still reads its reply, so
        # the worker's next reply is not taken for this one's
        return await asyncio.shield(self._exchange(sock, job))

    async def _exchange(self, sock: socket.socket, job: Any) -> Any:
        assert self._idle is not None
        loop = asyncio.get_running_loop()
        data = pickle.dumps(job, pickle.HIGHEST_PROTOCOL)
        try:
            await loop.sock_sendall(sock, len(data).to_bytes(_HEAD, "big") + data)
            size = int.from_bytes(await _recv(loop, sock, _HEAD), "big")
            reply = pickle.loads(await _recv(loop, sock, size))
        except (OSError, EOFError) as exc:
            log.error("a page worker was lost (%s): stopping the server", exc)
            self.on_lost()
            raise WorkerLost("a page worker was lost") from exc
        self._idle.put_nowait(sock)
        return reply


async def _recv(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytes:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise EOFError("the worker closed its end")
        got += n
    return bytes(buf)


def _recv_blocking(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return bytes(buf)


def _serve(sock: socket.socket, handle: Callable[[Any], Any]) -> None:
    while True:
        head = _recv_blocking(sock, _HEAD)
        if head is None:
            return
        body = _recv_blocking(sock, int.from_bytes(head, "big"))
        if body is None:
            return
        data = pickle.dumps(handle(pickle.loads(body)), pickle.HIGHEST_PROTOCOL)
        sock.sendall(len(data).to_bytes(_HEAD, "big") + data)


def _stop_this_process() -> None:
    os.kill(os.getpid(), signal.SIGTERM)  # uvicorn shuts down; the caller stops the pool


def _stop_with_parent(parent: int) -> None:
    """Linux: SIGTERM when the first process dies, even by SIGKILL (no orphans)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os._exit(0)
