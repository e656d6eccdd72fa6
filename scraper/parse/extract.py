"""One page in, one `Content` out: the order in which the field extractors run and how they
feed each other (the body container bounds the captions; the headline bounds the dates), plus
per-site rules on top. Every field records where it came from in `provenance`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from archive.record import Block, Caption, Content
from scraper import __version__
from scraper.config import SiteRules
from scraper.errors import NotAnArticle
from scraper.parse import authors as authors_mod
from scraper.parse import body as body_mod
from scraper.parse import captions as captions_mod
from scraper.parse import dates as dates_mod
from scraper.parse import fields
from scraper.parse import headline as headline_mod
from scraper.parse import rules as rules_mod
from scraper.parse.charset import decode_html_utf8
from scraper.parse.dates import FoundDate
from scraper.parse.datetext import parse_human, parse_iso
from scraper.parse.dom import (
    HtmlElement,
    Page,
    absolute_url,
    build_tree,
    clean_text,
    page_classes,
)
from scraper.parse.language import declared_language
from scraper.parse.listing import listing_teasers
from scraper.parse.structured import Structured, as_text, read_structured

log = logging.getLogger(__name__)

PARSER_NAME = "morgue.generic"
# Bump PARSER_REVISION with every change that changes what the parser outputs: the golden files
# (tests/pages/**/*.expected.json) change then, and tests/test_parser_revision.py fails until
# the revision is bumped and tests/pages/GOLDEN_REVISION recorded again (--update-golden).
PARSER_REVISION = (
    6  # 2: issue 10 (title, layouts of unseen sites); 3: issue 10 (dates below posts, prose);
    # 4: issue 10 (Blogger h3 headings, calendar-badge dates, lists beside the text, posts,
    # table layouts titled by section, second try for furniture-named text boxes,
    # lines with the update first); 5: issue 10 (thread posts named alike, folded and
    # JSON-LD markup text, short first bodies, listings' teasers, comment-area threads;
    # dates in more languages and layouts: wiki revisions, one-word date names, labelled
    # lines; captions: headshots, embeds, cards); 6: issue 10 (ad labels, date lines,
    # subtitles and reviews out of the body; prose naming newsletter words kept; dates:
    # more month names, update-named elements, updates the day after, story lists above
    # the headline, dates in attributes, heading-less pages; captions: promo, partner and
    # author boxes)
)
# what records carry: which package release and which parser revision made them
PARSER_VERSION = f"{__version__}+p{PARSER_REVISION}"
_MIN_BODY_CHARS = 150
# where a dated byline's date comes from (scraper/parse/dates.py): beside the heading
_BYLINE_SOURCES = frozenset(("header", "header-time", "dateline"))
_SECOND_TRY_CHARS = 500  # a DOM body shorter than this is looked for again (see _assemble)
_NEWLINES = re.compile(r"\s*\n\s*")


def _lca(a: HtmlElement, b: HtmlElement) -> HtmlElement | None:
    # a set of the elements themselves, not their id()s: lxml proxies that are dropped free
    # their id for reuse, which made the result depend on what was parsed before
    ancestors = {*a.iterancestors(), a}
    if b in ancestors:
        return b
    for anc in b.iterancestors():
        if anc in ancestors:
            return anc
    return None


def _host(url: str | None) -> str | None:
    """The URL's host without "www.", e.g. "riverdale-courier.example"."""
    if not url or "://" not in url:
        return None
    host = url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
    return host.removeprefix("www.") or None


def _outlets(st: Structured, site: str | None, url: str | None) -> set[str]:
    names = {site.lower()} if site else set()
    if st.article is not None:
        publisher = as_text(st.article.get("publisher"))
        if publisher:
            names.add(publisher.lower())
    if url:
        host = (url.split("://", 1)[-1].split("/", 1)[0]).lower().removeprefix("www.")
        names.add(host.split(".")[0])
    return names


