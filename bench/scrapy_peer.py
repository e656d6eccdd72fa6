"""Scrapy as the peer in bench_fetch.py: fetch a list of URLs politely, print stats as JSON.

Runs in bench/.venv-scrapy (never imports morgue). Configured like morgue's fetcher in the
benchmark: one request per host at a time, DOWNLOAD_DELAY between requests to a host (not
randomised), robots.txt obeyed. Scrapy's CONCURRENT_REQUESTS also counts requests that sit in
a host's queue waiting out the delay, so the benchmark sets it to the number of hosts: with 16,
Scrapy could not keep even 16 of 200 hosts busy (morgue's global cap counts only requests on the
wire).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.settings import default_settings

# The delay is exactly DOWNLOAD_DELAY, not randomised (the setting's name changed in 2.19).
NO_JITTER = (
    {"DOWNLOAD_DELAY_JITTER": 0}
    if hasattr(default_settings, "DOWNLOAD_DELAY_JITTER")
    else {"RANDOMIZE_DOWNLOAD_DELAY": False}
)


class BenchSpider(scrapy.Spider):  # type: ignore[misc]  # scrapy is untyped
    name = "bench"

    def __init__(self, urls: list[str], stats: dict[str, float], **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.urls = urls
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):  # type: ignore[no-untyped-def]
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.opened, signal=signals.spider_opened)
        crawler.signals.connect(spider.closed_, signal=signals.spider_closed)
        return spider

    def opened(self, spider: scrapy.Spider) -> None:
        self.stats["cpu0"] = time.process_time()
        self.stats["wall0"] = time.monotonic()

    def closed_(self, spider: scrapy.Spider) -> None:
        self.stats["cpu"] = time.process_time() - self.stats.pop("cpu0")
        self.stats["wall"] = time.monotonic() - self.stats.pop("wall0")

    async def start(self):  # type: ignore[no-untyped-def]
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True)

    def start_requests(self):  # type: ignore[no-untyped-def]  # Scrapy < 2.13
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, errback=self.failed, dont_filter=True)

    def parse(self, response):  # type: ignore[no-untyped-def]
        self.stats["ok"] += 1

    def failed(self, failure):  # type: ignore[no-untyped-def]
        self.stats["failed"] += 1
        print(f"scrapy: {failure.value}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, required=True)
    parser.add_argument("--user-agent", required=True)
    parser.add_argument("--concurrent-requests", type=int, default=16)
    parser.add_argument("urls", type=Path)
    args = parser.parse_args()
    urls = json.loads(args.urls.read_text())
    stats: dict[str, float] = {"ok": 0, "failed": 0}
    process = CrawlerProcess(
        settings={
            "DOWNLOAD_DELAY": args.delay,
            **NO_JITTER,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 1,
            "CONCURRENT_REQUESTS": args.concurrent_requests,
            "ROBOTSTXT_OBEY": True,
            "USER_AGENT": args.user_agent,
            "AUTOTHROTTLE_ENABLED": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            "LOG_LEVEL": "ERROR",
        }
    )
    process.crawl(BenchSpider, urls=urls, stats=stats)
    process.start()
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
