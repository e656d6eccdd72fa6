"""Atomic, durable file writes: temp file in the target folder, fsync, rename, fsync the folder.

A reader (or a process restarted after kill -9) sees either the old file or the new one, never
half of one. OS errors (disk full, read-only folder, permissions) become a one-line
`StorageError`, and the temp file is removed so the folder is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
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


def make_dirs(folder: Path, *, missing: bool = False) -> None:
    """Make `folder` and its parents (`missing`: the caller just found it missing, so it is
    not looked at first)."""
    if not missing and folder.is_dir():  # a stat is cheaper than a failing mkdir
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(describe(exc, folder)) from exc


# temp file names: this process's id and a count, unique without a syscall per file (the
# random suffix they had cost two: getpid and getrandom); the id is read again after a fork
_pid = os.getpid()
_serial = itertools.count()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def temp_name(name: str) -> str:
    """A temp file name beside `name` that no other write in any live process uses."""
    return f"{TEMP_PREFIX}{name}.{_pid}.{next(_serial):x}"


def write_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write `data` to `path` so that it is either wholly there or not changed at all."""
    target = os.fspath(path)
    folder, name = os.path.split(target)  # strings: a crawl writes three files a page
    tmp = os.path.join(folder, temp_name(name))  # noqa: PTH118 - no Path to build
    try:
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        except FileNotFoundError:
            # its folder is new: made on demand, not stat'ed before every write
            make_dirs(Path(folder), missing=True)
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
        os.replace(tmp, target)  # noqa: PTH105
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # noqa: PTH108
        raise StorageError(describe(exc, path)) from exc
    if durable:
        fsync_dir(Path(folder))


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
