"""Judging the links of crawled pages cheaply, for one source's run.

News pages repeat most of their links on every page (navigation, related stories, footers),
and resolving, normalizing and classifying a link costs ~100 µs in Python. `LinkJudge`
remembers, per raw `href`, the absolute URL and the verdict it came to: an absolute href, or
one relative to the site root, means the same on every page of a host, so it is judged once.
Any other relative href is remembered per base URL. It also remembers which plain article
links this run has already handed to the frontier: adding one again would change nothing
there (no date, no refresh), so it is not sent again. The results are exactly those of
`discover.absolute_links` followed by `UrlPolicy.judge`; the caches are bounded.

`followed(judge, hrefs, base, pages=...)` is what a crawl follows from a page, up to what needs
the run's state: it is pure (the source's config only), so a pooled crawl runs it in its ingest
workers (`scraper.crawl.workers`), where one cache serves every source (`WorkerJudges`), and the
crawl process keeps only `first_time` and the frontier.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from scraper.crawl.classify import UrlPolicy, Verdict, url_template
from scraper.crawl.discover import MAX_PAGE_LINKS, absolute

MAX_REMEMBERED = 100_000  # entries per cache; a full cache is emptied and refilled
# a root-relative href of letters, digits, "_", "-" and "/" only (no dot segment, query,
# fragment, escape or space): `absolute` makes it the origin followed by the href, as is
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9_/-]*\Z")

_Judged = tuple[str, Verdict] | None
_Key = tuple[int, str, str]  # (judge's tag, what the href is resolved against, href)
# what a page's links lead to, in page order: (URL, None) an article, (URL, its template) a
# navigation page to follow (`classify.url_template`)
Followed = list[tuple[str, str | None]]


class LinkJudge:
    def __init__(
        self,
        policy: UrlPolicy,
        max_remembered: int = MAX_REMEMBERED,
        *,
        judged: dict[_Key, _Judged] | None = None,
        tag: int = 0,
    ) -> None:
        self.policy = policy
        self.max_remembered = max_remembered
        # a cache may be shared by the judges of several sources, each with its own tag
        self._judged: dict[_Key, _Judged] = {} if judged is None else judged
        self._tag = tag
        self._sent: set[str] = set()
        self._origins: dict[str, bool] = {}

    def _plain(self, origin: str) -> bool:
        """Whether `absolute` makes a plain root-relative href against `origin` the origin
        followed by the href (not when the origin has no host or a bad port, say)."""
        known = self._origins.get(origin)
        if known is None:
            if len(self._origins) >= self.max_remembered:
                self._origins.clear()
            probe = "/a-b_c/9"
            known = self._origins[origin] = absolute(probe, origin + "/x") == origin + probe
        return known

    def links(self, hrefs: list[str], base: str) -> list[tuple[str, Verdict]]:
        """(absolute URL, verdict) for each distinct link of a page, in page order."""
        origin = _origin(base)
        out: dict[str, Verdict] = {}
        judged = self._judged
        tag = self._tag
        for href in hrefs:
            if href.startswith(("http://", "https://")):
                key = (tag, "", href)
            elif href.startswith("/") and not href.startswith("//") and origin:
                key = (tag, origin, href)
            else:
                key = (tag, base, href)
            try:
                found = judged[key]
            except KeyError:
                if origin and key[1] is origin and _PLAIN_PATH.match(href) and self._plain(origin):
                    url: str | None = origin + href
                else:
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


def followed(judge: LinkJudge, hrefs: list[str], base: str, *, pages: bool) -> Followed:
    """The articles of a page's links, and its navigation pages when `pages`, in page order."""
    out: Followed = []
    for url, verdict in judge.links(hrefs, base):
        if verdict is Verdict.ARTICLE:
            out.append((url, None))
        elif verdict is Verdict.PAGE and pages:
            out.append((url, url_template(url)))
    return out


class WorkerJudges:
    """An ingest worker's link judges, one per source, all in one bounded cache: a worker
    sees the pages of every source, and a cache per source would grow with the sources."""

    def __init__(self, max_remembered: int = MAX_REMEMBERED) -> None:
        self.max_remembered = max_remembered
        self._judged: dict[_Key, _Judged] = {}
        self._judges: dict[str, LinkJudge] = {}
        self._tags = 0

    def for_source(self, source: str, policy: UrlPolicy) -> LinkJudge:
        judge = self._judges.get(source)
        if judge is None or judge.policy != policy:  # (a source's config changed: a new tag)
            if len(self._judges) >= self.max_remembered:
                self._judges.clear()
            self._tags += 1
            judge = LinkJudge(policy, self.max_remembered, judged=self._judged, tag=self._tags)
            self._judges[source] = judge
        return judge


def _origin(base: str) -> str:
    """scheme://netloc of `base`: what a root-relative href is resolved against."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc}"
