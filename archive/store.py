"""The archive: raw pages, versioned article records and the catalog, behind one object.

`Archive.store(page, content, source=...)` keeps the exact response bytes (once per sha256),
decides what the page is to the archive (deduplication in three levels, see `archive.dedup`),
writes the record file of a new article or a new version, then records everything in the
catalog in one transaction. Files are written before the catalog rows that point to them, and
each file atomically, so a process killed at any moment leaves files the catalog does not know
yet (harmless, `verify --repair` indexes them) but never a catalog row without its file.
Rebuild, verify, export, import and stats are functions over an Archive in
`archive.maintenance`; the CLI calls them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from archive.atomic import make_dirs
from archive.backends.blobref import MAX_REFERENCE_BYTES
from archive.backends.blobs import BlobStore, FolderBlobStore
from archive.backends.catalog import Catalog, CopyRow, RunRow
from archive.backends.catalog_sqlite import SqliteCatalog
from archive.backends.frontier import Frontier
from archive.backends.storage import Storage, open_blobs, open_catalog
from archive.dedup import Decision, decide
from archive.errors import ArchiveError, SchemaError, StorageError
from archive.fetchlog import fetch_id, fetch_row, sidecar_doc
from archive.fixity import file_row
from archive.identity import PageKeys, page_keys
from archive.indexing import Fingerprints, index_version
from archive.intents import Intents, sweep
from archive.journal import Journal, recover
from archive.layout import Layout, check_id, check_source, relative
from archive.prepare import Prepared, schema_problem
from archive.record import (
    Article,
    Content,
    Outcome,
    RawPage,
    Stored,
    Validators,
    dumps,
    iso_utc,
    loads,
    since_text,
    utcnow,
)
from archive.urls import site_of, url_key
from archive.validate import RecordValidator

log = logging.getLogger(__name__)

REFERENCES_TRIED = 3  # the newest pages of a site stored alone (a site may have a few templates)
NEAR_THRESHOLD = 3  # bits of 64: at or under, a re-fetched body counts as the same text


class Archive:
    """A folder of raw pages and records plus its catalog. Open with `Archive.open(root)`."""

    def __init__(
        self,
        root: Path,
        blobs: BlobStore,
        catalog: Catalog,
        *,
        now: Callable[[], datetime] = utcnow,
        near_threshold: int = NEAR_THRESHOLD,
        durable: bool = True,
    ) -> None:
        self.root = root
        self.layout = Layout(root)
        self.blobs = blobs
        self.catalog = catalog
        self.now = now
        self.near_threshold = near_threshold
        self.durable = durable
        self.validator = RecordValidator()
        self.run_id: int | None = None  # the crawl run fetches are tagged with, if any
        # every file the blob store writes gets its checksum in the catalog (archive.fixity)
        self.blobs.on_write = self.note_written
        self.journal: Journal | None = None  # group commit inside `batch()`, when durable
        # the folder and SQLite (one writer, group commit) rather than a cluster's catalog
        self.embedded = isinstance(catalog, SqliteCatalog)
        self.intents = Intents(root)  # new files are noted before they are written
        known_of = getattr(catalog, "known_files", None)  # one question for many paths
        settle = lambda: self.intents.settled(  # noqa: E731
            lambda rel: catalog.file(rel) is not None, known_of
        )
        catalog.after_commit.append(settle)
        catalog.after_rollback.append(settle)

    @classmethod
    def open(
        cls,
        root: Path | str,
        *,
        codec: str = "zstd",
        level: int | None = None,
        now: Callable[[], datetime] = utcnow,
        busy_timeout: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        durable: bool = True,
        storage: Storage | None = None,
        mapped: bool = False,
    ) -> Archive:
        """Open (creating on first use) the archive in folder `root`; `storage` names a
        cluster's catalog and blob store instead of the folder's own (archive.backends.storage);
        `mapped`: the embedded catalog is read through a memory map (for reading servers)."""
        root = Path(root)
        make_dirs(root)
        storage = storage or Storage()
        if storage.catalog is None:
            recover(root)  # files a killed batch journaled but had not synced
        blobs: BlobStore
        if storage.blobs is None:
            blobs = FolderBlobStore(root, codec=codec, level=level, durable=durable)
            blobs.ensure_root()
        else:
            blobs = open_blobs(storage, root, codec=codec, level=level, durable=durable)
        catalog: Catalog
        if storage.catalog is not None:
            catalog = open_catalog(storage, root)
        else:
            catalog = SqliteCatalog(
                Layout(root).catalog,
                busy_timeout=busy_timeout,
                synchronous="FULL" if durable else "NORMAL",
                mapped=mapped,
            )
            if sleep is not None:
                catalog.sleep = sleep
        # what stores of killed processes wrote but never recorded goes (archive.intents);
        # in a cluster, with no store of a live worker between its check and its commit
        if storage.catalog is None:
            sweep(root, lambda rel: catalog.file(rel) is not None)
        else:
            with catalog.writing():
                # a dead worker's journal: only what its committed batches recorded comes back
                recover(root, lambda rel, data: _recorded(catalog, rel, data))
                sweep(root, lambda rel: catalog.file(rel) is not None)
        archive = cls(root, blobs, catalog, now=now, durable=durable)
        # the notes and the journal name files under the archive folder (a shared blob folder
        # elsewhere is written by many machines: their writes are not this folder's to sweep)
        if isinstance(blobs, FolderBlobStore) and blobs.layout.root == root:
            blobs.intents = archive.intents
            if not archive.embedded:  # many writers: a file found there may be a dead one's
                blobs.on_reuse = archive.adopt
            if durable and archive.embedded:  # group commit: one writer, the SQLite catalog
                archive.use_journal()
        return archive

    def use_journal(self) -> None:
        """Group commit inside `batch()` for this archive's writes (`archive.journal`), when
        its files are in its own folder and durable: a cluster's store threads ask for it,
        each with its own journal; the embedded archive always has one."""
        blobs = self.blobs
        if not isinstance(blobs, FolderBlobStore) or blobs.layout.root != self.root:
            return
        if self.durable and self.journal is None:
            self.journal = blobs.journal = Journal(self.root)

    @property
    def catalog_path(self) -> Path:
        """The SQLite file; other modules may add their own (non `archive_*`) tables to it."""
        return self.catalog.path

    def open_frontier(self, *, scratch: bool = False) -> Frontier:
        """The crawl frontier kept beside the catalog (close it when done; `scratch`: a
        throwaway one that leaves no trace, for dry runs)."""
        return self.catalog.open_frontier(scratch=scratch)

    def reader(self) -> Archive:
        """A view of this embedded archive for reading on another thread while this one writes
        (a crawl's event loop beside its writer thread): the same files, and a read-only
        catalog connection of its own that sees what is committed. Close it when done."""
        if not isinstance(self.catalog, SqliteCatalog):
            raise ArchiveError("a read view is for the embedded archive")
        view = _ReadView.__new__(_ReadView)
        view.__dict__.update(self.__dict__)
        view.catalog = self.catalog.reader()
        view.journal = None
        return view

    def close(self) -> None:
        try:
            if self.journal is not None:
                self.journal.close()
        finally:
            self.intents.close()
            self.catalog.close()

    @contextlib.contextmanager
    def batch(self, keys: Sequence[str] = ()) -> Iterator[None]:
        """Many stores in one catalog transaction, with one fsync for all their files (group
        commit, `archive.journal`). A store that raises inside rolls back its own rows only.
        Nothing is committed before the batch ends: report a page stored after that.
        `keys`: every key the stores inside will lock (`Catalog.writing`), taken at once."""
        journal = self.journal
        with self.catalog.writing(keys=keys):
            if journal is None or journal.active:
                yield
                return
            journal.begin()
            try:
                yield
            except BaseException:
                journal.discard()
                raise
            journal.commit()

    def __enter__(self) -> Archive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def store(
        self,
        page: RawPage,
        content: Content,
        *,
        source: str,
        prints: Fingerprints | None = None,
        packed: bytes | None = None,
        prepared: Prepared | None = None,
    ) -> Stored:
        """Keep `page` and file `content` as a new article, a new version, or neither
        (`prints`, `packed`: the content's fingerprints and the page as the blob store would
        keep it (`blob_references`, `BlobStore.pack`), when a worker process computed them;
        `prepared`: all that needs no catalog, `archive.prepare`, computed by a worker)."""
        check_source(source)
        if not 200 <= page.status < 300:
            raise ArchiveError(f"{page.final_url}: only 2xx responses are stored as articles")
        if prepared is None:
            keys = page_keys(page, content)
            fid = fetch_id(page, source)
            problem = schema_problem(page, content, source, keys, self.validator)
        else:
            keys, fid, problem = prepared.keys, prepared.fetch_id, prepared.problem
            prints, packed = prepared.prints, prepared.packed
        if problem is not None:
            # refused before anything is written; the raw page is still kept (put_raw) so a
            # rebuild with a fixed parser can file it
            self.put_raw(page, source=source, packed=packed)
            raise SchemaError(f"{page.final_url}: parsed content fails the schema: {problem}")
        prints = prints or Fingerprints.of(content)
        with self.catalog.writing(keys=(*keys.keys, keys.canonical_key, prints.digest)):
            raw_new = self._put_blob(page, source, packed)
            decision = decide(
                self.catalog,
                keys,
                prints,
                content,
                self.near_threshold,
                iso_utc(page.fetched_at),
                page.sha256,
            )
            return self._apply(page, content, source, keys, prints, decision, raw_new, fid)

    def read_ahead(self, pages: Sequence[tuple[RawPage, Prepared]]) -> None:
        """Inside a `batch`, before its stores: let the catalog ask at once what storing these
        pages will ask it page by page (a PostgreSQL catalog answers from that until the
        batch ends, `catalog_pg_ahead`; one in this process needs no such help)."""
        from archive.backends.catalog_pg_ahead import Wanted

        read_ahead = getattr(self.catalog, "read_ahead", None)
        if read_ahead is None or not pages:
            return
        from archive.identity import new_id

        with_text = [prepared for _, prepared in pages if prepared.prints.text.strip()]
        read_ahead(
            Wanted(
                canonical=[prepared.keys.canonical_key for _, prepared in pages],
                urls=[key for _, prepared in pages for key in prepared.keys.keys],
                digests=[prepared.prints.digest for prepared in with_text],
                raws=[page.sha256 for page, _ in pages],
                ids=[new_id(prepared.keys.canonical_key) for _, prepared in pages],
                sites=[site for page, _ in pages if (site := site_of(page.final_url))],
                references=REFERENCES_TRIED,
                fingerprints=[prepared.prints.simhash for prepared in with_text],
            )
        )

    def store_unchanged(self, page_304: RawPage, *, source: str) -> Stored:
        """Record a 304 Not Modified: the fetch is logged, nothing else changes."""
        check_source(source)
        page = page_304
        keys = [url_key(u) for u in (page.final_url, page.requested_url)]
        seen = iso_utc(page.fetched_at)
        with self.catalog.writing(keys=keys):
            article_id = next(filter(None, map(self.catalog.article_by_url, keys)), None)
            row = self.catalog.article(article_id) if article_id else None
            current = self.load(row.source, row.id, row.current_version) if row else None
            fid = fetch_id(page, source)
            if current is not None and row is not None:
                doc = sidecar_doc(page, source, fid, current.raw_sha256, row.id, Outcome.UNCHANGED)
                self.blobs.put_sidecar(current.raw_sha256, fid, doc)
                self.catalog.touch(row.id, seen)
            self.catalog.add_source(source, seen)
            self.catalog.add_fetch(
                fetch_row(
                    page,
                    source,
                    fid,
                    current.raw_sha256 if current else None,
                    row.id if row else None,
                    Outcome.UNCHANGED,
                    self.run_id,
                )
            )
        return Stored(outcome=Outcome.UNCHANGED, article=current)

    def put_raw(self, page: RawPage, *, source: str, packed: bytes | None = None) -> str:
        """Keep the raw bytes of a page that could not be parsed, so rebuild can retry it
        (`packed`: as the blob store would keep them, when a worker compressed them)."""
        check_source(source)
        with self.catalog.writing():
            raw_new = self._put_blob(page, source, packed)
            fid = fetch_id(page, source)
            self._write_sidecar(page, source, fid, None, None, raw_new)
            self.catalog.add_fetch(
                fetch_row(page, source, fid, page.sha256, None, None, self.run_id)
            )
        return page.sha256

    def refile_fetch(self, page: RawPage, source: str, stored: Stored) -> None:
        """Rewrite the sidecar of a stored fetch to what `stored` filed it as (rebuild splitting
        a fetch an older release merged into another article); the catalog row already says so."""
        if stored.article is None:
            raise ArchiveError(f"{page.final_url}: a refiled fetch needs its article")
        fid = fetch_id(page, source)
        doc = sidecar_doc(page, source, fid, page.sha256, stored.article.id, stored.outcome)
        first = self.blobs.sidecars(page.sha256)[:1]
        is_first = bool(first) and first[0].get("fetch_id") == fid
        self.blobs.replace_sidecar(page.sha256, None if is_first else fid, doc)

    def validators(self, url: str) -> Validators | None:
        """ETag / Last-Modified of the last fetch of `url`, for a conditional GET."""
        found = self.catalog.latest_validators(url_key(url))
        if found is None:
            return None
        return Validators(etag=found[0], last_modified=found[1])

    def find(self, url_or_id: str) -> Article | None:
        """The latest version of an article, by id or by any URL it was seen at."""
        row = None
        with contextlib.suppress(ArchiveError):
            row = self.catalog.article(check_id(url_or_id))
        if row is None and "/" in url_or_id:
            key = url_key(url_or_id)
            found = self.catalog.article_by_url(key) or self.catalog.article_by_canonical(key)
            row = self.catalog.article(found) if found else None
        return self.load(row.source, row.id, row.current_version) if row else None

    def find_urls(self, urls: Iterable[str]) -> dict[str, Article]:
        """The latest version of the article each URL was seen at (or is the canonical URL
        of), for those that have one; one catalog question for them all (a listing's links)."""
        by_key: dict[str, list[str]] = {}
        for url in urls:
            by_key.setdefault(url_key(url), []).append(url)
        found = self.catalog.articles_by_keys(list(by_key))
        out: dict[str, Article] = {}
        for key, article_id in found.items():
            row = self.catalog.article(article_id)
            if row is not None:
                article = self.load(row.source, row.id, row.current_version)
                out.update(dict.fromkeys(by_key[key], article))
        return out

    def seen_urls(self, article: Article) -> tuple[str, ...]:
        """Every URL the article was seen at: its record's, then the catalog's."""
        seen = (u.url for u in self.catalog.article_urls(article.id))
        return tuple(dict.fromkeys((*article.urls, *seen)))

    def copies(self, article_id: str) -> list[CopyRow]:
        """Other articles (on other sites, or under another headline) with the same text."""
        return self.catalog.copies_of(article_id)

    def describe(self, article: Article) -> dict[str, Any]:
        """The record as readers get it (show, export): the version file's JSON with every
        URL the article was seen at and its syndicated copies."""
        doc = article.to_json()
        doc["urls"] = list(self.seen_urls(article))
        doc["copies"] = [
            {"id": c.id, "url": c.url, "source": c.source} for c in self.copies(article.id)
        ]
        return doc

    def versions(self, article_id: str) -> list[Article]:
        return [
            self.load(v.source, v.article_id, v.version) for v in self.catalog.versions(article_id)
        ]

    def iter_articles(
        self, source: str | None = None, since: date | datetime | str | None = None
    ) -> Iterator[Article]:
        """The latest version of every article (of `source`, fetched since `since`)."""
        for row in self.catalog.iter_versions(source, since_text(since), latest_only=True):
            yield self.load(row.source, row.article_id, row.version)

    def iter_versions(
        self, source: str | None = None, since: date | datetime | str | None = None
    ) -> Iterator[Article]:
        """Every version of every article, oldest fetch first."""
        for row in self.catalog.iter_versions(source, since_text(since)):
            yield self.load(row.source, row.article_id, row.version)

    def start_run(self, kind: str, source: str | None = None) -> int:
        """Open a crawl run; fetches stored until `finish_run` are tagged with its id."""
        self.run_id = self.catalog.start_run(kind, source, iso_utc(self.now()))
        return self.run_id

    def finish_run(self, run_id: int, counts: dict[str, int]) -> None:
        import json

        self.catalog.finish_run(run_id, iso_utc(self.now()), json.dumps(counts, sort_keys=True))
        if self.run_id == run_id:
            self.run_id = None

    def record_run(
        self, kind: str, source: str | None, started: datetime, counts: dict[str, Any]
    ) -> None:
        """Keep what a finished task did (a cluster job's report), for whoever waits on it."""
        import json

        run_id = self.catalog.start_run(kind, source, iso_utc(started))
        self.catalog.finish_run(run_id, iso_utc(self.now()), json.dumps(counts, sort_keys=True))

    def finished_runs(self, kind: str, since: datetime) -> list[RunRow]:
        """The runs of `kind` started at or after `since` that have finished, oldest first."""
        return self.catalog.finished_runs(kind, iso_utc(since))

    def near_duplicates(self) -> list[tuple[str, str, int]]:
        """Pairs of different articles whose bodies are within the SimHash threshold."""
        return self.catalog.near_duplicates()

    def load(self, source: str, article_id: str, version: int) -> Article:
        return Article.from_json(self.read_record(source, article_id, version))

    def read_record(self, source: str, article_id: str, version: int) -> dict[str, Any]:
        path = self.layout.version_file(source, article_id, version)
        journal = self.journal
        queued = journal.pending(path) if journal is not None else None
        if queued is not None:  # filed by this batch, its write still queued
            doc: dict[str, Any] = loads(queued)
            return doc
        try:
            with open(path, "rb") as file:  # noqa: PTH123 - a str path: no Path to build
                data: dict[str, Any] = loads(file.read())
        except FileNotFoundError as exc:
            raise ArchiveError(f"record {path} is missing") from exc
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc
        return data

    def write_record(self, article: Article, *, check: bool = True) -> Path:
        """Validate and atomically write one version file; the path it went to."""
        doc = article.to_json()
        if check:
            self.validator.check(doc)
        path = self.layout.version(article.source, article.id, article.version)
        self.blobs_rewrite(path, dumps(doc).encode("utf-8"))
        return path

    def blobs_rewrite(self, path: Path, data: bytes) -> None:
        from archive.atomic import write_atomic

        journal = self.journal
        if not path.exists() and (journal is None or journal.pending(path) is None):
            self.intents.note(path, data)
        if journal is not None and journal.active:
            journal.write(path, data)  # on the journal's writer thread, when it has one
        else:
            write_atomic(path, data, durable=self.durable)
        self.note_written(relative(path, self.root), data)

    @property
    def raw_pages_local(self) -> bool:
        """Whether raw pages are files under this folder (not in S3 or a shared mount)."""
        return isinstance(self.blobs, FolderBlobStore) and self.blobs.layout.root == self.root

    def note_written(self, path: str, data: bytes) -> None:
        """Record the checksum of a file just written (bytes in hand: nothing is read back)."""
        if path.startswith("raw/") and not self.raw_pages_local:
            return  # the blob store's own files: their names are their hashes
        self.catalog.put_file(file_row(path, data, iso_utc(self.now())))

    def adopt(self, path: str) -> None:
        """A store found `path` already written. If no committed row records it, a killed
        worker wrote it and its notes name it: record it as it is, in this store's
        transaction, so the sweep of those notes keeps what this store's rows rely on."""
        if self.catalog.file(path) is not None:
            return
        try:
            data = (self.root / path).read_bytes()
        except OSError:
            return
        self.catalog.put_file(file_row(path, data, iso_utc(self.now())))

    def blob_references(self, url: str) -> list[str]:
        """The stored pages a page fetched from `url` may be compressed against."""
        site = site_of(url)
        return self.catalog.references(site, REFERENCES_TRIED) if site else []

    def _put_blob(self, page: RawPage, source: str, packed: bytes | None = None) -> bool:
        sha = page.sha256
        site = site_of(page.final_url)
        like = [] if packed is not None else self.blob_references(page.final_url)
        new = self.blobs.put(sha, page.body, like, packed)
        # a candidate reference: the site's first page, or its template changed
        candidate = new and site and len(page.body) <= MAX_REFERENCE_BYTES
        if new and packed is not None and isinstance(self.blobs, FolderBlobStore):
            # the file just written holds `packed`: nothing is read back from it
            reference, stored_size = self.blobs.packed_facts(packed)
        else:
            stored_size = self.blobs.stored_size(sha)
            reference = self.blobs.reference(sha) if candidate else None
        if candidate and reference is None:  # stored alone
            self.catalog.add_reference(site, sha, iso_utc(page.fetched_at))
        self.catalog.add_raw(sha, len(page.body), stored_size, source, iso_utc(page.fetched_at))
        self.catalog.add_source(source, iso_utc(page.fetched_at))
        return new

    def _write_sidecar(
        self,
        page: RawPage,
        source: str,
        fid: str,
        article_id: str | None,
        outcome: Outcome | None,
        raw_new: bool,
    ) -> None:
        sha = page.sha256
        doc = sidecar_doc(page, source, fid, sha, article_id, outcome)
        # asked of the blob store, not the folder: with S3 the sidecars are objects
        if self.blobs.put_sidecar(sha, None, doc) or raw_new:
            return
        try:
            first_id = self.blobs.sidecars(sha)[0].get("fetch_id")
        except (ArchiveError, IndexError):
            first_id = None
        if first_id != fid:
            self.blobs.put_sidecar(sha, fid, doc)

    def _apply(
        self,
        page: RawPage,
        content: Content,
        source: str,
        keys: PageKeys,
        prints: Fingerprints,
        decision: Decision,
        raw_new: bool,
        fid: str,
    ) -> Stored:
        """Write the files a decision calls for, then its catalog rows (same transaction)."""
        outcome = decision.outcome
        current = (
            self.load(decision.row.source, decision.row.id, decision.row.current_version)
            if decision.row
            else None
        )
        article: Article | None
        if outcome is Outcome.NEW or outcome is Outcome.UPDATED:
            article_id = decision.article_id
            article = Article.build(
                page,
                content,
                id=article_id,
                version=current.version + 1 if current else 1,
                source=current.source if current else source,
                canonical_url=keys.canonical_url,
                urls=current.urls if current else (),
            )
            self.write_record(article, check=False)  # its content passed schema_problem
        elif outcome is Outcome.UNCHANGED and current is not None:
            # version files are immutable: a URL seen later goes to the catalog (and the
            # fetch's sidecar), and readers list every URL from there (`seen_urls`)
            article_id = current.id
            article = current
        else:
            article_id = decision.article_id
            article = current
        self._write_sidecar(page, source, fid, article_id, outcome, raw_new)
        self._index(page, source, keys, prints, decision, article, article_id, fid)
        return Stored(
            outcome=outcome,
            article=article,
            duplicate_of=article_id if outcome is Outcome.DUPLICATE else None,
        )

    def _index(
        self,
        page: RawPage,
        source: str,
        keys: PageKeys,
        prints: Fingerprints,
        decision: Decision,
        article: Article | None,
        article_id: str,
        fid: str,
    ) -> None:
        seen = iso_utc(page.fetched_at)
        cat = self.catalog
        cat.add_fetch(
            fetch_row(page, source, fid, page.sha256, article_id, decision.outcome, self.run_id)
        )
        duplicate = decision.outcome is Outcome.DUPLICATE
        for key, url in zip(keys.keys, keys.urls, strict=True):
            cat.add_url(key, url, article_id, seen, duplicate)
        if decision.outcome is Outcome.DUPLICATE or article is None:
            cat.touch(article_id, seen)
            return
        if decision.outcome is Outcome.UNCHANGED:
            cat.add_canonical(keys.canonical_key, article_id)
            cat.touch(article_id, seen)
            return
        # a new article or version: index_version adds its canonical key (the same one,
        # url_key(keys.canonical_url)), one statement per store less
        article_key = decision.row.canonical_key if decision.row else keys.canonical_key
        index_version(cat, article, prints, article_key=article_key, current=True)
        for other, dist in decision.near:
            cat.add_near_duplicate(article_id, other, dist, seen)


class _ReadView(Archive):
    """`Archive.reader`: closing it closes its own catalog connection only."""

    def close(self) -> None:
        self.catalog.close()


def _recorded(catalog: Catalog, rel: str, data: bytes) -> bool:
    """Whether the catalog records the file `rel` with exactly these bytes."""
    import hashlib

    row = catalog.file(rel)
    return row is not None and row.sha256 == hashlib.sha256(data).hexdigest()
