"""Find URLs in what a crawl fetches: feeds, sitemaps, HTML pages and robots.txt (pure, bytes in).

`parse_listing(body, base_url)` reads any machine listing a source may point at: RSS 2.0, Atom,
RSS 1.0 (RDF), sitemaps, sitemap indexes, Google News sitemaps (their publication dates), plain
text sitemaps, gzipped or not. `page_links(html, base_url)` gives the links of an HTML page,
`feed_links(html, base_url)` the feeds it advertises with `<link rel=alternate>`, and
`robots_sitemaps(text)` the `Sitemap:` lines of a robots.txt. Nothing here does I/O; a body that
is not what it claims to be gives an empty result, never an exception.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import cast
from urllib.parse import urljoin, urlsplit, urlunsplit

from lxml import etree
from lxml import html as lxml_html

from scraper.parse.charset import decode_html
from scraper.parse.dom import tame_attributes

MAX_LISTING_BYTES = 50_000_000  # a gzipped sitemap is inflated to at most this much
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")  # lxml refuses str input that declares one
MAX_PAGE_LINKS = 5_000  # real section pages link to hundreds; more is a trap
MAX_RAW_HREFS = 20 * MAX_PAGE_LINKS  # hrefs read per page, repeats included
MAX_ENTRIES = 50_000  # the sitemap protocol's own limit per file; feeds are far smaller
_FEED_TYPES = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/xml",
    "text/xml",
)


class ListingKind(StrEnum):
    FEED = "feed"
    SITEMAP = "sitemap"  # a urlset: article candidates
    SITEMAP_INDEX = "sitemap_index"  # a list of further sitemaps
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Link:
    """A URL a listing names, with the dates the listing gives for it (UTC, or None)."""

    url: str
    published: datetime | None = None
    modified: datetime | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    kind: ListingKind
    links: tuple[Link, ...] = ()  # for a sitemap index: the child sitemaps


def parse_date(text: str | None) -> datetime | None:
    """A tz-aware UTC datetime from RFC 822 (RSS) or ISO 8601 / W3C (Atom, sitemaps) text."""
    if not text or not text.strip():
        return None
    text = text.strip()
    moment: datetime | None = None
    if text[:4].isdigit():
        iso = text.replace("Z", "+00:00").replace("z", "+00:00")
        iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)  # +0100 -> +01:00
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            moment = None
    else:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            moment = None
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # year 1 or 9999 at a far offset leaves datetime's range
        return None


def _inflate(body: bytes) -> bytes:
    """Gunzip a gzipped body under a size cap (a bomb yields its first MAX_LISTING_BYTES)."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(body, MAX_LISTING_BYTES)
    except zlib.error:
        return b""


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child_text(element: etree._Element, *names: str) -> str | None:
    for child in element:
        if _local(child) in names and child.text and child.text.strip():
            return child.text.strip()
    return None


def absolute(url: str | None, base_url: str | None) -> str | None:
    """`url` made absolute against `base_url`, without its fragment; None unless http(s)."""
    if not url:
        return None
    url = url.strip()
    try:
        joined = urljoin(base_url, url) if base_url else url
        parts = urlsplit(joined)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return None
        parts.port  # noqa: B018 (raises ValueError for a port out of range)
    except ValueError:  # "http://[::1", "http://e.org:99999/": not a URL we can fetch
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


_XML_PARSER = etree.XMLParser(
    recover=True, resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True
)


