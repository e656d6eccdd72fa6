"""Captions of the article's own figures: caption text, the photo credit split off, the image.

A figure is a `<figure>` (caption in `<figcaption>` or a caption-classed element) or a
caption-classed box outside one (WordPress `wp-caption`, `div.caption`, ...), inside the
article's span of the page (from the headline to the end of the body) and not inside a
related-story card, a promo or a link. The credit comes from credit-classed markup
(`<span class="credit">`, `.copyright`, `.photographer`, ...) or, failing that, from how
captions end: "(AP Photo/Jane Doe)", "Photo: X/AP", "Image Credit: X", "© X", "X/Getty Images".
A credit with no caption text is kept as a caption with empty text.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

from cssselect import GenericTranslator

from archive.record import Caption
from scraper.parse.datetext import parse_human
from scraper.parse.dom import (
    HtmlElement,
    absolute_url,
    any_part,
    class_has,
    class_id,
    class_joined,
    class_tokens,
    class_words,
    clean_text,
    having,
    last_descendant,
    page_class_table,
    select,
    text_content,
    words,
)

_CREDIT_WORDS = frozenset(
    words(
        "credit credits copyright photographer attribution source byline author imagecredit "
        "photocredit courtesy origin rights"
    )
)
_CREDIT_PARTS = ("credit", "copyright", "photographer", "attribution", "courtesy")
_CAPTION_PARTS = (
    "caption",
    "figcaption",
    "cutline",
    "legend",
    "imgtext",
    "image-text",
    "photo-text",
    "bildunterschrift",
    "leyenda",
    "legende",
    "didascalia",
)
_CAPTION_PARTS_RE = any_part(_CAPTION_PARTS)
_CREDIT_PARTS_RE = any_part(_CREDIT_PARTS)
# Any class word or part a caption or credit test below looks for (screens out the rest).
_MARKED_RE = any_part((*_CAPTION_PARTS, *_CREDIT_PARTS))


@lru_cache(maxsize=8192)
def _marked_class(cls: str | None, ident: str | None) -> bool:
    # A whole credit word is a set test on the tokens: in the regex, as a "(^|-)word(-|$)"
    # branch, it kept the engine from skipping ahead to the parts' first letters (2x slower).
    tokens, joined = class_words(cls, ident)
    return not tokens.isdisjoint(_CREDIT_WORDS) or _MARKED_RE.search(joined) is not None


_BAD_CONTEXT = frozenset(
    words(
        "related recommended recommendations teaser teasers promo promos sidebar trending popular "
        "more recirc outbrain taboola widget nav menu footer comments comment card cards "
        "thumbnail thumbnails playlist video player carousel-nav ad ads advert advertisement "
        # ad slots in other languages, and social posts embedded in the text (their fallback
        # screenshots): neither is the article's figure
        "anzeige werbung publicidad publicite pubblicita sponsored tweet instagram tiktok"
    )
)
# Layout: newsletter and subscription boxes, sponsors' and partners' logos in or beside the
# text, a picture and a line of their own: the box itself or any box around it.
_PROMO_BOX = frozenset(
    words("newsletter signup subscribe subscription sponsor sponsors partner partners")
)
# Layout: social posts embedded in the text ("social-embed", "embed-twitter").
_SOCIAL = frozenset(("social", "twitter", "facebook", "fallbacktwitter"))
_EMBED = frozenset(("embed",))
# Layout: bylines and author boxes with the writer's headshot (sports and news sites put a
# caption-classed share bar beside them): a picture of the author is not a figure.
_AUTHOR_PICTURE = frozenset(
    words("author authors avatar headshot mugshot byline gravatar userpic bio")
)
_CONTROL_WORDS = frozenset(
    words(
        "truncated share sharing social permalink more less toggle expand collapse close button "
        "btn icon hide show enlarge zoom count counter number index"
    )
)
_PREFIX = re.compile(r"^(?:image|media|photo) caption\s*", re.I)
_JUNK = re.compile(
    r"^(?:caption|close|caption close|key|expand|enlarge|hide caption|toggle caption|image|photo|"
    r"media playback is unsupported on your device|advert|advertisement|anzeige|werbung|"
    r"publicidad|publicité|pubblicità|реклама|sponsored|\d+|"
    r"\d+\s*(?:/|of)\s*\d+)$",
    re.I,
)
# Promos and video descriptions dressed as captions.
_NOT_A_CAPTION = re.compile(r"^(?:video|watch|listen)\s*:|\bsubscribe\b|\bsign up\b", re.I)
_BYLINE_START = re.compile(r"(?:by|von|par|por)\s", re.I)
_DIGITS = re.compile(r"\d")
_PHOTO_CREDIT_WORDS = frozenset(
    (
        "credit",
        "credits",
        "copyright",
        "photographer",
        "attribution",
        "courtesy",
        "imagecredit",
        "photocredit",
    )
)
_IMAGE_BOX_WORDS = frozenset(words("image img photo picture pic media foto imagen bild figure"))
# Class words of small print: a short line in small grey type under an image is its caption.
_SMALL_PRINT = frozenset(("small", "smaller", "muted", "gray", "grey", "italic", "legend", "note"))
_BOX_TAGS = frozenset(("figure", "figcaption", "img", "cite"))
_CAPTION_TAGS = frozenset(("em", "i", "small", "center", "cite", "figcaption"))
_CREDIT_START = re.compile(
    r"(?:photos?|images?|pictures?|photograph|fotos?|фото|bild|credit|©|\(c\))\b\s*:?", re.I
)
_SENTENCE_END = re.compile(r"[.!?\u201d\")]\s+")
_TRAILING_CREDIT = re.compile(
    r"""\s*(
        (?i:[(\[][^()\[\]]*
            (?:photo|image|picture|credit|foto|getty|reuters|afp|/|©|epa|shutterstock|file)
            [^()\[\]]*[)\]])
      | (?i:(?:photo|image|picture|photograph|foto|фото|credit|source|bild)s?(?:\s+credits?)?
            \s*:\s*|©\s*|\(c\)\s*)[^.]{2,120}
      | via\s+[A-Z][\w&.\- ]{1,60}
      | (?:[A-Z][\w'\-]*\.?\s){1,3}[A-Z][\w'\-]*,\s                   # "Michael Conroy, AP"
        (?:AP|AFP|Reuters|Getty\sImages|EPA(?:-EFE)?|Bloomberg|(?:The\s)?Associated\sPress
          |USA\sTODAY|Shutterstock|Xinhua|TASS|PA(?:\sWire)?|NASA|dpa|ANSA|Kyodo)
      | (?:[A-Z][\w'\-]*(?:\.[\w'\-]+)*\.?\s(?=[A-Z])){0,3}    # up to three name words
        [A-Z][\w'\-]*(?:\s?/\s?[A-Z][\w.&'\- ]*){1,3}          # Name/Agency[/Agency]
    )\s*\.?\s*$""",
    re.X,
)


def _is_credit_el(el: HtmlElement) -> bool:
    if el.tag == "cite" or el.get("data-role") in ("copyright", "credit"):
        return True
    joined = class_joined(el)
    if not joined:
        return False
    return class_has(el, _CREDIT_WORDS) or _CREDIT_PARTS_RE.search(joined) is not None


def _standalone_credit(el: HtmlElement) -> bool:
    """A credit-classed element outside any caption that is a photo's credit: it says so
    ("Photo: X", "© X"), its class names the image ("image-attribution"), or it sits next to
    the image ("thumbnail-credit" beside the <img>)."""
    text = text_content(el).strip()
    if not text or len(text) > 150:
        return False
    if _BYLINE_START.match(text) or (_DIGITS.search(text) and parse_human(text)):
        return False  # "By Jo Roe", "20 Nov 2019 08:00 GMT": a byline or dateline
    if _CREDIT_START.match(text):
        return True
    tokens = class_tokens(el)
    if not tokens & _PHOTO_CREDIT_WORDS and not (tokens & _IMAGE_BOX_WORDS):
        return False  # "author", "byline", "source": a writer's credit, not a photo's
    if tokens & _IMAGE_BOX_WORDS:
        return True
    parent = el.getparent()
    return parent is not None and len(parent) <= 4 and next(parent.iter("img"), None) is not None


def _is_caption_el(el: HtmlElement) -> bool:
    if el.tag == "figcaption":
        return True
    joined = class_joined(el)
    if not joined or _CAPTION_PARTS_RE.search(joined) is None:
        return False
    tokens = class_tokens(el)
    # "withoutCaption", "no-caption", "has-caption" describe a box, they are not the caption.
    return (
        not tokens & _CONTROL_WORDS
        and not any(t.startswith(("without", "nocaption", "hascaption")) for t in tokens)
        and not any(f"{w}-caption" in joined for w in ("no", "has", "with"))
    )


def _is_control(el: HtmlElement) -> bool:
    """Caption widgets that are not caption text: "less"/"more" toggles, truncated copies."""
    return class_has(el, _CONTROL_WORDS)


def _text(el: HtmlElement) -> str:
    """Visible caption text without toggles and truncated duplicates."""
    parts: list[str] = []
    _caption_parts(el, parts)
    return _PREFIX.sub("", clean_text(" ".join(parts)))


def _caption_parts(node: HtmlElement, parts: list[str]) -> None:
    # (a module function: a nested function calling itself would be a reference cycle)
    parts.append(node.text or "")
    for child in node:
        if isinstance(child.tag, str) and not _is_control(child):
            _caption_parts(child, parts)
        parts.append(child.tail or "")


def split_credit(text: str) -> tuple[str, str | None]:
    """("caption", "credit") from one caption string whose credit is written at its end.

    >>> split_credit("Runners at the start. (AP Photo/Kim Ortega)")
    ('Runners at the start.', '(AP Photo/Kim Ortega)')
    """
    text = clean_text(text)
    # The leftmost candidate first, then ones starting after each sentence end (a capitalised
    # last word of the caption must not be taken for the start of "Name/Agency").
    candidates = [_TRAILING_CREDIT.search(text)]
    candidates += [_TRAILING_CREDIT.match(text, m.end()) for m in _SENTENCE_END.finditer(text)]
    for match in candidates:
        if match is None:
            continue
        credit = re.sub(r"([(\[])\s+|\s+([)\]])", r"\1\2", match.group(1).strip())
        head = text[: match.start()].rstrip()
        if _credit_fits(head, credit):
            return head, credit
    return text, None


def _credit_fits(head: str, credit: str) -> bool:
    """A capitalised phrase with a slash is only a credit after a finished sentence."""
    if credit[0].isupper() and not credit.lower().startswith(
        ("photo", "image", "picture", "credit", "source", "foto", "bild")
    ):
        return not head or head.endswith((".", "!", "?", "\u201d", '"', ")"))
    return True


def _image_url(el: HtmlElement, base: str | None) -> str | None:
    for img in el.iter("img", "source", "amp-img"):
        for attr in ("src", "data-src", "data-original", "data-lazy-src", "data-srcset", "srcset"):
            value = (img.get(attr) or "").strip()
            if attr.endswith("srcset") and value:
                value = value.split(",")[0].strip().split(" ")[0]
            if value and not value.startswith("data:"):
                return absolute_url(base, value)
    return None


def caption_of(
    box: HtmlElement, base: str | None, credit_selector: str | None = None
) -> Caption | None:
    """The caption of a figure-like box (a <figure> or a caption container)."""
    holders = [
        el
        for el in box.iter()
        if isinstance(el.tag, str)
        and el is not box
        and _is_caption_el(el)
        and not _is_credit_el(el)
        and _text(el)
    ]
    holder = holders[0] if holders else (box if box.tag != "figure" else None)
    if credit_selector:
        credit_els = [el for el in select(box, _css_to_xpath(credit_selector)) if el is not box]
    else:
        credit_els = [
            el
            for el in box.iter()
            if isinstance(el.tag, str)
            and el is not box
            and _is_credit_el(el)
            and not any(_is_credit_el(a) for a in el.iterancestors() if a is not box)
        ]
    credit = " ".join(t for t in (_text(c) for c in credit_els) if t) or None
    text = _text(holder) if holder is not None else ""
    if credit:
        for c in credit_els:
            ctext = _text(c)
            if ctext and ctext in text:
                text = clean_text(text.replace(ctext, " "))
    elif text:
        text, credit = split_credit(text)
    if _JUNK.match(text):
        text = ""
    if (not text and not credit) or len(text) > 800 or _NOT_A_CAPTION.search(text):
        return None
    return Caption(text, credit, _image_url(box, base))


def _in_bad_context(el: HtmlElement, article: set[HtmlElement]) -> bool:
    """Inside a link, list item, aside or related/promo box below the article's container."""
    if el.tag == "a":
        return True  # a card that is one link to another page: picture and its title
    if class_tokens(el) & _PROMO_BOX:
        return True
    for anc in el.iterancestors():
        if anc in article or anc.tag in ("body", "html"):
            return False
        if anc.tag in ("a", "aside", "nav", "footer"):
            return True
        tokens = class_tokens(anc)
        if tokens & _PROMO_BOX:
            return True
        bad = tokens & _BAD_CONTEXT
        # "post-thumbnail", "entry-thumbnail": a blog engine's name for the post's own image.
        if bad and not (bad <= _THUMBNAIL and tokens & _OWN_POST):
            return True
        if tokens & _EMBED and tokens & _SOCIAL:
            return True
        if tokens & _AUTHOR_PICTURE:
            return True  # a figure inside an author box ("post-author", "author-bio")
    return False


