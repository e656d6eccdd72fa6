"""Authors: people's names only.

Names come from JSON-LD `author` (Person entries; Organizations are skipped), <meta name=author>
and friends, `rel=author` links, byline-classed elements and short lines opening with a byline
word (old table layouts' <font>/<b>/<i> when nothing else names anyone). Each candidate is cut
into a byline line's parts (only those opening with a byline word name people when there is
one), then cleaned ("By", roles, dates, e-mail addresses, "and" lists) and kept only if it
reads like a person's name: not the outlet, not a news agency, not "Staff".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from scraper.parse.dom import (
    BLOCK_TAGS,
    HtmlElement,
    attribute,
    clean_text,
    has_word,
    text_content,
    with_classes,
    words,
)
from scraper.parse.structured import Structured

_AGENCIES = frozenset(
    words(
        "ap associated press reuters afp agence france-presse bloomberg dpa efe ansa upi pti ians "
        "xinhua tass ria novosti kyodo yonhap cnn bbc nyt staff editor editors editorial team "
        "admin administrator desk newsroom news service wire wires correspondent reporter "
        "reporters contributor guest web writer writers press release the"
    )
)
# "\s*+" (possessive): every alternative after it starts with a letter, so giving back
# whitespace can never make a match, and el.text is mostly indentation ("\n      ") that the
# plain "\s*" gave back one character at a time, trying all alternatives at each.
# Russian bylines name the word with a colon ("Автор: Иван Петров", "Текст: …"): without
# it the word opens prose ("Автор статьи считает …").
_BY = re.compile(
    r"^\s*+(?:(?:written\s+|posted\s+|reported\s+|words\s+|story\s+|geschrieben\s+|verfasst\s+)?"
    r"(?:by|von|par|por|di|door|av)\b[:\s]*|(?:автор|текст)\s*:\s*)",
    re.I,
)
# The parts of a byline line: "By Dale Emmons | 06-11-2019", "Von Anna Schmidt · Berlin",
# "Jane Doe • 5 min read", a sentence's end, and line breaks (_LINE_BREAK, put in by
# _line_text). The middle dot needs spaces (Catalan "l·l").
_LINE_BREAK = "\u2028"
_PARTS = re.compile(r"\s*(?:\||\s\u00b7\s|\u2022|(?<=[a-z]{2})\.\s+(?=[A-Z]))\s*")
# Dashes end the names of a part opening with a byline word ("By Jane Doe - 11/19/19",
# "By Jane Doe — Des Moines"); elsewhere they are prose's ("Alden -- the most important
# character") or an outlet's ("PMJS - Coordenadoria de TI"). Hyphens need spaces
# ("Roberts-Grey").
_DASH = re.compile(r"\s*(?:\u2014|\u2013|\s-+\s)")
# The names in one part: "Jane Doe and John Roe", "Jane Doe, John Roe", "Hans und Eva Roth".
_NAMES = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\be\b)\s*", re.I)
# Words that end a name in run-together bylines ("Carrie ArnoldNovember 15", "Owen Monday").
_NAME_END = re.compile(
    r"(?:(?<=[a-z])|\s+)(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|Wednesday|"
    r"Thursday|Friday|Saturday|Sunday|Contributing|Senior|Staff|Updated|Published|Posted)\b.*$"
)
# Words of outlets and desks, never of a person's name ("AP Auto", "CNN Business").
_OUTLET_WORDS = frozenset(
    words(
        "news times post daily tribune herald journal gazette magazine media press insider "
        "business network radio tv online digital international national auto sports staff desk "
        "team wire report reports editorial newsroom agency bureau"
    )
)
# What follows a name in a byline line: contacts, the date, and the words for publishing and
# updating in the languages of the byline words ("Par Claire Vautrin Publié le …").
_NOISE = re.compile(
    r"\S+@\S+|https?://\S+|@\w+|\d.*$|\(.*?\)|\b(?:updated|published|posted|publié|mis à jour|"
    r"veröffentlicht|aktualisiert|publicado|publicada|actualizado|pubblicato|aggiornato|"
    r"gepubliceerd|bijgewerkt|опубликовано|обновлено)\b.*$",
    re.I,
)
_ROLE = re.compile(
    r",?\s*\b(?:senior|chief|staff|special|political|foreign|deputy|executive|managing|contributing|"
    r"associate)?\s*(?:writer|reporter|editor|correspondent|columnist|contributor|photographer)\b.*$",
    re.I,
)
_PARTICLES = frozenset(words("de da del della di du van von der den la le bin al el y e"))
# Inline boxes old table layouts set their bylines in.
_OLD_INLINE = ("font", "b", "i", "strong")
_BYLINE_TAGS = ("div", "span", "p", "a", "address", "li", "h3", "h4", "h5", "h6", "small", "em")
_BYLINE_WORDS = frozenset(
    ["byline", "author", "authors", "author-name", "byline-name", "writer", "contributor"]
)


def _name_word(word: str) -> bool:
    """A capitalised word of letters (any script), apostrophes, dots and hyphens."""
    return word[0].isupper() and all(ch.isalpha() or ch in "'\u2019.-" for ch in word)


def clean_name(raw: str, outlets: set[str]) -> list[str]:
    """Person names in one byline string ("By Jane Doe and John Roe, AP" -> two names).

    A byline line's parts that open with a byline word ("By Dale Emmons | 06-11-2019",
    "Von Anna Schmidt<br>Berlin") hold its names; its other parts (the date, the place, the
    desk) then give none."""
    lines = raw.split(_LINE_BREAK) if _LINE_BREAK in raw else (raw,)
    parts = [p for line in lines for p in _PARTS.split(clean_text(line)) if p]
    bylined = []
    for i, part in enumerate(parts):
        if (by := _BY.match(part)) is None:
            continue
        if by.end() < len(part):
            bylined.append(_DASH.split(part, 1)[0])
        elif i + 1 < len(parts):
            # a byline word alone on its line or in its box ("<span>By</span><br><a>Jane
            # Doe</a>") goes with the part after it
            bylined.append(f"{part} {_DASH.split(parts[i + 1], 1)[0]}")
    names = []
    for part in bylined or parts:
        for piece in _NAMES.split(_NOISE.sub("", _BY.sub("", part))):
            piece = _NAME_END.sub("", _ROLE.sub("", _BY.sub("", piece))).strip(" .-\u2013\u2014:|")
            if _is_person(piece, outlets):
                names.append(piece.title() if piece.isupper() else piece)
    return names


def _is_person(text: str, outlets: set[str]) -> bool:
    words = text.split()
    if not 2 <= len(words) <= 5 or len(text) > 60:
        return False
    lower = text.lower()
    if lower in outlets or any(o and o in lower for o in outlets if len(o) > 3):
        return False
    if all(w.lower().strip(".") in _AGENCIES for w in words) or lower.split()[0] in (
        "staff",
        "the",
    ):
        return False
    if words[0].lower().strip(".") in _AGENCIES or any(
        w.lower().strip(".") in _OUTLET_WORDS for w in words
    ):
        return False
    capitalised = [w for w in words if w.lower() not in _PARTICLES]
    return all(_name_word(w) for w in capitalised) and not any(
        w.lower().strip(".") in ("staff", "news", "press", "desk", "team") for w in words
    )


def _jsonld_people(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            kind = str(item.get("@type") or "Person").lower()
            name = item.get("name")
            if "organization" in kind or not isinstance(name, str):
                continue
            out.append(name)
    return out


_AUTHOR_METAS = (
    "author",
    "article:author",
    "parsely-author",
    "sailthru.author",
    "dc.creator",
    "dcterms.creator",
    "byl",
    "citation_author",
)


def find_authors(
    root: HtmlElement, st: Structured, scope: HtmlElement | None, outlets: set[str]
) -> tuple[list[str], str | None]:
    """(names, source) from the most specific evidence that yields any person; the page's
    markup is only searched when the metadata names nobody."""
    sources: list[tuple[str, Callable[[], list[str]]]] = [
        ("json-ld", lambda: _jsonld_people(st.article.get("author")) if st.article else []),
        ("meta", lambda: [v for m in _AUTHOR_METAS for v in st.meta.get(m, ()) if "://" not in v]),
        (
            "microdata",
            lambda: [
                clean_text(el.get("content") or text_content(el))
                for el in st.itemprops.get("author", ())
            ],
        ),
        ("dom", lambda: _dom_bylines(scope if scope is not None else root)),
        ("dom", lambda: _old_inline_bylines(scope if scope is not None else root)),
    ]
    for source, raws in sources:
        names: list[str] = []
        for raw in raws():
            for name in clean_name(raw, outlets):
                if name not in names:
                    names.append(name)
        if names:
            return names, source
    return [], None


def _dom_bylines(area: HtmlElement) -> list[str]:
    found = [clean_text(text_content(a)) for a in area.iter("a") if attribute(a, "rel") == "author"]
    for n, (el, cls, ident) in enumerate(with_classes(area.iter(*_BYLINE_TAGS))):
        if (cls is not None or ident is not None) and has_word(cls, ident, _BYLINE_WORDS):
            found.append(_line_text(el))
        elif n < 400 and (own := el.text) and _BY.match(own) and (line := _byline_of(el)):
            # "By Jane Doe" / "Publicado por: ..." without byline markup
            found.append(line)
        if len(found) > 12:
            break
    return found


def _old_inline_bylines(area: HtmlElement) -> list[str]:
    """Old table layouts' bylines, in <font>, <b> or <i> with no markup naming them ("<font><b>By
    Dale Emmons</b> | 06-11-2019</font>", "<font><i>Von Gerda Maier</i></font>"); read only when
    nothing else names a writer, as such pages have many of these boxes."""
    found = []
    for el in area.iter(*_OLD_INLINE):
        if (own := el.text) and _BY.match(own) and (line := _byline_of(el)):
            found.append(line)
            if len(found) > 12:
                break
    return found


def _byline_of(el: HtmlElement) -> str | None:
    """The short line an element whose text opens with a byline word gives: its own, or, when
    it holds the word alone, the line it opens ("<p><strong>By</strong> Jane Doe | Des
    Moines</p>")."""
    text = clean_text(text_content(el))
    if len(text) >= 120:
        return None
    parent = el.getparent()
    if _BY.fullmatch(text) and parent is not None and parent[0] is el:
        before = parent.text
        if (not before or before.isspace()) and len(clean_text(text_content(parent))) < 120:
            return _line_text(parent)
    return _line_text(el)


def _line_text(el: HtmlElement) -> str:
    """The element's text with its line breaks (<br>, block boxes) kept as _LINE_BREAK."""
    if not len(el):
        return el.text or ""
    out: list[str] = []
    for event, node in etree.iterwalk(el, events=("start", "end")):
        tag = node.tag
        if event == "start":
            if tag == "br" or tag in BLOCK_TAGS:
                out.append(_LINE_BREAK)
            if node.text and isinstance(tag, str):
                out.append(node.text)
        else:
            if tag in BLOCK_TAGS:
                out.append(_LINE_BREAK)
            if node.tail and node is not el:
                out.append(node.tail)
    return "".join(out)
