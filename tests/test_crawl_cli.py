"""`morgue crawl` and `morgue schedule` through click, against the local site and a real archive."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from scraper.cli.crawl_cmds import crawl_cmd, schedule_cmd
from scraper.cli.support import AppContext
from scraper.config import Schedule
from tests.crawl_support import NewsSite, SiteServer, site_config

pytest.importorskip("archive.store", reason="archive.store not merged yet")
pytest.importorskip("scraper.fetch", reason="scraper.fetch not merged yet")


@pytest.fixture
def site() -> Iterator[NewsSite]:
    with SiteServer(NewsSite.with_articles(12, crawl_delay=0.005)) as served:
        yield served


@click.group()
def group() -> None:
    """Stands in for the lead's `cli` group: commands get the AppContext as ctx.obj."""


group.add_command(crawl_cmd)
group.add_command(schedule_cmd)


def _invoke(app: AppContext, *args: str) -> click.testing.Result:
    return CliRunner().invoke(group, list(args), obj=app)


def test_crawl_prints_the_report_and_exits_0(
    site: NewsSite, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = AppContext(config=site_config(site.base, tmp_path / "data"))
    with caplog.at_level(logging.INFO, logger="scraper.cli.crawl_cmds"):
        result = _invoke(app, "crawl", "local", "--max-pages", "200")
    assert result.exit_code == 0, result.stderr
    header, row = result.stdout.splitlines()[:2]
    assert header.split()[:3] == ["source", "found", "fetched"]
    assert row.split()[0] == "local"
    assert int(row.split()[3]) == 12  # new articles
    # not a terminal: plain progress lines, through logging (shown with -v)
    assert any(m.startswith(("local rss ", "local feed ")) for m in caplog.messages)


def test_unknown_source_is_a_usage_error(site: NewsSite, tmp_path: Path) -> None:
    app = AppContext(config=site_config(site.base, tmp_path / "data"))
    result = _invoke(app, "crawl", "nope")
    assert result.exit_code == 2
    assert "unknown source 'nope' (configured: local)" in result.stderr


def test_unreachable_source_exits_1_with_one_line(tmp_path: Path) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    config = site_config(dead, tmp_path / "data", home=None, sections=())
    result = _invoke(AppContext(config=config), "crawl")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "could not reach" in line]
    assert len(errors) == 1
    assert errors[0].startswith(f"local: could not reach {dead}/rss.xml: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_dry_run_lists_article_urls_and_stores_nothing(site: NewsSite, tmp_path: Path) -> None:
    app = AppContext(config=site_config(site.base, tmp_path / "data"))
    result = _invoke(app, "crawl", "--dry-run")
    assert result.exit_code == 0, result.stderr
    listed = [line.split("\t")[1] for line in result.stdout.splitlines() if "\t" in line]
    assert {u.split("?")[0] for u in listed} >= {site.url(a.path) for a in site.articles}
    assert site.article_hits() == []


def test_schedule_runs_a_due_source_and_stops_on_sigterm(site: NewsSite, tmp_path: Path) -> None:
    config = site_config(site.base, tmp_path / "data")
    source = replace(config.sources[0], schedule=Schedule(every=3600.0))
    app = AppContext(config=replace(config, sources=(source,)))

    def stop_when_crawled() -> None:
        for _ in range(600):
            if len(site.article_hits()) == len(site.articles):
                break
            threading.Event().wait(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=stop_when_crawled)
    killer.start()
    result = _invoke(app, "schedule")
    killer.join()
    assert result.exit_code == 0, result.stderr
    assert "stopped" in result.stderr
    assert len(site.article_hits()) == len(site.articles)


def test_live_table_renders_the_reports() -> None:
    import io

    from rich.console import Console

    from scraper.cli.crawl_cmds import _Table
    from scraper.crawl import SourceReport

    table = _Table(["a", "b"])
    report = SourceReport("a", fetched=7, new_articles=3)
    table.update(report, "https://e.org/x-y-z", "new")
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=100).print(table)
    text = out.getvalue()
    assert "a: new https://e.org/x-y-z" in text
    row = next(line for line in text.splitlines() if "│ a " in line or " a " in line)
    assert "7" in row
    assert "3" in row
