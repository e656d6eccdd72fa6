"""morgue against a hostile site: every abuse ends in a stored article or one clear error.

Most cases run `morgue archive` (through `scraper.cli.main`) against a raw-socket server on
127.0.0.1 (tests/hostile_support.py) with small limits, and check the outcome: exit 0 with the
article stored, or exit 1 with one line on stderr naming the reason; never a traceback, a hang
(each case is timed) or a file outside the data folder. Others hit one stage directly: the
Fetcher with a fake resolver (names that resolve to private addresses), the parser with
malformed pages (time, growth with size, memory), the archive (pages that change on every
fetch, on-disk names), WARC import and crawl discovery.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archive.record import Content, RawPage
from archive.store import Archive
from scraper.cli import main
from scraper.config import Config, FetchConfig, PolitenessConfig
from scraper.crawl.discover import feed_links, page_links, parse_listing
from scraper.errors import BlockedAddress, FetchError, ParseError, TooLarge
from scraper.fetch import Fetcher
from scraper.parse import parse_html
from scraper.pipeline import ingest, source_for
from tests.hostile_support import (
    HostileSite,
    Request,
    article_html,
    dribble,
    gzip_bytes,
    hostile_site,  # noqa: F401 (the `hostile` fixture)
    raw,
    redirect,
    reply,
    static,
    write_config,
    zeros_gzip,
)

Cap = pytest.CaptureFixture[str]
Result = tuple[int, str, str, float]
FAST = {"request_timeout": "0.8s", "read_timeout": "0.5s", "url_budget": "1s"}  # stalls


def archive(
    tmp_path: Path, capsys: Cap, *urls: str, **fetch: object
) -> tuple[int, str, str, float]:
    config = write_config(tmp_path, **fetch)
    start = time.monotonic()
    code = main(["--config", str(config), "archive", *urls])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err, took


def assert_failed(result: Result, *reason: str, within: float = 5.0) -> str:
    code, out, err, took = result
    lines = [line for line in err.splitlines() if line.startswith("failed")]
    assert code == 1, (out, err)
    assert len(lines) == 1, err
    assert took < within, f"took {took:.1f} s"
    if reason:
        assert any(r in lines[0] for r in reason), lines[0]
    return lines[0]


def assert_stored(result: Result, within: float = 5.0) -> str:
    code, out, err, took = result
    assert code == 0, err
    assert out.startswith("new"), out
    assert took < within, f"took {took:.1f} s"
    return out


def settle(result: Result, *reason: str, within: float = 5.0) -> str:
    """Either outcome is fine, as long as it is one of the two, in time: the output line."""
    code, out, err, took = result
    assert code in (0, 1), err
    assert took < within, f"took {took:.1f} s"
    if code == 1:
        return assert_failed(result, *reason, within=within)
    assert out.split()[0] in ("new", "updated", "unchanged", "duplicate"), out
    return out


def files_outside(tmp_path: Path) -> list[Path]:
    data = tmp_path / "data"
    return [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and data not in p.parents and p.name != "config.yaml"
    ]


# ----------------------------------------------------------------------------- the wire


def test_baseline_article_is_stored(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/news/a", static(article_html()))
    assert_stored(archive(tmp_path, capsys, url))
    assert files_outside(tmp_path) == []


def test_slowloris_headers_never_finished(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        dribble(hostile, conn, b"HTTP/1.1 200 OK\r\nX-Slow: ", pause=0.05)

    url = hostile.route("/slow", handler)
    assert_failed(archive(tmp_path, capsys, url, **FAST), "within", "timed out")


def test_slowloris_body_trickled_forever(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 99999\r\n\r\n")
        dribble(hostile, conn, b"<html><body>", pause=0.05)

    url = hostile.route("/slow", handler)
    assert_failed(archive(tmp_path, capsys, url, **FAST), "within", "timed out")


def test_endless_chunked_body_stops_at_the_size_limit(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"<p>" + b"x" * 65_000 + b"</p>"
        frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
        while not hostile.stopping():
            conn.sendall(frame)

    url = hostile.route("/endless", handler)
    assert_failed(archive(tmp_path, capsys, url), "larger than the limit")


def test_content_length_longer_than_body(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    body = article_html()
    url = hostile.route("/short", static(body, headers={"Content-Length": str(len(body) + 500)}))
    assert_failed(archive(tmp_path, capsys, url), "connection", "ended", "incomplete")


def test_content_length_shorter_than_body(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    body = article_html()
    url = hostile.route(
        "/long", static(body + b"<p>junk</p>" * 100, headers={"Content-Length": str(len(body))})
    )
    assert_stored(archive(tmp_path, capsys, url))


def test_content_length_garbage(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/cl", static(article_html(), headers={"Content-Length": "-5, 12abc"}))
    assert_failed(archive(tmp_path, capsys, url), "protocol", "connection")


def test_gzip_bomb_is_cut_off(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    bomb = zeros_gzip(200 * 1024 * 1024)
    url = hostile.route("/bomb", static(bomb, headers={"Content-Encoding": "gzip"}))
    assert_failed(archive(tmp_path, capsys, url), "decompressed body larger")


def test_brotli_bomb_is_cut_off(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    import brotli

    bomb = brotli.compress(b"\0" * (64 * 1024 * 1024), quality=5)
    url = hostile.route("/bomb", static(bomb, headers={"Content-Encoding": "br"}))
    assert_failed(archive(tmp_path, capsys, url), "decompressed body larger")


def test_nested_gzip_bomb_is_cut_off(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    inner = zeros_gzip(100 * 1024 * 1024)
    bomb = gzip_bytes(gzip_bytes(inner))
    url = hostile.route("/bomb", static(bomb, headers={"Content-Encoding": "gzip, gzip, gzip"}))
    assert_failed(archive(tmp_path, capsys, url), "decompressed body larger")


def test_many_stacked_codings_refused(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    body = article_html()
    for _ in range(40):
        body = gzip_bytes(body)
    url = hostile.route(
        "/deep", static(body, headers={"Content-Encoding": ", ".join(["gzip"] * 40)})
    )
    settle(archive(tmp_path, capsys, url))


def test_invalid_gzip_body(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route(
        "/bad", static(b"\x1f\x8bnot gzip at all", headers={"Content-Encoding": "gzip"})
    )
    assert_failed(archive(tmp_path, capsys, url), "invalid gzip")


def test_unknown_content_encoding(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/enc", static(article_html(), headers={"Content-Encoding": "zstd-x"}))
    assert_failed(archive(tmp_path, capsys, url), "Content-Encoding")


def test_huge_header_block(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n")
        line = b"X-Junk: " + b"a" * 8000 + b"\r\n"
        for _ in range(2000):  # 16 MB of headers
            if hostile.stopping():
                return
            conn.sendall(line)
        conn.sendall(b"\r\n" + article_html())

    url = hostile.route("/headers", handler)
    assert_failed(archive(tmp_path, capsys, url), "protocol", "connection", "within")


def test_thousands_of_small_headers(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    headers = "".join(f"X-H{n}: v\r\n" for n in range(5000)).encode()
    body = article_html()
    data = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n"
        + headers
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    url = hostile.route("/headers", raw(data))
    settle(archive(tmp_path, capsys, url))


@pytest.mark.parametrize(
    "status_line",
    [
        b"HTTP/1.1 abc OK\r\n",
        b"HTTP/1.1 99999 Big\r\n",
        b"HTTP/1.1 -200 OK\r\n",
        b"HTTP/9.9 200 OK\r\n",
        b"SPAM\r\n",
        b"HTTP/1.1 200 OK\nContent-Type: text/html\n",
        b"\x00\x01\x02\x03\r\n",
    ],
)
def test_invalid_status_lines(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, status_line: bytes
) -> None:
    url = hostile.route("/bad", raw(status_line + b"\r\n" + article_html()))
    settle(archive(tmp_path, capsys, url))


def test_http09_response(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/old", raw(article_html()))
    assert_failed(archive(tmp_path, capsys, url), "protocol", "connection")


def test_connection_reset_mid_body(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        body = article_html()
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()

    url = hostile.route("/reset", handler)
    assert_failed(archive(tmp_path, capsys, url), "connection")


def test_server_closes_without_answer(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/nothing", raw(b""))
    assert_failed(archive(tmp_path, capsys, url), "connection")


# ----------------------------------------------------------------------------- redirects


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://127.0.0.1/x", "only http and https"),
        ("data:text/html,<h1>x</h1>", "only http and https"),
        ("javascript:alert(1)", "only http and https"),
        ("gopher://127.0.0.1:6379/_INFO", "only http and https"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.2]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://127.0.0.2/", "loopback"),
        ("http://2130706434/", "loopback"),  # 127.0.0.2 as one integer
        ("http://0x7f.0.0.2/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://user:pass@127.0.0.2/", "loopback"),
        ("http://[fe80::1%25eth0]/", ""),
        ("http://127.0.0.1:99999/", ""),
        ("http://[::1", ""),
        ("http://[zz]/", ""),
        ("http://a:b:c/", ""),
        ("//[::1", ""),
        ("http://%00/", ""),
        ("http://\u0000x/", ""),
        ("http://127.0.0.1:0/", ""),
        ("http://", ""),  # resolves to the page itself: a loop
        ("http://exa mple.com/", ""),
    ],
)
def test_redirect_to_forbidden_targets(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, location: str, reason: str
) -> None:
    url = hostile.route("/go", redirect(location))
    line = assert_failed(archive(tmp_path, capsys, url))
    assert reason in line


def test_header_injection_in_location(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    # A Location with an encoded CRLF must not smuggle a header into the next request.
    hostile.route("/ok", static(article_html()))
    url = hostile.route("/go", redirect("/ok%0d%0aX-Injected:%20yes"))
    archive(tmp_path, capsys, url)
    assert all("x-injected" not in r.headers for r in hostile.seen)


def test_raw_crlf_in_location(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    hostile.route("/ok", static(article_html()))
    data = b"HTTP/1.1 302 Found\r\nLocation: /ok\rX-Injected: yes\r\nContent-Length: 0\r\n\r\n"
    url = hostile.route("/go", raw(data))
    settle(archive(tmp_path, capsys, url))
    assert all("x-injected" not in r.headers for r in hostile.seen)


def test_redirect_loop_with_varying_urls(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        n = int(request.target.partition("?")[2] or 0)
        reply(conn, status="302 Found", headers={"Location": f"/a?{n + 1}"}, content_type=None)

    url = hostile.route("/a", handler)
    assert_failed(archive(tmp_path, capsys, url), "redirects")
    assert hostile.hits("/a") <= 6 + 1


def test_relative_redirect_tricks(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    hostile.route("/ok", static(article_html()))
    url = hostile.route("/x/y", redirect("../../../../ok"))
    assert_stored(archive(tmp_path, capsys, url))
    url = hostile.route("/s", redirect("//169.254.169.254/"))
    assert_failed(archive(tmp_path, capsys, url), "link-local")
    url = hostile.route("/b", redirect("\\\\169.254.169.254\\x"))
    settle(archive(tmp_path, capsys, url))  # a path on this host (404), never another host


def test_redirect_without_location(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/go", raw(b"HTTP/1.1 301 Moved\r\nContent-Length: 0\r\n\r\n"))
    assert_failed(archive(tmp_path, capsys, url), "HTTP 301")


def test_very_long_redirect_location(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    url = hostile.route("/go", redirect("/" + "a" * 60_000))
    assert_failed(archive(tmp_path, capsys, url))


# ----------------------------------------------------------------------------- robots, Retry-After


def test_robots_50mb_is_read_to_its_first_500_kib(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 52428800\r\n\r\n"
            b"User-agent: *\nDisallow: /private/\n"
        )
        line = b"Disallow: /nothing-here\n" * 4096
        sent = 0
        while sent < 52428800 and not hostile.stopping():
            conn.sendall(line)
            sent += len(line)

    hostile.route("/robots.txt", handler)
    url = hostile.route("/news/a", static(article_html()))
    hidden = hostile.route("/private/a", static(article_html()))
    assert_stored(archive(tmp_path, capsys, url))
    assert_failed(archive(tmp_path, capsys, hidden), "DisallowedByRobots")
    assert hostile.hits("/private/a") == 0


def test_robots_gzip_bomb_is_read_to_its_first_500_kib(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    bomb = zeros_gzip(100 << 20)
    hostile.route(
        "/robots.txt", static(bomb, content_type="text/plain", headers={"Content-Encoding": "gzip"})
    )
    url = hostile.route("/news/a", static(article_html()))
    assert_stored(archive(tmp_path, capsys, url))


def test_robots_binary(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    hostile.route("/robots.txt", static(bytes(range(256)) * 100, content_type="text/plain"))
    url = hostile.route("/news/a", static(article_html()))
    assert_stored(archive(tmp_path, capsys, url))


def test_robots_redirects_to_private_address(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    hostile.route("/robots.txt", redirect("http://169.254.169.254/robots.txt"))
    url = hostile.route("/news/a", static(article_html()))
    settle(archive(tmp_path, capsys, url), "link-local")


@pytest.mark.parametrize(
    "value",
    [
        "-5",
        "99999999999999999999999",
        "garbage",
        "1e309",
        "Fri, 31 Dec 99999 23:59:59 GMT",
        "nan",
        "",
        "1" * 400,
        "9" * 5000,
        "Fri, 31 Dec 9999 23:59:59 -1400",
    ],
)
def test_retry_after_absurd_values(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, value: str
) -> None:
    url = hostile.route(
        "/busy",
        static(
            b"busy", status="503 Busy", headers={"Retry-After": value}, content_type="text/plain"
        ),
    )
    assert_failed(archive(tmp_path, capsys, url), "503", "parked")


# ----------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    "target",
    [
        "/../../../../etc/passwd",
        "/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/news/" + "a" * 5000,
        "/news/a?x=" + "%00" * 200,
    ],
)
def test_odd_urls_store_inside_the_data_dir(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, target: str
) -> None:
    hostile.routes[""] = static(article_html())

    def any_path(conn: socket.socket, request: Request) -> None:
        reply(conn, article_html())

    hostile.route(target.split("?")[0], any_path)
    for path in ("/etc/passwd", "/a/%2e%2e/%2e%2e/%2e%2e/etc/passwd"):
        hostile.route(path, any_path)
    settle(archive(tmp_path, capsys, hostile.url(target)))
    assert files_outside(tmp_path) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/\r\nX-Injected: yes",
        "http://user:pass@127.0.0.2/",
        "http://xn--nxasmq6b.example./",
        "http://ex\u00e4mple.invalid/",
        "http://[::1/",
        "http://" + "a" * 300 + ".invalid/",
        "not a url",
        "",
    ],
)
def test_odd_urls_on_the_command_line(tmp_path: Path, capsys: Cap, url: str) -> None:
    assert_failed(archive(tmp_path, capsys, url))


# ----------------------------------------------------------------------------- addresses


def fetch_with_dns(names: dict[str, list[str]], url: str, **fetch: object) -> RawPage:
    """One fetch where `names` replaces DNS; loopback 127.0.0.1 is the only allowed address."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise OSError(f"no such host {host}")
        return names[host]

    cfg = FetchConfig(
        allow=("127.0.0.1",),
        attempts=1,
        request_timeout=2.0,
        url_budget=3.0,
        **fetch,  # type: ignore[arg-type]
    )
    with Fetcher(cfg, PolitenessConfig(delay=0.0), resolve=resolve) as fetcher:
        return fetcher.fetch(url)


