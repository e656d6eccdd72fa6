"""The CPU of counting a search's articles on a built search archive (`bench_search.py`'s):
the distinct count of every match joined to its article (`SqliteSearch._count`, what an
unfiltered search ran up to schema 7) against the count from the matching docs and those of
multi-version articles (`_count_all`, schema 8), alternately in one process on one catalog.

    .venv/bin/python bench/bench_search_count.py [--n 20000] [--reps 40] [WORD ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archive.backends.catalog_sqlite import SqliteCatalog
from archive.backends.catalog_sqlite_search import SqliteSearch
from archive.ftsquery import to_fts

OUT = Path(__file__).resolve().parent / "out"
WORDS = ["said", "people", "would", "government", "police", "minister"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("words", nargs="*", default=WORDS)
    args = parser.parse_args()
    cat = SqliteCatalog(OUT / f"search-{args.n}" / "catalog.sqlite", read_only=True, mapped=True)
    search = SqliteSearch(cat.db)
    for word in args.words:
        fts = to_fts(word)
        docs = search._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts)
        old_ms: list[float] = []
        new_ms: list[float] = []
        docs_ms: list[float] = []
        for _ in range(args.reps):  # alternately: the machine's load falls on both alike
            c = time.thread_time()
            old = search._count(fts, "", [])
            old_ms.append((time.thread_time() - c) * 1000)
            c = time.thread_time()
            new = search._count_all(fts, docs)
            new_ms.append((time.thread_time() - c) * 1000)
            c = time.thread_time()
            search._scalar("SELECT count(*) FROM archive_fts WHERE archive_fts MATCH ?", fts)
            docs_ms.append((time.thread_time() - c) * 1000)
        assert old == new, (word, old, new)
        med = [sorted(v)[len(v) // 2] for v in (old_ms, new_ms, docs_ms)]
        print(
            f"{word:12} {docs:6,} docs, {new[0]:6,} articles{'' if new[1] else '+'}:"
            f" distinct count {med[0]:6.2f} ms, from docs {med[1]:6.2f} ms"
            f" (+ the docs' count the search already made {med[2]:5.2f} ms)"
            f" | {med[0] / max(med[1], 1e-6):5.1f}x"
        )
    cat.close()


if __name__ == "__main__":
    main()
