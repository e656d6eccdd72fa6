"""What is not article prose, told by tag and class/id words: share bars, related links,
newsletter boxes, comments, captions, bylines, adverts ("c-share-bar", "related-stories",
"newsletter-signup"); and what is ("article-body", "entry-content"). Used to prune the tree
before scoring, to weight candidate containers and to leave furniture out of the body.
"""

from __future__ import annotations

from functools import lru_cache

from scraper.parse.dom import (
    HtmlElement,
    any_part,
    class_has,
    class_id,
    class_words,
    has_word,
    role_class_id,
    words,
)

# Layout: shop pages: customers' reviews below the product's text (WooCommerce "tab-reviews",
# Shopify "spr-reviews", German "kundenbewertungen", Spanish "valoraciones"). (Not "avis"
# or "opiniones": news sites name their opinion pages so.)
REVIEWS = frozenset(
    words("reviews bewertungen kundenbewertungen rezensionen testimonials valoraciones otzyvy")
)


_BOILERPLATE_WORDS = frozenset(
    words(
        "comment comments commentlist disqus share shares sharing sharebar social socials related "
        "relatedposts newsletter newsletters subscribe subscription signup promo promos advert "
        "advertisement advertising ad ads adunit dfp sponsor sponsored outbrain taboola "
        "recommended recommendations recirc popular trending sidebar widget widgets footer "
        "breadcrumb breadcrumbs byline bylines caption captions credit credits tags tag topics "
        "nav navigation navbar menu toolbar pagination pager teaser teasers banner cookie cookies "
        "modal popup overlay masthead printfriendly jump skip disclaimer copyright author-bio "
        "authorbox bio readmore moreon follow donate paywall login signin rating ratings print "
        "email sronly dateline timestamp meta postmeta metadata player playlist thumbnails "
        "keywords also "
        # German furniture: ads, share bars, reader comments, recommendations
        "anzeige anzeigen werbung teilen kommentare empfehlungen randspalte seitenleiste "
        # the kicker above a headline ("Dachzeile")
        "kicker dachzeile overline eyebrow topline "
        # ad slots named in short or other languages ("adv__label", "reklama")
        "adv reklama reklame"
    )
).union(REVIEWS)


_BOILERPLATE_PARTS = (
    "share",
    "social",
    "related",
    "comment",
    "newsletter",
    "outbrain",
    "taboola",
    "promo",
    "advert",
    "subscri",
    "recirc",
    "byline",
    "caption",
    "sidebar",
    "breadcrumb",
    "sponsor",
    "recommend",
    "signup",
    "trending",
    "credit",  # "imageEmbedCredit": a photo credit in the text
    "keypoints",  # "RenderKeyPoints", "key-points": a summary box above the text
    "key-points",
    "takeaways",
    # Layout: forum threads; the member box beside each post (rank, post count, join date)
    "postprofile",
    "userinfo",
    "user-info",
    "memberinfo",
    "member-info",
    "poster-info",
    "user-details",
)


_BOILERPLATE_PARTS_RE = any_part(_BOILERPLATE_PARTS)


GOOD_WORDS = frozenset(
    words(
        "article articles body content contents entry main post story text prose richtext "
        "articlebody article-body story-body blog column "
        # German CMSs name the text's box in German
        "artikel artikeltext inhalt beitrag meldung"
    )
)


_GOOD_PARTS = (
    "articlebody",
    "storybody",
    "article-body",
    "story-body",
    "postbody",
    "entry-content",
    "post-content",
    "article-content",
    "articletext",
    "story-text",
)


_GOOD_PARTS_RE = any_part(_GOOD_PARTS)


SKIP_TAGS = frozenset(
    (
        "nav",
        "aside",
        "footer",
        "figure",
        "figcaption",
        "form",
        "h1",
        "dialog",
        "menu",
        "picture",
        "audio",
        "video",
        "map",
        "label",
        "caption",
    )
)


def is_boilerplate(el: HtmlElement) -> bool:
    """True when tag or class/id words say the element is not article prose."""
    tag = el.tag  # (read once: each read of an lxml tag decodes a new str)
    if tag == "td" and member_cell(el):
        return True
    role, cls, ident = role_class_id(el)
    verdict = boilerplate_verdict(tag, role, cls, ident)
    if verdict is UNLESS_EMBED:
        return not has_embed(el)
    return verdict is FURNITURE


def has_embed(el: HtmlElement) -> bool:
    """A post the writer embedded (a tweet) is quoted content, not a widget."""
    return el.tag == "blockquote" or next(el.iter("blockquote"), None) is not None


@lru_cache(maxsize=8192)
def boilerplate_verdict(tag: object, role: str | None, cls: str | None, ident: str | None) -> str:
    """What tag, role and class/id words say: PROSE, FURNITURE, or UNLESS_EMBED (furniture
    unless it holds an embedded post). Memoised: pages repeat a few hundred combinations."""
    if tag in SKIP_TAGS:
        return FURNITURE
    if role in ("navigation", "complementary", "contentinfo", "banner", "dialog", "menu"):
        return FURNITURE
    if cls is None and ident is None:
        return PROSE
    return _class_verdict(cls, ident)