@pytest.mark.parametrize(
    ("addresses", "rule"),
    [
        (["127.0.0.2"], "loopback"),
        (["::1"], "loopback"),
        (["0.0.0.0"], "unspecified"),
        (["::"], "unspecified"),
        (["::ffff:127.0.0.2"], "loopback"),
        (["::ffff:169.254.169.254"], "link-local"),
        (["169.254.169.254"], "link-local"),
        (["fe80::1"], "link-local"),
        (["fc00::1"], "private"),
        (["192.168.1.1"], "private"),
        (["100.64.0.1"], "non-public"),
        (["224.0.0.1"], "multicast"),
        (["127.0.0.1", "10.0.0.1"], "private"),  # one bad address refuses the name
        (["64:ff9b::7f00:2"], ""),  # NAT64 of 127.0.0.2
        (["2002:7f00:2::"], ""),  # 6to4 of 127.0.0.2
    ],
)
def test_names_resolving_to_private_addresses_are_refused(
    hostile: HostileSite, addresses: list[str], rule: str
) -> None:
    url = hostile.route("/go", redirect(f"http://evil.test:{hostile.port}/x"))
    hostile.route("/x", static(article_html()))
    with pytest.raises(BlockedAddress) as info:
        fetch_with_dns({"evil.test": addresses}, url)
    assert rule in str(info.value)
    assert "\n" not in str(info.value)
    assert hostile.hits("/x") == 0


