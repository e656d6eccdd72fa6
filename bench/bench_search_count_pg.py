"""The CPU of an unfiltered search on PostgreSQL, count included, before and after migration 12:
every match ranked, made distinct by article and counted by a window (the statement the
filtered search still runs) against the best matches by a top-N sort and the count from the
matching versions and those of multi-version articles (`PgReadMixin._search_unfiltered`),
alternately on one catalog. Both answers are compared. Server CPU is read from the backend
process's /proc stat (the database is on this machine), client CPU from this thread.

The archive is `bench_search.py`'s (same generator, same seed) stored through the archive's
store path into a database of its own, `morgue_bench_<n>` (kept between runs), and indexed.

    .venv/bin/python bench/bench_search_count_pg.py [--n 20000] [--reps 50] [WORD ...]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from bench_search import _put, article, text_pool

from archive.backends.catalog import COUNT_CAP, Filters
from archive.backends.catalog_pg import PgCatalog
from archive.backends.catalog_pg_read import fts_to_tsquery
from archive.backends.storage import Storage
from archive.ftsquery import to_fts
from archive.query import ArchiveReader
from archive.store import Archive

OUT = Path(__file__).resolve().parent / "out"
ADMIN = os.environ.get("MORGUE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
WORDS = ["said", "people", "would", "government", "police", "minister"]


def build(n: int, seed: int) -> str:
    name = f"morgue_bench_{n}"
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    root = OUT / f"search-pg-{n}"
    if (root / "BUILT").exists():
        return url
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    pool = text_pool(seed)
    rng = random.Random(seed)
    started = time.perf_counter()
    storage = Storage(catalog=url)
    with Archive.open(root, durable=False, storage=storage) as arch:
        for i in range(n):
            _put(arch, article(i, 1, pool, rng))
            if i % 10 == 9:  # as bench_search: one in ten changes later
                _put(arch, article(i, 2, pool, random.Random(seed * 1000 + i)))
    with ArchiveReader(Archive.open(root, storage=storage)) as reader:
        reader.refresh()
    (root / "BUILT").write_text(f"{n}\n")
    print(f"archive: {n:,} articles stored and indexed in {time.perf_counter() - started:,.0f} s")
    return url


def server_cpu(cat: PgCatalog) -> float:
    """CPU seconds of the pool's one server process so far."""
    pid = cat._scalar("SELECT pg_backend_pid()")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def old_search(cat: PgCatalog, fts: str) -> tuple[list[Any], int, bool]:
    """The statement an unfiltered search ran before migration 12 (the filtered one's)."""
    rows, total, exact = cat._search_filtered(fts_to_tsquery(fts), Filters(), 20, 0)
    return rows, total, exact


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("words", nargs="*", default=WORDS)
    args = parser.parse_args()
    url = build(args.n, 12)
    from psycopg_pool import ConnectionPool

    pool: ConnectionPool = ConnectionPool(url, min_size=1, max_size=1, kwargs={"autocommit": True})
    cat = PgCatalog(url, root=OUT / f"search-pg-{args.n}", pool=pool)
    for word in args.words:
        fts = to_fts(word)
        cpu = {"old": 0.0, "new": 0.0}  # summed: /proc counts in clock ticks (10 ms)
        answers = {}
        for _ in range(args.reps):  # alternately: the machine's load falls on both alike
            for kind in ("old", "new"):
                s, c = server_cpu(cat), time.thread_time()
                if kind == "new":
                    answers[kind] = cat.search_rows(fts, Filters(), 20, 0)[:3]
                else:
                    answers[kind] = old_search(cat, fts)
                cpu[kind] += time.thread_time() - c + server_cpu(cat) - s
        assert answers["old"] == answers["new"], word
        per = {k: v * 1000 / args.reps for k, v in cpu.items()}
        total, exact = answers["new"][1], answers["new"][2]
        print(
            f"{word:12} {total:6,}{'' if exact else '+'} articles (cap {COUNT_CAP:,}):"
            f" before {per['old']:6.2f} ms, after {per['new']:6.2f} ms CPU a search"
            f" (client + server) | {per['old'] / max(per['new'], 1e-6):4.2f}x"
        )
    cat.close()
    pool.close()


if __name__ == "__main__":
    main()
