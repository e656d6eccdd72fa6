"""Headline and standfirst.

The headline readers see is the page's visible heading, normally its `<h1>`; metadata titles
(JSON-LD headline, og:title, twitter:title, `<title>`) are often SEO variants with site
suffixes. So the visible heading that agrees with a metadata title wins; without one, the
metadata headline is used, and `<title>` last, with its site-name suffix cut off.
"""

from __future__ import annotations

import re

from scraper.parse.boilerplate import REVIEWS
from scraper.parse.dom import (
    HtmlElement,
    class_id,
    class_words,
    classed,
    clean_text,
    text_content,
)
from scraper.parse.structured import Structured, as_text

_WORD = re.compile(r"\w+")
_SEPARATORS = re.compile("\\s+(?:[|\\-\u2013\u2014/>\u00bb\u00b7:]|::)\\s+")
_STANDFIRST_SET = frozenset(
    (
        "standfirst",
        "dek",
        "deck",
        "subtitle",
        "subheadline",
        "sub-headline",
        "subhead",
        "summary",
        "lede",
        "lead",
        "excerpt",
        "intro",
        "strapline",
        "teaser",
    )
)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def similarity(a: str, b: str) -> float:
    """Share of the shorter title's words found in the longer (0..1)."""
    ta, tb = _tokens(a), _tokens(b)
    if not ta or not tb:
        return 0.0
    short, long_ = (ta, tb) if len(ta) <= len(tb) else (tb, ta)
    pool = set(long_)
    covered = sum(1 for t in short if t in pool) / len(short)
    return covered * min(1.0, (len(short) / len(long_)) * 2)


def _compact(text: str) -> str:
    return "".join(_tokens(text))


def names_site(part: str, site_names: list[str]) -> bool:
    """Is this part of a title the site's name? Equal to a known name, or spelled by the host
    ("Riverdale Courier" on riverdale-courier.example, "The Prairie Bugle" on prairie-bugle)."""
    key = _compact(part)
    if not key:
        return False
    for name in site_names:
        other = _compact(name)
        if key == other or (len(key) >= 4 and "." in name and key in other):
            return True
        if len(other) >= 6 and "." in name and other in key and len(_tokens(part)) <= 4:
            return True
    return False


def strip_site_suffix(title: str, site_names: list[str]) -> str:
    """`<title>` minus "| Site Name" (or "Site Name - " / "Site :: " in front). Site names
    holding a dot are host names, matched against the title's parts spelled together."""
    parts = _SEPARATORS.split(title)
    if len(parts) == 1:
        return title
    kept = [p for p in parts if not names_site(p, site_names)]
    if kept and len(kept) < len(parts):
        return " - ".join(kept) if len(kept) > 1 else kept[0]
    # "Headline | Site" is the common order; a short first part is more likely the site.
    first = parts[0]
    if len(_tokens(first)) >= 3 or len(first) >= 15:
        return first
    longest = max(parts, key=len)
    return longest if len(_tokens(longest)) >= 3 or len(longest) >= 15 else title


def heading_text(el: HtmlElement) -> str:
    """A heading's text without the permalink mark a docs generator or blog appends to it
    (`<a class="headerlink" href="#sec">¶</a>`): a link to the page itself with no words."""
    text = clean_text(text_content(el))
    for a in el.iter("a"):
        mark = clean_text(text_content(a))
        if (
            mark
            and (a.get("href") or "").startswith("#")
            and not any(ch.isalnum() for ch in mark)
            and text.endswith(mark)
        ):
            text = text[: -len(mark)].rstrip()
    return text


