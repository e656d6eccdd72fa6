"""The small fields: language, site name, section, tags, canonical URL and lead image, each
from the most specific machine-readable source that has it (language: `language.py`)."""

from __future__ import annotations

from scraper.parse.dom import HtmlElement, absolute_url, clean_text, text_content
from scraper.parse.structured import Structured, as_text, as_texts


def _abs(url: str | None, base: str | None) -> str | None:
    if not url:
        return None
    return absolute_url(base, url)


def site_name(st: Structured) -> tuple[str | None, str | None]:
    found = st.first_meta("og:site_name", "application-name", "al:ios:app_name", "twitter:site")
    if found and not found[0].startswith("@"):
        return found[0], "meta"
    if st.article is not None:
        text = as_text(st.article.get("publisher"))
        if text:
            return text, "json-ld"
    if found:
        return found[0], "meta"
    return None, None


def section(st: Structured) -> tuple[str | None, str | None]:
    if st.article is not None:
        text = as_text(st.article.get("articleSection"))
        if text:
            return text, "json-ld"
    found = st.first_meta("article:section", "parsely-section", "section", "category")
    return (found[0], "meta") if found else (None, None)


def tags(st: Structured) -> tuple[list[str], str | None]:
    values = [v.strip() for v in st.meta.get("article:tag", ()) if v.strip()]
    if values:
        return list(dict.fromkeys(values)), "meta"
    if st.article is not None:
        raw = st.article.get("keywords")
        items = raw.split(",") if isinstance(raw, str) else as_texts(raw)
        items = [i.strip() for i in items if i.strip()]
        if items:
            return list(dict.fromkeys(items)), "json-ld"
    found = st.first_meta("news_keywords", "keywords")
    if found:
        return list(dict.fromkeys(i.strip() for i in found[0].split(",") if i.strip())), "meta"
    return [], None


def canonical_url(st: Structured, base: str | None) -> tuple[str | None, str | None]:
    if st.canonical:
        return _abs(st.canonical, base), "link"
    found = st.first_meta("og:url")
    if found:
        return _abs(found[0], base), "meta"
    if st.article is not None:
        text = as_text(st.article.get("url"))
        if text:
            return _abs(text, base), "json-ld"
    return None, None


def lead_image(st: Structured, base: str | None) -> tuple[str | None, str | None]:
    found = st.first_meta("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
    if found:
        return _abs(found[0], base), "meta"
    if st.article is not None:
        image = st.article.get("image")
        if isinstance(image, list):
            image = image[0] if image else None
        if isinstance(image, dict):
            image = image.get("url") or image.get("contentUrl")
        if isinstance(image, str):
            return _abs(image, base), "json-ld"
    return None, None


def title(st: Structured, root: HtmlElement) -> tuple[str | None, str | None]:
    """The page's metadata title as the page gives it (no site suffix cut): the JSON-LD
    article's headline, else og:title, else twitter:title, else the document's `<title>`."""
    if st.article is not None:
        text = as_text(st.article.get("headline"))
        if text:
            return text, "json-ld"
    found = st.first_meta("og:title", "twitter:title")
    if found:
        return found[0], "meta"
    head = root.find("head")
    el = head.find("title") if head is not None else None
    if el is None:
        el = root.find(".//title")
    text = clean_text(text_content(el)) if el is not None else ""
    return (text, "title") if text else (None, None)
