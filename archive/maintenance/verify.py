"""Verify and repair: the files are the truth, the catalog an index that can be rebuilt, and
the checksums recorded as each file was written (`archive.fixity`) are the proof that the files
are still what was written.

`verify` hashes every file under raw/ and articles/ and compares it with its checksum: a file
that changed, went missing, or is there without one (unknown) is a problem, named by its path.
It also reads every blob (its bytes must hash to its name), every record (it must validate
against the JSON Schema and sit at the path its id/version/source say) and compares both with
the catalog. `--sample N` and `--since DATE` check a random sample, or the files written since
a date, the same way, so a large archive can be audited every night. Each run is recorded in
the catalog for `stats`.

`repair` removes leftover temp files, records the checksums of unknown files that are intact
(an interrupted store, or a catalog made before checksums were kept) and re-indexes the catalog
from the files, in one transaction. A file that changed since it was written is never trusted:
it stays out of the index and is reported, with `morgue rebuild --article ID` for a record.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archive.atomic import TEMP_PREFIX, remove_temp_files
from archive.backends.blobs import BlobCorrupt, BlobMissing
from archive.backends.catalog import FileRow, VerifyRun
from archive.errors import ArchiveError
from archive.fixity import FULL_SCOPE, RAW, RECORD, SIDECAR, archive_files, hash_file, kind_of
from archive.maintenance.reindex import (
    record_files,
    reindex,
    repair_index,
    structure_problem,
)
from archive.record import RawPage, iso_utc

if TYPE_CHECKING:
    from archive.store import Archive


FULL = FULL_SCOPE


@dataclass
class VerifyReport:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    repaired: bool = False
    scope: str = FULL  # full, "sample N" or "since DATE"
    changed: list[str] = field(default_factory=list)  # paths of files that changed
    missing: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        head = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()))
        verdict = "ok" if self.ok else f"{len(self.problems)} problem(s)"
        scope = "" if self.scope == FULL else f"{self.scope}: "
        out = [f"verify: {verdict} ({scope}{head})"]
        out += [f"problem: {p}" for p in self.problems]
        out += [f"note: {n}" for n in self.notes]
        return out


_LABELS = {RAW: "raw page", SIDECAR: "fetch sidecar", RECORD: "record"}


def _label(row_kind: str, path: str, references: set[str]) -> str:
    if row_kind == RAW and Path(path).name[:64] in references:
        return "reference page"  # other raw pages are compressed against it
    return _LABELS.get(row_kind, row_kind)


def _hint(path: str, kind: str) -> str:
    if kind == RECORD:
        return f"not trusted; run `morgue rebuild --article {path.split('/')[2]}` to re-make it"
    return "restore it from a backup or a BagIt export (morgue import)"


def _check_fixity(
    archive: Archive, report: VerifyReport, rows: list[FileRow], references: set[str]
) -> None:
    """Each recorded file must still be there and hash to what was written. Raw pages kept
    by a blob store outside the folder (S3, a shared mount) are checked by their hashes in
    `_check_blobs` instead."""
    local = archive.raw_pages_local
    for row in rows:
        report.counts["files"] += 1
        if not local and row.path.startswith("raw/"):
            continue
        found = hash_file(archive.root / row.path)
        label = _label(row.kind, row.path, references)
        if found is None:
            report.missing.append(row.path)
            report.problems.append(
                f"missing: {row.path} ({label}, written {row.written_at}); {_hint(row.path, RAW)}"
            )
        elif found[0] != row.sha256:
            report.changed.append(row.path)
            report.problems.append(
                f"changed: {row.path} ({label}): sha256 {found[0][:16]}, written as "
                f"{row.sha256[:16]} at {row.written_at}; {_hint(row.path, row.kind)}"
            )


def _check_unknown(archive: Archive, report: VerifyReport, known: set[str]) -> None:
    for path in archive_files(archive.root):
        if path not in known:
            report.unknown.append(path)
            report.problems.append(
                f"unknown: {path} ({_LABELS[kind_of(path) or RAW]}): no checksum was recorded "
                "for it (verify --repair records it if it is intact)"
            )


def _check_blobs(archive: Archive, report: VerifyReport, skip: set[str]) -> set[str]:
    good: set[str] = set()
    for sha in archive.blobs.iter():
        report.counts["raw pages"] += 1
        if sha in skip:  # already reported as changed
            continue
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
    archive: Archive, report: VerifyReport, blobs: set[str], skip: set[str]
) -> dict[tuple[str, int], tuple[str, str]]:
    found: dict[tuple[str, int], tuple[str, str]] = {}
    for rec in record_files(archive):
        report.counts["records"] += 1
        where = f"{rec.source}/{rec.article_id}/v{rec.version}"
        if rec.path.relative_to(archive.root).as_posix() in skip:
            continue
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
    changed = {_version_key(path) for path in report.changed if kind_of(path) == RECORD}
    for key, value in sorted(indexed.items()):
        if key in changed:
            continue  # reported once, as changed
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


def _version_key(path: str) -> tuple[str, int]:
    """(article id, version) of a record's relative path articles/<source>/<id>/v<N>.json."""
    _top, _source, article_id, name = path.split("/")
    return article_id, int(name[1:].removesuffix(".json"))