def test_name_resolving_to_nothing_is_a_fetch_error(hostile: HostileSite) -> None:
    url = hostile.route("/go", redirect("http://" + "a" * 70 + ".test/"))
    with pytest.raises(FetchError):
        fetch_with_dns({}, url)


def test_idn_host_is_fetched_by_its_punycode(hostile: HostileSite) -> None:
    hostile.route("/x", static(article_html()))
    page = fetch_with_dns(
        {"xn--bcher-kva.test": ["127.0.0.1"]}, f"http://bücher.test:{hostile.port}/x"
    )
    assert page.status == 200
    assert hostile.seen[-1].headers["host"].startswith("xn--bcher-kva.test")


def test_credentials_in_url_are_not_sent_to_the_server(hostile: HostileSite) -> None:
    hostile.route("/x", static(article_html()))
    page = fetch_with_dns({}, f"http://user:secret@127.0.0.1:{hostile.port}/x")
    assert all("authorization" not in r.headers for r in hostile.seen)
    assert not any("secret" in repr(r) for r in hostile.seen)
    # nor kept: the stored URLs (and so the raw metadata and WARC exports) carry none
    assert "secret" not in repr(page.meta_json())
    assert page.requested_url == f"http://127.0.0.1:{hostile.port}/x"


# ----------------------------------------------------------------------------- the parser


