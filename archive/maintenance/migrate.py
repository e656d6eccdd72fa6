"""Copy an archive to other storage: embedded to cluster (PostgreSQL + S3) and back.

The files are the truth (`verify`), so a migration copies files and rebuilds the index: every
raw page with its fetch sidecars through the target's blob store, every record file into the
target's data folder, then `verify --repair` on the target fills its catalog from them. Each
copy is skipped when the target already holds it, so a migration stopped at any point resumes
where it stopped; pages stored against a reference page are copied after it and offered it as
their reference again, so the target keeps the compression. Crawl runs and the crawl frontier
are not in the files and are not copied: the target's first crawl re-reads the listings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.atomic import write_new
from archive.errors import ArchiveError
from archive.maintenance.verify import VerifyReport, record_files, verify

if TYPE_CHECKING:
    from archive.backends.catalog import SourceCounts
    from archive.store import Archive

log = logging.getLogger(__name__)


@dataclass
class MigrateReport:
    blobs_copied: int = 0
    blobs_present: int = 0
    sidecars_copied: int = 0
    records_copied: int = 0
    records_present: int = 0
    problems: list[str] = field(default_factory=list)
    verify: VerifyReport | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and (self.verify is None or self.verify.ok)

    def lines(self) -> list[str]:
        out = [
            f"migrate: raw pages {self.blobs_copied} copied, {self.blobs_present} already there;"
            f" {self.sidecars_copied} fetch sidecars copied;"
            f" records {self.records_copied} copied, {self.records_present} already there"
        ]
        out += [f"problem: {p}" for p in self.problems]
        if self.verify is not None:
            out += self.verify.lines()
        return out


def migrate(
    source: Archive, target: Archive, *, progress: Callable[[str], None] | None = None
) -> MigrateReport:
    """Copy `source` into `target` (resumable), re-index the target and compare counts."""
    report = MigrateReport()
    _copy_blobs(source, target, report, progress)
    _copy_records(source, target, report)
    report.verify = verify(target, repair=True)
    before, after = _counts(source), _counts(target)
    if before != after:
        report.problems.append(f"counts differ after the copy: source {before}, target {after}")
    return report


def _copy_blobs(
    source: Archive,
    target: Archive,
    report: MigrateReport,
    progress: Callable[[str], None] | None,
) -> None:
    # pages stored alone first: they are the references of the others
    later: list[tuple[str, str]] = []
    seen: set[str] = set()
    for sha in source.blobs.iter():
        seen.add(sha)
        ref = source.blobs.reference(sha)
        if ref is None:
            _copy_blob(source, target, sha, (), report)
        else:
            later.append((sha, ref))
        if progress is not None and (report.blobs_copied + report.blobs_present) % 1000 == 0:
            progress(f"{report.blobs_copied + report.blobs_present} raw pages")
    for sha, ref in later:
        _copy_blob(source, target, sha, (ref,), report)
    for sha in sorted(source.catalog.raw_shas() - seen):
        report.problems.append(f"raw {sha}: in the catalog but missing from the blob store")


def _copy_blob(
    source: Archive, target: Archive, sha: str, like: tuple[str, ...], report: MigrateReport
) -> None:
    try:
        if target.blobs.has(sha):
            report.blobs_present += 1
        else:
            target.blobs.put(sha, source.blobs.get(sha), like)
            report.blobs_copied += 1
        sidecars = source.blobs.sidecars(sha)
    except ArchiveError as exc:  # reported, and the rest still copied
        report.problems.append(f"raw {sha}: {exc}")
        return
    for n, doc in enumerate(sidecars):
        fetch = None if n == 0 else str(doc.get("fetch_id") or "")
        if fetch == "":
            report.problems.append(f"raw {sha}: a later fetch sidecar has no fetch_id")
            continue
        if target.blobs.put_sidecar(sha, fetch, doc):
            report.sidecars_copied += 1


def _copy_records(source: Archive, target: Archive, report: MigrateReport) -> None:
    for rec in record_files(source):
        path = target.layout.version(rec.source, rec.article_id, rec.version)
        data = rec.path.read_bytes()
        if path.exists():
            report.records_present += 1
            if path.read_bytes() != data:
                report.problems.append(f"{path}: already there with other content (kept)")
            continue
        write_new(path, data, durable=target.durable)
        report.records_copied += 1


def _counts(archive: Archive) -> list[SourceCounts]:
    # stored bytes depend on the store (a reference may compress differently): not compared
    from dataclasses import replace

    return [replace(c, stored_bytes=0) for c in archive.catalog.source_counts()]
