"""Rules for classes of layouts the corpus has few of, each on a small page of that layout
(the golden pages under tests/pages/web hold fuller examples)."""

from __future__ import annotations

from scraper.parse import parse_html

PROSE = (
    "The town council voted on Thursday night to build a new footbridge over the river, "
    "replacing the old wooden crossing that was closed last winter after an inspection."
)


def table_page(title: str, masthead: str, headline: str) -> bytes:
    return (
        f"<html><head><title>{title}</title></head><body><table>"
        f'<tr><td><font size="6"><b>{masthead}</b></font></td></tr>'
        f'<tr><td><font size="4"><b>{headline}</b></font><br><i>By Harold Pyke</i><br><br>'
        f"{PROSE}<br><br>{PROSE}<br><br>{PROSE}</td></tr></table></body></html>"
    ).encode()


def test_site_title_of_a_table_layout_gives_the_headline_not_the_masthead() -> None:
    head = "Council approves new footbridge"
    for url in ("http://www.riverdale-courier.example/a.html", "http://rc.example/a.html"):
        page = table_page(f"Riverdale Courier :: {head}", "Riverdale Courier", head)
        assert parse_html(page, url).headline == head, url
    # "Headline - Site": the same with the site last
    page = table_page(f"{head} - Riverdale Courier", "Riverdale Courier", head)
    assert parse_html(page, "http://rc.example/a.html").headline == head


def test_a_caption_needs_a_picture() -> None:
    page = (
        "<html><head><title>Ferry timetable</title></head><body><h1>Ferry timetable</h1>"
        f"<div class='article-text'><p>{PROSE}</p>"
        "<div class='caption'>Timetable from 5 September</div><table><tr><td>07:15</td></tr>"
        f"</table><p>{PROSE}</p><div class='photo'><img src='/p.jpg'></div>"
        "<div class='caption'>The early ferry at the pier.</div>"
        "<div class='image-placeholder'></div><div class='caption'>Loaded by a script.</div>"
        f"<p>{PROSE}</p></div></body></html>"
    ).encode()
    captions = [c.text for c in parse_html(page, "https://iv.example/a").captions]
    assert captions == ["The early ferry at the pier.", "Loaded by a script."]
