"""Rebuild and import through the queue: two real workers share a rebuild, one share each."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from archive.backends.storage import Storage
from archive.maintenance.export import export_warc
from archive.maintenance.rebuild import rebuild
from archive.maintenance.verify import verify
from archive.store import Archive
from scraper.cli.archive_cmds import SourceParser
from scraper.cluster.queue import defer, job_states
from scraper.config import load_config
from tests.cluster_support import start_worker, stop_worker
from tests.test_archive_rebuild import fill


def wait_for(config, ids: list[int], timeout: float = 120) -> dict[int, str]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        states = job_states(config, ids)
        if len(states) == len(ids) and all(s not in ("todo", "doing") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            pytest.fail(f"jobs did not end within {timeout:g} s: {states}")
        time.sleep(0.5)


def test_two_workers_rebuild_one_share_each_and_import_a_warc(tmp_path: Path, pg_url: str) -> None:
    data = tmp_path / "data"
    with Archive.open(data, storage=Storage(catalog=pg_url)) as arch:
        fill(arch, count=30)  # stored with the tests' tiny parser: the real one differs
    config_path = tmp_path / "cluster.yaml"
    config_path.write_text(f"data_dir: {data}\nstorage:\n  catalog: {pg_url}\n")
    config = load_config(config_path)
    workers = [start_worker(config_path) for _ in range(2)]
    try:
        ids = defer(config, "rebuild_share", [{"share": i, "shares": 2} for i in range(2)])
        assert set(wait_for(config, ids).values()) == {"succeeded"}
        with Archive.open(data, storage=config.storage) as arch:
            # the shares covered everything: the same rebuild in-process finds nothing to do
            again = rebuild(arch, SourceParser.of(config), workers=1)
            assert again.changed == 0
            assert again.scanned > 30
            assert verify(arch).ok
            warc = tmp_path / "out.warc.gz"
            with warc.open("wb") as out:
                export_warc(arch, out)
        # the WARC goes back in through the queue, into a second archive's worker
        ids = defer(config, "import_warc", [{"path": str(warc), "source": "again"}])
        assert set(wait_for(config, ids).values()) == {"succeeded"}
        with Archive.open(data, storage=config.storage) as arch:
            assert arch.catalog.count_articles() == 30
            assert verify(arch).ok
    finally:
        for worker in workers:
            stop_worker(worker)
