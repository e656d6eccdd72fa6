"""The fetch stage: one polite GET with retries -> RawPage.

`fetcher` (Fetcher, AsyncFetcher) drives one request per URL through `exchange` (a single
HTTP exchange with its limits), `polite` (robots.txt and per-host pacing), `netguard` (no
private addresses), `retry` (what to retry, how long to wait) and `decoding` (bodies under a
decompression cap).
"""

from scraper.fetch.fetcher import ROBOTS_REDIRECTS, AsyncFetcher, Fetcher

__all__ = ["ROBOTS_REDIRECTS", "AsyncFetcher", "Fetcher"]
