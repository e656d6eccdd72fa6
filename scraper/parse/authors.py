"""Authors: people's names only.

Names come from JSON-LD `author` (Person entries; Organizations are skipped), <meta name=author>
and friends, `rel=author` links and byline-classed elements. Each candidate is cleaned ("By",
roles, dates, e-mail addresses, "and" lists) and kept only if it reads like a person's name:
not the outlet, not a news agency, not "Staff".
"""

from __future__ import annotations

import re
from typing import Any

from scraper.parse.dom import HtmlElement, class_tokens, clean_text, select, text_content
from scraper.parse.structured import Structured

_AGENCIES = frozenset(
    [
        "ap",
        "associated",
        "press",
        "reuters",
        "afp",
        "agence",
        "france-presse",
        "bloomberg",
        "dpa",
        "efe",
        "ansa",
        "upi",
        "pti",
        "ians",
        "xinhua",
        "tass",
        "ria",
        "novosti",
        "kyodo",
        "yonhap",
        "cnn",
        "bbc",
        "nyt",
        "staff",
        "editor",
        "editors",
        "editorial",
        "team",
        "admin",
        "administrator",
        "desk",
        "newsroom",
        "news",
        "service",
        "wire",
        "wires",
        "correspondent",
        "reporter",
        "reporters",
        "contributor",
        "guest",
        "web",
        "writer",
        "writers",
        "press",
        "release",
        "the",
    ]
)
_BY = re.compile(
    r"^\s*(?:written\s+|posted\s+|reported\s+|words\s+|story\s+)?(?:by|von|par|por|di|door|av)\b[:\s]*",
    re.I,
)
_SPLIT = re.compile(r"\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\be\b|\|| · )\s*", re.I)
_NOISE = re.compile(
    r"\S+@\S+|https?://\S+|@\w+|\b(?:updated|published|posted)\b.*$|\d.*$|\(.*?\)",
    re.I,
)
_ROLE = re.compile(
    r",?\s*\b(?:senior|chief|staff|special|political|foreign|deputy|executive|managing|contributing|"
    r"associate)?\s*(?:writer|reporter|editor|correspondent|columnist|contributor|photographer)\b.*$",
    re.I,
)
_NAME_WORD = re.compile(
    "^(?:[A-Z\u00c0-\u00d6\u00d8-\u00de\u0100-\u017f][\\w'\u2019.\\-]*|[a-z]{1,3}|d'|O'\\w+|Mc\\w+)$"
)
_PARTICLES = frozenset(
    [
        "de",
        "da",
        "del",
        "della",
        "di",
        "du",
        "van",
        "von",
        "der",
        "den",
        "la",
        "le",
        "bin",
        "al",
        "el",
        "y",
        "e",
    ]
)
_BYLINE_WORDS = frozenset(
    ["byline", "author", "authors", "author-name", "byline-name", "writer", "contributor"]
)


def clean_name(raw: str, outlets: set[str]) -> list[str]:
    """Person names in one byline string ("By Jane Doe and John Roe, AP" -> two names)."""
    text = _BY.sub("", clean_text(raw))
    text = _NOISE.sub("", text)
    names = []
    for part in _SPLIT.split(text):
        part = _ROLE.sub("", _BY.sub("", part)).strip(" .-\u2013\u2014:|")
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
    capitalised = [w for w in words if w.lower() not in _PARTICLES]
    return all(_NAME_WORD.match(w) and w[0].isupper() for w in capitalised) and not any(
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


def find_authors(
    root: HtmlElement, st: Structured, scope: HtmlElement | None, outlets: set[str]
) -> tuple[list[str], str | None]:
    """(names, source) from the most specific evidence that yields any person."""
    sources: list[tuple[str, list[str]]] = []
    if st.article is not None:
        sources.append(("json-ld", _jsonld_people(st.article.get("author"))))
    metas = (
        "author",
        "article:author",
        "parsely-author",
        "sailthru.author",
        "dc.creator",
        "dcterms.creator",
        "byl",
        "citation_author",
    )
    sources.append(("meta", [v for m in metas for v in st.meta.get(m, ()) if "://" not in v]))
    sources.append(
        (
            "microdata",
            [
                clean_text(el.get("content") or text_content(el))
                for el in st.itemprops.get("author", ())
            ],
        )
    )
    area = scope if scope is not None else root
    dom = [clean_text(text_content(a)) for a in select(area, ".//a[@rel='author']")]
    for el in area.iter("div", "span", "p", "a", "address", "li"):
        if class_tokens(el) & _BYLINE_WORDS:
            dom.append(clean_text(text_content(el)))
            if len(dom) > 12:
                break
    sources.append(("dom", dom))
    for source, raws in sources:
        names: list[str] = []
        for raw in raws:
            for name in clean_name(raw, outlets):
                if name not in names:
                    names.append(name)
        if names:
            return names, source
    return [], None