def _author_picture(box: HtmlElement) -> bool:
    """Is the box's picture the writer's headshot (named so itself, or by a box around it
    inside this one)?"""
    img = box if box.tag == "img" else next(box.iter("img"), None)
    if img is None:
        return False
    for el in chain((img,), img.iterancestors()):
        if class_tokens(el) & _AUTHOR_PICTURE:
            return True
        if el is box:
            break
    return False


def _teaser_card(box: HtmlElement) -> bool:
    """Layout: related-story cards embedded in the text: the picture and the "caption" (the
    other story's headline) are links to the same page, and that link is all the caption
    says. A figure's picture may link to its source page, but its caption only credits it
    there ("The map of Titan. (<a>NASA/JPL</a>)")."""
    pictured = {
        a.get("href")
        for a in box.iter("a")
        if a.get("href") and next(a.iter("img", "picture"), None) is not None
    }
    if not pictured:
        return False
    linked = sum(
        len(clean_text(text_content(a)))
        for a in box.iter("a")
        if a.get("href") in pictured and next(a.iter("img", "picture"), None) is None
    )
    return linked > 0 and linked >= 0.8 * len(clean_text(text_content(box)))


_THUMBNAIL = frozenset(("thumbnail",))
_OWN_POST = frozenset(("post", "entry", "featured"))


