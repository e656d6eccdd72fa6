"""One crawl per source at a time, across processes: an advisory file lock in the data folder.

`SourceLock(folder, name)` takes a non-blocking `flock` on `<folder>/<name>.lock`; a second
`morgue crawl` (or `morgue schedule`) of the same source sees `acquire()` return False and
skips it. The kernel drops the lock when the holder dies, even by kill -9, so a stale lock file
never blocks anything. The holder's pid is written into the file for the busy message.
"""

from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path
from types import TracebackType


class SourceLock:
    def __init__(self, folder: Path, name: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", name)
        self.path = folder / f"{safe}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if free; False when another process (or this one) holds it."""
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        """The pid written by the holder, for messages ("pid 1234"), or "another process"."""
        try:
            pid = self.path.read_text(encoding="ascii").strip()
        except OSError:
            pid = ""
        return f"pid {pid}" if pid.isdigit() else "another process"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> SourceLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