def parse(html: bytes, content_type: str | None = None) -> tuple[Content | ParseError, float]:
    """The parse result and the CPU time it took (this thread's: other load on a shared
    machine does not count)."""
    start = time.thread_time()
    try:
        result: Content | ParseError = parse_html(
            html, "http://127.0.0.1/news/a", content_type=content_type
        )
    except ParseError as exc:
        result = exc
    assert "\n" not in str(result)
    return result, time.thread_time() - start


BASE = article_html()


def ld(body: bytes) -> bytes:
    return BASE.replace(
        b"</head>", b'<script type="application/ld+json">' + body + b"</script></head>"
    )


@pytest.mark.parametrize(
    ("name", "html"),
    [
        (
            "100k nested divs",
            b"<html><body><h1>Deep</h1>" + b"<div>" * 100_000 + b"<p>x</p>" + b"</div>" * 100_000,
        ),
        ("100k unclosed b", b"<html><body><h1>Deep</h1>" + b"<b>" * 100_000 + b"text " * 100),
        ("100k nested in article", BASE.replace(b"<article>", b"<article>" + b"<div>" * 100_000)),
        ("100k nested tables", b"<html><body>" + b"<table><tr><td>" * 30_000 + b"x"),
        ("20 MB single line", BASE.replace(b"Paragraph 0.", b"x" * 20_000_000)),
        ("NUL bytes", BASE.replace(b" ", b"\x00 ")),
        ("only NULs", b"\x00" * 100_000),
        ("empty", b""),
        ("binary", bytes(range(256)) * 400),
        (
            "jsonld 10 MB",
            ld(
                b'{"@type":"NewsArticle","headline":"H","articleBody":"'
                + b"word " * 2_000_000
                + b'"}'
            ),
        ),
        ("jsonld 100k deep list", ld(b"[" * 100_000 + b"]" * 100_000)),
        ("jsonld 100k deep dict", ld(b'{"a":' * 100_000 + b"1" + b"}" * 100_000)),
        ("jsonld not json", ld(b"{{{{ nope ]]]" * 10_000)),
        (
            "jsonld 100k items",
            ld(
                b"["
                + b",".join(b'{"@type":"NewsArticle","headline":"H%d"}' % i for i in range(100_000))
                + b"]"
            ),
        ),
        (
            "jsonld wrong types",
            ld(
                b'{"@type":[1,{}],"headline":[[[{}]]],"author":{"name":{"name":[1]}},"datePublished":-1e308,"image":{"url":7}}'
            ),
        ),
        ("jsonld huge number", ld(b'{"@type":"NewsArticle","headline":1' + b"0" * 5000 + b"}")),
        (
            "xml decl with entities",
            b'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY a "aaaaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
            + BASE.replace(b"Paragraph 0.", b"&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"),
        ),
        ("bogus tags", b"<html><body>" + b"<\x00\xff/ a=b c='d>" * 10_000),
        (
            "100k attributes",
            b"<html><body><div "
            + b" ".join(b"a%d=x" % i for i in range(100_000))
            + b"><h1>H</h1></div>",
        ),
    ],
)
def test_malformed_pages_give_content_or_parse_error(name: str, html: bytes) -> None:
    _, took = parse(html)
    assert took < 10, f"{name}: {took:.1f} s"


def test_xxe_in_a_page_never_reads_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-HTML")
    html = (
        f'<?xml version="1.0"?><!DOCTYPE html [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'.encode()
        + BASE.replace(b"Paragraph 0.", b"&x;")
    )
    result, _ = parse(html)
    assert isinstance(result, Content)
    assert "TOPSECRET" not in repr(result)


@pytest.mark.parametrize(
    ("html", "content_type"),
    [
        (BASE.replace(b"council", b"c\xff\xfe\xc3ouncil"), "text/html; charset=utf-8"),
        (BASE.decode().encode("cp1251"), "text/html; charset=shift_jis"),
        (b"\xff\xfe" + BASE.decode().encode("utf-16-le"), None),
        (BASE.decode().encode("utf-16-le"), "text/html; charset=utf-16"),
        (BASE.decode().encode("utf-16-be"), None),
        (BASE.replace(b"charset='utf-8'", b"charset='x-bogus-zz'"), None),
        (BASE.replace(b"charset='utf-8'", b"charset='rot13'") + b"\xff", None),
        (BASE.replace(b"charset='utf-8'", b"charset='base64'") + b"\xff", None),
        (BASE.replace(b"charset='utf-8'", b"charset='undefined'") + b"\xff", None),
        (BASE.replace(b"charset='utf-8'", b"charset='utf-7'") + b"+ADw-script+AD4-", None),
        (BASE + b"\xff", "text/html; charset=zlib"),
        (BASE + b"\xff", "text/html; charset=uu_codec"),
        (BASE + b"\xff", "text/html; charset=unicode_escape"),
        (BASE + b"\xff", 'text/html; charset="; charset=utf-32"'),
    ],
)
def test_charset_lies_still_give_the_article(
    html: bytes, content_type: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    result, _ = parse(html, content_type)
    assert isinstance(result, Content), result
    assert result.headline == "Council votes to rebuild the old harbour bridge"
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]


