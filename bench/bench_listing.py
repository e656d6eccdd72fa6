"""The CPU of a listing page (`ArchiveReader.listing`: the count and the 20 newest articles)
by filter, on `bench_search.py`'s archive (`bench/out/search-<n>`, built by it).

Run it in two worktrees (a base and a change, each on its own copy of the archive) one after
the other, several times alternately: the machine's load then falls on both alike. Also prints
each listing's query plans (EXPLAIN QUERY PLAN), with --plans.

    .venv/bin/python bench/bench_listing.py [--n 20000] [--reps 30] [--plans]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.query import ArchiveReader

OUT = Path(__file__).resolve().parent / "out"
LISTINGS: list[dict[str, Any]] = [
    {},
    {"source": "source4"},
    {"section": "sport"},
    {"section": "sport", "source": "source4"},
    {"source": "source4", "since": "2025-01-01", "until": "2025-12-31"},
    {"author": "author 7"},
    {"section": "business", "since": "2025-03-01"},
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    reader = ArchiveReader.open(OUT / f"search-{args.n}")
    reader.refresh()
    db: sqlite3.Connection = reader.catalog.db  # type: ignore[attr-defined]
    schema = db.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()[0]
    print(f"schema {schema}, {args.reps} reps, median CPU ms per listing page")
    for filters in LISTINGS:
        page = reader.listing(**filters)  # warm
        cpu = []
        for _ in range(args.reps):
            c = time.thread_time()
            page = reader.listing(**filters)
            cpu.append((time.thread_time() - c) * 1000)
        ids = [h.id for h in page.hits]
        print(
            f"  {sorted(cpu)[len(cpu) // 2]:6.2f} ms {page.total:>6,} articles"
            f" first {ids[0] if ids else '-'} {filters or '(home)'}"
        )
        if args.plans:
            statements: list[str] = []
            db.set_trace_callback(statements.append)
            reader.listing(**filters)
            db.set_trace_callback(None)
            for q in statements:
                if "FROM archive_search_meta m" in q:
                    plan = [str(r[-1]) for r in db.execute("EXPLAIN QUERY PLAN " + q)]
                    print("      " + " | ".join(plan))
    reader.close()


if __name__ == "__main__":
    main()
