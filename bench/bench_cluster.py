"""Cluster benchmark: 1, 2 and 3 `morgue worker` processes on one PostgreSQL catalog.

Phase "crawl": a server on 127.0.0.1 serves `--hosts` virtual hosts of the test news site
(tests/cluster_support.py), each with `--per-host` articles and a robots.txt asking for
`--delay` seconds between requests. For N = 1, 2, 3 workers (a fresh database each), one crawl
job per worker is queued for the one source that spans every host, and the run ends when the
jobs have. Reported per N: articles stored per second of wall time; CPU per article of the
workers and their parsing processes (user+sys, /proc, from the jobs' queuing to their end:
not the workers' start) and of
the PostgreSQL backends serving the database;
PostgreSQL transactions per article (pg_stat_database, every backend: catalog, frontier,
leases, queue); the p95 of the time a request waited for its host lease; the shortest gap
between two requests to one host as the server saw them; and the polite-rate ratio: the time
politeness alone would need (the busiest host's distinct paths, less one, times the delay) over
the time taken; and how many paths were requested more than once (each is fetched once per run).
Peer: 1 worker, measured in the same run.

Phase "rebuild": `--rebuild-pages` pages are stored in a PostgreSQL archive with the real
parser, then `rebuild_share` jobs re-parse all of them with 1 worker, then with 2 (two shares);
reported as pages/s and the 2-worker speedup over 1.

    .venv/bin/python bench/bench_cluster.py                       # 200 hosts x 3, 10,000 pages
    .venv/bin/python bench/bench_cluster.py --hosts 50 --rebuild-pages 2000

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth), as the tests do.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ADMIN = os.environ.get("MORGUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def _descendants(pid: int) -> list[int]:
    """`pid` and the processes it started, theirs included, still running (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                todo += [int(child) for child in task.read_text().split()]
            except OSError:
                continue
    return found


def _procs_cpu(procs: list[subprocess.Popen[bytes]]) -> float:
    """CPU seconds (user + system) the running processes and theirs (a worker's parsing
    processes) used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in [p for proc in procs for p in _descendants(proc.pid)]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


class BackendsCpu:
    """CPU seconds of the PostgreSQL backends serving one database (PostgreSQL on this
    machine, Linux /proc), sampled every 0.1 s in a thread: a crawl job's connections open
    and close within the job, so a reading before and one after would see none of them. What
    a backend used after its last sample before it ended is missed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> BackendsCpu:
        self._sample(first=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(cpu - self._first.get(pid, 0.0) for pid, cpu in self._last.items())

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self._sample()

    def _sample(self, *, first: bool = False) -> None:
        with _admin() as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.name,)
            ).fetchall()
        tick = os.sysconf("SC_CLK_TCK")
        for (pid,) in rows:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            cpu = (int(fields[11]) + int(fields[12])) / tick
            self._last[int(pid)] = cpu
            if first:
                self._first[int(pid)] = cpu


def _pyspy(pid: int) -> subprocess.Popen[bytes] | None:
    """With BENCH_PYSPY=FILE, sample the first worker with py-spy (raw format) until the jobs
    end (BENCH_PYSPY_BIN: the py-spy executable)."""
    out = os.environ.get("BENCH_PYSPY")
    if not out:
        return None
    spy = os.environ.get("BENCH_PYSPY_BIN", "py-spy")
    return subprocess.Popen(
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "-o",
            out,
            "--rate",
            "100",
            *os.environ.get("BENCH_PYSPY_ARGS", "").split(),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _admin() -> Any:
    import psycopg

    return psycopg.connect(ADMIN, autocommit=True)


def _create_db() -> tuple[str, str]:
    name = f"morgue_bench_{uuid.uuid4().hex[:10]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop_db(name: str) -> None:
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _transactions(name: str) -> int:
    with _admin() as conn:
        row = conn.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def _db_size(name: str) -> int:
    with _admin() as conn:
        row = conn.execute("SELECT pg_database_size(%s)", (name,)).fetchone()
    return int(row[0]) if row else 0


def _start_workers(config: Path, count: int, out: Path) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", str(config), str(out / f"w{n}.json")],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=(out / f"w{n}.log").open("wb"),
        )
        for n in range(count)
    ]


