"""Dates and captions on layouts of pages the parser was not tuned on (issue 10), each rule on
a small page of its layout (tests/pages/web holds fuller pages of the same layouts)."""

from __future__ import annotations

from datetime import UTC, datetime

from scraper.parse import parse_html

PROSE = (
    "The town council voted on Thursday night to build a new footbridge over the river, "
    "replacing the old wooden crossing that was closed last winter after an inspection."
)


def page(inner: str, lang: str = "en") -> bytes:
    return (
        f"<html lang='{lang}'><head><title>Bridge vote</title></head><body>{inner}</body></html>"
    ).encode()


def body(n: int = 3) -> str:
    return "".join(f"<p>{PROSE}</p>" for _ in range(n))


def test_a_line_naming_the_publication_first_gives_the_update_after_it() -> None:
    line = "Publié le 12 juillet 2017 à 10h15 - Mis à jour le 13 juillet 2017 à 18h40"
    html = page(f"<h1>Bridge vote</h1><div class='infos'>{line}</div>{body()}", "fr")
    content = parse_html(html, "https://e.example/a")
    assert content.published == "2017-07-12T10:15:00"
    assert content.modified == "2017-07-13T18:40:00"


def test_update_first_lines_in_russian() -> None:
    line = "Обновлено 13.07.2017 08:00 · Опубликовано 12.07.2017 10:15"
    html = page(f"<h1>Bridge vote</h1><div class='meta'><span>{line}</span></div>{body()}", "ru")
    content = parse_html(html, "https://e.example/a")
    assert content.published == "2017-07-12T10:15:00"
    assert content.modified == "2017-07-13T08:00:00"


def test_a_members_join_date_in_russian_is_not_the_posts() -> None:
    html = page(
        "<h1>Bridge vote</h1><table><tr><td><span class='postdetails'>Зарегистрирован: "
        "03.02.2009<br>Сообщения: 1204</span></td><td><span class='postdetails'>Добавлено: "
        f"Среда 12 Июл, 2017 16:33</span><span class='postbody'>{PROSE} {PROSE}</span></td></tr>"
        "</table>",
        "ru",
    )
    assert parse_html(html, "https://f.example/viewtopic.php?t=1").published == (
        "2017-07-12T16:33:00"
    )


def test_a_wikis_revision_footer_dates_a_page_with_no_other_date() -> None:
    footer = (
        "<ul id='footer-info'><li id='footer-info-lastmod'> Diese Seite wurde zuletzt am "
        "12. Juli 2017 um 10:15 Uhr bearbeitet.</li></ul>"
    )
    html = page(f"<h1>Bridge vote</h1><div id='bodyContent'>{body()}</div>{footer}", "de")
    content = parse_html(html, "https://w.example/wiki/Bridge")
    assert content.published == content.modified == "2017-07-12T10:15:00"
    # the same page without the footer has no date, and gets none
    plain = page(f"<h1>Bridge vote</h1><div id='bodyContent'>{body()}</div>", "de")
    assert parse_html(plain, "https://w.example/wiki/Bridge").published is None


def test_a_date_box_named_in_one_word() -> None:
    html = page(
        "<div class='itemHeader'><span class='itemDateCreated'>mercoledì, 12 luglio 2017 "
        f"10:15</span><h2 class='itemTitle'>Bridge vote</h2></div><div>{body()}</div>"
        "<div class='itemDateModified'>Ultima modifica il giovedì, 13 luglio 2017 09:02</div>",
        "it",
    )
    content = parse_html(html, "https://k.example/item/214-bridge")
    assert content.published == "2017-07-12T10:15:00"
    assert content.modified == "2017-07-13T09:02:00"


def test_a_calendar_badge_with_the_time_between_day_and_year() -> None:
    html = page(
        "<h1>Bridge vote</h1><div class='date'><div>November 20</div><div><font>15:23</font>"
        f"<font>2019</font></div></div>{body()}"
    )
    assert parse_html(html, "https://e.example/a").published == "2019-11-20T15:23:00"


def test_a_sentence_opening_the_text_is_no_date_line() -> None:
    lead = (
        "La cooperativa nació el 3 de mayo de 1998, cuando veintidós familias de la comarca "
        "decidieron moler juntas su aceituna."
    )
    html = page(f"<h1>Nuestra historia</h1><div class='entry'><p>{lead}</p>{body()}</div>", "es")
    now = datetime(2017, 12, 1, tzinfo=UTC)
    assert parse_html(html, "https://c.example/historia/", now=now).published is None


def test_a_date_line_named_as_the_publication_after_a_long_lead() -> None:
    lead = f"<p class='einleitung'>{PROSE} {PROSE}</p>"
    rows = "".join(f"<li>Haltestelle {n}</li>" for n in range(50))
    html = page(
        f"<div class='nachricht'><h1>Bridge vote</h1>{lead}<div class='zeile'><span>"
        f"Veröffentlicht am 03.05.2022</span> | <span>Ressort: Verkehr</span></div>"
        f"<div class='text'>{body()}<ul>{rows}</ul>{body(1)}</div></div>",
        "de",
    )
    assert parse_html(html, "https://g.example/aktuelles/bus/").published == "2022-05-03"


def captions(inner: str) -> list[str]:
    html = page(f"<h1>Bridge vote</h1><div class='entry-content'>{body(1)}{inner}{body(2)}</div>")
    return [c.text or c.credit or "" for c in parse_html(html, "https://e.example/a").captions]


FIGURE = (
    "<figure><img src='/bridge.jpg'><figcaption>The old crossing in March. "
    "<span class='credit'>Photo: Ann Lee</span></figcaption></figure>"
)


def test_a_writers_headshot_beside_a_caption_classed_share_bar_is_no_figure() -> None:
    byline = (
        "<div class='article-info'><div class='article-info-author'><span class='author-image'>"
        "<img src='/staff/ap.png'></span><span class='author-name'>Associated Press</span>"
        "<span class='publish-date'>November 19, 2019, 9:02 AM</span></div>"
        "<div class='wp-caption-text'><ul class='share'><li><a href='/s'></a></li></ul></div>"
        "</div>"
    )
    assert captions(byline + FIGURE) == ["The old crossing in March."]


def test_social_posts_and_ad_slots_are_no_figures() -> None:
    tweet = (
        "<div class='social-embed-post'><figure><img src='/tweet.png'><figcaption>"
        "Image copyright @CityHall</figcaption></figure></div>"
    )
    ads = (
        "<div class='werbung'><img src='/banner.jpg'><br><small>Anzeige</small></div>"
        "<div><img src='/banner2.jpg'><br><small>Publicidad</small></div>"
    )
    assert captions(tweet + ads + FIGURE) == ["The old crossing in March."]


def test_a_related_story_card_is_no_figure_but_a_picture_linked_to_its_source_is() -> None:
    card = (
        "<div class='embedded-story'><div><a href='/news/other-story/'><img src='/t.jpg'></a>"
        "</div><div class='embedded-story__caption'><a href='/news/other-story/'>Ferry refit "
        "delayed again</a></div></div>"
        "<a class='read-also' href='/news/roads/'><img src='/r.jpg'>"
        "<span class='read-also__caption'>Which roads are repaved</span></a>"
    )
    source = (
        "<p><span class='wf_caption'><a href='https://nasa.example/PIA1'><img src='/map.jpg'>"
        "</a><span>The first map of Titan. (<a href='https://nasa.example/PIA1'>NASA/JPL</a>)"
        "</span></span></p>"
    )
    assert captions(card + source) == ["The first map of Titan."]
