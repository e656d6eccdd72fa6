"""One identity: `morgue parse` and `morgue archive` give the same bytes at the same URL the
same id and canonical URL (both go through archive.identity)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from archive.identity import new_id, page_keys
from archive.record import Content
from scraper.cli import main
from tests.archive_support import make_page

BODY = "".join(
    f"<p>Paragraph {i} of the story about the harbour and the port strike, told at length "
    f"so the parser keeps it as the article's body text.</p>"
    for i in range(8)
)


def page_html(canonical: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Port strike enters its third week</title>"
        f"<link rel='canonical' href='{canonical}'></head><body><article>"
        "<h1>Port strike enters its third week</h1>"
        "<time datetime='2024-05-02T10:00:00+02:00'>2 May 2024</time>"
        f"{BODY}</article></body></html>"
    ).encode()


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(
        "data_dir: ./archive\npoliteness: {delay: 0s}\n"
        "network: {allow: [127.0.0.1, localhost]}\nfetch: {attempts: 1}\n",
        encoding="utf-8",
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("path", "canonical"),
    [
        # rel=canonical on another site: a syndication hint, not this page's address
        ("/2024/05/02/port-strike", "https://wire.example.net/stories/port-strike"),
        # an AMP page pointing at its article on the same host
        ("/2024/05/02/port-strike/amp", "{base}/2024/05/02/port-strike"),
    ],
    ids=["cross-site-canonical", "amp"],
)
def test_parse_and_archive_agree_on_id_and_canonical(
    httpserver: HTTPServer,
    config_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    path: str,
    canonical: str,
) -> None:
    base = httpserver.url_for("").rstrip("/")
    html = page_html(canonical.format(base=base))
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request(path).respond_with_data(html, content_type="text/html; charset=utf-8")
    url = httpserver.url_for(path)
    code, out, err = run(capsys, "--config", str(config_file), "archive", "--json", url)
    assert code == 0, err
    archived = json.loads(out)
    saved = tmp_path / "saved.html"
    saved.write_bytes(html)
    code, out, err = run(capsys, "--config", str(config_file), "parse", str(saved), "--url", url)
    assert code == 0, err
    parsed = json.loads(out)
    assert (parsed["id"], parsed["canonical_url"]) == (
        archived["id"],
        archived["canonical_url"],
    )
    if "amp" in path:
        assert archived["canonical_url"] == f"{base}/2024/05/02/port-strike"
    else:
        assert archived["canonical_url"] == url


def test_cross_site_canonical_is_ignored_for_identity() -> None:
    page = make_page("https://local.example/news/1", b"<p>x</p>")
    content = Content(headline="x", body=(), canonical_url="https://other.example/news/1")
    keys = page_keys(page, content)
    assert keys.canonical_url == "https://local.example/news/1"
    assert new_id(keys.canonical_key) == new_id("https://local.example/news/1")
