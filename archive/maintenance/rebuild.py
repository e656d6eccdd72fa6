"""Rebuild: re-parse every stored raw page with the current parser and rewrite the records.

Each version of each article is re-parsed from the raw page (and the very fetch) it was built
from, in worker processes (the parse function is handed in and must be picklable: a
module-level function). A worker writes a record only when its bytes would change, atomically,
so the old JSON stays until the new one is in place and a second rebuild changes nothing.
Raw pages that never became an article (the parser failed on them) are parsed again and, if
they parse now, stored through the normal dedup path. The parent process only updates the
catalog, in batches, and counts which fields changed.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing
import os
import pickle
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archive.atomic import write_atomic
from archive.backends.blobs import BlobStore
from archive.errors import ArchiveError
from archive.identity import page_keys
from archive.indexing import Fingerprints, index_version
from archive.layout import Layout
from archive.record import Article, Content, RawPage, dumps, since_text
from archive.urls import url_key
from archive.validate import RecordValidator

if TYPE_CHECKING:
    from archive.store import Archive

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
ParseFn = Callable[[RawPage, str], Content]
BATCH = 200  # catalog rows per transaction


@dataclass
class RebuildReport:
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    recovered: int = 0  # raw pages that failed to parse before and parse now
    fields: Counter[str] = field(default_factory=Counter)  # field -> records it changed in
    errors: list[str] = field(default_factory=list)  # the first few failures, one line each

    def lines(self) -> list[str]:
        out = [
            f"scanned {self.scanned}: {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.recovered} unparsed raw pages parsed now"
        ]
        out += [f"  {name}: {count}" for name, count in sorted(self.fields.items())]
        out += [f"  error: {e}" for e in self.errors]
        return out


@dataclass(frozen=True, slots=True)
class VersionTask:
    root: str
    blobs: Callable[[], BlobStore]  # opens the archive's blob store again, in the worker
    parse: ParseFn
    source: str
    article_id: str
    version: int
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class OrphanTask:
    root: str
    blobs: Callable[[], BlobStore]
    parse: ParseFn
    source: str
    raw_sha256: str


@dataclass(frozen=True, slots=True)
class Result:
    task: VersionTask | OrphanTask
    changed: tuple[str, ...] = ()
    error: str | None = None
    # the rewritten version, for the catalog
    article: Article | None = None
    # an orphan that parses now: the page and what it gave
    page: RawPage | None = None
    content: Content | None = None


@functools.lru_cache(maxsize=1)
def _validator() -> RecordValidator:
    # one compiled schema per worker process (compiling costs more than checking)
    return RecordValidator()


def _page_for(blobs: BlobStore, sha: str, url: str | None, at: str | None) -> RawPage:
    """The stored fetch that produced a record (a blob may have been fetched many times)."""
    body = blobs.get(sha)
    sidecars = blobs.sidecars(sha)
    if not sidecars:
        raise ArchiveError(f"raw page {sha} has no fetch sidecar")
    chosen = sidecars[0]
    for doc in sidecars:
        if doc.get("requested_url") == url and doc.get("fetched_at") == at:
            chosen = doc
            break
    return RawPage.from_meta_json(chosen, body)


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def rebuild_version(task: VersionTask) -> Result:
    """Re-parse one version and rewrite its record if it changes (runs in a worker)."""
    layout = Layout(Path(task.root))
    path = layout.version(task.source, task.article_id, task.version)
    try:
        old_text = path.read_text("utf-8")
        old = json.loads(old_text)
        page = _page_for(task.blobs(), task.raw_sha256, old["url"], old["fetched_at"])
        content = task.parse(page, task.source)
        keys = page_keys(page, content)
        article = Article.build(
            page,
            content,
            id=task.article_id,
            version=task.version,
            source=task.source,
            canonical_url=keys.canonical_url,
            urls=tuple(old["urls"]),
        )
        doc = article.to_json()
        _validator().check(doc)
        text = dumps(doc)
    except Exception as exc:
        return Result(task, error=f"{task.article_id} v{task.version}: {_one_line(exc)}")
    if text == old_text:
        return Result(task)
    # a store in another process may have rewritten this version meanwhile (URLs seen):
    # leave its file alone, the next rebuild picks it up
    if path.read_text("utf-8") != old_text:
        return Result(task, error=f"{task.article_id} v{task.version}: changed during rebuild")
    write_atomic(path, text.encode("utf-8"))
    changed = tuple(sorted(k for k in doc.keys() | old.keys() if doc.get(k) != old.get(k)))
    return Result(task, changed=changed, article=article)


def rebuild_orphan(task: OrphanTask) -> Result:
    """Try again a raw page that never became an article (runs in a worker)."""
    try:
        page = _page_for(task.blobs(), task.raw_sha256, None, None)
        content = task.parse(page, task.source)
    except Exception as exc:
        return Result(task, error=f"raw {task.raw_sha256[:16]}: {_one_line(exc)}")
    return Result(task, page=page, content=content)


def _run(task: VersionTask | OrphanTask) -> Result:
    if isinstance(task, VersionTask):
        return rebuild_version(task)
    return rebuild_orphan(task)


def _tasks(
    archive: Archive, parse: ParseFn, source: str | None, since: str | None
) -> list[VersionTask | OrphanTask]:
    root = str(archive.root)
    blobs = archive.blobs.opener()
    tasks: list[VersionTask | OrphanTask] = [
        VersionTask(root, blobs, parse, v.source, v.article_id, v.version, v.raw_sha256)
        for v in archive.catalog.iter_versions(source, since)
    ]
    for sha, raw_source in archive.catalog.unfiled_raw(source, since):
        tasks.append(OrphanTask(root, blobs, parse, raw_source, sha))
    return tasks


def _share(task: VersionTask | OrphanTask, shares: int) -> int:
    key = task.article_id if isinstance(task, VersionTask) else task.raw_sha256
    return int(key[:12], 16) % shares


def _results(tasks: list[VersionTask | OrphanTask], workers: int) -> Iterator[Result]:
    if workers <= 1 or len(tasks) < 2:
        yield from map(_run, tasks)
        return
    # spawn, not fork: the parent holds an open SQLite connection and may have threads
    context = multiprocessing.get_context("spawn")
    chunk = max(1, min(64, len(tasks) // (workers * 8)))
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(_run, tasks, chunksize=chunk)


def _index_version(archive: Archive, result: Result) -> None:
    task, article = result.task, result.article
    if not isinstance(task, VersionTask) or article is None:
        raise TypeError("only a changed version is indexed")
    row = archive.catalog.article(task.article_id)
    index_version(
        archive.catalog,
        article,
        Fingerprints.of(article.content),
        article_key=row.canonical_key if row else url_key(article.canonical_url),
        current=row is not None and row.current_version == task.version,
    )


def _batches(results: Iterable[Result], size: int) -> Iterator[list[Result]]:
    batch: list[Result] = []
    for result in results:
        batch.append(result)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def rebuild(
    archive: Archive,
    parse: ParseFn,
    *,
    source: str | None = None,
    since: date | datetime | str | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    shard: tuple[int, int] | None = None,
) -> RebuildReport:
    """Re-parse stored raw pages with `parse`; see the module docstring. `shard=(i, n)` takes
    only the i-th of n disjoint shares (by article id or raw hash): n cluster workers rebuild
    an archive together, one share each."""
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        try:
            pickle.dumps(parse)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ArchiveError(
                "rebuild with workers needs a module-level parse function (it is sent to "
                f"worker processes): {exc}"
            ) from exc
    tasks = _tasks(archive, parse, source, since_text(since))
    if shard is not None:
        tasks = [t for t in tasks if _share(t, shard[1]) == shard[0]]
    report = RebuildReport()
    done = 0
    if progress:
        progress(0, len(tasks))
    for batch in _batches(_results(tasks, workers), BATCH):
        with archive.catalog.writing():
            for result in batch:
                _account(archive, report, result)
        done += len(batch)
        if progress:
            progress(done, len(tasks))
    return report


def _account(archive: Archive, report: RebuildReport, result: Result) -> None:
    report.scanned += 1
    if result.error is not None:
        report.failed += 1
        if len(report.errors) < 20:
            report.errors.append(result.error)
        log.info("rebuild: %s", result.error)
    elif isinstance(result.task, OrphanTask):
        if result.page is None or result.content is None:
            raise TypeError("an orphan result without its page")
        stored = archive.store(result.page, result.content, source=result.task.source)
        report.recovered += 1
        log.info(
            "rebuild: raw %s parsed now: %s", result.task.raw_sha256[:16], stored.outcome.value
        )
    elif result.changed:
        report.changed += 1
        report.fields.update(result.changed)
        _index_version(archive, result)
    else:
        report.unchanged += 1