def _stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for proc in workers:
        proc.terminate()
    for proc in workers:
        proc.wait(120)


def _wait(config: Any, ids: list[int], logs: Path) -> None:
    from scraper.cluster.queue import job_states

    while True:
        states = job_states(config, ids)
        if len(states) == len(ids) and all(s not in ("todo", "doing") for s in states.values()):
            if set(states.values()) != {"succeeded"}:
                # the workers' logs live in the run's temporary folder: show why before it goes
                tails = "".join(
                    f"\n--- {log.name}\n" + log.read_text(errors="replace")[-3000:]
                    for log in sorted(logs.glob("w*.log"))
                )
                raise SystemExit(f"jobs failed: {states}{tails}")
            return
        time.sleep(0.5)


def _ready(name: str, workers: int) -> None:
    """Wait until `workers` workers have started and sent a heartbeat: their start (Python
    imports, connecting) is not part of the work measured."""
    import psycopg

    deadline = time.monotonic() + 120
    conninfo = ADMIN.rsplit("/", 1)[0] + "/" + name
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(conninfo, autocommit=True) as conn:
                row = conn.execute("SELECT COUNT(*) FROM procrastinate_workers").fetchone()
            if row and int(row[0]) >= workers:
                return
        except psycopg.errors.UndefinedTable:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{workers} worker(s) did not start within 120 s")


