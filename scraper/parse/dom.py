"""The lxml tree the parser works on, and small helpers to read text and classes from it.

`build_tree` parses decoded text with lxml's HTML parser (libxml2: fast, forgiving), then
pulls out what must be read before cleaning (JSON-LD scripts) and removes what is never
article text (scripts, styles, templates, hidden elements, form controls). Everything else in
the parser reads this one tree with XPath and element iteration. BeautifulSoup is used only
where libxml2 loses the page (`_lost_page`): `lxml.html.soupparser` parses it again and hands
back an lxml tree, so the rest of the parser never sees the difference.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice
from urllib.parse import urljoin

from lxml import etree

from scraper.errors import ParseError

# Plain lxml elements: lxml.html's HtmlElement adds a Python-level class lookup to every
# element access, which costs more than the parse itself on a large page.
HtmlElement = etree._Element

log = logging.getLogger(__name__)
_SPACE = re.compile(r"\s+")
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.I)
_ANY_XML_DECL = re.compile(r"^\s*<\?xml", re.I)  # every start either XML declaration test takes
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_TOKEN = re.compile(r"[a-z0-9]+")
_NO_TOKENS: frozenset[str] = frozenset()
MAX_ATTRIBUTES = 256
MAX_ELEMENTS = 250_000
# bs4 builds its tree ~30x slower than libxml2: a re-parse is only tried on pages up to this size
_REPARSE_MAX_CHARS = 2_000_000
_P_OPEN = re.compile(r"<p[\s>]", re.I)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1
_LONG_TAG = re.compile(r"<[A-Za-z][^>]{512}")  # 256 attributes take at least 512 characters
_SEPARATORS = " \t\n\r\f\"'"  # each attribute after the first follows one of these
_SEPARATOR_BYTES = _SEPARATORS.encode("ascii")
# What "\s" matches in a str pattern (Unicode whitespace), as UTF-8: a bytes pattern's "\s" is
# ASCII only. Lets a scan of the page's UTF-8 count exactly what _P_OPEN finds in its text.
_UTF8_SPACE = (
    rb"[\s\x1c-\x1f]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]"
    rb"|\xe2\x81\x9f|\xe3\x80\x80"
)
_P_OPEN_UTF8 = re.compile(rb"<[pP](?:>|" + _UTF8_SPACE + rb")")
# A start of _LONG_TAG (only the "<" is taken, so a <p inside the tag is still found) or a <p
_SCAN_UTF8 = re.compile(rb"<(?=[A-Za-z][^>]{512})|" + _P_OPEN_UTF8.pattern)
_TAG_NAME = re.compile(r"<[^\s/>]+")
_ATTRIBUTE = re.compile(r"""[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?""")

_REMOVE = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "math",
    "button",
    "select",
    "textarea",
    "input",
    "object",
    "embed",
    "canvas",
    "dialog",
    "iframe",
    # Site navigation and asides never hold the article, its date or its figures; menus can be
    # most of a page's elements, so they go before anything walks the tree.
    "nav",
    "aside",
)


def words(text: str) -> list[str]:
    """The words of a space-separated list (keeps long word lists in the source compact)."""
    return text.split()


_Trie = dict[str, "_Trie"]  # next character -> the rest; "" marks a part's end


def any_part(parts: Sequence[str]) -> re.Pattern[str]:
    """A pattern whose search finds whether a string holds any of `parts` (only whether: its
    match may be a shorter part than the one a plain alternation reports).

    Written as a trie, one branch per distinct next character: sre tries the alternatives of a
    branch one after another at every position, so forty words cost forty tests a character
    where the trie costs one per distinct first letter."""
    trie: _Trie = {}
    for part in parts:
        node = trie
        for ch in part:
            node = node.setdefault(ch, {})
        node[""] = {}  # a part ends here

    def pattern(node: _Trie) -> str:
        if "" in node:
            return ""  # a part ends here: whether anything longer follows does not matter
        branches = [re.escape(ch) + pattern(node[ch]) for ch in sorted(node)]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return re.compile(pattern(trie))


BLOCK_TAGS = frozenset(
    words(
        "p div section article main td th li ul ol dl dd dt blockquote pre h1 h2 h3 h4 h5 h6 "
        "table tbody thead tfoot tr figure figcaption header footer aside nav form center body "
        "fieldset address hr details summary"
    )
)
HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))


ClassId = tuple[str | None, str | None]  # an element's class and id attribute values
NO_CLASS: ClassId = (None, None)
# Attributes some extractor asks of many elements: build_tree keeps their values, so those
# questions need no lxml call (one get() costs about what a whole keys() does).
LISTED_ATTRIBUTES = ("role", "rel", "itemprop", "data-role")
_LOOKED_AT = frozenset(("style", "hidden", "aria-hidden", *LISTED_ATTRIBUTES))


@dataclass(slots=True)
class Page:
    """One parsed page: the cleaned tree, its JSON-LD script texts and its base URL."""

    root: HtmlElement
    jsonld: list[str]
    url: str | None
    reparsed: bool = False  # libxml2 lost the page and bs4 parsed it again
    _elements: list[HtmlElement] | None = None
    _order: dict[HtmlElement, int] | None = None
    _classes: dict[HtmlElement, ClassId] | None = None
    _values: dict[str, dict[HtmlElement, str]] | None = None

    def elements(self) -> list[HtmlElement]:
        """Every element in document order (computed once, shared by the extractors)."""
        if self._elements is None:
            self._elements = list(self.root.iter(etree.Element))
        return self._elements

    def classes(self) -> dict[HtmlElement, ClassId]:
        """The class and id values of every element (read once; see `page_classes`)."""
        if self._classes is None:
            self._classes = {el: _class_id(el) for el in self.elements()}
        return self._classes

    def values(self) -> dict[str, dict[HtmlElement, str]]:
        """For each of LISTED_ATTRIBUTES, its value on each element that has it, in document
        order (read once, in build_tree's pass; see `page_classes`)."""
        if self._values is None:
            self._values = {name: {} for name in LISTED_ATTRIBUTES}
            for el in self.elements():
                for name, table in self._values.items():
                    value = el.get(name)
                    if value is not None:
                        table[el] = value
        return self._values

    def named(self, name: str) -> list[HtmlElement]:
        """The elements that have attribute `name` (one of LISTED_ATTRIBUTES), in order."""
        return list(self.values()[name])

    def order(self) -> dict[HtmlElement, int]:
        """Document position of every element."""
        if self._order is None:
            elements = self.elements()
            self._order = dict(zip(elements, range(len(elements)), strict=True))
        return self._order


def clean_text(text: str | None) -> str:
    """Collapse runs of whitespace (including NBSP) to one space and strip the ends."""
    if not text:
        return ""
    if "\u00ad" in text or "\u200b" in text:
        text = text.replace("\u00ad", "").replace("\u200b", "")
    out = " ".join(text.split())
    # Control characters are never prose, and ESC sequences from a page would reach the
    # terminal of whoever runs `morgue show`. isprintable() is a fast C check for the usual case;
    # the segmenter's link markers make the rest common, and str.translate with a dict looks
    # every character up in it (non-ASCII text), several times slower than this regex.
    return out if out.isprintable() else " ".join(_CONTROL.sub("", out).split())


def text_content(el: HtmlElement) -> str:
    """All text inside the element (scripts and styles are gone by then)."""
    if not len(el):
        return el.text or ""  # a leaf (most calls): no XPath evaluation needed
    # the text serializer: about twice as fast as XPath string() and the same text
    return etree.tostring(el, method="text", encoding=str, with_tail=False)


def text_of(el: HtmlElement) -> str:
    """The element's visible text, whitespace-normalized."""
    return clean_text(text_content(el))


def link_density(el: HtmlElement) -> float:
    """Link text over all text inside the element (1.0 when it has no text)."""
    text = len(clean_text(text_content(el)))
    if not text:
        return 1.0
    links = sum(len(clean_text(text_content(a))) for a in el.iter("a"))
    return links / text


def contains(ancestor: HtmlElement, el: HtmlElement) -> bool:
    """Is `ancestor` above el (never el itself)?"""
    return any(a is ancestor for a in el.iterancestors())


def select(el: HtmlElement, xpath: etree.XPath | str) -> list[HtmlElement]:
    """The elements an XPath expression finds (strings and numbers are left out)."""
    found = xpath(el) if isinstance(xpath, etree.XPath) else el.xpath(xpath)
    if not isinstance(found, list):
        return []
    return [item for item in found if isinstance(item, etree._Element)]


def last_descendant(el: HtmlElement) -> HtmlElement:
    """The last element inside el in document order (el itself when it has none)."""
    while len(el):
        child = el[-1]
        if not isinstance(child.tag, str):  # a comment or PI last: look further back
            found = next((c for c in reversed(el) if isinstance(c.tag, str)), None)
            if found is None:
                return el
            child = found
        el = child
    return el


def absolute_url(base: str | None, url: str) -> str | None:
    """url resolved against base; None for what cannot be a URL ("http://[broken")."""
    url = url.strip()
    if not url or url.startswith(("data:", "javascript:")):
        return None
    if not url.isprintable():  # control characters are percent-encoded, as browsers do
        url = _CONTROL.sub(lambda m: f"%{ord(m.group()):02X}", url)
    try:
        return urljoin(base, url) if base else url
    except ValueError:
        return None


def drop_tree(el: HtmlElement) -> None:
    """Remove an element and its children, keeping the text that follows it."""
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        previous = el.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


# The class and id values of the page being extracted, read in build_tree's one pass over the
# elements. The extractors ask for them thousands of times a page, and lxml's get() encodes the
# name, scans the attributes and decodes the value each time, about 3x a dict lookup; the
# values also come back as the same str objects, so the memos below hash each only once.
# Set for the duration of one extraction (`page_classes`), so a helper called outside one, or
# on an element of another tree, reads the attributes itself.
_PAGE_CLASSES: ContextVar[dict[HtmlElement, ClassId] | None] = ContextVar(
    "page_classes", default=None
)
_PAGE_VALUES: ContextVar[dict[str, dict[HtmlElement, str]] | None] = ContextVar(
    "page_values", default=None
)


@contextmanager
def page_classes(page: Page) -> Iterator[None]:
    """Let the attribute helpers read `page`'s tables while inside."""
    classes = _PAGE_CLASSES.set(page.classes())
    values = _PAGE_VALUES.set(page.values())
    try:
        yield
    finally:
        _PAGE_VALUES.reset(values)
        _PAGE_CLASSES.reset(classes)


def having(elements: list[HtmlElement], name: str) -> list[HtmlElement]:
    """The elements that have attribute `name`, in order."""
    return [el for el in elements if attribute(el, name) is not None]


def attribute(el: HtmlElement, name: str) -> str | None:
    """el.get(name), from the page's table when inside `page_classes` and `name` is one of
    LISTED_ATTRIBUTES (no lxml call: most elements have none of them)."""
    tables = _PAGE_VALUES.get()
    if tables is not None:
        table = tables.get(name)
        # (an element of the page is in its class table; one of another tree is asked itself)
        classes = _PAGE_CLASSES.get()
        if table is not None and classes is not None and el in classes:
            return table.get(el)
    return el.get(name)


def role_class_id(el: HtmlElement) -> tuple[str | None, str | None, str | None]:
    """(attribute(el, "role"), *class_id(el)) with one look at the page's tables: the prune
    and boilerplate tests ask both of every element the segmenter meets."""
    classes = _PAGE_CLASSES.get()
    found = classes.get(el) if classes is not None else None
    tables = _PAGE_VALUES.get()
    table = tables.get("role") if tables is not None else None
    role = table.get(el) if table is not None and found is not None else el.get("role")
    cls, ident = found if found is not None else _class_id(el)
    return role, cls, ident


def _class_id(el: HtmlElement) -> ClassId:
    get = el.get
    cls, ident = get("class"), get("id")
    return NO_CLASS if cls is None and ident is None else (cls, ident)


def page_class_table() -> dict[HtmlElement, ClassId] | None:
    """The (class, id) table of the page being read (`page_classes`), for loops over many
    elements that look each up themselves (class_id's call costs more than the lookup)."""
    return _PAGE_CLASSES.get()


def class_id(el: HtmlElement) -> ClassId:
    """(class, id) attribute values of an element (None where absent)."""
    table = _PAGE_CLASSES.get()
    if table is not None:
        found = table.get(el)
        if found is not None:
            return found
    return _class_id(el)


def classed(elements: list[HtmlElement]) -> list[tuple[HtmlElement, str | None, str | None]]:
    """(element, class, id) of the elements that have a class or an id, in order: loops that
    only look at named elements skip the rest without asking lxml anything."""
    table = _PAGE_CLASSES.get()
    out = []
    for el in elements:
        found = table.get(el) if table is not None else None
        cls, ident = found if found is not None else _class_id(el)
        if cls is not None or ident is not None:
            out.append((el, cls, ident))
    return out


def with_classes(
    elements: Iterable[HtmlElement],
) -> Iterator[tuple[HtmlElement, str | None, str | None]]:
    """(element, class, id) of each element: class_id's answers with the page's table looked
    up once for the loop, not once an element."""
    table = _PAGE_CLASSES.get()
    for el in elements:
        found = table.get(el) if table is not None else None
        cls, ident = found if found is not None else _class_id(el)
        yield el, cls, ident


def class_tokens(el: HtmlElement) -> frozenset[str]:
    """Lower-case words of the class and id attributes ("c-share-bar" -> c, share, bar)."""
    cls, ident = class_id(el)
    if cls is None and ident is None:
        return _NO_TOKENS
    return _tokens(cls, ident)


def class_has(el: HtmlElement, wanted: frozenset[str]) -> bool:
    """Do the class/id words hold any of `wanted`? (class_tokens(el) & wanted; the words are
    memoised on the attribute values: loops over every element of a page ask this.)"""
    table = _PAGE_CLASSES.get()  # (class_id inlined: this runs on most elements of a page)
    found = table.get(el) if table is not None else None
    cls, ident = found if found is not None else _class_id(el)
    if cls is None and ident is None:
        return False
    return not class_words(cls, ident)[0].isdisjoint(wanted)


def has_word(cls: str | None, ident: str | None, wanted: frozenset[str]) -> bool:
    """Do the words of these class/id values hold any of `wanted`?

    Not memoised itself: keyed on the wanted set too, its memo held each class string once per
    set, missed about 70 times a page on the corpus, and each miss (a new key, an eviction and
    the call) cost more than the class_words lookup and set test it saved."""
    return not class_words(cls, ident)[0].isdisjoint(wanted)


def class_joined(el: HtmlElement) -> str:
    """The class/id words joined by '-', for substring tests ("articlebody", "sharebar")."""
    cls, ident = class_id(el)
    if cls is None and ident is None:
        return ""
    return _joined(cls, ident)


def _short_id(ident: str | None) -> str | None:
    """An id names a role ("comments", "main-content") unless it is a slug made from a
    heading ("sharing-with-a-single-developer"), whose words say nothing about the box."""
    if not ident or ident.count("-") + ident.count("_") > 3:
        return None
    return ident


# Memos of pure functions of attribute values (bounded): pages repeat the same few hundred
# class strings on thousands of elements.
@lru_cache(maxsize=8192)
def class_words(cls: str | None, ident: str | None) -> tuple[frozenset[str], str]:
    """(tokens, joined) of a class and an id attribute value, for memos keyed on them."""
    short = _short_id(ident)
    raw = cls or ""
    if "tag-" in raw or "category-" in raw:
        # Layout: WordPress names a post's box after its tags and categories ("post-9 post
        # tag-social-media category-related-news"): the author's words, not the box's role.
        raw = " ".join(c for c in raw.split() if not c.startswith(_TAXONOMY_CLASSES))
    if short:
        raw = f"{raw} {short}"
    lower = raw.lower()
    if lower.isascii():
        # Most class strings are ASCII words joined by spaces, "-" and "_": splitting there
        # gives the same runs of [a-z0-9] as the regex, for less. Any other character in
        # the string (":", "/", ".") leaves a part that is not alphanumeric: the regex then.
        parts = lower.replace("-", " ").replace("_", " ").split()
        if parts and not "".join(parts).isalnum():
            parts = _TOKEN.findall(lower)
    else:
        parts = _TOKEN.findall(lower)
    return (frozenset(parts) if parts else _NO_TOKENS), "-".join(parts)


_TAXONOMY_CLASSES = ("tag-", "category-")


def _tokens(cls: str | None, ident: str | None) -> frozenset[str]:
    return class_words(cls, ident)[0]


def _joined(cls: str | None, ident: str | None) -> str:
    return class_words(cls, ident)[1]


def class_string(el: HtmlElement) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}".lower()


def _cap_attributes(tag: str) -> str:
    if sum(map(tag.count, _SEPARATORS)) <= MAX_ATTRIBUTES:
        return tag  # too few gaps to hold that many attributes: no need to count them
    name = _TAG_NAME.match(tag)
    start = name.end() if name else 1
    attributes = _ATTRIBUTE.findall(tag, start)
    if len(attributes) <= MAX_ATTRIBUTES:
        return tag
    return tag[:start] + " " + " ".join(attributes[:MAX_ATTRIBUTES])


def _over_attributes(tag: str) -> bool:
    """Would `_cap_attributes` cap this tag, given it has more than MAX_ATTRIBUTES gaps? It
    does when the tag holds more than MAX_ATTRIBUTES attributes: the count stops there, where
    a list of all of them (a script's "<" followed by a long run of words, common) cost a
    regex match per word and a list of them."""
    name = _TAG_NAME.match(tag)
    start = name.end() if name else 1
    beyond = islice(_ATTRIBUTE.finditer(tag, start), MAX_ATTRIBUTES, None)
    return next(beyond, None) is not None


def tame_attributes(text: str) -> str:
    """The page with at most MAX_ATTRIBUTES attributes per tag.

    libxml2 checks each attribute against all earlier ones of its element, which is quadratic:
    one tag with 100k attributes takes 9 s to parse, a 10 MB page of them hours. No real
    element has more than a few dozen, so the excess is dropped before lxml sees the tag.
    Only tags longer than `_LONG_TAG`'s threshold can hold that many; most pages have a few
    (SVG paths, srcsets), and the text is copied only when one of them needs capping.
    """
    out: list[str] = []
    last = pos = 0
    # "[^>]" (not "[^<>]") lets the regex engine run its fast single-character loop; a "<"
    # inside the run means no long tag starts before the last one of them, so the search
    # goes on from there (linear, even on "<a<a<a…").
    while (match := _LONG_TAG.search(text, pos)) is not None:
        start = match.start()
        inner = text.rfind("<", start + 1, match.end())
        if inner != -1:
            pos = inner
            continue
        ends = [p for p in (text.find(">", match.end()), text.find("<", match.end())) if p != -1]
        stop = min(ends) if ends else len(text)
        pos = stop
        tag = text[start:stop]
        capped = _cap_attributes(tag)
        if capped is not tag:
            out += (text[last:start], capped)
            last = stop
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _scan_utf8(utf8: bytes) -> int | None:
    """The number of `_P_OPEN` matches in the page, counted on its UTF-8 in one pass that
    also does tame_attributes' search; None when a tag may need capping (the caller tames the
    text and counts there).

    The same search on UTF-8 is a superset of the one on the text: a tag of 512 characters
    has at least 512 bytes, "<" and ">" are single bytes, and the scan resumes from the same
    kind of place, so every tag tame_attributes looks at is looked at here with the same
    bounds. A tag whose separators (ASCII, so counted the same) are too few, or that
    `_cap_attributes` leaves as it is, is not capped there either. The scan reads bytes, not
    the text: most pages hold a character beyond Latin-1, which makes their str two bytes a
    character, and sre then scans it at about half the speed."""
    paragraphs = 0
    pos = 0  # where tame_attributes' search goes on from
    for match in _SCAN_UTF8.finditer(utf8):
        start = match.start()
        if match.end() - start > 1:
            paragraphs += 1  # a <p
            continue
        if _P_OPEN_UTF8.match(utf8, start) is not None:
            paragraphs += 1  # a long <p ...> tag
        if start < pos:
            continue
        end = start + 514  # where _LONG_TAG's match ends: "<", a letter, 512 more
        inner = utf8.rfind(b"<", start + 1, end)
        if inner != -1:
            pos = inner
            continue
        ends = [p for p in (utf8.find(b">", end), utf8.find(b"<", end)) if p != -1]
        pos = min(ends) if ends else len(utf8)
        tag = utf8[start:pos]
        # (the separators counted in one pass that drops them, not one pass for each; they
        # are ASCII, so the tag's text has as many, and _cap_attributes' own count would agree)
        gaps = len(tag) - len(tag.translate(None, _SEPARATOR_BYTES))
        if gaps > MAX_ATTRIBUTES and _over_attributes(tag.decode("utf-8")):
            return None
    return paragraphs


def build_tree(
    text: str,
    url: str | None,
    utf8: bytes | None = None,
    *,
    on_tree: Callable[[etree._Element], None] | None = None,
) -> Page:
    """Parse and clean a page. Raises ValueError when lxml finds no document at all.

    `utf8` is the text encoded as UTF-8 when the caller has it (the page's own bytes).
    `on_tree` is shown libxml2's tree as parsed, before any cleaning, when it is the very tree
    `lxml.html.document_fromstring` makes of `text` (see `plain_tree`); else it is not called."""
    plain = on_tree is not None and utf8 is not None and _ANY_XML_DECL.match(text) is None
    declared = _XML_DECL.match(text)  # anchored: fails at the first character of most pages
    if declared is not None:
        text, utf8 = text[declared.end() :], None
    if utf8 is None:
        utf8 = _utf8(text)
    # (NUL is the byte 0 in UTF-8 and nothing else is: the byte test is a memchr, while "in"
    # on a UCS-2 str scans one character at a time for it)
    if b"\x00" in utf8 if utf8 is not None else "\x00" in text:
        plain = False
        text = text.replace("\x00", "")
        utf8 = utf8.replace(b"\x00", b"") if utf8 is not None else None
    # Every extractor walks the tree in Python at ~10 us and ~500 bytes an element: 10 MB of
    # "<p>a" (2.5M elements) took 24 s and 1.6 GB. Real pages stay far below MAX_ELEMENTS.
    # Each element needs a "<", so a page with too many of those is refused before lxml
    # builds a tree of them (about 300 bytes a node in C).
    # ("<" is one byte in UTF-8 and no other character's bytes hold it: the bytes, when there
    # are any, count the same in a plain byte search, where text of two-byte characters is
    # counted a character at a time)
    if (
        len(text) > 2 * MAX_ELEMENTS
        and (utf8.count(b"<") if utf8 is not None else text.count("<")) > 2 * MAX_ELEMENTS
    ):
        raise ParseError(url, f"page has more than {2 * MAX_ELEMENTS} tags: not parsed")
    # (one pass over the bytes instead of two over the text; see _scan_utf8)
    paragraphs = _scan_utf8(utf8) if utf8 is not None else None
    if paragraphs is None:
        tamed = tame_attributes(text)
        if tamed is not text:
            text, utf8 = tamed, _utf8(tamed)
    # No id index (collect_ids): nothing looks elements up by id, and building it costs ~8 %
    # of the parse (an XPath rule using id() finds nothing; "#x" in CSS reads the attribute).
    # UTF-8 in: a str reaches libxml2 as UTF-16 or UCS-4, which it converts to UTF-8 first
    # (~12 % of the parse); the declared encoding also keeps a <meta charset> from switching.
    parser = etree.HTMLParser(
        remove_comments=True,
        remove_pis=True,
        recover=True,
        collect_ids=False,
        encoding="utf-8" if utf8 is not None else None,
    )
    source: str | bytes = utf8 if utf8 is not None else text
    root = etree.fromstring(source, parser) if text and not text.isspace() else None
    if root is None:
        raise ValueError("empty document")
    if plain and on_tree is not None:
        # The tree of lxml.html.document_fromstring(tame_attributes(text)): the same bytes
        # (no NUL dropped, no declaration cut, tamed alike: _scan_utf8 is None whenever
        # tame_attributes would change a tag), the same libxml2 HTML parser, which reads UTF-8
        # given as such as it reads the str; comments and PIs left out make no other element
        # differ (tests: test_parse_tree_tap). Before any cleaning or a bs4 re-parse.
        on_tree(root)
    reparsed = False
    if _lost_page(root, text, parser, paragraphs):
        again = _soup_tree(text)
        log.debug(
            "libxml2 lost part of %s; bs4 re-parse %s", url, "failed" if again is None else "used"
        )
        if again is not None:
            root, reparsed = again, True
    jsonld = [
        s.text or "" for s in root.iter("script") if "ld+json" in (s.get("type") or "").lower()
    ]
    etree.strip_elements(root, *_REMOVE, with_tail=False)
    # One pass lists the elements (the extractors share the list) and finds the hidden ones.
    elements = list(root.iter(etree.Element))
    if len(elements) > MAX_ELEMENTS:
        raise ParseError(url, f"page has {len(elements)} elements, more than {MAX_ELEMENTS}")
    gone: set[HtmlElement] = set()
    classes: dict[HtmlElement, ClassId] = {}
    values: dict[str, dict[HtmlElement, str]] = {name: {} for name in LISTED_ATTRIBUTES}
    for el in elements:
        # One keys() call, then get() only for the attributes the element has: lxml's get()
        # encodes the name, copies the value and decodes it, each call costing about what one
        # keys() does, and most elements have none of those asked for here.
        names = el.keys()
        if not names:
            classes[el] = NO_CLASS
            continue
        get = el.get
        cls = get("class") if "class" in names else None
        ident = get("id") if "id" in names else None
        classes[el] = NO_CLASS if cls is None and ident is None else (cls, ident)
        if _LOOKED_AT.isdisjoint(names):
            continue  # (one set test for the rest: most elements have none of them)
        for name in LISTED_ATTRIBUTES:
            if name in names:
                values[name][el] = get(name)
        # Hidden by style or attribute (tested inline, not by XPath: a predicate over every
        # element in libxml2's XPath engine measured slower than this loop)
        style = get("style") if "style" in names else None
        styled = (style is not None and _HIDDEN_STYLE.search(style) is not None) or (
            "hidden" in names
        )
        if not (
            styled or ("aria-hidden" in names and get("aria-hidden") == "true" and el.tag != "span")
        ):
            continue
        if styled and _folded_text(el):
            continue
        # Keep hidden <meta>/<time> etc.: they carry data, not visible prose.
        if (
            el not in gone
            and el.tag not in ("meta", "link", "time", "html", "body", "head")
            and el.getparent() is not None
        ):
            gone.update(el.iter())
            drop_tree(el)
    if gone:
        elements = [el for el in elements if el not in gone]
        values = {
            name: {el: value for el, value in table.items() if el not in gone}
            for name, table in values.items()
        }
    return Page(
        root=root,
        jsonld=jsonld,
        url=url,
        reparsed=reparsed,
        _elements=elements,
        _classes=classes,
        _values=values,
    )


_FOLDED_PARAGRAPHS = 2  # paragraphs of prose that make a hidden box the text's continuation


def _folded_text(el: HtmlElement) -> bool:
    """Layout: blogs and news sites fold the rest of the text into a box shown by a script
    ("Read more", collapsed sections: style="display:none" or the hidden attribute). A hidden
    box holding two or more paragraphs of prose is the text's continuation, not furniture
    (menus, dialogs and banners hold links and short lines)."""
    count = 0
    for p in el.iter("p"):
        text = text_content(p)
        if len(text) >= 80 and sum(len(a.text or "") for a in p.iter("a")) < len(text) / 4:
            count += 1
            if count >= _FOLDED_PARAGRAPHS:
                return True
    return False


def _utf8(text: str) -> bytes | None:
    """The text as UTF-8, or None when it holds lone surrogates (lxml takes the str then)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return None


def _lost_page(
    root: HtmlElement, text: str, parser: etree.HTMLParser, paragraphs: int | None = None
) -> bool:
    """Did libxml2 drop part of the page? It stops at a fatal error (nesting deeper than 256
    elements: the rest of the page, often the whole article, is gone), and its recovery can
    swallow paragraphs. Both show as far fewer paragraphs in the tree than `<p` tags in the
    source; the counts are cheap, so this runs on every page."""
    last = parser.error_log.last_error
    fatal = last is not None and last.level == etree.ErrorLevels.FATAL
    # (str.count("<p") measured slower than this regex on the corpus: "<" is everywhere)
    wanted = len(_P_OPEN.findall(text)) if paragraphs is None else paragraphs
    if wanted < 3:
        return fatal and len(text) > 2 * len(text_content(root))
    found = sum(1 for _ in root.iter("p"))
    if found >= wanted / 2:
        return False
    # Paragraph markup inside scripts (JSON state, templates) is no paragraph the page lost.
    quoted = sum(
        len(_P_OPEN.findall(el.text or "")) for el in root.iter("script", "template", "textarea")
    )
    return found < (wanted - quoted) / 2


def _soup_tree(text: str) -> HtmlElement | None:
    """The page parsed by BeautifulSoup (html.parser: no depth limit) as an lxml tree, or None
    when that fails too. soupparser converts recursively, so pages nested thousands deep
    (hostile ones) still end in RecursionError: the libxml2 tree is kept for those."""
    if len(text) > _REPARSE_MAX_CHARS:
        return None
    from lxml.html import soupparser  # imports bs4: only pages libxml2 lost need it

    try:
        root = soupparser.fromstring(text)
    except (RecursionError, ValueError, etree.LxmlError):
        return None
    if not isinstance(root, etree._Element):
        return None
    # libxml2 was told to drop comments and processing instructions; soupparser keeps them
    etree.strip_elements(root, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    return root
