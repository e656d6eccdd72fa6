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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree

from archive.record import Block, BlockKind
from scraper.parse.boilerplate import (
    COMMENTS,
    GOOD_WORDS,
    PARTNER_TEXT,
    PROSE,
    SKIP_TAGS,
    UNLESS_EMBED,
    boilerplate_verdict,
    class_weight,
    has_embed,
    is_boilerplate,
    member_cell,
    partner_named,
    weak_words,
)
from scraper.parse.datetext import MONTH_NAMES, parse_human
from scraper.parse.dom import (
    BLOCK_TAGS,
    HtmlElement,
    attribute,
    class_id,
    class_words,
    clean_text,
    contains,
    last_descendant,
    link_density,
    role_class_id,
    text_content,
    words,
)
from scraper.parse.segment import TextBlock, segment
from scraper.parse.threads import (
    first_class,
    holds_post,
    numbered,
    numbered_posts,
    posts_in,
    thread_posts,
    wraps_posts,
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
# Block kinds as module constants: an enum member read off its class (BlockKind.HEADING) runs
# a Python-level descriptor in 3.11, ~25x a global's read, and the block loops read them often.
_PARAGRAPH, _HEADING, _LIST_ITEM = BlockKind.PARAGRAPH, BlockKind.HEADING, BlockKind.LIST_ITEM
_DIGIT = re.compile(r"\d")
_JUNK_LINE = re.compile(
    r"^(advertisement|advertising|sponsored|share( this| on)?\b|read more\b|read next\b|"
    r"related( stories| articles| content|:)|see also\b|more:|also read\b|click here\b|"
    r"follow (us|me)\b|sign up\b|subscribe\b|listen to\b|watch:|image:|photo:|getty images|"
    r"©|\(c\)|copyright\b|all rights reserved|tags?:|filed under\b|posted in\b|"
    r"leave a comment|\d+ comments?\b|comments?\b|continue reading\b|recommended\b|"
    r"skip to\b|download the\b|get the\b.*\bapp\b|loading\b|updated\b|published\b|"
    r"posted\b|last (updated|modified)\b|by\s+[A-Z][\w.'\-]+(\s+[A-Z][\w.'\-]+){0,3}\s*([-|,•·]|$)|"
    r"have a (news )?tip\b|this entry was posted\b|dieser (?:beitrag|eintrag) wurde\b|"
    r"mehr zum thema\b|lesen sie (?:auch|mehr)\b|auch interessant\b|"
    # "read also" lines and photo credits in the languages of the web's other news sites
    r"le[ae] tambi[eé]n\b|te puede interesar\b|(?:[àa] )?lire aussi\b|leggi anche\b|"
    r"читайте также|смотрите также|"
    r"(?:foto|fotos|bild|bilder|фото|bildquelle|titelbild|beitragsbild|bildnachweis|"
    r"fotonachweis)\s*:|"
    # tag and category lines in other languages ("Schlagworte: …", "Etiquetas: …")
    r"(?:schlagw(?:ö|oe)rter|schlagworte|stichw(?:ö|oe)rter|stichworte|kategorien?|"
    r"etiquetas|categor[ií]as?|теги|метки|рубрики?)\s*:|"
    # share bars' labels in other languages
    r"(?:diesen |den )?(?:artikel|beitrag|seite) teilen\b|(?:jetzt )?teilen\s*:|jetzt teilen\b|"
    r"compartir(?:\s*:|\s+en\b)|comparte esta|partager(?:\s*:|\s+sur\b)|condividi\b|"
    r"поделиться\s*(?::|$)|"
    # blog themes' reading-time and read-aloud lines
    r"(?:lesezeit|lesedauer|reading time|tiempo de lectura|temps de lecture|время чтения)"
    r"\W{0,3}(?:ca\.\s*|about\s*)?\d|"
    r"\d+\s*min(?:ute)?s? read\b|artikel (?:vorlesen|anh(?:ö|oe)ren)\b|"
    r"das k(?:ö|oe)nnte sie (?:auch )?interessieren\b|"
    # Blogger's post footer in other languages ("Eingestellt von Sabine um 20:15")
    r"(?:eingestellt|gepostet|publicado|publi[ée]|pubblicato|geplaatst) (?:von|por|par|da|door)\b)",
    re.I,
)
# Words of _JUNK_LINE that also open ordinary sentences ("Share prices fell 3 percent on
# Monday.", "Published in 1998, the book ...", "Advertising revenue fell by a third ..."):
# such a line is junk only when it is not a finished sentence of some length (what furniture
# rarely is: "Share", "3 Comments", "Updated 5 hours ago", "Posted in News").
_WEAK_JUNK = re.compile(
    r"(?:share(?! this\b| on\b)|comments?|recommended|loading|updated|published|posted|by|"
    r"copyright|advertising|advertisement|sponsored)(?:\s+|-)[^\W\d_]",
    re.I,
)
_SENTENCE_END = (".", "!", "?", '."', ".\u201d", "!\u201d", "?\u201d", ".'", ".)")
# Newsletter and contact boxes that survive as single short paragraphs anywhere in the text.
# Searched in the lower-cased text: one alternation without re.I is several times faster.
_JUNK_ANYWHERE = re.compile(
    # (a newsletter named in prose, "We will keep the newsletter going", is text: the boxes
    # that offer one say "sign up", "subscribe", "inbox" or "get our newsletter")
    r"\b(?:(?:get|receive|join) (?:our|the|my)\b[\w ]{0,30}newsletters?|inbox|sign up|"
    r"subscribe|(?:may|can) be reached at|"
    r"follow (?:him|her|them|us|me) on|all rights reserved|click here|"
    r"requires javascript|enable javascript)\b"
)
# A piece of every alternative above: a line holding none of them cannot match, and these
# substring tests cost a tenth of the search (which tries each alternative at each position).
_JUNK_ANYWHERE_KEYS = (
    "newsletter",
    "inbox",
    "sign up",
    "subscribe",
    "be reached at",
    "follow ",
    "all rights reserved",
    "click here",
    "javascript",
)
# Layout: any site with ad slots in the text. The slot's label is a line of its own, in many
# languages ("Advertisement", "Anzeige", "Werbung", "Publicidad", "Publicité", "Pubblicità",
# "Реклама", "Reklama"), set off by dashes or brackets ("- Anzeige -", "[Advertisement]"), or
# telling the reader where the text goes on ("Advertisement - Scroll to continue", "Story
# continues below advertisement", "Weiterlesen nach der Anzeige").
_AD_LABEL = (
    r"(?:advert(?:isement)?|advertising|anzeigen?|werbung|publicidad|publicit[eé]|"
    r"pubblicit[aà]|реклама|reklama|reklame|advertentie|gesponsert|sponsored)"
)
_JUNK_WHOLE = re.compile(
    r"\[\w+ [^\]]*=[^\]]*\]|"
    rf"[\W_]*{_AD_LABEL}(?:[\W_]+(?:scroll|continue|weiter|story continues|article continues)"
    r"[\w ]{0,30})?[\W_]*$|"
    rf"(?:(?:the )?(?:story|article|text|artikel|la noticia) (?:continues|geht|wird|contin[uú]a)"
    rf"[\w ]{{0,25}}(?:below|unter|nach|tras|despu[eé]s de)[\w ]{{0,10}}{_AD_LABEL}[\w ]{{0,20}}|"
    rf"weiterlesen (?:nach|unter) der {_AD_LABEL})[\W_]*$",
    re.I,
)
# "05/10/2018 - Publicado por: X - Categoria: Y": a dateline with a byline, not prose. Layout:
# CMSs that print the publication or update as a line of its own in the text's box, in the
# site's language (club sites' "Veröffentlicht am 03.05.2022 | Ressort: Verkehr", Joomla's
# "Zuletzt aktualisiert: …" and "Erstellt: …", K2's "Ultima modifica il …", "Publié le …",
# "Mis à jour le …", "Actualizado …", "Опубликовано …", phpBB's "Добавлено: …").
_BYLINE_WORD = re.compile(
    r"\b(?:by|por|von|par|di|door|publicado|published|posted|updated|written|autor|author|"
    r"ver(?:ö|oe)ffentlicht|aktualisiert|erstellt|ge(?:ä|ae)ndert|stand(?=:)|"
    r"pubblicato|aggiornato|modifica|publi[ée]e?|mis [àa] jour|actualizado|atualizado|"
    r"publicada|geplaatst|bijgewerkt|опубликовано|обновлено|добавлено)\b"
)
_DATE_ONLY = re.compile(
    r"^[\W\d_]*(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s*)?"
    r"(?:[a-zé]{3,10}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|\d{1,2}\.?\s+[a-zé]{3,10}\.?\s+\d{4}|"
    r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4})(?:\s*(?:at\s*)?\d{1,2}[:.]\d{2}\s*(?:[ap]\.?m\.?)?\s*[a-z]{0,4})?[\W_]*$",
    re.I,
)