def _loose_caption(img: HtmlElement) -> HtmlElement | None:
    """A caption with no caption markup: the short italic/centred line right after an image,
    or the text beside the image in a small image-named box."""
    unit = img
    while (parent := unit.getparent()) is not None and parent.tag in (
        "a",
        "p",
        "span",
        "div",
        "picture",
        "source",  # libxml2 nests an <img> inside the <source> elements before it
        "center",
    ):
        # <source> elements of a <picture> are alternatives of the one image, not content.
        size = (
            len(parent)
            if parent.tag not in ("picture", "source")
            else sum(c.tag != "source" for c in parent)
        )
        if size > 2 or _has_text(parent):
            break
        unit = parent
    sibling = unit.getnext()
    while sibling is not None and (not isinstance(sibling.tag, str) or sibling.tag == "br"):
        if (sibling.tail or "").strip():
            break
        sibling = sibling.getnext()
    named: HtmlElement | None = None  # a sibling named as part of the image's box
    if sibling is not None and sibling.tag != "img":
        inner = [c for c in sibling if isinstance(c.tag, str)]
        styled = (
            sibling.tag in _CAPTION_TAGS
            or class_has(sibling, _SMALL_PRINT)
            or (
                len(inner) == 1
                and inner[0].tag in _CAPTION_TAGS
                and not clean_text((sibling.text or "") + (inner[0].tail or ""))
            )
        )
        text = clean_text(text_content(sibling))
        if (
            3 <= len(text) <= 300
            and not (unit.tail or "").strip()
            and not _all_links(sibling, text)
        ):
            if styled:
                return sibling
            if _named_caption(sibling, unit, text):
                named = sibling
    box = unit.getparent()
    for _ in range(3):
        if box is None or box.tag in ("body", "article", "main"):
            break
        if class_has(box, _IMAGE_BOX_WORDS):
            text = clean_text(text_content(box))
            if (
                3 <= len(text) <= 400
                and next(box.iter("img"), None) is img
                and not any(
                    p is not box
                    for p in box.iter("p", "h1", "h2", "h3", "li")
                    if len(text_content(p)) > 300
                )
            ):
                return box
        box = box.getparent()
    return named


