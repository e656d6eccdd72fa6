"""Ingesting crawled pages on both cores: parse in worker processes, store in group commits.

`IngestPool.ingest(page, ...)` is the crawl's asynchronous `pipeline.ingest`. The CPU-heavy,
pure part of a page (parsing, the body's fingerprints, reading and judging its links) runs in
worker processes, so the event loop keeps fetching meanwhile. What comes back is stored by one
committer task (the only catalog writer): it takes every page waiting, stores them in one
`Archive.batch()` (one catalog transaction, one fsync for all their files), and only after that
commit answers each page's caller, who then marks the URL done in the frontier (the marks are
written together before the next group commit, `scraper.crawl.finishes`). So a URL is never
done without its page in the archive, and a `kill -9` at any moment loses at most the batch in
flight, which the next run fetches again.

A group commit takes tens of milliseconds, and in one piece on the event loop it held up every
host's next request that fell due meanwhile. So the committer lets the loop run between pages
(a page's store is a millisecond or two), and the commit itself, the fsyncs, runs in a thread.
(All of it in a thread was slower: every catalog statement and file call gives up the GIL, and
each time the thread waited to get it back from the busy loop.) Meanwhile the loop's own
writes and reads never wait for the open transaction: the frontier has a file of its own, and
the loop's catalog questions go through a read-only connection of their own (`pool.reader`).
A worker also does all of a store that needs no catalog (`archive.prepare`): the crawling
process, the archive's one writer, keeps only the part that does.

The workers are forked when the pool is entered, before the crawl opens any connection or
starts a thread, and all at once (a fork later would copy live sockets into them); in a process
that already runs other threads they come from the forkserver instead. Each ignores SIGINT
(the crawl decides how to stop) and exits by itself when the crawling process is gone: after a
`kill -9` no worker is left behind.

Pages go to a worker and come back through a pipe each way per worker, which the event loop
itself writes (without blocking) and reads (when readable): no thread between them. With a
ProcessPoolExecutor a manager thread and a queue feeder thread carried every page, and each
hand-off to or from the busy loop cost GIL transfers, futex calls and context switches (the
workers sat blocked sending their answers). A worker that dies fails the pages it held
(`WorkerDied`); the others go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import functools
import gc
import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from archive.backends.blobs import FolderBlobStore
from archive.identity import PageKeys
from archive.indexing import Fingerprints
from archive.prepare import Prepared, prepare
from archive.record import Block, BlockKind, Caption, Content, RawPage, Stored
from archive.store import Archive
from archive.validate import RecordValidator
from scraper.config import SiteRules
from scraper.crawl.classify import UrlPolicy
from scraper.crawl.discover import feed_links, page_hrefs, tree_hrefs
from scraper.crawl.links import Followed, WorkerJudges, followed
from scraper.errors import ParseError
from scraper.parse import parse_page

log = logging.getLogger(__name__)

MAX_BATCH = 64  # pages per group commit; more waiting wait for the next one
# a batch waits this long after its first page for more: fewer fsyncs per page (each blocks
# the event loop for milliseconds), and a page in flight is stored a little later
BATCH_WAIT = 0.05
MAX_WORKERS = 4
CHECKPOINT_EVERY = 5.0  # seconds between syncs of the journaled files (archive.journal)


@dataclass(frozen=True, slots=True)
class Parsed:
    """What a worker makes of a page: its content and all of its store that needs no catalog
    (`archive.prepare`), or why it is no article."""

    content: Content | None
    prepared: Prepared | None
    links: Followed | None
    error: tuple[type[ParseError], str | None, str] | None = None
    packed: bytes | None = None  # a page that is no article, as the blob store keeps it

    def exception(self) -> ParseError | None:
        if self.error is None:
            return None
        kind, url, reason = self.error
        return kind(url, reason)

    def __reduce__(self) -> tuple[Callable[..., Parsed], tuple[object, ...]]:
        # sent back to the crawl process without the body's text a second time: the
        # fingerprints' text is the content's (`Fingerprints.of`), made again there
        content, prepared = self.content, self.prepared
        if content is None or prepared is None or prepared.prints.text != content.text:
            return _parsed, (content, prepared, self.links, self.error, self.packed)
        prints, links, keys = prepared.prints, self.links, prepared.keys
        ready = (prepared.fetch_id, prints.digest, prints.simhash, prepared.problem)
        sent = (_content_parts(content), ready, (keys.canonical_url, keys.canonical_key))
        return _parsed_again, (*sent, keys.urls, keys.keys, prepared.packed, links)


def _parsed(*fields: Any) -> Parsed:
    return Parsed(*fields)


def _parsed_again(
    parts: tuple[Any, ...],
    ready: tuple[str, str, int, str | None],
    canonical: tuple[str, str],
    urls: tuple[str, ...],
    keys: tuple[str, ...],
    compressed: bytes | None,
    links: Followed | None,
) -> Parsed:
    """A Parsed of an article as sent: its fingerprints' text is the content's."""
    content = _content_of(parts)
    fetch_id, digest, simhash, problem = ready
    prints = Fingerprints(digest, simhash, content.text)
    page_keys = PageKeys(*canonical, urls, keys)
    return Parsed(content, Prepared(page_keys, fetch_id, prints, problem, compressed), links)


# A Content sent as plain values, not as the dataclasses it is made of: pickle rebuilds a
# frozen dataclass with slots through its __setstate__, a Python loop over `fields()`, for each
# block and caption, and an enum member through a call of its class. Its fields in order, the
# body flattened to text and kind value, each caption to its fields.
_CONTENT_FIELDS = tuple(f.name for f in dataclasses.fields(Content))
_BODY = _CONTENT_FIELDS.index("body")
_CAPTIONS = _CONTENT_FIELDS.index("captions")
_KINDS = {kind.value: kind for kind in BlockKind}


def _content_parts(content: Content) -> tuple[Any, ...]:
    if (
        type(content) is not Content
        or not all(type(b) is Block and type(b.kind) is BlockKind for b in content.body)
        or not all(type(c) is Caption for c in content.captions)
    ):
        return (content,)  # (anything else as pickle sends it)
    values: list[Any] = [getattr(content, name) for name in _CONTENT_FIELDS]
    values[_BODY] = tuple(part for b in content.body for part in (b.text, b.kind.value))
    values[_CAPTIONS] = tuple((c.text, c.credit, c.image_url) for c in content.captions)
    return tuple(values)


def _content_of(parts: tuple[Any, ...]) -> Content:
    if len(parts) == 1:
        content: Content = parts[0]
        return content
    values = dict(zip(_CONTENT_FIELDS, parts, strict=True))
    flat = values["body"]
    values["body"] = tuple(map(Block, flat[0::2], map(_KINDS.__getitem__, flat[1::2])))
    values["captions"] = tuple(itertools.starmap(Caption, values["captions"]))
    return Content(**values)


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:  # the crawl process died
            os._exit(1)


def _start_worker(parent: int) -> None:
    # the crawl's own objects came along with the fork: keep the collector off them (a full
    # collection would walk them all, and copy every page it touches)
    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


class WorkerDied(BrokenProcessPool):
    """An ingest worker exited (killed, crashed, out of memory) with these pages in it."""


# jobs sent to one worker before it answers: the next is there when it finishes one (no wait
# for the loop's round trip), and a slow page holds up at most one other
PER_WORKER = 2
PIPE_SIZE = 1 << 20  # a pipe's buffer, where the system allows: a page or a result in one write
_HEADER = struct.Struct("!i")  # multiprocessing.Connection's framing, which the worker uses
_LONG = struct.Struct("!Q")


def _worker_main(parent: int, tasks: Any, results: Any, close: list[int]) -> None:
    """A worker process: runs each job it receives, answers each in turn, until the crawl
    process closes its end of the pipe (or is gone, `_watch_parent`)."""
    _start_worker(parent)
    for fd in close:  # (forked) the crawl process's ends of the pipes
        with contextlib.suppress(OSError):
            os.close(fd)
    while True:
        try:
            message = tasks.recv_bytes()
        except (EOFError, OSError):
            return
        number, call, args = pickle.loads(message)
        try:
            answer = pickle.dumps((number, True, call(*args)), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # sent back, whatever it was; the worker goes on
            try:
                answer = pickle.dumps((number, False, exc), pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception pickle cannot send: its text
                failed = RuntimeError(f"{type(exc).__name__}: {exc}")
                answer = pickle.dumps((number, False, failed), pickle.HIGHEST_PROTOCOL)
        _write_all(results.fileno(), _HEADER.pack(len(answer)) + answer)


def _write_all(fd: int, data: bytes) -> None:
    """One write of a whole answer (Connection.send_bytes makes two of a big one)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _bigger_pipe(fd: int) -> None:
    with contextlib.suppress(OSError, AttributeError):  # (Linux only; a user's pipe quota)
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)


