"""Response bodies under hard limits: Content-Encoding decoding with a cap, Content-Type checks.

The fetcher reads the raw stream itself and decodes gzip, deflate and brotli here, in pieces of
at most `PIECE` bytes, so the decompressed-size cap applies while decoding: a compression bomb
stops at the limit with memory bounded by the limit, never after memory runs out. What comes out
is the entity body as served (identity coding), byte for byte. `accepts` decides from the media
type (or, when the server names none, from the first bytes) whether a body is what the caller
asked for: HTML only, feeds and sitemaps, or anything.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli

PIECE = 64 * 1024  # most bytes one decoding step may produce
ACCEPT_ENCODING = "gzip, deflate, br"
ACCEPT_KINDS = ("html", "feed", "any")

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
FEED_TYPES = HTML_TYPES | {
    "application/xml",
    "text/xml",
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
    "text/plain",  # sitemap.txt
    "application/gzip",  # sitemap.xml.gz: gzip as the file's own format, not a coding
    "application/x-gzip",
}
ACCEPT_HEADERS = {
    "html": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
    "feed": "application/rss+xml,application/atom+xml,application/xml;q=0.9,text/xml;q=0.9,"
    "*/*;q=0.1",
    "any": "*/*",
    "robots": "text/plain,*/*;q=0.1",  # robots.txt: read up to a cap, the rest ignored
}


class BodyTooLarge(Exception):
    """The decoded body passed the cap; the fetcher reports it as `TooLarge`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"decompressed body larger than {limit} bytes")


class BadEncoding(Exception):
    """The body is not valid for its Content-Encoding, or the coding is unknown."""


class _Stage(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Zlib:
    """gzip (wbits 47), zlib-wrapped deflate (15) or raw deflate (-15), chosen on first bytes."""

    def __init__(self, coding: str) -> None:
        self._coding = coding
        self._obj: zlib._Decompress | None = None
        self._head = b""

    def _start(self, data: bytes) -> bytes:
        if self._coding != "deflate":
            self._obj = zlib.decompressobj(47)  # gzip, or zlib mislabelled as gzip
            return data
        head = self._head + data
        if len(head) < 2:
            self._head = head
            return b""
        # RFC 9110 "deflate" is zlib-wrapped, but some servers send raw deflate.
        wrapped = head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        self._obj = zlib.decompressobj(15 if wrapped else -15)
        return head

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._obj is None:
            data = self._start(data)
            if self._obj is None:
                return
        obj = self._obj
        try:
            while not obj.eof:
                out = obj.decompress(data, PIECE)
                data = obj.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < PIECE:
                    break
        except zlib.error as exc:
            raise BadEncoding(f"invalid {self._coding} body ({exc})") from None

    def finish(self) -> Iterator[bytes]:
        if self._obj is None or not self._obj.eof:
            raise BadEncoding(f"{self._coding} body ends early")
        return iter(())


class _Brotli:
    def __init__(self) -> None:
        self._obj = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        obj = self._obj
        try:
            out = obj.process(data, output_buffer_limit=PIECE)
            if out:
                yield out
            while not obj.can_accept_more_data():
                out = obj.process(b"", output_buffer_limit=PIECE)
                if not out:
                    break
                yield out
        except brotli.error as exc:
            raise BadEncoding(f"invalid br body ({exc})") from None

    def finish(self) -> Iterator[bytes]:
        obj = self._obj
        try:
            while not obj.is_finished():
                out = obj.process(b"", output_buffer_limit=PIECE)
                if not out:
                    raise BadEncoding("br body ends early")
                yield out
        except brotli.error as exc:
            raise BadEncoding(f"invalid br body ({exc})") from None


def _stage(coding: str) -> _Stage:
    if coding in ("gzip", "x-gzip", "deflate"):
        return _Zlib("deflate" if coding == "deflate" else "gzip")
    if coding == "br":
        return _Brotli()
    raise BadEncoding(f"unsupported Content-Encoding {coding!r}")


class BodyDecoder:
    """Undo a Content-Encoding (a list like `gzip` or `deflate, br`) from raw stream chunks.

    >>> d = BodyDecoder("gzip", limit=10_000_000)
    >>> for chunk in chunks: d.feed(chunk)    # raises BodyTooLarge at the limit
    >>> body = d.finish()
    """

    def __init__(self, content_encoding: str | None, *, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",")]
        # Codings are listed in the order applied, so they are undone in reverse.
        self._stages = [_stage(c) for c in reversed(codings) if c and c != "identity"]
        self._limit = limit
        self._out = bytearray()

    def _push(self, pieces: Iterator[bytes], index: int) -> None:
        for piece in pieces:
            if index == len(self._stages):
                if len(self._out) + len(piece) > self._limit:
                    raise BodyTooLarge(self._limit)
                self._out += piece
            else:
                self._push(self._stages[index].feed(piece), index + 1)

    def feed(self, chunk: bytes) -> None:
        self._push(iter((chunk,)), 0)

    def so_far(self) -> bytes:
        """What was decoded until now (for a body that is cut short on purpose)."""
        return bytes(self._out)

    def finish(self) -> bytes:
        for index, stage in enumerate(self._stages):
            self._push(stage.finish(), index + 1)
        return bytes(self._out)


def media_type(content_type: str | None) -> str | None:
    """`text/html; charset=utf-8` -> `text/html`; None when absent or blank."""
    if not content_type:
        return None
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind or None


def type_accepted(content_type: str | None, accept: str) -> bool | None:
    """True/False from the Content-Type alone; None when there is none and bytes must decide."""
    kind = media_type(content_type)
    if accept in ("any", "robots"):
        return True
    if kind is None:
        return None
    if accept == "html":
        return kind in HTML_TYPES
    return kind in FEED_TYPES or kind.endswith("+xml")


_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<!--")


def looks_like_html(body: bytes) -> bool:
    """Sniff an untyped body: does it start like an HTML document (BOM and blanks skipped)?"""
    start = body[:1024].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    return start.startswith(_HTML_STARTS)