def _prune(el: HtmlElement) -> bool:
    """Subtrees never scored: navigation, asides, footers and unlikely-named boxes."""
    tag = el.tag  # (read once: each read of an lxml tag decodes a new str)
    if tag == "td" and member_cell(el):
        return True
    role, cls, ident = role_class_id(el)
    decided, embed, needed = _prune_plan(tag, role, cls, ident)
    if decided is not None:
        return decided
    if embed and has_embed(el):
        return False
    if tag == "form" and page_form(el):
        return False
    # Layout: shop and listing pages name the box around the text "product-meta" or
    # "item-info"; a meta line never holds a paragraph of prose.
    return not _has_prose(el, needed) and not _lead_box(el)


@lru_cache(maxsize=8192)
def _prune_plan(
    tag: object, role: str | None, cls: str | None, ident: str | None
) -> tuple[bool | None, bool, int]:
    """What _prune decides from the tag and attributes alone (runs on every element, so it is
    memoised on them): (the answer, or None when the subtree must be looked at; whether an
    embedded post clears it; the paragraphs of prose that clear it)."""
    if tag in ("nav", "aside", "footer", "form", "figure", "dialog", "menu", "header"):
        return (None, False, 3) if tag == "form" else (True, False, 0)
    tokens = class_words(cls, ident)[0] if cls is not None or ident is not None else None
    if not tokens:
        if tag not in SKIP_TAGS and role is None:
            return False, False, 0  # nothing names it furniture (most elements)
    elif tokens & COMMENTS and not tokens & GOOD_WORDS:
        return True, False, 0  # reader comments are prose too, but never the article
    verdict = boilerplate_verdict(tag, role, cls, ident)
    if verdict is PROSE:
        return False, False, 0
    return None, verdict is UNLESS_EMBED, 1 if weak_words(cls, ident) else 3


