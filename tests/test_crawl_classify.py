"""The article URL classifier, the source's URL policy and trap detection."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scraper.config import Source
from scraper.crawl.classify import UrlPolicy, Verdict, looks_like_article, trap_reason, url_template


@pytest.mark.parametrize(
    "url",
    [
        "https://e.org/world/2024/05/17/floods-hit-the-north",
        "https://www.theguardian.com/world/2024/may/17/floods-hit-the-north-of-the-country",
        "https://www.npr.org/2024/05/17/1251234567/senate-passes-bill",
        "https://www.bbc.com/news/world-europe-68912345",
        "https://e.org/news/a-long-slug-with-many-words",
        "https://e.org/politics/minister-resigns-after-vote.html",
        "https://e.org/20240517/short-title",
        "https://e.org/story?id=123456",
    ],
)
def test_articles(url: str) -> None:
    assert looks_like_article(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://e.org/",
        "https://e.org/world",
        "https://e.org/world/europe",
        "https://e.org/tag/floods-in-the-north",
        "https://e.org/author/jane-doe-smith-jones",
        "https://e.org/category/world-news-today",
        "https://e.org/search?q=floods-in-the-north",
        "https://e.org/news?page=3",
        "https://e.org/2024/05/17/",
        "https://e.org/calendar/2024/05",
        "https://e.org/images/a-photo-of-the-floods.jpg",
        "https://e.org/files/annual-report-2024-final.pdf",
        "https://e.org/login",
        "https://e.org/feed/rss-latest-news-today",
    ],
)
def test_not_articles(url: str) -> None:
    assert not looks_like_article(url)


def test_traps() -> None:
    assert trap_reason("https://e.org/news/a-b-c") is None
    assert trap_reason("https://e.org/" + "x" * 500)
    assert trap_reason("https://e.org/a/b/a/b/a/b/c")
    assert trap_reason("https://e.org/calendar/2187/01")
    assert trap_reason("https://e.org/calendar/1712/01")
    assert trap_reason("https://e.org/world?page=51")
    assert trap_reason("https://e.org/world/page/99")
    assert trap_reason("https://e.org/world?page=3") is None
    assert trap_reason("https://e.org/" + "/".join("abcdefghijklmn")) is not None


def test_url_template_blanks_numbers() -> None:
    assert url_template("https://E.org/calendar/2031/07?day=3") == "e.org/calendar/N/N?day=N"


def _source(**kw: object) -> Source:
    return Source(name="e", home="https://www.e.org/", hosts=("e.org",), **kw)  # type: ignore[arg-type]


def test_policy_scope_default_classifier_and_deny() -> None:
    policy = UrlPolicy.for_source(_source(deny=(r"/opinion/",)))
    assert policy.judge("https://e.org/world/2024/05/17/floods-hit").verdict is Verdict.ARTICLE
    assert policy.judge("https://news.e.org/world/2024/05/17/floods").verdict is Verdict.ARTICLE
    assert policy.judge("https://e.org/world").verdict is Verdict.PAGE
    assert policy.judge("https://other.org/2024/05/17/floods-hit").verdict is Verdict.SKIP
    assert policy.judge("https://e.org/opinion/2024/05/17/take-it").verdict is Verdict.SKIP
    assert policy.judge("ftp://e.org/2024/05/17/floods-hit").verdict is Verdict.SKIP
    assert policy.judge("https://e.org/calendar/2999/01").verdict is Verdict.SKIP
    assert policy.judge("https://e.org/a.jpg").verdict is Verdict.SKIP


def test_policy_allow_patterns_decide_articles_and_may_name_other_sites() -> None:
    policy = UrlPolicy.for_source(
        _source(allow=(r"^https://www\.e\.org/\d{4}/", r"^https://cdn\.partner\.net/story/"))
    )
    assert policy.judge("https://www.e.org/2024/x").verdict is Verdict.ARTICLE
    assert policy.judge("https://www.e.org/floods-hit-the-north-hard").verdict is Verdict.PAGE
    assert policy.judge("https://cdn.partner.net/story/1").verdict is Verdict.ARTICLE
    assert policy.judge("https://cdn.partner.net/other/1").verdict is Verdict.SKIP


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=120).map(lambda tail: "https://e.org/" + tail)
    | st.tuples(
        st.sampled_from(["http://", "https://", ""]),
        st.text(alphabet="/[]:@?#&=.%e0123456789-", max_size=40),
    ).map("".join)
)
@example("http://[::1/x")
@example("https://e.org:99999/a-b-c-d")
def test_classifier_never_raises(url: str) -> None:
    policy = UrlPolicy.for_source(_source())
    assert policy.judge(url).verdict in Verdict
    assert isinstance(looks_like_article(url), bool)
    assert trap_reason(url) is None or isinstance(trap_reason(url), str)
