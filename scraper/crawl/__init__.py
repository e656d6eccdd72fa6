"""Scheduled crawls: discovery (feeds, sitemaps, section pages), the URL classifier, one bounded
crawl run over the persistent frontier (`crawl`), and the long-running scheduler.

    from scraper.crawl import crawl
    report = crawl(config, fetcher=app.make_async_fetcher(), archive=archive)
"""

from __future__ import annotations

from scraper.crawl.report import CrawlReport, SourceReport, SourceStatus, format_report
from scraper.crawl.run import crawl, crawl_async, start_points

__all__ = [
    "CrawlReport",
    "SourceReport",
    "SourceStatus",
    "crawl",
    "crawl_async",
    "format_report",
    "start_points",
]
