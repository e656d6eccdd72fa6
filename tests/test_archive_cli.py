"""The archive commands through click, with the real parser handed in (SourceParser)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from archive.store import Archive
from scraper.cli.archive_cmds import COMMANDS, SourceParser
from scraper.cli.support import AppContext
from scraper.config import Config
from tests.archive_support import T0, article_html, make_page, paragraphs


def group(data: Path) -> click.Group:
    @click.group()
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        ctx.obj = AppContext(config=Config(data_dir=data))

    for command in COMMANDS:
        cli.add_command(command)
    return cli


@pytest.fixture
def data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    parse = SourceParser()
    with Archive.open(root) as arch:
        for i in range(4):
            page = make_page(
                f"https://news.example/2024/05/story-{i}",
                article_html(f"Story number {i}", paragraphs(i)),
                at=T0 + timedelta(days=i),
            )
            arch.store(page, parse(page, "news"), source="news")
    return root


def test_verify_stats_and_rebuild(data: Path) -> None:
    runner = CliRunner()
    cli = group(data)
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("verify: ok")
    stats = runner.invoke(cli, ["stats"])
    assert "articles 4" in stats.output
    rebuild = runner.invoke(cli, ["rebuild", "--workers", "1"])
    assert rebuild.exit_code == 0, rebuild.output
    assert "0 changed, 4 unchanged" in rebuild.output
    since = runner.invoke(cli, ["rebuild", "--workers", "1", "--since", "2026-05-11"])
    assert "scanned 2" in since.output


def test_verify_exits_1_on_a_problem(data: Path) -> None:
    blob = next(data.joinpath("raw").rglob("*.html.zst"))
    blob.write_bytes(b"garbage")
    result = CliRunner().invoke(group(data), ["verify"])
    assert result.exit_code == 1
    assert "problem: changed: raw/" in result.output


def test_export_formats_and_import(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    cli = group(data)
    jsonl = runner.invoke(cli, ["export", "--format", "jsonl", "--since", "2026-05-10"])
    assert [json.loads(line)["version"] for line in jsonl.stdout.splitlines()] == [1, 1, 1]
    out = tmp_path / "all.csv"
    assert runner.invoke(cli, ["export", "--format", "csv", "--out", str(out)]).exit_code == 0
    assert out.read_text().count("Story number") == 4
    md = runner.invoke(cli, ["export", "--format", "md", "--out", str(tmp_path / "md")])
    assert md.exit_code == 0
    assert len(list((tmp_path / "md" / "news").glob("*.md"))) == 4
    assert runner.invoke(cli, ["export", "--format", "md"]).exit_code == 2
    warc = tmp_path / "all.warc.gz"
    assert runner.invoke(cli, ["export", "--format", "warc", "--out", str(warc)]).exit_code == 0
    other = group(tmp_path / "other")
    imported = runner.invoke(other, ["import", str(warc)])
    assert imported.exit_code == 0, imported.output
    assert "4 new" in imported.output
    again = runner.invoke(other, ["export", "--format", "jsonl"])
    assert again.stdout == runner.invoke(cli, ["export", "--format", "jsonl"]).stdout


def test_bad_since_is_a_usage_error(data: Path) -> None:
    result = CliRunner().invoke(group(data), ["rebuild", "--since", "yesterday"])
    assert result.exit_code == 2