def find_headline(
    root: HtmlElement, st: Structured, site_names: list[str]
) -> tuple[str | None, str | None, HtmlElement | None]:
    """(headline, source, heading element) for a page."""
    metas: list[tuple[str, str]] = []
    if st.article is not None:
        for key in ("headline", "name", "alternativeHeadline"):
            text = as_text(st.article.get(key))
            if text:
                metas.append((text, "json-ld"))
                break
    for name in ("og:title", "twitter:title", "dc.title", "headline", "title", "sailthru.title"):
        found = st.first_meta(name)
        if found:
            metas.append((found[0], "meta"))
    title_el = root.find(".//title")
    title = clean_text(text_content(title_el)) if title_el is not None else ""
    if title:
        metas.append((title, "title"))
    # Headings are matched against the title without its site-name part, so that an <h1>
    # holding the blog's or site's name does not pass for the article's heading.
    compare = [strip_site_suffix(m, site_names) if src != "json-ld" else m for m, src in metas]
    best: tuple[float, str, HtmlElement] | None = None
    for tag in ("h1", "h2"):
        for el in root.iter(tag):
            text = heading_text(el)
            if not text or len(text) > 300 or _is_logo(el):
                continue
            score = max((similarity(text, m) for m in compare), default=0.0)
            if tag == "h2":
                score -= 0.1
            if el.get("itemprop") == "headline":
                score += 0.3
            if best is None or score > best[0] + 1e-9:
                best = (score, text, el)
        if best and best[0] >= 0.6:
            break
    if best is not None and best[0] >= 0.5:
        return best[1], "dom", best[2]
    # Layout: Blogger's classic templates (and blog themes like them) give the site's name the
    # <h1> and each post's title an <h3 class="post-title">: when no <h1>/<h2> agrees with the
    # metadata, an <h3> that does is the post's heading (only such pages pay for this loop).
    for el in root.iter("h3"):
        text = heading_text(el)
        if not text or len(text) > 300:
            continue
        score = max((similarity(text, m) for m in compare), default=0.0)
        if score >= 0.6 and (best is None or score > best[0] + 1e-9):
            best = (score, text, el)
    if best is not None and best[0] >= 0.6:
        return best[1], "dom", best[2]
    # No heading agrees with the metadata: the visible <h1> still is what readers see.
    site_parts = [p for m, _ in metas for p in _SEPARATORS.split(m)[1:]] + site_names
    shown = [
        el
        for el in root.iter("h1")
        if _plausible_heading(el)
        and not any(
            similarity(clean_text(text_content(el)), part) >= 0.8 for part in site_parts if part
        )
    ]
    if len(shown) == 1:
        return heading_text(shown[0]), "dom", shown[0]
    if metas:
        text, source = metas[0]
        if source == "title" or (source == "meta" and _SEPARATORS.search(text)):
            text = _shown_last(root, text, site_names) or strip_site_suffix(text, site_names)
        return text, source, _shown_as(root, text)
    return None, None, None


_TITLE_TAGS = ("h3", "h4", "dt", "div", "p", "span", "td", "strong", "b", "font", "a")


def _shown_last(root: HtmlElement, title: str, site_names: list[str]) -> str | None:
    """Layout: old sites without headings or metadata, titled "Site :: Headline" (or
    "Headline - Site"). When the site's name is not known: if both parts are lines of text on
    the page, the one shown last is the headline (mastheads come first); if only one is, in
    big bold type (the masthead is an image), that one is, unless it is a link home."""
    parts = _SEPARATORS.split(title)
    body = root.find("body")
    if body is None or len(parts) < 2 or any(names_site(p, site_names) for p in parts):
        return None
    keys = {_compact(p): p for p in parts if len(_tokens(p)) >= 2}
    seen: dict[str, tuple[int, HtmlElement]] = {}
    for n, el in enumerate(body.iter(*_TITLE_TAGS)):
        if el.text is None or len(el.text) > 300:
            continue
        key = _compact(text_content(el))
        if key in keys and key not in seen:
            seen[key] = (n, el)
    if len(seen) >= 2:
        return keys[max(seen, key=lambda k: seen[k][0])]
    if len(seen) == 1:
        key, (_, el) = next(iter(seen.items()))
        if _links_home(el):  # the masthead: the headline is the other part
            return max((p for p in parts if _compact(p) != key), key=len)
        if _big(el):
            return keys[key]
    return None


def _links_home(el: HtmlElement) -> bool:
    """Inside or holding a link to the site's front page (a masthead)."""
    for a in (*el.iterancestors("a"), *el.iter("a")):
        href = (a.get("href") or "").split("?", 1)[0].split("#", 1)[0]
        path = href.split("://", 1)[1].partition("/")[2] if "://" in href else href.lstrip("/")
        if not path.strip("/") or path.startswith("index."):
            return True
    return False


def _shown_as(root: HtmlElement, headline: str) -> HtmlElement | None:
    """The element showing a metadata headline on the page, when one does (not <title>)."""
    probe = headline[:12]
    body = root.find("body")
    if body is None or not probe:
        return None
    for el in body.iter(*_TITLE_TAGS):
        if el.text and probe in el.text and clean_text(text_content(el)) == headline:
            if el.tag == "a" and _in_menu(el):
                continue  # a title naming the section: its entry in the menu is no heading
            return el
    return None


def _in_menu(link: HtmlElement) -> bool:
    """One of three or more links side by side (a menu)."""
    parent = link.getparent()
    return parent is not None and sum(1 for _ in parent.iter("a")) >= 3


_DISPLAY_TAGS = ("b", "strong", "font", "span", "div", "p", "td", "h3", "h4")
_STOP = frozenset(
    ("the", "a", "an", "of", "and", "in", "on", "at", "to", "for", "with", "from", "by", "is")
)


