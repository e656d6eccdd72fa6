"""Pages that are not articles: refused as before (NotAnArticle: the crawl keeps them raw-only),
but `morgue parse` and the score adapter still give the main text found on them, flagged
`"article": false`. The pages are in tests/data/not_article (see its README)."""

from __future__ import annotations

import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from scraper.cli import main
from scraper.errors import NotAnArticle
from scraper.parse import parse_html
from scraper.parse.dates import FoundDate
from scraper.parse.datetext import PageDate
from scraper.parse.extract import _stated
from scraper.parse.score_adapter import extract_article

PAGES = Path(__file__).parent / "data" / "not_article"
# the page's furniture: navigation, masthead, subscribe box, sidebar, footer
FURNITURE = ("Forums", "Log in", "Board index", "Add to cart", "Cart (0)", "Shipping", "Recipes")
FRONT_FURNITURE = ("Sport", "Weather", "Subscribe", "Most read", "Imprint", "Valley Herald Media")
CLUB_FURNITURE = ("Verein", "Termine", "Impressum", "Datenschutz")

TEASERS = [
    "The footbridge over the Lenne carries walkers again from Monday.",
    "Two late goals split the points at the Auestadion.",
    "The new branch on Marktstraße employs twelve people.",
]
# page -> (url, the main text's paragraphs, the headline)
EXPECTED: dict[str, tuple[str, list[str], str]] = {
    "forum_thread": (
        "https://forum.example/t/4411",
        [
            "Chain skips on the small cogs. New chain.",
            "Worn cassette, replace it.",
            "Fixed, thanks!",
        ],
        "Bike chain skips on small cog",
    ),
    "shop_product": (
        "https://shop.example/products/alder-lantern",
        ["Hand-turned alder wood lantern with a glass shade."],
        "Alder Lantern",
    ),
    # the description in a box named like furniture ("widget"): found by the second try only
    "shop_widget_description": (
        "https://shop.example/products/birch-stool",
        [
            "A three-legged stool of solid birch, turned and joined by hand in our workshop at "
            "the edge of the forest.",
            "The seat is carved slightly hollow and finished with linseed oil and beeswax, so "
            "it darkens gently with use.",
            "Each stool is signed under the seat. Seat height 45 cm, diameter 30 cm, weight "
            "2.4 kg.",
        ],
        "Birch Stool",
    ),
    "recipe": (
        "https://kitchen.example/plum-crumble",
        [
            "A quick autumn dessert.",
            "Ingredients",
            "600 g plums",
            "100 g flour",
            "Method",
            "Halve and stone the plums.",
            "Bake 35 minutes at 180 °C.",
        ],
        "Plum crumble",
    ),
    # a front page's main text: its welcome line and its teasers (not their linked titles)
    "front_page": (
        "https://herald.example/",
        ["Independent news from the Lenne valley since 1952.", *TEASERS],
        "News from the valley",
    ),
    "front_page_teasers": ("https://herald.example/", TEASERS, "News from the valley"),
    "no_headline": (
        "https://club.example/2017/07/12/sommerfest",
        [
            "Das Sommerfest findet wie jedes Jahr auf dem Sportplatz statt. Für Kuchen und "
            "Getränke ist gesorgt, Helfer melden sich bitte beim Vorstand.",
            "Beim Turnier am Nachmittag spielen die Jugendmannschaften gegeneinander.",
        ],
        "",
    ),
}


