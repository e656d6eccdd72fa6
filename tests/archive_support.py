"""Helpers for the archive tests: pages built in code and a tiny parser of our own.

The real parser lives in scraper/parse and the archive never imports it; these tests hand the
archive `tiny_parse`, a module-level (so picklable, for rebuild's worker processes) function
that reads <h1>, <article> paragraphs, rel=canonical and article:modified_time.
"""

from __future__ import annotations

import contextlib
import html
from datetime import UTC, datetime, timedelta
from typing import Any

import lxml.html

from archive.record import Block, Caption, Content, RawPage

T0 = datetime(2026, 5, 9, 12, 0, 0, tzinfo=UTC)

_WORDS = (
    "council budget river bridge school mayor vote storm harbour police report election "
    "court ruling hospital nurses strike train delay museum opening festival market prices "
    "farmers drought water supply energy plan housing rent tenants library park"
)
WORDS = tuple(_WORDS.split())


def paragraphs(seed: int, count: int = 6, length: int = 40) -> list[str]:
    """Deterministic, varied English-like paragraphs."""
    out = []
    state = seed * 7919 + 17
    for _ in range(count):
        words = []
        for _ in range(length):
            state = (state * 1103515245 + 12345) % (1 << 31)
            words.append(WORDS[state % len(WORDS)])
        out.append(" ".join(words).capitalize() + ".")
    return out


def article_html(
    headline: str,
    body: list[str],
    *,
    canonical: str | None = None,
    sidebar: str = "Most read today",
    modified: str | None = None,
    caption: tuple[str, str | None] | None = None,
) -> bytes:
    head = f"<title>{html.escape(headline)}</title>"
    if canonical:
        head += f'<link rel="canonical" href="{html.escape(canonical)}">'
    if modified:
        head += f'<meta property="article:modified_time" content="{modified}">'
    figure = ""
    if caption:
        credit = f"<span class=credit>{html.escape(caption[1])}</span>" if caption[1] else ""
        text = html.escape(caption[0])
        figure = f'<figure><img src="/a.jpg"><figcaption>{text}{credit}</figcaption></figure>'
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in body)
    return (
        f"<!doctype html><html><head><meta charset=utf-8>{head}</head><body>"
        f"<nav>Home News Sport</nav><article><h1>{html.escape(headline)}</h1>"
        f"<time datetime=2012-05-09>May 9</time>{figure}{paras}</article>"
        f"<aside>{html.escape(sidebar)}</aside></body></html>"
    ).encode()


def make_page(
    url: str,
    body: bytes,
    *,
    requested: str | None = None,
    at: datetime = T0,
    status: int = 200,
    etag: str | None = None,
    redirects: tuple[str, ...] = (),
) -> RawPage:
    headers: list[tuple[str, str]] = [("Content-Type", "text/html; charset=utf-8")]
    if etag:
        headers.append(("ETag", etag))
    headers.append(("Last-Modified", "Wed, 09 May 2012 10:00:00 GMT"))
    return RawPage(
        requested_url=requested or url,
        final_url=url,
        status=status,
        headers=tuple(headers),
        body=body,
        fetched_at=at,
        redirects=redirects,
    )


class TinyParseError(Exception):
    pass


def _xp(node: Any, expr: str) -> list[Any]:
    """XPath results as a plain list (lxml's stubs type them as a wide union)."""
    return list(node.xpath(expr))


def tiny_parse(page: RawPage, source: str) -> Content:
    """Enough of a parser for the archive tests (and the archive benchmark)."""
    tree = lxml.html.document_fromstring(page.body)
    h1 = _xp(tree, "//h1")
    if not h1:
        raise TinyParseError(f"{page.final_url}: no headline")
    body = tuple(
        Block(" ".join(p.text_content().split()))
        for p in _xp(tree, "//article//p")
        if p.text_content().strip()
    )
    canonical = _xp(tree, "//link[@rel='canonical']/@href")
    modified = _xp(tree, "//meta[@property='article:modified_time']/@content")
    published = _xp(tree, "//article//time/@datetime")
    captions = []
    for fig in _xp(tree, "//article//figcaption"):
        credit = _xp(fig, ".//span[@class='credit']")
        credit_text = credit[0].text_content().strip() if credit else None
        if credit:
            credit[0].drop_tree()
        captions.append(Caption(fig.text_content().strip(), credit_text, None))
    return Content(
        headline=" ".join(h1[0].text_content().split()),
        body=body,
        canonical_url=str(canonical[0]) if canonical else None,
        modified=str(modified[0]) if modified else None,
        published=str(published[0]) if published else None,
        captions=tuple(captions),
        parser="tiny",
        parser_version="1",
    )


def tiny_parse_v2(page: RawPage, source: str) -> Content:
    """A 'new parser version': also reads the section from the URL."""
    from dataclasses import replace

    content = tiny_parse(page, source)
    section = page.final_url.rstrip("/").split("/")[-2] if page.final_url.count("/") > 3 else None
    return replace(content, section=section, parser_version="2")


def clock(start: datetime = T0, step: timedelta = timedelta(seconds=1)):  # type: ignore[no-untyped-def]
    """A fake `now` that advances one step per call."""
    moments = iter(start + step * i for i in range(1_000_000))
    return lambda: next(moments)


def sql(archive: Any, query: str, *args: Any) -> list[tuple[Any, ...]]:
    """Read the catalog directly (tests only: the package asks the Catalog)."""
    import sqlite3

    url = getattr(archive.catalog, "url", None)
    if url is not None:  # the PostgreSQL catalog: same tables, %s placeholders
        import psycopg

        with psycopg.connect(url) as conn:
            return [tuple(r) for r in conn.execute(query.replace("?", "%s"), args).fetchall()]
    with contextlib.closing(sqlite3.connect(archive.catalog_path)) as db:
        return [tuple(r) for r in db.execute(query, args).fetchall()]