def _job_span(name: str, ids: list[int]) -> float:
    """Seconds from the first job's defer to the last job's end, on the database's clock (the
    bench's own polling for the end is not part of it)."""
    import psycopg

    conninfo = ADMIN.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = conn.execute(
            "SELECT extract(epoch FROM MAX(at) FILTER (WHERE type = 'succeeded')"
            " - MIN(at) FILTER (WHERE type = 'deferred'))::double precision"
            " FROM procrastinate_events WHERE job_id = ANY(%s)",
            (ids,),
        ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


def _gap_breakdown(hits: dict[str, list[Any]], logs: list[list[list[Any]]], delay: float) -> str:
    """Where each gap between two requests to a host went, from the workers' lease logs
    (host, first ask, granted start, response end: `StickyHostGate.log`) and the server's
    arrivals, all on the machine's monotonic clock: the previous response's time (arrival to
    its end at the client), the grant's lateness after that end plus the delay (the margin,
    or an ask that came late), the request's lateness after its grant (the worker's event
    loop, the server's thread), and how long a host had no request waiting for it (asked
    after the previous response ended: the crawl had not started its next URL)."""
    by_host: dict[str, list[tuple[float, float, float]]] = {}
    for log in logs:
        for host, asked, planned, ended in log:
            by_host.setdefault(host, []).append((asked, planned, ended))
    parts: dict[str, list[float]] = {"response": [], "grant": [], "send": [], "idle": []}
    unmatched = 0
    for host, hs in hits.items():
        leases = sorted(by_host.get(host, []), key=lambda x: x[1])
        arrivals = sorted(h.at for h in hs)
        if len(leases) != len(arrivals):
            unmatched += 1
            continue
        for (at0, (_, _, end0)), (at1, (asked1, planned1, _)) in itertools.pairwise(
            zip(arrivals, leases, strict=True)
        ):
            parts["response"].append(end0 - at0)
            parts["grant"].append(planned1 - (end0 + delay))
            parts["send"].append(at1 - planned1)
            parts["idle"].append(max(0.0, asked1 - end0))
    text = "; ".join(
        f"{k} {_pct(v, 0.5):.3f}/{_pct(v, 0.9):.3f}/{_mean(v):.3f}" for k, v in parts.items() if v
    )
    return text + (f"; {unmatched} host(s) unmatched" if unmatched else "")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))] if ordered else 0.0


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))] if ordered else 0.0


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def crawl_run(
    workers: int,
    hosts: int,
    per_host: int,
    delay: float,
    concurrency: int,
    keep_logs: Path | None = None,
    stagger: float = 0.0,
    pause: tuple[float, float] | None = None,
) -> dict[str, Any]:
    from archive.store import Archive
    from scraper.cluster.queue import defer_crawl
    from scraper.config import load_config
    from tests.cluster_support import ManyHosts, ManyHostsServer, cluster_config

    name, url = _create_db()
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            ManyHostsServer(
                ManyHosts(hosts=hosts, articles_per_host=per_host, crawl_delay=delay)
            ) as many,
        ):
            path = cluster_config(
                many, Path(tmp) / "data", url, Path(tmp) / "cluster.yaml", concurrency=concurrency
            )
            config = load_config(path)
            out = Path(tmp)
            procs = _start_workers(path, workers, out)
            _ready(name, workers)
            # the workers' CPU from here to the jobs' end: not their start (imports, connecting,
            # about 1 s each) nor their exit, which no crawl's pages pay for
            cpu0, tx0 = _procs_cpu(procs), _transactions(name)
            spy = _pyspy(procs[0].pid)
            with BackendsCpu(name) as backends:
                queued = time.monotonic()
                # a late start of all workers but the first: stopped (SIGSTOP) as the jobs are
                # queued, they take theirs `stagger` seconds after it took its own
                late = procs[1:] if stagger > 0 else []
                for proc in late:
                    os.kill(proc.pid, signal.SIGSTOP)
                ids = defer_crawl(config, ["cluster"], max_pages=None, spread=workers)
                if late:
                    time.sleep(stagger)
                    for proc in late:
                        os.kill(proc.pid, signal.SIGCONT)
                if pause is not None:  # a stalled worker: the first stops, then runs again
                    threading.Timer(pause[0], os.kill, (procs[0].pid, signal.SIGSTOP)).start()
                    threading.Timer(sum(pause), os.kill, (procs[0].pid, signal.SIGCONT)).start()
                _wait(config, ids, out)
                cpu = _procs_cpu(procs) - cpu0
                ended = time.monotonic()
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            pg_cpu = backends.seconds
            wall = _job_span(name, ids)
            tx = _transactions(name) - tx0
            _stop_workers(procs)
            if keep_logs is not None:  # the workers' logs outlive the run's folder
                keep_logs.mkdir(parents=True, exist_ok=True)
                for n in range(workers):
                    for suffix in ("log", "json"):
                        kept = keep_logs / f"{name}-w{n}.{suffix}"
                        kept.write_bytes((out / f"w{n}.{suffix}").read_bytes())
            states = [json.loads((out / f"w{n}.json").read_text()) for n in range(workers)]
            waits = sorted(w for st in states for w in st["lease_waits"])
            timings: dict[str, list[float]] = {}
            for st in states:
                for key, values in st["timings"].items():
                    timings.setdefault(key, []).extend(values)
            with Archive.open(Path(tmp) / "data", storage=config.storage) as arch:
                stored = arch.catalog.count_articles()
            hits = many.hits()
            gaps = [
                b - a
                for hs in hits.values()
                for a, b in itertools.pairwise(sorted(h.at for h in hs))
            ]
            # a path asked for more than once: the crawl fetched a URL twice (every URL of
            # the site is fetched once per run), or the server answered a request so late
            # that the client gave up and asked again (then `closest` shows the pair)
            repeated = sum(
                1 for hs in hits.values() for n in Counter(h.path for h in hs).values() if n > 1
            )
            # those by kind of path (robots.txt, feed, article)
            repeated_kinds = Counter(
                "robots"
                if path == "/robots.txt"
                else "article"
                if path.startswith("/news/")
                else "feed"
                for hs in hits.values()
                for path, n in Counter(h.path for h in hs).items()
                if n > 1
            )
            # per worker, its longest pause between two request starts (a stalled worker)
            pauses = []
            for st in states:
                starts = sorted(entry[2] for entry in st.get("lease_log", []))
                pauses.append(max((b - a for a, b in itertools.pairwise(starts)), default=0.0))
            # the closest two requests to one host: the same path twice is a request the
            # server answered late (after the client gave up and asked again), not two sends
            closest = min(
                (
                    (b.at - a.at, host, a.path, b.path, a.status, b.status)
                    for host, hs in hits.items()
                    for a, b in itertools.pairwise(sorted(hs, key=lambda h: h.at))
                ),
                default=None,
            )
            # when each host's n-th request came, from the crawl's first request: where a
            # host's turns slipped behind its delay (printed with --timings)
            t0 = min(h.at for hs in hits.values() for h in hs)
            per_index: dict[int, list[float]] = {}
            for hs in hits.values():
                for i, at in enumerate(sorted(h.at for h in hs)):
                    per_index.setdefault(i, []).append(at - t0)
            turns = [
                f"#{i} median {sorted(ats)[len(ats) // 2]:.2f} p95 {_p95(ats):.2f}"
                for i, ats in sorted(per_index.items())
            ]
            # the requests a polite crawl needs: each path once (a path fetched twice would
            # raise the ratio while it slowed the crawl)
            # server-side gaps between a host's consecutive requests: robots.txt -> feed,
            # feed -> first article, and between articles (p10 / p50 / p90)
            steps: dict[str, list[float]] = {"feed": [], "first article": [], "articles": []}
            for hs in hits.values():
                ordered = sorted(hs, key=lambda h: h.at)
                for a, b in itertools.pairwise(ordered):
                    kind = (
                        "feed"
                        if not b.path.startswith("/news/")
                        else "articles"
                        if a.path.startswith("/news/")
                        else "first article"
                    )
                    steps[kind].append(b.at - a.at)
            gap_text = "; ".join(
                f"{kind} p10 {_pct(v, 0.1):.3f} p50 {_pct(v, 0.5):.3f} p90 {_pct(v, 0.9):.3f}"
                for kind, v in steps.items()
                if v
            )
            breakdown = _gap_breakdown(hits, [st.get("lease_log", []) for st in states], delay)
            # a host's requests sent by one worker after another's (a hand-over): the gap
            # from the previous request's start, in the workers' logs (one monotonic clock)
            sends: dict[str, list[tuple[float, int]]] = {}
            for n, st in enumerate(states):
                for host, _asked, started, _ended in st.get("lease_log", []):
                    sends.setdefault(host, []).append((started, n))
            handovers = sorted(
                b[0] - a[0]
                for ss in sends.values()
                for a, b in itertools.pairwise(sorted(ss))
                if a[1] != b[1]
            )
            # per worker: the hosts it sent to, and its requests (a host handed over counts
            # for both workers)
            served = [
                (len({entry[0] for entry in st.get("lease_log", [])}), len(st.get("lease_log", [])))
                for st in states
            ]
            busiest = max(len({h.path for h in hs}) for hs in hits.values())
            times = [h.at for hs in hits.values() for h in hs]
            span = max(times) - min(times)
            # where the wall time outside the server's span went (bench clock, so the end is
            # late by up to one poll of the jobs' states)
            before_first, after_last = min(times) - queued, ended - max(times)
    finally:
        _drop_db(name)
    return {
        "span_s": span,
        "breakdown": breakdown,
        "turns": "; ".join(turns),
        "gaps": gap_text,
        # every host could have had its first request when the crawl's first request went
        # out: politeness alone needs the busiest host's gaps, over the span the server saw
        "polite_ratio_span": (busiest - 1) * delay / span,
        **{f"{key}_mean": _mean(values) for key, values in timings.items()},
        **{f"{key}_p95": _p95(values) for key, values in timings.items()},
        "workers": workers,
        "articles": stored,
        "wall_s": wall,
        "articles_per_s": stored / wall,
        "cpu_ms_per_article": 1000 * cpu / stored,
        "pg_cpu_ms_per_article": 1000 * pg_cpu / stored,
        "before_first_s": before_first,
        "after_last_s": after_last,
        "pg_tx_per_article": tx / stored,
        "lease_wait_p95_s": _p95(waits),
        "min_gap_s": min(gaps),
        "closest": repr(closest),
        "repeated_paths": repeated,
        "repeated_kinds": dict(repeated_kinds),
        "pauses": pauses,
        "polite_ratio": (busiest - 1) * delay / wall,
        "hosts_per_worker": " ".join(f"{h} hosts/{r} requests" for h, r in served)
        + (
            f"; {len(handovers)} hand-overs, gap from the previous request's start p50"
            f" {_pct(handovers, 0.5):.3f} p90 {_pct(handovers, 0.9):.3f} max {handovers[-1]:.3f} s"
            if handovers
            else "; no hand-over"
        ),
    }


