"""Dates and captions on layouts of pages the parser was not tuned on (issue 10), each rule on
a small page of its layout (tests/pages/web holds fuller pages of the same layouts)."""

from __future__ import annotations

from datetime import UTC, datetime

from scraper.parse import parse_html
from scraper.parse.datetext import parse_human

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


def test_month_names_of_more_languages_and_short_forms() -> None:
    for text, day in (
        ("12 października 2021, 10:15", "2021-10-12"),  # Polish, genitive
        ("12. července 2017", "2017-07-12"),  # Czech
        ("12 липня 2017", "2017-07-12"),  # Ukrainian
        ("Publicerad 3 augusti 2019", "2019-08-03"),  # Swedish
        ("12 Kas\u0131m 2017", "2017-11-12"),  # Turkish
        ("5 ago. 2021", "2021-08-05"),  # es / it / pt short forms
        ("3 out. 2019", "2019-10-03"),  # pt
        ("5 mrt. 2021", "2021-03-05"),  # nl
    ):
        found = parse_human(text, month_first=False)
        assert found is not None, text
        assert found.day.isoformat() == day, text


def test_elements_named_for_the_update_are_the_modified_date() -> None:
    # WordPress themes write both <time>s, either first; an unmodified post's one is named
    # "published updated" and is the publication.
    times = (
        "<span class='posted-on'><time class='updated' datetime='2017-07-14T09:00:00+02:00'>"
        "14. Juli 2017</time> <time class='entry-date published' "
        "datetime='2017-07-12T10:15:00+02:00'>12. Juli 2017</time></span>"
    )
    content = parse_html(page(f"<h1>Bridge vote</h1>{times}{body()}", "de"), "https://e.example/a")
    assert (content.published or "")[:10] == "2017-07-12"
    assert (content.modified or "")[:10] == "2017-07-14"
    once = (
        "<span class='posted-on'><time class='entry-date published updated' "
        "datetime='2017-07-12T10:15:00+02:00'>12. Juli 2017</time></span>"
    )
    content = parse_html(page(f"<h1>Bridge vote</h1>{once}{body()}", "de"), "https://e.example/a")
    assert (content.published or "")[:10] == "2017-07-12"


def test_an_update_shown_the_day_after_does_not_move_the_machine_date() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "Bridge vote",'
        ' "datePublished": "2017-07-12T22:00:00Z", "dateModified": "2017-07-13T13:00:00Z"}'
        "</script>"
    )
    for line in (
        "<p class='meta'>Updated <time datetime='2017-07-13T13:00:00Z'>July 13, 2017 9:00 am"
        "</time></p>",
        "<span class='date-modified'>13.07.2017</span>",
    ):
        html = (
            f"<html><head><title>Bridge vote</title>{ld}</head><body><h1>Bridge vote</h1>{line}"
            f"{body()}</body></html>"
        ).encode()
        assert parse_html(html, "https://e.example/a").published == "2017-07-12T22:00:00Z"


def test_a_date_in_a_list_of_stories_above_the_headline_is_not_the_articles() -> None:
    ticker = (
        "<div class='top-themen'><ul><li><span>10.07.2017</span> <a href='/a'>Stadtfest zieht "
        "mehr Besucher an als erwartet</a></li><li><span>11.07.2017</span> <a href='/b'>"
        "Hochwasserwarnung für das Tal aufgehoben</a></li></ul></div>"
    )
    byline = "<p class='autor'>Von <a href='/autor/anna'>Anna Schmidt</a>, 12.07.2017</p>"
    html = page(f"{ticker}<h1>Bridge vote</h1>{byline}{body()}", "de")
    assert parse_html(html, "https://e.example/a").published == "2017-07-12"


