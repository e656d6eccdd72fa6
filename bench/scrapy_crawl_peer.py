"""Scrapy as the peer in `bench_crawl.py --polite --peer scrapy`: crawl and save, print stats.

Runs in bench/.venv-scrapy (never imports morgue). It does what a home-made Scrapy spider of a
news site does, under the same rules as morgue's crawl in the benchmark: start at each host's
home page, obey robots.txt, one request per host at a time with DOWNLOAD_DELAY between them
(not randomised), follow on-host links to depth 2 except the section fronts (the benchmark's
`deny` rule), without their tracking parameters, and save every page it gets as a file (its
body, as served). It neither parses articles nor deduplicates them: the CPU it spends per page
is the floor of fetching, link following and saving in Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path
from urllib.parse import parse_qsl, urldefrag, urlencode, urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy_peer import NO_JITTER, BenchSpider  # (bench/, the script's own folder)

DENY = re.compile(r"^http://[^/]+/[a-z]+$")  # section fronts, as in the morgue config


def _clean(url: str) -> str:
    """The URL without its fragment and tracking parameters (utm_*), as morgue keys it:
    without this Scrapy fetches the related links' `?utm_source=` copies as new pages."""
    parts = urlsplit(urldefrag(url)[0])
    if not parts.query:
        return parts.geturl()
    kept = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("utm_")
    ]
    return parts._replace(query=urlencode(kept)).geturl()


class CrawlSpider(BenchSpider):
    """scrapy_peer's spider (its timing, its start requests), following links and saving."""

    name = "crawl"

    def __init__(self, homes: list[str], out: Path, stats: dict[str, float], **kw: object) -> None:
        super().__init__(urls=homes, stats=stats, **kw)
        self.out = out

    def parse(self, response):  # type: ignore[no-untyped-def]
        self.stats["ok"] += 1
        name = hashlib.sha1(response.url.encode()).hexdigest()
        (self.out / f"{name}.html").write_bytes(response.body)
        here = urlsplit(response.url).netloc
        for href in response.css("a::attr(href)").getall():
            url = _clean(response.urljoin(href))
            if urlsplit(url).netloc == here and not DENY.match(url):
                yield scrapy.Request(url, callback=self.parse, errback=self.failed)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("homes", type=Path, help="a JSON list of the hosts' home URLs")
    args = parser.parse_args()
    homes = json.loads(args.homes.read_text())
    args.out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, float] = {"ok": 0, "failed": 0}
    process = CrawlerProcess(
        settings={
            "DOWNLOAD_DELAY": args.delay,
            **NO_JITTER,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            # Scrapy counts requests waiting out a host's delay against this cap
            "CONCURRENT_REQUESTS": len(homes),
            "DEPTH_LIMIT": 2,
            "ROBOTSTXT_OBEY": True,
            "USER_AGENT": "bench-scrapy-peer",
            "AUTOTHROTTLE_ENABLED": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "ERROR",
        }
    )
    process.crawl(CrawlSpider, homes=homes, out=args.out, stats=stats)
    process.start()
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
