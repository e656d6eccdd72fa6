"""Files an unfinished store may leave behind, and the sweep that removes them.

A store writes its files (raw blob, fetch sidecar, record version) before the catalog
transaction that records them and their checksums, so that a catalog row never points at a
missing file. A process killed between the two leaves files nobody recorded: to `verify` they
are unknown files, which is what a file slipped into the archive by hand looks like too. So
before it writes a file, the store notes its path and sha256 in an intents file
(`journal/<pid>.intents`, appended without fsync: it survives a killed process, which is what
it is for); when the transaction ends, the files it did not record are removed and the notes
dropped. `sweep` (run by
`Archive.open`) reads the intents files of processes that are gone and removes each noted file
the catalog does not know and whose bytes are still the noted ones: the leftovers of a store
that never happened. Nothing reported as stored is touched: its transaction committed, so the
catalog knows its files. (After a power cut the unsynced notes may be lost; the leftovers then
show as unknown, and `verify --repair` records them.)
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from archive.atomic import describe, make_dirs
from archive.errors import StorageError
from archive.layout import relative

log = logging.getLogger(__name__)

INTENTS_DIR = "journal"
SUFFIX = ".intents"
_SWEPT = ("raw/", "articles/")  # the folders stores write into
OPEN_TRIES = 5  # times the notes' file is made again when a sweep removed it under us


class Intents:
    """The notes of one archive in one process (one writer thread, as the catalog)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / INTENTS_DIR
        self._fd: int | None = None
        self._path: Path | None = None
        self._dirty = False

    def note(self, path: Path, data: bytes) -> None:
        """Before `data` is written to `path` (inside the archive), a file that is not there
        yet: a file that exists is never noted, so a sweep never removes one."""
        rel = relative(path, self.root)
        line = f"{rel}\t{hashlib.sha256(data).hexdigest()}\n".encode()
        fd = self._open()
        try:
            os.write(fd, line)
        except OSError as exc:
            raise StorageError(describe(exc, self._path or self.folder)) from exc
        self._dirty = True

    def settled(
        self,
        known: Callable[[str], bool],
        known_of: Callable[[list[str]], set[str]] | None = None,
    ) -> None:
        """The outermost transaction ended (committed or rolled back): remove each noted file
        it did not record (a store that failed inside a batch rolled back its own rows only),
        then forget the notes. `known_of`: which of many paths are recorded, in one question
        (a batch notes a few files per page)."""
        if not self._dirty or self._fd is None or self._path is None:
            return
        notes = self._path.read_bytes()
        if known_of is not None:
            lines = notes.decode("utf-8", "replace").splitlines()
            known = known_of([line.partition("\t")[0] for line in lines]).__contains__
        sweep_lines(self.root, notes, known)
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        self._dirty = False

    def _open(self) -> int:
        """The notes' file, created and locked. Another process's `sweep` may take the new
        file between its creation and the lock (it is then empty and unlocked: what a dead
        process leaves) and remove it; a lock on a file no longer at its path is dropped and
        the file made again, or the notes would go to a file nobody can read (two workers
        starting their crawl jobs together: the second's sweep, the first's first store)."""
        if self._fd is None:
            make_dirs(self.folder)
            path = self.folder / f"{os.getpid()}-{id(self):x}{SUFFIX}"
            for _ in range(OPEN_TRIES):
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                except OSError as exc:
                    raise StorageError(describe(exc, path)) from exc
                try:
                    # blocking: a sweep holds the lock of a file it found only while it
                    # reads and removes it (the name is this process's own)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    if _same_file(fd, path):
                        self._fd, self._path = fd, path
                        return fd
                except OSError as exc:
                    os.close(fd)
                    raise StorageError(describe(exc, path)) from exc
                os.close(fd)  # removed by a sweep before our lock: make it again
            raise StorageError(f"{path}: removed again and again while being opened")
        return self._fd

    def close(self) -> None:
        """At a clean close nothing is pending that a sweep should remove."""
        fd, path = self._fd, self._path
        self._fd = self._path = None
        if fd is None or path is None:
            return
        if not self._dirty:
            with contextlib.suppress(OSError):
                path.unlink()
        os.close(fd)


def sweep(root: Path, known: Callable[[str], bool]) -> int:
    """Remove what stores of dead processes wrote but never recorded; how many files."""
    folder = root / INTENTS_DIR
    if not folder.is_dir():
        return 0
    removed = 0
    for intents in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(intents, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its writer is alive
            # a live writer removes its own file at a clean close (holding its lock, which
            # this sweep may get right after): a file gone from its path is not a leftover
            if not _same_file(fd, intents):
                continue
            try:
                notes = intents.read_bytes()
            except OSError:
                continue
            removed += sweep_lines(root, notes, known)
            with contextlib.suppress(OSError):
                intents.unlink()
        finally:
            os.close(fd)
    if removed:
        log.warning("removed %d file(s) an interrupted store wrote but never recorded", removed)
    return removed


def _same_file(fd: int, path: Path) -> bool:
    """Whether the open file `fd` is still the file at `path` (not removed or replaced)."""
    try:
        at_path = path.stat()
    except OSError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (at_path.st_dev, at_path.st_ino)


def sweep_lines(root: Path, notes: bytes, known: Callable[[str], bool]) -> int:
    """Remove each noted file that is unknown and still holds the noted bytes."""
    removed = 0
    resolved: Path | None = None
    for line in notes.decode("utf-8", "replace").splitlines():
        rel, _, sha = line.partition("\t")
        # the catalog knows nearly every noted file: ask it before resolving the path
        if not rel.startswith(_SWEPT) or known(rel):
            continue
        resolved = resolved or root.resolve()
        target = (root / rel).resolve()
        if not target.is_relative_to(resolved):
            continue
        try:
            same = hashlib.sha256(target.read_bytes()).hexdigest() == sha
        except OSError:
            continue
        if same:
            with contextlib.suppress(OSError):
                target.unlink()
                removed += 1
    return removed
