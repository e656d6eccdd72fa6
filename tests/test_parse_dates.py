"""Publication dates on small written pages: the day a page shows its readers."""

from __future__ import annotations

from scraper.parse import parse_html
from scraper.parse.body import is_dateline

BODY = "".join(
    f"<p>The council met on Tuesday evening to vote on the plan for the harbour, and the "
    f"members agreed to fund the first stage of the work. (Paragraph {n}.)</p>"
    for n in range(3)
)


def test_utc_metadata_is_read_in_the_zone_the_page_writes_its_times_in() -> None:
    # Published 9:07 pm EST on the 19th (02:07 UTC on the 20th); the page shows only its
    # update time, in EST, so the EST day is the one its readers see.
    html = (
        '<html><head><meta property="article:published_time" content="2019-11-20T02:07:18Z">'
        "</head><body><article><h1>Harbour plan approved</h1>"
        '<time datetime="2019-11-20T05:24:29Z">12:24 am EST, Wednesday, November 20, 2019</time>'
        f"{BODY}</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert content.published == "2019-11-19T21:07:18-05:00"


def test_utc_metadata_stays_utc_when_the_page_names_no_zone() -> None:
    html = (
        '<html><head><meta property="article:published_time" content="2019-11-20T02:07:18Z">'
        "</head><body><article><h1>Harbour plan approved</h1>"
        f"<p class='date'>November 20, 2019</p>{BODY}</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert content.published == "2019-11-20T02:07:18Z"


def test_datelines_in_other_languages_are_not_body_text() -> None:
    assert is_dateline("segunda-feira, 22 de janeiro de 2018 às 0:13")
    assert is_dateline("Montag, 3. Mai 2021 um 10:00 Uhr")
    assert is_dateline("mardi 19 novembre 2019 à 10:31")
    assert not is_dateline("1a etapa: 10 de março de 2018 \u2013 Interlagos")
