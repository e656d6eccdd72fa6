"""Any bytes in, a Content or a parser error out: hypothesis mutates recorded pages (cuts,
splices, byte flips, inserted markup and encodings) and throws raw bytes at the parser."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archive.record import Content, RawPage
from scraper.errors import ParseError
from scraper.parse import parse_html, parse_page
from tests.parse_support import recorded_pages

SEEDS = [p.html.read_bytes() for p in recorded_pages()]
SNIPPETS = [
    b"<",
    b">",
    b"</div>",
    b"<script>",
    b"<![CDATA[",
    b"<!--",
    b"-->",
    b"\x00",
    b"\xff\xfe",
    b"\xef\xbb\xbf",
    b"<meta charset=shift_jis>",
    b"<meta charset=utf-16>",
    b'<meta charset="x">',
    b'<script type="application/ld+json">{"@graph": [',
    b"]}</script>",
    b"<figure>",
    b"<time datetime='9999-99-99'>",
    b"&#xD800;",
    b"&#0;",
    b"<table><tr><td>",
    b"<?xml version='1.0' encoding='ebcdic'?>",
]


@st.composite
def mutated_pages(draw: st.DrawFn) -> bytes:
    page = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        op = draw(st.sampled_from(["cut", "splice", "flip", "insert", "truncate"]))
        at = draw(st.integers(min_value=0, max_value=max(0, len(page) - 1)))
        if op == "cut":
            del page[at : at + draw(st.integers(min_value=1, max_value=5000))]
        elif op == "splice":
            other = draw(st.sampled_from(SEEDS))
            start = draw(st.integers(min_value=0, max_value=len(other) - 1))
            page[at:at] = other[start : start + draw(st.integers(min_value=1, max_value=3000))]
        elif op == "flip" and page:
            page[at] = draw(st.integers(min_value=0, max_value=255))
        elif op == "insert":
            page[at:at] = draw(st.sampled_from(SNIPPETS))
        else:
            del page[at:]
    return bytes(page)


def _parses_or_refuses(body: bytes, content_type: str | None = None) -> None:
    try:
        content = parse_html(body, "https://example.org/fuzz", content_type=content_type)
    except ParseError as exc:
        reason = str(exc)
    else:
        assert isinstance(content, Content)
        assert content.headline
        assert content.body
        return
    assert "\n" not in reason  # one-line reasons


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mutated_pages(),
    st.sampled_from(
        [
            None,
            "text/html",
            "text/html; charset=cp1251",
            "text/html; charset=bogus",
            "text/html; charset=utf-16",
        ]
    ),
)
def test_mutated_pages_give_content_or_a_parse_error(body: bytes, content_type: str | None) -> None:
    _parses_or_refuses(body, content_type)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=4000))
def test_arbitrary_bytes_give_content_or_a_parse_error(body: bytes) -> None:
    _parses_or_refuses(body)


@settings(max_examples=30, deadline=None)
@given(st.binary(max_size=2000), st.integers(min_value=100, max_value=599))
def test_parse_page_with_any_status(body: bytes, status: int) -> None:
    raw = RawPage(
        requested_url="https://example.org/a",
        final_url="https://example.org/a",
        status=status,
        headers=(("Content-Type", "text/html"),),
        body=body,
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    with contextlib.suppress(ParseError):
        parse_page(raw)


def test_deeply_nested_markup_is_handled() -> None:
    body = b"<html><body>" + b"<div>" * 5000 + b"<p>deep</p>" + b"</div>" * 5000 + b"</body></html>"
    _parses_or_refuses(body)