@pytest.mark.parametrize(
    "value",
    [
        "99999-05-09T10:00:00+00:00",
        "0000-00-00",
        "0001-01-01T00:00:00-14:00",
        "9999-12-31T23:59:59+14:00",
        "2024-13-45T99:99:99+99:00",
        "-2024-05-09",
        "1e308",
    ],
)
def test_absurd_dates_are_dropped_not_raised(value: str) -> None:
    html = BASE.replace(b"2024-05-09T10:00:00+00:00", value.encode())
    html = html.replace(
        b"</head>",
        b'<script type="application/ld+json">'
        b'{"@type":"NewsArticle","headline":"x","datePublished":"'
        + value.encode()
        + b'"}</script></head>',
    )
    result, _ = parse(html)
    assert isinstance(result, Content)
    if result.published is not None:
        year = int(result.published[:4])
        assert 1 <= year <= 9999


def _grow(make: Callable[[int], bytes], small: int) -> float:
    """How much longer a 10x larger page takes to parse (best of three; ~10 when linear)."""

    def best(n: int) -> float:
        html = make(n)
        return min(parse(html)[1] for _ in range(3))

    return best(small * 10) / max(best(small), 1e-3)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("paragraphs", lambda n: article_html(paragraphs=n)),
        (
            "figures",
            lambda n: BASE.replace(
                b"</article>",
                b"".join(
                    b"<figure><img src='/i%d.jpg'>"
                    b"<figcaption>Caption number %d (Photo: AP)</figcaption></figure>" % (i, i)
                    for i in range(n)
                )
                + b"</article>",
            ),
        ),
        (
            "headings",
            lambda n: BASE.replace(
                b"</article>", b"<h2>Another heading</h2><p>x y z</p>" * n + b"</article>"
            ),
        ),
        (
            "dates",
            lambda n: BASE.replace(
                b"</article>",
                b"<time datetime='2020-01-01'>Jan 1, 2020</time> " * n + b"</article>",
            ),
        ),
        (
            "bylines",
            lambda n: BASE.replace(
                b"</article>", b"<span class='byline author'>By Jim Bob</span>" * n + b"</article>"
            ),
        ),
        (
            "links",
            lambda n: BASE.replace(
                b"</article>", b"<p><a href='/x'>Related story link</a></p>" * n + b"</article>"
            ),
        ),
        (
            "jsonld items",
            lambda n: ld(
                b"["
                + b",".join(b'{"@type":"NewsArticle","headline":"H%d"}' % i for i in range(n))
                + b"]"
            ),
        ),
    ],
)
def test_parser_time_grows_linearly(name: str, make: Callable[[int], bytes]) -> None:
    assert _grow(make, 1000) < 25, name


