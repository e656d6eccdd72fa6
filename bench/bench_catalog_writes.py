"""The PostgreSQL catalog's writes alone: the calls a store of a new article makes
(`Archive.store`: raw, source, fetch, URL, canonical, head, version, file), `--batch` stores
per keyed transaction, each in its own nested `writing` as a batch's stores are. Reported: the
worker's CPU per page (this process), the wall time per page, and the CPU per page of the
PostgreSQL backends serving the database (/proc).

    .venv/bin/python bench/bench_catalog_writes.py --batches 100

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), as the tests do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archive.backends.catalog import ArticleRow, FetchRow, FileRow, VersionRow  # noqa: E402
from archive.backends.catalog_pg import PgCatalog  # noqa: E402

ADMIN = os.environ.get("MORGUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SEEN = "2026-01-01T00:00:00Z"


def store(catalog: PgCatalog, n: int) -> None:
    sha = f"{n:064x}"
    simhash = (n * 0x9E3779B97F4A7C15) % 2**64
    with catalog.writing(keys=[f"k{n}", f"c{n}"]):
        catalog.add_raw(sha, 10, 8, "src", SEEN)
        catalog.add_source("src", SEEN)
        fetch = (f"f{n}", f"https://e.test/{n}", f"k{n}", f"https://e.test/{n}", 200)
        catalog.add_fetch(FetchRow(*fetch, None, None, SEEN, sha, 10, "src", f"a{n}", "new", None))
        catalog.add_url(f"k{n}", f"https://e.test/{n}", f"a{n}", SEEN)
        catalog.add_canonical(f"c{n}", f"a{n}")
        catalog.put_article(
            ArticleRow(f"a{n}", "src", f"c{n}", 1, "h", None, f"d{n}", simhash), SEEN
        )
        catalog.put_version(
            VersionRow(f"a{n}", 1, "src", sha, SEEN),
            digest=f"d{n}",
            fingerprint=simhash,
            headline="h",
            body="b",
            modified=None,
            parser=("p", "1"),
        )
        catalog.put_file(FileRow(f"src/a{n}/1.json", "record", sha, 100, SEEN))


def backends_cpu(db: str) -> float:
    """CPU seconds (user+sys) of the PostgreSQL backends connected to `db`."""
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        pids = [
            r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (db,))
        ]
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    db = "morgue_bench_" + uuid.uuid4().hex[:8]
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
    try:
        with tempfile.TemporaryDirectory() as root:
            catalog = PgCatalog(ADMIN.rsplit("/", 1)[0] + f"/{db}", root=Path(root))
            try:
                with catalog.writing(keys=["warm"]):
                    for n in range(10**6, 10**6 + args.batch):
                        store(catalog, n)
                pg0, cpu0, wall0 = backends_cpu(db), time.process_time(), time.monotonic()
                for b in range(args.batches):
                    with catalog.writing(keys=[f"batch{b}"]):
                        for i in range(args.batch):
                            store(catalog, b * args.batch + i)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                pg = backends_cpu(db) - pg0
            finally:
                catalog.close()
        pages = args.batches * args.batch
        print(
            f"{pages} pages in batches of {args.batch}: worker CPU {1000 * cpu / pages:.3f}"
            f" ms/page, wall {1000 * wall / pages:.3f} ms/page, PostgreSQL CPU"
            f" {1000 * pg / pages:.3f} ms/page; load average {os.getloadavg()[0]:.1f}"
        )
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {db} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
