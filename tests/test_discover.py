"""Discovery over bytes: feeds, sitemaps (plain, index, news, gzipped, text), pages, robots."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from scraper.crawl.discover import (
    Link,
    ListingKind,
    feed_links,
    page_links,
    parse_date,
    parse_listing,
    robots_sitemaps,
)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>News</title>
<item><title>A</title><link>https://e.org/2024/05/17/a-story</link>
  <pubDate>Fri, 17 May 2024 10:30:00 +0200</pubDate></item>
<item><title>B</title><guid isPermaLink="true">https://e.org/b-story-here</guid></item>
<item><title>C</title><guid isPermaLink="false">tag:e.org,2024:3</guid></item>
<item><title>D</title><link>/relative/d-story</link></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title>A</title><link rel="self" href="https://e.org/api/1"/>
  <link rel="alternate" type="text/html" href="https://e.org/news/a-thing"/>
  <published>2024-05-17T08:00:00Z</published><updated>2024-05-18T09:00:00+01:00</updated></entry>
<entry><title>B</title><link href="https://e.org/news/b-thing"/></entry>
</feed>"""

RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://e.org/"><title>t</title></channel>
<item rdf:about="https://e.org/rdf-one"><title>1</title><link>https://e.org/rdf-one</link>
  <dc:date>2024-05-17</dc:date></item>
<item rdf:about="https://e.org/rdf-two"><title>2</title></item>
</rdf:RDF>"""

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
 <url><loc>https://e.org/2024/05/17/news-one</loc>
  <news:news><news:publication><news:name>E</news:name><news:language>en</news:language>
  </news:publication><news:publication_date>2024-05-17T12:00:00+02:00</news:publication_date>
  <news:title>One</news:title></news:news></url>
 <url><loc>https://e.org/2024/05/16/news-two</loc><lastmod>2024-05-16</lastmod></url>
 <url><loc>javascript:alert(1)</loc></url>
</urlset>"""

INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
 <sitemap><loc>https://e.org/sitemap-news.xml</loc><lastmod>2024-05-17T00:00:00Z</lastmod></sitemap>
 <sitemap><loc>https://e.org/sitemap-2024-05.xml.gz</loc></sitemap>
</sitemapindex>"""


def test_rss2_links_dates_guid_permalinks_and_relative_links() -> None:
    listing = parse_listing(RSS, "https://e.org/rss")
    assert listing.kind is ListingKind.FEED
    assert [link.url for link in listing.links] == [
        "https://e.org/2024/05/17/a-story",
        "https://e.org/b-story-here",
        "https://e.org/relative/d-story",
    ]
    assert listing.links[0].published == datetime(2024, 5, 17, 8, 30, tzinfo=UTC)


def test_atom_prefers_the_alternate_html_link() -> None:
    listing = parse_listing(ATOM)
    assert listing.kind is ListingKind.FEED
    assert listing.links == (
        Link(
            "https://e.org/news/a-thing",
            datetime(2024, 5, 17, 8, tzinfo=UTC),
            datetime(2024, 5, 18, 8, tzinfo=UTC),
        ),
        Link("https://e.org/news/b-thing"),
    )


def test_rdf_items_use_link_or_rdf_about() -> None:
    listing = parse_listing(RDF)
    assert listing.kind is ListingKind.FEED
    assert [link.url for link in listing.links] == [
        "https://e.org/rdf-one",
        "https://e.org/rdf-two",
    ]
    assert listing.links[0].published == datetime(2024, 5, 17, tzinfo=UTC)


def test_news_sitemap_gives_publication_dates_and_lastmod() -> None:
    listing = parse_listing(NEWS_SITEMAP)
    assert listing.kind is ListingKind.SITEMAP
    assert listing.links == (
        Link("https://e.org/2024/05/17/news-one", datetime(2024, 5, 17, 10, tzinfo=UTC), None),
        Link("https://e.org/2024/05/16/news-two", None, datetime(2024, 5, 16, tzinfo=UTC)),
    )


def test_sitemap_index_and_gzip() -> None:
    listing = parse_listing(gzip.compress(INDEX))
    assert listing.kind is ListingKind.SITEMAP_INDEX
    assert [link.url for link in listing.links] == [
        "https://e.org/sitemap-news.xml",
        "https://e.org/sitemap-2024-05.xml.gz",
    ]
    assert listing.links[0].modified == datetime(2024, 5, 17, tzinfo=UTC)


def test_text_sitemap_and_garbage() -> None:
    listing = parse_listing(b"https://e.org/a\nhttps://e.org/b\n")
    assert listing.kind is ListingKind.SITEMAP
    assert len(listing.links) == 2
    for junk in (b"", b"\x1f\x8b\x00broken", b"<html><body>hi</body></html>", b"just text"):
        assert parse_listing(junk).kind is ListingKind.UNKNOWN


def test_xml_entities_are_not_expanded() -> None:
    bomb = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">
    <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>
    <urlset><url><loc>https://e.org/x&b;</loc></url></urlset>"""
    listing = parse_listing(bomb)
    assert all(len(link.url) < 100 for link in listing.links)