def _jsonld_body(st: Structured) -> list[Block]:
    if st.article is None:
        return []
    text = st.article.get("articleBody")
    if not isinstance(text, str):
        return []
    if "<" in text and ">" in text:
        # Layout: pages built by script whose DOM holds only a teaser, with the article as HTML
        # in the JSON-LD ("<p>...</p><p>...</p>"): read as a page of its own
        return body_mod.markup_blocks(text)
    return [Block(clean_text(p)) for p in _NEWLINES.split(text) if clean_text(p)]


def _description(st: Structured) -> str | None:
    if st.article is not None:
        text = as_text(st.article.get("description"))
        if text:
            return text
    found = st.first_meta("og:description", "description", "twitter:description")
    return found[0] if found else None


def _words(blocks: list[Block]) -> int:
    return sum(len(b.text.split()) for b in blocks)


def extract(
    raw: bytes,
    url: str | None,
    *,
    content_type: str | None,
    rules: SiteRules | None,
    now: datetime | None,
    on_tree: Callable[[etree._Element], None] | None = None,
) -> Content:
    """`on_tree`: see `parse_html`."""
    text, utf8, codec, codec_source = decode_html_utf8(raw, content_type)
    # (the bytes themselves: the text is what decode_html makes of them with no Content-Type)
    tap = on_tree if utf8 is raw else None
    try:
        page = build_tree(text, url, utf8, on_tree=tap)
    except (ValueError, TypeError, etree.LxmlError) as exc:
        raise NotAnArticle(url, f"no HTML document ({exc.__class__.__name__})") from None
    root = page.root
    prov: dict[str, str] = {"encoding": f"{codec_source}:{codec}"}
    if page.reparsed:
        prov["tree"] = "bs4"  # libxml2 lost part of the page; BeautifulSoup parsed it again
    if rules is not None and rules.drop and rules_mod.drop(root, rules.drop, url):
        page = Page(root=root, jsonld=page.jsonld, url=url)  # element list made afresh
    base = _base_url(root, url)
    with page_classes(page):
        st = read_structured(root, page.jsonld, base, page.named("itemprop"))
        return _assemble(page, st, base, rules, now, prov)


def _captions(
    page: Page, start: HtmlElement, end: HtmlElement, base: str | None
) -> tuple[list[Caption], set[str]]:
    """The article's captions, and the texts that are theirs (left out of the body)."""
    captions = [
        c
        for c, _ in captions_mod.find_captions(
            page.elements(), page.order(), start, end, base, roled=page.named("data-role")
        )
    ]
    # (the caption and its credit in sibling inline boxes with no space between them read as
    # one run in the text: "... anno" + "Foto Pro Loco" -> "annoFoto Pro Loco")
    exclude = {body_mod.word_key(c.text) for c in captions} | {
        body_mod.word_key(f"{c.text}{sep}{c.credit}")
        for c in captions
        if c.credit
        for sep in (" ", "")
    }
    return captions, exclude


def _repeats_headline(text: str, headline: str, head_key: str) -> bool:
    """The headline itself, or (old table layouts, a <br> run) the headline and its date on
    one line: "Neue Brücke freigegeben 12.07.2017"."""
    if body_mod.word_key(text) == head_key:
        return True
    rest = text[len(headline) :].strip() if text.startswith(headline) else ""
    return 0 < len(rest) <= 30 and parse_human(rest) is not None


def _base_url(root: HtmlElement, url: str | None) -> str | None:
    # (what root.find(".//base") finds, without ElementPath's Python-level machinery)
    base = next(root.iterdescendants("base"), None)
    href = base.get("href") if base is not None else None
    if href and not href.startswith(("javascript:", "data:")):
        return absolute_url(url, href) or url
    return url


def _pick(prov: dict[str, str], name: str, value: object, source: str | None) -> None:
    if value and source:
        prov[name] = source


