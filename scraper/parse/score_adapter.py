"""The corpus scorer's in-process hook.

score.py run CORPUS -o preds.jsonl --py scraper.parse.score_adapter:extract_article
"""

from __future__ import annotations

from typing import Any

from archive.record import Content
from scraper.errors import NotAnArticle, ParseError
from scraper.parse import parse_html


def extract_article(html: bytes, url: str | None) -> dict[str, Any]:
    """headline / title / published / body (paragraphs, blank-line separated) / captions.

    Captions go out as {"text", "credit"} objects: the scorer joins them back into the caption
    as the page shows it, which is what its truth holds. `article` is False for a page that
    is not an article; its main text is returned all the same (as `morgue parse` does)."""
    try:
        content = parse_html(html, url)
    except NotAnArticle as exc:
        if exc.content is None:
            return _no_answer(exc)
        return {**_answer(exc.content), "article": False, "not_article": exc.reason}
    except ParseError as exc:
        return _no_answer(exc)
    return {**_answer(content), "article": True}


def _no_answer(exc: ParseError) -> dict[str, Any]:
    return {
        "headline": None,
        "title": None,
        "published": None,
        "body": None,
        "captions": [],
        "error": str(exc),
    }


def _answer(content: Content) -> dict[str, Any]:
    return {
        "headline": content.headline,
        "title": content.title,
        "published": content.published,
        "body": content.text,
        "captions": [{"text": c.text, "credit": c.credit} for c in content.captions],
    }
