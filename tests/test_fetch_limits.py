"""Hard size limits: huge pages and compression bombs stop at the limit, in bounded memory."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import brotli
import pytest

from scraper.errors import FetchError, TooLarge
from scraper.fetch.decoding import BadEncoding, BodyDecoder, BodyTooLarge
from tests import fetch_support
from tests.fetch_support import Reply, fetch_config

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site
make_fetcher = fetch_support.make_fetcher

MB = 1_000_000
BOMB_SIZE = 40 * MB  # what the bomb would inflate to


def _deflate(data: bytes) -> bytes:
    obj = zlib.compressobj(9)
    return obj.compress(data) + obj.flush()


ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, 9),
    "deflate": _deflate,
    "br": lambda data: brotli.compress(data, quality=4),
}


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    zeros = bytes(BOMB_SIZE)
    return {coding: encode(zeros) for coding, encode in ENCODERS.items()}


def peak_memory(call: Callable[[], object]) -> int:
    """Bytes allocated at the peak while `call` runs (all threads)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_a_compression_bomb_is_cut_off_at_the_limit_in_bounded_memory(
    local_site, make_fetcher, bombs, coding
):
    bomb = bombs[coding]
    assert len(bomb) < BOMB_SIZE / 200
    served = {"Content-Type": "text/html", "Content-Encoding": coding}
    local_site.route("/bomb", Reply(200, bomb, served))
    fetcher = make_fetcher(fetch_config(max_decompressed_bytes=MB))

    def fetch() -> None:
        with pytest.raises(TooLarge, match="decompressed body larger than the limit of 1000000"):
            fetcher.fetch(local_site.url("/bomb"))

    assert peak_memory(fetch) < 4 * MB


def test_a_50_mb_page_is_refused_at_the_size_limit(local_site, make_fetcher):
    def fifty_megabytes() -> Iterator[bytes]:
        block = b"<p>" + b"x" * (MB - 7) + b"</p>\n"
        for _ in range(50):
            yield block

    local_site.route(
        "/huge", Reply(200, b"", {"Content-Type": "text/html"}, chunks=fifty_megabytes)
    )
    fetcher = make_fetcher(fetch_config(max_body_bytes=5 * MB))

    def fetch() -> None:
        with pytest.raises(TooLarge, match="body larger than the limit of 5000000 bytes"):
            fetcher.fetch(local_site.url("/huge"))

    assert peak_memory(fetch) < 12 * MB


def test_a_declared_length_over_the_limit_is_refused_before_reading(local_site, make_fetcher):
    headers = {"Content-Type": "text/html", "Content-Length": str(50 * MB)}
    local_site.route("/huge", Reply(200, b"<html>", headers))
    with pytest.raises(TooLarge):
        make_fetcher().fetch(local_site.url("/huge"))


def test_a_page_at_the_limit_is_fine(local_site, make_fetcher):
    body = b"<html>" + b"x" * (MB - 6)
    local_site.route("/a", Reply(200, body, {"Content-Type": "text/html"}))
    assert make_fetcher(fetch_config(max_body_bytes=MB)).fetch(local_site.url("/a")).body == body


def test_a_truncated_gzip_body_is_an_error(local_site, make_fetcher):
    served = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    local_site.route("/a", Reply(200, gzip.compress(b"<html>" * 1000)[:-20], served))
    with pytest.raises(FetchError, match="gzip body ends early"):
        make_fetcher().fetch(local_site.url("/a"))


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_decoder_output_matches_for_any_chunking(coding):
    data = bytes(range(256)) * 4000 + b"tail"
    encoded = ENCODERS[coding](data)
    for size in (1, 7, 4096, len(encoded)):
        decoder = BodyDecoder(coding, limit=len(data))
        for i in range(0, len(encoded), size):
            decoder.feed(encoded[i : i + size])
        assert decoder.finish() == data
    decoder = BodyDecoder(coding, limit=len(data) - 1)

    def decode_all() -> bytes:
        decoder.feed(encoded)
        return decoder.finish()

    with pytest.raises(BodyTooLarge):
        decode_all()


def test_decoder_rejects_garbage():
    with pytest.raises(BadEncoding, match="invalid gzip"):
        BodyDecoder("gzip", limit=MB).feed(b"this is not gzip at all")