@dataclass(eq=False)
class _Worker:
    """One worker process as the crawl process's event loop sees it: the pipe that takes its
    jobs (written without blocking, the rest when the pipe drains) and the one that brings
    its answers (read when the loop finds it readable): no thread between them and the loop."""

    process: Any
    send_fd: int  # our end of its jobs' pipe (non-blocking)
    read_fd: int  # our end of its answers' pipe (non-blocking)
    keep: tuple[Any, ...]  # the Connections that own the two fds
    outbox: bytearray = field(default_factory=bytearray)
    inbox: bytearray = field(default_factory=bytearray)
    waiting: dict[int, asyncio.Future[Any]] = field(default_factory=dict)  # sent, unanswered
    dead: bool = False


def _threads() -> int:
    """Threads of this process, those not started by Python included (Linux), else Python's."""
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir())
    except OSError:
        return threading.active_count()


@dataclass(frozen=True, slots=True)
class Packing:
    """How to compress a page as the archive's folder blob store would (`BlobStore.pack`)."""

    root: str
    codec: str
    level: int
    like: tuple[str, ...]  # the stored pages it may be compressed against


# reference pages a worker keeps in memory: a crawl of a few hundred sites interleaves them,
# and reading a reference back (read, decompress, check its sha256) cost about as much as
# compressing against it
KEEP_REFERENCES = 8 << 20


