"""Rebuild: re-parse every stored raw page with the current parser and rewrite the records.

Each version of each article is re-parsed from the raw page (and the very fetch) it was built
from, in worker processes (the parse function is handed in and must be picklable: a
module-level function). A worker writes a record only when its bytes would change, atomically,
so the old JSON stays until the new one is in place and a second rebuild changes nothing.
Raw pages that never became an article (the parser failed on them) are parsed again and, if
they parse now, stored through the normal dedup path. The parent process only updates the
catalog (the new checksum of every record it rewrote, too), in batches, and counts which
fields changed and which records an older parser revision had made.

`article=ID` rebuilds one article, including a record version that `verify` found changed
since it was written: such a record is not trusted for anything but where it sits. Its raw
page is taken only when a fetch sidecar of that page (itself checked by `verify`) files it
under this article, and its URLs come from that fetch.
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
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.atomic import write_atomic
from archive.backends.blobs import BlobStore
from archive.backends.catalog import FileRow
from archive.errors import ArchiveError
from archive.fixity import file_row
from archive.identity import page_keys
from archive.indexing import Fingerprints, index_version
from archive.layout import Layout, check_id, version_of
from archive.record import Article, Content, Outcome, RawPage, dumps, iso_utc, since_text
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
    parser_version: str | None = None  # the version the rebuilt records now carry
    older: Counter[str] = field(default_factory=Counter)  # earlier parser version -> records
    scanned: int = 0
    changed: int = 0
    unchanged: int = 0
    failed: int = 0
    recovered: int = 0  # raw pages that failed to parse before and parse now
    split: int = 0  # DUPLICATE fetches that are articles of their own (copies, not merges)
    fields: Counter[str] = field(default_factory=Counter)  # field -> records it changed in
    errors: list[str] = field(default_factory=list)  # the first few failures, one line each

    def lines(self) -> list[str]:
        out = [
            f"scanned {self.scanned}: {self.changed} changed, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.recovered} unparsed raw pages parsed now"
        ]
        if self.split:
            out.append(
                f"split {self.split} wrongly merged fetch(es) into articles of their own, "
                "linked as copies"
            )
        out += [f"  {name}: {count}" for name, count in sorted(self.fields.items())]
        if self.older:
            made = ", ".join(f"{v} ({n})" for v, n in sorted(self.older.items()))
            out.append(f"  made by older parser versions: {made}; now {self.parser_version}")
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
    # for a record not to be trusted: (requested URL, fetched at) of the fetch to re-make it
    # from, instead of what the record says
    fetch: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class OrphanTask:
    """A raw page to parse and file again: one that never became an article, or (with
    `fetch_id`) a fetch filed as a DUPLICATE, which the current identity rules may split off."""

    root: str
    blobs: Callable[[], BlobStore]
    parse: ParseFn
    source: str
    raw_sha256: str
    fetch_id: str | None = None


@dataclass(frozen=True, slots=True)
class Result:
    task: VersionTask | OrphanTask
    changed: tuple[str, ...] = ()
    error: str | None = None
    # the rewritten version, for the catalog
    article: Article | None = None
    file: FileRow | None = None  # the version file's checksum as it is now on disk
    old_parser: str | None = None  # parser version of the record before the rebuild
    new_parser: str | None = None
    # an orphan that parses now: the page and what it gave
    page: RawPage | None = None
    content: Content | None = None


@functools.lru_cache(maxsize=1)
def _validator() -> RecordValidator:
    # one compiled schema per worker process (compiling costs more than checking)
    return RecordValidator()


def _page_for(
    blobs: BlobStore, sha: str, url: str | None, at: str | None, fetch_id: str | None = None
) -> RawPage:
    """The stored fetch that produced a record (a blob may have been fetched many times)."""
    body = blobs.get(sha)
    sidecars = blobs.sidecars(sha)
    if not sidecars:
        raise ArchiveError(f"raw page {sha} has no fetch sidecar")
    chosen = sidecars[0]
    for doc in sidecars:
        if fetch_id is not None and doc.get("fetch_id") == fetch_id:
            chosen = doc
            break
        if fetch_id is None and doc.get("requested_url") == url and doc.get("fetched_at") == at:
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
    rel = path.relative_to(layout.root).as_posix()
    try:
        old_text = path.read_text("utf-8")
        old = _old_record(old_text, task.fetch is None)
        url, at = task.fetch or (old["url"], old["fetched_at"])
        page = _page_for(task.blobs(), task.raw_sha256, url, at)
        content = task.parse(page, task.source)
        keys = page_keys(page, content)
        article = Article.build(
            page,
            content,
            id=task.article_id,
            version=task.version,
            source=task.source,
            canonical_url=keys.canonical_url,
            urls=tuple(keys.urls if task.fetch else old["urls"]),
        )
        doc = article.to_json()
        validator = _validator()
        if not validator.ok(doc):  # the compiled check; the full one (slow) says what fails
            validator.check(doc)
        text = dumps(doc)
    except Exception as exc:
        return Result(task, error=f"{task.article_id} v{task.version}: {_one_line(exc)}")
    data = text.encode("utf-8")
    made = Result(
        task,
        file=file_row(rel, data, ""),
        old_parser=_parser_version(old),
        new_parser=content.parser_version,
    )
    if text == old_text:
        return made
    # a store in another process may have rewritten this version meanwhile (URLs seen):
    # leave its file alone, the next rebuild picks it up
    if path.read_text("utf-8") != old_text:
        return Result(task, error=f"{task.article_id} v{task.version}: changed during rebuild")
    write_atomic(path, data)
    changed = tuple(sorted(k for k in doc.keys() | old.keys() if doc.get(k) != old.get(k)))
    return replace(made, changed=changed, article=article)


def _old_record(text: str, trusted: bool) -> dict[str, Any]:
    """The record as it is; an untrusted one may not even be JSON any more."""
    try:
        doc = json.loads(text)
    except ValueError:
        if trusted:
            raise
        return {}
    if not isinstance(doc, dict):
        if trusted:
            raise ArchiveError("record is not a JSON object")
        return {}
    return doc


def _parser_version(doc: dict[str, Any]) -> str | None:
    parser = doc.get("parser")
    return str(parser.get("version")) if isinstance(parser, dict) else None


def rebuild_orphan(task: OrphanTask) -> Result:
    """Try again a raw page that never became an article (runs in a worker)."""
    try:
        page = _page_for(task.blobs(), task.raw_sha256, None, None, task.fetch_id)
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
    for fetch in archive.catalog.duplicate_fetches(source, since):
        if fetch.raw_sha256:
            tasks.append(
                OrphanTask(root, blobs, parse, fetch.source, fetch.raw_sha256, fetch.fetch_id)
            )
    return tasks


def _article_tasks(archive: Archive, parse: ParseFn, article_id: str) -> list[VersionTask]:
    """Every version of one article: those in the catalog, and record files left out of it
    (verify --repair never indexes a record that changed since it was written)."""
    root = str(archive.root)
    blobs = archive.blobs.opener()
    tasks = [
        VersionTask(root, blobs, parse, v.source, v.article_id, v.version, v.raw_sha256)
        for v in archive.catalog.versions(check_id(article_id))
    ]
    indexed = {t.version for t in tasks}
    for path in sorted(archive.layout.articles_dir.glob(f"*/{article_id}/v*.json")):
        version = version_of(path)
        if version is None or version in indexed:
            continue
        found = _fetch_of(archive, path, article_id)
        if found is None:
            raise ArchiveError(
                f"{path}: no fetch sidecar files a raw page under article {article_id}"
            )
        sha, fetch = found
        tasks.append(
            VersionTask(
                root, blobs, parse, path.parent.parent.name, article_id, version, sha, fetch
            )
        )
    if not tasks:
        raise ArchiveError(f"no article {article_id} in the archive")
    return tasks


def _fetch_of(archive: Archive, path: Path, article_id: str) -> tuple[str, tuple[str, str]] | None:
    """(raw sha256, (requested URL, fetched at)) of the fetch an untrusted record was made
    from: the raw page it names, if one of that page's sidecars files it under the article."""
    doc = _old_record(path.read_text("utf-8", errors="replace"), trusted=False)
    sha = doc.get("raw_sha256")
    if not isinstance(sha, str) or not archive.blobs.has(sha):
        return None
    fetches = [d for d in archive.blobs.sidecars(sha) if d.get("article_id") == article_id]
    fetches.sort(key=lambda d: d.get("fetched_at") != doc.get("fetched_at"))  # its own first
    if not fetches:
        return None
    return sha, (str(fetches[0]["requested_url"]), str(fetches[0]["fetched_at"]))


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
        # an article whose only versions were left out of the catalog gets its row back
        current=row is None or row.current_version <= task.version,
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
    article: str | None = None,
    shard: tuple[int, int] | None = None,
) -> RebuildReport:
    """Re-parse stored raw pages with `parse` (of one `article` only, if given); see the
    module docstring. `shard=(i, n)` takes only the i-th of n disjoint shares (by article id
    or raw hash): n cluster workers rebuild an archive together, one share each."""
    workers = workers or os.cpu_count() or 1
    if workers > 1:
        try:
            pickle.dumps(parse)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ArchiveError(
                "rebuild with workers needs a module-level parse function (it is sent to "
                f"worker processes): {exc}"
            ) from exc
    tasks: list[VersionTask | OrphanTask]
    if article is not None:
        tasks = list(_article_tasks(archive, parse, article))
    else:
        tasks = _tasks(archive, parse, source, since_text(since))
    if shard is not None:
        tasks = [t for t in tasks if _share(t, shard[1]) == shard[0]]
    report = RebuildReport()
    done = 0
    if progress:
        progress(0, len(tasks))
    for batch in _batches(_results(tasks, workers), BATCH):
        # a page whose record and checksum stand as they are is counted outside the write
        # transaction: the catalog's write lock (which a cluster's other rebuild workers wait
        # for) is held for the batch's writes only, not for a look-up per page
        writes = []
        for result in batch:
            if _writes(archive, result):
                writes.append(result)
            else:
                _account(archive, report, result, file_known=True)
        if writes:
            with archive.catalog.writing():
                for result in writes:
                    _account(archive, report, result)
        done += len(batch)
        if progress:
            progress(done, len(tasks))
    return report