PROSE, FURNITURE, UNLESS_EMBED = "prose", "furniture", "unless-embed"
_WIDGET = frozenset(("widget",))
_PAGE_BUILDERS = frozenset(("elementor", "siteorigin", "so"))
# (a shop's reviews tab is furniture whatever else names it: "tab-content" id "bewertungen",
# WooCommerce's "entry-content" panel id "tab-reviews")
_STILL_FURNITURE = frozenset(
    words(
        "share sharing social related comments newsletter byline caption promo tags meta "
        "teilen kommentare anzeige werbung empfehlungen footer"
    )
).union(REVIEWS)


@lru_cache(maxsize=8192)
def _class_verdict(cls: str | None, ident: str | None) -> str:
    """What the class/id words alone say (memoised: pages repeat a few hundred class strings
    on thousands of elements)."""
    tokens, joined = class_words(cls, ident)
    if not tokens:
        return PROSE
    if tokens & GOOD_WORDS or _GOOD_PARTS_RE.search(joined) is not None:
        # "article-sharebar" is still a share bar; "article-content" is content. Layout:
        # Joomla's "article-info" list (author, category, created, hits) is a meta box.
        furniture = bool(tokens & _STILL_FURNITURE) or "article-info" in joined
    else:
        named = tokens & _BOILERPLATE_WORDS
        furniture = bool(named) or _BOILERPLATE_PARTS_RE.search(joined) is not None
        if named == _WIDGET and tokens & _PAGE_BUILDERS and furniture:
            # Layout: page builders wrap every block of the page, the article's text too, in
            # a "widget" ("elementor-widget-container"); what the widget is, its other words
            # say ("elementor-widget-share-buttons").
            furniture = _BOILERPLATE_PARTS_RE.search(joined) is not None
    if not furniture:
        return PROSE
    return UNLESS_EMBED if tokens & EMBEDS else FURNITURE


INLINE_JUNK = frozenset(
    words(
        "caption credit credits share sharing social byline sronly tooltip popup hover rollover "
        "ad ads advert advertisement kicker dachzeile overline eyebrow topline"
    )
)


def inline_junk(el: HtmlElement) -> bool:
    # A wrapper whose own child is the link ("rollover-people" around a name) is the text;
    # the card nested beside that link is the junk.
    return class_has(el, INLINE_JUNK) and not any(c.tag == "a" for c in el)


def inline_junk_named(el: HtmlElement, cls: str | None, ident: str | None) -> bool:
    """inline_junk(el) for an element whose class and id the caller has read already."""
    return (
        (cls is not None or ident is not None)
        and has_word(cls, ident, INLINE_JUNK)
        and not any(c.tag == "a" for c in el)
    )


WEAK_FURNITURE = frozenset(("meta", "metadata", "postmeta"))

# Layout: news and blog pages set a partner's or sponsor's box into the text (a logo and "Mit
# freundlicher Unterstützung der Stadtwerke", "Presented by …"). Sites also name syndicated
# articles "partner-content", so a box so named is furniture only when short (see body).
_PARTNER_WORDS = frozenset(words("partner partners sponsor sponsors sponsored promo presented"))
PARTNER_TEXT = 200  # characters: a partner box with more text is read


@lru_cache(maxsize=8192)
def partner_named(cls: str | None, ident: str | None) -> bool:
    """Named for a partner, sponsor or promotion ("partner-box", "presented-by")."""
    if cls is None and ident is None:
        return False
    return bool(class_words(cls, ident)[0] & _PARTNER_WORDS)


@lru_cache(maxsize=8192)
def weak_words(cls: str | None, ident: str | None) -> bool:
    """Named furniture only by a weak word ("product-meta"): a meta line, or a box of
    details that may hold the page's text."""
    if cls is None and ident is None:
        return False
    tokens, joined = class_words(cls, ident)
    named = tokens & _BOILERPLATE_WORDS
    return bool(named) and named <= WEAK_FURNITURE and _BOILERPLATE_PARTS_RE.search(joined) is None


def class_weight(el: HtmlElement) -> int:
    cls, ident = class_id(el)  # (one look at the page's table, not one for words and joined)
    if cls is None and ident is None:
        return 0
    tokens, joined = class_words(cls, ident)
    if not tokens:
        return 0
    weight = 0
    if tokens & GOOD_WORDS or _GOOD_PARTS_RE.search(joined) is not None:
        weight += 25
    if tokens & _BOILERPLATE_WORDS or _BOILERPLATE_PARTS_RE.search(joined) is not None:
        weight -= 25
    return weight


EMBEDS = frozenset(("embed", "embedded", "tweet", "twitter-tweet", "instagram-media"))


COMMENTS = frozenset(("comment", "comments", "commentlist", "disqus", "respond", "replies"))


_POST_DETAILS = frozenset(("postdetails", "postdetail"))


def member_cell(td: HtmlElement) -> bool:
    """Layout: phpBB 2 (subSilver and the themes made from it) and other table-layout forums:
    the poster's cell beside each post (name, rank, join date, post count) and the post's
    "Posted: … Post subject: …" line are spans named "postdetails" in cells of their own,
    with the post's text in a "postbody" span of another cell."""
    found = False
    for child in td:
        tag = child.tag
        if tag == "span" or tag == "div":
            cls = (child.get("class") or "").lower()
            if "postbody" in cls:
                return False
            if cls in _POST_DETAILS:
                found = True
    return found
