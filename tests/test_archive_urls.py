"""url_key: every spelling of one article's address gives one key, different articles never
share one (the archive would file them as versions of each other)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from archive.urls import normalize_url, same_site, url_key


@pytest.mark.parametrize(
    "variant",
    [
        "https://news.example/2024/05/story",
        "HTTPS://News.Example:443/2024/05/story/",
        "http://news.example/2024/05/story?utm_source=rss&utm_medium=feed",
        "https://news.example/2024/05/story#comments",
        "https://news.example/2024/05/story/amp",
        "https://news.example/2024/05/story?fbclid=IwAR0x&gclid=abc",
        "https://news.example/print/2024/05/story",
        "https://news.example/2024/05/story?sid=8f14e45fceea167a5a36dedd4bea2543",
        "https://news.example/2024/05/story?sid=77&cid=12",  # a slug names the story
    ],
)
def test_variants_of_one_article_share_a_key(variant: str) -> None:
    assert url_key(variant) == "https://news.example/2024/05/story"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://cms.example/article.php?sid=1234", "https://cms.example/article.php?sid=1235"),
        ("https://cms.example/news.php?cid=77", "https://cms.example/news.php?cid=78"),
        ("https://n.example/story?id=1", "https://n.example/story?id=2"),
        ("https://n.example/?sid=5", "https://n.example/?sid=6"),
        ("https://n.example/story?page=1", "https://n.example/story?page=2"),
        ("https://n.example/Story", "https://n.example/story"),
    ],
)
def test_different_articles_keep_different_keys(a: str, b: str) -> None:
    assert url_key(a) != url_key(b)


def test_query_order_does_not_matter() -> None:
    assert url_key("https://n.example/s?b=2&a=1") == url_key("https://n.example/s?a=1&b=2")


def test_same_site_ignores_www_and_mobile_hosts() -> None:
    assert same_site("https://www.n.example/a", "https://m.n.example/b")
    assert not same_site("https://n.example/a", "https://other.example/a")


urls = st.builds(
    lambda host, path, query: f"https://{host}.example/{path}?{query}",
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"[a-zA-Z0-9/_.%-]{0,30}", fullmatch=True),
    st.from_regex(r"([a-z_]{1,6}=[a-zA-Z0-9]{0,6}&){0,3}", fullmatch=True),
)


@given(urls)
def test_url_key_and_normalize_are_idempotent(url: str) -> None:
    assert url_key(url_key(url)) == url_key(url)
    assert normalize_url(normalize_url(url)) == normalize_url(url)
