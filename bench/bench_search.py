"""Reading benchmark: search latency on a 100,000-article archive, and `morgue serve` under
8 concurrent clients.

The archive is built through the archive's own store path (`Archive.store`, one raw page, one
record and the catalog rows per article; fsync off) and cached in
`bench/out/search-<n>/` between runs. Article text is drawn from the paragraphs of the shared
corpus (real news prose, so words have real frequencies) when it is there, else from a Zipf
vocabulary; ten sources, published dates over two years, one article in ten with a second
version. The first read indexes every version from the record files (timed: what an upgrade
or a first `morgue serve` costs).

Search: 20 queries (single words from common to rare, phrases, a prefix, OR / -word, and
filters by source and dates), each timed 5 times through `ArchiveReader.search` (the whole
layer: query parsing, FTS5 with bm25, filters, loading the 20 records shown, snippets). Peer
in the same run: the bare FTS5 MATCH ... ORDER BY rank LIMIT 20 on the same catalog. Wall
time and CPU time both: on a shared machine the CPU time is what other load does not inflate.

Web: `morgue serve` started as a user starts it; one client on article pages (a page's own
cost), then 8 client processes on article pages, on search pages (the 20 queries), on a mix of
both, and on the server's stylesheet: the peer in the same run, a response with no archive
work. Server CPU per request (all its processes) and memory from /proc.

    .venv/bin/python bench/bench_search.py [--n 100000] [--requests 800]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import html
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from archive.query import ArchiveReader
from archive.record import Block, Caption, Content, RawPage
from archive.store import Archive

CORPUS = Path("/work/shared/corpus/dev")
OUT = Path(__file__).resolve().parent / "out"
T0 = datetime(2025, 1, 1, tzinfo=UTC)
SOURCES = [f"source{i}" for i in range(10)]
_WORD = re.compile(r"[^\W\d_]{3,}")


def text_pool(seed: int) -> list[str]:
    """Paragraphs of real news prose (the shared corpus), else Zipf-distributed words."""
    paragraphs: list[str] = []
    if CORPUS.is_dir():
        for truth in sorted(CORPUS.glob("*/truth.json")):
            body = json.loads(truth.read_text("utf-8")).get("body") or ""
            paragraphs += [p.strip() for p in body.split("\n\n") if len(p.strip()) > 80]
    if len(paragraphs) >= 500:
        return paragraphs
    rng = random.Random(seed)
    syllables = [a + b for a in "bcdfglmnprstv" for b in ("a", "e", "i", "o", "u", "ar", "en")]
    vocab = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 4))) for _ in range(30000)})
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    return [
        " ".join(rng.choices(vocab, weights, k=rng.randint(25, 60))).capitalize() + "."
        for _ in range(20000)
    ]


def article(
    i: int, version: int, pool: list[str], rng: random.Random
) -> tuple[RawPage, Content, str]:
    source = SOURCES[i % len(SOURCES)]
    paragraphs = [*rng.sample(pool, 6), f"Reference {i} filed as item number {i * 7919 % 100003}."]
    if version > 1:
        paragraphs[1] = "Updated: " + paragraphs[1]
    words = _WORD.findall(" ".join(paragraphs))
    headline = " ".join(rng.sample(words, min(8, len(words)))).capitalize() or f"Article {i}"
    published = (T0 + timedelta(minutes=i * 10)).date().isoformat()
    fetched = T0 + timedelta(minutes=i * 10 + version * 600)
    url = f"https://{source}.example/news/{published}/story-{i}"
    content = Content(
        headline=headline,
        body=tuple(Block(p) for p in paragraphs),
        authors=(f"Author {i % 300}",),
        published=published,
        section=["politics", "business", "sport", "culture"][i % 4],
        captions=(Caption(rng.choice(pool)[:120], f"Photographer {i % 50}"),),
        parser="bench",
        parser_version="1",
    )
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    raw = (
        f"<!doctype html><html><head><title>{html.escape(headline)}</title></head><body>"
        f"<nav>{source} home sections</nav><article><h1>{html.escape(headline)}</h1>{body}"
        f"</article></body></html>"
    ).encode()
    page = RawPage(
        requested_url=url,
        final_url=url,
        status=200,
        headers=(("content-type", "text/html; charset=utf-8"),),
        body=raw,
        fetched_at=fetched,
    )
    return page, content, source


def build(root: Path, n: int, seed: int) -> None:
    done_marker = root / "BUILT"
    if done_marker.exists():
        print(f"archive: cached at {root}")
        return
    pool = text_pool(seed)
    rng = random.Random(seed)
    started = time.perf_counter()
    with Archive.open(root, durable=False) as arch:
        for i in range(n):
            _put(arch, article(i, 1, pool, rng))
            if i % 10 == 9:  # one in ten changes later: a second version
                _put(arch, article(i, 2, pool, random.Random(seed * 1000 + i)))
            if (i + 1) % 10000 == 0:
                rate = (i + 1) / (time.perf_counter() - started)
                print(f"  stored {i + 1:,} articles ({rate:,.0f}/s)", flush=True)
    done_marker.write_text(f"{n}\n")
    print(f"archive: {n:,} articles stored in {time.perf_counter() - started:,.0f} s")


def _put(arch: Archive, made: tuple[RawPage, Content, str]) -> None:
    page, content, source = made
    arch.store(page, content, source=source)


def queries(pool: list[str], seed: int) -> list[tuple[str, dict[str, str]]]:
    """20 queries: words from common to rare, phrases, a prefix, OR/-word, filtered ones."""
    counts = collections.Counter(w.lower() for p in pool for w in _WORD.findall(p))
    ranked = [w for w, _ in counts.most_common() if len(w) > 3]
    rng = random.Random(seed)
    words = [ranked[r] for r in (30, 100, 300, 1000, 3000, min(8000, len(ranked) - 1))]
    phrases: list[str] = []
    while len(phrases) < 5:
        found = _WORD.findall(rng.choice(pool))
        if len(found) > 4:
            k = rng.randrange(len(found) - 2)
            phrases.append(f'"{found[k]} {found[k + 1]}"')
    out: list[tuple[str, dict[str, str]]] = [(w, {}) for w in words]
    out += [(p, {}) for p in phrases]
    out += [
        (ranked[500][:4] + "*", {}),
        (f"{ranked[200]} OR {ranked[400]}", {}),
        (f"{ranked[150]} -{ranked[60]}", {}),
        (ranked[100], {"source": "source3"}),
        (ranked[300], {"since": "2025-06-01", "until": "2025-09-30"}),
        (phrases[0], {"source": "source1", "since": "2025-03-01"}),
        (ranked[60], {"source": "source5", "since": "2025-01-01", "until": "2025-12-31"}),
        (words[1], {"author": "author 7"}),
        (words[2], {"section": "sport", "source": "source4"}),
    ]
    return out[:20]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_search(root: Path, qs: list[tuple[str, dict[str, str]]], reps: int) -> None:
    started = time.perf_counter()
    reader = ArchiveReader.open(root)
    indexed = reader.refresh()
    print(
        f"search index: {indexed:,} versions indexed from the files in "
        f"{time.perf_counter() - started:,.1f} s (first read after the build)"
    )
    ours: list[float] = []
    ours_cpu: list[float] = []  # CPU time of this thread: what other load on the machine hides
    totals = []
    medians = []
    for query, filters in qs:
        reader.search(query, **filters)  # type: ignore[arg-type]
        mine = []
        for _ in range(reps):
            t, c = time.perf_counter(), time.thread_time()
            res = reader.search(query, **filters)  # type: ignore[arg-type]
            mine.append((time.perf_counter() - t) * 1000)
            ours_cpu.append((time.thread_time() - c) * 1000)
        ours += mine
        medians.append(pct(mine, 0.5))
        totals.append(res.total)
    reader.close()
    from archive.ftsquery import to_fts

    db = sqlite3.connect(root / "catalog.sqlite")
    bare: list[float] = []
    bare_cpu: list[float] = []
    for query, _ in qs:
        sql = "SELECT rowid FROM archive_fts WHERE archive_fts MATCH ? ORDER BY rank LIMIT 20"
        expr = to_fts(query)
        db.execute(sql, (expr,)).fetchall()
        for _ in range(reps):
            t, c = time.perf_counter(), time.thread_time()
            db.execute(sql, (expr,)).fetchall()
            bare.append((time.perf_counter() - t) * 1000)
            bare_cpu.append((time.thread_time() - c) * 1000)
    db.close()
    for (query, filters), total, ms in zip(qs, totals, medians, strict=True):
        print(f"  {ms:6.1f} ms {total:>7,} hits  {query}  {filters or ''}")
    print(
        f"search ({len(qs)} queries x {reps}): "
        f"p50 {pct(ours, 0.5):.1f} ms, p95 {pct(ours, 0.95):.1f} ms"
        f" | bare FTS5 peer: p50 {pct(bare, 0.5):.1f} ms, p95 {pct(bare, 0.95):.1f} ms"
        f" | ratio p50 {pct(ours, 0.5) / max(pct(bare, 0.5), 1e-6):.1f}x"
    )
    print(
        f"  CPU time: p50 {pct(ours_cpu, 0.5):.1f} ms, p95 {pct(ours_cpu, 0.95):.1f} ms"
        f" | bare FTS5 peer: p50 {pct(bare_cpu, 0.5):.1f} ms, p95 {pct(bare_cpu, 0.95):.1f} ms"
        f" | ratio p50 {pct(ours_cpu, 0.5) / max(pct(bare_cpu, 0.5), 1e-6):.2f}x,"
        f" p95 {pct(ours_cpu, 0.95) / max(pct(bare_cpu, 0.95), 1e-6):.2f}x"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(job: tuple[str, list[str], int, int]) -> tuple[list[tuple[str, float]], float, float]:
    """One client process: `count` requests, one at a time; (kind, ms) each, start, end."""
    base, paths, count, seed = job
    rng = random.Random(seed)
    out = []
    with httpx.Client(base_url=base, timeout=60) as c:
        c.get("/static/style.css")  # connected before the clock starts
        started = time.time()
        for _ in range(count):
            path = rng.choice(paths)
            kind = path.split("/")[1].split("?")[0] or "index"
            t = time.perf_counter()
            r = c.get(path)
            ms = (time.perf_counter() - t) * 1000
            if r.status_code != 200:
                raise SystemExit(f"{path}: HTTP {r.status_code}")
            out.append((kind, ms))
        return out, started, time.time()


def load(
    base: str, paths: list[str], clients: int, per_client: int
) -> tuple[dict[str, list[float]], float]:
    """`clients` processes (not threads: a client's own GIL must not slow the others)."""
    import multiprocessing

    jobs = [(base, paths, per_client, k) for k in range(clients)]
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_client, jobs)
    times: dict[str, list[float]] = collections.defaultdict(list)
    for measured, _, _ in results:
        for kind, ms in measured:
            times[kind].append(ms)
    took = max(r[2] for r in results) - min(r[1] for r in results)
    return times, took