def test_headline_of_one_megabyte_is_stored_or_refused(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    url = hostile.route("/news/a", static(article_html(headline="Word " * 200_000)))
    settle(archive(tmp_path, capsys, url), within=10)


def test_many_figures_and_paragraphs_are_stored(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    figures = b"".join(
        b"<figure><img src='/i%d.jpg'>"
        b"<figcaption>Photo %d of the bridge (Photo: AP)</figcaption></figure>" % (i, i)
        for i in range(3000)
    )
    url = hostile.route(
        "/news/a",
        static(article_html(paragraphs=3000).replace(b"</article>", figures + b"</article>")),
    )
    assert_stored(archive(tmp_path, capsys, url), within=15)


# ----------------------------------------------------------------------------- the archive


def test_nonce_in_the_sidebar_makes_no_new_versions(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    counter = iter(range(1000))

    def handler(conn: socket.socket, request: Request) -> None:
        n = next(counter)
        nonce = f"{n * 7919:08x}"
        body = article_html(
            extra_head=f"<meta name='csrf-token' content='{nonce}'>",
            extra_body=f"<div class='sidebar'><p>Most read now, visitor {n}, {nonce}</p></div>",
        )
        reply(conn, body)

    url = hostile.route("/news/a", handler)
    outcomes = [archive(tmp_path, capsys, url)[1].split()[0] for _ in range(4)]
    assert outcomes[0] == "new"
    assert set(outcomes[1:]) == {"unchanged"}, outcomes
    with Archive.open(tmp_path / "data") as store:
        article = store.find(url)
        assert article is not None
        assert len(store.versions(article.id)) == 1


LAYOUT_NAMES = re.compile(
    r"^(catalog\.sqlite(-wal|-shm|-journal)?|[0-9a-f]{64}\.(html\.(zst|gz)|meta\.json|[0-9a-f]{16,64}\.fetch\.json)"
    r"|v[0-9]+\.json|[0-9a-f]{2}|[0-9a-f]{16,64}|raw|articles|127\.0\.0\.1|[A-Za-z0-9._-]+\.lock"
    r"|journal|[0-9]+-[0-9a-f]+\.(intents|jnl))$"
)


def test_archive_paths_never_come_from_urls_or_pages(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    evil = "../../../../tmp/evil"
    page = article_html(
        headline="../../../../etc/passwd",
        extra_head=f"<link rel='canonical' href='http://127.0.0.1:{hostile.port}/{evil}'>"
        "<meta property='og:site_name' content='../../x'>",
    )
    for path in ("/news/..%2f..%2f..%2fetc", "/news/a%00b", "/news/" + "%2e%2e/" * 20 + "x"):
        hostile.route(path, static(page))
        settle(archive(tmp_path, capsys, hostile.url(path)))
    data = tmp_path / "data"
    bad = [p for p in data.rglob("*") if not LAYOUT_NAMES.match(p.name)]
    assert bad == []
    assert files_outside(tmp_path) == []


def test_long_host_name_gets_a_usable_source_folder(hostile: HostileSite, tmp_path: Path) -> None:
    host = "news-of-the-day-from-a-very-long-regional-subdomain-name." + "example.test"
    hostile.route("/news/a", static(article_html()))
    page = fetch_with_dns({host: ["127.0.0.1"]}, f"http://{host}:{hostile.port}/news/a")
    config = Config(data_dir=tmp_path / "data")
    with Archive.open(tmp_path / "data") as store:
        source, rules = source_for(config, page.final_url)
        stored = ingest(page, archive=store, source=source, rules=rules)
    assert stored.article is not None


# ----------------------------------------------------------------------------- crawl discovery


def test_listing_entities_and_xxe_are_never_expanded(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-XML")
    lol = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10 if n else "lol"}">' for n in range(10))
    bodies = [
        f'<?xml version="1.0"?><!DOCTYPE u [{lol}]><urlset><url><loc>https://e.org/&l9;</loc>'
        "</url></urlset>",
        f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "{secret.as_uri()}">]>'
        "<urlset><url><loc>https://e.org/&x;</loc></url></urlset>",
        f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY % x SYSTEM "{secret.as_uri()}"> %x;]>'
        "<urlset><url><loc>https://e.org/a</loc></url></urlset>",
        f'<?xml version="1.0"?><!DOCTYPE u SYSTEM "{secret.as_uri()}">'
        "<rss><channel><item><link>https://e.org/a</link></item></channel></rss>",
    ]
    for body in bodies:
        for data in (body.encode(), gzip_bytes(body.encode())):
            start = time.process_time()
            listing = parse_listing(data, "https://e.org/")
            assert time.process_time() - start < 1
            assert "TOPSECRET" not in repr(listing)
            assert "lol" * 10 not in repr(listing)


def test_gzipped_sitemap_bomb_is_bounded() -> None:
    # CPU time: these bounds are on the work done, not on how busy the machine is
    start = time.process_time()
    parse_listing(zeros_gzip(100 * 1024 * 1024), "https://e.org/")
    assert time.process_time() - start < 3


def test_sitemap_entries_are_capped() -> None:
    body = gzip_bytes(
        b"<urlset>" + b"<url><loc>https://e.org/a</loc></url>" * 60_000 + b"</urlset>"
    )
    assert len(parse_listing(body, "https://e.org/").links) <= 50_000


def test_listing_dates_at_the_edge_of_time() -> None:
    body = (
        b'<urlset xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"><url>'
        b"<loc>https://e.org/2024/01/01/a</loc><news:news><news:publication_date>"
        b"0001-01-01T00:00:00+14:00</news:publication_date></news:news>"
        b"<lastmod>9999-12-31T23:59:59-14:00</lastmod></url></urlset>"
    )
    assert len(parse_listing(body, "https://e.org/").links) == 1


def test_page_links_survive_an_attribute_bomb() -> None:
    body = (
        b"<html><body><a href='/news/a' "
        + b" ".join(b"a%d" % i for i in range(30_000))
        + b">x</a></body></html>"
    )
    start = time.process_time()
    page_links(body, "https://e.org/")
    assert time.process_time() - start < 0.3


def _hostile_feed(site: HostileSite, tmp_path: Path, pub_date: str) -> Path:
    links = [
        "javascript:alert(1)",
        "file:///etc/passwd",
        "http://169.254.169.254/2024/01/01/meta",
        "http://[::1/2024/01/01/a",
        "http://a:99999/2024/01/01/x",
        "/2024/01/01/bomb",
        "/2024/01/01/slow",
        "/2024/01/01/ok",
        "/2024/01/01/loop",
        "/2024/01/01/private",
        "/2024/01/01/" + "a" * 5000,
        "/2024/01/01/../../../etc/passwd",
        f"http://user:pw@127.0.0.1:{site.port}/2024/01/01/cred",
        "/2024/01/01/empty",
        "/2024/01/01/pdf",
    ]
    items = "".join(
        f"<item><title>x</title><link>{link}</link><pubDate>{pub_date}</pubDate></item>"
        for link in links
    )
    feed = f"<?xml version='1.0'?><rss><channel>{items}</channel></rss>".encode()
    site.route("/feed.xml", static(feed, content_type="application/rss+xml"))
    site.route(
        "/2024/01/01/bomb", static(zeros_gzip(50 << 20), headers={"Content-Encoding": "gzip"})
    )

    def slow(conn: socket.socket, request: Request) -> None:
        dribble(site, conn, b"HTTP/1.1 200 OK\r\nX: ", pause=0.05)

    def loop(conn: socket.socket, request: Request) -> None:
        n = int(request.target.partition("?")[2] or 0)
        headers = {"Location": f"/2024/01/01/loop?{n + 1}"}
        reply(conn, status="302 Found", headers=headers, content_type=None)

    site.route("/2024/01/01/slow", slow)
    site.route("/2024/01/01/loop", loop)
    site.route("/2024/01/01/ok", static(article_html()))
    site.route("/2024/01/01/cred", static(article_html("Another story from the harbour")))
    site.route("/2024/01/01/private", redirect("http://169.254.169.254/"))
    site.route("/2024/01/01/empty", static(b""))
    site.route("/2024/01/01/pdf", static(b"%PDF-1.4", content_type="application/pdf"))
    config = write_config(tmp_path)
    with config.open("a", encoding="utf-8") as out:
        out.write(f"sources:\n  - name: evil\n    feeds: [{site.url('/feed.xml')}]\n")
    return config


def test_crawl_of_a_hostile_feed_ends_with_a_report(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    config = _hostile_feed(hostile, tmp_path, "Fri, 29 Dec 2023 23:59:59 GMT")
    start = time.monotonic()
    code = main(["--config", str(config), "crawl"])
    took = time.monotonic() - start
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == 0, err
    assert took < 15
    row = next(line for line in out.splitlines() if line.startswith("evil"))
    # /ok and /cred (fetched without its user:password): the same text under another
    # headline is an article of its own, linked to the other as a copy
    assert int(row.split()[3]) == 2
    assert not any("169.254" in r.target or "passwd" in r.target for r in hostile.seen)
    assert files_outside(tmp_path) == []


def test_crawl_survives_a_feed_date_at_the_edge_of_time(
    hostile: HostileSite, tmp_path: Path, capsys: Cap
) -> None:
    config = _hostile_feed(hostile, tmp_path, "Fri, 31 Dec 9999 23:59:59 -1400")
    assert main(["--config", str(config), "crawl"]) == 0


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple | list):
        return [s for item in value for s in _strings(item)]
    if hasattr(value, "__slots__") or hasattr(value, "__dataclass_fields__"):
        names = getattr(value, "__dataclass_fields__", {})
        return [s for name in names for s in _strings(getattr(value, name))]
    return []


def test_control_characters_never_reach_the_record() -> None:
    esc = "\x1b[2J\x1b]0;pwned\x07\x08\x7f\x85\x9b"
    evil = esc.encode()
    html = article_html(
        headline=f"Harbour {esc} bridge vote",
        extra_head=f"<meta property='og:site_name' content='Site{esc}'>"
        f"<link rel='canonical' href='http://127.0.0.1/news/a{esc}'>"
        f"<meta name='keywords' content='a{esc},b'>",
    ).replace(b"Paragraph 0.", evil + b" text <figure><img src='/i.jpg'><figcaption>Cap " + evil)
    html = html.replace(b"By Ann Example", b"By Ann " + evil + b"Example")
    result, _ = parse(html)
    assert isinstance(result, Content), result
    assert result.headline == "Harbour [2J]0;pwned bridge vote"
    for text in _strings(result):
        assert text.isprintable() or not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text), (
            repr(text)
        )


def _token(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()[:24]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        (
            "sidebar",
            lambda n: article_html(
                paragraphs=2,
                extra_body=f"<div class='sidebar'><p>Most read, visitor {n}, {_token(n)}</p></div>",
            ),
        ),
        (
            "token in the body",
            lambda n: article_html(paragraphs=1).replace(
                b"Paragraph 0.", f"Paragraph 0. Request {_token(n)}.".encode()
            ),
        ),
        (
            "counter in the body",
            lambda n: article_html().replace(
                b"Paragraph 0.", f"Viewed {1000 + 37 * n} times.".encode()
            ),
        ),
        (
            "modified now",
            lambda n: article_html(
                extra_head="<meta property='article:modified_time' "
                f"content='2024-06-01T{n:02d}:00Z'>"
            ),
        ),
    ],
)
def test_a_page_that_changes_on_every_fetch_keeps_one_version(
    tmp_path: Path, name: str, make: Callable[[int], bytes]
) -> None:
    outcomes = []
    with Archive.open(tmp_path / "data", durable=False) as store:
        for n in range(6):
            page = RawPage(
                requested_url="http://127.0.0.1/news/a",
                final_url="http://127.0.0.1/news/a",
                status=200,
                headers=(("content-type", "text/html"),),
                body=make(n),
                fetched_at=datetime(2024, 6, 1, tzinfo=UTC) + timedelta(hours=n),
            )
            outcomes.append(ingest(page, archive=store, source="e").outcome.value)
    assert outcomes == ["new"] + ["unchanged"] * 5, name