def display_heading(container: HtmlElement, title: str, limit: int = 60) -> HtmlElement | None:
    """In pages without a heading element (old table layouts), the big bold line at the top
    of the article that shares words with the <title>: what readers see as the headline."""
    words = {w for w in _tokens(title) if len(w) > 2 and w not in _STOP}
    for n, el in enumerate(container.iter(*_DISPLAY_TAGS)):
        if n > limit:
            break
        if not _big(el):
            continue
        text = clean_text(text_content(el))
        if 15 <= len(text) <= 200 and not text.endswith(".") and words & set(_tokens(text)):
            return el
    return None


def opening_heading(container: HtmlElement, title: str, limit: int = 30) -> HtmlElement | None:
    """Layout: old table layouts titled with the site's and section's names only ("Club ::
    News", "TV Talheim - Neuigkeiten"), sharing no word with the article: the big bold line
    that opens the text (after at most a short date or place line) is the headline. Titles
    that read like a headline (one part of five words or more) are left alone."""
    parts = _SEPARATORS.split(title)
    if len(parts) < 2 and len(_tokens(title)) > 4:
        return None
    before = 0
    for n, el in enumerate(container.iter()):
        if n > limit or before > 80:
            return None
        if not isinstance(el.tag, str) or el.tag == "a":
            continue
        if el.tag in _DISPLAY_TAGS and _big(el) and el.find(".//a") is None:
            text = clean_text(text_content(el))
            if 15 <= len(text) <= 200 and not text.endswith("."):
                return el
        before += len((el.text or "").strip())
    return None


def _big(el: HtmlElement) -> bool:
    """Shown as a headline in markup without headings: bold, a large font, a title class."""
    size = (el.get("size") or "").lstrip("+")
    cls = (el.get("class") or "").lower()
    return (
        el.tag in ("b", "strong", "h3", "h4")
        or (el.tag == "font" and size.isdigit() and int(size) >= 4)
        or "title" in cls
        or "headline" in cls
    )


def _is_logo(el: HtmlElement) -> bool:
    """A heading that is one link to the site's front page (or holds only the logo image)."""
    # A link to a place on the page itself ("#section", a permalink mark) is not the logo's.
    links = [
        a for a in el.iter("a") if not (a.get("href") or "").startswith("#") or a.get("href") == "#"
    ]
    if len(links) == 1:
        href = (links[0].get("href") or "").split("?")[0]
        path = href.split("://", 1)[-1]
        path = path.split("/", 1)[1] if "/" in path else ""
        if not path.strip("/") or href in ("/", "#"):
            return True
    return (
        not clean_text(text_content(el))
        or "logo" in " ".join((el.get("class") or "", el.get("id") or "")).lower()
    )


def _plausible_heading(el: HtmlElement) -> bool:
    text = clean_text(text_content(el))
    if _is_logo(el) or len(text) < 10 or len(text) > 300:
        return False
    return not any(a.tag in ("nav", "footer", "aside") for a in el.iterancestors())


_STANDFIRST_PARTS = ("-standfirst", "-dek", "-subtitle", "-subheadline")  # a word's start


def find_standfirst(
    heading: HtmlElement | None,
    elements: list[HtmlElement],
    order: dict[HtmlElement, int],
    window: int = 60,
) -> str | None:
    """The standfirst shown next to the headline (just after it, or just above), by class."""
    at = order.get(heading) if heading is not None else None
    if at is None:
        return None
    # (classed: the page's class table looked up once, not once an element)
    for el, cls, ident in classed(elements[max(0, at - 10) : at + window]):
        if cls is None or el.tag not in ("p", "div", "h2", "span"):
            continue
        tokens, joined = class_words(cls, ident)
        padded = f"-{joined}"
        if tokens & _STANDFIRST_SET or any(part in padded for part in _STANDFIRST_PARTS):
            text = clean_text(text_content(el))
            if 20 <= len(text) <= 600 and not _in_reviews(el):
                return text
    return subtitle_after(heading)


def _in_reviews(el: HtmlElement) -> bool:
    """Layout: shop pages' review boxes ("spr-reviews" with its "spr-summary" line) hold
    "summary" lines that are not the product's."""
    for anc in el.iterancestors():
        cls, ident = class_id(anc)
        if (cls is not None or ident is not None) and class_words(cls, ident)[0] & REVIEWS:
            return True
    return False


def subtitle_after(heading: HtmlElement | None) -> str | None:
    """Layout: news and blog themes that set the subtitle as an <h2> or <h3> right after the
    <h1>, with no class naming it: a line of six words or more (a section's own subheading,
    "Background", is shorter). Not body: the standfirst."""
    if heading is None or heading.tag != "h1" or (heading.tail or "").strip():
        return None
    after = heading.getnext()
    while after is not None and not isinstance(after.tag, str):
        after = after.getnext()  # (a comment between them)
    if after is None or after.tag not in ("h2", "h3"):
        return None
    text = clean_text(text_content(after))
    if not 30 <= len(text) <= 300 or len(text.split()) < 6:
        return None
    return text