_PICTURE_NAMES = ("pic", "img", "photo", "image", "foto")
_TEXT_NAMES = ("text", "txt", "desc", "info", "note", "title")


def _has_text(el: HtmlElement) -> bool:
    """Any visible text inside (stops at the first, unlike reading the whole subtree)."""
    return any(clean_text(str(t)) for t in el.itertext() if not t.isspace())


def _named_caption(sibling: HtmlElement, unit: HtmlElement, text: str) -> bool:
    """An unstyled line after an image that is still its caption: named as part of the
    image's box ("media__footer" after "media") with no image of its own, or the one other
    thing in the image's box, ending in a photo credit (without caption or credit markup,
    which is read as such)."""
    if class_tokens(sibling) & class_tokens(unit) & _IMAGE_BOX_WORDS:
        return next(sibling.iter("img", "picture"), None) is None
    # Layout: Chinese and other portals put the picture in <p class="img"> and the caption
    # in the next <p class="pictext"> ("img-desc", "photo_txt"): named for picture and text.
    joined = class_joined(sibling)
    if any(w in joined for w in _PICTURE_NAMES) and any(w in joined for w in _TEXT_NAMES):
        return next(sibling.iter("img", "picture"), None) is None
    parent = unit.getparent()
    return (
        parent is not None
        and sum(isinstance(c.tag, str) for c in parent) == 2
        and split_credit(text)[1] is not None
        and not _marked(sibling)
    )


