"""The CPU (client + server) and wall time of a search on PostgreSQL over `bench_search.py`'s 20
queries, through the catalog (`PgCatalog.search_rows`: the statement, its plan, the rows), with
the plan each query got. For an A/B run of two versions of the code: run it from each worktree
against a database of its own, alternately, each run writing its samples (`--out`), then
compare them (`--compare A.json B.json`: p50, p95 and the ratio).

    .venv/bin/python bench/bench_search_plan_pg.py --db NAME [--reps 10] [--fresh] --out A.json
    .venv/bin/python bench/bench_search_plan_pg.py --compare BASE.json NEW.json ...

The database is `bench_search_count_pg.py`'s (`morgue_bench_<n>`) or a copy of it; the copies
that stand for a catalog just indexed in bulk (the search table's rows inserted after its GIN
index, no ANALYZE: what a build, an upgrade's first read or a rebuild leaves) are made by
`--unsettled COPY` from it, before any code opens them. `--fresh` never prepares a statement (a
CLI search, planned with its words); by default psycopg prepares a statement on its fifth run
and the server may then plan it once for any words (a long-running `morgue serve`). Server CPU
is read from the backend's /proc stat (the server is on this machine), in 10 ms ticks: summed
over a query's runs, then divided.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import psycopg
from bench_search import queries, text_pool

ADMIN = os.environ.get("MORGUE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SOURCE_DB = "morgue_bench_20000"


def url_of(db: str) -> str:
    return ADMIN.rsplit("/", 1)[0] + "/" + db


def unsettle(copy: str) -> None:
    """`copy` made from SOURCE_DB with its search table refilled as a bulk index leaves it."""
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{SOURCE_DB}"')
    with psycopg.connect(url_of(copy), autocommit=True) as conn, conn.transaction():
        conn.execute("CREATE TABLE refill AS SELECT * FROM archive_search_meta")
        conn.execute("TRUNCATE archive_search_meta")  # new relation: no statistics, no pages
        # in the order a refresh indexes them (one insert per version, index in place)
        conn.execute("INSERT INTO archive_search_meta SELECT * FROM refill ORDER BY fetched_at")
        conn.execute("DROP TABLE refill")
        # and no statistics, as for a table never analyzed (a superuser's bench database)
        conn.execute(
            "DELETE FROM pg_statistic WHERE starelid IN ('archive_search_meta'::regclass,"
            " 'archive_search_multi'::regclass, 'archive_search_authors'::regclass)"
        )
        # at most the schema of the oldest code compared: a newer one applies its migrations
        conn.execute("UPDATE archive_info SET value = '13' WHERE key = 'schema'")


def server_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def plan_of(row: Any) -> str:
    """The nodes that test a tsvector against the query, e.g. "Bitmap Index Scan", in an
    EXPLAIN (FORMAT JSON) answer."""
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if "@@" in node.get("Index Cond", "") + node.get("Filter", ""):
            found.append(node["Node Type"])
        for child in node.get("Plans", ()):
            walk(child)

    walk(row[0][0]["Plan"] if row else {})
    return "+".join(found)


def run(db: str, reps: int, fresh: bool) -> dict[str, Any]:
    from psycopg_pool import ConnectionPool

    from archive.backends.catalog_pg import PgCatalog
    from archive.filters import make_filters
    from archive.ftsquery import parse

    kwargs: dict[str, Any] = {"autocommit": True}
    if fresh:
        kwargs["prepare_threshold"] = None
    url = url_of(db)
    pool: ConnectionPool = ConnectionPool(url, min_size=1, max_size=1, kwargs=kwargs)
    cat = PgCatalog(url, root=Path("/tmp") / f"bench-plan-{db}", pool=pool)
    import archive

    print(f"code: {Path(archive.__file__).parent.parent}")
    with pool.connection() as conn:
        pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
        schema = conn.execute("SELECT value FROM archive_info WHERE key = 'schema'").fetchone()
    qs = [(q, parse(q)[0], make_filters(**f), f) for q, f in queries(text_pool(12), 12)]
    explained: list[str] = []
    explain = False
    rows = cat._rows

    def recording(sql: str, args: Any = ()) -> list[tuple[Any, ...]]:
        if explain:  # as sent: on its connection, in its transaction and settings
            explained.append(plan_of(rows("EXPLAIN (FORMAT JSON) " + sql, args)[0]))
        return rows(sql, args)

    cat._rows = recording  # type: ignore[method-assign]
    cpu = [0.0] * len(qs)
    wall: list[list[float]] = [[] for _ in qs]
    totals = [0] * len(qs)
    for _ in range(reps):  # round robin: the statement's plan cache sees a mix of words
        for i, (_, fts, filters, _) in enumerate(qs):
            s, c, w = server_cpu(pid), time.thread_time(), time.perf_counter()
            _, totals[i], *_ = cat.search_rows(fts, filters, 20, 0)
            wall[i].append((time.perf_counter() - w) * 1000)
            cpu[i] += time.thread_time() - c + server_cpu(pid) - s
    plans = []
    explain = True
    for _, fts, filters, _ in qs:
        cat.search_rows(fts, filters, 20, 0)
        plans.append(explained[-1])
    cat.close()
    pool.close()
    return {
        "db": db,
        "schema": schema[0] if schema else None,
        "fresh": fresh,
        "queries": [
            {
                "query": q,
                "filters": f,
                "total": totals[i],
                "cpu_ms": cpu[i] * 1000 / reps,
                "wall_ms": wall[i],
                "plan": plans[i],
            }
            for i, (q, _, _, f) in enumerate(qs)
        ],
    }


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def compare(paths: list[str]) -> None:
    """Runs named by file: those whose name has "base" against the others, per query and
    over all (p50 and p95 of the per-query CPU means and of every wall sample)."""
    runs = [json.loads(Path(p).read_text()) | {"name": Path(p).name} for p in paths]
    groups = {
        "base": [r for r in runs if "base" in r["name"]],
        "new": [r for r in runs if "base" not in r["name"]],
    }
    per: dict[str, dict[str, list[float]]] = {}
    for kind, group in groups.items():
        cpu = [q["cpu_ms"] for r in group for q in r["queries"]]
        wall = [w for r in group for q in r["queries"] for w in q["wall_ms"]]
        per[kind] = {"cpu": cpu, "wall": wall}
        print(
            f"{kind:4} ({len(group)} runs): CPU a search p50 {pct(cpu, 0.5):6.2f} ms,"
            f" p95 {pct(cpu, 0.95):6.2f} ms | wall p50 {pct(wall, 0.5):6.2f} ms,"
            f" p95 {pct(wall, 0.95):6.2f} ms"
        )
    b, n = per["base"], per["new"]
    print(
        "base/new: CPU p50 {:.2f}x p95 {:.2f}x, wall p50 {:.2f}x p95 {:.2f}x".format(
            pct(b["cpu"], 0.5) / pct(n["cpu"], 0.5),
            pct(b["cpu"], 0.95) / pct(n["cpu"], 0.95),
            pct(b["wall"], 0.5) / pct(n["wall"], 0.5),
            pct(b["wall"], 0.95) / pct(n["wall"], 0.95),
        )
    )
    base0, new0 = groups["base"][0]["queries"], groups["new"][0]["queries"]
    for i, q in enumerate(base0):
        bc = sum(r["queries"][i]["cpu_ms"] for r in groups["base"]) / len(groups["base"])
        nc = sum(r["queries"][i]["cpu_ms"] for r in groups["new"]) / len(groups["new"])
        assert q["total"] == new0[i]["total"], q["query"]  # the same answers
        print(
            f"  {q['query'][:22]:22} {str(q['filters'] or '')[:38]:38} {q['total']:6}"
            f" base {bc:7.2f} ms {q['plan']:24} new {nc:7.2f} ms {new0[i]['plan']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db")
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--out")
    parser.add_argument("--unsettled", metavar="COPY")
    parser.add_argument("--compare", nargs="+")
    args = parser.parse_args()
    if args.unsettled:
        unsettle(args.unsettled)
    elif args.compare:
        compare(args.compare)
    else:
        result = run(args.db, args.reps, args.fresh)
        Path(args.out).write_text(json.dumps(result))
        cpu = [q["cpu_ms"] for q in result["queries"]]
        print(f"{args.db} schema {result['schema']}: CPU p50 {pct(cpu, 0.5):.2f} ms")


if __name__ == "__main__":
    main()
