"""Published and modified dates: the page's own, in its own timezone, never invented.

Evidence in order: JSON-LD of the article, article:* / Dublin Core / other <meta>, microdata,
`<time datetime>` in the article's header, dates written for readers near the headline, and
the URL as a last resort. Dates from scripts are never seen (scripts are removed before this
runs, JSON-LD aside), dates inside related-story teasers, sidebars and comments are skipped,
and a date after the fetch is refused.

The trap is the time zone: a page may say "2019-11-20T02:07Z" in its metadata and "Nov 19,
9:07 pm EST" to its readers. The day we report is the one readers see: when the visible date
is one day off the machine date, the machine instant is re-expressed at the offset the visible
text gives (or that makes the visible time match), or else the visible day is kept on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import chain, islice

from lxml import etree

from scraper.parse.boilerplate import REVIEWS
from scraper.parse.datetext import MONTH_NAMES, PageDate, parse_human, parse_iso
from scraper.parse.dom import (
    HtmlElement,
    any_part,
    class_has,
    class_id,
    class_tokens,
    class_words,
    classed,
    clean_text,
    last_descendant,
    page_class_table,
    text_content,
    words,
)
from scraper.parse.language import declared_locale
from scraper.parse.structured import Structured, as_text

PUBLISHED_META = (
    "article:published_time",
    "og:published_time",
    "og:article:published_time",
    "datepublished",
    "article.published",
    "publish-date",
    "publish_date",
    "publishdate",
    "pubdate",
    "pub_date",
    "date.release",
    "dc.date.issued",
    "dcterms.issued",
    "dc.date.created",
    "dcterms.created",
    "dc.date",
    "dcterms.date",
    "citation_publication_date",
    "parsely-pub-date",
    "sailthru.date",
    "cxenseparse:recs:publishtime",
    "article_date_original",
    "original-publish-date",
    "rnews:datepublished",
    "bt:pubdate",
    # names other CMSs and SEO plugins use (the same dates, under other keys)
    "publication_date",
    "publication-date",
    "date_published",
    "published_time",
    "article_published_time",
    "shareaholic:article_published_time",
    "cxenseparse:publishtime",
    "prism.publicationdate",
    "citation_date",
    "originalpublicationdate",
    "date",
    "created",
    "dc.created",
)
MODIFIED_META = (
    "article:modified_time",
    "og:updated_time",
    "og:modified_time",
    "datemodified",
    "article.updated",
    "dcterms.modified",
    "dc.date.modified",
    "last-modified",
    "lastmod",
)
_DATE_WORDS = frozenset(
    words(
        "date dates time timestamp published publish pubdate posted dateline datetime meta byline "
        "article-date entry-date post-date updated info fecha data datum postmetadata utility "
        # Drupal's "submitted" line, jQuery timeago's <abbr class="timeago" title=...>, German
        # and other CMSs' names for the date's box
        "submitted timeago zeit erstellt veroeffentlicht created"
    )
)
_NOT_ARTICLE = frozenset(
    words(
        "related recommended recommendations teaser teasers sidebar comment comments footer promo "
        "trending popular most nav menu widget outbrain taboola rail more"
    )
).union(REVIEWS)  # Layout: shops' customer reviews: a review's date is its own, not the page's


# reviews' and comments' boxes ("spr-review", "commentlist", <article class="comment-body">)
_OWN_ARTICLES = frozenset(("review", "comment", "comments", "commentlist")).union(REVIEWS)


class _Words:
    """Case-insensitive search for any of some words: the text lowered and one trie pattern
    (a re.I alternation of a dozen words in several scripts costs 25-70 us on a 160-character
    line, as it tries every word at every position; this costs a few). A match's end may fall
    short of the longer of two words sharing a start: only where a word is matters here."""

    __slots__ = ("_pattern",)

    def __init__(self, alternatives: str) -> None:
        self._pattern = any_part(alternatives.split("|"))

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._pattern.search(text.lower(), pos)


_UPDATED = _Words(
    "updated|modified|last edited|aktualisiert|geändert|zuletzt|mis à jour|modifié|"
    "dernière modification|actualizado|modifica|modificado|aggiornat|atualizado|bijgewerkt|"
    "обновлено|изменено|обновлён|"
    # Polish, Czech, Ukrainian, Scandinavian and Turkish pages
    "aktualizacja|zaktualizowano|aktualizováno|aktualizace|оновлено|uppdaterad|oppdatert|"
    "opdateret|güncellen"
)
# Layout: forum posts and comments beside a member's profile; the day someone joined is theirs
# (phpBB, vBulletin, SMF and their translations: "Зарегистрирован: 03.02.2009").
_MEMBER_SINCE = _Words(
    "joined|registered|member since|mitglied seit|registriert|dabei seit|inscrit|registrado|"
    "miembro desde|membro desde|iscritto|lid sinds|зарегистрирован|регистрация|на форуме"
)
# Layout: agency copy and press releases open their first paragraph with a dateline,
# "BERLIN (dpa) - 03.05.2022 -" or "WASHINGTON, March 5, 2021 /PRNewswire/ --".
_LEAD_DATELINE = re.compile("^(.{0,60}?\\d.{0,25}?)\\s+(?:[-\u2013\u2014]{1,2}|/)\\s")
_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?:/|[^\d]|$)"
)
_URL_DATE_SLASHED = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})/")


# Layout: CMSs that write a date's box name as one word ("itemDateCreated" in Joomla's K2,
# "newsdate", "entrydate", "publishDate", "artikeldatum"): the date word inside the name.
# (Memoised on the attribute values like class_words: a page names many boxes alike.)
_DATE_PARTS = re.compile("dat(?:e|um)|fecha")
# ("newstime", "posttime": looked for only in names holding "time", a substring test in C)
_TIME_PARTS = re.compile("timestamp|(?:pub|post|news|entry|item)time")


@lru_cache(maxsize=8192)
def _date_named(cls: str | None, ident: str | None) -> bool:
    tokens, joined = class_words(cls, ident)
    return (
        not tokens.isdisjoint(_DATE_WORDS)
        or _DATE_PARTS.search(joined) is not None
        or ("time" in joined and _TIME_PARTS.search(joined) is not None)
    )


_DIGIT = re.compile(r"\d")
_DATE_TAGS = frozenset(
    ("span", "div", "p", "li", "small", "em", "abbr", "td", "font", "b", "strong", "i", "dd")
)
_TRAILING_TAGS = _DATE_TAGS | {"dd", "dt", "time"}  # Joomla's "article-info" list below the text
_HEADER_TAGS = frozenset(
    words(
        "span div p li time small em strong b i font a td abbr address dd dt h4 h5 h6 dl section "
        "header"
    )
)
Shown = tuple[PageDate, bool, str, HtmlElement]  # date, says "updated", source, element


@dataclass(frozen=True, slots=True)
class FoundDate:
    value: PageDate
    source: str


def _plausible(d: PageDate, now: datetime | None) -> bool:
    if now is None:
        return d.day.year >= 1990
    instant = d.instant()
    if instant is not None:
        return instant <= now.astimezone(instant.tzinfo) and d.day.year >= 1990
    # A local day or time without a zone may be up to 14 h ahead of UTC.
    return d.day <= now.date() + timedelta(days=1) and d.day.year >= 1990


def _from_structured(
    st: Structured, keys: tuple[str, ...], metas: tuple[str, ...], now: datetime | None
) -> FoundDate | None:
    for obj, source in ((st.article, "json-ld"), (st.page, "json-ld-page")):
        if obj is None:
            continue
        for key in keys:
            text = as_text(obj.get(key))
            parsed = (parse_iso(text) or parse_human(text)) if text else None
            if parsed and _plausible(parsed, now):
                return FoundDate(parsed, source)
    for name in metas:
        for value in st.meta.get(name, ()):
            parsed = parse_iso(value) or parse_human(value)
            if parsed and _plausible(parsed, now):
                return FoundDate(parsed, f"meta:{name}")
    for key in keys:
        for el in st.itemprops.get(key, ()):
            raw = el.get("content") or el.get("datetime") or clean_text(text_content(el))
            parsed = parse_iso(raw) or parse_human(raw)
            if parsed and _plausible(parsed, now):
                return FoundDate(parsed, "microdata")
    return None


def _in_teaser(
    el: HtmlElement,
    home: frozenset[HtmlElement] = frozenset(),
    near: frozenset[HtmlElement] = frozenset(),
) -> bool:
    """Inside a related-stories box, sidebar or comments? `home` holds the headline's
    ancestors: a box around the article's own headline is no teaser, whatever its class says
    (Blogger's posts sit in a "widget"). `near` holds its closest few: a footer whose parent is
    one of them is the post's own footer, not the page's. The element itself counts: a short
    sidebar read whole is as much a teaser as a date inside it."""
    for depth, anc in enumerate(chain((el,), el.iterancestors())):
        if anc.tag in ("body", "html", "main") or depth > 10 or anc in home:
            return False
        if anc.tag == "article":
            # Layout: shops and blogs write each review or comment as an <article> of its own
            # ("review", "comment-body"): not the article, which holds the headline (home)
            return bool(class_tokens(anc) & _OWN_ARTICLES)
        if anc.tag in ("aside", "nav"):
            return True
        if anc.tag == "footer" or class_has(anc, _NOT_ARTICLE):
            # Layout: blog themes write the post's date below it, in a <footer> or
            # "entry-footer" / "entry-meta" line that is a child of the post's box.
            if near and anc.getparent() in near and _post_footer(anc):
                continue
            return True
    return False


def _post_footer(el: HtmlElement) -> bool:
    """A footer by tag or by name alone (not "related-footer", not a comments box)."""
    named = class_tokens(el) & _NOT_ARTICLE
    return (el.tag == "footer" and not named) or named == _FOOTER_WORD


_FOOTER_WORD = frozenset(("footer",))


# Layout: WordPress themes and hAtom write both dates as elements named for them ("<time
# class="entry-date published">" and "<time class="updated">", either first; an unmodified
# post's one element is named "published updated"), as does schema.org microdata
# (itemprop="dateModified"): the name says which date it is, whatever the text around it.
_UPDATE_NAMES = frozenset(words("updated modified lastmod datemodified last-modified"))
_PUBLISHED_NAMES = frozenset(words("published pubdate posted datepublished entry-date"))


def _named_update(el: HtmlElement) -> bool | None:
    """True for an element named for the update only, False for one named for the
    publication, None when its name says neither."""
    prop = el.get("itemprop")
    if prop == "dateModified":
        return True
    if prop in ("datePublished", "dateCreated"):
        return False
    tokens = class_tokens(el)
    if not tokens or tokens.isdisjoint(_UPDATE_NAMES):
        return None if tokens.isdisjoint(_PUBLISHED_NAMES) else False
    return tokens.isdisjoint(_PUBLISHED_NAMES)


def _term(el: HtmlElement) -> str:
    """Layout: forums' member boxes write their facts as definition lists ("<dt>Registriert
    seit:</dt><dd>Mar 4, 2009</dd>"): a <dd>'s term names what its date is."""
    if el.tag != "dd":
        return ""
    term = el.getprevious()
    return text_content(term)[:40] if term is not None and term.tag == "dt" else ""


def _after_update_word(el: HtmlElement) -> bool:
    """Layout: a date element right after the word for an update in the line around it
    ("Published July 12, 2017 | Updated <time>July 13, 2017</time>")."""
    parent = el.getparent()
    if parent is None:
        return False
    before = [parent.text or ""]
    for sib in parent:
        if sib is el:
            break
        if isinstance(sib.tag, str):
            before.append(text_content(sib))
        before.append(sib.tail or "")
    tail = "".join(before)[-40:]
    match = _UPDATED.search(tail)
    return match is not None and not _DIGIT.search(tail, match.start())


def _links_a_story(el: HtmlElement, home: frozenset[HtmlElement]) -> bool:
    """Layout: lists of other stories (a "top stories" bar or ticker above the headline, a
    column of the latest news beside the article): a date whose closest box holding a link,
    beside the headline's own boxes, is one teaser: one or two links, one of them a story's
    title (four words or more; a byline links a name, a category a word or two). A box of
    many links (a work's tags, a menu) is no teaser."""
    node: HtmlElement | None = el
    while node is not None and node not in home:
        links = [a for a in node.iter("a") if a.get("href")]
        if links:
            return len({a.get("href") for a in links}) <= 2 and any(
                len(text_content(a).split()) >= 4 for a in links
            )
        node = node.getparent()
    return False


def _says_updated(text: str) -> bool:
    """ "Updated Nov 19" is a modified date; "Nov 19 / Updated 2 hours ago" is not."""
    match = _UPDATED.search(text)
    if not match:
        return False
    first_digit = next((n for n, ch in enumerate(text) if ch.isdigit()), len(text))
    return match.start() < first_digit


# Layout: one line with both dates, the update first ("Zuletzt aktualisiert: 07.03.2019 |
# Veröffentlicht: 05.03.2019", "Updated Mar 7 · First published Mar 5"): the part after the
# word for publishing holds the published date.
_PUBLISHED_WORD = _Words(
    "published|posted|created|veröffentlicht|erstellt|erschienen|publié|publicado|publicato|"
    "pubblicato|gepubliceerd|geplaatst|опубликовано|размещено|создано|"
    "opublikowano|publikacja|publikováno|опубліковано|publicerad|publisert|publiceret|"
    "yay\u0131nlan|yayinlan"
)


def _original_part(text: str) -> str | None:
    """In a line that says "updated" first, the part naming the original publication."""
    updated = _UPDATED.search(text)
    if updated is None:
        return None
    match = _PUBLISHED_WORD.search(text, updated.end())
    return text[match.start() :] if match is not None and _DIGIT.search(text, match.end()) else None


def _shown_original(
    text: str, month_first: bool, year: int | None
) -> tuple[PageDate | None, bool, PageDate | None]:
    """(the date a line shows, whether it is an update, the update beside it): a line saying
    "updated" first that also names the publication gives the publication's date; a line
    naming the publication first and then an update ("Publié le 12 juillet 2017 à 10h15 - Mis
    à jour le 13 juillet 2017 à 18h40") gives the update beside it."""
    shown = _parse_shown(text, month_first, year)
    if shown is None:
        return None, False, None
    if not _says_updated(text):
        return shown, False, _update_part(text, month_first, year)
    part = _original_part(text)
    original = _parse_shown(part, month_first, year) if part else None
    if original is not None:
        return original, False, shown
    return shown, True, None


def _update_part(text: str, month_first: bool, year: int | None) -> PageDate | None:
    """The date after an update word later in a line that opens with the publication's."""
    updated = _UPDATED.search(text) if len(text) <= 200 else None
    if updated is None or not _DIGIT.search(text, updated.end()):
        return None
    return _parse_shown(text[updated.end() :], month_first, year)


def _parse_shown(text: str, month_first: bool, year: int | None) -> PageDate | None:
    if not text or len(text) > 200 or not _DIGIT.search(text):
        return None
    return parse_human(text, month_first=month_first, year=year)


_YEAR = re.compile(r"(?:19|20)\d\d")


def _spaced(el: HtmlElement, text: str, month_first: bool, year: int | None) -> PageDate | None:
    """Layout: blog themes' calendar badges write day, month and year in elements of their own
    (`<span class="day">12</span><span class="month">Jul</span><span class="year">2017</span>`),
    which run together as "12Jul2017": read a short box's pieces apart. Only boxes whose text
    did not parse as a date pay for this."""
    if len(el) == 0 or len(text) > 40 or not _YEAR.search(text):
        return None
    pieces = [p for p in (clean_text(str(t)) for t in el.itertext()) if p]
    spaced = " ".join(pieces)
    parsed = _parse_shown(spaced, month_first, year) if spaced != text else None
    lone = [p for p in pieces if _YEAR.fullmatch(p)]
    if parsed is None and len(lone) == 1 and len(pieces) > 2:
        # Badges that put the time between the day and the year ("November 20 | 15:23 |
        # 2019"): the year read after the day.
        rest = [p for p in pieces if p is not lone[0]]
        timed = next((n for n, p in enumerate(rest) if ":" in p), len(rest))
        parsed = _parse_shown(" ".join([*rest[:timed], lone[0], *rest[timed:]]), month_first, year)
    return parsed


def _visible_dates(
    root: HtmlElement,
    elements: list[HtmlElement],
    month_first: bool,
    now: datetime | None,
    year: int | None,
    home: frozenset[HtmlElement] = frozenset(),
    near: frozenset[HtmlElement] = frozenset(),
    limit: int = 12,
) -> list[Shown]:
    """Dates written for readers, in document order: (date, says-updated, source)."""
    found: list[Shown] = []
    for el in root.iter("time"):
        text = clean_text(text_content(el))
        machine = el.get("datetime") or ""
        parsed = _parse_shown(text, month_first, year)
        source = "time"
        if parsed is None and machine:
            parsed, source = parse_iso(machine), "time-attr"
        if parsed and _plausible(parsed, now) and not _in_teaser(el, home, near):
            named = _named_update(el)
            if named is None:
                parent = el.getparent()
                around = clean_text(text_content(parent)) if parent is not None else ""
                named = bool(_UPDATED.search(f"{text} {around[:80]}"))
            found.append((parsed, named, source, el))
            if len(found) >= limit:
                break
    # The page's element list read in Python: an XPath over "//*" costs more than the loop.
    for el, cls, ident in classed(elements):
        if el.tag not in _DATE_TAGS or not _date_named(cls, ident):
            continue
        text = clean_text(text_content(el))
        parsed, updated, update = _shown_original(text, month_first, year)
        parsed = parsed or _spaced(el, text, month_first, year)
        if parsed is None:
            parsed = _attribute_date(el, month_first)
        if parsed and _plausible(parsed, now) and not _in_teaser(el, home, near):
            if _MEMBER_SINCE.search(f"{text} {_term(el)}"):
                continue
            named = _named_update(el)
            found.append((parsed, updated if named is None else named, "dom", el))
            if update is not None and _plausible(update, now):
                found.append((update, True, "dom", el))
            if len(found) >= 2 * limit:
                break
    return found


_EPOCH = re.compile(r"1\d{9}")  # seconds since 1970: 2001-09 to 2033-05


def _attribute_date(el: HtmlElement, month_first: bool) -> PageDate | None:
    """The date a date-named element gives in its attributes when its text is none (hAtom's
    <abbr class="published" title="2019-11-19T10:00:00-05:00">). Layout: forums and news
    sites that show a relative time ("Wednesday at 10:15 AM", "vor 3 Tagen") and keep the
    date for a tooltip or script: XenForo 1's <abbr class="DateTime" data-time="1499847300"
    data-datestring="Jul 12, 2017">, <span class="date" title="12.07.2017 10:15">. The
    relative text itself is never read: a date is not worked out from the fetch time."""
    for name in ("title", "content", "data-timestamp", "data-datestring", "data-date-string"):
        value = el.get(name)
        if value and _DIGIT.search(value):
            parsed = parse_iso(value) if value[:1].isdigit() else None
            parsed = parsed or _parse_shown(clean_text(value), month_first, None)
            if parsed is not None:
                return parsed
    epoch = el.get("data-time") or ""
    if _EPOCH.fullmatch(epoch):
        moment = datetime.fromtimestamp(int(epoch), UTC)
        return PageDate(moment.date(), (moment.hour, moment.minute, moment.second), 0)
    return None


def _header_dates(
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    heading: HtmlElement | None,
    top: HtmlElement | None,
    month_first: bool,
    now: datetime | None,
    year: int | None,
    before: int = 40,
    after: int = 400,
) -> list[Shown]:
    """Dates in the short texts around the headline and up to the body: bylines, datelines,
    including loose text nodes ("기사입력 : 2018-09-28 17:32") next to other markup."""
    if heading is None:
        return []
    at = index.get(heading)
    if at is None:
        return []
    inside_heading = {heading, *heading.iterdescendants()}
    heading_text = clean_text(text_content(heading)) or "\0"
    skipped: set[HtmlElement] = set()  # figures and captions: their dates are the photo's
    found: list[Shown] = []
    home = frozenset(heading.iterancestors())
    # Past the body's end lie sidebars, comments and the next stories (a text of short
    # paragraphs does not stop the scan before there): teasers' dates there are theirs.
    end = index.get(last_descendant(top), at + after) if top is not None else at + after
    # Elements up to this index lie inside a box whose whole text (their texts and tails) has
    # no digit: they hold no date, and their text is not read again.
    quiet_until = -1
    classes = page_class_table()
    for n, el in enumerate(
        elements[max(0, at - before) : at + after + 1], start=max(0, at - before)
    ):
        tag = el.tag
        raw = None
        if n > at and tag == "p" and len(raw := text_content(el)) > 200:
            lead = _lead_dateline(el, month_first, now, year)
            if lead is not None and not found:
                found.append((lead, False, "dateline", el))
            break
        found_ci = classes.get(el) if classes is not None else None
        cls = (found_ci if found_ci is not None else class_id(el))[0]
        if tag == "figure" or (cls is not None and "caption" in cls.lower()):
            skipped.update(el.iterdescendants())
        if n <= quiet_until or tag not in _HEADER_TAGS or el in skipped or el in inside_heading:
            continue
        # Elements with many descendants (13 or more) are containers: read their own loose
        # text only (the descendants come next), never the whole subtree's text. (The 13th
        # descendant looked up directly: a generator counting them cost more than the rest.)
        container = len(el) > 0 and (
            next(islice(el.iterdescendants(etree.Element), 12, None), None) is not None
        )
        if container:
            raw = ""
        elif raw is None:
            raw = text_content(el)
            if len(el) and not _DIGIT.search(raw):
                quiet_until = n + len(list(el.iterdescendants(etree.Element)))
        if len(raw) > 400 or container:
            texts = [clean_text(t) for t in (el.text, el.tail) if t and _DIGIT.search(t)]
        elif _DIGIT.search(raw):
            text = clean_text(raw).replace(heading_text, " ")
            if tag == "p" and (_prose(text) or _dated_sentence(text)):
                # Layout: pages whose text opens with a short paragraph naming a date ("La
                # cooperativa nació el 3 de mayo de 1998, cuando ..."), and texts of short
                # paragraphs (under 200 characters, read here as the headline's surroundings)
                # with a sentence naming a day: a sentence, not a date line; only a dateline
                # opening it dates the page.
                lead = _lead_dateline(el, month_first, now, year)
                if lead is not None and not found:
                    found.append((lead, False, "dateline", el))
                continue
            texts = [text] if len(text) <= 200 else [clean_text(el.text), clean_text(el.tail)]
        elif el.tail and _DIGIT.search(el.tail):
            texts = [clean_text(el.tail)]  # "<dl>…</dl> Posted: 2018-09-28 17:32"
        else:
            continue
        for candidate in texts:
            parsed, updated, update = _shown_original(candidate, month_first, year)
            if not parsed and not container and candidate is texts[0]:
                parsed = _spaced(el, candidate, month_first, year)
                if not parsed and _date_named(*class_id(el)):
                    parsed = _attribute_date(el, month_first)
            if not parsed:
                continue
            opening = raw[:40] if raw else text_content(el)[:40]
            if _MEMBER_SINCE.search(f"{opening} {candidate} {_term(el)}"):
                continue
            if (n < at or n > end) and _links_a_story(el, home):
                break
            if (
                _plausible(parsed, now)
                and not _in_teaser(el, home)
                and (container or not _holds_own_articles(el))
            ):
                source = "header-time" if el.tag == "time" else "header"
                named = _named_update(el)
                if named is None and not updated:
                    named = _after_update_word(el)
                found.append((parsed, updated if named is None else named, source, el))
                if update is not None and _plausible(update, now):
                    found.append((update, True, source, el))
                break
    return found


def _holds_own_articles(el: HtmlElement) -> bool:
    """Does a short box read whole hold a review or comment box (a shop's reviews below a
    short product text)? Its date is the review's; the boxes inside come next on their own."""
    return any(class_has(d, _OWN_ARTICLES) for d in el.iterdescendants(etree.Element))


def _above_text(
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    top: HtmlElement,
    month_first: bool,
    now: datetime | None,
) -> PageDate | None:
    """Layout: pages whose headline is no element of its own (a `<title>` only, a heading in
    an image or in plain bold text) and which write the date in a short line just above the
    text ("<div class=kopf><span>Mittwoch, 12. Juli 2017</span></div>"): the lines before the
    text's box read as those under a headline are, when nothing else dates the page."""
    found = _header_dates(elements, index, top, top, month_first, now, None, after=0)
    original = [s for s in found if not s[1]]
    return original[0][0] if original else None


def _trailing_dates(
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    top: HtmlElement,
    scope: HtmlElement,
    month_first: bool,
    now: datetime | None,
    home: frozenset[HtmlElement],
    near: frozenset[HtmlElement],
    window: int = 40,
) -> list[Shown]:
    """Layout: blogs and club sites that write the post's date only below it, in a line of
    its own ("Geschrieben am 3. Mai 2021 von Anna", "Posted on 03.05.2021 in News"): the
    first short line with a full date after the body (or in the body's last elements, when
    the body's box holds the headline too), inside the post's box."""
    end = index.get(last_descendant(top))
    stop = index.get(last_descendant(scope))
    if end is None or stop is None:
        return []
    start = end + 1 if stop > end else max(index.get(top, end), end - window)
    for el in elements[start : min(stop, start + window) + 1]:
        if el.tag not in _TRAILING_TAGS:
            continue
        raw = text_content(el)
        if len(raw) > 160 or not _DIGIT.search(raw):
            continue
        text = clean_text(raw)
        if _dated_sentence(text):
            # a sentence of the text naming a day ("Am 3. Mai 2018 soll die Brücke eröffnet
            # werden."), not a line dating the post ("This entry was posted on ...")
            continue
        parsed = _parse_shown(text, month_first, None)
        if (
            parsed is not None
            and not _MEMBER_SINCE.search(text)
            and _plausible(parsed, now)
            and not _in_teaser(el, home, near)
        ):
            return [(parsed, _says_updated(text), "footer", el)]
    return []


_SENTENCE_END = re.compile('[.!?\u2026"\u201d\u00bb]$')


def _sentence(text: str) -> bool:
    """A finished sentence of five words or more besides its date's ("Die Brücke wurde am
    3. Mai 1998 eröffnet."), not a byline ending in a full stop ("By Anna Smith, July 12,
    2017.")."""
    if _SENTENCE_END.search(text) is None or text.count(" ") < 4 or _BYLINE.match(text):
        return False
    plain = [
        w
        for w in (w.strip(_PUNCTUATION) for w in text.split())
        if w.isalpha() and w.lower() not in MONTH_NAMES
    ]
    return len(plain) >= 5


_PUNCTUATION = ".,;:!?\"'()\u201e\u201c\u201d\u00ab\u00bb"
_BYLINE = re.compile(r"(?:by|von|par|por|di|door|av|przez|от|автор)\s", re.I)


def _dated_sentence(text: str) -> bool:
    """A sentence of the text that names a day, not a line naming the publication or an
    update ("Veröffentlicht am 12. Juli 2017 um 10:15 Uhr.")."""
    return (
        _sentence(text) and _PUBLISHED_WORD.search(text) is None and _UPDATED.search(text) is None
    )


def _prose(text: str) -> bool:
    """A finished sentence of 15 words or more."""
    return _SENTENCE_END.search(text) is not None and text.count(" ") >= 14


def _labelled_date(
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    box: HtmlElement,
    month_first: bool,
    now: datetime | None,
    home: frozenset[HtmlElement],
    near: frozenset[HtmlElement],
    limit: int = 3000,
) -> PageDate | None:
    """Layout: club sites, blogs and old CMSs that write the post's date in a line of its own
    anywhere in the post's box, after the text's first paragraphs or between its parts, named
    as such ("Veröffentlicht am 12.07.2017", "Erstellt: 03.05.21", "Publicado el 5 de marzo
    de 2021"): the first short line whose word for publishing comes before its date."""
    start, stop = index.get(box), index.get(last_descendant(box))
    if start is None or stop is None:
        return None
    for el in elements[start : min(stop, start + limit) + 1]:
        if el.tag not in _LABEL_TAGS:
            continue
        # The word opens the line, in its own text or its first child's ("<b>Erstellt:</b>
        # 03.05.21"): looked for there before the line's whole text is read.
        head = el.text or ""
        if len(el) and isinstance(el[0].tag, str):
            head += el[0].text or ""
        if not _PUBLISHED_WORD.search(head):
            continue
        raw = text_content(el)
        if len(raw) > 160 or not _DIGIT.search(raw):
            continue
        text = clean_text(raw)
        label = _PUBLISHED_WORD.search(text)
        digit = _DIGIT.search(text)
        if label is None or digit is None or label.start() > digit.start():
            continue
        if _MEMBER_SINCE.search(text) or _says_updated(text):
            continue
        parsed = _parse_shown(text[label.end() :], month_first, None)
        if parsed is not None and _plausible(parsed, now) and not _in_teaser(el, home, near):
            return parsed
    return None


_LABEL_TAGS = _TRAILING_TAGS | {"p", "h4", "h5", "h6"}


def _post_box(
    scope: HtmlElement | None, top: HtmlElement, heading: HtmlElement | None
) -> HtmlElement | None:
    """The box of the post the body belongs to: around headline and body, or (pages with no
    heading element) the body's parent."""
    if heading is not None:
        return scope
    parent = top.getparent()
    return parent if parent is not None and parent.tag not in ("body", "html") else None


def _lead_dateline(
    el: HtmlElement, month_first: bool, now: datetime | None, year: int | None
) -> PageDate | None:
    """The date of a dateline opening the article's first paragraph, if it has one."""
    match = _LEAD_DATELINE.match(clean_text(text_content(el))[:120])
    parsed = _parse_shown(match.group(1), month_first, year) if match else None
    return parsed if parsed is not None and _plausible(parsed, now) else None


# Layout: wikis write the shown revision's date in the page's footer, the one date they have
# (MediaWiki's "footer-info-lastmod": "Diese Seite wurde zuletzt am 12. Juli 2017 um 10:15 Uhr
# bearbeitet."; DokuWiki's "docInfo": "Last modified: 2017/07/12 10:15 by anna").
_REVISION_NAMES = frozenset(("footer-info-lastmod", "lastmod", "docinfo", "lastmodified"))
# (ids are matched whole, class words one by one: "docInfo" -> "docinfo")


def _wiki_revision(
    elements: list[HtmlElement], month_first: bool, now: datetime | None
) -> PageDate | None:
    for el, cls, ident in classed(elements):
        if ident not in _REVISION_NAMES and _REVISION_NAMES.isdisjoint(class_words(cls, None)[0]):
            continue
        parsed = _parse_shown(clean_text(text_content(el)), month_first, None)
        if parsed is not None and _plausible(parsed, now):
            return parsed
    return None


def _local_machine_dates(st: Structured, now: datetime | None) -> list[PageDate]:
    out = []
    for name in PUBLISHED_META:
        for value in st.meta.get(name, ()):
            parsed = parse_iso(value) or parse_human(value)
            if parsed and parsed.offset is None and _plausible(parsed, now):
                out.append(parsed)
    return out


def _url_date(url: str | None) -> PageDate | None:
    if not url:
        return None
    path = url.split("://", 1)[-1].split("?", 1)[0]
    for pattern in (_URL_DATE_SLASHED, _URL_DATE):
        match = pattern.search(path)
        if match:
            try:
                return PageDate(date(*(int(g) for g in match.groups())))
            except ValueError:
                continue
    return None


_WRITTEN = frozenset(("time", "dom", "header", "header-time", "dateline"))  # dates written in words


def _as_readers_see(machine: PageDate, shown: list[Shown]) -> PageDate:
    """The machine date moved to the day readers are shown, when they are shown one."""
    if machine.time is None:
        return machine  # a bare day has no time zone to get wrong
    if machine.offset == 0:
        # UTC metadata on a page that writes its times in one local zone ("12:24 am EST"):
        # the readers' day is the day in that zone.
        zones = {
            s[0].offset
            for s in shown
            if s[0].time is not None and s[0].offset not in (None, 0) and s[2] in _WRITTEN
        }
        if len(zones) == 1:
            return machine.at_offset(zones.pop())
    if machine.offset not in (None, 0):
        # A local time with its offset is already the readers' day, unless the page writes
        # another day with its own zone in words ("Nov 19, 10:31 pm CST"); machine times of
        # <time> elements lower down may be a live blog's updates.
        shown = [s for s in shown if s[0].offset is not None and not s[2].endswith("attr")]
    # Near the headline first, then elsewhere; within each, original dates before updates.
    ordered = sorted(shown, key=lambda s: (not s[2].startswith("header"), s[1]))
    for visible, updated, _, _ in ordered:
        delta = abs((visible.day - machine.day).days)
        if delta == 0:
            return machine
        if delta != 1 or (updated and visible.day > machine.day):
            # (an update shown the day after the machine's publication is a later edit, not
            # the same moment in another zone: "Updated July 13" over a July 12 article)
            continue
        if visible.time is not None and visible.offset is not None:
            return visible
        if machine.instant() is None:
            return visible
        if visible.time is not None:
            for minutes in range(-12 * 60, 14 * 60 + 1, 30):
                moved = machine.at_offset(minutes)
                if moved.day == visible.day and moved.time and moved.time[:2] == visible.time[:2]:
                    return moved
        return PageDate(visible.day)
    return machine


def find_dates(
    root: HtmlElement,
    st: Structured,
    url: str | None,
    now: datetime | None,
    scope: HtmlElement | None,
    heading: HtmlElement | None = None,
    top: HtmlElement | None = None,
    elements: list[HtmlElement] | None = None,
    index: dict[HtmlElement, int] | None = None,
) -> tuple[FoundDate | None, FoundDate | None]:
    """(published, modified) with where each came from."""
    if elements is None or index is None:
        elements = [el for el in root.iter() if isinstance(el.tag, str)]
        index = {el: n for n, el in enumerate(elements)}
    # Layout: US pages write numeric dates month first ("06-11-2019", vBulletin and other
    # forums, US local news), pages elsewhere day first: the page's declared language or
    # locale says which ("en-US", og:locale "en_US", Content-Language "en-us"; "en" alone is
    # read as American unless another declaration gives it a region: lang="en" + "en_GB")...
    month_first = declared_locale(st) in ("en", "en-US")
    args = (root, st, url, now, scope, heading, top, elements, index)
    published, modified = _find_dates(*args, month_first)
    if any(f is not None and f.value.ambiguous for f in (published, modified)):
        # ... unless its other numeric dates say otherwise, with a 13 or more in one slot
        # ("06-13-2019" is month first; templates keep lang="en-US" on sites that write
        # "13/06/2019"). Looked for only when the date read fits either order.
        order = _numeric_order(elements)
        if order is not None and order != month_first:
            published, modified = _find_dates(*args, order)
    return published, modified


# day and month of a numeric date, either first, dashed or slashed (dotted ones are day first)
_NUMERIC_DATE = re.compile(r"(?<![\d/.-])(\d{1,2})([/-])(\d{1,2})\2(?:19|20)\d\d(?!\d)")


def _numeric_order(elements: list[HtmlElement]) -> bool | None:
    """True when the page's numeric dates are month first, False when day first (a slot over
    12 in some date, and none the other way), None when they do not tell."""
    months_first = days_first = 0
    for el in elements:
        for text in (el.text, el.tail):
            if not text or ("/" not in text and "-" not in text):
                continue
            for match in _NUMERIC_DATE.finditer(text):
                a, b = int(match.group(1)), int(match.group(3))
                if a > 12 >= b:
                    days_first += 1
                elif b > 12 >= a:
                    months_first += 1
    if months_first and not days_first:
        return True
    if days_first and not months_first:
        return False
    return None


def _find_dates(
    root: HtmlElement,
    st: Structured,
    url: str | None,
    now: datetime | None,
    scope: HtmlElement | None,
    heading: HtmlElement | None,
    top: HtmlElement | None,
    elements: list[HtmlElement],
    index: dict[HtmlElement, int],
    month_first: bool,
) -> tuple[FoundDate | None, FoundDate | None]:
    published = _from_structured(
        st, ("datePublished", "dateCreated", "uploadDate"), PUBLISHED_META, now
    )
    modified = _from_structured(st, ("dateModified",), MODIFIED_META, now)
    year = published.value.day.year if published else None
    shown = _header_dates(elements, index, heading, top, month_first, now, year)
    seen = {s[3] for s in shown}
    # Dates elsewhere on the page only matter when the headline's surroundings show none.
    found_near = published is not None and any(not s[1] for s in shown)
    everywhere = []
    above = list(heading.iterancestors()) if heading is not None else []
    if not found_near:
        home = frozenset(above)
        near = frozenset(a for a in above[:3] if a.tag not in ("body", "html"))
        visible = _visible_dates(root, elements, month_first, now, year, home, near)
        everywhere = [s for s in visible if s[3] not in seen]
    # Those inside the article's own area before those elsewhere on the page; elsewhere, a
    # date in a box of links to other stories by their titles is theirs (a column of the
    # latest news or of related stories that no class word names).
    if scope is not None and everywhere:
        inside = set(scope.iter())  # elements, not id()s: a dropped proxy's id is reused
        around = frozenset((scope, *scope.iterancestors()))
        everywhere = [s for s in everywhere if s[3] in inside or not _links_a_story(s[3], around)]
        everywhere.sort(key=lambda s: s[3] not in inside)
    shown += everywhere
    if published is not None and published.value.offset == 0:
        # UTC metadata hides the local day; a local (zone-less) machine date shows it. (Not the
        # URL: its date is often the editor's day, not the one shown.)
        local = _local_machine_dates(st, now)
        shown += [(d, False, "meta", root) for d in local]
    if published is not None:
        moved = _as_readers_see(published.value, shown)
        if moved != published.value:
            published = FoundDate(moved, f"{published.source}+dom")
    elif shown:
        original = [s for s in shown if not s[1]] or shown
        # A <time> element near the headline is both visible and machine-readable.
        timed = [s for s in original if "time" in s[2]]
        pick = (timed or original)[0]
        published = FoundDate(pick[0], pick[2])
    elif (
        heading is None
        and top is not None
        and (above_text := _above_text(elements, index, top, month_first, now))
    ):
        published = FoundDate(above_text, "above-text")
    else:
        from_url = _url_date(url)
        if from_url and _plausible(from_url, now):
            published = FoundDate(from_url, "url")
        elif top is not None and (box := _post_box(scope, top, heading)) is not None:
            home = frozenset(above)
            near = frozenset(a for a in above[:3] if a.tag not in ("body", "html"))
            below = _trailing_dates(elements, index, top, box, month_first, now, home, near)
            if below and not below[0][1]:
                published = FoundDate(below[0][0], "footer")
            else:
                labelled = _labelled_date(elements, index, box, month_first, now, home, near)
                published = FoundDate(labelled, "labelled") if labelled else None
    if published is None and (revision := _wiki_revision(elements, month_first, now)):
        # The revision shown is the only date such a page has: the date of its version.
        published = FoundDate(revision, "revision")
        modified = modified or published
    if modified is None and published is not None:
        later = [s for s in shown if s[1] and s[0].day >= published.value.day]
        if later:
            modified = FoundDate(later[0][0], "dom")
    return published, modified