def _marked(el: HtmlElement) -> bool:
    return any(
        isinstance(d.tag, str) and (_is_caption_el(d) or _is_credit_el(d)) for d in el.iter()
    )


def _all_links(el: HtmlElement, text: str) -> bool:
    """A line that is all links under an image is a share bar or a gallery's navigation."""
    linked = sum(len(clean_text(text_content(a))) for a in el.iter("a"))
    return linked >= 0.8 * len(text)


def find_captions(
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    start: HtmlElement | None,
    end: HtmlElement | None,
    base: str | None,
    *,
    before: int = 60,
    roled: list[HtmlElement] | None = None,
) -> list[tuple[Caption, HtmlElement]]:
    """The article's figures in document order: from a little before `start` (lead images sit
    above headlines) to the end of `end` (the body container)."""
    first = max(0, index.get(start, 0) - before) if start is not None else 0
    last = len(elements) - 1
    if end is not None:
        last = index.get(_last_descendant(end), last)
    article: set[HtmlElement] = set()
    if end is not None:
        article = {end, *end.iterancestors()}
    boxes: list[tuple[HtmlElement, HtmlElement | None]] = []  # (box, loose caption element)
    claimed: set[HtmlElement] = set()
    skip_until = -1  # elements up to here are inside a box already claimed
    # (the few with a data-role, from the page's list of them or one pass over its table of
    # attribute names, rather than one attribute() call per element)
    with_role = set(roled if roled is not None else having(elements[first : last + 1], "data-role"))
    classes = page_class_table()  # (looked up here: class_id's call cost more than this)
    for n in range(first, last + 1):
        el = elements[n]
        if n <= skip_until:
            continue
        if el.tag not in _BOX_TAGS:
            found = classes.get(el) if classes is not None else None
            cls, ident = found if found is not None else class_id(el)
            if ((cls is None and ident is None) or not _marked_class(cls, ident)) and (
                el not in with_role or el.get("data-role") not in ("copyright", "credit")
            ):
                continue  # nothing marks it as a figure, caption or credit
        box = None
        if el.tag == "figure" or _is_caption_el(el):
            box = el if el.tag == "figure" else _caption_box(el)
            img = None
            if el.tag != "figure":
                # Layout: caption-named text outside a <figure> (table titles, "caption-note"
                # boxes, captions of removed video players). A caption needs the picture it
                # belongs to: in its box, or right beside it.
                box = box if _near_picture(box) else None
        elif el.tag == "img":
            box, img = _loose_caption(el), el
        elif _is_credit_el(el) and _standalone_credit(el):
            box, img = el, el  # a photo credit standing alone (e.g. under a JS slider)
        if box is not None and box not in claimed:
            boxes.append((box, img))
            claimed.add(box)
            skip_until = max(skip_until, index.get(_last_descendant(box), n))
    out: list[tuple[Caption, HtmlElement]] = []
    seen: dict[str, set[str]] = {}  # caption text -> image files it was seen with
    for box, img in boxes:
        if _in_bad_context(box, article) or _author_picture(img if img is not None else box):
            continue
        if img is None and _teaser_card(box):
            continue
        if img is None:
            caption = caption_of(box, base)
        elif img is box:
            # A credit box may hold the caption too ("Titan in 2004. (NASA/JPL)").
            text, credit = split_credit(_text(box))
            text, credit = (text, credit) if credit else ("", text)
            known = {c.credit for c, _ in out}
            caption = Caption(text, credit, _image_url(box, base)) if credit not in known else None
        else:
            caption = _loose_caption_of(box, img, base)
        if caption is None:
            continue
        # The same caption twice is one figure shown twice (a gallery and its lightbox, two
        # sizes of one photo) unless it is on a different picture ("Photo by X" under each).
        key = f"{caption.text}|{caption.credit}"
        image = _image_file(caption.image_url)
        if key in seen and (not image or image in seen[key] or "" in seen[key]):
            continue
        seen.setdefault(key, set()).add(image)
        out.append((caption, box))
    return out