def _writes(archive: Archive, result: Result) -> bool:
    """Whether accounting for `result` writes to the catalog."""
    if result.error is None and (isinstance(result.task, OrphanTask) or result.changed):
        return True
    if result.file is None:
        return False
    known = archive.catalog.file(result.file.path)
    return known is None or known.sha256 != result.file.sha256


def _account(
    archive: Archive, report: RebuildReport, result: Result, *, file_known: bool = False
) -> None:
    """Count `result` and write what it calls for (`file_known`: its file's checksum is
    already recorded as it is)."""
    report.scanned += 1
    if result.new_parser is not None:
        report.parser_version = result.new_parser
        if result.old_parser != result.new_parser:
            report.older[str(result.old_parser)] += 1
    if result.file is not None and not file_known:
        _note_file(archive, result.file)
    if result.error is not None:
        report.failed += 1
        if len(report.errors) < 20:
            report.errors.append(result.error)
        log.info("rebuild: %s", result.error)
    elif isinstance(result.task, OrphanTask):
        if result.page is None or result.content is None:
            raise TypeError("an orphan result without its page")
        stored = archive.store(result.page, result.content, source=result.task.source)
        if result.task.fetch_id is None:
            report.recovered += 1
            log.info(
                "rebuild: raw %s parsed now: %s", result.task.raw_sha256[:16], stored.outcome.value
            )
        elif stored.outcome is Outcome.NEW:
            # merged into another site's (or headline's) article by an older release
            archive.refile_fetch(result.page, result.task.source, stored)
            report.split += 1
            log.info("rebuild: fetch %s split off as %s", result.task.fetch_id, stored.outcome)
        else:
            report.unchanged += 1
    elif result.changed:
        report.changed += 1
        report.fields.update(result.changed)
        _index_version(archive, result)
    else:
        report.unchanged += 1


def _note_file(archive: Archive, row: FileRow) -> None:
    """Record the checksum of a version file the rebuild wrote or re-made byte for byte from
    its raw page (which proves it as well as a checksum does)."""
    known = archive.catalog.file(row.path)
    if known is None or known.sha256 != row.sha256:
        archive.catalog.put_file(replace(row, written_at=iso_utc(archive.now())))