def test_page_links_resolve_base_drop_fragments_and_non_http() -> None:
    html = b"""<html><head><base href="https://e.org/news/"></head><body>
    <a href="a-story">1</a><a href="/b#comments">2</a><a href="/b">dup</a>
    <a href="mailto:x@e.org">m</a><a href="javascript:void(0)">j</a>
    <a href="https://other.org/c">c</a><a href="http://[::1">bad</a>
    <a href="http://e.org:99999/x">bad port</a></body></html>"""
    assert page_links(html, "https://e.org/") == [
        "https://e.org/news/a-story",
        "https://e.org/b",
        "https://other.org/c",
    ]
    assert page_links(b"", "https://e.org/") == []


def test_feed_links_from_a_home_page() -> None:
    html = b"""<html><head>
    <link rel="alternate" type="application/rss+xml" href="/rss">
    <link rel="alternate" type="application/atom+xml" href="https://e.org/atom.xml">
    <link rel="alternate" hreflang="de" href="/de/">
    <link rel="stylesheet" href="/s.css"></head></html>"""
    assert feed_links(html, "https://e.org/") == ["https://e.org/rss", "https://e.org/atom.xml"]


def test_robots_sitemaps() -> None:
    text = "User-agent: *\nDisallow: /private\nSitemap: https://e.org/sm.xml # main\n"
    text += "sitemap: /news-sitemap.xml\nSitemap: https://e.org/sm.xml\n"
    assert robots_sitemaps(text, "https://e.org/robots.txt") == [
        "https://e.org/sm.xml",
        "https://e.org/news-sitemap.xml",
    ]


def test_parse_date_formats() -> None:
    assert parse_date("Fri, 17 May 2024 10:30:00 GMT") == datetime(2024, 5, 17, 10, 30, tzinfo=UTC)
    assert parse_date("2024-05-17T10:30:00+0200") == datetime(2024, 5, 17, 8, 30, tzinfo=UTC)
    assert parse_date("2024-05-17") == datetime(2024, 5, 17, tzinfo=UTC)
    assert parse_date("yesterday") is None
    assert parse_date(None) is None


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=400),
        st.text(alphabet="<>/=\"' ahrefloc:[]%.1xurlset", max_size=300).map(str.encode),
    )
)
def test_discovery_never_raises_on_garbage(body: bytes) -> None:
    assert parse_listing(body, "https://e.org/").kind in ListingKind
    assert isinstance(page_links(body, "https://e.org/"), list)
    assert isinstance(feed_links(body, "https://e.org/"), list)
    assert isinstance(robots_sitemaps(body.decode("utf-8", "replace"), "https://e.org/"), list)
