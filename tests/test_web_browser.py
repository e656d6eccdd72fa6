"""`morgue serve` in a real browser: Playwright for Python driving Debian's Chromium
(/usr/bin/chromium, launched by path; nothing is downloaded). Without Chromium these tests skip
with one line; with CI=true that skip fails (tests/conftest.py)."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from scraper.cli import main
from tests.conftest import MISSING
from tests.read_support import HOSTILE_HEADLINE, Stored, build, serve, write_config

CHROMIUM = os.environ.get("MORGUE_CHROMIUM", "/usr/bin/chromium")
ARTICLE = Path(__file__).parent / "data" / "cli" / "victory-day.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"{MISSING} no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(f"{MISSING} the playwright package is not installed (pip install playwright)")
    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's own sandbox cannot start
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def site(
    tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[tuple[str, Stored, Path]]:
    tmp = tmp_path_factory.mktemp("browser")
    stored = build(tmp / "data")
    config = write_config(tmp, tmp / "data")
    with serve(config) as base:
        yield base, stored, config


class Watched:
    """A page that records every dialog (alert, confirm) instead of letting it block."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Watched]:
    context = browser.new_context(java_script_enabled=True)
    watched = Watched(context.new_page())
    yield watched
    watched.page.screenshot(path=str(tmp_path / "last.png"), full_page=False)
    context.close()


def test_search_from_the_home_page(
    page: Watched, site: tuple[str, Stored, Path], tmp_path: Path
) -> None:
    base, s, _ = site
    p = page.page
    p.goto(base + "/")
    p.fill("input[name=q]", '"port authority"')
    p.press("input[name=q]", "Enter")
    p.wait_for_url(re.compile(r"/search\?q="))
    assert "1 match" in p.inner_text("#count")
    assert p.inner_text(".hit mark") == "port authority"
    p.screenshot(path=str(tmp_path / "search.png"))
    p.click(".hit a.headline")
    p.wait_for_url(re.compile(s.strike))
    assert p.inner_text("h1") == "Port strike ends after talks"


def test_a_headline_match_is_marked_and_a_source_typo_is_said(
    page: Watched, site: tuple[str, Stored, Path], tmp_path: Path
) -> None:
    base = site[0]
    p = page.page
    p.goto(base + "/search?q=%22strike+ends%22")
    assert "1 match" in p.inner_text("#count")
    assert p.inner_text(".hit a.headline mark") == "strike ends"  # found in the headline only
    p.screenshot(path=str(tmp_path / "headline-mark.png"))
    response = p.goto(base + "/search?q=strike&source=harbor-news")
    assert response is not None
    assert response.status == 400
    assert "did you mean 'harbour-news'?" in p.inner_text("main")