_FURNITURE_TEXT = 300  # on the second try, furniture-named boxes with less text are left out


def _prune_by_tags(el: HtmlElement, comments: bool = True) -> bool:
    """_prune without class words' furniture: navigation, asides, footers, forms, figures and
    reader comments only (`comments` False: not even those)."""
    cls, ident = class_id(el)
    decided, _, _ = _prune_plan(el.tag, attribute(el, "role"), None, None)
    if el.tag == "form":
        return not page_form(el) and not _has_prose(el)
    if decided:
        return True
    if not comments or (cls is None and ident is None):
        return False
    tokens = class_words(cls, ident)[0]
    return bool(tokens & COMMENTS and not tokens & GOOD_WORDS)


def page_form(el: HtmlElement) -> bool:
    """Layout: ASP.NET WebForms and some CMSs wrap the whole page in one <form> (around the
    headline, or straight under <body>): a wrapper, not a form to leave out. So do forums
    around a thread's posts (XenForo 1's inline moderation form, SMF's "quickModForm")."""
    parent = el.getparent()
    return (
        (parent is not None and parent.tag in ("body", "html"))
        or next(el.iter("h1"), None) is not None
        or wraps_posts(el)
    )


def _has_prose(el: HtmlElement, needed: int = 3) -> bool:
    count = 0
    for p in el.iter("p"):
        if len(text_content(p)) > 150:
            count += 1
            if count >= needed:
                return True
    return False


def score_containers(
    blocks: Iterable[TextBlock], by_tags: bool = False
) -> dict[HtmlElement, float]:
    """Containers' scores; `by_tags` (the second try): class words may raise a score, never
    lower it."""
    scores: dict[HtmlElement, float] = {}
    for block in blocks:
        text = block.text
        n = len(text)
        if n < 25 or block.links / max(1, n) > 0.5:  # (block.link_density, inlined)
            continue
        value = 1.0 + text.count(",") + text.count("،") + min(n / 100.0, 3.0)
        el = block.el
        node = el.getparent() if el.tag in _PARAGRAPHISH else el
        for level in range(3):
            if node is None:
                break
            # (each lxml .tag read decodes a new str: a node already scored is not <html>,
            # so its tag is read only when it is first met)
            score = scores.get(node)
            if score is None:
                tag = node.tag
                if tag == "html":
                    break
                weight = class_weight(node)
                if by_tags and weight < 0:
                    weight = 0
                score = float(_TAG_BONUS.get(tag, 0) + weight)
            scores[node] = score + value / (1, 2, 3)[level]
            node = node.getparent()
    return scores


@dataclass(slots=True)
class Choice:
    """The article's container, the siblings taken with it, and the page's text blocks."""

    top: HtmlElement
    chosen: list[HtmlElement]
    blocks: list[TextBlock]
    wrappers: frozenset[HtmlElement] = frozenset()  # named like furniture, around the headline
    by_tags: bool = False  # chosen pruning by tags only (the second try)
    comments: bool = False  # and reader comments read too (the last try; see choose_container)
    posts: bool = False  # chosen are a forum thread's posts' text boxes


def choose_container(
    body: HtmlElement,
    order: dict[HtmlElement, int] | None = None,
    heading: HtmlElement | None = None,
    *,
    by_tags: bool = False,
    comments: bool = False,
) -> Choice:
    """The best-scoring container and the siblings that belong with it, in order. `by_tags`:
    prune only what tags and comment boxes say is furniture, not class words (the second try
    on pages where the first leaves next to no text)."""
    wrappers = _wrappers(heading)
    prune = _prune
    if comments:

        def prune(el: HtmlElement) -> bool:
            return _prune_by_tags(el, comments=False)

    elif by_tags:
        prune = _prune_by_tags
    elif wrappers:

        def prune(el: HtmlElement) -> bool:
            return el not in wrappers and _prune(el)

    blocks = segment(body, prune)
    top, chosen, posts = _choose(body, blocks, order, _article_of(heading), prune, by_tags, heading)
    return Choice(top, chosen, blocks, wrappers, by_tags or comments, comments, posts)


def _wrappers(heading: HtmlElement | None) -> frozenset[HtmlElement]:
    """Layout: page wrappers named for the layout ("container right-sidebar", "has-sidebar",
    "page-widget") hold the whole article. A box around the page's own headline that only its
    class words call furniture is such a wrapper, never pruned (boxes named by their tag,
    <header>, <nav>, <aside>, and comment boxes stay furniture)."""
    if heading is None:
        return frozenset()
    found = []
    for anc in heading.iterancestors():
        if anc.tag in ("body", "html"):
            break
        cls, ident = class_id(anc)
        if (cls is not None or ident is not None or anc.tag == "form") and _prune_plan(
            anc.tag, attribute(anc, "role"), cls, ident
        )[0] is None:
            found.append(anc)
    return frozenset(found)


def _article_of(el: HtmlElement | None) -> HtmlElement | None:
    """The <article> element around the headline, if any."""
    if el is None:
        return None
    return next((a for a in el.iterancestors("article")), None)


def _foreign(el: HtmlElement, home: HtmlElement) -> bool:
    """Inside (or itself) an <article> beside the headline's, neither around it nor inside it:
    another post (a related-posts list, the next story of an endless page). An <article>
    inside the headline's may be its body ("entry-content")."""
    for anc in el.iterancestors("article") if el.tag != "article" else (el,):
        return anc is not home and not contains(anc, home) and not contains(home, anc)
    return False