def _image_file(url: str | None) -> str:
    return (url or "").split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _loose_caption_of(el: HtmlElement, img: HtmlElement, base: str | None) -> Caption | None:
    text, credit = split_credit(_text(el))
    if _JUNK.match(text):
        text = ""
    if not text and not credit:
        return None
    return Caption(text, credit, _image_url(img, base))


_PICTURE_TAGS = ("img", "picture", "amp-img", "video", "source", "figure")


_PICTURE_WORDS = ("image", "img", "photo", "picture", "foto", "media", "video", "gallery", "slide")


def _holds_picture(el: HtmlElement, *, deep: bool) -> bool:
    """A picture element, a box drawing one as its background, or a box named for a picture
    (lazy-loading placeholders whose <img> a script inserts later)."""
    if el.tag in _PICTURE_TAGS or "background" in (el.get("style") or ""):
        return True
    if any(w in class_joined(el) for w in _PICTURE_WORDS):
        return True
    return deep and next(el.iter(*_PICTURE_TAGS), None) is not None


def _near_picture(box: HtmlElement) -> bool:
    """Is there a picture in the caption's box, or in a small element right beside it?"""
    if _holds_picture(box, deep=True):
        return True
    for sib in (box.getprevious(), box.getnext()):
        if sib is not None and _holds_picture(sib, deep=len(text_content(sib)) < 300):
            return True
    return False


def _caption_box(el: HtmlElement) -> HtmlElement:
    """A caption element's figure: the outermost caption-named box around it (a caption with
    its credit beside it), then that box's parent when the parent holds the image."""
    box = el
    for _ in range(3):
        parent = box.getparent()
        if parent is None or not _is_caption_el(parent):
            break
        box = parent
    parent = box.getparent()
    if parent is not None and len(parent) <= 4:
        if next(parent.iter("img"), None) is not None:
            return parent
        if any(c is not box and isinstance(c.tag, str) and _is_credit_el(c) for c in parent):
            return parent  # the caption and its credit side by side, the image elsewhere
    return box


def _within(el: HtmlElement, boxes: set[HtmlElement]) -> bool:
    return any(a in boxes for a in el.iterancestors())


def _css_to_xpath(selector: str) -> str:
    """A credit rule, relative to its caption box."""
    if selector.lstrip().startswith(("/", "(")):
        return selector if selector.startswith(".") else "." + selector
    return str(GenericTranslator().css_to_xpath(selector, prefix="descendant::"))


_last_descendant = last_descendant
