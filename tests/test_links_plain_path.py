"""A root-relative link of plain path characters is made absolute as the page's origin
followed by the link, without urljoin: exactly what `discover.absolute` makes of it."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from scraper.crawl import links as links_mod
from scraper.crawl.classify import UrlPolicy
from scraper.crawl.discover import MAX_PAGE_LINKS, absolute
from scraper.crawl.links import LinkJudge

BASES = [
    "http://news.example/2024/05/a-story",
    "https://News.Example:8443/x/y?q=1#f",
    "HTTP://news.example/",
    "http://user:pw@news.example:80/a;p?q",
    "http://[::1]:8080/a",
    "http://127.1.0.5:8000/news/2024/05/01/x-1",
    "http://news.example:99999/a",  # a port out of range: nothing is fetched there
    "http://:80/a",  # no host
    "http://news.example:/a",
    "https://xn--bcher-kva.example/a/b/",
]
HREFS = [
    "/",
    "/a",
    "/a/",
    "/a//b",
    "/news/2024/05/01/alpha-beta_gamma-9",
    "/A-Z/0_9/-/",
    "/a/../b",
    "/a/./b",
    "/a?b",
    "/a#b",
    "/a b",
    "/a%20b",
    "/\u00e9",
    "/a\n",
    "//other.example/a",
    "/a;b",
    "/a.html",
]


def _judge() -> LinkJudge:
    policy = UrlPolicy(sites=frozenset({"news.example"}), allow=(), deny=())
    return LinkJudge(policy)


@pytest.mark.parametrize("base", BASES)
def test_links_are_what_absolute_makes_of_them(base: str) -> None:
    judge = _judge()
    got = {url for url, _ in judge.links(HREFS, base)}
    want = {u for u in (absolute(h, base) for h in HREFS) if u is not None}
    assert got == want
    # and once more, from what it remembered
    assert {url for url, _ in judge.links(HREFS, base)} == want


def test_many_plain_paths_against_absolute() -> None:
    alphabet = "aZ09_-/"
    for base, n in itertools.product(BASES, range(1, 5)):
        hrefs = ["/" + "".join(p) for p in itertools.product(alphabet, repeat=n)]
        assert all(re.fullmatch(r"/[A-Za-z0-9_/-]*", h) for h in hrefs)
        judge = _judge()
        got = [url for url, _ in judge.links(hrefs, base)]
        want = list(dict.fromkeys(u for u in (absolute(h, base) for h in hrefs) if u))
        assert got == want[: len(got)]
        assert len(got) == min(len(want), MAX_PAGE_LINKS)


def test_plain_paths_skip_urljoin(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    def counted(href: str | None, base: str | None) -> str | None:
        calls.append(href)
        return absolute(href, base)

    monkeypatch.setattr(links_mod, "absolute", counted)
    hrefs = [f"/news/story-{i}" for i in range(50)]
    judge = _judge()
    judge.links(hrefs, "http://news.example/a")
    assert len(calls) == 1  # the origin, tried once with a probe path