def _choose(
    body: HtmlElement,
    blocks: list[TextBlock],
    order: dict[HtmlElement, int] | None,
    home: HtmlElement | None = None,
    prune: Callable[[HtmlElement], bool] = _prune,
    by_tags: bool = False,
    heading: HtmlElement | None = None,
) -> tuple[HtmlElement, list[HtmlElement], bool]:
    """(the article's box, the boxes whose text is the body, whether those are a forum
    thread's posts)"""
    scores = score_containers(blocks, by_tags)
    if not scores:
        return body, [body], False
    ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
    if home is not None:
        # The headline's own <article> marks the article: the others are other posts.
        ranked = [kv for kv in ranked if not _foreign(kv[0], home)] or ranked
    ranked = ranked[:8]
    if order is None:
        order = {el: n for n, el in enumerate(body.iter())}
    links_of = _link_densities(blocks, order)
    finals = {el: s * (1.0 - links_of(el)) for el, s in ranked}
    top = best = max(finals, key=lambda e: finals[e])
    top_score = finals[top]
    # Readability: when several strong candidates share an ancestor, the article is higher up.
    # Other <article> elements as strong as the best one are other articles, not parts of it.
    # So are boxes named as the best one, numbered: other posts of a blog (WordPress's "post-790
    # post" beside "post-812 post").
    others = first_class(top) if numbered(top) else None
    alternatives = [
        el
        for el, s in finals.items()
        if el is not top
        and s >= 0.75 * top_score
        and el.tag != "article"
        and (others is None or first_class(el) != others or not numbered(el))
    ]
    if len(alternatives) >= 2:
        parent = top.getparent()
        while parent is not None and parent.tag not in ("body", "html"):
            if sum(1 for a in alternatives if contains(parent, a)) >= 2:
                top = parent
                break
            parent = parent.getparent()
    # Growing stops at the headline's <article>: what is beside it is not part of it.
    stop = home if home is not None and (top is home or contains(home, top)) else None
    top = _grow(top, blocks, order, stop)
    top_score = max(top_score, scores.get(top, 0.0))
    parent = top.getparent()
    # Layout: steps of a recipe or how-to, a list under its own heading in a box of its own
    # ("Zubereitung", "Method"): the box is the part, so its neighbours (the ingredients) are
    # its siblings.
    if (
        top.tag in ("ul", "ol")
        and parent is not None
        and parent.tag not in ("body", "html")
        and all(c is top or not isinstance(c.tag, str) or c.tag in _SUBHEADS for c in parent)
    ):
        top, parent = parent, parent.getparent()
    if parent is None or top.tag in ("body", "html"):
        return top, [top], False
    threshold = max(10.0, top_score * 0.2)
    posts = thread_posts(best, heading, prune) or numbered_posts(body, top, prune, heading)
    if posts:
        return top, posts, True
    # Layout: blogs list other posts beside the post ("More from ...") in boxes named as the
    # post's own (WordPress's "post-790 post"): a sibling holding one is not part of it.
    others = first_class(top) if numbered(top) else None
    chosen: list[HtmlElement] = []
    # siblings passed over since the last one taken: taken too when another part follows
    between: list[HtmlElement] = []
    after_top = False
    for sibling in parent:
        if not isinstance(sibling.tag, str):
            continue
        if sibling is top:
            before = between[-1] if between else None
            _take(chosen, between, sibling)
            if (
                before is not None
                and before not in chosen
                and (_beside_list(before, prune) or _lead_box(before))
            ):
                chosen.insert(len(chosen) - 1, before)
            after_top = True
            continue
        next_to_top, after_top = after_top, False
        if (
            prune(sibling)
            or (sibling.tag == "article" and top.tag == "article")
            or (others is not None and holds_post(sibling, top.tag, others))
        ):
            between.append(sibling)  # (never taken: it only keeps the gap's count)
            continue  # a sibling <article> is another article (blog front pages)
        if next_to_top and _beside_list(sibling, prune):
            _take(chosen, between, sibling)
            continue
        bonus = (
            top_score * 0.2 if top.get("class") and sibling.get("class") == top.get("class") else 0
        )
        if scores.get(sibling, 0.0) + bonus >= threshold:
            _take(chosen, between, sibling)
        elif sibling.tag == "p" or (sibling.tag == "div" and _plain_text_box(sibling)):
            text = clean_text(text_content(sibling))
            density = link_density(sibling)
            if (len(text) > 80 and density < 0.25) or (
                0 < len(text) <= 80 and density == 0 and text.endswith(".")
            ):
                _take(chosen, between, sibling)
            else:
                between.append(sibling)
        else:
            between.append(sibling)
    return top, chosen, False


def _link_densities(
    blocks: list[TextBlock], order: dict[HtmlElement, int]
) -> Callable[[HtmlElement], float]:
    """For any element: link text over all text of the blocks inside it (navigation already
    pruned). Running sums over the blocks in document order (as in _grow): each of the ranked
    containers costs two lookups, not a pass over every block of the page."""
    spans = sorted((order.get(b.el, -1), len(b.text), b.links) for b in blocks)
    positions = [at for at, _, _ in spans]
    totals, linked = [0], [0]
    for _, n, links in spans:
        totals.append(totals[-1] + n)
        linked.append(linked[-1] + links)

    def density(el: HtmlElement) -> float:
        first = order.get(el, -1)
        last = order.get(last_descendant(el), first)
        lo, hi = bisect_left(positions, first), bisect_right(positions, last)
        if hi <= lo:
            return 1.0  # no block inside
        total = totals[hi] - totals[lo]
        return (linked[hi] - linked[lo]) / total if total else 1.0

    return density


