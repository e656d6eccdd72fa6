"""A worker reads a page's links from the parser's own tree (`parse_page`'s `on_tree`): one
HTML parse of the page, not two, and exactly the links `discover.page_hrefs` reads from a parse
of its own. The tree is shown only when it is the one page_hrefs would build."""

from __future__ import annotations

import contextlib
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from archive.record import RawPage
from scraper.crawl import discover
from scraper.crawl.classify import UrlPolicy
from scraper.crawl.discover import page_hrefs, tree_hrefs
from scraper.crawl.workers import FollowAsk, parse_in_worker
from scraper.errors import ParseError
from scraper.parse import parse_page
from tests.crawl_support import NewsSite

URL = "http://example.org/a/b.html"
TESTS = Path(__file__).resolve().parent

ODD = [
    b"<html><head><!-- <a href='/c'> --><base href='/b/'></head><body><a href=x>1</a>"
    b"<!--[if IE]><a href='/ie'>i</a><![endif]--><?php echo 1 ?><a href='/p'>p</a></body></html>",
    b"<table><a href='/t'>t</a><tr><td><a href='/u'>u</a></table><area href='/area'>",
    b"<html><body><a href='/one'>1<a href='/two'>2</a></a><form><a href='/f'>f</a></form>",
    b"<html><body><a " + b" ".join(b"a%d=1" % i for i in range(3000)) + b" href='/m'>x</a>",
    b"<p>" * 300 + b"<a href='/deep'>d</a>",
    b"<!--unclosed <a href='/hidden'>",
    b"<html><body><a href='&#x2F;ent&amp;q=1'>e</a><a href=' /sp '>s</a></body></html>",
    b"<html><head><meta charset='utf-8'></head><body><a href='/\xc3\xa9t\xc3\xa9'>e</a>",
]
# pages whose parse is not page_hrefs' parse: no tree is shown, page_hrefs parses itself
NOT_SHOWN = [
    b"<html><body>\x00<a href='/x'>a</a></body></html>",  # the parser drops NULs
    b"<?xml version='1.0'?><html><body><a href='/x'>a</a></body></html>",
    b"  <?xml version='1.0'><html><body><a href='/y'>a</a></body></html>",
    b"<html><head><meta charset='iso-8859-1'></head><body><a href='/\xc3\xa9'>e</a></body>",
    b"\xef\xbb\xbf<html><body><a href='/bom'>a</a></body></html>",
    b"<html><body><a href='/\xe9'>cp1252</a></body></html>",
]


def _page(body: bytes, ctype: str | None = None) -> RawPage:
    headers = (("content-type", ctype),) if ctype else ()
    return RawPage(
        requested_url=URL,
        final_url=URL,
        status=200,
        headers=headers,
        body=body,
        fetched_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _shown(page: RawPage) -> list[tuple[str, list[str]]]:
    got: list[tuple[str, list[str]]] = []

    def seen(root: etree._Element) -> None:
        got.append(tree_hrefs(root, page.final_url))

    with contextlib.suppress(ParseError):
        parse_page(page, on_tree=seen)
    return got


def _bodies() -> list[bytes]:
    site = NewsSite.with_articles(3)
    site.base = "https://news.example"
    pages = [site.respond(p)[2] for p in ["/", *(a.path for a in site.articles)]]
    files = sorted((TESTS / "pages").glob("*/*.html")) + sorted((TESTS / "data").rglob("*.html"))
    return [*ODD, *(f.read_bytes() for f in files), *(p for p in pages if isinstance(p, bytes))]


@pytest.mark.parametrize("ctype", [None, "text/html; charset=utf-8", "text/html; charset=latin-1"])
def test_the_tree_shown_has_the_links_page_hrefs_reads(ctype: str | None) -> None:
    shown = 0
    for body in _bodies():
        got = _shown(_page(body, ctype))
        if got:
            shown += 1
            assert got == [page_hrefs(body, URL)], body[:200]
    if ctype and "latin" in ctype:  # decoded from Latin-1, not as page_hrefs decodes
        assert shown == 0
    else:
        assert shown > 50


def test_no_tree_shown_when_the_parse_differs_from_page_hrefs() -> None:
    for body in NOT_SHOWN:
        assert _shown(_page(body)) == [], body


def test_a_worker_parses_an_article_once_for_its_content_and_its_links(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = NewsSite.with_articles(3)
    site.base = "https://news.example"
    body = site.respond(site.articles[1].path)[2]
    assert isinstance(body, bytes)
    page = _page(body, "text/html; charset=utf-8")
    expected = page_hrefs(body, URL)
    parses: list[Any] = []
    real = discover._html_root

    def counted(body: bytes) -> Any:
        parses.append(body)
        return real(body)

    monkeypatch.setattr(discover, "_html_root", counted)
    policy = UrlPolicy(sites=frozenset({"example.org"}), allow=(), deny=())
    parsed = parse_in_worker(page, "s", None, FollowAsk(policy, pages=True), None)
    assert parsed.content is not None
    assert parsed.links
    assert parses == []  # the links came from the parser's tree
    assert {u for u, _ in parsed.links} <= {discover.absolute(h, expected[0]) for h in expected[1]}
    # a page the parser does not share its tree for still gets its links
    parsed = parse_in_worker(_page(b"\x00" + body), "s", None, FollowAsk(policy, True), None)
    assert len(parses) == 1
    assert parsed.links


def test_a_parsed_page_goes_back_without_its_body_text_twice() -> None:
    """The fingerprints' text is the content's: sent once, made again on arrival."""
    site = NewsSite.with_articles(2)
    site.base = "https://news.example"
    body = site.respond(site.articles[0].path)[2]
    assert isinstance(body, bytes)
    parsed = parse_in_worker(_page(body), "s", None, None, None)
    assert parsed.content is not None
    assert parsed.prepared is not None
    text = parsed.prepared.prints.text
    sent = pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL)
    paragraph = parsed.content.body[0].text.encode()
    assert sent.count(paragraph) == 1
    back = pickle.loads(sent)
    assert back == parsed
    assert back.prepared.prints.text == text


def test_parsed_pages_arrive_as_they_were_made() -> None:
    """A Parsed is sent as plain values (`_content_parts`): it arrives equal, field for field
    and type for type."""
    arrived = 0
    for body in _bodies():
        parsed = parse_in_worker(_page(body, "text/html; charset=utf-8"), "s", None, None, None)
        back = pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))
        assert back == parsed
        assert repr(back) == repr(parsed)
        if parsed.content is not None:
            arrived += 1
            assert [type(b.kind) for b in back.content.body] == [
                type(b.kind) for b in parsed.content.body
            ]
            assert back.content.captions == parsed.content.captions
    assert arrived > 30
