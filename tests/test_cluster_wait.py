"""`--wait` with a cluster configuration: the queued jobs' reports come back from the workers
through the catalog and print as the in-process commands print them; `import` and `schedule`
queue their work too."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from archive.backends.catalog import RunRow
from archive.maintenance.export import export_warc
from archive.maintenance.rebuild import RebuildReport
from archive.maintenance.verify import verify
from archive.store import Archive
from scraper.cli.cluster_cmds import queued_crawl
from scraper.cli.main import main
from scraper.cli.support import AppContext
from scraper.cluster.reports import (
    crawl_counts,
    import_counts,
    merge_crawl,
    merge_import,
    merge_rebuild,
    rebuild_counts,
    runs_of_jobs,
)
from scraper.config import load_config
from scraper.crawl.report import SourceReport, SourceStatus
from tests.cluster_support import (
    ManyHosts,
    ManyHostsServer,
    cluster_config,
    start_worker,
    stop_worker,
)


def _run(run_id: int, source: str | None, counts: dict[str, object]) -> RunRow:
    return RunRow(run_id, "cluster-crawl", source, "2026-01-01T00:00:00Z", "x", json.dumps(counts))


def test_a_sources_jobs_add_up_to_one_report_and_other_jobs_are_left_out() -> None:
    one = SourceReport("news", discovered=10, fetched=6, new_articles=5, queued=4)
    one.failed.update({"timeout": 1})
    two = SourceReport("news", fetched=4, new_articles=3, unchanged=1, queued=0)
    two.failed.update({"timeout": 2, "http 500": 1})
    stranger = SourceReport("news", new_articles=99)
    runs = [
        _run(1, "news", crawl_counts(7, one)),
        _run(2, "news", crawl_counts(99, stranger)),  # another command's job
        _run(3, "news", crawl_counts(8, two)),
    ]
    report = merge_crawl(["news", "silent"], runs_of_jobs(runs, [7, 8]))
    news = report.source("news")
    assert (news.discovered, news.fetched, news.new_articles, news.unchanged) == (10, 10, 8, 1)
    assert news.failed == Counter({"timeout": 3, "http 500": 1})
    assert news.queued == 0  # what the job that ended last saw
    assert news.status is SourceStatus.OK
    # a source none of whose jobs reported is a failure, said in one line
    assert report.source("silent").status is SourceStatus.FAILED
    assert "no job" in (report.source("silent").error or "")
    assert report.exit_code == 1


def test_a_retried_job_counts_once_and_a_source_fails_only_when_every_job_failed() -> None:
    failed = SourceReport("news", status=SourceStatus.FAILED, error="news: feed unreachable")
    first = crawl_counts(5, SourceReport("news", new_articles=2))
    retried = crawl_counts(5, SourceReport("news", new_articles=3))
    runs = [
        _run(1, "news", first),
        _run(2, "news", retried),
        _run(3, "news", crawl_counts(6, failed)),
    ]
    report = merge_crawl(["news"], runs_of_jobs(runs, [5, 6]))
    assert report.source("news").new_articles == 3
    assert report.source("news").status is SourceStatus.OK
    assert report.source("news").error == "news: feed unreachable"
    alone = merge_crawl(["news"], runs_of_jobs([_run(3, "news", crawl_counts(6, failed))], [6]))
    assert alone.exit_code == 1


def test_a_sources_status_and_work_left_are_the_frontiers_merge_of_its_jobs() -> None:
    """What is left is what the job that ended last saw (the last run recorded), not the
    job with the highest id; the source stopped only when work is left at the end."""
    stopped = SourceReport("news", status=SourceStatus.STOPPED, fetched=2, queued=4)
    budget = SourceReport("news", fetched=3, queued=6)  # a page budget, ended first
    runs = [_run(1, "news", crawl_counts(8, budget)), _run(2, "news", crawl_counts(7, stopped))]
    news = merge_crawl(["news"], runs_of_jobs(runs, [7, 8])).source("news")
    assert (news.fetched, news.queued, news.status) == (5, 4, SourceStatus.STOPPED)
    # what the stopped job left, the other did: nothing is left, the run is ok
    rest = SourceReport("news", fetched=4, queued=0)
    runs = [_run(1, "news", crawl_counts(7, stopped)), _run(2, "news", crawl_counts(8, rest))]
    news = merge_crawl(["news"], runs_of_jobs(runs, [7, 8])).source("news")
    assert (news.queued, news.status) == (0, SourceStatus.OK)


def test_rebuild_and_import_reports_add_up() -> None:
    a = RebuildReport(parser_version="2", scanned=10, changed=3, unchanged=7)
    a.fields.update({"headline": 2})
    a.older.update({"1": 3})
    b = RebuildReport(parser_version="2", scanned=5, unchanged=4, failed=1, errors=["x: bad"])
    b.fields.update({"headline": 1, "body": 1})
    runs = [_run(1, None, rebuild_counts(1, a)), _run(2, None, rebuild_counts(2, b))]
    total = merge_rebuild(runs_of_jobs(runs, [1, 2]))
    assert (total.scanned, total.changed, total.unchanged, total.failed) == (15, 3, 11, 1)
    assert total.fields == Counter({"headline": 3, "body": 1})
    assert total.lines()[0].startswith("scanned 15: 3 changed, 11 unchanged, 1 failed")
    assert "  error: x: bad" in total.lines()
    runs = [_run(1, "w", import_counts(1, {"new": 2})), _run(2, "w", import_counts(2, {"new": 1}))]
    assert merge_import(runs_of_jobs(runs, [1, 2])) == Counter({"new": 3})


@pytest.mark.slow
def test_crawl_rebuild_and_import_wait_print_the_usual_reports(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    many = ManyHosts(hosts=3, articles_per_host=2, crawl_delay=0.0)
    with ManyHostsServer(many):
        path = cluster_config(many, tmp_path / "data", pg_url, tmp_path / "cluster.yaml")
        worker = start_worker(path)
        try:
            capsys.readouterr()
            assert main(["--config", str(path), "crawl", "--spread", "2", "--wait"]) == 0
            out = capsys.readouterr().out
            assert "queued 2 crawl_source job(s)" in out
            assert "2 job(s) succeeded, 0 failed" in out
            header, row = out.splitlines()[2:4]
            assert header.split() == [
                "source", "found", "fetched", "new", "versions", "unchanged", "dups", "robots",
                "failed", "left",
            ]  # fmt: skip
            cells = row.split()
            assert cells[0] == "cluster"
            assert int(cells[3]) == 6  # both jobs together stored the 6 articles once

            # a second run: its feeds fetched again, nothing new, as `morgue crawl` would say
            assert main(["--config", str(path), "crawl", "--wait"]) == 0
            row = capsys.readouterr().out.splitlines()[3].split()
            assert int(row[2]) >= 3, row
            assert int(row[3]) == 0, row

            assert main(["--config", str(path), "rebuild", "--workers", "2", "--wait"]) == 0
            out = capsys.readouterr().out
            assert "2 job(s) succeeded, 0 failed" in out
            assert "scanned " in out
            assert ", 0 failed, " in out

            config = load_config(path)
            warc = tmp_path / "out.warc.gz"
            with (
                Archive.open(config.data_dir, storage=config.storage) as arch,
                warc.open("wb") as f,
            ):
                export_warc(arch, f)
            code = main(["--config", str(path), "import", str(warc), "--source", "w", "--wait"])
            assert code == 0
            out = capsys.readouterr().out
            assert "queued 1 import_warc job(s)" in out
            assert "1 job(s) succeeded, 0 failed" in out
            assert out.strip().splitlines()[-1] != "nothing imported"

            # schedule's runner: a due source is queued, followed, and reported
            report = queued_crawl(AppContext(config), 1)(config.sources[0], lambda: False)
            assert report.source("cluster").fetched >= 3  # the three feeds, at least
            assert report.source("cluster").new_articles == 0
            assert report.exit_code == 0
            with Archive.open(config.data_dir, storage=config.storage) as arch:
                assert verify(arch).ok
        finally:
            stop_worker(worker)
        # the scheduler stopping while its run waits for a worker: stopped, not failed
        report = queued_crawl(AppContext(config), 1)(config.sources[0], lambda: True)
        assert report.source("cluster").status is SourceStatus.STOPPED
        assert report.source("cluster").error is None
        assert report.exit_code == 0
