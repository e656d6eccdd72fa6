"""Crawl benchmark: a local news site of many articles over many hosts, and a 200k-URL frontier.

Phase "crawl": a server process serves `--hosts` copies of the test news site (tests/
crawl_support.py: robots.txt, sitemap index, news + gzipped sitemaps, articles in three
layouts) on loopback addresses 127.0.0.2, 127.0.0.3, ... (one address per host, so per-host
politeness really is per host), `--articles` articles in all. `morgue`'s crawler then crawls
one source per host with politeness delay 0 through the real AsyncFetcher, parser and Archive.
The peer, measured in the same run against the same servers, is a plain `httpx.AsyncClient`
fetching the same article URLs with the same concurrency and doing nothing else: the raw
fetching floor, so the ratio shows what discovery, the frontier, parsing and storing cost.

Phase "frontier": the crawl loop reads a sitemap index of 4 x 50,000 URLs (an in-memory
fetcher) into the on-disk frontier with a page budget of 10, leaving 200,000 URLs queued, and
reports the process's peak memory (limit: 300 MB).

Each phase runs in its own process so peak memory (ru_maxrss) and CPU time are its own.

Mode "--polite" measures the real `morgue crawl` command at the polite rate, server-side.
`bench/polite_site.py` serves `--hosts` loopback hosts whose robots.txt says
`Crawl-delay: D`: an index page and `--per-host` ~60 kB articles each, ~57 links per
article, max_depth 2 with section fronts denied, so every article's links are judged too.
The server stamps every request. From its log come the gaps per host (start to start, and
end of a response to the next start, each against D), the achieved rate (requests after
each host's first, over the span of all arrivals) and its ratio to the allowed rate
(hosts / D). CPU is the crawl command's own plus every process it started and waited for
(os.wait4), divided by requests; RSS is the peak of the sum over the command's process
tree, sampled every 0.1 s, and PSS the same with pages shared between processes (the forked
ingest workers' copy of the crawl's start-up) counted once. The load average is printed
beside the figures: the machine is shared, and the rate depends on it. With `--peer scrapy`
the same site is then crawled by Scrapy under the same rules (bench/scrapy_crawl_peer.py:
fetch, follow links, save each page as a file; installed into bench/.venv-scrapy on first
use), and the CPU per page is also given as a ratio to Scrapy's, measured in the same run.

    /work/venv/bin/python bench/bench_crawl.py                     # 20,000 articles, 50 hosts
    /work/venv/bin/python bench/bench_crawl.py --articles 2000 --hosts 10 --queued 50000
    .venv/bin/python bench/bench_crawl.py --polite --hosts 200 --per-host 20 --delay 1
    .venv/bin/python bench/bench_crawl.py --polite --hosts 200 --per-host 20 --peer scrapy
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _addresses(hosts: int) -> list[str]:
    return [f"127.0.{(i + 2) // 256}.{(i + 2) % 256}" for i in range(hosts)]


def serve(hosts: int, per_host: int) -> None:
    """Serve the sites until stdin closes; print their base URLs as one JSON line."""
    from tests.crawl_support import NewsSite, SiteServer

    servers = []
    for n, address in enumerate(_addresses(hosts)):
        site = NewsSite.with_articles(per_host, first=n * per_host, crawl_delay=None)
        server = SiteServer(site, host=address)
        server.__enter__()
        servers.append(server)
    print(json.dumps([s.site.base for s in servers]), flush=True)
    sys.stdin.read()
    for server in servers:
        server.__exit__()


def _config(bases: list[str], data: Path, concurrency: int) -> Any:
    from scraper.config import Config, FetchConfig, PolitenessConfig, Revisit, Source

    politeness = PolitenessConfig(delay=0.0, concurrency=concurrency, adaptive=False)
    sources = tuple(
        Source(
            name=f"site{i:03d}",
            sitemaps=(base + "/sitemap_index.xml",),
            max_depth=1,
            max_pages=10**9,
            revisit=Revisit(),
            politeness=politeness,
            hosts=(base.split("//")[1].split(":")[0],),
        )
        for i, base in enumerate(bases)
    )
    fetch = FetchConfig(allow=("127.0.0.0/8",), attempts=2)
    return Config(data_dir=data, fetch=fetch, politeness=politeness, sources=sources)


def _no_ingest(page: Any, **kw: Any) -> Any:
    from archive.record import Outcome, Stored

    return Stored(outcome=Outcome.NEW, article=None)


def phase_crawl(
    bases: list[str], concurrency: int, durable: bool, ingest: bool = True
) -> dict[str, Any]:
    from archive.store import Archive
    from scraper.crawl import crawl
    from scraper.fetch import AsyncFetcher

    with tempfile.TemporaryDirectory() as tmp:
        config = _config(bases, Path(tmp) / "data", concurrency)
        cpu0, t0 = _cpu(), time.perf_counter()
        with Archive.open(config.data_dir, durable=durable) as archive:
            fetcher = AsyncFetcher(config.fetch, config.politeness)
            report = crawl(
                config, fetcher=fetcher, archive=archive, ingest=None if ingest else _no_ingest
            )
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
    fetched = sum(s.fetched for s in report.sources)
    return {
        "pages": fetched,
        "new": sum(s.new_articles for s in report.sources),
        "failed": sum(s.failed_total for s in report.sources),
        "reasons": dict(sum((s.failed for s in report.sources), Counter())),
        "wall": wall,
        "cpu": cpu,
        "rss": _rss_mb(),
    }


def phase_peer(bases: list[str], per_host: int, concurrency: int) -> dict[str, Any]:
    import httpx

    from tests.crawl_support import NewsSite

    urls = [
        base + a.path
        for n, base in enumerate(bases)
        for a in NewsSite.with_articles(per_host, first=n * per_host).articles
    ]

    async def run() -> int:
        queue: asyncio.Queue[str] = asyncio.Queue()
        for url in urls:
            queue.put_nowait(url)
        done = 0
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker() -> None:
                nonlocal done
                while not queue.empty():
                    response = await client.get(queue.get_nowait())
                    done += response.status_code == 200

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    cpu0, t0 = _cpu(), time.perf_counter()
    pages = asyncio.run(run())
    return {
        "pages": pages,
        "wall": time.perf_counter() - t0,
        "cpu": _cpu() - cpu0,
        "rss": _rss_mb(),
    }


def phase_frontier(queued: int) -> dict[str, Any]:
    """Discovery of `queued` article URLs through the real crawl loop into the real frontier."""
    from datetime import UTC, datetime

    from archive.backends.frontier import State
    from archive.record import RawPage
    from scraper.config import Config, Source
    from scraper.crawl import crawl

    per_map = 50_000
    maps = max(1, -(-queued // per_map))
    base = "https://big.example"

    def body(path: str) -> bytes:
        if path == "/index.xml":
            items = "".join(f"<sitemap><loc>{base}/map{m}.xml</loc></sitemap>" for m in range(maps))
            return f"<sitemapindex>{items}</sitemapindex>".encode()
        m = int(path.removeprefix("/map").removesuffix(".xml"))
        first, last = m * per_map, min(queued, (m + 1) * per_map)
        urls = "".join(
            f"<url><loc>{base}/news/2024/05/{1 + n % 28:02d}/story-about-item-{n}</loc></url>"
            for n in range(first, last)
        )
        return f"<urlset>{urls}</urlset>".encode()

    class SitemapFetcher:
        async def __aenter__(self) -> SitemapFetcher:
            return self

        async def __aexit__(self, *exc: object) -> None:
            return None

        async def fetch(
            self, url: str, *, validators: object = None, accept: str = "html"
        ) -> RawPage:
            return RawPage(
                requested_url=url,
                final_url=url,
                status=200,
                headers=(("content-type", "application/xml"),),
                body=body(url.removeprefix(base)),
                fetched_at=datetime.now(UTC),
            )

    class NoArchive:
        def __init__(self, root: Path) -> None:
            self.catalog_path = root / "catalog.sqlite"

        def open_frontier(self, *, scratch: bool = False) -> Any:
            from archive.backends.frontier_sqlite import SqliteFrontier

            return SqliteFrontier.open(":memory:" if scratch else self.catalog_path)

        def validators(self, url: str) -> None:
            return None

        def find(self, url: str) -> None:
            return None

        def find_urls(self, urls: Any) -> dict[str, Any]:
            return {}  # nothing archived: every sitemap URL is new

    with tempfile.TemporaryDirectory() as tmp:
        source = Source(
            name="big", sitemaps=(base + "/index.xml",), max_depth=1, hosts=("big.example",)
        )
        config = Config(data_dir=Path(tmp), sources=(source,))
        archive = NoArchive(Path(tmp))
        cpu0, t0 = _cpu(), time.perf_counter()
        report = crawl(
            config,
            fetcher=SitemapFetcher(),
            archive=archive,
            max_pages=maps + 1,
            ingest=_no_ingest,
        )
        wall, cpu = time.perf_counter() - t0, _cpu() - cpu0
        with archive.open_frontier() as frontier:
            left = frontier.count("big", State.QUEUED)
            t1 = time.perf_counter()
            leased = frontier.lease("big", 100)
            lease_ms = (time.perf_counter() - t1) * 1000
            frontier.release("big", [i.key for i in leased])
        size = archive.catalog_path.stat().st_size
    return {
        "queued": left,
        "discovered": report.sources[0].discovered,
        "wall": wall,
        "cpu": cpu,
        "rss": _rss_mb(),
        "lease_100_ms": lease_ms,
        "db_mb": size / 1e6,
    }


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if out.returncode != 0:
        raise SystemExit(f"phase {args[1]} failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"phase {args[1]}: {json.dumps(result)}", file=sys.stderr, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=20_000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--queued", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--polite", action="store_true", help="the polite-rate mode (below)")
    parser.add_argument("--per-host", type=int, default=20)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument(
        "--peer",
        choices=["scrapy"],
        help="with --polite: also crawl the same site with Scrapy (fetch, follow, save)",
    )
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--bases", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.polite:
        from bench_crawl_polite import run_polite

        run_polite(args.hosts, args.per_host, args.delay, args.peer)
        return
    per_host = max(1, args.articles // args.hosts)
    if args.phase == "serve":
        serve(args.hosts, per_host)
        return
    if args.phase in ("crawl", "crawl-fast", "crawl-bare", "peer"):
        bases = json.loads(args.bases)
        result = (
            phase_peer(bases, per_host, args.concurrency)
            if args.phase == "peer"
            else phase_crawl(
                bases,
                args.concurrency,
                durable=args.phase == "crawl",
                ingest=args.phase != "crawl-bare",
            )
        )
        print(json.dumps(result))
        return
    if args.phase == "frontier":
        print(json.dumps(phase_frontier(args.queued)))
        return

    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--phase",
            "serve",
            "--hosts",
            str(args.hosts),
            "--articles",
            str(args.articles),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert server.stdout is not None
    assert server.stdin is not None
    bases = server.stdout.readline().strip()
    common = [
        "--hosts",
        str(args.hosts),
        "--articles",
        str(args.articles),
        "--concurrency",
        str(args.concurrency),
        "--bases",
        bases,
    ]
    try:
        peer = _child("--phase", "peer", *common)
        ours = _child("--phase", "crawl", *common)
        fast = _child("--phase", "crawl-fast", *common)
        bare = _child("--phase", "crawl-bare", *common)
    finally:
        server.terminate()  # 50 graceful shutdowns would take half a minute
        server.wait(30)
    front = _child("--phase", "frontier", "--queued", str(args.queued))

    total = per_host * args.hosts
    print(
        f"\ncrawl: {total} articles on {args.hosts} hosts, delay 0, concurrency "
        f"{args.concurrency}, {os.cpu_count()} cores (server in its own process)\n"
    )
    print("| run | pages | pages/s | CPU ms/page | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (
        ("morgue crawl (discover+fetch+parse+store, fsync)", ours),
        ("morgue crawl, archive durable=False (no fsync)", fast),
        ("morgue crawl, no parse/store (discover+frontier+fetch)", bare),
        ("peer: bare httpx.AsyncClient GETs", peer),
    ):
        print(
            f"| {name} | {r['pages']} | {r['pages'] / r['wall']:.0f} | "
            f"{1000 * r['cpu'] / max(r['pages'], 1):.2f} | {r['rss']:.0f} |"
        )
    for name, r in (("full crawl", ours), ("crawl without parse/store", bare)):
        speed = (r["pages"] / r["wall"]) / (peer["pages"] / peer["wall"])
        cpu = (r["cpu"] / max(r["pages"], 1)) / (peer["cpu"] / max(peer["pages"], 1))
        print(f"morgue {name} / peer: pages/s {speed:.2f}x, CPU per page {cpu:.2f}x")
    print(f"new articles {ours['new']}, failed {ours['failed']} {ours['reasons'] or ''}")
    verdict = "OK" if front["rss"] < 300 else "OVER LIMIT"
    print(
        f"\nfrontier: {front['queued']} URLs queued (discovered {front['discovered']}) in "
        f"{front['wall']:.1f} s, peak RSS {front['rss']:.0f} MB (limit 300 MB: {verdict}), "
        f"lease of 100 {front['lease_100_ms']:.1f} ms, catalog {front['db_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
