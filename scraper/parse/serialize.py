"""`Content` as plain JSON data with a stable key order: what golden files and
`morgue parse` print."""

from __future__ import annotations

from typing import Any

from archive.record import Content


def content_to_json(content: Content) -> dict[str, Any]:
    return {
        "headline": content.headline,
        "subheadline": content.subheadline,
        "authors": list(content.authors),
        "published": content.published,
        "modified": content.modified,
        "captions": [c.to_json() for c in content.captions],
        "lead_image": content.lead_image,
        "body": [b.to_json() for b in content.body],
        "language": content.language,
        "site_name": content.site_name,
        "section": content.section,
        "tags": list(content.tags),
        "canonical_url": content.canonical_url,
        "parser": {"name": content.parser, "version": content.parser_version},
        "provenance": dict(content.provenance),
    }
