"""Archive statistics: what is stored, how much room it takes, how much dedup saved, which
parser versions made the records, and when the last full `verify` ran and what it found."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.backends.catalog import VerifyRun
from archive.errors import ArchiveError
from archive.fixity import FULL_SCOPE

if TYPE_CHECKING:
    from archive.store import Archive


@dataclass
class SourceStats:
    articles: int = 0
    versions: int = 0
    fetches: int = 0
    raw_pages: int = 0
    raw_bytes: int = 0  # bytes fetched (every 2xx fetch's body)
    stored_bytes: int = 0  # compressed blob bytes
    duplicates: int = 0  # fetches filed as DUPLICATE of another article
    identical_refetches: int = 0  # fetches whose bytes were already stored


@dataclass
class ReferenceSavings:
    """Raw pages stored as the difference to an earlier page of their site (blobref)."""

    pages: int = 0
    raw_bytes: int = 0  # their bytes as fetched
    stored_bytes: int = 0  # what they take, compressed against their reference
    alone_bytes: int = 0  # what they would take compressed on their own

    @property
    def saved(self) -> int:
        return self.alone_bytes - self.stored_bytes


@dataclass
class Stats:
    total: SourceStats
    per_source: dict[str, SourceStats] = field(default_factory=dict)
    disk_bytes: int = 0  # apparent size of every file (blobs, sidecars, records, catalog)
    disk_allocated: int = 0  # blocks actually allocated (small files round up)
    near_duplicates: int = 0
    copies: int = 0  # articles whose text another article (another site, headline) also ran
    shared_texts: int = 0  # texts so shared
    parsers: list[tuple[str, str, int]] = field(default_factory=list)
    last_full_verify: VerifyRun | None = None
    files_checksummed: int = 0
    references: ReferenceSavings = field(default_factory=ReferenceSavings)

    def lines(self) -> list[str]:
        t = self.total
        ratio = self.disk_bytes / t.raw_bytes if t.raw_bytes else 0.0
        out = [
            f"articles {t.articles}, versions {t.versions}, fetches {t.fetches}, "
            f"raw pages {t.raw_pages}",
            f"raw bytes fetched {t.raw_bytes}, blobs {t.stored_bytes}, everything on disk "
            f"{self.disk_bytes} ({ratio:.3f}x raw; {self.disk_allocated} allocated)",
            f"duplicates avoided: {t.duplicates} duplicate articles, {t.identical_refetches} "
            f"identical re-fetches; possible near duplicates: {self.near_duplicates}",
            f"syndicated copies: {self.copies} articles share {self.shared_texts} text(s) "
            "with another article",
            self._reference_line(),
        ]
        if self.parsers:
            made = ", ".join(f"{name} {version} ({n})" for name, version, n in self.parsers)
            out.append(f"record versions by parser: {made}")
        run = self.last_full_verify
        if run is None:
            out.append(f"last full verify: never ({self.files_checksummed} files checksummed)")
        else:
            out.append(
                f"last full verify: {run.finished_at}, {run.checked} files, {run.problems} "
                f"problem(s): {run.summary}"
            )
        for name, s in sorted(self.per_source.items()):
            out.append(
                f"  {name}: {s.articles} articles, {s.versions} versions, {s.raw_pages} raw "
                f"pages, {s.raw_bytes} -> {s.stored_bytes} bytes, {s.duplicates} duplicates"
            )
        return out

    def _reference_line(self) -> str:
        r = self.references
        if not r.pages:
            return f"stored against a reference page: 0 of {self.total.raw_pages} raw pages"
        share = r.saved / r.alone_bytes if r.alone_bytes else 0.0
        return (
            f"stored against a reference page: {r.pages} of {self.total.raw_pages} raw pages, "
            f"{r.raw_bytes} -> {r.stored_bytes} bytes; alone they would take {r.alone_bytes}: "
            f"saved {r.saved} bytes ({100 * share:.0f} %)"
        )


def reference_savings(archive: Archive) -> ReferenceSavings:
    """Count the raw pages stored against a reference and what that saved. Reads each such
    page and compresses it alone: about a millisecond per page."""
    blobs = archive.blobs
    sizes = archive.catalog.raw_sizes()
    out = ReferenceSavings()
    for sha in sorted(sizes):
        try:
            if blobs.reference(sha) is None:
                continue
            alone = blobs.alone_size(sha)
        except ArchiveError:  # missing or damaged: verify reports it
            continue
        out.pages += 1
        out.raw_bytes += sizes[sha]
        out.stored_bytes += blobs.stored_size(sha)
        out.alone_bytes += alone
    return out


def disk_usage(root: os.PathLike[str] | str) -> tuple[int, int]:
    apparent = allocated = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            try:
                st = os.lstat(os.path.join(folder, name))  # noqa: PTH118 - os.walk names
            except OSError:
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
    return apparent, allocated


def stats(archive: Archive) -> Stats:
    cat = archive.catalog
    per: dict[str, SourceStats] = {}
    for counts in cat.source_counts():
        per[counts.source] = SourceStats(
            **{name: getattr(counts, name) for name in vars(SourceStats())}
        )
    total = SourceStats()
    for s in per.values():
        for attr in vars(total):
            setattr(total, attr, getattr(total, attr) + getattr(s, attr))
    apparent, allocated = disk_usage(archive.root)
    near = cat.count_near_duplicates()
    copies, shared = cat.count_copies()
    return Stats(
        total,
        per,
        apparent,
        allocated,
        near,
        references=reference_savings(archive),
        copies=copies,
        shared_texts=shared,
        parsers=cat.parser_versions(),
        last_full_verify=cat.last_verify_run(FULL_SCOPE),
        files_checksummed=cat.count_files(),
    )
