"""Per-site overrides from config.yaml (`SiteRules`): a CSS selector, or XPath when the rule
starts with '/' or '(', for any field, plus `drop` selectors whose elements are removed before
anything else is read. A rule that matches nothing leaves the generic extractor in charge.

CSS is compiled to XPath once per selector by cssselect (lxml's own CSS support), so rules run
on the same lxml tree as everything else.
"""

from __future__ import annotations

from functools import lru_cache

from lxml import etree
from lxml.cssselect import CSSSelector, SelectorError

from scraper.errors import ParseError
from scraper.parse.dom import HtmlElement, clean_text, drop_tree, text_content

Match = HtmlElement | str


@lru_cache(maxsize=512)
def _compile(selector: str) -> etree.XPath:
    if selector.lstrip().startswith(("/", "(")):
        return etree.XPath(selector)
    return CSSSelector(selector, translator="html")


def select(root: HtmlElement, selector: str, url: str | None = None) -> list[Match]:
    """Elements (or XPath strings) a rule selects, in document order."""
    try:
        result = _compile(selector)(root)
    except (SelectorError, etree.XPathError) as exc:
        raise ParseError(url, f"bad site rule selector {selector!r}: {exc}") from None
    items: list[object] = list(result) if isinstance(result, list) else [result]
    out: list[Match] = []
    for item in items:
        if isinstance(item, HtmlElement):
            out.append(item)
        elif isinstance(item, str):
            out.append(str(item))
    return out


def value_of(match: Match) -> str:
    """The text a rule match stands for: an attribute value, or an element's text."""
    if isinstance(match, str):
        return clean_text(match)
    for attr in {
        "meta": ("content",),
        "time": ("datetime",),
        "img": ("src", "data-src"),
        "link": ("href",),
    }.get(match.tag, ()):
        if match.get(attr):
            return clean_text(match.get(attr))
    return clean_text(text_content(match))


def texts(root: HtmlElement, selector: str | None, url: str | None) -> list[str]:
    if not selector:
        return []
    return [t for t in (value_of(m) for m in select(root, selector, url)) if t]


def elements(root: HtmlElement, selector: str | None, url: str | None) -> list[HtmlElement]:
    if not selector:
        return []
    return [m for m in select(root, selector, url) if isinstance(m, HtmlElement)]


def drop(root: HtmlElement, selectors: tuple[str, ...], url: str | None) -> int:
    """Remove every element the drop selectors match; returns how many were removed."""
    removed = 0
    for selector in selectors:
        for el in elements(root, selector, url):
            if el.getparent() is not None:
                drop_tree(el)
                removed += 1
    return removed