def test_relative_times_give_the_date_their_attributes_hold_and_are_never_worked_out() -> None:
    xf1 = (
        "<h1>Bridge vote</h1><p class='meta'><a class='datePermalink' href='/t/1'><abbr "
        "class='DateTime' data-time='1499847300' data-datestring='Jul 12, 2017' "
        f"data-timestring='10:15 AM'>Wednesday at 10:15 AM</abbr></a></p>{body()}"
    )
    assert parse_html(page(xf1), "https://f.example/threads/1/").published == "2017-07-12"
    tooltip = "<h1>Bridge vote</h1><span class='datum' title='12.07.2017 10:15'>vor 3 Tagen</span>"
    content = parse_html(page(tooltip + body(), "de"), "https://e.example/a")
    assert content.published == "2017-07-12T10:15:00"
    for relative in ("vor 3 Tagen", "3 days ago", "gestern, 10:15"):
        html = page(f"<h1>Bridge vote</h1><span class='datum'>{relative}</span>{body()}", "de")
        now = datetime(2017, 7, 15, tzinfo=UTC)
        assert parse_html(html, "https://e.example/a", now=now).published is None


def test_a_page_with_no_heading_element_gives_the_date_above_its_text() -> None:
    html = (
        "<html lang='de'><head><title>Neue Brücke - Talheimer Bote</title></head><body>"
        "<div class='navi'><a href='/'>Start</a></div><div class='artikel'><div class='kopf'>"
        f"<span>Mittwoch, 12. Juli 2017</span></div><div class='text'>{body()}</div></div>"
        "</body></html>"
    ).encode()
    assert parse_html(html, "https://t.example/artikel?id=12").published == "2017-07-12"


def test_newsletter_partner_and_author_box_figures_are_no_captions() -> None:
    promos = (
        "<div class='newsletter-signup'><img src='/nl.png'><p class='caption'>The morning "
        "briefing in your inbox</p></div><div class='partner'><img src='/logo.png'>"
        "<div class='caption'>In partnership with the River Trust</div></div>"
        "<div class='post-author'><figure><img src='/anna.jpg'><figcaption>Anna Smith covers "
        "the council.</figcaption></figure></div>"
    )
    assert captions(promos + FIGURE) == ["The old crossing in March."]


def test_a_sentence_naming_a_day_below_the_text_does_not_date_it() -> None:
    sentence = "<p>Am 3. Mai 2018 soll die neue Brücke für den Verkehr freigegeben werden.</p>"
    html = page(f"<div class='artikel'><h1>Bridge vote</h1>{body(4)}{sentence}</div>", "de")
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_html(html, "https://e.example/a", now=now).published is None
    # a line dating the post there still does (WordPress classic themes)
    line = (
        "<p class='postmetadata'>This entry was posted on Wednesday, July 12th, 2017 at 10:15 am "
        "and is filed under News.</p>"
    )
    html = page(f"<div class='post'><h1>Bridge vote</h1>{body(4)}{line}</div>")
    assert (parse_html(html, "https://e.example/a", now=now).published or "")[:10] == "2017-07-12"


def test_more_names_of_date_boxes() -> None:
    for box in (
        "<abbr class='timeago' title='2017-07-12T10:15:00Z'>vor 3 Tagen</abbr>",
        "<span class='newstime'>12.07.2017</span>",
        "<div class='submitted'>Mi, 12.07.2017 - 10:15</div>",
    ):
        html = page(f"<div class='seite'><p class='x'>{PROSE}</p>{box}</div><h1>Bridge vote</h1>")
        content = parse_html(html + body().encode(), "https://e.example/a")
        assert (content.published or "")[:10] == "2017-07-12", box


def test_a_column_of_the_latest_stories_beside_the_article_dates_nothing() -> None:
    column = (
        "<div class='col-md-4'><h3>Latest</h3><div class='item'><span class='date'>July 10, "
        "2017</span> <a href='/a'>Flood warning for the valley lifted</a></div></div>"
    )
    now = datetime(2024, 1, 1, tzinfo=UTC)
    for layout in (
        f"{column}<div class='col-md-8'><div class='art'><h1>Bridge vote</h1>{body(4)}</div></div>",
        f"<div class='col-md-8'><div class='art'><h1>Bridge vote</h1>{body(4)}</div></div>{column}",
    ):
        assert parse_html(page(layout), "https://e.example/a", now=now).published is None
    # a box of many links with the work's own date in it (tags, a fandom's names) is no teaser
    meta = (
        "<dl class='work meta'><dt>Tags:</dt><dd><a href='/t/1'>The Old Bridge Over the River"
        "</a>, <a href='/t/2'>Town Council</a>, <a href='/t/3'>Winter</a></dd><dt>Published:</dt>"
        "<dd class='published'>2017-08-15</dd></dl>"
    )
    html = page(f"{meta}<div class='col-md-8'><h1>Bridge vote</h1>{body(4)}</div>")
    assert parse_html(html, "https://e.example/a", now=now).published == "2017-08-15"