def test_article_text_equals_morgue_show(
    page: Watched, site: tuple[str, Stored, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, s, config = site
    assert main(["--config", str(config), "show", s.mueller]) == 0
    shown = capsys.readouterr().out
    p = page.page
    p.goto(f"{base}/articles/{s.mueller}")
    on_page = p.inner_text("#article")

    def lines(text: str) -> list[str]:
        # the terminal marks the credit **bold** and the URL <...>; the page uses <strong>, <a>
        plain = text.replace("**", "").replace("<", "").replace(">", "")
        return [line.strip() for line in plain.splitlines() if line.strip()]

    assert lines(on_page) == lines(shown)
    assert p.inner_text("p.caption strong") == "Jörg Straße"
    seen = p.eval_on_selector_all("#urls a", "els => els.map(e => e.getAttribute('href'))")
    assert seen == s.urls[s.mueller]


def test_diff_page_shows_deletions_and_insertions(
    page: Watched, site: tuple[str, Stored, Path]
) -> None:
    base, s, _ = site
    p = page.page
    p.goto(f"{base}/articles/{s.strike}")
    p.click("#versions a:text('diff')")
    p.wait_for_url(re.compile(r"/diff\?from=1&to=2"))
    deleted = p.eval_on_selector_all("del", "els => els.map(e => e.textContent)")
    inserted = p.eval_on_selector_all("ins", "els => els.map(e => e.textContent)")
    assert "closes the harbour" in deleted
    assert "ends after talks" in inserted
    assert "A rumour of a deal went round by noon." in deleted
    colour = p.eval_on_selector("del", "e => getComputedStyle(e).color")
    assert colour == "rgb(153, 0, 0)"
    # as read on screen, a replaced phrase and its replacement are words apart
    headline = p.inner_text(".field:has(b:text-is('headline'))")
    assert "closes the harbour ends after talks" in headline


def test_hostile_article_runs_nothing(
    page: Watched, site: tuple[str, Stored, Path], tmp_path: Path
) -> None:
    base, s, _ = site
    p = page.page
    console: list[str] = []
    p.on("console", lambda m: console.append(m.text))
    p.goto(f"{base}/articles/{s.hostile}")
    p.wait_for_load_state("networkidle")
    frame = p.frame_locator("iframe.raw")
    frame.locator("a").first.wait_for()  # the raw page is shown
    p.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    assert page.dialogs == []
    assert p.inner_text("h1") == HOSTILE_HEADLINE  # shown as text
    assert p.eval_on_selector_all("script", "els => els.length") == 0
    hrefs = p.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
    assert not [h for h in hrefs if h and not h.startswith(("/", "http://", "https://"))]
    assert p.get_attribute("iframe.raw", "sandbox") == ""
    # the raw page's own links and the app's page are unaffected by what the raw page holds
    p.goto(f"{base}/search?q=hostile")
    assert page.dialogs == []
    assert p.eval_on_selector_all("script", "els => els.length") == 0


def test_raw_page_alone_runs_nothing(page: Watched, site: tuple[str, Stored, Path]) -> None:
    base, s, _ = site
    p = page.page
    p.goto(f"{base}/api/articles/{s.hostile}")
    sha = p.evaluate("() => JSON.parse(document.body.innerText).article.raw_sha256")
    p.goto(f"{base}/raw/{sha}")
    p.wait_for_timeout(300)
    assert page.dialogs == []
    # an opaque origin: the stored page cannot read the app's cookies or storage
    assert p.evaluate("() => window.origin") == "null"


def test_a_5mb_headline_keeps_the_layout(page: Watched, site: tuple[str, Stored, Path]) -> None:
    base, s, _ = site
    p = page.page
    p.set_viewport_size({"width": 1000, "height": 800})
    p.goto(f"{base}/articles/{s.big}")
    width = p.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1000
    box = p.locator("aside").bounding_box()
    assert box is not None
    assert box["y"] < 800  # the side column is still beside the text, not pushed away
    p.goto(f"{base}/")
    assert p.evaluate("() => document.documentElement.scrollWidth") <= 1000


def test_reading_pages_work_without_javascript(
    browser: Any, site: tuple[str, Stored, Path]
) -> None:
    base, _s, _ = site
    context = browser.new_context(java_script_enabled=False)
    p = context.new_page()
    p.goto(base + "/search")
    p.fill("input[name=q]", "Muller")
    p.click("button[type=submit]")
    p.wait_for_url(re.compile(r"q=Muller"))
    assert p.inner_text(".hit a.headline") == "Council meets over budget"
    p.goto(base + "/")
    p.select_option("select[name=source]", "weather")
    p.click("form.search >> nth=1 >> button")
    p.wait_for_url(re.compile(r"source=weather"))
    assert p.inner_text(".hit a.headline") == "Storm warning for the coast"
    context.close()


def test_sources_page(page: Watched, site: tuple[str, Stored, Path]) -> None:
    base, _, _ = site
    p = page.page
    p.goto(base + "/sources")
    names = p.eval_on_selector_all("section.source h2", "els => els.map(e => e.textContent)")
    assert names == ["harbour-news", "weather"]
    # the test archive was filled on 2026-05-09, long before the chart's last 90 days: an
    # empty chart would look like a broken one, so each source says so in words
    assert p.locator("svg.chart").count() == 0
    said = p.eval_on_selector_all(".chart-empty", "els => els.map(e => e.textContent)")
    assert said == ["No articles in the last 90 days."] * 2


def test_archive_form(
    page: Watched, site: tuple[str, Stored, Path], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/robots.txt").respond_with_data("User-agent: *\nAllow: /\n")
    httpserver.expect_request("/2012/05/09/victory-day").respond_with_data(
        ARTICLE.read_bytes(), content_type="text/html; charset=utf-8"
    )
    base = site[0]
    p = page.page
    p.goto(base + "/archive")
    p.fill("input[name=url]", httpserver.url_for("/2012/05/09/victory-day"))
    p.click("button[type=submit]")
    p.wait_for_selector("#result")
    assert p.inner_text("#result") == "new"
    p.click("#article-link")
    assert p.inner_text("h1") == "Victory Day Parade Rolls Through Red Square"
    p.goto(base + "/sources")  # archived today: a bar in the chart of its source
    assert p.locator("svg.chart").count() == 1
    assert p.locator("svg.chart rect").count() == 1
    p.goto(base + "/archive")
    p.fill("input[name=url]", "http://10.1.2.3/story")
    p.click("button[type=submit]")
    p.wait_for_selector("#result")
    assert p.inner_text("#result") == "failed"
    assert p.inner_text("#reason")