def _xml_root(body: bytes) -> etree._Element | None:
    body = _inflate(body).lstrip()
    if not body.startswith((b"<", b"\xef\xbb\xbf<")):
        return None
    try:
        root = etree.fromstring(body, _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    return root


def parse_listing(body: bytes, base_url: str | None = None) -> Listing:
    """What a feed or sitemap lists.

    >>> parse_listing(b"<urlset><url><loc>https://e.org/a</loc></url></urlset>").links
    (Link(url='https://e.org/a', published=None, modified=None),)
    """
    root = _xml_root(body)
    if root is None:
        return _text_sitemap(_inflate(body), base_url)
    kind = _local(root)
    if kind == "urlset":
        return Listing(ListingKind.SITEMAP, tuple(_sitemap_entries(root, "url", base_url)))
    if kind == "sitemapindex":
        return Listing(
            ListingKind.SITEMAP_INDEX, tuple(_sitemap_entries(root, "sitemap", base_url))
        )
    if kind in ("rss", "rdf", "feed", "channel"):
        return Listing(ListingKind.FEED, tuple(_feed_entries(root, base_url)))
    return Listing(ListingKind.UNKNOWN)


def _text_sitemap(body: bytes, base_url: str | None) -> Listing:
    text = body[:MAX_LISTING_BYTES].decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or not all(re.match(r"https?://\S+$", line) for line in lines[:50]):
        return Listing(ListingKind.UNKNOWN)
    links = [Link(url) for line in lines[:MAX_ENTRIES] if (url := absolute(line, base_url))]
    return Listing(ListingKind.SITEMAP, tuple(links))


def _sitemap_entries(root: etree._Element, tag: str, base_url: str | None) -> list[Link]:
    out: list[Link] = []
    for entry in root.iter():
        if _local(entry) != tag:
            continue
        url = absolute(_child_text(entry, "loc"), base_url)
        if url is None:
            continue
        published = None
        for news in entry:
            if _local(news) == "news":
                published = parse_date(_child_text(news, "publication_date"))
        out.append(Link(url, published, parse_date(_child_text(entry, "lastmod"))))
        if len(out) >= MAX_ENTRIES:
            break
    return out


def _feed_entries(root: etree._Element, base_url: str | None) -> list[Link]:
    out: list[Link] = []
    for item in root.iter():
        name = _local(item)
        if name == "item":  # RSS 2.0 and RSS 1.0
            url = _child_text(item, "link")
            if url is None:
                guid = next((c for c in item if _local(c) == "guid"), None)
                if guid is not None and guid.get("isPermaLink", "true") == "true":
                    url = guid.text
            if url is None:
                url = item.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
            published = parse_date(_child_text(item, "pubdate", "date", "published"))
            modified = parse_date(_child_text(item, "updated", "modified"))
        elif name == "entry":  # Atom
            url = _atom_link(item)
            published = parse_date(_child_text(item, "published", "issued"))
            modified = parse_date(_child_text(item, "updated", "modified"))
        else:
            continue
        found = absolute(url, base_url)
        if found is not None:
            out.append(Link(found, published, modified))
            if len(out) >= MAX_ENTRIES:
                break
    return out


def _atom_link(entry: etree._Element) -> str | None:
    fallback = None
    for child in entry:
        if _local(child) != "link" or not child.get("href"):
            continue
        rel = child.get("rel", "alternate")
        if rel == "alternate" and child.get("type", "text/html").startswith(("text/html", "app")):
            return child.get("href")
        fallback = fallback or (child.get("href") if rel == "alternate" else None)
    return fallback


def _html_root(body: bytes) -> lxml_html.HtmlElement | None:
    if not body.strip():
        return None
    # decoded and tamed as the parser does: libxml2 is quadratic in one tag's attributes
    text = tame_attributes(_XML_DECLARATION.sub("", decode_html(body)[0], count=1))
    try:
        return lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError):
        return None


def _base(root: etree._Element, base_url: str) -> str:
    for href in cast("list[str]", root.xpath("//base/@href")):
        try:
            return urljoin(base_url, str(href).strip())
        except ValueError:  # <base href="http://[::1">: keep the page's own URL
            return base_url
    return base_url


def page_hrefs(body: bytes, base_url: str) -> tuple[str, list[str]]:
    """The page's base URL (its `<base href>` or `base_url`) and the raw `href` values of its
    `<a>` and `<area>` links, in page order (at most MAX_RAW_HREFS of them)."""
    root = _html_root(body)
    if root is None:
        return base_url, []
    return tree_hrefs(root, base_url)


def tree_hrefs(root: etree._Element, base_url: str) -> tuple[str, list[str]]:
    """`page_hrefs` of the page parsed as `root`."""
    found = cast("list[str]", root.xpath("//a/@href | //area/@href"))
    hrefs = [str(h) for h in found[:MAX_RAW_HREFS]]
    return _base(root, base_url), hrefs


def absolute_links(hrefs: list[str], base: str) -> list[str]:
    """Absolute http(s) URLs of `hrefs` against `base`, fragments dropped, each once, in
    order, at most MAX_PAGE_LINKS."""
    seen: dict[str, None] = {}
    for href in hrefs:
        url = absolute(href, base)
        if url is not None:
            seen.setdefault(url, None)
            if len(seen) >= MAX_PAGE_LINKS:  # a page of 150k links would flood the frontier
                break
    return list(seen)


def page_links(body: bytes, base_url: str) -> list[str]:
    """Absolute http(s) URLs of the page's `<a href>` links, fragments dropped, in page order,
    each once."""
    base, hrefs = page_hrefs(body, base_url)
    return absolute_links(hrefs, base)


def feed_links(body: bytes, base_url: str) -> list[str]:
    """Feeds a page advertises: `<link rel="alternate" type="application/rss+xml" href=...>`."""
    root = _html_root(body)
    if root is None:
        return []
    base = _base(root, base_url)
    out: dict[str, None] = {}
    for link in root.xpath("//link[@href]"):
        rels = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in _FEED_TYPES:
            url = absolute(link.get("href"), base)
            if url is not None:
                out.setdefault(url, None)
    return list(out)


def robots_sitemaps(text: str, base_url: str | None = None) -> list[str]:
    """The `Sitemap:` URLs of a robots.txt, in order, each once."""
    out: dict[str, None] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap":
            url = absolute(value.split("#", 1)[0].strip(), base_url)
            if url is not None:
                out.setdefault(url, None)
    return list(out)
