"""Human-readable layouts of one article: the `morgue show` text (also the Markdown export)
and a small standalone HTML page. Pure functions of an `Article`."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence

from archive.record import Article

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def display_date(value: str | None) -> str | None:
    """ "2012-05-09T10:00:00+02:00" -> "May 09, 2012" (the page's own day, not UTC's)."""
    match = _DAY.match(value or "")
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return None
    return f"{_MONTHS[month - 1]} {day:02d}, {year}"


def render_text(article: Article, copies: Sequence[Mapping[str, str]] = ()) -> str:
    """headline, published day, captions, paragraphs, then the original URL; any part the
    article lacks is left out. Ends with one line per syndicated copy ({"id", "url",
    "source"}: the same text published as another article)."""
    c = article.content
    parts: list[str] = []
    if c.headline:
        parts.append(c.headline)
    day = display_date(c.published)
    if day:
        parts.append(day)
    captions = [
        f"{cap.text} **{cap.credit}**".strip() if cap.credit else cap.text
        for cap in c.captions
        if cap.text or cap.credit
    ]
    if captions:
        parts.append("\n".join(captions))
    parts += [block.text for block in c.body if block.text]
    url = article.canonical_url or article.url
    if url:
        parts += ["Original url:", f"<{url}>"]
    if copies:
        lines = [f"Copy: <{c['url']}> ({c['source']}, {c['id']})" for c in copies]
        parts += ["Also published as:", "\n".join(lines)]
    return "\n\n".join(parts) + "\n"


def render_html(article: Article) -> str:
    """A standalone, escaped HTML page of the article (no scripts, no remote resources)."""
    c = article.content
    esc = html.escape
    out = [
        "<!doctype html>",
        f'<html lang="{esc(c.language or "")}"><head><meta charset="utf-8">',
        f"<title>{esc(c.headline)}</title></head><body><article>",
        f"<h1>{esc(c.headline)}</h1>",
    ]
    if c.subheadline:
        out.append(f"<p><strong>{esc(c.subheadline)}</strong></p>")
    if c.authors:
        out.append(f"<p>By {esc(', '.join(c.authors))}</p>")
    day = display_date(c.published)
    if day and c.published:
        out.append(f'<p><time datetime="{esc(c.published)}">{esc(day)}</time></p>')
    for cap in c.captions:
        credit = f" <small>{esc(cap.credit)}</small>" if cap.credit else ""
        out.append(f"<figure><figcaption>{esc(cap.text)}{credit}</figcaption></figure>")
    tags = {"p": "p", "h": "h2", "quote": "blockquote", "li": "li"}
    for block in c.body:
        tag = tags[block.kind.value]
        out.append(f"<{tag}>{esc(block.text)}</{tag}>")
    url = article.canonical_url or article.url
    out.append(f'<p>Original url: <a href="{esc(url)}">{esc(url)}</a></p>')
    out.append("</article></body></html>")
    return "\n".join(out) + "\n"