def _assemble(
    page: Page,
    st: Structured,
    base: str | None,
    rules: SiteRules | None,
    now: datetime | None,
    prov: dict[str, str],
) -> Content:
    root, url = page.root, page.url
    site, site_src = fields.site_name(st)
    _pick(prov, "site_name", site, site_src)
    names = [site] if site else []
    host = _host(url)
    if host:
        names.append(host)  # "Site :: Headline" titles of sites that declare no name
    headline, head_src, heading = headline_mod.find_headline(root, st, names)
    body_root = root.find("body")
    if body_root is None:
        body_root = root
    choice = body_mod.choose_container(body_root, page.order(), heading)
    top, chosen = choice.top, choice.chosen
    if heading is None and headline:
        shown = headline_mod.display_heading(top, headline)
        if shown is None and head_src == "title":
            shown = headline_mod.opening_heading(top, headline)
        if shown is not None:
            headline, head_src, heading = headline_mod.heading_text(shown), "dom", shown
    start = heading if heading is not None else top
    scope = _lca(start, top) if heading is not None else top
    captions, exclude = _captions(page, start, chosen[-1], base)
    caption_src = "dom"
    blocks = body_mod.extract_chosen(choice, page.order(), exclude=exclude)
    body_src = "dom"
    first_chars = sum(len(b.text) for b in blocks)
    passed_over: list[Block] = []  # the second try's body when it was not long enough to win
    passed_choice = choice
    if first_chars < _SECOND_TRY_CHARS:
        # Layout: the text's box named like furniture by its class words ("video-player-page",
        # "widget-area", a "teaser" box holding the post) with no paragraphs to clear it: all
        # that is left is a notice or a teaser, or nothing. Tried again with only tags and
        # comment boxes pruned, and kept when that finds far more text.
        second = body_mod.choose_container(body_root, page.order(), heading, by_tags=True)
        if second.top is not body_root:
            second_blocks = body_mod.extract_chosen(second, page.order(), exclude=exclude)
            if sum(len(b.text) for b in second_blocks) >= max(500, 3 * first_chars):
                choice, top, chosen = second, second.top, second.chosen
                scope = _lca(start, top) if heading is not None else top
                captions, exclude = _captions(page, start, chosen[-1], base)
                blocks = body_mod.extract_chosen(choice, page.order(), exclude=exclude)
            else:
                passed_over, passed_choice = second_blocks, second
    structured_body = _jsonld_body(st)
    # (counting the DOM body's words, a split of all its text, only when there is a rival)
    if structured_body and _words(structured_body) > max(80, 1.3 * _words(blocks)):
        blocks, body_src = structured_body, "json-ld"

    if rules is not None:
        headline, head_src = _rule_text(root, rules.headline, url, headline, head_src)
        rule_blocks = _rule_body(root, rules.body, url, exclude)
        if rule_blocks:
            blocks, body_src = rule_blocks, "rule"
        if rules.captions:
            boxes = rules_mod.elements(root, rules.captions, url)
            captions = [
                c
                for c in (captions_mod.caption_of(b, base, rules.credit) for b in boxes)
                if c is not None
            ]
            caption_src = "rule"

    date_scope = scope if scope is not None and scope.tag not in ("body", "html") else None
    published, modified = dates_mod.find_dates(
        root, st, url, now, date_scope, heading, top, page.elements(), page.order()
    )
    rejected: str | None = None  # why the page is not an article, when it is not
    if not headline:
        rejected, headline = "no headline", ""
    else:
        # The headline repeated in the body container (old layouts, print versions) is not body.
        head_key = body_mod.word_key(headline)

        def own(found: list[Block]) -> list[Block]:
            return [
                b
                for b in found
                if len(b.text) > 2 * len(headline) + 20
                or not _repeats_headline(b.text, headline, head_key)
            ]

        blocks = own(blocks)
        if blocks and blocks[0].text == headline_mod.subtitle_after(heading):
            blocks = blocks[1:]  # the subtitle: the standfirst, not body
        own_chars = sum(len(b.text) for b in blocks)
        if body_src == "dom" and own_chars < _MIN_BODY_CHARS and _is_article(st, published):
            # An article whose first body is shorter than any article's (a notice such as
            # "Embed code copied", or nothing): the second try's text wins when it is several
            # times longer, however short; the page's description must not win over text.
            retried = own(passed_over)
            if sum(len(b.text) for b in retried) >= max(_MIN_BODY_CHARS, 3 * own_chars):
                blocks = retried
        if not blocks and published is not None:
            # A dated notice with no prose on the page (alerts, one-line forum posts): its text
            # is the description the page gives of itself.
            description = _description(st)
            if description:
                blocks, body_src = [Block(description)], "meta-description"
    body_text = sum(len(b.text) for b in blocks)
    if rejected is None and (
        not blocks or (body_text < _MIN_BODY_CHARS and not _is_article(st, published))
    ):
        rejected = f"no article body ({body_text} characters of text)"
    if rejected is not None:
        # Not an article (a forum thread, a shop or recipe page, a front page of teasers):
        # refused as before, but the main text found goes with the refusal, for `parse`.
        # Recall first: the second try's text when it found more (a box named like furniture
        # holding the page's text: "product-info", "widget"), still pruned by tags, comment
        # boxes and link density. Nothing readable: nothing goes with it.
        if body_src == "dom" and sum(len(b.text) for b in passed_over) > body_text:
            blocks = [b for b in passed_over if not headline or b.text != headline]
        if body_src == "dom" and not blocks:
            # Layout: forum threads whose posts all sit in a box named for comments (Invision's
            # "comments" area, "ipsComment" posts): with nothing else on the page to read,
            # the comments are its main text.
            passed_choice = body_mod.choose_container(
                body_root, page.order(), heading, by_tags=True, comments=True
            )
            blocks = body_mod.extract_chosen(passed_choice, page.order(), exclude=exclude)
            blocks = [b for b in blocks if not headline or b.text != headline]
        if body_src == "dom":
            # a page of teasers (a front page, a listing): all of them are its main text
            listing = listing_teasers(passed_choice)
            if listing is not None:
                listed = body_mod.extract_chosen(listing, page.order(), exclude=exclude)
                if sum(len(b.text) for b in listed) >= 2 * sum(len(b.text) for b in blocks):
                    blocks = listed
        if not blocks:
            raise NotAnArticle(url, rejected)
        # Only dates the page states for itself: a date found anywhere on a page that is not
        # an article is as likely a comment's or a product's as the page's.
        published = published if _stated(published) else None
        modified = modified if _stated(modified) else None
    try:
        content = _complete(
            page=page,
            st=st,
            base=base,
            rules=rules,
            prov=prov,
            found=_Findings(
                site=site,
                headline=headline,
                head_src=head_src,
                heading=heading,
                blocks=blocks,
                body_src=body_src,
                captions=captions,
                caption_src=caption_src,
                published=published,
                modified=modified,
                date_scope=date_scope,
            ),
        )
    except Exception:
        if rejected is None:
            raise
        # the refusal stands either way; a best effort must not change it
        log.debug("no best-effort text for %s", url, exc_info=True)
        raise NotAnArticle(url, rejected) from None
    if rejected is not None:
        raise NotAnArticle(url, rejected, content)
    return content


