"""Group commit for archive files: one fsync per batch of stores instead of two per file.

A store writes up to three files (the raw blob, its fetch sidecar, the record version), and a
durable write of each costs an fsync of the file and one of its folder. Inside
`Archive.batch()` the files are written in place without fsync, and a copy of every one goes
into this journal: at the end of the batch the journal is appended to and fsynced once, and
only then is the catalog transaction committed. After a power cut the catalog can therefore
name a file whose bytes never reached the disk; `recover` (run by `Archive.open`) rewrites
every file the journal holds that is missing or different, durably, before anything reads the
archive. `checkpoint` makes the files themselves durable (one `syncfs`, or an fsync per file
where that call is missing) and then deletes the journal segments they were in.

A segment is `journal/<pid>-<n>.jnl`, a sequence of entries (header: path length, data
length, sha256 of path + data; then the relative path and the data). A torn last entry (the
process died while appending) is ignored: its batch was never committed. The writing process
holds an exclusive `flock` on its segment, so another process opening the archive recovers
only segments whose writer is gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import logging
import os
import struct
import threading
from collections.abc import Callable
from pathlib import Path

from archive.atomic import describe, fsync_dir, make_dirs, write_atomic
from archive.errors import StorageError
from archive.filewriter import FileWriter
from archive.layout import relative

log = logging.getLogger(__name__)

JOURNAL_DIR = "journal"
_ENTRY = struct.Struct("<II32s")
_MAX_PATH = 4096


def _syncfs(folder: Path) -> bool:
    """Flush the file system holding `folder` (Linux syncfs); False where it is missing."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(folder, os.O_RDONLY)
    try:
        return bool(call(fd) == 0)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # replaced since (a later version of the same path is journaled)
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """The journal of one archive in one process; `begin`/`add`/`commit` from one thread,
    `checkpoint` from any."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = root / JOURNAL_DIR
        self._pending: list[tuple[Path, bytes]] | None = None
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment: Path | None = None
        self._paths: list[Path] = []
        self._count = 0
        # when set, a batch's files are written on a thread of their own (archive.filewriter)
        self.writer: FileWriter | None = None

    @property
    def active(self) -> bool:
        return self._pending is not None

    def defer_writes(self) -> None:
        """From now on `write` leaves the file calls to a writer thread (a crawl's event loop
        stores: archive.filewriter); `commit` waits for them."""
        if self.writer is None:
            self.writer = FileWriter()

    def write_now(self) -> None:
        """Back to writing files on the calling thread (after draining the writer's)."""
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()

    def write(self, path: Path, data: bytes) -> None:
        """Inside a batch: write a file (not durably: the journal makes it so) and note it."""
        if self._pending is None:
            raise RuntimeError("journal: write outside a batch")
        if self.writer is not None:
            self.writer.write(path, data)
        else:
            write_atomic(path, data, durable=False)
        self._pending.append((path, data))

    def pending(self, path: Path | str) -> bytes | None:
        """The bytes of a file `write` queued and the writer has not put in place yet."""
        writer = self.writer
        return writer.pending(path) if writer is not None else None

    def drain(self) -> None:
        """Wait for the files queued so far to be in place (before reading the folder as it
        is, or committing)."""
        if self.writer is not None:
            self.writer.drain()

    def begin(self) -> None:
        self._pending = []

    def add(self, path: Path, data: bytes) -> None:
        """Note a file written (not yet durably) inside the batch."""
        if self._pending is None:
            raise RuntimeError("journal: add outside a batch")
        self._pending.append((path, data))

    def discard(self) -> None:
        """The batch failed and its catalog rows are rolled back. Its files stay (content-named
        blobs may be stored again later, and are then trusted as they are): sync them."""
        pending, self._pending = self._pending or [], None
        with contextlib.suppress(Exception):  # the batch fails anyway: its files as they are
            self.drain()
        for path in dict.fromkeys(path for path, _ in pending):
            with contextlib.suppress(OSError):
                _fsync_file(path)

    def commit(self) -> None:
        """Append the batch's files to the journal and fsync it: one fsync for the batch.
        Every file is in place first (a writer thread's too): the catalog commit that follows
        may name them to readers."""
        try:
            self.drain()
        except BaseException:  # a file could not be written: the batch fails
            self.discard()
            raise
        pending, self._pending = self._pending or [], None
        if not pending:
            return
        chunks = []
        for path, data in pending:
            rel = relative(path, self.root).encode("utf-8")
            entry = hashlib.sha256(rel)
            entry.update(data)  # sha256(rel + data), without copying the data to join them
            chunks += [_ENTRY.pack(len(rel), len(data), entry.digest()), rel, data]
        blob = b"".join(chunks)
        with self._lock:
            fd = self._open_segment()
            try:
                view = memoryview(blob)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            except OSError as exc:
                raise StorageError(describe(exc, self._segment or self.folder)) from exc
            self._paths.extend(path for path, _ in pending)

    def _open_segment(self) -> int:
        if self._fd is not None:
            return self._fd
        make_dirs(self.folder)
        self._count += 1
        # a process may hold several journals (a cluster worker's store threads each have
        # an archive of their own): the object's id keeps their segments apart
        segment = self.folder / f"{os.getpid()}-{id(self):x}-{self._count}.jnl"
        # locked before it takes its name: another process's `recover` (a cluster worker
        # opening the archive) would otherwise find it unlocked, take it for a dead
        # writer's and remove it between the open and the lock
        opening = segment.with_name(segment.name + ".new")
        try:
            fd = os.open(opening, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            opening.replace(segment)
        except OSError as exc:
            raise StorageError(describe(exc, segment)) from exc
        fsync_dir(self.folder)
        self._fd, self._segment = fd, segment
        return fd

    def checkpoint(self) -> None:
        """Make every journaled file durable, then drop the journal segment they were in."""
        with self._lock:
            fd, segment, paths = self._fd, self._segment, self._paths
            self._fd, self._segment, self._paths = None, None, []
        if fd is None or segment is None:
            return
        try:
            if not _syncfs(self.root):
                for path in dict.fromkeys(paths):
                    _fsync_file(path)
                for folder in dict.fromkeys(p.parent for p in paths):
                    fsync_dir(folder)
        except OSError as exc:
            # keep the segment: the next Archive.open replays it (its lock goes with the fd)
            log.warning("journal: cannot sync the archive's files (%s); kept %s", exc, segment)
            os.close(fd)
            return
        with contextlib.suppress(OSError):
            segment.unlink()
        os.close(fd)  # releases the flock
        fsync_dir(self.folder)

    def close(self) -> None:
        try:
            self.write_now()
        finally:
            self.checkpoint()


def recover(root: Path, committed: Callable[[str, bytes], bool] | None = None) -> int:
    """Replay the journal segments of processes that are gone; the number of files rewritten.

    `committed(path, data)`: whether the catalog records that file with those bytes. With many
    writers (a cluster) a dead writer's last batch may have been journaled and never
    committed while a live writer has since filed its own bytes at the same path: only what
    the catalog vouches for is restored then. Without it (one writer) every entry is."""
    folder = root / JOURNAL_DIR
    if not folder.is_dir():
        return 0
    rewritten = 0
    for segment in sorted(folder.glob("*.jnl"), key=lambda p: p.stat().st_mtime):
        try:
            fd = os.open(segment, os.O_RDONLY)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its writer is alive and will checkpoint it
            data = segment.read_bytes()
            rewritten += _replay(root, data, committed)
            segment.unlink()
            fsync_dir(folder)
        finally:
            os.close(fd)
    if rewritten:
        log.warning("journal: restored %d file(s) an interrupted run had not synced", rewritten)
    return rewritten


def _replay(root: Path, data: bytes, committed: Callable[[str, bytes], bool] | None) -> int:
    rewritten, at = 0, 0
    resolved_root = root.resolve()
    while at + _ENTRY.size <= len(data):
        path_len, data_len, digest = _ENTRY.unpack_from(data, at)
        start = at + _ENTRY.size
        end = start + path_len + data_len
        if path_len > _MAX_PATH or end > len(data):
            break  # torn tail: that batch was never committed
        rel, content = data[start : start + path_len], data[start + path_len : end]
        if hashlib.sha256(rel + content).digest() != digest:
            break
        at = end
        target = (root / rel.decode("utf-8")).resolve()
        if not target.is_relative_to(resolved_root):
            continue
        try:
            same = target.read_bytes() == content
        except OSError:
            same = False
        if not same and (committed is None or committed(rel.decode("utf-8"), content)):
            write_atomic(target, content, durable=True)
            rewritten += 1
    return rewritten
