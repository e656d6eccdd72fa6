"""Polite fetching across many hosts: morgue's AsyncFetcher next to Scrapy, same run, same rules.

Serves M hosts on loopback (127.1.x.y, one asyncio server process, one listening socket per
address), each of which allows one request per D seconds. The server stamps every request's
arrival and the end of its response with the system-wide monotonic clock and counts violations:
two requests to one host that start less than D apart (the host's rule), and, stricter, a request
that starts less than D after the previous response ended (morgue's own promise). Each client
fetches N pages per host plus robots.txt, in its own process; CPU time is measured inside the
client from the start of the crawl to its end (interpreter start-up and imports excluded).

Allowed rate = M / D requests per second. Achieved = (requests - M) / (last arrival - first
arrival): every host owes N gaps of at least D after its first request (robots.txt).

Scrapy is installed into bench/.venv-scrapy on first use and configured the same way:
DOWNLOAD_DELAY=D, RANDOMIZE_DOWNLOAD_DELAY=False (a randomised delay goes below D by design),
CONCURRENT_REQUESTS_PER_DOMAIN=1, ROBOTSTXT_OBEY=True, and CONCURRENT_REQUESTS=M: Scrapy counts
requests waiting out a host's delay against that cap, so at its default of 16 it cannot keep 200
hosts busy (it reaches less than half the allowed rate). morgue's global cap (16) counts only
requests on the wire.

    /work/venv/bin/python bench/bench_fetch.py --hosts 200 --delay 1 --pages 20
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SCRAPY_VENV = HERE / ".venv-scrapy"
USER_AGENT = "morgue-bench/0.1 (+https://github.com/morgue-archive/morgue)"
ROBOTS = b"User-agent: *\nAllow: /\n"
PAGE = (
    b"<!doctype html><html><head><meta charset='utf-8'><title>Bench page</title></head><body>"
    + b"<article><h1>Headline</h1>"
    + b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.</p>" * 100
    + b"</article></body></html>"
)


def host_addresses(count: int) -> list[str]:
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


# --- the server ---------------------------------------------------------------------------


def _response(body: bytes, content_type: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n" % (
        content_type,
        len(body),
    )
    return head + body


async def _serve(count: int, out: Path) -> None:
    log: dict[str, list[tuple[float, float, str]]] = {}
    page = _response(PAGE, b"text/html; charset=utf-8")
    robots = _response(ROBOTS, b"text/plain")

    def handler(
        address: str,
    ) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
        entries = log.setdefault(address, [])

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head = await reader.readuntil(b"\r\n\r\n")
                    arrived = time.monotonic()
                    path = head.split(b" ", 2)[1].decode()
                    # Stamped before the write: the client cannot have the answer earlier,
                    # whereas a stamp after it may come late when this process is descheduled.
                    entries.append((arrived, time.monotonic(), path))
                    writer.write(robots if path == "/robots.txt" else page)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()

        return handle

    servers = []
    ports = {}
    for address in host_addresses(count):
        server = await asyncio.start_server(handler(address), address, 0, backlog=64)
        ports[address] = server.sockets[0].getsockname()[1]
        servers.append(server)
    print(json.dumps(ports), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    out.write_text(json.dumps(log))


# --- morgue's client ----------------------------------------------------------------------


async def _morgue_client(urls: list[str], delay: float) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from scraper.config import FetchConfig, PolitenessConfig
    from scraper.errors import FetchError
    from scraper.fetch import AsyncFetcher

    fetch_cfg = FetchConfig(user_agent=USER_AGENT, allow=("127.0.0.0/8",))
    politeness = PolitenessConfig(delay=delay, per_host=1, concurrency=16)
    ok = failed = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    async with AsyncFetcher(fetch_cfg, politeness) as fetcher:

        async def one(url: str) -> None:
            nonlocal ok, failed
            try:
                await fetcher.fetch(url)
                ok += 1
            except FetchError as exc:
                failed += 1
                print(f"morgue: {exc}", file=sys.stderr)

        await asyncio.gather(*(one(url) for url in urls))
    return {
        "ok": ok,
        "failed": failed,
        "cpu": time.process_time() - cpu0,
        "wall": time.monotonic() - wall0,
    }


# --- driving a run ------------------------------------------------------------------------


def _ensure_scrapy() -> Path:
    python = SCRAPY_VENV / "bin" / "python"
    if not python.exists():
        print("installing scrapy into bench/.venv-scrapy ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(SCRAPY_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "scrapy"], check=True)
    return python


def _run(client: list[str], count: int, tmp: Path, name: str, pages: int) -> dict[str, Any]:
    """Start a fresh server, run one client against it, return the server log and client stats."""
    log_file = tmp / f"{name}.server.json"
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", "--hosts", str(count), "--out", str(log_file)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        urls = [
            f"http://{address}:{port}/article/{j}"
            for j in range(pages)
            for address, port in ports.items()
        ]
        url_file = tmp / f"{name}.urls.json"
        url_file.write_text(json.dumps(urls))
        done = subprocess.run([*client, str(url_file)], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name} client failed:\n{done.stderr[-3000:]}")
        errors = [line for line in done.stderr.splitlines() if line.strip()]
        if os.environ.get("BENCH_PROFILE"):
            print(done.stderr, file=sys.stderr)
        elif errors:
            print(f"{name}: {len(errors)} lines on stderr, e.g. {errors[:3]}", file=sys.stderr)
        stats = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return {"stats": stats, "log": json.loads(log_file.read_text())}


def _measure(run: dict[str, Any], count: int, delay: float) -> dict[str, float]:
    log: dict[str, list[list[float]]] = run["log"]
    entries = [e for host in log.values() for e in host]
    arrivals = [e[0] for e in entries]
    requests = len(entries)
    span = max(arrivals) - min(arrivals)
    short_start = short_end = gaps = 0
    min_gap = float("inf")
    end_gaps: list[float] = []
    for host in log.values():
        ordered = sorted(host)
        for prev, nxt in itertools.pairwise(ordered):
            gaps += 1
            start_gap = nxt[0] - prev[0]
            end_gap = nxt[0] - prev[1]
            min_gap = min(min_gap, end_gap)
            end_gaps.append(end_gap)
            short_start += start_gap < delay
            short_end += end_gap < delay
    active = sum(1 for host in log.values() if host)
    rate = (requests - active) / span if span > 0 else 0.0
    stats = run["stats"]
    return {
        "requests": requests,
        "ok": stats["ok"],
        "failed": stats["failed"],
        "rate": rate,
        "ratio": rate / (count / delay),
        "short_start": short_start,
        "short_end": short_end,
        "gaps": gaps,
        "min_gap": min_gap,
        "cpu_ms": 1000 * stats["cpu"] / max(1, requests),
        "mean_gap": sum(end_gaps) / max(1, len(end_gaps)),
        "stagger": max(min(e[0] for e in h) for h in log.values() if h) - min(arrivals),
        "wall": stats["wall"],
    }


def _table(results: dict[str, dict[str, float]], count: int, delay: float, pages: int) -> str:
    lines = [
        f"M={count} hosts, D={delay:g} s, {pages} pages per host + robots.txt; "
        f"allowed rate {count / delay:.1f} req/s",
        "",
        "| client | requests | ok | failed | req/s | of allowed | gaps < D (start->start) "
        "| gaps < D (end->start) | min end->start gap | CPU ms/request | wall s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['requests']} | {r['ok']} | {r['failed']} | {r['rate']:.1f} "
            f"| {r['ratio']:.3f} | {r['short_start']} of {r['gaps']} "
            f"({100 * r['short_start'] / max(1, r['gaps']):.1f} %) | {r['short_end']} "
            f"({100 * r['short_end'] / max(1, r['gaps']):.1f} %) | {r['min_gap']:.3f} s "
            f"| {r['cpu_ms']:.2f} | {r['wall']:.1f} |"
        )
    lines.append("")
    for name, r in results.items():
        lines.append(
            f"{name}: mean end->start gap {r['mean_gap']:.4f} s, first requests spread over "
            f"{r['stagger']:.3f} s"
        )
    if "scrapy" in results and "morgue" in results:
        m, s = results["morgue"], results["scrapy"]
        lines.append("")
        lines.append(
            f"morgue / scrapy: rate x{m['rate'] / s['rate']:.3f}, "
            f"CPU per request x{m['cpu_ms'] / s['cpu_ms']:.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve")
    serve.add_argument("--hosts", type=int, required=True)
    serve.add_argument("--out", type=Path, required=True)
    client = sub.add_parser("morgue-client")
    client.add_argument("--delay", type=float, required=True)
    client.add_argument("urls", type=Path)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--no-scrapy", action="store_true", help="measure morgue alone")
    args = parser.parse_args(argv)

    if args.command == "serve":
        asyncio.run(_serve(args.hosts, args.out))
        return 0
    if args.command == "morgue-client":
        urls = json.loads(args.urls.read_text())
        if os.environ.get("BENCH_PROFILE"):
            import cProfile
            import pstats

            with cProfile.Profile() as prof:
                stats = asyncio.run(_morgue_client(urls, args.delay))
            st = pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime")
            st.print_stats(25)
            st.print_callers("_find_and_load")
        else:
            stats = asyncio.run(_morgue_client(urls, args.delay))
        print(json.dumps(stats))
        return 0

    clients = {"morgue": [sys.executable, __file__, "morgue-client", "--delay", str(args.delay)]}
    if not args.no_scrapy:
        scrapy_python = _ensure_scrapy()
        peer = str(HERE / "scrapy_peer.py")
        clients["scrapy"] = [
            str(scrapy_python),
            peer,
            "--delay",
            str(args.delay),
            "--user-agent",
            USER_AGENT,
            "--concurrent-requests",
            str(max(16, args.hosts)),
        ]
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        for name, command in clients.items():
            print(f"running {name} ...", file=sys.stderr)
            run = _run(command, args.hosts, Path(tmp), name, args.pages)
            results[name] = _measure(run, args.hosts, args.delay)
    print(_table(results, args.hosts, args.delay, args.pages))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    raise SystemExit(main())
