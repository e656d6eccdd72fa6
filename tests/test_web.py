"""`morgue serve` over HTTP, started as a user starts it: pages and their JSON twins, errors,
headers, feeds, and the rules for writing (token, CSRF, other sites)."""

from __future__ import annotations

import html
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
from pytest_httpserver import HTTPServer

from scraper.web.guard import CSP_RAW
from tests.archive_support import T0
from tests.read_support import Stored, build, free_port, serve, write_config

ARTICLE = Path(__file__).parent / "data" / "cli" / "victory-day.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Stored, Path]]:
    tmp = tmp_path_factory.mktemp("web")
    stored = build(tmp / "data")
    config = write_config(tmp, tmp / "data")
    with serve(config) as base:
        yield base, stored, config


@pytest.fixture
def client(site: tuple[str, Stored, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site[0], timeout=20) as c:
        yield c


def test_pages_answer_with_a_strict_policy(
    client: httpx.Client, site: tuple[str, Stored, Path]
) -> None:
    s = site[1]
    for path in (
        "/",
        "/search?q=strike",
        f"/articles/{s.strike}",
        f"/articles/{s.strike}/v/1",
        f"/articles/{s.strike}/diff",
        "/sources",
        "/archive",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src" not in csp  # no script of any kind
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "<script" not in r.text.replace("&lt;script", "")


def test_raw_page_is_exact_and_sandboxed(
    client: httpx.Client, site: tuple[str, Stored, Path]
) -> None:
    s = site[1]
    meta = client.get(f"/api/articles/{s.hostile}").json()
    sha = meta["article"]["raw_sha256"]
    r = client.get(f"/raw/{sha}")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP_RAW
    assert r.headers["content-security-policy"].startswith("sandbox;")
    assert r.headers["x-content-type-options"] == "nosniff"
    import hashlib

    assert hashlib.sha256(r.content).hexdigest() == sha
    info = client.get(f"/api/raw/{sha}").json()
    assert info["size"] == len(r.content)
    assert info["meta"]["final_url"] == "http://news.example/evil"


def test_article_json_lists_every_url_versions_and_fetches(
    client: httpx.Client, site: tuple[str, Stored, Path]
) -> None:
    s = site[1]
    data = client.get(f"/api/articles/{s.mueller}").json()
    assert [u["url"] for u in data["urls"]] == s.urls[s.mueller]
    assert [u["duplicate"] for u in data["urls"]] == [False, False, True]
    page = client.get(f"/articles/{s.mueller}").text
    for url in s.urls[s.mueller]:
        assert f'href="{url}"' in page
    strike = client.get(f"/api/articles/{s.strike}").json()
    assert [v["version"] for v in strike["versions"]] == [1, 2]
    assert [f["status"] for f in strike["fetches"]] == [200, 200]
    assert client.get(f"/api/articles/{s.strike}/versions").json()["versions"] == strike["versions"]


def test_search_and_listing_json(client: httpx.Client, site: tuple[str, Stored, Path]) -> None:
    s = site[1]
    hits = client.get("/api/search", params={"q": "muller"}).json()
    assert hits["total"] == 1
    assert hits["hits"][0]["id"] == s.mueller
    assert "ms" in hits
    listed = client.get("/api/articles", params={"source": "weather"}).json()
    assert [h["id"] for h in listed["hits"]] == [s.weather]
    filtered = client.get("/api/search", params={"q": "strike OR council", "since": "2024-04-01"})
    assert [h["id"] for h in filtered.json()["hits"]] == [s.mueller]
    assert (hits["total_exact"], hits["total_relation"]) == (True, "eq")
    every = client.get("/api/articles").json()
    assert every["count"] == f"{every['total']} articles"
    assert f'id="count">{every["total"]} articles</p>' in client.get("/").text
    bad = client.get("/api/articles", params={"source": "nosuch"})
    assert bad.status_code == 400
    assert "known sources are harbour-news, weather" in bad.json()["error"]


def test_a_phrase_in_the_headline_only_is_marked_in_the_headline(
    client: httpx.Client, site: tuple[str, Stored, Path]
) -> None:
    hit = client.get("/api/search", params={"q": '"strike ends"'}).json()["hits"][0]
    assert hit["id"] == site[1].strike
    assert [hit["headline"][a:b] for a, b in hit["headline_marks"]] == ["strike ends"]
    page = client.get("/search", params={"q": '"strike ends"'}).text
    assert "Port <mark>strike ends</mark> after talks</a>" in page


def test_diff_json_and_page(client: httpx.Client, site: tuple[str, Stored, Path]) -> None:
    s = site[1]
    data = client.get(f"/api/articles/{s.strike}/diff", params={"from": 1, "to": 2}).json()
    assert data["from"] == 1
    assert data["to"] == 2
    page = client.get(f"/articles/{s.strike}/diff").text
    # a space between the two: the page reads "closes the harbour ends after talks"
    assert "<del>closes the harbour</del> <ins>ends after talks</ins>" in page


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/articles/0000000000000000", 404, "not in the archive"),
        ("/articles/..%2F..%2Fetc", 404, "no such page"),
        ("/articles/javascript:alert(1)", 404, "not in the archive"),
        ("/search?q=%22port", 400, "quotation mark is not closed"),
        ("/search?q=port&since=soon", 400, "not a date"),
        ("/search?q=th*", 400, "a prefix needs at least 3 letters before '*'"),
        ("/search?q=port&source=harbor-news", 400, "did you mean 'harbour-news'?"),
        ("/search?q=port&source=nosuch", 400, "known sources are harbour-news, weather"),
        ("/?source=nosuch", 400, "no source named 'nosuch'"),
        ("/?page=0", 400, "page must be"),
        ("/?page=abc", 400, "page must be"),
        ("/?page=999", 404, "past the last page"),
        ("/raw/" + "f" * 64, 404, "no stored page"),
        ("/nowhere", 404, "no such page"),
        ("/sources/nosuch/feed.atom", 404, "no source"),
    ],
)
def test_errors_are_clear_pages_never_tracebacks(
    client: httpx.Client, path: str, status: int, says: str
) -> None:
    r = client.get(path)
    assert r.status_code == status
    assert says in html.unescape(r.text)
    assert "Traceback" not in r.text
    assert "sqlite" not in r.text.lower()
    api = client.get("/api" + path) if path.startswith(("/search", "/articles", "/raw")) else None
    if api is not None:
        assert api.status_code == status
        assert says in api.json()["error"]


