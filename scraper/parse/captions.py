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
from urllib.parse import urljoin

from cssselect import GenericTranslator

from archive.record import Caption
from scraper.parse.dom import HtmlElement, class_tokens, clean_text

_CREDIT_WORDS = frozenset(
    "credit credits copyright photographer attribution source byline author imagecredit "
    "photocredit courtesy rights".split()
)
_CREDIT_PARTS = ("credit", "copyright", "photographer", "attribution", "courtesy")
_CAPTION_PARTS = ("caption", "figcaption", "cutline", "legend", "imgtext", "image-text",
                  "photo-text", "bildunterschrift", "leyenda", "legende", "didascalia")
_BAD_CONTEXT = frozenset(
    "related recommended recommendations teaser teasers promo promos sidebar trending popular "
    "more recirc outbrain taboola widget nav menu footer comments comment card cards thumbnail "
    "thumbnails playlist video player carousel-nav ad ads advert advertisement".split()
)
_TRAILING_CREDIT = re.compile(
    r"""\s*(
        \((?:[^()]*(?:photo|image|picture|credit|foto|getty|reuters|afp|/|©|epa|shutterstock)[^()]*)\)
      | (?:(?:photo|image|picture|photograph|foto|credit|source|bild)s?(?:\s+credits?)?\s*:\s*|©\s*|\(c\)\s*)[^.]{2,120}
      | via\s+[A-Z][\w&.\- ]{1,60}
      | (?:[A-Z][\w.'\-]*\s){0,3}[A-Z][\w.'\-]*(?:\s?/\s?[A-Z][\w.&'\- ]*){1,3}
    )\s*\.?\s*$""",
    re.X,
)


def _is_credit_el(el: HtmlElement) -> bool:
    tokens = class_tokens(el)
    joined = "-".join(tokens)
    return bool(set(tokens) & _CREDIT_WORDS) or any(p in joined for p in _CREDIT_PARTS)


def _is_caption_el(el: HtmlElement) -> bool:
    if el.tag == "figcaption":
        return True
    joined = "-".join(class_tokens(el))
    return any(p in joined for p in _CAPTION_PARTS)


def split_credit(text: str) -> tuple[str, str | None]:
    """("caption", "credit") from one caption string whose credit is written at its end."""
    text = clean_text(text)
    match = _TRAILING_CREDIT.search(text)
    if not match:
        return text, None
    credit = match.group(1).strip()
    head = text[: match.start()].rstrip()
    # A capitalised phrase with a slash is only a credit after a finished sentence.
    if credit[0].isupper() and not credit.lower().startswith(("photo", "image", "picture", "credit",
                                                               "source", "foto", "bild")):
        if head and not head.endswith((".", "!", "?", "\u201d", '"', ")")):
            return text, None
    return head, credit


def _image_url(el: HtmlElement, base: str | None) -> str | None:
    for img in el.iter("img", "source", "amp-img"):
        for attr in ("src", "data-src", "data-original", "data-lazy-src", "data-srcset", "srcset"):
            value = (img.get(attr) or "").strip()
            if attr.endswith("srcset") and value:
                value = value.split(",")[0].strip().split(" ")[0]
            if value and not value.startswith("data:"):
                return urljoin(base, value) if base else value
    return None


def caption_of(box: HtmlElement, base: str | None, credit_selector: str | None = None
               ) -> Caption | None:
    """The caption of a figure-like box (a <figure> or a caption container)."""
    holders = [el for el in box.iter() if isinstance(el.tag, str) and el is not box
               and _is_caption_el(el)]
    holder = holders[0] if holders else (box if box.tag != "figure" else None)
    if credit_selector:
        credit_els = [el for el in box.xpath(_css_to_xpath(credit_selector)) if el is not box]
    else:
        credit_els = [el for el in box.iter() if isinstance(el.tag, str) and el is not box
                      and _is_credit_el(el) and not any(_is_credit_el(a)
                                                        for a in el.iterancestors()
                                                        if a is not box)]
    credit = " ".join(t for t in (clean_text(c.text_content()) for c in credit_els) if t) or None
    text = clean_text(holder.text_content()) if holder is not None else ""
    if credit:
        for c in credit_els:
            ctext = clean_text(c.text_content())
            if ctext and ctext in text:
                text = clean_text(text.replace(ctext, " "))
    elif text:
        text, credit = split_credit(text)
    if not text and not credit:
        return None
    if len(text) > 800:
        return None
    return Caption(text, credit, _image_url(box, base))


def _in_bad_context(el: HtmlElement, stop: HtmlElement) -> bool:
    for anc in el.iterancestors():
        if anc is stop or anc.tag in ("body", "html", "article", "main"):
            return False
        if anc.tag in ("a", "aside", "nav", "footer", "li") or set(class_tokens(anc)) & _BAD_CONTEXT:
            return True
    return False


def find_captions(scope: HtmlElement, start: HtmlElement | None, end: HtmlElement | None,
                  base: str | None) -> list[tuple[Caption, HtmlElement]]:
    """The article's figures in document order, within [start, end] when given."""
    boxes: list[HtmlElement] = []
    inside = start is None
    last = _last_descendant(end) if end is not None else None
    claimed: set[HtmlElement] = set()
    for el in scope.iter():
        if el is start:
            inside = True
        if inside and isinstance(el.tag, str) and (el.tag == "figure" or _is_caption_el(el)):
            if not _within(el, claimed):
                box = el if el.tag == "figure" else _caption_box(el)
                if box not in claimed:
                    boxes.append(box)
                    claimed.add(box)
        if el is last:
            break
    out: list[tuple[Caption, HtmlElement]] = []
    texts: set[str] = set()
    for box in boxes:
        if _in_bad_context(box, scope):
            continue
        caption = caption_of(box, base)
        if caption is None:
            continue
        key = f"{caption.text}|{caption.credit}"
        if key in texts:
            continue
        texts.add(key)
        out.append((caption, box))
    return out


def _caption_box(el: HtmlElement) -> HtmlElement:
    """A caption element's figure: its parent when that holds the image, else the caption."""
    parent = el.getparent()
    if parent is not None and next(parent.iter("img"), None) is not None and len(parent) <= 4:
        return parent
    return el


def _within(el: HtmlElement, boxes: set[HtmlElement]) -> bool:
    return any(a in boxes for a in el.iterancestors())


def _css_to_xpath(selector: str) -> str:
    """A credit rule, relative to its caption box."""
    if selector.lstrip().startswith(("/", "(")):
        return selector if selector.startswith(".") else "." + selector
    return str(GenericTranslator().css_to_xpath(selector, prefix="descendant::"))


def _last_descendant(el: HtmlElement) -> HtmlElement:
    while len(el):
        el = el[-1]
    return el