def rebuild_run(pages: int) -> dict[str, float]:
    from archive.backends.storage import Storage
    from archive.store import Archive
    from scraper.cli.archive_cmds import SourceParser
    from scraper.cluster.queue import defer
    from scraper.config import load_config
    from tests.archive_support import T0, article_html, make_page, paragraphs

    name, url = _create_db()
    result: dict[str, float] = {"pages": pages}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            parse = SourceParser()
            empty = _db_size(name)
            filled = time.monotonic()
            with Archive.open(data, storage=Storage(catalog=url), durable=False) as arch:
                for i in range(pages):
                    page = make_page(
                        f"https://news{i % 50}.example/2024/05/story-{i}",
                        article_html(f"Story number {i}", paragraphs(i)),
                        at=T0,
                    )
                    arch.store(page, parse(page, "bench"), source="bench")
            result["fill_s"] = time.monotonic() - filled
            result["db_bytes_per_page"] = (_db_size(name) - empty) / pages
            path = Path(tmp) / "cluster.yaml"
            path.write_text(f"data_dir: {data}\nstorage:\n  catalog: {url}\n")
            config = load_config(path)
            for workers in (1, 2):
                procs = _start_workers(path, workers, Path(tmp))
                _ready(name, workers)
                cpu0 = _procs_cpu(procs)
                jobs = [{"share": i, "shares": workers} for i in range(workers)]
                ids = defer(config, "rebuild_share", jobs)
                _wait(config, ids, Path(tmp))
                span = _job_span(name, ids)
                result[f"pages_per_s_{workers}"] = pages / span
                # how many cores the workers had on average: 2 workers on a machine whose
                # other load leaves them 1.3 cores cannot be 1.8x one worker
                result[f"cores_{workers}"] = (_procs_cpu(procs) - cpu0) / span
                result[f"load_{workers}"] = os.getloadavg()[0]
                _stop_workers(procs)
                timings = json.loads((Path(tmp) / "w0.json").read_text())["timings"]
                result[f"job_s_{workers}"] = max(timings.get("rebuild_job", [0.0]))
    finally:
        _drop_db(name)
    result["speedup_2_over_1"] = result["pages_per_s_2"] / result["pages_per_s_1"]
    return result