def test_a_reviews_or_comments_date_does_not_date_the_page() -> None:
    shop = (
        "<div class='product-single__meta'><h1>Wool slippers</h1>"
        f"<div class='product-single__description rte'><p>{PROSE}</p><p>{PROSE}</p></div></div>"
    )
    reviews = {
        "spr-reviews": (
            "<div class='spr-content'><div class='spr-reviews'><div class='spr-review'>"
            "<span class='spr-review-header-byline'><strong>Monika R.</strong> on "
            "<strong>01/12/2022</strong></span><p>Warm and light, I wear them every day.</p>"
            "</div></div></div>"
        ),
        "article per review": (
            "<div class='reviews-list'><article class='review'><header><b>Monika R.</b> "
            "<span>January 12, 2022</span></header><p>Warm and light, I wear them every day.</p>"
            "</article></div>"
        ),
        "article per comment": (
            "<ol class='commentlist'><li><article class='comment-body'><footer><b>Monika R."
            "</b> <span>January 12, 2022</span></footer><p>Warm and light, I wear them.</p>"
            "</article></li></ol>"
        ),
    }
    for name, box in reviews.items():
        content = parse_html(page(shop + box), "https://shop.example/products/wool-slippers")
        assert content.published is None, name


def _thread(first: str, second: str, html_attrs: str, head: str = "") -> bytes:
    def post(n: int, shown: str) -> str:
        return (
            f"<div id='edit{n}'><table class='tborder' id='post{n}'><tr><td class='thead'>"
            f"<a name='post{n}'></a>{shown}, 09:15 PM</td></tr><tr><td class='alt2'>"
            f"<a class='bigusername' href='member.php?u={n}'>user{n}</a></td>"
            f"<td class='alt1' id='td_post_{n}'><div id='post_message_{n}'>{PROSE} {PROSE}"
            "</div></td></tr></table></div>"
        )

    return (
        f"<html {html_attrs}><head><title>Bridge vote - Riverside Forums</title>{head}</head>"
        f"<body><h1>Bridge vote</h1><div id='posts'>{post(101, first)}{post(102, second)}"
        "</div></body></html>"
    ).encode()


def test_numeric_dates_are_month_first_on_us_pages_and_day_first_elsewhere() -> None:
    url = "https://forums.riverside.example/showthread.php?t=1"
    us = (("lang='en-US'", ""), ("dir='ltr'", "<meta property='og:locale' content='en_US'>"))
    for attrs, head in us:
        content = parse_html(_thread("06-11-2019", "06-12-2019", attrs, head), url)
        assert content.published == "2019-06-11T21:15:00", attrs
    for attrs in ("lang='en-GB'", "lang='de-DE'", "dir='ltr'"):
        content = parse_html(_thread("06-11-2019", "06-12-2019", attrs), url)
        assert content.published == "2019-11-06T21:15:00", attrs


def test_a_page_whose_other_numeric_dates_force_an_order_reads_its_date_so() -> None:
    url = "https://forums.riverside.example/showthread.php?t=1"
    # no language declared: a later post's "06-13-2019" can only be month first
    content = parse_html(_thread("06-11-2019", "06-13-2019", "dir='ltr'"), url)
    assert content.published == "2019-06-11T21:15:00"
    # a template's lang="en-US" on a site that writes day first ("13/06/2019")
    content = parse_html(_thread("06/11/2019", "13/11/2019", "lang='en-US'"), url)
    assert content.published == "2019-11-06T21:15:00"
    # digits that force nothing leave the language's order
    content = parse_html(_thread("06-11-2019", "07-11-2019", "lang='en-US'"), url)
    assert content.published == "2019-06-11T21:15:00"
