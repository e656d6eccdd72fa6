"""Re-indexing the catalog from the files, and judging a file without its checksum.

`repair_index` is what `verify --repair` does: record the checksums of files that have none
but are intact (`structure_problem` finds nothing wrong inside them: an interrupted store, an
archive made before checksums were kept), then `reindex`: empty the catalog's derived tables
and fill them again from every file that is still what was written. A file whose bytes differ
from its recorded checksum is left out; it is never taken for the truth.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.backends.catalog import ArticleRow, FetchRow
from archive.errors import ArchiveError
from archive.fixity import RAW, RECORD, SIDECAR, archive_files, file_row, hash_file, kind_of
from archive.indexing import Fingerprints, index_version
from archive.layout import check_id, check_source, version_of
from archive.record import Article, RawPage, iso_utc
from archive.urls import url_key

if TYPE_CHECKING:
    from archive.store import Archive

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RecordFile:
    path: Path
    source: str
    article_id: str
    version: int


def record_files(archive: Archive) -> Iterator[RecordFile]:
    """Every articles/<source>/<id>/v<N>.json whose names are valid; others are skipped."""
    base = archive.layout.articles_dir
    if not base.is_dir():
        return
    for source_dir in sorted(base.iterdir()):
        for id_dir in sorted(source_dir.iterdir()) if source_dir.is_dir() else ():
            for path in sorted(id_dir.iterdir()) if id_dir.is_dir() else ():
                version = version_of(path)
                if version is None:
                    continue
                try:
                    check_source(source_dir.name)
                    check_id(id_dir.name)
                except ArchiveError:
                    continue
                yield RecordFile(path, source_dir.name, id_dir.name, version)


def structure_problem(archive: Archive, path: str) -> str | None:
    """What is wrong inside one archive file, judged without its checksum; None if nothing."""
    kind = kind_of(path)
    name = Path(path).name
    try:
        if kind == RAW:
            archive.blobs.get(name[:64])
            return None
        doc = json.loads((archive.root / path).read_text("utf-8"))
        if kind == SIDECAR:
            RawPage.from_meta_json(doc, b"")
            if doc.get("raw_sha256") not in (None, name[:64]):
                return "sidecar names another raw page"
            return None
        if kind == RECORD:
            return _record_problem(archive, path, doc)
    except (ArchiveError, OSError, ValueError, KeyError, TypeError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return "not an archive file"


def _record_problem(archive: Archive, path: str, doc: Any) -> str | None:
    problems = archive.validator.problems(doc)
    if problems:
        return f"schema: {problems[0]}"
    _top, source, article_id, name = path.split("/")
    if (doc["id"], doc["version"], doc["source"]) != (article_id, version_of(Path(name)), source):
        return "id/version/source differ from its path"
    if not archive.blobs.has(doc["raw_sha256"]):
        return f"raw page {doc['raw_sha256']} missing"
    return None


def repair_index(archive: Archive) -> tuple[int, set[str], list[str]]:
    """Record the checksums of unknown files that are intact, then re-index the catalog from
    every file that is still what was written (one transaction); (recorded, untrusted, one
    line per file the index had to leave out)."""
    cat = archive.catalog
    added = 0
    untrusted: set[str] = set()
    written = iso_utc(archive.now())
    with cat.writing():
        known = {row.path: row for row in cat.files()}
        for path in archive_files(archive.root):
            row = known.get(path)
            if row is not None:
                found = hash_file(archive.root / path)
                if found is None or found[0] != row.sha256:
                    untrusted.add(path)
            elif structure_problem(archive, path) is None:
                cat.put_file(file_row(path, (archive.root / path).read_bytes(), written))
                added += 1
            else:
                untrusted.add(path)
        skipped = reindex(archive, skip=untrusted)
    return added, untrusted, skipped


def _fetch_row(sha: str, doc: dict[str, Any]) -> FetchRow:
    page = RawPage.from_meta_json(doc, b"")
    return FetchRow(
        fetch_id=str(doc.get("fetch_id") or f"{sha[:16]}{len(doc)}"),
        url=page.requested_url,
        url_key=url_key(page.final_url),
        final_url=page.final_url,
        status=page.status,
        etag=page.header("etag"),
        last_modified=page.header("last-modified"),
        fetched_at=str(doc["fetched_at"]),
        raw_sha256=sha,
        size=int(doc.get("size", 0)),
        source=str(doc.get("source") or "unknown"),
        article_id=doc.get("article_id"),
        outcome=doc.get("outcome"),
    )


def reindex(archive: Archive, skip: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Empty the catalog's archive tables and fill them again from the files (leaving out
    the files in `skip`: relative paths of files that are not to be trusted); returns one
    line per file it could not index."""
    cat = archive.catalog
    skipped: list[str] = []
    with cat.writing():
        cat.clear_derived()
        # URLs each fetch reached its article by (a record keeps the URLs it was made at;
        # version files are immutable, so later ones are known from the fetches only)
        own: list[tuple[str, str, str, str]] = []
        duplicates: list[tuple[str, str, str, str]] = []
        for sha in archive.blobs.iter():
            if _relative(archive, archive.layout.blob(sha)) in skip:
                continue
            try:
                sidecars = [
                    doc
                    for doc in archive.blobs.sidecars(sha)
                    if _sidecar_path(archive, sha, doc) not in skip
                ]
                size = len(archive.blobs.get(sha))
            except ArchiveError as exc:
                log.warning("reindex: skipping raw %s: %s", sha, exc)
                skipped.append(f"repair: raw {sha} left out: {exc}")
                continue
            first = sidecars[0] if sidecars else {}
            source = str(first.get("source") or "unknown")
            seen = str(first.get("fetched_at") or "")
            cat.add_raw(sha, size, archive.blobs.stored_size(sha), source, seen)
            for doc in sidecars:
                row = _fetch_row(sha, doc)
                cat.add_source(row.source, row.fetched_at)
                cat.add_fetch(row)
                if row.article_id and row.status < 400:
                    links = duplicates if row.outcome == "duplicate" else own
                    for url in (row.final_url, row.url):
                        links.append((url_key(url), url, row.article_id, row.fetched_at))
        skipped += _reindex_records(archive, skip)
        for key, url, article_id, seen in own:
            cat.add_url(key, url, article_id, seen)
        for key, url, article_id, seen in duplicates:
            cat.add_url(key, url, article_id, seen, duplicate=True)
    return skipped