@functools.lru_cache(maxsize=2)
def _packer(root: str, codec: str, level: int) -> FolderBlobStore:
    # one per worker process: it keeps the compressors of recent reference pages warm
    return FolderBlobStore(
        Path(root), codec=codec, level=level, durable=False, keep_references=KEEP_REFERENCES
    )


@functools.lru_cache(maxsize=1)
def _validator() -> RecordValidator:
    return RecordValidator()  # compiled once per worker process


@functools.lru_cache(maxsize=1)
def _judges() -> WorkerJudges:
    return WorkerJudges()  # one per worker process: what it judged, for every source


@dataclass(frozen=True, slots=True)
class FollowAsk:
    """The links a crawl follows from a page: its source's rules, and whether navigation
    pages are followed from it too (the depth allows one more level beyond them)."""

    policy: UrlPolicy
    pages: bool


def parse_in_worker(
    page: RawPage,
    source: str,
    rules: SiteRules | None,
    follow: FollowAsk | None,
    packing: Packing | None,
) -> Parsed:
    """Run in a worker process: parse, prepare the store (fingerprints, keys, the schema
    check), compress, and read and judge the links if asked (`links.followed`: what depends
    on the source's config only; the crawl process keeps what depends on the run)."""
    # the links are read from the parser's own tree when it is the one page_hrefs would
    # build (`parse_page`'s on_tree): one HTML parse of the page instead of two
    hrefs: list[tuple[str, list[str]]] = []
    on_tree = None
    if follow is not None:
        on_tree = lambda root: hrefs.append(tree_hrefs(root, page.final_url))  # noqa: E731
    content: Content | None = None
    error = None
    try:
        content = parse_page(page, rules=rules, on_tree=on_tree)
    except ParseError as exc:
        # exceptions with their own __init__ do not survive pickling: send the parts
        error = type(exc), exc.url, exc.reason
    links = None
    if follow is not None:
        base, raw = hrefs[0] if hrefs else page_hrefs(page.body, page.final_url)
        judge = _judges().for_source(source, follow.policy)
        links = followed(judge, raw, base, pages=follow.pages)
    packed = None
    if packing is not None:
        blobs = _packer(packing.root, packing.codec, packing.level)
        packed = blobs.pack(page.body, [ref for ref in packing.like if ref != page.sha256])
    if content is None:
        return Parsed(None, None, links, error, packed)
    ready = prepare(page, content, source, _validator(), packed)
    return Parsed(content, ready, links)