def verify(
    archive: Archive,
    *,
    repair: bool = False,
    sample: int | None = None,
    since: str | None = None,
    seed: int | None = None,
) -> VerifyReport:
    """Check the archive (all of it, or `sample` files at random, or those written `since`),
    record the run in the catalog, and return what was found."""
    if repair:
        removed = remove_temp_files(archive.root)
        added, untrusted, skipped = repair_index(archive)
        report = verify(archive)
        # what the repair could not index stays a problem until it is rebuilt or removed
        known = set(report.problems)
        report.problems += [s for s in skipped if s not in known]
        report.repaired = True
        if removed:
            report.notes.append(f"removed {removed} temp file(s) of interrupted writes")
        if added:
            report.notes.append(f"recorded the checksums of {added} intact file(s)")
        if untrusted:
            report.notes.append(f"left {len(untrusted)} changed or damaged file(s) unindexed")
        return report
    started = iso_utc(archive.now())
    if sample is not None or since is not None:
        report = _verify_slice(archive, sample, since, seed)
    else:
        report = _verify_full(archive)
    archive.catalog.add_verify_run(
        VerifyRun(
            scope=report.scope,
            started_at=started,
            finished_at=iso_utc(archive.now()),
            checked=report.counts["files"],
            problems=len(report.problems),
            summary=report.lines()[0],
        )
    )
    return report


def _verify_full(archive: Archive) -> VerifyReport:
    report = VerifyReport()
    temps = sum(1 for _ in archive.root.rglob(f"{TEMP_PREFIX}*"))
    if temps:
        report.notes.append(f"{temps} temp file(s) of interrupted writes (verify --repair)")
    rows = archive.catalog.files()
    _check_fixity(archive, report, rows, _references(archive))
    _check_unknown(archive, report, {r.path for r in rows})
    changed = set(report.changed)  # reported once, by their checksum
    blobs = _check_blobs(archive, report, {Path(p).name[:64] for p in changed if kind_of(p) == RAW})
    records = _check_records(archive, report, blobs, changed)
    _check_catalog(archive, report, blobs, records)
    return report


def _references(archive: Archive) -> set[str]:
    """The raw pages other raw pages are compressed against (from the blobs' headers)."""
    found: set[str] = set()
    for sha in archive.blobs.iter():
        try:
            ref = archive.blobs.reference(sha)
        except ArchiveError:
            continue  # _check_blobs reports it
        if ref is not None:
            found.add(ref)
    return found


def _verify_slice(
    archive: Archive, sample: int | None, since: str | None, seed: int | None
) -> VerifyReport:
    cat = archive.catalog
    if sample is not None:
        rows = cat.sample_files(sample, seed)
        scope = f"sample {sample}"
    else:
        rows = cat.files(since)
        scope = f"since {since}"
    report = VerifyReport(scope=scope)
    _check_fixity(archive, report, rows, set())
    bad = {*report.changed, *report.missing}
    for row in rows:
        if row.path not in bad and (problem := structure_problem(archive, row.path)):
            report.problems.append(f"{_LABELS.get(row.kind, row.kind)} {row.path}: {problem}")
    report.notes.append(f"checked {len(rows)} of {cat.count_files()} recorded files")
    return report


__all__ = ["VerifyReport", "record_files", "reindex", "structure_problem", "verify"]
