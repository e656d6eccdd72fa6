"""The corpus scorer's in-process hook.

score.py run CORPUS -o preds.jsonl --py scraper.parse.score_adapter:extract_article
"""

from __future__ import annotations

from typing import Any

from scraper.errors import ParseError
from scraper.parse import parse_html


def extract_article(html: bytes, url: str | None) -> dict[str, Any]:
    """headline / title / published / body (paragraphs, blank-line separated) / captions.

    Captions go out as {"text", "credit"} objects: the scorer joins them back into the caption
    as the page shows it, which is what its truth holds."""
    try:
        content = parse_html(html, url)
    except ParseError as exc:
        return {
            "headline": None,
            "title": None,
            "published": None,
            "body": None,
            "captions": [],
            "error": str(exc),
        }
    return {
        "headline": content.headline,
        "title": content.title,
        "published": content.published,
        "body": content.text,
        "captions": [{"text": c.text, "credit": c.credit} for c in content.captions],
    }