def links_in_worker(
    page: RawPage, source: str, follow: FollowAsk | None, feeds: bool
) -> tuple[list[str], Followed]:
    """Run in a worker process: a navigation page's links judged (`links.followed`, when
    `follow`), and the feeds it advertises (when `feeds`, for a start page)."""
    advertised = feed_links(page.body, page.final_url) if feeds else []
    links: Followed = []
    if follow is not None:
        base, raw = page_hrefs(page.body, page.final_url)
        judge = _judges().for_source(source, follow.policy)
        links = followed(judge, raw, base, pages=follow.pages)
    return advertised, links


def _future() -> asyncio.Future[Stored]:
    return asyncio.get_running_loop().create_future()


@dataclass
class _Job:
    page: RawPage
    source: str
    parsed: Parsed | None  # None: a 304, recorded as unchanged
    done: asyncio.Future[Stored] = field(default_factory=lambda: _future())

    def run(self, archive: Archive) -> Stored:
        page, parsed = self.page, self.parsed
        if parsed is None:
            return archive.store_unchanged(page, source=self.source)
        error = parsed.exception()
        if error is not None or parsed.content is None:
            # kept for a rebuild with a better parser
            archive.put_raw(page, source=self.source, packed=parsed.packed)
            raise error or ParseError(page.final_url, "no content")
        return archive.store(page, parsed.content, source=self.source, prepared=parsed.prepared)


