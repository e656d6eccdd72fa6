"""Machine-readable metadata of a page: JSON-LD, OpenGraph / article:* / Dublin Core <meta>,
and schema.org microdata, gathered once into a `Structured` value the field extractors read.

JSON-LD is parsed leniently (CDATA wrappers, comments, trailing semicolons, several objects in
one script, `@graph`, `mainEntity`) and the article object is chosen by type: NewsArticle,
Article, ReportageNewsArticle, BlogPosting and their relatives, preferring the one whose URL
or headline matches the page.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from scraper.parse.dom import HtmlElement, clean_text, having

ARTICLE_TYPES = frozenset(
    t.lower()
    for t in [
        "Article",
        "NewsArticle",
        "ReportageNewsArticle",
        "AnalysisNewsArticle",
        "OpinionNewsArticle",
        "BackgroundNewsArticle",
        "ReviewNewsArticle",
        "AskPublicNewsArticle",
        "BlogPosting",
        "SocialMediaPosting",
        "LiveBlogPosting",
        "ScholarlyArticle",
        "TechArticle",
        "Report",
        "SatiricalArticle",
        "AdvertiserContentArticle",
        "Review",
        "MedicalScholarlyArticle",
    ]
)
PAGE_TYPES = frozenset(("webpage", "itempage", "medicalwebpage", "collectionpage"))
_CDATA = re.compile(r"^\s*(?://\s*)?<!\[CDATA\[|(?://\s*)?\]\]>\s*$")
_COMMENT = re.compile(r"^\s*<!--|-->\s*$")

JsonObj = dict[str, Any]


@dataclass(slots=True)
class Structured:
    """Everything machine-readable on the page."""

    article: JsonObj | None = None  # the JSON-LD article object
    page: JsonObj | None = None  # a JSON-LD WebPage object, for dates when no article
    objects: list[JsonObj] = field(default_factory=list)  # every JSON-LD object, flattened
    meta: dict[str, list[str]] = field(default_factory=dict)  # <meta> name/property -> values
    itemprops: dict[str, list[HtmlElement]] = field(default_factory=dict)  # microdata
    lang: str | None = None  # <html lang>
    xml_lang: str | None = None  # <html xml:lang>
    canonical: str | None = None

    def first_meta(self, *names: str) -> tuple[str, str] | None:
        """(value, name) of the first non-empty <meta> among names, in the order given."""
        for name in names:
            for value in self.meta.get(name, ()):
                value = clean_text(value)
                if value:
                    return value, name
        return None


def _types(obj: JsonObj) -> set[str]:
    raw = obj.get("@type")
    items = raw if isinstance(raw, list) else [raw]
    return {str(t).rsplit("/", 1)[-1].lower() for t in items if isinstance(t, str)}


def _load_json(text: str) -> list[Any]:
    text = text.strip()
    # the patterns can only match around these markers ("in" is a fast C scan; the patterns'
    # unanchored halves are tried at every position of what can be a long script)
    if "<![CDATA[" in text or "]]>" in text:
        text = _CDATA.sub("", text)
    if "<!--" in text or "-->" in text:
        text = _COMMENT.sub("", text)
    text = text.strip().rstrip(";")
    if not text:
        return []
    try:
        return [json.loads(text)]
    except (ValueError, RecursionError):
        pass
    # Several objects back to back, or raw newlines inside strings.
    out: list[Any] = []
    decoder = json.JSONDecoder(strict=False)
    pos = 0
    while pos < len(text):
        while pos < len(text) and text[pos] in " \t\r\n,;":
            pos += 1
        if pos >= len(text):
            break
        try:
            obj, pos = decoder.raw_decode(text, pos)
        except (ValueError, RecursionError):
            break
        out.append(obj)
    return out


def _flatten(value: Any, out: list[JsonObj], depth: int = 0) -> None:
    if depth > 6:
        return
    if isinstance(value, list):
        for item in value:
            _flatten(item, out, depth + 1)
    elif isinstance(value, dict):
        out.append(value)
        for key in ("@graph", "mainEntity", "mainEntityOfPage", "hasPart", "itemListElement"):
            child = value.get(key)
            if isinstance(child, dict | list):
                _flatten(child, out, depth + 1)


def _pick_article(objects: list[JsonObj], url: str | None) -> JsonObj | None:
    articles = [o for o in objects if _types(o) & ARTICLE_TYPES]
    if not articles:
        return None

    def rank(obj: JsonObj) -> tuple[int, int, int]:
        own = obj.get("url") or obj.get("@id") or ""
        entity = obj.get("mainEntityOfPage")
        if isinstance(entity, dict):
            entity = entity.get("@id") or entity.get("url")
        same = int(bool(url) and isinstance(own, str) and _same_page(own, url or ""))
        same |= int(bool(url) and isinstance(entity, str) and _same_page(entity, url or ""))
        complete = int(bool(obj.get("headline")) and bool(obj.get("datePublished")))
        return same, complete, len(obj)

    return max(articles, key=rank)


def _same_page(a: str, b: str) -> bool:
    def key(u: str) -> str:
        return u.split("#", 1)[0].split("?", 1)[0].rstrip("/").split("://", 1)[-1].lower()

    return key(a) == key(b)


def read_structured(
    root: HtmlElement,
    jsonld: list[str],
    url: str | None,
    itemprops: list[HtmlElement] | None = None,
) -> Structured:
    """Collect JSON-LD objects, <meta> values, microdata and <html lang> from a page
    (`itemprops`: the page's elements with an itemprop in document order, when the caller has
    them)."""
    st = Structured()
    for text in jsonld:
        for value in _load_json(text):
            _flatten(value, st.objects)
    st.article = _pick_article(st.objects, url)
    st.page = next((o for o in st.objects if _types(o) & PAGE_TYPES), None)
    for el in root.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if not key and el.get("http-equiv"):
            # kept apart from <meta name>: "http-equiv:content-language", "http-equiv:refresh"
            key = "http-equiv:" + el.get("http-equiv", "").strip().lower()
        if key and content is not None:
            st.meta.setdefault(key, []).append(content)
    if itemprops is None:
        # A loop over the element list costs less than an XPath over "//*".
        itemprops = having(list(root.iter(etree.Element)), "itemprop")
    for el in itemprops:
        props = el.get("itemprop")
        if props:
            for prop in props.split():
                st.itemprops.setdefault(prop, []).append(el)
    st.lang = root.get("lang")
    st.xml_lang = root.get("xml:lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang")
    for link in root.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            st.canonical = link.get("href")
            break
    return st


def as_text(value: Any) -> str | None:
    """A JSON-LD value as one clean string (first item of a list, "name" of an object)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("text")
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = clean_text(str(value))
        return text or None
    return None


def as_texts(value: Any) -> list[str]:
    """Every string in a JSON-LD value (list, comma string, or objects with "name")."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        text = as_text(item)
        if text:
            out.append(text)
    return out
