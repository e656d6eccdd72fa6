"""What a cluster job did, kept in the catalog so that `--wait` can print the usual report.

A worker runs a job far from the command that queued it, so each job writes its report as a
finished run in the catalog (`Archive.record_run`: kind, source, counts as JSON, with the job's
id among the counts). The command that queued the jobs reads the runs back once every job has
ended, keeps those of its own jobs, and adds them up: the jobs of one source's crawl share its
frontier, so together they are that source's run, printed as `morgue crawl` prints one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from archive.backends.catalog import RunRow
from archive.backends.frontier import merged_status
from archive.maintenance.rebuild import RebuildReport
from scraper.crawl.report import CrawlReport, SourceReport, SourceStatus

# the kind of run each queued task records
RUN_KINDS = {
    "crawl_source": "cluster-crawl",
    "rebuild_share": "cluster-rebuild",
    "import_warc": "cluster-import",
}
_SOURCE_COUNTS = (
    "discovered",
    "fetched",
    "new_articles",
    "new_versions",
    "unchanged",
    "duplicates",
    "not_modified",
    "skipped_robots",
)
_REBUILD_COUNTS = ("scanned", "changed", "unchanged", "failed", "recovered", "split")
MAX_ERRORS = 20  # a rebuild report's error lines, over all jobs


def crawl_counts(job: int, report: SourceReport) -> dict[str, Any]:
    counts: dict[str, Any] = {name: getattr(report, name) for name in _SOURCE_COUNTS}
    counts.update(
        job=job,
        status=str(report.status),
        error=report.error,
        failed=dict(report.failed),
        queued=report.queued,
    )
    return counts


def rebuild_counts(job: int, report: RebuildReport) -> dict[str, Any]:
    counts: dict[str, Any] = {name: getattr(report, name) for name in _REBUILD_COUNTS}
    counts.update(
        job=job,
        parser_version=report.parser_version,
        older=dict(report.older),
        fields=dict(report.fields),
        errors=report.errors[:MAX_ERRORS],
    )
    return counts


def import_counts(job: int, counts: Mapping[str, int]) -> dict[str, Any]:
    return {"job": job, "counts": dict(counts)}


def runs_of_jobs(
    runs: Iterable[RunRow], jobs: Sequence[int]
) -> list[tuple[RunRow, dict[str, Any]]]:
    """The runs (with their decoded counts) that the given jobs recorded; a job retried after
    a failure records one run per attempt, and only its last one counts."""
    wanted = set(jobs)
    last: dict[int, tuple[RunRow, dict[str, Any]]] = {}
    for run in runs:
        try:
            counts = json.loads(run.counts)
        except ValueError:
            continue
        job = counts.get("job") if isinstance(counts, dict) else None
        if isinstance(job, int) and job in wanted:
            last[job] = (run, counts)
    return [last[job] for job in sorted(last)]


def merge_crawl(
    sources: Sequence[str], runs: Sequence[tuple[RunRow, dict[str, Any]]]
) -> CrawlReport:
    """One SourceReport per source: the sum of its jobs' counts. What is still queued is what
    the job that ended last saw (the last to record its run: run ids are the catalog's, in
    the order the jobs ended); the status is merged from the jobs' as the frontier labels
    their run (`frontier.merged_status`): failed only when every job failed, stopped when
    one stopped and work is left, whichever job ended last."""
    report = CrawlReport([SourceReport(name) for name in sources])
    statuses: dict[str, list[str]] = {name: [] for name in sources}
    for run, counts in sorted(runs, key=lambda job_run: job_run[0].id):
        if run.source not in statuses:
            continue
        target = report.source(run.source)
        for name in _SOURCE_COUNTS:
            setattr(target, name, getattr(target, name) + int(counts.get(name, 0)))
        target.failed.update({str(k): int(v) for k, v in counts.get("failed", {}).items()})
        target.queued = int(counts.get("queued", 0))
        statuses[run.source].append(str(counts.get("status", SourceStatus.OK)))
        if counts.get("error") and target.error is None:
            target.error = str(counts["error"])
    for name, seen in statuses.items():
        source = report.source(name)
        if not seen:
            source.status = SourceStatus.FAILED
            source.error = source.error or f"{name}: no job of this crawl reported back"
        else:
            source.status = SourceStatus(merged_status(seen, left=source.queued > 0))
    return report


def merge_rebuild(runs: Sequence[tuple[RunRow, dict[str, Any]]]) -> RebuildReport:
    report = RebuildReport()
    for _run, counts in runs:
        for name in _REBUILD_COUNTS:
            setattr(report, name, getattr(report, name) + int(counts.get(name, 0)))
        report.parser_version = counts.get("parser_version") or report.parser_version
        report.older.update({str(k): int(v) for k, v in counts.get("older", {}).items()})
        report.fields.update({str(k): int(v) for k, v in counts.get("fields", {}).items()})
        room = MAX_ERRORS - len(report.errors)
        report.errors += [str(e) for e in counts.get("errors", [])][: max(0, room)]
    return report


def merge_import(runs: Sequence[tuple[RunRow, dict[str, Any]]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for _run, counts in runs:
        total.update({str(k): int(v) for k, v in counts.get("counts", {}).items()})
    return total
