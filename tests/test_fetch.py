"""The fetcher against a real local server: what it sends, returns, follows and refuses."""

from __future__ import annotations

import gzip
import zlib

import brotli
import pytest

from archive.record import Validators
from scraper.errors import (
    BadStatus,
    DisallowedByRobots,
    FetchError,
    NotHtml,
    RobotsUnavailable,
    TooManyRedirects,
)
from tests import fetch_support
from tests.fetch_support import HTML, FakeClock, Reply, fetch_config

local_site_server = fetch_support.local_site_server
local_site = fetch_support.local_site
make_fetcher = fetch_support.make_fetcher

ROBOTS = b"User-agent: *\nDisallow: /private\n"


def robots(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "text/plain"})


def redirect(to: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": to})


def test_page_comes_back_as_served_with_an_honest_user_agent(local_site, make_fetcher):
    local_site.route("/a", Reply(200, HTML, {"Content-Type": "text/html", "ETag": '"v1"'}))
    cfg = fetch_config(from_header="archivist@example.org")
    page = make_fetcher(cfg).fetch(local_site.url("/a"))
    assert (page.status, page.body, page.header("etag")) == (200, HTML, '"v1"')
    assert (page.final_url, page.redirects, page.attempts) == (local_site.url("/a"), (), 1)
    seen = local_site.hits("/a")[0].headers
    assert seen["user-agent"] == cfg.user_agent
    assert "morgue/" in seen["user-agent"]
    assert "http" in seen["user-agent"]
    assert seen["from"] == "archivist@example.org"
    assert seen["accept-encoding"] == "gzip, deflate, br"


def test_robots_txt_is_fetched_once_before_anything_else(local_site, make_fetcher):
    local_site.route("/robots.txt", robots(ROBOTS))
    local_site.route("/a", Reply())
    local_site.route("/b", Reply())
    fetcher = make_fetcher()
    fetcher.fetch(local_site.url("/a"))
    fetcher.fetch(local_site.url("/b"))
    assert local_site.paths() == ["/robots.txt", "/a", "/b"]


def test_disallowed_path_is_never_requested(local_site, make_fetcher):
    local_site.route("/robots.txt", robots(ROBOTS))
    local_site.route("/private/x", Reply())
    with pytest.raises(DisallowedByRobots, match="robots"):
        make_fetcher().fetch(local_site.url("/private/x"))
    assert local_site.paths() == ["/robots.txt"]


def test_robots_group_for_our_product_token_applies(local_site, make_fetcher):
    local_site.route(
        "/robots.txt", robots(b"User-agent: morgue\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    )
    with pytest.raises(DisallowedByRobots):
        make_fetcher().fetch(local_site.url("/a"))
    assert local_site.paths() == ["/robots.txt"]


@pytest.mark.parametrize("status", [401, 403, 404, 410])
def test_robots_4xx_allows_everything(local_site, make_fetcher, status):
    local_site.route("/robots.txt", Reply(status, b"no", {"Content-Type": "text/plain"}))
    local_site.route("/a", Reply())
    assert make_fetcher().fetch(local_site.url("/a")).status == 200


def test_robots_5xx_keeps_the_host_off_limits_for_a_while(local_site, make_fetcher):
    clock = FakeClock()
    local_site.route("/robots.txt", Reply(503, b"busy"), robots(b"User-agent: *\nAllow: /\n"))
    local_site.route("/a", Reply())
    fetcher = make_fetcher(fetch_config(attempts=1), clock=clock)
    with pytest.raises(RobotsUnavailable, match="unavailable"):
        fetcher.fetch(local_site.url("/a"))
    with pytest.raises(RobotsUnavailable):
        fetcher.fetch(local_site.url("/a"))
    assert local_site.paths() == ["/robots.txt"]
    clock.now += 3601  # robots_error_wait (1 h) has passed
    assert fetcher.fetch(local_site.url("/a")).status == 200
    assert local_site.paths() == ["/robots.txt", "/robots.txt", "/a"]


def test_robots_is_fetched_again_after_its_ttl(local_site, make_fetcher):
    clock = FakeClock()
    local_site.route("/robots.txt", robots(b"User-agent: *\nAllow: /\n"), robots(ROBOTS))
    local_site.route("/private/a", Reply())
    fetcher = make_fetcher(clock=clock)
    fetcher.fetch(local_site.url("/private/a"))
    clock.now += 86401
    with pytest.raises(DisallowedByRobots):
        fetcher.fetch(local_site.url("/private/a"))
    assert local_site.paths() == ["/robots.txt", "/private/a", "/robots.txt"]


def test_second_fetch_is_conditional_and_gets_304(local_site, make_fetcher):
    headers = {
        "Content-Type": "text/html",
        "ETag": '"v1"',
        "Last-Modified": "Tue, 01 Sep 2026 10:00:00 GMT",
    }
    local_site.route("/a", Reply(200, HTML, headers), Reply(304, b"", {"ETag": '"v1"'}))
    fetcher = make_fetcher()
    first = fetcher.fetch(local_site.url("/a"))
    validators = Validators(etag=first.header("etag"), last_modified=first.header("last-modified"))
    second = fetcher.fetch(local_site.url("/a"), validators=validators)
    assert (second.status, second.body) == (304, b"")
    first_seen, second_seen = (h.headers for h in local_site.hits("/a"))
    assert "if-none-match" not in first_seen
    assert second_seen["if-none-match"] == '"v1"'
    assert second_seen["if-modified-since"] == "Tue, 01 Sep 2026 10:00:00 GMT"


def test_304_without_validators_is_a_bad_status(local_site, make_fetcher):
    local_site.route("/a", Reply(304, b"", {}))
    with pytest.raises(BadStatus, match="304"):
        make_fetcher().fetch(local_site.url("/a"))


def test_pdf_is_not_an_article_and_its_bytes_are_not_read(local_site, make_fetcher):
    pdf = b"%PDF-1.7\n" + b"x" * 100_000
    local_site.route("/doc.pdf", Reply(200, pdf, {"Content-Type": "application/pdf"}))
    fetcher = make_fetcher()
    with pytest.raises(NotHtml, match="not an article: content type application/pdf"):
        fetcher.fetch(local_site.url("/doc.pdf"))
    assert fetcher.fetch(local_site.url("/doc.pdf"), accept="any").body == pdf


def test_feeds_are_accepted_only_when_asked_for(local_site, make_fetcher):
    rss = b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>'
    local_site.route("/feed", Reply(200, rss, {"Content-Type": "application/rss+xml"}))
    fetcher = make_fetcher()
    assert fetcher.fetch(local_site.url("/feed"), accept="feed").body == rss
    with pytest.raises(NotHtml):
        fetcher.fetch(local_site.url("/feed"))


def test_untyped_body_is_sniffed_for_html(local_site, make_fetcher):
    local_site.route("/page", Reply(200, b"\n  <!DOCTYPE html><html></html>", {}))
    local_site.route("/blob", Reply(200, b"\x89PNG\r\n\x1a\n....", {}))
    fetcher = make_fetcher()
    assert fetcher.fetch(local_site.url("/page")).status == 200
    with pytest.raises(NotHtml, match="unknown"):
        fetcher.fetch(local_site.url("/blob"))


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("br", brotli.compress),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ],
)
def test_content_encoding_is_removed_byte_exact_and_kept_in_headers(
    local_site, make_fetcher, coding, encode
):
    body = HTML + "é ü 日本".encode() * 500
    served = {"Content-Type": "text/html", "Content-Encoding": coding}
    local_site.route("/z", Reply(200, encode(body), served))
    page = make_fetcher().fetch(local_site.url("/z"))
    assert page.body == body
    assert page.header("content-encoding") == coding


def test_unknown_content_encoding_is_a_clear_error(local_site, make_fetcher):
    served = {"Content-Type": "text/html", "Content-Encoding": "compress"}
    local_site.route("/z", Reply(200, b"\x1f\x9d...", served))
    with pytest.raises(FetchError, match="unsupported Content-Encoding 'compress'"):
        make_fetcher().fetch(local_site.url("/z"))


def test_redirects_are_followed_and_recorded(local_site, make_fetcher):
    local_site.route("/old", redirect("/older", 301))
    local_site.route("/older", redirect(local_site.url("/new")))
    local_site.route("/new", Reply())
    page = make_fetcher().fetch(local_site.url("/old"))
    assert page.final_url == local_site.url("/new")
    assert page.redirects == (local_site.url("/old"), local_site.url("/older"))
    assert (page.requested_url, page.attempts) == (local_site.url("/old"), 3)


def test_redirect_loop_stops(local_site, make_fetcher):
    local_site.route("/loop1", redirect("/loop2"))
    local_site.route("/loop2", redirect("/loop1"))
    with pytest.raises(TooManyRedirects, match="redirect loop"):
        make_fetcher().fetch(local_site.url("/loop1"))
    assert local_site.paths() == ["/robots.txt", "/loop1", "/loop2"]


def test_too_many_redirects_stop_at_the_limit(local_site, make_fetcher):
    for i in range(10):
        local_site.route(f"/r{i}", redirect(f"/r{i + 1}"))
    with pytest.raises(TooManyRedirects, match="more than 3 redirects"):
        make_fetcher(fetch_config(max_redirects=3)).fetch(local_site.url("/r0"))
    assert local_site.paths() == ["/robots.txt", "/r0", "/r1", "/r2", "/r3"]


def test_each_redirect_hop_is_checked_against_robots(local_site, make_fetcher):
    local_site.route("/robots.txt", robots(ROBOTS))
    local_site.route("/go", redirect("/private/secret"))
    local_site.route("/private/secret", Reply())
    with pytest.raises(DisallowedByRobots):
        make_fetcher().fetch(local_site.url("/go"))
    assert local_site.paths() == ["/robots.txt", "/go"]


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/x", "file:///etc/passwd"])
def test_only_http_and_https_are_fetched(local_site, make_fetcher, target):
    with pytest.raises(FetchError, match="only http and https"):
        make_fetcher().fetch(target)
    local_site.route("/go", redirect(target))
    with pytest.raises(FetchError, match="only http and https"):
        make_fetcher().fetch(local_site.url("/go"))


def test_other_4xx_fail_at_once(local_site, make_fetcher):
    local_site.route("/gone", Reply(410, b"gone"))
    with pytest.raises(BadStatus, match="HTTP 410") as info:
        make_fetcher().fetch(local_site.url("/gone"))
    assert info.value.status == 410
    assert len(local_site.hits("/gone")) == 1


def test_sitemaps_come_from_robots_txt(local_site, make_fetcher):
    local_site.route(
        "/robots.txt",
        robots(
            b"Sitemap: /news-sitemap.xml\nUser-agent: *\nAllow: /\n"
            b"Sitemap: http://other.example/s.xml\n"
        ),
    )
    fetcher = make_fetcher()
    assert fetcher.sitemaps(local_site.url("/any")) == [
        local_site.url("/news-sitemap.xml"),
        "http://other.example/s.xml",
    ]
    fetcher.sitemaps(local_site.url("/again"))
    assert local_site.paths() == ["/robots.txt"]


def test_the_sync_fetcher_works_inside_a_running_event_loop(local_site, make_fetcher):
    import asyncio

    local_site.route("/a", Reply())
    fetcher = make_fetcher()

    async def caller() -> int:
        return fetcher.fetch(local_site.url("/a")).status

    assert asyncio.run(caller()) == 200


def test_a_fetcher_must_be_opened_first():
    from scraper.config import PolitenessConfig
    from scraper.fetch import Fetcher

    with pytest.raises(RuntimeError, match="context manager"):
        Fetcher(fetch_config(), PolitenessConfig()).fetch("http://127.0.0.1/")


def test_robots_txt_redirects_are_followed(local_site, make_fetcher):
    # Routes are shared by both addresses: .1 answers the redirect, .2 the file.
    moved = local_site.url("/robots.txt", "127.0.0.2")
    local_site.route("/robots.txt", redirect(moved, 301), robots(ROBOTS))
    local_site.route("/private/a", Reply())
    fetcher = make_fetcher(fetch_config(allow=("127.0.0.0/8",)))
    with pytest.raises(DisallowedByRobots):
        fetcher.fetch(local_site.url("/private/a"))
    assert local_site.paths() == ["/robots.txt"]
    assert local_site.paths("127.0.0.2") == ["/robots.txt"]


def test_a_body_in_an_unknown_charset_is_kept_byte_exact(local_site, make_fetcher):
    body = "<html><body><p>Привет, мир</p></body></html>".encode("windows-1251")
    local_site.route("/ru", Reply(200, body, {"Content-Type": "text/html; charset=windows-1251"}))
    page = make_fetcher().fetch(local_site.url("/ru"))
    assert page.body == body
    assert page.content_type == "text/html; charset=windows-1251"
