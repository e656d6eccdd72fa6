"""Authors: people's names only.

Names come from JSON-LD `author` (Person entries; Organizations are skipped), <meta name=author>
and friends, `rel=author` links and byline-classed elements. Each candidate is cleaned ("By",
roles, dates, e-mail addresses, "and" lists) and kept only if it reads like a person's name:
not the outlet, not a news agency, not "Staff".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from scraper.parse.dom import (
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
_BY = re.compile(
    r"^\s*+(?:written\s+|posted\s+|reported\s+|words\s+|story\s+|geschrieben\s+|verfasst\s+)?(?:by|von|par|por|di|door|av)\b[:\s]*",
    re.I,
)
_SPLIT = re.compile(
    r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\|| · |(?<=[a-z]{2})\.\s+(?=[A-Z]))\s*",
    re.I,
)
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
_NOISE = re.compile(
    r"\S+@\S+|https?://\S+|@\w+|\b(?:updated|published|posted)\b.*$|\d.*$|\(.*?\)",
    re.I,
)
_ROLE = re.compile(
    r",?\s*\b(?:senior|chief|staff|special|political|foreign|deputy|executive|managing|contributing|"
    r"associate)?\s*(?:writer|reporter|editor|correspondent|columnist|contributor|photographer)\b.*$",
    re.I,
)
_PARTICLES = frozenset(words("de da del della di du van von der den la le bin al el y e"))
_BYLINE_TAGS = ("div", "span", "p", "a", "address", "li", "h3", "h4", "h5", "h6", "small", "em")
_BYLINE_WORDS = frozenset(
    ["byline", "author", "authors", "author-name", "byline-name", "writer", "contributor"]
)


def _name_word(word: str) -> bool:
    """A capitalised word of letters (any script), apostrophes, dots and hyphens."""
    return word[0].isupper() and all(ch.isalpha() or ch in "'\u2019.-" for ch in word)


def clean_name(raw: str, outlets: set[str]) -> list[str]:
    """Person names in one byline string ("By Jane Doe and John Roe, AP" -> two names)."""
    text = _BY.sub("", clean_text(raw))
    text = _NOISE.sub("", text)
    names = []
    for part in _SPLIT.split(text):
        part = _NAME_END.sub("", _ROLE.sub("", _BY.sub("", part))).strip(" .-\u2013\u2014:|")
        if _is_person(part, outlets):
            names.append(part.title() if part.isupper() else part)
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
            found.append(clean_text(text_content(el)))
        elif n < 400 and (own := el.text) and _BY.match(own):
            # "By Jane Doe" / "Publicado por: ..." without byline markup.
            text = clean_text(text_content(el))
            if len(text) < 120:
                found.append(text)
        if len(found) > 12:
            break
    return found
