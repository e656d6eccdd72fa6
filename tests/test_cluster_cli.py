"""The cluster through the CLI: a cluster config queues instead of crawling in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from scraper.cli.main import main
from scraper.cluster.queue import job_states
from scraper.config import load_config


def test_worker_needs_a_postgresql_catalog(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("data_dir: data\n")
    assert main(["--config", str(config), "worker"]) == 2
    assert "storage.catalog" in capsys.readouterr().err


def test_crawl_and_rebuild_with_a_cluster_config_queue_jobs(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "cluster.yaml"
    config.write_text(
        f"data_dir: data\nstorage:\n  catalog: {pg_url}\n"
        "sources:\n  - name: one\n    feeds: [http://127.0.0.1:9/rss.xml]\n"
        "  - name: two\n    feeds: [http://127.0.0.1:9/feed.xml]\n"
    )
    assert main(["--config", str(config), "crawl", "--spread", "2"]) == 0
    assert "queued 4 crawl_source job(s)" in capsys.readouterr().out
    assert main(["--config", str(config), "rebuild", "--workers", "3"]) == 0
    assert "queued 3 rebuild_share job(s)" in capsys.readouterr().out
    # nobody is working: they wait in the queue
    assert set(job_states(load_config(config), list(range(1, 8))).values()) == {"todo"}
