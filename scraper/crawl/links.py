"""Judging the links of crawled pages cheaply, for one source's run.

News pages repeat most of their links on every page (navigation, related stories, footers),
and resolving, normalizing and classifying a link costs ~100 µs in Python. `LinkJudge`
remembers, per raw `href`, the absolute URL and the verdict it came to: an absolute href, or
one relative to the site root, means the same on every page of a host, so it is judged once.
Any other relative href is remembered per base URL. It also remembers which plain article
links this run has already handed to the frontier: adding one again would change nothing
there (no date, no refresh), so it is not sent again. The results are exactly those of
`discover.absolute_links` followed by `UrlPolicy.judge`; the caches are bounded.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from scraper.crawl.classify import UrlPolicy, Verdict
from scraper.crawl.discover import MAX_PAGE_LINKS, absolute

MAX_REMEMBERED = 100_000  # entries per cache; a full cache is emptied and refilled

_Judged = tuple[str, Verdict] | None


class LinkJudge:
    def __init__(self, policy: UrlPolicy, max_remembered: int = MAX_REMEMBERED) -> None:
        self.policy = policy
        self.max_remembered = max_remembered
        self._judged: dict[tuple[str, str], _Judged] = {}
        self._sent: set[str] = set()

    def links(self, hrefs: list[str], base: str) -> list[tuple[str, Verdict]]:
        """(absolute URL, verdict) for each distinct link of a page, in page order."""
        origin = _origin(base)
        out: dict[str, Verdict] = {}
        judged = self._judged
        for href in hrefs:
            if href.startswith(("http://", "https://")):
                key = ("", href)
            elif href.startswith("/") and not href.startswith("//") and origin:
                key = (origin, href)
            else:
                key = (base, href)
            try:
                found = judged[key]
            except KeyError:
                url = absolute(href, base)
                found = None if url is None else (url, self.policy.judge(url).verdict)
                if len(judged) >= self.max_remembered:
                    judged.clear()
                judged[key] = found
            if found is not None:
                out.setdefault(found[0], found[1])
                if len(out) >= MAX_PAGE_LINKS:  # as discover.absolute_links caps them
                    break
        return list(out.items())

    def first_time(self, article_url: str) -> bool:
        """True the first time this run sends `article_url` (a plain link) to the frontier."""
        if article_url in self._sent:
            return False
        if len(self._sent) >= self.max_remembered:
            self._sent.clear()
        self._sent.add(article_url)
        return True


def _origin(base: str) -> str:
    """scheme://netloc of `base`: what a root-relative href is resolved against."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"