class IngestPool:
    """Worker processes plus the committer; `async with IngestPool(archive) as pool:`."""

    def __init__(
        self,
        archive: Archive,
        workers: int | None = None,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        self.archive = archive
        # run before each group commit: writes the crawl's held frontier marks
        # (scraper.crawl.finishes), every one made after an earlier commit
        self.before_commit = before_commit
        self.workers = workers or min(MAX_WORKERS, os.cpu_count() or 1)
        self._workers: list[_Worker] = []
        self._started = False
        # jobs for a free worker: (their future, number, message)
        self._pending: deque[tuple[asyncio.Future[Any], int, bytes]] = deque()
        self._numbers = itertools.count()
        self._chunk = memoryview(bytearray(PIPE_SIZE))  # (what one read of a pipe lands in)
        self._froze = False
        self._writer: ThreadPoolExecutor | None = None
        # the archive for the event loop's own catalog questions while the writer writes
        self.reader: Archive = archive
        self._queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self._committer: asyncio.Task[None] | None = None
        self._checkpoint: asyncio.Future[None] | None = None
        self._last_checkpoint = 0.0
        self.batches = 0
        self.stored = 0
        self.commit_seconds = 0.0  # from a batch's first store to its commit

    async def __aenter__(self) -> IngestPool:
        # fork (cheap: the crawl's modules come along) unless another thread runs, which a
        # fork could catch holding a lock (a host program's threads, a test's HTTP server;
        # Python 3.12 warns): then fresh processes from the forkserver, which inherit nothing
        method = "fork" if _threads() == 1 else "forkserver"
        # what start-up made (modules, the config) lives as long as the crawl: out of the
        # collector's reach, a full collection no longer walks it (gc was 3.5 % of the crawl
        # process's time at 400 hosts), and forked workers share its pages untouched
        gc.freeze()
        self._froze = True
        self._start_workers(multiprocessing.get_context(method), method == "fork")
        # started after the fork: a forked worker must not inherit a thread; the catalog's
        # connection moves to it for each commit and back (never used by both at once)
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="morgue-writer")
        if self.archive.journal is not None:
            # a batch's file calls on a thread of their own: the loop does not wait on them
            # (archive.filewriter); the journal's commit waits for them, on the writer thread
            self.archive.journal.defer_writes()
        self.reader = self.archive.reader() if self.archive.embedded else self.archive
        self._committer = asyncio.create_task(self._commit_loop())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._queue.put_nowait(None)
        if self._committer is not None:
            await self._committer
        if self._checkpoint is not None:
            await self._checkpoint
        if self._writer is not None:
            self._writer.shutdown(wait=True)
        if self.archive.journal is not None:
            self.archive.journal.write_now()
        if self.reader is not self.archive:
            self.reader.close()
            self.reader = self.archive
        self._stop_workers()
        if self._froze:  # a host program that crawls again and again: nothing kept for good
            gc.unfreeze()
            self._froze = False
        log.debug(
            "ingest pool: %d pages in %d group commits, %.1f s committing",
            self.stored,
            self.batches,
            self.commit_seconds,
        )

    async def ingest(
        self, page: RawPage, *, source: str, rules: SiteRules | None, follow: FollowAsk | None
    ) -> tuple[Stored | ParseError, Followed | None]:
        """Store one fetched page (a 304 as unchanged); also judge its links when `follow`.

        Gives the ParseError (the raw page kept) when the page holds no article; raises
        ArchiveError when the archive refused it.
        """
        parsed: Parsed | None = None
        if page.status != 304:
            packing = self._packing(page)
            parsed = await self._run(parse_in_worker, page, source, rules, follow, packing)
        job = _Job(page, source, parsed)
        self._queue.put_nowait(job)
        links = parsed.links if parsed else None
        try:
            return await job.done, links
        except ParseError as exc:
            return exc, links

    async def links(
        self, page: RawPage, *, source: str, follow: FollowAsk | None, feeds: bool
    ) -> tuple[list[str], Followed]:
        """A navigation page's feeds and judged links, from a worker (`links_in_worker`):
        its parse and its links' first judging are most of a section page's cost."""
        found: tuple[list[str], Followed] = await self._run(
            links_in_worker, page, source, follow, feeds
        )
        return found

    def _start_workers(self, context: Any, forked: bool) -> None:
        """Start every worker now, each with a pipe for its jobs and one for its answers."""
        parent = os.getpid()
        ours: list[int] = []  # our ends so far: a forked worker closes them
        for _ in range(self.workers):
            their_tasks, our_tasks = context.Pipe(duplex=False)
            our_results, their_results = context.Pipe(duplex=False)
            # (forked) our ends of its pipes and of the others': its jobs' end is when we close
            close = [*ours, our_tasks.fileno(), our_results.fileno()] if forked else []
            process = context.Process(
                target=_worker_main,
                args=(parent, their_tasks, their_results, close),
                name="morgue-ingest",
                daemon=True,
            )
            process.start()
            # only the worker holds its ends now: its exit is our end's EOF
            their_tasks.close()
            their_results.close()
            send_fd, read_fd = our_tasks.fileno(), our_results.fileno()
            for fd in (send_fd, read_fd):
                os.set_blocking(fd, False)
                _bigger_pipe(fd)
            ours += [send_fd, read_fd]
            self._workers.append(_Worker(process, send_fd, read_fd, (our_tasks, our_results)))
        loop = asyncio.get_running_loop()
        for worker in self._workers:
            loop.add_reader(worker.read_fd, self._on_readable, worker)
        self._started = True

    async def _run(self, call: Callable[..., Any], *args: Any) -> Any:
        """`call(*args)` in a worker; its answer, or its exception raised here."""
        assert self._started, "use IngestPool as an async context manager"
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        number = next(self._numbers)
        message = pickle.dumps((number, call, args), pickle.HIGHEST_PROTOCOL)
        self._pending.append((done, number, message))
        self._dispatch()
        return await done

    def _dispatch(self) -> None:
        """Hand waiting jobs to the workers with the fewest unanswered (up to PER_WORKER)."""
        pending = self._pending
        while pending:
            live = [w for w in self._workers if not w.dead]
            if not live:
                while pending:
                    done, _, _ = pending.popleft()
                    if not done.done():
                        done.set_exception(WorkerDied("no ingest worker is left"))
                return
            worker = min(live, key=lambda w: len(w.waiting))
            if len(worker.waiting) >= PER_WORKER:
                return
            done, number, message = pending.popleft()
            if done.done():  # cancelled while it waited: never sent
                continue
            worker.waiting[number] = done
            self._send(worker, _HEADER.pack(len(message)) + message)

    def _send(self, worker: _Worker, frame: bytes) -> None:
        if worker.outbox:  # (what is already waiting goes first)
            worker.outbox += frame
            return
        try:
            sent = os.write(worker.send_fd, frame)
        except BlockingIOError:
            sent = 0
        except OSError:  # the worker is gone: its answers' EOF fails its jobs
            return
        if sent < len(frame):
            worker.outbox += memoryview(frame)[sent:]
            asyncio.get_running_loop().add_writer(worker.send_fd, self._on_writable, worker)

    def _on_writable(self, worker: _Worker) -> None:
        try:
            sent = os.write(worker.send_fd, worker.outbox)
        except BlockingIOError:
            return
        except OSError:
            sent = len(worker.outbox)
        del worker.outbox[:sent]
        if not worker.outbox:
            asyncio.get_running_loop().remove_writer(worker.send_fd)

    def _on_readable(self, worker: _Worker) -> None:
        """Read what the worker sent, answer each job complete in it."""
        chunk = self._chunk
        while True:
            try:
                got = os.readv(worker.read_fd, [chunk])
            except BlockingIOError:
                break
            except OSError:
                got = 0
            if not got:
                self._answers(worker)
                self._lost(worker)
                return
            worker.inbox += chunk[:got]
            if got < len(chunk):
                break
        self._answers(worker)
        self._dispatch()

    def _answers(self, worker: _Worker) -> None:
        inbox = worker.inbox
        start = 0
        view = memoryview(inbox)
        try:
            while len(inbox) - start >= _HEADER.size:
                size = _HEADER.unpack_from(inbox, start)[0]
                head = _HEADER.size
                if size == -1:  # (Connection's framing of 2 GiB and more)
                    if len(inbox) - start < head + _LONG.size:
                        break
                    size = _LONG.unpack_from(inbox, start + head)[0]
                    head += _LONG.size
                if len(inbox) - start < head + size:
                    break
                try:
                    number, ok, value = pickle.loads(view[start + head : start + head + size])
                except Exception:  # not what a worker sends: it is stopped, its jobs fail
                    log.exception("ingest worker %d sent what is no answer", worker.process.pid)
                    worker.process.kill()
                    start = len(inbox)
                    break
                start += head + size
                done = worker.waiting.pop(number, None)
                if done is None or done.done():  # (cancelled meanwhile)
                    continue
                if ok:
                    done.set_result(value)
                else:
                    done.set_exception(value)
        finally:
            view.release()
            del inbox[:start]

    def _lost(self, worker: _Worker) -> None:
        """The worker exited: its unanswered jobs fail; the others go on."""
        loop = asyncio.get_running_loop()
        loop.remove_reader(worker.read_fd)
        if worker.outbox:
            loop.remove_writer(worker.send_fd)
            worker.outbox.clear()
        worker.dead = True
        worker.process.join(1.0)
        code = worker.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit {code}"
        error = WorkerDied(
            f"ingest worker {worker.process.pid} exited abruptly ({how}); "
            f"its {len(worker.waiting)} page(s) in flight were not stored"
        )
        log.error("%s", error)
        waiting, worker.waiting = worker.waiting, {}
        for done in waiting.values():
            if not done.done():
                done.set_exception(error)
        self._dispatch()

    def _stop_workers(self) -> None:
        """Close the workers' pipes (each exits when it sees the end) and wait for them; a
        job not sent yet is cancelled."""
        if not self._started:
            return
        self._started = False
        loop = asyncio.get_running_loop()
        while self._pending:
            done, _, _ = self._pending.popleft()
            done.cancel()
        for worker in self._workers:
            if not worker.dead:
                loop.remove_reader(worker.read_fd)
                if worker.outbox:
                    loop.remove_writer(worker.send_fd)
            worker.keep[0].close()  # its end of the jobs: the worker finishes and exits
        for worker in self._workers:
            worker.process.join(30)
            if worker.process.exitcode is None:
                worker.process.terminate()
                worker.process.join(5)
            worker.keep[1].close()
            for done in worker.waiting.values():
                done.cancel()
        self._workers = []

    def _packing(self, page: RawPage) -> Packing | None:
        """Compression moves to the worker too when the blob store is the folder one and
        the page is not stored yet."""
        blobs = self.archive.blobs
        if not isinstance(blobs, FolderBlobStore) or blobs.has(page.sha256):
            return None
        like = tuple(self.reader.blob_references(page.final_url))
        return Packing(str(blobs.layout.root), blobs.codec, blobs.level, like)

    async def _commit_loop(self) -> None:
        while True:
            job = await self._queue.get()
            if job is None:
                return
            batch = [job]
            await asyncio.sleep(BATCH_WAIT)
            while len(batch) < MAX_BATCH and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    self._queue.put_nowait(None)  # stop after this batch
                    break
                batch.append(more)
            self._frontier_marks()
            started = time.perf_counter()
            results = await self._commit(batch)
            self.commit_seconds += time.perf_counter() - started
            self._answer(batch, results)
            self._maybe_checkpoint()

    def _frontier_marks(self) -> None:
        if self.before_commit is not None:
            self.before_commit()

    def _maybe_checkpoint(self) -> None:
        """Sync the journaled files now and then, in a thread: the journal stays small."""
        journal = self.archive.journal
        loop = asyncio.get_running_loop()
        if journal is None or loop.time() - self._last_checkpoint < CHECKPOINT_EVERY:
            return
        if self._checkpoint is not None and not self._checkpoint.done():
            return
        self._last_checkpoint = loop.time()
        self._checkpoint = loop.run_in_executor(None, journal.checkpoint)

    async def _commit(self, batch: list[_Job]) -> list[Stored | BaseException]:
        """Store the batch in one transaction, the loop running between pages and during the
        commit (in the writer thread); each page's result."""
        assert self._writer is not None
        results: list[Stored | BaseException] = []
        transaction = contextlib.ExitStack()
        try:
            transaction.enter_context(self.archive.batch())
            try:
                for job in batch:
                    try:
                        results.append(job.run(self.archive))
                    except Exception as exc:  # this page's rows are rolled back, not the batch's
                        results.append(exc)
                    await asyncio.sleep(0)  # a host's next request that fell due goes now
            except BaseException:  # cancelled: roll the batch back here, on this thread
                transaction.__exit__(*sys.exc_info())
                raise
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._writer, transaction.close)
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            results = [exc] * len(batch)
        return results

    def _answer(self, batch: list[_Job], results: list[Stored | BaseException]) -> None:
        self.batches += 1
        for job, result in zip(batch, results, strict=True):
            if job.done.done():
                continue
            if isinstance(result, BaseException):
                job.done.set_exception(result)
            else:
                self.stored += 1
                job.done.set_result(result)
