"""Ranking quality of `ArchiveReader.search` against the exact bm25 ranking over every match.

The search ranks a bounded candidate set (`archive.backends.catalog_sqlite_search`); this
measures what that costs in quality. For each query (the 20 of `bench_search.py` and more:
very common and rare words, AND of two words, phrases, prefixes, OR, -word, filtered), the
exact ranking is computed here the slow way: bm25 (the same weights) of EVERY matching
version, the filters applied to each, each article at its best version, best first (of equal
scores the newest version first). Then, for the search's first 10 hits:

- overlap@10: the share of the exact top 10 articles the search's top 10 holds (recall@10);
- NDCG@10: graded by each article's exact score (its best version's), against the exact top
  10's (1.0: the search's ten are as good as the exact ten, in the right order).

Run it with the code of any tree (`--code`) on one archive, to compare a branch with its base:

    .venv/bin/python bench/bench_search_quality.py --n 100000 [--code ../wt-base] [--json out]
"""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TOP = 10


def extra_queries(pool: list[str], seed: int) -> list[tuple[str, dict[str, str]]]:
    """Queries besides the bench's: the most common words, rare ones, ANDs, ORs, prefixes."""
    import collections
    import random

    from bench_search import _WORD

    counts = collections.Counter(w.lower() for p in pool for w in _WORD.findall(p))
    ranked = [w for w, _ in counts.most_common() if len(w) > 3]
    rng = random.Random(seed + 1)
    phrases: list[str] = []
    while len(phrases) < 3:
        found = _WORD.findall(rng.choice(pool))
        if len(found) > 4:
            k = rng.randrange(len(found) - 1)
            phrases.append(f'"{found[k]} {found[k + 1]}"')
    return [
        (ranked[0], {}),
        (ranked[3], {}),
        (ranked[10], {}),
        (ranked[20], {}),
        (ranked[50], {}),
        (ranked[5000], {}),
        (ranked[min(15000, len(ranked) - 1)], {}),
        (f"{ranked[40]} {ranked[70]}", {}),
        (f"{ranked[10]} {ranked[500]}", {}),
        (f"{ranked[5]} OR {ranked[15]}", {}),
        (f"{ranked[2]} -{ranked[8]}", {}),
        (ranked[40][:3] + "*", {}),
        (ranked[90][:5] + "*", {}),
        *[(p, {}) for p in phrases],
        (ranked[4], {"source": "source2"}),
        (ranked[12], {"since": "2025-02-01", "until": "2026-06-30"}),
        (ranked[25], {"section": "politics"}),
    ]


def exact_top(
    db: sqlite3.Connection, fts: str, filters: dict[str, str], bm25: str
) -> list[tuple[str, float]]:
    """Every article matching, at its best version's bm25, best first: (id, score)."""
    from archive.filters import make_filters

    made = make_filters(**filters)
    where, args = "", []
    for value, clause in (
        (made.source, " AND m.source = ?"),
        (made.since, " AND m.day >= ?"),
        (made.until, " AND m.day <= ?"),
        (made.author, " AND instr(m.authors_key, ?) > 0"),
        (made.section, " AND m.section_key = ?"),
    ):
        if value is not None:
            where += clause
            args.append(value)
    rows = db.execute(
        f"SELECT f.rowid, m.article_id, {bm25} FROM archive_fts f"
        " JOIN archive_search_meta m ON m.doc = f.rowid WHERE archive_fts MATCH ?" + where,
        (fts, *args),
    ).fetchall()
    best: dict[str, tuple[float, int]] = {}
    for doc, article_id, rank in rows:
        kept = best.get(article_id)
        if kept is None or (rank, -doc) < (kept[0], -kept[1]):
            best[article_id] = (rank, doc)
    ordered = sorted(best.items(), key=lambda item: (item[1][0], -item[1][1]))
    return [(article_id, -rank) for article_id, (rank, _) in ordered]


def ndcg(found: list[str], exact: list[tuple[str, float]]) -> float:
    score = dict(exact)
    ideal = [s for _, s in exact[:TOP]]
    dcg = sum(score.get(a, 0.0) / math.log2(i + 2) for i, a in enumerate(found[:TOP]))
    idcg = sum(s / math.log2(i + 2) for i, s in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--root", type=Path, help="the archive (default bench/out/search-N)")
    parser.add_argument("--code", type=Path, help="the tree whose `archive` package searches")
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--json", type=Path, help="write the per-query figures here")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=N",
        help="set a constant of the SQLite search module (to try other windows)",
    )
    args = parser.parse_args()
    sys.path.insert(0, str((args.code or HERE.parent).resolve()))
    import archive.query

    # after `archive`: bench_search puts this tree first on the path when it is imported
    sys.path.insert(1, str(HERE))
    from bench_search import queries, text_pool

    from archive.backends import catalog_sqlite_search
    from archive.backends.catalog_schema import FTS_WEIGHTS
    from archive.ftsquery import to_fts
    from archive.query import ArchiveReader

    for setting in args.set:
        name, value = setting.split("=")
        setattr(catalog_sqlite_search, name, int(value))
    print(f"searching with {Path(archive.query.__file__).parent.parent} {' '.join(args.set)}")
    root = args.root or HERE / "out" / f"search-{args.n}"
    pool = text_pool(args.seed)
    qs = queries(pool, args.seed) + extra_queries(pool, args.seed)
    bm25 = f"bm25(archive_fts, {FTS_WEIGHTS})"
    db = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    reader = ArchiveReader.open(root)
    reader.refresh()
    out: list[dict[str, Any]] = []
    for query, filters in qs:
        exact = exact_top(db, to_fts(query), filters, bm25)
        reader.search(query, **filters, limit=TOP)  # type: ignore[arg-type]
        times = []
        for _ in range(3):  # CPU time (the machine may be shared), the least of three
            t = time.thread_time()
            res = reader.search(query, **filters, limit=20)  # type: ignore[arg-type]
            times.append((time.thread_time() - t) * 1000)
        ms = min(times)
        found = [h.id for h in res.hits[:TOP]]
        want = {a for a, _ in exact[:TOP]}
        overlap = len(want & set(found)) / min(TOP, len(exact)) if exact else 1.0
        row = {
            "query": query,
            "filters": filters,
            "matches": len(exact),
            "overlap": overlap,
            "ndcg": ndcg(found, exact),
            "ms": ms,
        }
        out.append(row)
        print(
            f"  {row['matches']:>7,} articles  overlap@10 {overlap:4.2f}  NDCG@10"
            f" {row['ndcg']:.3f}  {ms:6.1f} ms CPU  {query} {filters or ''}"
        )
    reader.close()
    n = len(out)
    many = [r for r in out if r["matches"] > 1000]
    print(
        f"{n} queries: mean overlap@10 {sum(r['overlap'] for r in out) / n:.3f},"
        f" mean NDCG@10 {sum(r['ndcg'] for r in out) / n:.4f},"
        f" worst overlap {min(r['overlap'] for r in out):.2f},"
        f" mean CPU {sum(r['ms'] for r in out) / n:.2f} ms"
    )
    if many:
        print(
            f"  the {len(many)} matching over 1,000 articles: mean overlap@10"
            f" {sum(r['overlap'] for r in many) / len(many):.3f}, mean NDCG@10"
            f" {sum(r['ndcg'] for r in many) / len(many):.4f}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