def test_version_and_diff_out_of_range(
    client: httpx.Client, site: tuple[str, Stored, Path]
) -> None:
    s = site[1]
    assert client.get(f"/articles/{s.strike}/v/9").status_code == 404
    assert client.get(f"/api/articles/{s.strike}/v/9").json()["error"].endswith("(it has 1 to 2)")
    assert client.get(f"/articles/{s.weather}/diff").status_code == 404
    assert client.get(f"/articles/{s.strike}/diff?from=x").status_code == 400


def test_feeds_are_atom(client: httpx.Client, site: tuple[str, Stored, Path]) -> None:
    s = site[1]
    ns = {"a": "http://www.w3.org/2005/Atom"}
    for path in (
        "/feed.atom",
        "/changes.atom",
        "/sources/weather/feed.atom",
        "/sources/harbour-news/changes.atom",
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith("application/atom+xml")
        ET.fromstring(r.content)
    changes = ET.fromstring(client.get("/changes.atom").content)
    entries = changes.findall("a:entry", ns)
    assert [e.findtext("a:title", namespaces=ns) for e in entries] == [
        "Port strike ends after talks"
    ]
    assert "headline" in (entries[0].findtext("a:summary", namespaces=ns) or "")
    assert s.strike in (entries[0].findtext("a:id", namespaces=ns) or "")
    weather = ET.fromstring(client.get("/sources/weather/feed.atom").content)
    assert len(weather.findall("a:entry", ns)) == 1


def test_sources_json(client: httpx.Client) -> None:
    data = client.get("/api/sources").json()
    by_name = {src["name"]: src for src in data["sources"]}
    assert by_name["harbour-news"]["articles"] == 4  # the print page is a duplicate
    assert by_name["harbour-news"]["versions"] == 5
    assert len(by_name["weather"]["per_day"]) == 90


def test_sources_page_says_when_a_source_has_nothing_in_90_days(client: httpx.Client) -> None:
    # the test archive was filled on 2026-05-09 (tests.archive_support.T0)
    assert datetime.now(UTC) - T0 > timedelta(days=90)
    page = client.get("/sources").text
    assert page.count("No articles in the last 90 days.") == 2  # harbour-news, weather
    assert "<svg" not in page


def test_openapi_describes_every_api_route(client: httpx.Client) -> None:
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/search",
        "/api/articles",
        "/api/articles/{article_id}",
        "/api/articles/{article_id}/diff",
        "/api/raw/{sha}",
        "/api/sources",
        "/api/archive",
    ):
        assert path in doc["paths"]


