"""Verify and repair: the files are the truth, the catalog an index that can be rebuilt.

`verify` reads every blob (its bytes must hash to its name), every record (it must validate
against the JSON Schema and sit at the path its id/version/source say) and compares both with
the catalog. A catalog row whose file is missing, a corrupt blob or an invalid record is a
problem; a file the catalog does not know yet (a store interrupted between writing its files
and committing its rows, e.g. by kill -9) is a note, since nothing reported stored is missing.
`repair` removes leftover temp files and re-indexes the catalog from the files, in one
transaction.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.atomic import TEMP_PREFIX, remove_temp_files
from archive.backends.blobs import BlobCorrupt, BlobMissing
from archive.backends.catalog import ArticleRow, FetchRow
from archive.errors import ArchiveError
from archive.indexing import Fingerprints, index_version
from archive.layout import check_id, check_source, version_of
from archive.record import Article, RawPage, iso_utc
from archive.urls import url_key

if TYPE_CHECKING:
    from archive.store import Archive

log = logging.getLogger(__name__)


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        out = [f"verify: {verdict} ({head})"]
        out += [f"problem: {p}" for p in self.problems]
        out += [f"note: {n}" for n in self.notes]
        return out


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


def _check_blobs(archive: Archive, report: VerifyReport) -> set[str]:
    good: set[str] = set()
    for sha in archive.blobs.iter():
        report.counts["raw pages"] += 1
        try:
            body = archive.blobs.get(sha)
            sidecars = archive.blobs.sidecars(sha)
            for doc in sidecars:
                RawPage.from_meta_json(doc, b"")
        except (BlobCorrupt, BlobMissing, ArchiveError, KeyError, ValueError) as exc:
            report.problems.append(f"raw {sha}: {exc}")
            continue
        good.add(sha)
        if not sidecars:
            report.notes.append(f"raw {sha} has no fetch sidecar (interrupted store)")
        elif int(sidecars[0].get("size", len(body))) != len(body):
            report.problems.append(f"raw {sha}: sidecar size differs from the bytes")
    return good


def _check_records(
    archive: Archive, report: VerifyReport, blobs: set[str]
) -> dict[tuple[str, int], tuple[str, str]]:
    found: dict[tuple[str, int], tuple[str, str]] = {}
    for rec in record_files(archive):
        report.counts["records"] += 1
        where = f"{rec.source}/{rec.article_id}/v{rec.version}"
        try:
            doc = json.loads(rec.path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            report.problems.append(f"record {where}: unreadable: {exc}")
            continue
        problems = archive.validator.problems(doc)
        if problems:
            report.problems.append(f"record {where}: schema: {problems[0]}")
            continue
        if (doc["id"], doc["version"], doc["source"]) != (rec.article_id, rec.version, rec.source):
            report.problems.append(f"record {where}: id/version/source differ from its path")
            continue
        if doc["raw_sha256"] not in blobs:
            report.problems.append(f"record {where}: raw page {doc['raw_sha256']} missing")
        found[(rec.article_id, rec.version)] = (rec.source, doc["raw_sha256"])
    return found


def _check_catalog(
    archive: Archive,
    report: VerifyReport,
    blobs: set[str],
    records: dict[tuple[str, int], tuple[str, str]],
) -> None:
    cat = archive.catalog
    problem = cat.integrity_problem()
    if problem:
        report.problems.append(f"catalog: {problem}")
    known_raw = cat.raw_shas()
    for sha in sorted(known_raw - blobs):
        report.problems.append(f"catalog: raw page {sha} has no good blob")
    unindexed = len(blobs - known_raw)
    if unindexed:
        report.notes.append(f"{unindexed} raw page(s) not in the catalog (run verify --repair)")
    indexed = cat.indexed_versions()
    for key, value in sorted(indexed.items()):
        if key not in records:
            report.problems.append(f"catalog: {key[0]} v{key[1]} has no valid record file")
        elif records[key] != value:
            report.problems.append(f"catalog: {key[0]} v{key[1]} differs from its record file")
    missing = len(records.keys() - indexed.keys())
    if missing:
        report.notes.append(f"{missing} record file(s) not in the catalog (run verify --repair)")
    for article_id, version in cat.heads_without_version():
        report.problems.append(f"catalog: article {article_id} v{version} (current) is not indexed")
    dangling = cat.fetches_without_raw()
    if dangling:
        report.problems.append(f"catalog: {dangling} fetch(es) point to unknown raw pages")
    report.counts["articles"] = cat.count_articles()
    near = cat.count_near_duplicates()
    if near:
        report.notes.append(f"{near} pair(s) of articles are possible near duplicates (stats)")


def verify(archive: Archive, *, repair: bool = False) -> VerifyReport:
    if repair:
        removed = remove_temp_files(archive.root)
        skipped = reindex(archive)
        report = verify(archive, repair=False)
        # what the repair could not index stays a problem until it is rebuilt or removed
        known = set(report.problems)
        report.problems += [s for s in skipped if s not in known]
        report.repaired = True
        if removed:
            report.notes.append(f"removed {removed} temp file(s) of interrupted writes")
        return report
    report = VerifyReport()
    temps = sum(1 for _ in archive.root.rglob(f"{TEMP_PREFIX}*"))
    if temps:
        report.notes.append(f"{temps} temp file(s) of interrupted writes (verify --repair)")
    blobs = _check_blobs(archive, report)
    records = _check_records(archive, report, blobs)
    _check_catalog(archive, report, blobs, records)
    return report


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


def reindex(archive: Archive) -> list[str]:
    """Empty the catalog's archive tables and fill them again from the files; returns one
    line per file it could not index (left out of the catalog, never trusted)."""
    skipped: list[str] = []
    cat = archive.catalog
    with cat.writing():
        cat.clear_derived()
        # URLs each fetch reached its article by (a record keeps the URLs it was made at;
        # version files are immutable, so later ones are known from the fetches only)
        own: list[tuple[str, str, str, str]] = []
        duplicates: list[tuple[str, str, str, str]] = []
        for sha in archive.blobs.iter():
            try:
                sidecars = archive.blobs.sidecars(sha)
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
        skipped += _reindex_records(archive)
        for key, url, article_id, seen in own:
            cat.add_url(key, url, article_id, seen)
        for key, url, article_id, seen in duplicates:
            cat.add_url(key, url, article_id, seen, duplicate=True)
    return skipped


def _reindex_records(archive: Archive) -> list[str]:
    cat = archive.catalog
    by_article: dict[str, list[Article]] = {}
    skipped: list[str] = []
    for rec in record_files(archive):
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
