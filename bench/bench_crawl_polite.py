"""`bench_crawl.py --polite`: the real `morgue crawl` at the polite rate, measured server-side.

See bench_crawl.py's docstring for what is measured. The crawl runs as the installed command
would (`python -m scraper --config ... crawl`) in its own process group.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _tree_rss_kb(
    pid: int, cpu: dict[int, tuple[float, float]] | None = None, pss: list[int] | None = None
) -> int:
    """Resident memory of `pid` and all its descendants, in kB (Linux /proc); `cpu` gets
    each process's (user, system) CPU seconds so far; `pss` gets the tree's proportional set
    size appended (kB): the forked workers' pages shared with the crawl process counted
    once, where the RSS sum counts them in every process."""
    total, todo, proportional = 0, [pid], 0
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            if pss is not None:
                for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        proportional += int(line.split()[1])
            if cpu is not None:
                fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
                cpu[p] = (int(fields[11]) / tick, int(fields[12]) / tick)
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo.extend(int(k) for k in kids)
        except (OSError, ValueError):
            continue
    if pss is not None:
        pss.append(proportional)
    return total


def _process_cpu(pid: int) -> float:
    """User plus system CPU seconds of one live process (Linux /proc; 0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(ports: dict[str, int], data: Path, delay: float) -> str:
    lines = [
        f"data_dir: {data}",
        "network:",
        "  allow: ['127.0.0.0/8']",
        "politeness:",
        f"  delay: {delay}s",
        "sources:",
    ]
    for n, (address, port) in enumerate(ports.items()):
        lines += [
            f"  - name: site{n:03d}",
            f"    home: http://{address}:{port}/",
            "    max_depth: 2",
            # section fronts are left out, so a host is its index and its articles; every
            # link on a page is still judged
            "    deny: ['^http://[^/]+/[a-z]+$']",
            "    max_pages: 100000",
        ]
    return "\n".join(lines) + "\n"


def _crawl(config: Path, tmp: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "scraper", "--config", str(config), "crawl"]
    profile = os.environ.get("BENCH_PROFILE")  # a file for cProfile's stats of the crawl
    if profile:
        command[1:1] = ["-m", "cProfile", "-o", profile]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    peak = peak_pss = 0
    per_process: dict[int, tuple[float, float]] = {}  # pid -> (user, sys) last seen
    done = threading.Event()
    with (tmp / "crawl.out").open("w") as out, (tmp / "crawl.err").open("w") as err:
        wall0 = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=err, cwd=ROOT, env=env)

        def sample() -> None:
            nonlocal peak, peak_pss
            while not done.is_set():
                pss: list[int] = []
                peak = max(peak, _tree_rss_kb(proc.pid, per_process, pss))
                peak_pss = max(peak_pss, pss[0])
                time.sleep(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        sampler.join()
        wall = time.monotonic() - wall0
    return {
        "exit": proc.returncode,
        "cpu": usage.ru_utime + usage.ru_stime,
        "sys": usage.ru_stime,
        "wall": wall,
        "rss_mb": peak / 1024,
        "pss_mb": peak_pss / 1024,
        "max_one_rss_mb": usage.ru_maxrss / 1024,
        "main_cpu": sum(per_process.get(proc.pid, (0.0, 0.0))),
        "main_sys": per_process.get(proc.pid, (0.0, 0.0))[1],
        # the rest of the tree (ingest workers, a forkserver), as last sampled: up to 0.1 s
        # of each one's end is missed
        "others_cpu": sum(sum(c) for p, c in per_process.items() if p != proc.pid),
        "others_sys": sum(c[1] for p, c in per_process.items() if p != proc.pid),
        "stdout": (tmp / "crawl.out").read_text()[-2000:],
        "stderr": (tmp / "crawl.err").read_text()[-2000:],
    }


def _gaps(log: dict[str, list[list[Any]]], hosts: int, delay: float) -> dict[str, Any]:
    entries = [e for host in log.values() for e in host]
    arrivals = [e[0] for e in entries]
    span = max(arrivals) - min(arrivals)
    short_start = short_end = gaps = 0
    min_gap = float("inf")
    for host in log.values():
        for prev, nxt in itertools.pairwise(sorted(host)):
            gaps += 1
            short_start += nxt[0] - prev[0] < delay
            short_end += nxt[0] - prev[1] < delay
            min_gap = min(min_gap, nxt[0] - prev[1])
    active = sum(1 for host in log.values() if host)
    rate = (len(entries) - active) / span if span > 0 else 0.0
    # where a host's time goes beyond its delays: when it started, its gaps end -> start
    # (the first, robots.txt -> index, apart), and its span
    t0 = min(arrivals)
    starts, spans, firsts, rest = [], [], [], []
    for host in log.values():
        if not host:
            continue
        ordered = sorted(host)
        starts.append(ordered[0][0] - t0)
        spans.append(ordered[-1][0] - ordered[0][0])
        ends = [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(ordered)]
        firsts += ends[:1]
        rest += ends[1:]
    articles = sum(1 for e in entries if e[2].startswith("/news/"))
    return {
        "requests": len(entries),
        "article_requests": articles,
        "rate": rate,
        "efficiency": rate / (hosts / delay),
        "gaps": gaps,
        "short_start": short_start,
        "short_end": short_end,
        "min_gap": min_gap,
        "span": span,
        "host_start_p50_max": _quantiles(starts, (0.5, 1.0)),
        "host_span_p50_max": _quantiles(spans, (0.5, 1.0)),
        "first_gap_p50_p90": _quantiles(firsts, (0.5, 0.9)),
        "gap_p50_p90_p99": _quantiles(rest, (0.5, 0.9, 0.99)),
    }


def _quantiles(values: list[float], qs: tuple[float, ...]) -> list[float]:
    if not values:
        return [0.0 for _ in qs]
    ordered = sorted(values)
    return [round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4) for q in qs]