def test_other_host_names_are_refused(client: httpx.Client) -> None:
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 cannot read the archive
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


def test_writes_from_other_sites_are_refused(client: httpx.Client) -> None:
    r = client.post(
        "/api/archive", json={"url": "http://10.0.0.1/x"}, headers={"origin": "http://evil.example"}
    )
    assert r.status_code == 403
    form = client.get("/archive")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert csrf is not None
    r = client.post("/archive", data={"url": "http://10.0.0.1/x", "csrf": "wrong"})
    assert r.status_code == 403
    assert "reload" in r.text
    r = client.post(
        "/api/archive",
        content=b"url=http://10.0.0.1/",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415


def test_archive_api_uses_the_fetchers_rules(client: httpx.Client) -> None:
    r = client.post("/api/archive", json={"url": "http://10.0.0.1/story"})
    assert r.status_code == 422
    assert r.json()["result"] == "failed"
    assert "private" in r.json()["reason"].lower() or "not allowed" in r.json()["reason"].lower()
    r = client.post("/api/archive", json={"url": "javascript:alert(1)"})
    assert r.json()["reason"] == "not an http(s) URL"


def test_archive_form_then_the_article(httpserver: HTTPServer, tmp_path: Path) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/2012/05/09/victory-day").respond_with_data(
        ARTICLE.read_bytes(), content_type="text/html; charset=utf-8"
    )
    url = httpserver.url_for("/2012/05/09/victory-day")
    build(tmp_path / "data", hostile=False)
    config = write_config(tmp_path, tmp_path / "data")
    with serve(config, "--token", "s3cret") as base, httpx.Client(base_url=base, timeout=30) as c:
        assert c.post("/api/archive", json={"url": url}).status_code == 401
        assert (
            c.post(
                "/api/archive", json={"url": url}, headers={"authorization": "Bearer no"}
            ).status_code
            == 401
        )
        form = c.get("/archive")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        r = c.post("/archive", data={"url": url, "csrf": csrf.group(1)})
        assert r.status_code == 403
        assert "token" in r.text
        r = c.post("/archive", data={"url": url, "csrf": csrf.group(1), "token": "s3cret"})
        assert r.status_code == 200
        assert '<b id="result">new</b>' in r.text
        link = re.search(r'id="article-link" href="([^"]+)"', r.text)
        assert link is not None
        assert "Victory Day Parade" in c.get(link.group(1)).text
        again = c.post(
            "/api/archive", json={"url": url}, headers={"authorization": "Bearer s3cret"}
        )
        assert again.json()["result"] == "unchanged"
        hits = c.get("/api/search", params={"q": "parade"}).json()["hits"]
        assert [h["id"] for h in hits] == [again.json()["id"]]
        assert again.json()["id"] in link.group(1)


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.exists() else []


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_serve_runs_worker_processes_that_stop_with_it(
    site: tuple[str, Stored, Path], stop: signal.Signals
) -> None:
    if not Path("/proc/self/task").exists():
        pytest.skip("needs Linux /proc to see the worker processes")
    port = free_port()
    command = [sys.executable, "-m", "scraper", "--config", str(site[2]), "serve"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--workers", "3"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while len(_children(proc.pid)) < 3 or not _answers(base):
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 3  # page workers; the first process holds the connections
        with ThreadPoolExecutor(6) as pool:  # pages answered side by side, all whole
            pages = list(pool.map(lambda _: httpx.get(base + "/search?q=strike"), range(24)))
        assert {r.status_code for r in pages} == {200}
        assert all("Port <mark>strike</mark> ends" in r.text for r in pages)
        proc.send_signal(stop)
        proc.wait(20)
        deadline = time.monotonic() + 20
        while any(Path(f"/proc/{w}").exists() for w in workers):  # none left on the port
            assert time.monotonic() < deadline, "a worker outlived the server"
            time.sleep(0.1)
        assert not _answers(base)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/static/style.css", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
