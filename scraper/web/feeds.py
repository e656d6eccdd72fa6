"""Atom feeds: newly archived articles, and articles that got a new version (with a one-line
summary of the diff). Built with ElementTree, so every value is escaped as XML."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from xml.etree import ElementTree as ET

from archive.record import Article, iso_utc

ATOM = "http://www.w3.org/2005/Atom"


def atom(
    title: str,
    self_url: str,
    base: str,
    articles: Sequence[Article],
    summary: Callable[[Article], str],
) -> bytes:
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}title").text = title
    ET.SubElement(feed, f"{{{ATOM}}}id").text = self_url
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    updated = max((iso_utc(a.fetched_at) for a in articles), default="1970-01-01T00:00:00Z")
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = updated
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = "morgue"
    for article in articles:
        link = f"{base}/articles/{article.id}/v/{article.version}"
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}title").text = _clean(article.content.headline[:500])
        ET.SubElement(entry, f"{{{ATOM}}}id").text = link
        ET.SubElement(entry, f"{{{ATOM}}}link", href=link)
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = iso_utc(article.fetched_at)
        ET.SubElement(entry, f"{{{ATOM}}}summary").text = _clean(summary(article)[:2000])
    body: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return body


def _clean(text: str) -> str:
    # XML 1.0 cannot carry most control characters, even escaped
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