def _is_article(st: Structured, published: FoundDate | None) -> bool:
    """Does the page call itself an article (a date, an Article object, og:type)?"""
    return (
        published is not None
        or st.article is not None
        or any(v.lower() == "article" for v in st.meta.get("og:type", ()))
    )


def _stated(found: FoundDate | None) -> bool:
    """A date from the page's structured data or from a dated byline beside its heading."""
    if found is None:
        return False
    source = found.source.split("+", 1)[0]
    return source.startswith(("json-ld", "meta:")) or source in _BYLINE_SOURCES


@dataclass(frozen=True, slots=True, kw_only=True)
class _Findings:
    """What `_assemble` found (headline, body, captions, dates and where each came from), for
    `_complete` to finish the record with."""

    site: str | None
    headline: str
    head_src: str | None
    heading: HtmlElement | None
    blocks: list[Block]
    body_src: str
    captions: list[Caption]
    caption_src: str
    published: FoundDate | None
    modified: FoundDate | None
    date_scope: HtmlElement | None


def _complete(
    *,
    page: Page,
    st: Structured,
    base: str | None,
    rules: SiteRules | None,
    prov: dict[str, str],
    found: _Findings,
) -> Content:
    """The fields after the headline, body and dates: authors, standfirst, metadata."""
    root, url = page.root, page.url
    site, headline, heading = found.site, found.headline, found.heading
    published, modified = found.published, found.modified
    pub_iso = published.value.iso() if published else None
    mod_iso = modified.value.iso() if modified else None
    if published:
        prov["published"] = published.source
    if modified:
        prov["modified"] = modified.source
    names, author_src = authors_mod.find_authors(
        root, st, found.date_scope, _outlets(st, site, url)
    )
    subheadline = headline_mod.find_standfirst(heading, page.elements(), page.order())
    if rules is not None:
        pub_iso, _ = _rule_date(root, rules.published, url, pub_iso, prov, "published")
        mod_iso, _ = _rule_date(root, rules.modified, url, mod_iso, prov, "modified")
        subheadline, _ = _rule_text(root, rules.subheadline, url, subheadline, None)
        rule_authors = rules_mod.texts(root, rules.authors, url)
        if rule_authors:
            names = [n for raw in rule_authors for n in authors_mod.clean_name(raw, set())]
            author_src = "rule"
    title, title_src = fields.title(st, root)
    lang, lang_src = declared_language(st)
    section, section_src = fields.section(st)
    tag_list, tags_src = fields.tags(st)
    canonical, canonical_src = fields.canonical_url(st, base)
    lead, lead_src = fields.lead_image(st, base)
    if rules is not None:
        section, section_src = _rule_text(root, rules.section, url, section, section_src)
        lead, lead_src = _rule_text(root, rules.lead_image, url, lead, lead_src)
        rule_tags = rules_mod.texts(root, rules.tags, url)
        if rule_tags:
            tag_list, tags_src = rule_tags, "rule"
    if lead is None and found.captions and found.captions[0].image_url:
        lead, lead_src = found.captions[0].image_url, "caption"
    for name, value, source in (
        ("headline", headline, found.head_src),
        ("title", title, title_src),
        ("body", found.blocks, found.body_src),
        ("captions", found.captions, found.caption_src),
        ("authors", names, author_src),
        ("subheadline", subheadline, "dom"),
        ("language", lang, lang_src),
        ("section", section, section_src),
        ("tags", tag_list, tags_src),
        ("canonical_url", canonical, canonical_src),
        ("lead_image", lead, lead_src),
    ):
        _pick(prov, name, value, source)
    return Content(
        headline=headline,
        title=title,
        body=tuple(found.blocks),
        subheadline=subheadline,
        authors=tuple(names),
        published=pub_iso,
        modified=mod_iso,
        captions=tuple(found.captions),
        lead_image=lead,
        language=lang,
        site_name=site,
        section=section,
        tags=tuple(tag_list),
        canonical_url=canonical,
        parser=PARSER_NAME,
        parser_version=PARSER_VERSION,
        provenance=tuple(sorted(prov.items())),
    )


def _rule_text(
    root: HtmlElement,
    selector: str | None,
    url: str | None,
    current: str | None,
    source: str | None,
) -> tuple[str | None, str | None]:
    found = rules_mod.texts(root, selector, url)
    return (found[0], "rule") if found else (current, source)


def _rule_date(
    root: HtmlElement,
    selector: str | None,
    url: str | None,
    current: str | None,
    prov: dict[str, str],
    name: str,
) -> tuple[str | None, str | None]:
    for text in rules_mod.texts(root, selector, url):
        parsed = parse_iso(text) or parse_human(text)
        if parsed:
            prov[name] = "rule"
            return parsed.iso(), "rule"
    return current, None


def _rule_body(
    root: HtmlElement, selector: str | None, url: str | None, exclude: set[str]
) -> list[Block]:
    containers = rules_mod.elements(root, selector, url)
    return body_mod.extract_blocks(containers, exclude=exclude) if containers else []


__all__ = ["PARSER_NAME", "PARSER_REVISION", "PARSER_VERSION", "Caption", "extract"]
