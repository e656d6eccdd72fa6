"""A batch's files written on a thread of their own, so the thread that stores does not wait.

Inside a group commit (`archive.journal`) a store's files are written without fsync: the
journal holds their bytes and makes them durable. What is left of a file write is creating
the file (a temp file renamed into place, its folder the first time), and on a busy file
system that blocks for a fraction of a millisecond per file, three files a page: a crawl's
event loop spent a third of its time there. Those calls give up the GIL, so on a thread of
their own they overlap with the loop's work. The order that makes a store safe is kept: the
intents note is made before the write is queued (by the storing thread), and the journal's
commit waits for every queued write before the batch's catalog transaction commits.

Until its write is done a file is served from here: `pending(path)` gives its bytes, so a later
store of the same batch that looks for it (the same raw bytes fetched twice, a second URL of
an article filed a moment ago) finds it as if it were on disk.
"""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from archive.atomic import write_atomic


class FileWriter:
    """One writer thread; `write` from the storing thread, `drain` before a commit."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[tuple[Path, bytes] | None] = queue.SimpleQueue()
        self._pending: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._queued = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def write(self, path: Path, data: bytes) -> None:
        """Write `data` to `path` (atomically, not durably) soon; `pending` serves it until."""
        with self._lock:
            self._pending[str(path)] = data
            self._queued += 1
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="morgue-files", daemon=True)
            self._thread.start()
        self._queue.put((path, data))

    def pending(self, path: Path | str) -> bytes | None:
        """The bytes queued for `path` and not yet on disk, else None (then look on disk:
        a write leaves this map only once its file is in place)."""
        return self._pending.get(str(path))

    @property
    def busy(self) -> bool:
        return self._queued > 0

    def drain(self) -> None:
        """Wait until every queued file is in place; raise the first write that failed."""
        with self._lock:
            while self._queued:
                self._idle.wait()
            error, self._error = self._error, None
        if error is not None:
            raise error

    def close(self) -> None:
        """Drain, then stop the thread."""
        try:
            self.drain()
        finally:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
                thread.join()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            path, data = item
            error: BaseException | None = None
            try:
                write_atomic(path, data, durable=False)
            except BaseException as exc:  # handed to whoever drains: the batch fails
                error = exc
            key = str(path)
            with self._lock:
                if error is not None and self._error is None:
                    self._error = error
                if self._pending.get(key) is data:  # a later write of the path is still due
                    del self._pending[key]
                self._queued -= 1
                if not self._queued:
                    self._idle.notify_all()