def _batch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, names: list[str]
) -> list[dict[str, Any]]:
    lines = [
        json.dumps({"id": name, "html_path": str(PAGES / f"{name}.html"), "url": url})
        for name, url in ((n, EXPECTED.get(n, ("https://x.example/",))[0]) for n in names)
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    code = main(["--config", "/dev/null", "parse", "--batch"])
    out, _ = capsys.readouterr()
    assert code == 0
    return [json.loads(line) for line in out.splitlines()]


def test_batch_gives_main_text_of_pages_that_are_not_articles(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = _batch(capsys, monkeypatch, list(EXPECTED))
    assert [a["id"] for a in answers] == list(EXPECTED)
    for answer in answers:
        _, paragraphs, headline = EXPECTED[answer["id"]]
        assert answer["article"] is False, answer["id"]
        assert "error" not in answer  # an answer, not a failure: the scorer reads its body
        assert answer["not_article"].startswith("NotAnArticle: "), answer["id"]
        assert [b["text"] for b in answer["body"]] == paragraphs, answer["id"]
        assert answer["headline"] == headline
        assert answer["published"] is None  # none stated; nothing invented from the URL
        text = " ".join(b["text"] for b in answer["body"])
        for word in FURNITURE + FRONT_FURNITURE + CLUB_FURNITURE:
            assert re.search(rf"\b{word}\b", text) is None, (answer["id"], word)


def test_batch_flags_articles_and_pages_with_nothing_readable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    article = Path(__file__).parent / "data" / "cli" / "victory-day.html"
    lines = [
        json.dumps({"id": "a", "html_path": str(article), "url": "https://example.org/a"}),
        json.dumps({"id": "t", "html_path": str(PAGES / "nothing_readable.html"), "url": None}),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(lines) + "\n"))
    assert main(["--config", "/dev/null", "parse", "--batch"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr()[0].splitlines())
    assert first["article"] is True
    assert "not_article" not in first
    assert "error" not in first
    # a page of furniture only (navigation, a subscribe box, a footer): nothing readable
    assert second == {"id": "t", "error": second["error"]}
    assert "not an article" in second["error"].lower() or "NotAnArticle" in second["error"]


def test_parse_file_prints_main_text_and_says_so_in_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    page = PAGES / "shop_product.html"
    code = main(["--config", "/dev/null", "parse", str(page), "--url", "https://shop.example/p"])
    out, err = capsys.readouterr()
    assert code == 0
    record = json.loads(out)
    assert record["article"] is False
    assert record["body"][0]["text"].startswith("Hand-turned alder wood lantern")
    assert err.count("\n") == 1
    assert err.startswith("not an article")
    # nothing readable: a failure, as before
    code = main(["--config", "/dev/null", "parse", str(PAGES / "nothing_readable.html")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert "NotAnArticle" in err


def test_parse_html_still_refuses_and_carries_the_text() -> None:
    url, paragraphs, _ = EXPECTED["forum_thread"]
    with pytest.raises(NotAnArticle) as caught:
        parse_html((PAGES / "forum_thread.html").read_bytes(), url)
    assert caught.value.content is not None
    assert [b.text for b in caught.value.content.body] == paragraphs
    with pytest.raises(NotAnArticle) as caught:
        parse_html((PAGES / "nothing_readable.html").read_bytes(), None)
    assert caught.value.content is None


def test_score_adapter_returns_the_text() -> None:
    url, paragraphs, _ = EXPECTED["recipe"]
    answer = extract_article((PAGES / "recipe.html").read_bytes(), url)
    assert answer["article"] is False
    assert answer["body"] == "\n\n".join(paragraphs)
    assert "error" not in answer
    refused = extract_article((PAGES / "nothing_readable.html").read_bytes(), None)
    assert refused["body"] is None
    assert refused["error"]


def test_no_headline_page_keeps_a_stated_date() -> None:
    # the same club page with its date in metadata: stated by the page, so kept
    html = (
        (PAGES / "no_headline.html")
        .read_bytes()
        .replace(b"<head>", b'<head><meta property="article:published_time" content="2017-07-12">')
    )
    with pytest.raises(NotAnArticle) as caught:
        parse_html(html, "https://club.example/fest")
    assert caught.value.content is not None
    assert caught.value.content.published == "2017-07-12"


@pytest.mark.parametrize(
    ("source", "stated"),
    [
        ("json-ld", True),
        ("json-ld-page", True),
        ("meta:article:published_time", True),
        ("json-ld+dom", True),
        ("header", True),
        ("header-time", True),
        ("dateline", True),
        ("url", False),
        ("time", False),
        ("dom", False),
        ("footer", False),
    ],
)
def test_only_stated_dates_go_with_a_refusal(source: str, stated: bool) -> None:
    assert _stated(FoundDate(PageDate(date(2017, 7, 12)), source)) is stated
    assert _stated(None) is False