_SUBHEADS = frozenset(("h2", "h3", "h4", "h5", "h6"))
_SANDWICHED = frozenset(
    ("h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "blockquote", "div", "section", "pre")
)


def _take(chosen: list[HtmlElement], between: list[HtmlElement], sibling: HtmlElement) -> None:
    """Layout: articles split into sibling parts by subheadings, lists and quotes (each too
    short to score as a part): what lies between two parts of the text, a few siblings at
    most, is text too unless it is furniture or mostly links."""
    if chosen and 0 < len(between) <= 4:
        chosen.extend(el for el in between if _sandwiched_text(el))
    between.clear()
    chosen.append(sibling)


def _sandwiched_text(el: HtmlElement) -> bool:
    if el.tag not in _SANDWICHED or is_boilerplate(el):
        return False
    text = text_content(el)
    if el.tag[0] == "h":
        return 0 < len(text) <= 200
    if len(text) < 100 and _DIGIT.search(text) and parse_human(text) is not None:
        return False  # a byline with its date ("Marta Gil Sevilla 5 de marzo de 2021")
    return link_density(el) < 0.3


def _beside_list(el: HtmlElement, prune: Callable[[HtmlElement], bool]) -> bool:
    """Layout: recipes (ingredients beside the steps), product sheets (features beside the
    description), how-tos: a list of three or more short items without links, in a box right
    next to the text's box, is part of it, though its items are too short to score as prose."""
    lists = [el] if el.tag in ("ul", "ol") else [c for c in el if c.tag in ("ul", "ol")]
    if not lists or sum(1 for box in lists for c in box if c.tag == "li") < 3:
        return False
    return (
        len(text_content(el)) >= 60
        and not prune(el)
        and not is_boilerplate(el)
        and link_density(el) < 0.1
    )


_LEAD_WORDS = frozenset(words("teaser lead lede intro standfirst summary excerpt einleitung"))


def _lead_box(el: HtmlElement) -> bool:
    """Layout: German CMSs (TYPO3's "news-teaser" before "news-text", "article__teaser") and
    others set the lead in a box of its own right before the text's box, named as teasers
    are: a finished sentence or more of prose there, with no links and no picture, opens
    the text."""
    cls, ident = class_id(el)
    if (cls is None and ident is None) or not class_words(cls, ident)[0] & _LEAD_WORDS:
        return False
    text = clean_text(text_content(el))
    return (
        len(text) >= 80
        and text.endswith(_SENTENCE_END)
        and next(el.iter("a", "img", "picture", "figure"), None) is None
    )


def _plain_text_box(el: HtmlElement) -> bool:
    """Layout: text in <div>s without <p>: a <div> with no class or id and no blocks inside
    reads like a paragraph."""
    return (
        el.get("class") is None
        and el.get("id") is None
        and not any(isinstance(c.tag, str) and c.tag in BLOCK_TAGS for c in el)
    )


def _grow(
    top: HtmlElement,
    blocks: list[TextBlock],
    order: dict[HtmlElement, int],
    stop: HtmlElement | None = None,
) -> HtmlElement:
    """Climb from the best container while the parent adds mostly prose: articles split into
    several sibling sections (each scored on its own) are taken whole."""
    spans = sorted((order.get(b.el, -1), len(b.text), _is_prose(b)) for b in blocks)
    # Running sums over the blocks in document order: a subtree's sums are two lookups.
    positions = [at for at, _, _ in spans]
    totals, goods = [0], [0]
    for _, n, prose in spans:
        totals.append(totals[-1] + n)
        goods.append(goods[-1] + (n if prose else 0))

    def sums(el: HtmlElement) -> tuple[int, int]:
        first = order.get(el, -1)
        last = order.get(last_descendant(el), first)
        lo, hi = bisect_left(positions, first), bisect_right(positions, last)
        return goods[hi] - goods[lo], totals[hi] - totals[lo]

    good, total = sums(top)
    best = node = top
    others = first_class(top) if numbered(top) else None
    while (
        node is not stop
        and (parent := node.getparent()) is not None
        and parent.tag not in ("body", "html")
    ):
        node = parent
        p_good, p_total = sums(parent)
        extra_good, extra_total = p_good - good, p_total - total
        if extra_total < 150:
            continue  # a wrapper with next to nothing else in it ("Read more", a label)
        if p_good < 1.2 * good or extra_good / extra_total < 0.75:
            break
        if others is not None and posts_in(parent, top.tag, others) > 1:
            break  # other posts named as this one ("More from ..." lists of a blog)
        best, good, total = parent, p_good, p_total
    return best


def _is_prose(block: TextBlock) -> bool:
    return len(block.text) >= 40 and block.link_density < 0.15


def _extract_skip(
    container: HtmlElement,
    wrappers: frozenset[HtmlElement] = frozenset(),
    by_tags: bool = False,
    comments: bool = False,
) -> Callable[[HtmlElement], bool]:
    def skip(el: HtmlElement) -> bool:
        tag = el.tag  # (read once: each read of an lxml tag decodes a new str)
        if tag == "header":
            return True
        if el in wrappers:
            return False
        if tag in ("table", "ul", "ol") and link_density(el) > 0.6:
            return True
        if tag == "form" and page_form(el):
            return False
        if _teaser_grid(el):
            return True
        if _partner_box(el):
            return True
        if by_tags:
            # the second try: boxes named like furniture that hold text are kept
            return _prune_by_tags(el, not comments) or (
                is_boilerplate(el) and len(text_content(el)) < _FURNITURE_TEXT
            )
        return is_boilerplate(el)

    return skip


def _partner_box(el: HtmlElement) -> bool:
    """Layout: a partner's or sponsor's box set into the text (a logo and one line: "Mit
    freundlicher Unterstützung der …", "Presented by …"): furniture when short, whatever else
    names it (a "bildunterschrift" line), and read when it holds text (syndicated articles in
    a "partner-content" box). The text's own container is never asked."""
    cls, ident = class_id(el)
    return (
        (cls is not None or ident is not None)
        and partner_named(cls, ident)
        and len(text_content(el)) < PARTNER_TEXT
        and not _has_prose(el, 1)
    )


_CARDS = 3  # teaser cards of one kind side by side that make a grid
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp|avif|svg)(?:[?#]|$)", re.I)


def _teaser_grid(el: HtmlElement) -> bool:
    """Layout: any site. "Most popular", "You may also like" and "More from" grids below the
    text in boxes no class word names: three or more cards of one tag and class side by side
    (under a heading, perhaps), each a linked picture and a linked title to another page
    with a short blurb. A gallery's pictures link to their image files, and a listicle's
    items name their things in headings of their own and say more."""
    if len(el) < _CARDS:
        return False  # (most boxes on a block's way up: fewer children than a grid's cards)
    kinds: dict[tuple[str, str], int] = {}
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag not in _SUBHEADS:
            key = (tag, class_id(child)[0] or "")  # (the page's table, not an lxml get)
            kinds[key] = kinds.get(key, 0) + 1
    if not kinds:
        return False
    (tag, cls), count = max(kinds.items(), key=lambda kv: kv[1])
    if count < _CARDS or count < sum(kinds.values()) - 1:
        return False
    return all(_teaser_card(c) for c in el if c.tag == tag and (c.get("class") or "") == cls)


def _teaser_card(card: HtmlElement) -> bool:
    """A linked picture to another page, a linked title, and a blurb of under 150 characters
    of its own. A listicle's item names its thing in a heading of its own, not a link, and
    says more about it."""
    pictured = titled = False
    for a in card.iter("a"):
        href = a.get("href") or ""
        if not href or _IMAGE_FILE.search(href):
            continue
        if next(a.iter("img"), None) is not None:
            pictured = True
        elif len(clean_text(text_content(a))) >= 8:
            titled = True
    if not (pictured and titled):
        return False
    for heading in card.iter(*_SUBHEADS):
        if next(heading.iter("a"), None) is None:
            return False
    text = clean_text(text_content(card))
    linked = sum(len(clean_text(text_content(x))) for x in card.iter("a"))
    return len(text) < 250 and len(text) - linked < 150


def extract_blocks(
    containers: list[HtmlElement], *, exclude: set[str] | None = None
) -> list[Block]:
    """The paragraphs and subheadings of the given containers (a site rule's), in order."""
    blocks = [b for c in containers for b in segment(c, _extract_skip(c))]
    return _to_blocks(blocks, exclude or set())


def markup_blocks(markup: str) -> list[Block]:
    """The paragraphs and subheadings of a piece of HTML (an article body given as markup in
    structured data); [] when it holds no document."""
    parser = etree.HTMLParser(remove_comments=True, remove_pis=True, recover=True)
    try:
        root = etree.fromstring(markup, parser)
    except (ValueError, etree.LxmlError):
        return []
    if root is None:
        return []
    etree.strip_elements(root, "script", "style", "template", "noscript", with_tail=False)
    return extract_blocks([root])


def extract_chosen(
    choice: Choice, order: dict[HtmlElement, int], *, exclude: set[str] | None = None
) -> list[Block]:
    """The body from the chosen containers, reusing the page's segmentation: a block counts
    when it lies in a chosen container and nothing between it and the container is furniture
    (the same test as segmenting the containers afresh, without doing it twice)."""
    spans = [(order.get(c, -1), order.get(last_descendant(c), -1), c) for c in choice.chosen]
    verdicts: dict[HtmlElement, bool] = {}
    skip = _extract_skip(choice.top, choice.wrappers, choice.by_tags, choice.comments)
    kept = []
    for block in choice.blocks:
        at = order.get(block.el, -1)
        # (a plain loop: a generator made for each of the page's blocks cost more than the test)
        container = None
        for first, last, chosen in spans:
            if first <= at <= last:
                container = chosen
                break
        if container is None:
            continue
        el: HtmlElement | None = block.el
        dropped = False
        while el is not None and el is not container:
            verdict = verdicts.get(el)
            if verdict is None:
                verdict = verdicts[el] = skip(el)
            if verdict:
                dropped = True
                break
            el = el.getparent()
        if dropped:
            continue
        if choice.posts and block.kind == BlockKind.QUOTE and _sole_box(block.el, container):
            # Layout: XenForo 1 writes each post's text in a <blockquote class="messageText">
            # (alone in the post's <article>): the post's own text, not a quotation
            block = TextBlock(block.el, block.text, block.links, _PARAGRAPH)
        kept.append(block)
    return _to_blocks(kept, exclude or set())


def _sole_box(el: HtmlElement, container: HtmlElement) -> bool:
    """Is el the container, or alone (the only element) in each box from it up to it?"""
    node: HtmlElement | None = el
    while node is not None and node is not container:
        parent = node.getparent()
        if parent is None or sum(1 for c in parent if isinstance(c.tag, str)) != 1:
            return False
        node = parent
    return node is container


def _to_blocks(blocks: list[TextBlock], exclude: set[str]) -> list[Block]:
    out: list[Block] = []
    firsts = {key.split(" ", 1)[0] for key in exclude if key}
    blocks = _trim_edges([b for b in blocks if _keep(b, exclude, firsts)])
    for block in blocks:
        text = block.text
        kind = block.kind
        if kind == _PARAGRAPH and _looks_like_heading(block):
            kind = _HEADING
        if out and out[-1].text == text:
            continue
        out.append(Block(text, kind))
    return _trim(out)


def word_key(text: str) -> str:
    """Text compared by its words only (captions vs body blocks differ in spacing)."""
    return " ".join(_WORD.findall(text.casefold()))


def _excluded(text: str, exclude: set[str], firsts: set[str]) -> bool:
    """word_key(text) in exclude, without folding and splitting a whole paragraph when its
    first word already rules it out (casefold maps each character alone, so the first word
    of a folded prefix, ended inside it, is the first word of the folded text)."""
    head = text[:64].casefold()
    first = _WORD.search(head)
    if first is not None and first.end() < len(head) and first.group() not in firsts:
        return False
    return word_key(text) in exclude


def _keep(block: TextBlock, exclude: set[str], firsts: set[str]) -> bool:
    text = block.text
    if exclude and _excluded(text, exclude, firsts):
        return False
    n = len(text)
    # Inside the article a list item may link most of its words (release notes, "further
    # reading" in the text's own words); elsewhere a mostly-linked line is navigation.
    limit = 0.8 if block.kind == _LIST_ITEM else 0.5
    # Sentences whose objects are links ("Today's deals include <a>…</a> and <a>…</a>. All
    # that is below.") still are prose: a finished sentence with 100 characters of its own.
    if block.link_density > limit and n < 400 and not _linked_prose(block):
        return False
    if (n < 140 and _JUNK_LINE.match(text) and not _sentence(text)) or (
        n < 90 and is_dateline(text)
    ):
        return False
    if n < 200:
        lowered = text.lower()
        if (
            any(key in lowered for key in _JUNK_ANYWHERE_KEYS)
            and (found := _JUNK_ANYWHERE.search(lowered)) is not None
            and not _reported(text, lowered, found.group())
        ) or _JUNK_WHOLE.match(text):
            return False
        if (
            n < 160
            and _DIGIT.search(text)
            and _BYLINE_WORD.search(lowered)
            and parse_human(text)
            and not _dated_sentence(text)
        ):
            return False
    if n < 80 and _PAGER.match(text):
        return False
    return any(ch.isalnum() for ch in text)


# Layout: any site. A pager's numbers as a line of their own ("1 2 3 4 5 6 7 8", "« 1 2 3 »",
# "1 · 2 · 3"; not "1 | 2 | 3": a table row of data).
_PAGER = re.compile(
    "^[\u00ab\u2039<\\s]*(?:\\d{1,3}(?:\\s+|\\s*[\u00b7\u2022\u2013-]\\s*)){2,}\\d{1,3}"
    "[\\s\u00bb\u203a>.\u2026]*$"
)


# What a newsletter box or a call to act says to the reader: "you", "your", "our", "us",
# "here", or a verb opening the line ("Sign up", "Subscribe", "Get", "Join").
_ADDRESSES_READER = re.compile(
    r"^(?:sign up|subscribe|get|join|receive|click|follow|register|don't miss|never miss)\b|"
    r"\b(?:you|your|yours|our|us|here)\b"
)
# Words of _JUNK_ANYWHERE that prose uses too ("Households that subscribe to cable fell to
# 60 million.", "The letter landed in her inbox on Tuesday.", "Volunteers sign up at the
# town hall.")
_REPORTABLE = frozenset(("subscribe", "inbox", "sign up"))


def _reported(text: str, lowered: str, found: str) -> bool:
    """Layout: any prose. A finished sentence of ten words or more that uses a newsletter
    box's word ("subscribe", "inbox", "sign up") without speaking to the reader tells of
    something: it is text, not the box."""
    return (
        found in _REPORTABLE
        and text.endswith(_SENTENCE_END)
        and len(text.split()) >= 10
        and _ADDRESSES_READER.search(lowered) is None
    )


def _sentence(text: str) -> bool:
    """Layout: any prose. A line opening with a word furniture also uses ("Share", "Posted")
    that reads as a finished sentence of eight words or more."""
    return (
        _WEAK_JUNK.match(text) is not None
        and text.endswith(_SENTENCE_END)
        and len(text.split()) >= 8
    )


def _dated_sentence(text: str) -> bool:
    """Layout: any prose. A sentence with a date and "von", "by", "por" in it ("Der Vertrag
    wurde am 3. Mai 2021 von beiden Seiten unterschrieben.") is no byline: it opens with a
    letter, not with the byline's words, and ends as a sentence does."""
    return (
        text[:1].isalpha()
        and text.endswith(_SENTENCE_END)
        and len(text.split()) >= 6
        and _BYLINE_OPENING.match(text) is None
    )


_BYLINE_OPENING = re.compile(
    r"(?:by|von|por|par|di|door|publicado|published|posted|updated|written|autor|author|"
    r"ver(?:ö|oe)ffentlicht|aktualisiert|geschrieben|erstellt|stand)\b",
    re.I,
)


def _linked_prose(block: TextBlock) -> bool:
    text = block.text
    return len(text) - block.links >= 100 and text.endswith((".", "!", "?", ".”", '."'))


_DATE_WORDS = re.compile(
    r"\b(?:updated|published|posted|modified|on|at|am|pm|a\.m|p\.m|[A-Z]{2,4}|gmt|utc|"
    r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|mon|tue|wed|thu|fri|sat|sun)\b|\d+",
    re.I,
)


_TIME_ONLY = re.compile(r"^\W*\d{1,2}[:.]\d{2}\s*(?:[ap]\.?\s?m\.?)?\s*[A-Z]{0,4}\W*$", re.I)


# Weekdays and the small words of datelines in other languages ("segunda-feira, 22 de janeiro
# de 2018 às 0:13", "Montag, 3. Mai 2021 um 10:00 Uhr"); ASCII words of 2-4 letters are
# already taken out by _DATE_WORDS.
_DATELINE_WORDS = frozenset(
    words(
        "segunda terça terca quarta quinta sexta feira sábado sabado domingo às à "
        "lunes martes miércoles miercoles jueves viernes "
        "lundi mardi mercredi jeudi vendredi samedi dimanche "
        "montag dienstag mittwoch donnerstag freitag samstag sonntag "
        "lunedì martedì mercoledì giovedì venerdì lunedi martedi mercoledi giovedi venerdi "
        "sabato domenica maandag dinsdag woensdag donderdag vrijdag zaterdag zondag"
    )
)


def is_dateline(text: str) -> bool:
    """A line that is only a date (and time, zone, "Updated"): page furniture, not prose."""
    if not _DIGIT.search(text):
        return False
    if _TIME_ONLY.match(text):
        return True
    if parse_human(text) is None:
        return False
    rest = _DATE_WORDS.sub(" ", text)
    rest = " ".join(
        w
        for w in re.findall(r"[^\W\d_]+", rest)
        if w.lower() not in MONTH_NAMES and w.lower() not in _DATELINE_WORDS
    )
    return len(rest) < 3


# Layout: containers without <p> (table layouts, <br> runs) hold the lines around the text as
# blocks of their own: "Von Gerda Maier", "Talheim, 12. Juli 2017", "Home > News", a lone
# "Previous story" link. Dropped only before the first or after the last line of prose.
_BYLINE_START = re.compile(
    r"^(?:by|von|par|por|di|door|av|af|text|texto|autor|author|written by|posted by)\b[:\s]+\w",
    re.I,
)
_CRUMB = re.compile("\\s(?:>|\u203a|\u00bb|/)\\s")


def _edge_furniture(block: TextBlock, leading: bool) -> bool:
    text = block.text
    if len(text) >= 80 or text.endswith((".", "!", "?", '"', "\u201d", ":")):
        return False
    if not leading:
        return block.link_density >= 0.6  # "Previous story: ...", "More from July 2017"
    if block.link_density >= 0.3 or _CRUMB.search(text):
        return True
    if _BYLINE_START.match(text) and len(text.split()) <= 7:
        return True
    if not _DIGIT.search(text) or parse_human(text) is None:
        return False
    rest = _DATE_WORDS.sub(" ", text)
    place = [w for w in re.findall(r"[^\W\d_]+", rest) if w.lower() not in MONTH_NAMES]
    if len(place) <= 3:
        return True  # "Talheim, 12. Juli 2017", "WASHINGTON, March 5"
    # "Lucía Ferrándiz | Villarreal del Río | 14 de septiembre de 2022": a byline, a place
    # and a date in short parts side by side
    parts = _PARTS.split(text)
    return len(parts) >= 2 and all(len(part.split()) <= 5 for part in parts)


_PARTS = re.compile(r"\s+[|\u00b7\u2022/\u2013-]\s+")


def _trim_edges(blocks: list[TextBlock]) -> list[TextBlock]:
    # (a subheading is no prose: a subtitle above the byline line does not end the edge)
    prose = [n for n, b in enumerate(blocks) if len(b.text) >= 80 and b.kind != _HEADING]
    if not prose:
        return blocks
    first, last = prose[0], prose[-1]
    head = [b for b in blocks[:first] if not _edge_furniture(b, leading=True)]
    tail = [b for b in blocks[last + 1 :] if not _edge_furniture(b, leading=False)]
    return head + blocks[first : last + 1] + tail


def _looks_like_heading(block: TextBlock) -> bool:
    el = block.el
    if len(block.text) > 120 or (
        block.text.endswith((".", ",", ";", ":")) and len(block.text) > 60
    ):
        return False
    # One child element (not counting <br>), <strong> or <b>: the loop stops at a second, and
    # reads each child's tag once (a short block's element may be a box of many children).
    only: HtmlElement | None = None
    for child in el:
        tag = child.tag
        if isinstance(tag, str) and tag != "br":
            if only is not None or tag not in ("strong", "b"):
                return False
            only = child
    if only is None:
        return False
    own = clean_text((el.text or "") + (only.tail or ""))
    return not own


def _trim(blocks: list[Block]) -> list[Block]:
    # A subheading with nothing after it is the title of a box that was left out ("Related").
    while blocks and len(blocks[-1].text) < 60 and blocks[-1].kind == _HEADING:
        blocks.pop()
    return blocks