def server_cpu(pid: int) -> float:
    """Seconds of CPU used so far by the server and its worker processes."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children")
    pids = [pid, *(int(c) for c in children.read_text().split())] if children.exists() else [pid]
    used = 0
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            used += int(fields[11]) + int(fields[12])
    return used / tick


def memory(pid: int) -> str:
    status = Path(f"/proc/{pid}/status").read_text()
    rss = re.search(r"VmRSS:\s+(\d+)", status)
    hwm = re.search(r"VmHWM:\s+(\d+)", status)
    return (
        f"RSS {int(rss.group(1)) / 1024:.0f} MB, peak {int(hwm.group(1)) / 1024:.0f} MB"
        if rss and hwm
        else "?"
    )


def bench_web(
    root: Path, qs: list[tuple[str, dict[str, str]]], requests: int, clients: int
) -> None:
    from urllib.parse import urlencode

    with ArchiveReader.open(root) as reader:
        ids = [h.id for h in reader.listing(limit=1000).hits]
        ids += [h.id for h in reader.listing(limit=1000, offset=50000).hits]
    port = free_port()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper", "--data", str(root), "serve", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(base + "/static/style.css", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        rss_idle = memory(proc.pid)
        articles = [f"/articles/{i}" for i in ids]
        searches = ["/search?" + urlencode({"q": q, **f}) for q, f in qs]
        per = max(1, requests // clients)
        load(base, articles[:50] + searches, clients, 5)  # warm up
        single, _ = load(base, articles[:200], 1, 100)  # one client: the page's own cost
        before = server_cpu(proc.pid)
        # one client on search pages: their own CPU, with no other request beside them (8
        # clients on 2 cores also measure what contention adds: caches, switches)
        alone, _ = load(base, searches, 1, 5 * len(searches))
        alone_cpu = (server_cpu(proc.pid) - before) * 1000 / len(alone["search"])
        runs = {}
        cpu = {}
        for name, paths in (
            ("articles", articles),
            ("search", searches),
            ("mixed", articles + searches * 100),
            ("static", ["/static/style.css"]),
        ):
            before = server_cpu(proc.pid)
            runs[name] = load(base, paths, clients, per)
            cpu[name] = server_cpu(proc.pid) - before
        rss_after = memory(proc.pid)
    finally:
        proc.terminate()
        proc.wait(10)
    one = single["articles"]
    print(f"  one client, article pages: p50 {pct(one, 0.5):.1f} ms, p95 {pct(one, 0.95):.1f} ms")
    s1 = alone["search"]
    print(
        f"  one client, search pages: p50 {pct(s1, 0.5):.1f} ms, p95 {pct(s1, 0.95):.1f} ms,"
        f" server CPU {alone_cpu:.1f} ms/request"
    )
    static_rate = len(runs["static"][0]["static"]) / runs["static"][1]
    for name, (times, took) in runs.items():
        v = [ms for values in times.values() for ms in values]
        rate = len(v) / took
        print(
            f"  {clients} clients, {name:8} {len(v):5} requests: p50 {pct(v, 0.5):.1f} ms,"
            f" p95 {pct(v, 0.95):.1f} ms, {rate:,.0f} req/s ({rate / static_rate:.2f}x static),"
            f" server CPU {cpu[name] * 1000 / len(v):.1f} ms/request"
        )
    print(f"server memory: idle {rss_idle}; after the load {rss_after}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=800, help="per page kind mix, in all")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    root = OUT / f"search-{args.n}"
    build(root, args.n, args.seed)
    qs = queries(text_pool(args.seed), args.seed)
    bench_search(root, qs, args.reps)
    bench_web(root, qs, args.requests, args.clients)


if __name__ == "__main__":
    main()
