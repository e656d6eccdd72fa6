"""Decide what a discovered URL is to a source: an article, a page to follow, or neither.

`UrlPolicy.for_source(source)` compiles a source's allow/deny regexes and hosts once;
`policy.judge(url)` then says `Verdict.ARTICLE`, `Verdict.PAGE` (navigation to follow for links),
or `Verdict.SKIP` with the reason (off site, denied, a trap, a media file...). With no allow
patterns the default classifier `looks_like_article` decides from the URL alone: date-like paths,
slug-like last segments, numeric ids, and not tag/author/category/search/feed/login pages.
`trap_reason` guards against crawler traps: endless calendars and pagination, very long URLs,
repeated path segments. All pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl, unquote, urlsplit

from archive.urls import normalize_url, site_of
from scraper.config import Source

MAX_URL_LENGTH = 400
MAX_PATH_SEGMENTS = 12
MAX_SEGMENT_REPEATS = 2  # /a/b/a/b/a is a loop of relative links, not a page
MAX_PAGE_NUMBER = 50  # ?page=51 or /page/51: deep pagination, left to sitemaps
YEAR_RANGE = (1990, 2100)  # navigation pages dated outside this are calendar traps

_MEDIA = re.compile(
    r"\.(jpe?g|png|gif|webp|avif|svg|ico|bmp|tiff?|mp[34]|m4[av]|mov|avi|webm|ogg|wav|flac|pdf|"
    r"zip|gz|tgz|rar|7z|exe|dmg|apk|css|js|mjs|json|xml|rss|atom|txt|csv|xlsx?|docx?|pptx?|"
    r"woff2?|ttf|eot)$",
    re.IGNORECASE,
)
_NOT_ARTICLE_SEGMENTS = frozenset(
    {
        "tag",
        "tags",
        "topic",
        "topics",
        "author",
        "authors",
        "category",
        "categories",
        "page",
        "search",
        "feed",
        "feeds",
        "rss",
        "login",
        "signin",
        "sign-in",
        "logout",
        "register",
        "signup",
        "subscribe",
        "subscription",
        "account",
        "profile",
        "user",
        "users",
        "newsletter",
        "newsletters",
        "about",
        "contact",
        "privacy",
        "terms",
        "cookies",
        "wp-admin",
        "wp-login.php",
        "cdn-cgi",
        "calendar",
        "people",
        "contributors",
        "staff",
        "jobs",
        "careers",
        "advertise",
        "help",
        "faq",
        "shop",
        "cart",
        "print",
        "share",
        "comments",
    }
)
_NOT_ARTICLE_PARAMS = frozenset({"q", "query", "s", "search", "page", "tag", "author"})
_DATE_PATH = re.compile(
    r"/(19|20)\d{2}[/-](0?[1-9]|1[0-2]|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
    r"([/-](0?[1-9]|[12]\d|3[01]))?(/|$)",
    re.IGNORECASE,
)
_COMPACT_DATE = re.compile(r"(^|[/_-])(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])([/_.-]|$)")
_YEAR = re.compile(r"(?<!\d)(1\d{3}|2\d{3})(?!\d)")
_PAGE_PATH = re.compile(r"/page/(\d+)(/|$)", re.IGNORECASE)


class Verdict(StrEnum):
    ARTICLE = "article"
    PAGE = "page"
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    reason: str = ""


def _segments(path: str) -> list[str]:
    return [unquote(s) for s in path.split("/") if s]


def _slug_words(segment: str) -> int:
    stem = re.sub(r"\.(s?html?|php|aspx?|cms)$", "", segment, flags=re.IGNORECASE)
    return len([w for w in re.split(r"[-_+.]+", stem) if re.search(r"[^\W\d]", w)])


def looks_like_article(url: str) -> bool:
    """The default classifier: does this URL look like one article (not a list of them)?

    >>> looks_like_article("https://e.org/world/2024/05/17/floods-hit-the-north")
    True
    >>> looks_like_article("https://e.org/tag/floods")
    False
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    path = parts.path
    segments = _segments(path)
    if not segments or _MEDIA.search(path):
        return False
    lowered = [s.lower() for s in segments]
    if any(s in _NOT_ARTICLE_SEGMENTS for s in lowered):
        return False
    params = {k.lower() for k, _ in parse_qsl(parts.query)}
    if params & _NOT_ARTICLE_PARAMS:
        return False
    last = segments[-1]
    words = _slug_words(last)
    dated = bool(_DATE_PATH.search(path) or _COMPACT_DATE.search(path))
    # a long number in the last segment or an id parameter names one item: /news/x-68912345
    strong_id = bool(re.search(r"\d{6,}", last)) or bool(
        re.search(r"[?&](id|p|story|article|articleid)=\d+", url, re.IGNORECASE)
    )
    has_id = strong_id or bool(re.search(r"\d{5,}", path))
    score = 0
    if dated:
        score += 2
    if words >= 4:
        score += 2
    elif words >= 3:
        score += 1
    if strong_id:
        score += 2
    elif has_id:
        score += 1
    if re.search(r"\.s?html?$", last, re.IGNORECASE) and words >= 2:
        score += 1
    if not re.search(r"[^\W\d]", last) and not has_id:
        score -= 2  # /2024/05/17 or /news/3: a date or pager page
    if len(segments) == 1 and words < 3 and not has_id:
        score -= 1  # /world, /politics: a section front
    return score >= 2