def worker_main(config_path: str, out: str) -> int:
    """A benchmark worker: `morgue worker` with test DNS; writes its lease waits on exit."""
    import logging

    from scraper.cluster.worker import run_worker
    from scraper.config import load_config
    from tests.cluster_support import loopback_resolve

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    state = run_worker(load_config(config_path), concurrency=1, resolve=loopback_resolve)
    timings = getattr(state, "timings", {})  # (the bench also runs against older workers)
    lease_log = getattr(state, "lease_log", [])
    Path(out).write_text(
        json.dumps({"lease_waits": state.lease_waits, "timings": timings, "lease_log": lease_log})
    )
    return 0


def crawl_phase(args: argparse.Namespace) -> None:
    print(
        f"crawl: {args.hosts} hosts x {args.per_host} articles, Crawl-delay {args.delay:g} s,"
        f" concurrency {args.concurrency} per worker; load average {os.getloadavg()[0]:.1f}"
    )
    runs = [
        crawl_run(
            n,
            args.hosts,
            args.per_host,
            args.delay,
            args.concurrency,
            args.keep_logs,
            args.stagger,
            args.pause,
        )
        for n in args.workers
    ]
    for run in runs:
        ratio = run["articles_per_s"] / runs[0]["articles_per_s"]
        print(
            f"  {run['workers']} worker(s): {run['articles']:.0f} articles in {run['wall_s']:.1f} s"
            f" = {run['articles_per_s']:.1f}/s ({ratio:.2f}x of 1 worker);"
            f" CPU {run['cpu_ms_per_article']:.1f} ms/article in the workers,"
            f" {run['pg_cpu_ms_per_article']:.1f} ms in PostgreSQL;"
            f" {run['pg_tx_per_article']:.1f} PostgreSQL transactions/article;"
            f" lease wait p95 {run['lease_wait_p95_s']:.2f} s; shortest gap"
            f" {run['min_gap_s']:.3f} s; {run['repeated_paths']} path(s) requested more than"
            f" once; polite-rate ratio {run['polite_ratio']:.2f} of the"
            f" wall time, {run['polite_ratio_span']:.2f} of the {run['span_s']:.1f} s from the"
            " first request to the last"
            f" ({run['before_first_s']:.1f} s from queuing the jobs to the first,"
            f" {run['after_last_s']:.1f} s from the last to the jobs' end)"
        )
        print(f"    closest two requests to one host (s, host, paths, statuses): {run['closest']}")
        print(f"    hosts sent to and requests, per worker: {run['hosts_per_worker']}")
        print(
            "    longest pause between a worker's request starts (s): "
            + " ".join(f"{p:.2f}" for p in run["pauses"])
            + f"; paths requested more than once, by kind: {run['repeated_kinds']}"
        )
        if args.timings:
            print(f"    host requests by index, s after the first: {run['turns']}")
            print(f"    gaps between a host's requests at the server (s): {run['gaps']}")
            print(f"    where each gap went (s, p50/p90/mean): {run['breakdown']}")
            print(
                "    "
                + "; ".join(
                    f"{k} {v:.4f}" for k, v in sorted(run.items()) if "_p95" in k or "_mean" in k
                )
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--per-host", type=int, default=3)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="politeness.concurrency of each worker"
    )
    parser.add_argument("--rebuild-pages", type=int, default=10_000)
    parser.add_argument("--skip-crawl", action="store_true", help="the rebuild phase only")
    parser.add_argument(
        "--timings", action="store_true", help="also where the workers' time went (s, mean/p95)"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--stagger",
        type=float,
        default=0.0,
        help="seconds by which all workers but the first are late for their jobs",
    )
    parser.add_argument(
        "--pause",
        type=float,
        nargs=2,
        metavar=("AT", "FOR"),
        help="stop the first worker AT seconds after the jobs are queued, FOR seconds",
    )
    parser.add_argument(
        "--keep-logs", type=Path, help="copy each worker's log and figures to this folder"
    )
    parser.add_argument("--worker", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(*args.worker)
    if not args.skip_crawl:
        crawl_phase(args)
    if args.rebuild_pages:
        rb = rebuild_run(args.rebuild_pages)
        print(
            f"rebuild: {rb['pages']:.0f} pages (stored in {rb['fill_s']:.0f} s; PostgreSQL"
            f" catalog {rb['db_bytes_per_page'] / 1024:.1f} kB per page):"
            f" 1 worker {rb['pages_per_s_1']:.0f} pages/s, 2 workers {rb['pages_per_s_2']:.0f}"
            f" pages/s = {rb['speedup_2_over_1']:.2f}x (a worker's own job: 1 worker"
            f" {rb['job_s_1']:.2f} s, 2 workers {rb['job_s_2']:.2f} s; cores busy"
            f" {rb['cores_1']:.2f} and {rb['cores_2']:.2f}; load average {rb['load_1']:.1f}"
            f" and {rb['load_2']:.1f})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
