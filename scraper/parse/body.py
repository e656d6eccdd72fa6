"""The article body: our own extractor on the lxml tree.

1. Segment the page into text blocks: the inline content of each block-level element (split at
   nested blocks and at double line breaks), with its length and how much of it is link text.
2. Score containers the way Readability does, refined: every prose-like block (long enough, few
   links) adds 1 + commas + length/100 to its container, half to the next ancestor up and a
   third to the one above; class/id words ("article-body" vs "share-bar") and link density
   adjust the sum. The best container wins; siblings that score well or read like paragraphs
   join it.
3. Emit the blocks of the chosen containers in document order, leaving out figures and captions,
   bylines, share bars, related links, newsletter boxes, comments and read-more teasers (by tag,
   class/id words and link density), and marking subheadings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from archive.record import Block, BlockKind
from scraper.parse.datetext import MONTH_NAMES, parse_human
from scraper.parse.dom import (
    BLOCK_TAGS,
    HEADING_TAGS,
    HtmlElement,
    class_joined,
    class_tokens,
    clean_text,
    last_descendant,
    text_content,
)

_BOILERPLATE_WORDS = frozenset(
    [
        "comment",
        "comments",
        "commentlist",
        "disqus",
        "share",
        "shares",
        "sharing",
        "sharebar",
        "social",
        "socials",
        "related",
        "relatedposts",
        "newsletter",
        "newsletters",
        "subscribe",
        "subscription",
        "signup",
        "promo",
        "promos",
        "advert",
        "advertisement",
        "advertising",
        "ad",
        "ads",
        "adunit",
        "dfp",
        "sponsor",
        "sponsored",
        "outbrain",
        "taboola",
        "recommended",
        "recommendations",
        "recirc",
        "popular",
        "trending",
        "sidebar",
        "widget",
        "widgets",
        "footer",
        "breadcrumb",
        "breadcrumbs",
        "byline",
        "bylines",
        "caption",
        "captions",
        "credit",
        "credits",
        "tags",
        "tag",
        "topics",
        "nav",
        "navigation",
        "navbar",
        "menu",
        "toolbar",
        "pagination",
        "pager",
        "teaser",
        "teasers",
        "banner",
        "cookie",
        "cookies",
        "modal",
        "popup",
        "overlay",
        "masthead",
        "printfriendly",
        "jump",
        "skip",
        "disclaimer",
        "copyright",
        "author-bio",
        "authorbox",
        "bio",
        "readmore",
        "moreon",
        "follow",
        "donate",
        "paywall",
        "login",
        "signin",
        "rating",
        "ratings",
        "print",
        "email",
        "sronly",
        "dateline",
        "timestamp",
        "meta",
        "postmeta",
        "metadata",
        "player",
        "playlist",
        "thumbnails",
        "keywords",
        "also",
    ]
)
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
)
_GOOD_WORDS = frozenset(
    [
        "article",
        "articles",
        "body",
        "content",
        "contents",
        "entry",
        "main",
        "post",
        "story",
        "text",
        "prose",
        "richtext",
        "articlebody",
        "article-body",
        "story-body",
        "blog",
        "column",
    ]
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
_SKIP_TAGS = frozenset(
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
_PARAGRAPHISH = frozenset(
    (
        "p",
        "pre",
        "blockquote",
        "li",
        "dd",
        "dt",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "td",
        "th",
        "font",
        "span",
        "b",
        "strong",
        "em",
        "i",
        "a",
    )
)
_TAG_BONUS = {
    "div": 5,
    "article": 10,
    "section": 3,
    "main": 3,
    "pre": 3,
    "td": 3,
    "blockquote": 3,
    "address": -3,
    "ol": -3,
    "ul": -3,
    "dl": -3,
    "dd": -3,
    "dt": -3,
    "li": -3,
    "form": -3,
    "th": -5,
    "h2": -5,
    "h3": -5,
    "h4": -5,
}
_WORD = re.compile(r"\w+")
_BR_SPLIT = re.compile(r"\n[ \t\r\f\v\u00a0]*\n")
_JUNK_LINE = re.compile(
    r"^(advertisement|advertising|sponsored|share( this| on)?\b|read more\b|read next\b|"
    r"related( stories| articles| content|:)|see also\b|more:|also read\b|click here\b|"
    r"follow (us|me)\b|sign up\b|subscribe\b|listen to\b|watch:|image:|photo:|getty images|"
    r"©|\(c\)|copyright\b|all rights reserved|tags?:|filed under\b|posted in\b|"
    r"leave a comment|\d+ comments?\b|comments?\b|continue reading\b|recommended\b|"
    r"skip to\b|download the\b|get the\b.*\bapp\b|loading\b|updated\b|published\b|"
    r"posted\b|last (updated|modified)\b|by\s+[A-Z][\w.'\-]+(\s+[A-Z][\w.'\-]+){0,3}\s*([-|,•·]|$)|"
    r"have a (news )?tip\b)",
    re.I,
)
# Newsletter and contact boxes that survive as single short paragraphs anywhere in the text.
_JUNK_ANYWHERE = re.compile(
    r"\bnewsletters?\b|\bsign up\b|\bsubscribe\b|\b(?:may|can) be reached at\b|"
    r"\bfollow (?:him|her|them|us|me) on\b|\ball rights reserved\b|\bclick here\b|"
    r"\brequires javascript\b|\benable javascript\b|^\[\w+ [^\]]*=[^\]]*\]|^advert(?:isement)?$",
    re.I,
)
# "05/10/2018 - Publicado por: X - Categoria: Y": a dateline with a byline, not prose.
_BYLINE_WORD = re.compile(
    r"\b(?:by|por|von|par|di|door|publicado|published|posted|updated|written|autor|author)\b",
    re.I,
)
_DATE_ONLY = re.compile(
    r"^[\W\d_]*(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s*)?"
    r"(?:[a-zé]{3,10}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}\.?\s+[a-zé]{3,10}\.?\s+\d{4}|"
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4})(?:\s*(?:at\s*)?\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*[a-z]{0,4})?[\W_]*$",
    re.I,
)


@dataclass(slots=True)
class TextBlock:
    """The inline text of one block-level element (or one <br><br>-separated part of it)."""

    el: HtmlElement
    text: str
    links: int  # characters of link text
    kind: BlockKind

    @property
    def link_density(self) -> float:
        return self.links / max(1, len(self.text))


def is_boilerplate(el: HtmlElement) -> bool:
    """True when tag or class/id words say the element is not article prose."""
    if el.tag in _SKIP_TAGS:
        return True
    role = el.get("role")
    if role in ("navigation", "complementary", "contentinfo", "banner", "dialog", "menu"):
        return True
    tokens = class_tokens(el)
    if not tokens:
        return False
    if tokens & _EMBEDS and (
        el.tag == "blockquote" or next(el.iter("blockquote"), None) is not None
    ):
        return False  # a post the writer embedded (a tweet) is quoted content, not a widget
    joined = class_joined(el)
    if tokens & _GOOD_WORDS or any(p in joined for p in _GOOD_PARTS):
        # "article-sharebar" is still a share bar; "article-content" is content.
        return bool(
            tokens
            & {
                "share",
                "sharing",
                "social",
                "related",
                "comments",
                "newsletter",
                "byline",
                "caption",
                "promo",
                "tags",
                "meta",
            }
        )
    return bool(tokens & _BOILERPLATE_WORDS) or any(p in joined for p in _BOILERPLATE_PARTS)


_INLINE_JUNK = frozenset(
    [
        "caption",
        "credit",
        "credits",
        "share",
        "sharing",
        "social",
        "byline",
        "sronly",
        "tooltip",
        "popup",
        "hover",
        "rollover",
        "ad",
        "ads",
        "advert",
        "advertisement",
    ]
)


def _inline_junk(el: HtmlElement) -> bool:
    # A wrapper whose own child is the link ("rollover-people" around a name) is the text;
    # the card nested beside that link is the junk.
    return bool(class_tokens(el) & _INLINE_JUNK) and not any(c.tag == "a" for c in el)


def _inline_text(el: HtmlElement, drop_junk: bool) -> tuple[str, int]:
    """(text, characters of link text) of an inline element, without the hover cards and
    credits nested in it when drop_junk is set."""
    has_break = next(el.iter("br"), None) is not None
    if not has_break and (
        not drop_junk or not any(_inline_junk(d) for d in el.iterdescendants() if d.get("class"))
    ):
        text = text_content(el)
        if el.tag == "a":
            return text, len(clean_text(text))
        return text, sum(len(clean_text(text_content(a))) for a in el.iter("a"))
    parts: list[str] = []
    linked = 0

    def walk(node: HtmlElement, in_link: bool) -> None:
        nonlocal linked
        in_link = in_link or node.tag == "a"
        parts.append(node.text or "")
        if in_link:
            linked += len(clean_text(node.text))
        for child in node:
            if child.tag == "br":
                parts.append("\n")  # <br><br> inside <font> still separates paragraphs
            elif isinstance(child.tag, str) and not (drop_junk and _inline_junk(child)):
                walk(child, in_link)
            parts.append(child.tail or "")
            if in_link:
                linked += len(clean_text(child.tail))

    walk(el, False)
    return "".join(parts), linked


def _kind(el: HtmlElement) -> BlockKind:
    tag = el.tag
    if tag in HEADING_TAGS:
        return BlockKind.HEADING
    if tag == "li":
        return BlockKind.LIST_ITEM
    if tag == "blockquote":
        return BlockKind.QUOTE
    return BlockKind.PARAGRAPH


def _has_block(el: HtmlElement) -> bool:
    found = el.iter(*BLOCK_TAGS)
    first = next(found, None)
    if first is el:
        first = next(found, None)
    return first is not None


def segment(
    root: HtmlElement, skip: Callable[[HtmlElement], bool] | None = None, max_depth: int = 300
) -> list[TextBlock]:
    """Text blocks under root, in document order; subtrees where skip(el) is true are left out."""
    out: list[TextBlock] = []
    _segment(root, skip, out, 0, max_depth)
    return out


def _segment(
    el: HtmlElement,
    skip: Callable[[HtmlElement], bool] | None,
    out: list[TextBlock],
    depth: int,
    max_depth: int,
    in_link: bool = False,
) -> None:
    parts: list[str] = [el.text or ""]
    links = 0

    def flush() -> None:
        nonlocal parts, links
        raw = "".join(parts)
        parts = []
        pieces = [clean_text(p) for p in _BR_SPLIT.split(raw)] if "\n" in raw else [clean_text(raw)]
        pieces = [p for p in pieces if p]
        total = sum(len(p) for p in pieces) or 1
        for piece in pieces:
            # Inside a link (a whole teaser card wrapped in <a>), all of it is link text.
            share = len(piece) if in_link else links * len(piece) // total
            out.append(TextBlock(el, piece, share, _kind(el)))
        links = 0

    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            parts.append(child.tail or "")
            continue
        inline = tag not in BLOCK_TAGS and tag not in _SKIP_TAGS and not _has_block(child)
        # Inline elements are only dropped for what is never prose (captions, share widgets,
        # hover cards): a link classed "tag" or "topic" inside a sentence is still the sentence.
        if skip is not None and (skip(child) if not inline else _inline_junk(child)):
            parts.append(" ")
            parts.append(child.tail or "")
            continue
        if tag == "br":
            parts.append("\n")
        elif tag in BLOCK_TAGS or _has_block(child):
            flush()
            if depth < max_depth:
                _segment(child, skip, out, depth + 1, max_depth, in_link or tag == "a")
        elif tag in ("img", "hr", "wbr"):
            parts.append(" ")
        else:
            text, linked = _inline_text(child, skip is not None)
            parts.append(text)
            links += linked
        parts.append(child.tail or "")
    flush()


def _weight(el: HtmlElement) -> int:
    tokens = class_tokens(el)
    if not tokens:
        return 0
    joined = class_joined(el)
    weight = 0
    if tokens & _GOOD_WORDS or any(p in joined for p in _GOOD_PARTS):
        weight += 25
    if tokens & _BOILERPLATE_WORDS or any(p in joined for p in _BOILERPLATE_PARTS):
        weight -= 25
    return weight


def _link_density(el: HtmlElement) -> float:
    text = len(clean_text(text_content(el)))
    if not text:
        return 1.0
    links = sum(len(clean_text(text_content(a))) for a in el.iter("a"))
    return links / text


def _prune(el: HtmlElement) -> bool:
    """Subtrees never scored: navigation, asides, footers and unlikely-named boxes."""
    if el.tag in ("nav", "aside", "footer", "form", "figure", "dialog", "menu", "header"):
        return el.tag != "form" or not _has_prose(el)
    if class_tokens(el) & _COMMENTS and not class_tokens(el) & _GOOD_WORDS:
        return True  # reader comments are prose too, but never the article
    return is_boilerplate(el) and not _has_prose(el)


_EMBEDS = frozenset(("embed", "embedded", "tweet", "twitter-tweet", "instagram-media"))
_COMMENTS = frozenset(("comment", "comments", "commentlist", "disqus", "respond", "replies"))


def _has_prose(el: HtmlElement, needed: int = 3) -> bool:
    count = 0
    for p in el.iter("p"):
        if len(text_content(p)) > 150:
            count += 1
            if count >= needed:
                return True
    return False


def score_containers(blocks: Iterable[TextBlock]) -> dict[HtmlElement, float]:
    scores: dict[HtmlElement, float] = {}
    for block in blocks:
        n = len(block.text)
        if n < 25 or block.link_density > 0.5:
            continue
        value = 1.0 + block.text.count(",") + block.text.count("،") + min(n / 100.0, 3.0)
        el = block.el
        start = el.getparent() if el.tag in _PARAGRAPHISH else el
        node = start
        for level in range(3):
            if node is None or node.tag == "html":
                break
            if node not in scores:
                scores[node] = float(_TAG_BONUS.get(node.tag, 0) + _weight(node))
            scores[node] += value / (1, 2, 3)[level]
            node = node.getparent()
    return scores


def choose_container(
    body: HtmlElement,
    order: dict[HtmlElement, int] | None = None,
    heading: HtmlElement | None = None,
) -> tuple[HtmlElement, list[HtmlElement]]:
    """The best-scoring container and the siblings that belong with it, in order."""
    blocks = segment(body, _prune)
    scores = score_containers(blocks)
    if not scores:
        return body, [body]
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:8]
    finals = {el: s * (1.0 - _link_density(el)) for el, s in ranked}
    top = max(finals, key=lambda e: finals[e])
    top_score = finals[top]
    # Readability: when several strong candidates share an ancestor, the article is higher up.
    # Other <article> elements as strong as the best one are other articles, not parts of it.
    alternatives = [
        el
        for el, s in finals.items()
        if el is not top and s >= 0.75 * top_score and el.tag != "article"
    ]
    if len(alternatives) >= 2:
        parent = top.getparent()
        while parent is not None and parent.tag not in ("body", "html"):
            if sum(1 for a in alternatives if _contains(parent, a)) >= 2:
                top = parent
                break
            parent = parent.getparent()
    if order is None:
        order = {el: n for n, el in enumerate(body.iter())}
    top = _grow(top, blocks, order)
    top_score = max(top_score, scores.get(top, 0.0))
    parent = top.getparent()
    if parent is None or top.tag in ("body", "html"):
        return top, [top]
    threshold = max(10.0, top_score * 0.2)
    chosen = []
    for sibling in parent:
        if not isinstance(sibling.tag, str):
            continue
        if sibling is top:
            chosen.append(sibling)
            continue
        if _prune(sibling) or (sibling.tag == "article" and top.tag == "article"):
            continue  # a sibling <article> is another article (blog front pages)
        bonus = (
            top_score * 0.2 if top.get("class") and sibling.get("class") == top.get("class") else 0
        )
        if scores.get(sibling, 0.0) + bonus >= threshold:
            chosen.append(sibling)
        elif sibling.tag == "p":
            text = clean_text(text_content(sibling))
            density = _link_density(sibling)
            if (len(text) > 80 and density < 0.25) or (
                0 < len(text) <= 80 and density == 0 and text.endswith(".")
            ):
                chosen.append(sibling)
    return top, chosen


def _grow(top: HtmlElement, blocks: list[TextBlock], order: dict[HtmlElement, int]) -> HtmlElement:
    """Climb from the best container while the parent adds mostly prose: articles split into
    several sibling sections (each scored on its own) are taken whole."""
    spans = [(order.get(b.el, -1), len(b.text), _is_prose(b)) for b in blocks]

    def sums(el: HtmlElement) -> tuple[int, int]:
        first = order.get(el, -1)
        last = order.get(last_descendant(el), first)
        good = total = 0
        for at, n, prose in spans:
            if first <= at <= last:
                total += n
                if prose:
                    good += n
        return good, total

    good, total = sums(top)
    best = node = top
    while (parent := node.getparent()) is not None and parent.tag not in ("body", "html"):
        node = parent
        p_good, p_total = sums(parent)
        extra_good, extra_total = p_good - good, p_total - total
        if extra_total < 150:
            continue  # a wrapper with next to nothing else in it ("Read more", a label)
        if p_good < 1.2 * good or extra_good / extra_total < 0.75:
            break
        best, good, total = parent, p_good, p_total
    return best


def _is_prose(block: TextBlock) -> bool:
    return len(block.text) >= 40 and block.link_density < 0.15


def _contains(ancestor: HtmlElement, el: HtmlElement) -> bool:
    return any(a is ancestor for a in el.iterancestors())


def _extract_skip(container: HtmlElement) -> Callable[[HtmlElement], bool]:
    def skip(el: HtmlElement) -> bool:
        if el.tag == "header":
            return True
        if el.tag in ("table", "ul", "ol") and _link_density(el) > 0.6:
            return True
        return is_boilerplate(el)

    return skip


def extract_blocks(
    containers: list[HtmlElement], *, exclude: set[str] | None = None
) -> list[Block]:
    """The paragraphs and subheadings of the chosen containers, in order."""
    exclude = exclude or set()
    out: list[Block] = []
    for container in containers:
        for block in segment(container, _extract_skip(container)):
            text = block.text
            if not _keep(block, exclude):
                continue
            kind = block.kind
            if kind == BlockKind.PARAGRAPH and _looks_like_heading(block):
                kind = BlockKind.HEADING
            if out and out[-1].text == text:
                continue
            out.append(Block(text, kind))
    return _trim(out)


def word_key(text: str) -> str:
    """Text compared by its words only (captions vs body blocks differ in spacing)."""
    return " ".join(_WORD.findall(text.casefold()))


def _keep(block: TextBlock, exclude: set[str]) -> bool:
    text = block.text
    if word_key(text) in exclude:
        return False
    n = len(text)
    # Inside the article a list item may link most of its words (release notes, "further
    # reading" in the text's own words); elsewhere a mostly-linked line is navigation.
    limit = 0.8 if block.kind == BlockKind.LIST_ITEM else 0.5
    if block.link_density > limit and n < 400:
        return False
    if (n < 140 and _JUNK_LINE.match(text)) or (n < 90 and is_dateline(text)):
        return False
    if n < 200 and _JUNK_ANYWHERE.search(text):
        return False
    if n < 160 and _BYLINE_WORD.search(text) and parse_human(text) is not None:
        return False
    return any(ch.isalnum() for ch in text)


_DATE_WORDS = re.compile(
    r"\b(?:updated|published|posted|modified|on|at|am|pm|a\.m|p\.m|[A-Z]{2,4}|gmt|utc|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun)\b|\d+",
    re.I,
)


_TIME_ONLY = re.compile(r"^\W*\d{1,2}[:.]\d{2}\s*(?:[ap]\.?\s?m\.?)?\s*[A-Z]{0,4}\W*$", re.I)


def is_dateline(text: str) -> bool:
    """A line that is only a date (and time, zone, "Updated"): page furniture, not prose."""
    if _TIME_ONLY.match(text):
        return True
    if parse_human(text) is None:
        return False
    rest = _DATE_WORDS.sub(" ", text)
    rest = " ".join(w for w in re.findall(r"[^\W\d_]+", rest) if w.lower() not in MONTH_NAMES)
    return len(rest) < 3


def _looks_like_heading(block: TextBlock) -> bool:
    el = block.el
    if len(block.text) > 120 or (
        block.text.endswith((".", ",", ";", ":")) and len(block.text) > 60
    ):
        return False
    children = [c for c in el if isinstance(c.tag, str) and c.tag != "br"]
    if len(children) != 1 or children[0].tag not in ("strong", "b"):
        return False
    own = clean_text((el.text or "") + (children[0].tail or ""))
    return not own


def _trim(blocks: list[Block]) -> list[Block]:
    while blocks and len(blocks[-1].text) < 60 and blocks[-1].kind != BlockKind.PARAGRAPH:
        blocks.pop()
    return blocks