_BODY = article_html()


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffffff\r\nx",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nContent-Length: 20\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 5000 + b"\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nX: \x00\x01\r\n\r\n" + _BODY,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
        + f"Content-Length: {len(_BODY)}\r\n\r\n".encode()
        + _BODY,
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\n" + _BODY,
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 206 Partial Content\r\nContent-Type: text/html\r\n\r\n" + _BODY[:100],
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: identity, identity\r\n"
        b"\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nContent-Type: \xff\xfe\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=\xff\r\n\r\n" + _BODY,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip_bytes(_BODY) + b"trailing junk",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + gzip_bytes(_BODY)[:-20],
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nLocation: http://169.254.169.254/\r\n"
        b"\r\n" + _BODY,
    ],
)
def test_broken_http_framing(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, response: bytes
) -> None:
    url = hostile.route("/news/a", raw(response))
    settle(archive(tmp_path, capsys, url))


def test_robots_txt_that_never_answers(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        dribble(hostile, conn, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nUser-agent:")

    hostile.route("/robots.txt", handler)
    url = hostile.route("/news/a", static(article_html()))
    assert_failed(archive(tmp_path, capsys, url, **FAST), "robots.txt unavailable")
    assert hostile.hits("/news/a") == 0


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate"])
def test_compression_bombs_stay_within_memory(hostile: HostileSite, coding: str) -> None:
    import zlib

    import brotli

    size = 300 << 20
    if coding == "gzip":
        bomb = zeros_gzip(size)
    elif coding == "br":
        bomb = brotli.compress(b"\0" * (64 << 20), quality=5)
    else:
        comp = zlib.compressobj(9)
        piece = b"\0" * (1 << 20)
        bomb = b"".join(comp.compress(piece) for _ in range(size >> 20)) + comp.flush()
    url = hostile.route("/bomb", static(bomb, headers={"Content-Encoding": coding}))
    cfg = FetchConfig(allow=("127.0.0.1",), attempts=1, max_decompressed_bytes=2_000_000)
    tracemalloc.start()
    try:
        with (
            Fetcher(cfg, PolitenessConfig(delay=0.0)) as fetcher,
            pytest.raises(TooLarge, match="decompressed"),
        ):
            fetcher.fetch(url)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("delay", ["1e9", "99999999999999999999", "86400"])
def test_absurd_crawl_delay_parks_the_host_instead_of_hanging(
    hostile: HostileSite, tmp_path: Path, capsys: Cap, delay: str
) -> None:
    robots = f"User-agent: *\nCrawl-delay: {delay}\n".encode()
    hostile.route("/robots.txt", static(robots, content_type="text/plain"))
    a = hostile.route("/news/a", static(article_html()))
    b = hostile.route("/news/b", static(article_html("A second story")))
    code, _, err, took = archive(tmp_path, capsys, a, b)
    assert code == 1
    assert took < 5
    assert err.count("HostParked") == 2, err
    assert hostile.hits("/news/a") + hostile.hits("/news/b") == 0


# ----------------------------------------------------------------------------- WARC import


def _warc(path: Path, *records: tuple[str, str, list[tuple[str, str]], bytes, str | None]) -> Path:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for uri, status, headers, body, date in records:
            http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
            record = writer.create_warc_record(
                uri,
                "response",
                payload=io.BytesIO(body),
                length=len(body),
                http_headers=http,
                warc_headers_dict={"WARC-Date": date} if date else None,
            )
            writer.write_record(record)
    return path


@pytest.mark.parametrize(
    ("status", "headers", "body", "date", "outcome"),
    [
        ("200 OK", [("Content-Encoding", "gzip")], zeros_gzip(200 << 20), None, "failed"),
        ("abc OK", [], article_html(), None, "failed"),
        ("200 OK", [], article_html(), "99999-01-01T00:00:00Z", "failed"),
        ("200 OK", [], b"\x00\xff" * 1000, None, "unparsed"),
    ],
)
def test_hostile_warc_records_are_counted_not_raised(
    tmp_path: Path,
    capsys: Cap,
    status: str,
    headers: list[tuple[str, str]],
    body: bytes,
    date: str | None,
    outcome: str,
) -> None:
    headers = [("Content-Type", "text/html"), *headers]
    warc = _warc(tmp_path / "x.warc.gz", ("http://e.org/news/a", status, headers, body, date))
    config = write_config(tmp_path)
    tracemalloc.start()
    try:
        code = main(["--config", str(config), "import", str(warc)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    assert code == 0, err
    assert f"1 {outcome}" in out + err
    assert peak < 160_000_000


def test_warc_record_without_a_target_is_one_clear_error(tmp_path: Path, capsys: Cap) -> None:
    warc = _warc(tmp_path / "x.warc.gz", ("", "200 OK", [], article_html(), None))
    code = main(["--config", str(write_config(tmp_path)), "import", str(warc)])
    _, err = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in err
    assert "not a readable WARC" in err


@pytest.mark.parametrize(
    ("html", "reason"),
    [
        (BASE.replace(b"Paragraph 0.", b"<p>a" * 2_500_000), "tags"),
        (BASE.replace(b"Paragraph 0.", b"<br>" * 260_000), "elements"),
    ],
)
def test_pages_of_millions_of_elements_are_refused_fast(html: bytes, reason: str) -> None:
    tracemalloc.start()
    try:
        result, took = parse(html)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert isinstance(result, ParseError)
    assert reason in str(result)
    assert took < 5
    assert peak < 150_000_000, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("label", ["iso-8859-1", "windows-1251", "koi8-r", "windows-1252"])
def test_utf8_page_under_a_wrong_legacy_label_is_read_as_utf8(label: str) -> None:
    headline = "Le conseil vote pour un nouveau pont à Genève, déjà célèbre"
    html = article_html(headline).replace(b"<meta charset='utf-8'>", b"")
    result, _ = parse(html, f"text/html; charset={label}")
    assert isinstance(result, Content)
    assert result.headline == headline
    legacy = html.decode().encode("cp1252")
    result, _ = parse(legacy, "text/html; charset=windows-1252")
    assert isinstance(result, Content)
    assert result.headline == headline


def test_page_links_survive_a_broken_base_href() -> None:
    body = b'<html><head><base href="http://[::1"></head><body><a href="/a">a</a></body></html>'
    assert page_links(body, "https://e.org/") in ([], ["https://e.org/a"])
    assert feed_links(body, "https://e.org/") == []


def test_endless_informational_responses(hostile: HostileSite, tmp_path: Path, capsys: Cap) -> None:
    def handler(conn: socket.socket, request: Request) -> None:
        while not hostile.stopping():
            conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n" * 100)
            time.sleep(0.01)

    url = hostile.route("/news/a", handler)
    assert_failed(archive(tmp_path, capsys, url, **FAST))


def test_robots_sitemap_lines_that_are_no_urls(hostile: HostileSite) -> None:
    robots = b"User-agent: *\nSitemap: http://[::1\nSitemap: http://[zz]/s.xml\nSitemap: /ok.xml\n"
    hostile.route("/robots.txt", static(robots, content_type="text/plain"))
    cfg = FetchConfig(allow=("127.0.0.1",), attempts=1)
    with Fetcher(cfg, PolitenessConfig(delay=0.0)) as fetcher:
        found = fetcher.sitemaps(hostile.url("/news/a"))
    assert hostile.url("/ok.xml") in found


def test_parse_batch_survives_junk_lines(
    capsys: Cap, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    page = tmp_path / "a.html"
    page.write_bytes(article_html())
    lines = f'not json\n[1, 2]\n{{"id": 3, "html_path": "{page}", "url": "http://e.org/a"}}\n'
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    code = main(["--config", str(write_config(tmp_path)), "parse", "--batch"])
    out, _ = capsys.readouterr()
    assert code == 0
    assert len(out.splitlines()) == 3