def _site(
    hosts: int, per_host: int, delay: float, tmp: Path, client: Callable[[dict[str, int]], Any]
) -> tuple[Any, dict[str, list[list[Any]]], float]:
    """Serve a fresh polite site, run `client(ports)` against it; (its result, the server's
    log, the server's CPU seconds)."""
    log_file = tmp / "server.json"
    site = [str(HERE / "polite_site.py"), str(hosts), str(per_host), str(delay), str(log_file)]
    server = subprocess.Popen(
        [sys.executable, *site],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        ports = json.loads(server.stdout.readline())
        # Dirty pages of whatever ran before (an earlier run's archive) are written back
        # now, not on this crawl's clock: on this VM a run right after another one spent
        # up to 3x the system time per page creating files.
        if hasattr(os, "sync"):
            os.sync()
        result = client(ports)
    finally:
        # the site's own CPU: it shares the two cores with the crawl
        server_cpu = _process_cpu(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    log: dict[str, list[list[Any]]] = json.loads(log_file.read_text())
    if not any(log.values()):
        raise SystemExit(f"the crawl made no requests: {str(result)[-2000:]}")
    return result, log, server_cpu


def run_polite(hosts: int, per_host: int, delay: float, peer: str | None = None) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-polite-") as name:
        tmp = Path(name)
        config = tmp / "config.yaml"

        def morgue(ports: dict[str, int]) -> dict[str, Any]:
            config.write_text(_config(ports, tmp / "data", delay))
            return _crawl(config, tmp)

        crawl, server_log, server_cpu = _site(hosts, per_host, delay, tmp, morgue)
        verify = subprocess.run(
            [sys.executable, "-m", "scraper", "--config", str(config), "verify"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=str(ROOT)),
        )
    load_after = os.getloadavg()
    result = _gaps(server_log, hosts, delay)
    result.update(
        {
            "hosts": hosts,
            "per_host": per_host,
            "delay": delay,
            "cpu_ms_per_page": 1000 * crawl["cpu"] / max(1, result["requests"]),
            "cpu_s": crawl["cpu"],
            "main_cpu_ms_per_page": 1000 * crawl["main_cpu"] / max(1, result["requests"]),
            "main_sys_ms_per_page": 1000 * crawl["main_sys"] / max(1, result["requests"]),
            "others_cpu_ms_per_page": 1000 * crawl["others_cpu"] / max(1, result["requests"]),
            "others_sys_ms_per_page": 1000 * crawl["others_sys"] / max(1, result["requests"]),
            "sys_ms_per_page": 1000 * crawl["sys"] / max(1, result["requests"]),
            "server_cpu_ms_per_request": 1000 * server_cpu / max(1, result["requests"]),
            "wall": crawl["wall"],
            "rss_mb": crawl["rss_mb"],
            "pss_mb": crawl["pss_mb"],
            "max_one_rss_mb": crawl["max_one_rss_mb"],
            "exit": crawl["exit"],
            "verify_exit": verify.returncode,
            "load_before": load_before,
            "load_after": load_after,
        }
    )
    print(json.dumps(result), file=sys.stderr)
    if crawl["exit"] != 0:
        print(f"crawl exit {crawl['exit']}:\n{crawl['stderr']}", file=sys.stderr)
    print(crawl["stdout"][-600:], file=sys.stderr)
    _print(result)
    if peer == "scrapy":
        result["scrapy"] = _scrapy_peer(hosts, per_host, delay)
        _print_peer(result, result["scrapy"])
    return result


def _scrapy_peer(hosts: int, per_host: int, delay: float) -> dict[str, Any]:
    """The same site crawled by Scrapy (bench/scrapy_crawl_peer.py), which fetches, follows
    links and saves each page as a file: server-side rate and gaps, CPU of its process."""
    from bench_fetch import _ensure_scrapy

    python = _ensure_scrapy()
    with tempfile.TemporaryDirectory(prefix="bench-polite-scrapy-") as name:
        tmp = Path(name)

        def scrapy(ports: dict[str, int]) -> dict[str, Any]:
            homes = tmp / "homes.json"
            homes.write_text(json.dumps([f"http://{a}:{p}/" for a, p in ports.items()]))
            command = [str(python), str(HERE / "scrapy_crawl_peer.py"), "--delay", str(delay)]
            command += ["--out", str(tmp / "pages"), str(homes)]
            wall0 = time.monotonic()
            with (tmp / "scrapy.out").open("w") as out:
                proc = subprocess.Popen(command, stdout=out, cwd=tmp)
                # the whole process, start-up included, as morgue's crawl is counted
                _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - wall0
            lines = (tmp / "scrapy.out").read_text().strip().splitlines()
            return {
                "stats": json.loads(lines[-1]) if lines else {},
                "cpu": usage.ru_utime + usage.ru_stime,
                "wall": wall,
                "exit": os.waitstatus_to_exitcode(status),
            }

        run, log, _ = _site(hosts, per_host, delay, tmp, scrapy)
        saved = sum(1 for _ in (tmp / "pages").iterdir()) if (tmp / "pages").exists() else 0
    result = _gaps(log, hosts, delay)
    requests = max(1, result["requests"])
    result.update(
        {
            "cpu_ms_per_page": 1000 * run["cpu"] / requests,
            "cpu_ms_per_page_crawl_only": 1000 * run["stats"].get("cpu", float("nan")) / requests,
            "pages_saved": saved,
            "ok": run["stats"].get("ok", 0),
            "failed": run["stats"].get("failed", 0),
            "wall": run["wall"],
            "exit": run["exit"],
        }
    )
    print(json.dumps({"scrapy": result}), file=sys.stderr)
    return result


def _print_peer(r: dict[str, Any], s: dict[str, Any]) -> None:
    print(
        "\npeer, same site, same rules (bench/scrapy_crawl_peer.py: Scrapy fetches, follows "
        "links, saves each page as a file; it parses no article and keeps no catalog):\n"
    )
    print(
        "| client | requests | articles | of allowed | gaps < D end->start | CPU ms/page "
        "| pages saved |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    print(
        f"| morgue crawl | {r['requests']} | {r['article_requests']} | {r['efficiency']:.3f} | "
        f"{r['short_end']} | {r['cpu_ms_per_page']:.2f} | (archive) |"
    )
    print(
        f"| Scrapy | {s['requests']} | {s['article_requests']} | {s['efficiency']:.3f} | "
        f"{s['short_end']} | {s['cpu_ms_per_page']:.2f} | {s['pages_saved']} |"
    )
    print(
        f"\nmorgue / Scrapy: rate x{r['efficiency'] / max(s['efficiency'], 1e-9):.3f}, "
        f"CPU per page x{r['cpu_ms_per_page'] / max(s['cpu_ms_per_page'], 1e-9):.2f}"
    )


def _print(r: dict[str, Any]) -> None:
    allowed = r["hosts"] / r["delay"]
    print(
        f"\npolite crawl: {r['hosts']} hosts x ({r['per_host']} articles + index + robots.txt), "
        f"Crawl-delay {r['delay']:g} s, allowed {allowed:.0f} req/s, {os.cpu_count()} cores\n"
    )
    print(
        "| requests | articles | req/s | of allowed | gaps < D start->start | gaps < D "
        "end->start | min end->start gap | CPU ms/page (all processes) | of which system "
        "| of which the crawl process | peak RSS MB (tree) | peak PSS MB (tree) "
        "| load avg before / after | verify |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    lb, la = r["load_before"], r["load_after"]
    print(
        f"| {r['requests']} | {r['article_requests']} | {r['rate']:.1f} | "
        f"{r['efficiency']:.3f} | {r['short_start']} of {r['gaps']} | {r['short_end']} | "
        f"{r['min_gap']:.3f} s | {r['cpu_ms_per_page']:.2f} | {r['sys_ms_per_page']:.2f} | "
        f"{r['main_cpu_ms_per_page']:.2f} | "
        f"{r['rss_mb']:.0f} | {r['pss_mb']:.0f} | "
        f"{lb[0]:.2f} / {la[0]:.2f} | {'clean' if r['verify_exit'] == 0 else 'PROBLEMS'} |"
    )
    print(
        f"\nper host (s): start after the first request p50/max {r['host_start_p50_max']}, "
        f"span p50/max {r['host_span_p50_max']}, first gap end->start p50/p90 "
        f"{r['first_gap_p50_p90']}, other gaps end->start p50/p90/p99 {r['gap_p50_p90_p99']}"
    )
    print(
        f"\nCPU ms/page by process (sampled): crawl {r['main_cpu_ms_per_page']:.2f} "
        f"(system {r['main_sys_ms_per_page']:.2f}), the processes it started "
        f"{r['others_cpu_ms_per_page']:.2f} (system {r['others_sys_ms_per_page']:.2f}); "
        f"the loopback site (not counted above) {r['server_cpu_ms_per_request']:.2f} per request"
    )
