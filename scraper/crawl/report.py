"""What one crawl run did, per source: the counts `morgue crawl` prints at the end.

`SourceReport` is filled in by the crawl as it goes (so a progress display can show it live);
`CrawlReport` holds one per source and knows the command's exit code: 1 when any source failed
entirely (none of its start points could be fetched, or the archive refused a write), else 0.
`format_report` renders the table as plain text lines.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum


class SourceStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"  # failed entirely: see SourceReport.error
    BUSY = "busy"  # another crawl of this source holds its lock; nothing done
    STOPPED = "stopped"  # asked to stop; leased work checkpointed for the next run


@dataclass
class SourceReport:
    name: str
    status: SourceStatus = SourceStatus.OK
    error: str | None = None  # one line, set when the source failed entirely or was busy
    discovered: int = 0  # URLs new to the frontier this run
    fetched: int = 0  # HTTP requests that got an answer (2xx or 304)
    new_articles: int = 0
    new_versions: int = 0
    unchanged: int = 0  # article answered 304, or stored content unchanged
    duplicates: int = 0  # same body as another article already archived
    not_modified: int = 0  # feeds, sitemaps and pages answered 304
    skipped_robots: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    queued: int = 0  # still queued when the run ended (budget reached or stopped)
    would_fetch: list[str] = field(default_factory=list)  # dry run: article URLs

    @property
    def failed_total(self) -> int:
        return sum(self.failed.values())


@dataclass
class CrawlReport:
    sources: list[SourceReport] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if any(s.status is SourceStatus.FAILED for s in self.sources) else 0

    def source(self, name: str) -> SourceReport:
        return next(s for s in self.sources if s.name == name)


_COLUMNS = (
    ("discovered", "found"),
    ("fetched", "fetched"),
    ("new_articles", "new"),
    ("new_versions", "versions"),
    ("unchanged", "unchanged"),
    ("duplicates", "dups"),
    ("skipped_robots", "robots"),
    ("failed_total", "failed"),
    ("queued", "left"),
)


def format_report(report: CrawlReport, *, errors: bool = True) -> list[str]:
    """The report as aligned text lines: a header, one row per source, then failure reasons.
    `errors=False` leaves out the one-line errors (the CLI prints those to stderr)."""
    width = max([len("source"), *(len(s.name) for s in report.sources)])
    lines = [f"{'source':<{width}}  " + "  ".join(f"{title:>9}" for _, title in _COLUMNS)]
    notes: list[str] = []
    for s in report.sources:
        cells = "  ".join(f"{getattr(s, attr):>9}" for attr, _ in _COLUMNS)
        lines.append(f"{s.name:<{width}}  {cells}")
        if s.error and errors:
            notes.append(s.error)
        if s.failed:
            reasons = ", ".join(f"{reason}: {n}" for reason, n in s.failed.most_common())
            notes.append(f"{s.name}: failed by reason: {reasons}")
        if s.would_fetch:
            notes.append(f"{s.name}: would fetch {len(s.would_fetch)} article(s)")
    return lines + notes
