"""What the search index keeps of one version of an article: the five searched fields and
the metadata the reading side filters on (published day, section, authors), from its record."""

from __future__ import annotations

import re
from typing import Any

from archive.backends.catalog import SearchDoc
from archive.record import Article, upgrade_record
from archive.snippet import fold

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")


def search_doc(article: Article) -> SearchDoc:
    """What the index keeps of one version."""
    c = article.content
    published = c.published if c.published and _DAY.match(c.published) else None
    day = (published or article.to_json()["fetched_at"])[:10]
    captions = "\n".join(" ".join(filter(None, (cap.text, cap.credit))) for cap in c.captions)
    return SearchDoc(
        headline=c.headline,
        subheadline=c.subheadline or "",
        body="\n\n".join(block.text for block in c.body),
        captions=captions,
        authors="\n".join(c.authors),
        day=day,
        published=c.published,
        section_key=fold(c.section).strip() if c.section else None,
        authors_key="\n".join(fold(a) for a in c.authors),
        url=article.canonical_url,
    )


def snippet_text(record: dict[str, Any]) -> str:
    """What a search hit's snippet is cut from, straight from a record file's document
    (no `Article` is built: a search page reads twenty records for this alone): the
    subheadline, the body's paragraphs, the captions with their credits and the authors,
    one paragraph a line."""
    doc = upgrade_record(record)
    captions = (
        " ".join(filter(None, (c.get("text"), c.get("credit")))) for c in doc.get("captions", ())
    )
    parts = [
        doc.get("subheadline") or "",
        *(b.get("text") or "" for b in doc.get("body", ())),
        *captions,
        ", ".join(doc.get("authors", ())),
    ]
    return "\n".join(p for p in parts if p)