def trap_reason(url: str) -> str | None:
    """Why following this URL risks an endless crawl, or None when it looks finite."""
    if len(url) > MAX_URL_LENGTH:
        return f"URL longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a valid URL"
    segments = [s.lower() for s in _segments(parts.path)]
    if len(segments) > MAX_PATH_SEGMENTS:
        return f"more than {MAX_PATH_SEGMENTS} path segments"
    counts: dict[str, int] = {}
    for segment in segments:
        if not segment.isdigit():
            counts[segment] = counts.get(segment, 0) + 1
            if counts[segment] > MAX_SEGMENT_REPEATS:
                return f"path segment {segment!r} repeated"
    for match in _YEAR.finditer(parts.path + "?" + parts.query):
        year = int(match.group(1))
        if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
            return f"calendar year {year} out of range"
    page = _PAGE_PATH.search(parts.path)
    numbers = [int(page.group(1))] if page else []
    numbers += [int(v) for k, v in parse_qsl(parts.query) if k.lower() == "page" and v.isdigit()]
    if any(n > MAX_PAGE_NUMBER for n in numbers):
        return f"pagination beyond page {MAX_PAGE_NUMBER}"
    return None


def url_template(url: str) -> str:
    """The shape of a URL with its numbers blanked: /calendar/2031/07?day=3 ->
    host/calendar/N/N?day=N. Many navigation pages of one shape mean a generated space."""
    parts = urlsplit(url)
    shape = re.sub(r"\d+", "N", f"{parts.path}?{parts.query}")
    return f"{(parts.hostname or '').lower()}{shape}"


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """A source's rules for URLs, compiled once."""

    sites: frozenset[str]
    allow: tuple[re.Pattern[str], ...]
    deny: tuple[re.Pattern[str], ...]

    @classmethod
    def for_source(cls, source: Source) -> UrlPolicy:
        starts = [source.home or "", *source.start_urls]
        sites = {site_of(u) for u in starts if u} | {h for h in source.hosts if h}
        return cls(
            sites=frozenset(s.removeprefix("www.") for s in sites),
            allow=tuple(re.compile(p) for p in source.allow),
            deny=tuple(re.compile(p) for p in source.deny),
        )

    def on_site(self, url: str) -> bool:
        site = site_of(url)
        return any(site == s or site.endswith("." + s) for s in self.sites)

    def in_scope(self, url: str) -> bool:
        """Own site(s), or another site an allow pattern names from its start (`^https://...`)."""
        if urlsplit(url).scheme not in ("http", "https"):
            return False
        return self.on_site(url) or any(p.match(url) for p in self.allow)

    def judge(self, url: str) -> Judgement:
        """ARTICLE, PAGE or SKIP (with a reason) for a URL found while crawling."""
        try:
            url = normalize_url(url)
            urlsplit(url).port  # noqa: B018 (raises ValueError for a bad port)
        except ValueError:
            return Judgement(Verdict.SKIP, "not a valid URL")
        if not self.in_scope(url):
            return Judgement(Verdict.SKIP, "off site")
        if any(p.search(url) for p in self.deny):
            return Judgement(Verdict.SKIP, "denied by the source's deny patterns")
        if _MEDIA.search(urlsplit(url).path):
            return Judgement(Verdict.SKIP, "not a page (media or data file)")
        is_article = (
            any(p.search(url) for p in self.allow) if self.allow else looks_like_article(url)
        )
        if is_article:
            reason = trap_reason(url) if len(url) > MAX_URL_LENGTH else None
            return Judgement(Verdict.SKIP, reason) if reason else Judgement(Verdict.ARTICLE)
        reason = trap_reason(url)
        if reason:
            return Judgement(Verdict.SKIP, f"trap: {reason}")
        return Judgement(Verdict.PAGE)