def _relative(archive: Archive, path: Path) -> str:
    return path.relative_to(archive.root).as_posix()


def _sidecar_path(archive: Archive, sha: str, doc: dict[str, Any]) -> str:
    first = archive.layout.meta(sha)
    fid = doc.get("fetch_id")
    if isinstance(fid, str):
        later = archive.layout.fetch(sha, fid)
        if later.exists() or not first.exists():
            return _relative(archive, later)
    return _relative(archive, first)


def _reindex_records(archive: Archive, skip: set[str] | frozenset[str]) -> list[str]:
    cat = archive.catalog
    by_article: dict[str, list[Article]] = {}
    skipped: list[str] = []
    for rec in record_files(archive):
        if _relative(archive, rec.path) in skip:
            log.warning("reindex: leaving out %s: it changed since it was written", rec.path)
            continue
        where = f"{rec.source}/{rec.article_id}/v{rec.version}"
        try:
            doc = json.loads(rec.path.read_text("utf-8"))
            problems = archive.validator.problems(doc)
            if problems:
                raise ArchiveError(f"schema: {problems[0]}")
            by_article.setdefault(rec.article_id, []).append(Article.from_json(doc))
        except (OSError, ValueError, KeyError, ArchiveError) as exc:
            log.warning("reindex: skipping %s: %s", rec.path, exc)
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            skipped.append(
                f"repair: record {where} cannot be loaded, left out of the catalog ({reason}); "
                f"`morgue rebuild` makes it again from its raw page"
            )
    heads: list[ArticleRow] = []
    for _article_id, versions in sorted(by_article.items()):
        versions.sort(key=lambda a: a.version)
        article_key = url_key(versions[0].canonical_url)
        for art in versions:
            seen = iso_utc(art.fetched_at)
            cat.add_source(art.source, seen)
            for url in art.urls:
                cat.add_url(url_key(url), url, art.id, seen)
            head = index_version(
                cat, art, Fingerprints.of(art.content), article_key=article_key, current=True
            )
        heads.append(head)
    for head in heads:
        for other, dist in cat.near(head.simhash, archive.near_threshold):
            if other != head.id:
                cat.add_near_duplicate(head.id, other, dist, "")
    return skipped
