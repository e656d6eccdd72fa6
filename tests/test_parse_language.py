"""The page's declared language: every source, their order, BCP 47 normalisation, and the
numeric-date order it sets."""

from __future__ import annotations

import pytest

from scraper.parse import parse_html
from scraper.parse.language import normalise
from tests.test_parse_unseen_dates_captions import _thread

PROSE = (
    "The council met on Tuesday to vote on the new bridge over the river, and the debate ran "
    "long into the evening as residents queued to speak for and against the plan. "
)


def _page(html_attrs: str = "", head: str = "") -> bytes:
    return (
        f"<html {html_attrs}><head><title>Bridge vote</title>{head}</head><body><article>"
        f"<h1>Bridge vote</h1><p>{PROSE}{PROSE}</p><p>{PROSE}</p></article></body></html>"
    ).encode()


def _language(html_attrs: str = "", head: str = "") -> tuple[str | None, str | None]:
    content = parse_html(_page(html_attrs, head), "https://news.example/bridge-vote")
    return content.language, dict(content.provenance).get("language")


@pytest.mark.parametrize(
    ("declared", "tag"),
    [
        ("en-us", "en-US"),
        ("EN_us", "en-US"),
        ("en_US", "en-US"),
        ("de", "de"),
        ("DE", "de"),
        ("de, en", "de"),
        ("en-US,en;q=0.9", "en-US"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("de-DE-1996", "de-DE"),
        (" pt-br ", "pt-BR"),
        ("English", "en"),
        ("Deutsch", "de"),
        ("x-default", None),
        ("{{lang}}", None),
        ("<%= lang %>", None),
        ("none", None),
        ("null", None),
        ("und", None),
        ("i-klingon", None),
        ("", None),
        ("-", None),
    ],
)
def test_a_declared_language_is_normalised_to_bcp47_or_refused(
    declared: str, tag: str | None
) -> None:
    assert normalise(declared) == tag


@pytest.mark.parametrize(
    ("attrs", "head", "expected"),
    [
        ("lang='en-us'", "", ("en-US", "html")),
        ("xml:lang='de-de'", "", ("de-DE", "html")),
        ("", "<meta http-equiv='Content-Language' content='en-us'>", ("en-US", "meta")),
        ("", "<meta name='language' content='fr'>", ("fr", "meta")),
        ("", "<meta name='content-language' content='it'>", ("it", "meta")),
        ("", "<meta name='DC.language' content='nl'>", ("nl", "meta")),
        ("", "<meta property='og:locale' content='pt_BR'>", ("pt-BR", "meta")),
        (
            "",
            '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bridge '
            'vote", "inLanguage": "es-mx"}</script>',
            ("es-MX", "json-ld"),
        ),
        ("", "", (None, None)),
    ],
)
def test_each_source_declares_the_language(
    attrs: str, head: str, expected: tuple[str | None, str | None]
) -> None:
    assert _language(attrs, head) == expected


def test_sources_are_read_in_order_and_junk_falls_through_to_the_next() -> None:
    every = (
        "<meta http-equiv='Content-Language' content='de-AT'><meta name='language' content='fr'>"
        "<meta property='og:locale' content='it_IT'>"
    )
    assert _language("lang='en-GB'", every) == ("en-GB", "html")
    assert _language("", every) == ("de-AT", "meta")
    assert _language("", every.split("<meta name")[0].replace("de-AT", "x-default")) == (
        None,
        None,
    )
    # an unfilled template placeholder or hreflang's x-default is skipped, not recorded
    assert _language("lang='{{lang}}' xml:lang='none'", every) == ("de-AT", "meta")
    assert _language("lang='x-default'", "<meta property='og:locale' content='en_GB'>") == (
        "en-GB",
        "meta",
    )


def test_content_language_alone_makes_a_page_us_english_for_its_numeric_dates() -> None:
    url = "https://forums.riverside.example/showthread.php?t=1"
    head = "<meta http-equiv='Content-Language' content='en-us'>"
    content = parse_html(_thread("06-11-2019", "06-12-2019", "", head), url)
    assert content.language == "en-US"
    assert content.published == "2019-06-11T21:15:00"


def test_a_region_from_any_source_sets_the_numeric_date_order() -> None:
    url = "https://forums.riverside.example/showthread.php?t=1"
    # lang="en" alone is read as American; og:locale or Content-Language may say otherwise
    for head, published in (
        ("", "2019-06-11T21:15:00"),
        ("<meta property='og:locale' content='en_GB'>", "2019-11-06T21:15:00"),
        ("<meta http-equiv='Content-Language' content='en-AU'>", "2019-11-06T21:15:00"),
        ("<meta property='og:locale' content='en_US'>", "2019-06-11T21:15:00"),
        # a region given for another language does not make the page's English British
        ("<meta property='og:locale' content='de_DE'>", "2019-06-11T21:15:00"),
    ):
        content = parse_html(_thread("06-11-2019", "06-12-2019", "lang='en'", head), url)
        assert content.language == "en", head
        assert content.published == published, head
