"""Atomic, durable file writes: temp file in the target folder, fsync, rename, fsync the folder.

A reader (or a process restarted after kill -9) sees either the old file or the new one, never
half of one. OS errors (disk full, read-only folder, permissions) become a one-line
`StorageError`, and the temp file is removed so the folder is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path

from archive.errors import StorageError

TEMP_PREFIX = ".tmp-"


def describe(exc: OSError, path: Path) -> str:
    """One line saying what the disk refused and where."""
    reason = {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk quota exceeded",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EFBIG: "file size limit exceeded",
    }.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    return f"cannot write {path}: {reason}"


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def make_dirs(folder: Path) -> None:
    if folder.is_dir():  # a stat is cheaper than a failing mkdir on most file systems
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(describe(exc, folder)) from exc


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that it is either wholly there or not changed at all."""
    tmp = path.parent / f"{TEMP_PREFIX}{path.name}.{os.getpid()}.{os.urandom(4).hex()}"
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:
            # its folder is new: made on demand, not stat'ed before every write
            make_dirs(path.parent)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise StorageError(describe(exc, path)) from exc
    if durable:
        fsync_dir(path.parent)


def write_new(path: Path, data: bytes, *, durable: bool = True) -> bool:
    """Write an immutable, content-named file unless it is already there; True if written."""
    if path.exists():
        return False
    write_atomic(path, data, durable=durable)
    return True


def remove_temp_files(root: Path) -> int:
    """Delete temp files a killed process left behind (they were never renamed into place)."""
    removed = 0
    for tmp in root.rglob(f"{TEMP_PREFIX}*"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed
