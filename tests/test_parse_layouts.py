"""Rules for classes of layouts the corpus has few of, each on a small page of that layout
(the golden pages under tests/pages/web hold fuller examples)."""

from __future__ import annotations

import pytest

from archive.record import BlockKind
from scraper.errors import NotAnArticle
from scraper.parse import parse_html

PROSE = (
    "The town council voted on Thursday night to build a new footbridge over the river, "
    "replacing the old wooden crossing that was closed last winter after an inspection."
)

PROSE2 = (
    "The steel bridge will cost about 180,000 dollars, half of it from a state trails grant, "
    "and construction is expected to start in June and to finish before the school year."
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


def article(inner: str, head: str = "", lang: str = "en") -> bytes:
    return (
        f"<html lang='{lang}'><head><title>Bridge vote</title>{head}</head><body>{inner}"
        "</body></html>"
    ).encode()


def test_blogger_date_header_inside_a_widget_is_the_posts() -> None:
    page = article(
        "<div class='widget Blog'><h2 class='date-header'><span>Thursday, March 5, 2015</span>"
        "</h2><div class='post'><h3 class='post-title'>Bridge vote</h3>"
        f"<div class='post-body'>{PROSE}<br><br>{PROSE}</div></div></div>"
    )
    assert parse_html(page, "https://b.example/p.html").published == "2015-03-05"


def test_a_members_join_date_is_not_the_posts() -> None:
    page = article(
        "<h2 class='topic-title'>Bridge vote</h2><div class='post'><dl class='postprofile'>"
        "<dd><strong>Joined:</strong> Tue Jan 10, 2012 6:20 pm</dd></dl>"
        "<p class='author'>by <b>al</b> &raquo; Mon Mar 04, 2019 8:12 pm</p>"
        f"<div class='content'>{PROSE}</div></div>"
    )
    assert parse_html(page, "https://f.example/t?1").published == "2019-03-04T20:12:00"


def test_dateline_opening_the_first_paragraph() -> None:
    for lead, day in (
        ("Beispielstadt (ots) - 03.05.2022 - ", "2022-05-03"),
        ("WASHINGTON, March 5, 2021 /PRNewswire/ -- ", "2021-03-05"),
    ):
        page = article(f"<h1>Bridge vote</h1><div><p>{lead}{PROSE}</p><p>{PROSE}</p></div>")
        assert parse_html(page, "https://p.example/a").published == day


def test_dotted_numeric_dates_are_day_first_even_in_english() -> None:
    page = article(f"<h1>Bridge vote</h1><div class='date'>03.05.2022</div><p>{PROSE}</p>")
    assert parse_html(page, "https://p.example/a").published == "2022-05-03"


def test_lines_around_the_text_of_a_container_without_paragraphs_are_not_body() -> None:
    page = article(
        "<table><tr><td><font size='1'><a href='/'>Home</a> &gt; <a href='/n/'>News</a></font>"
        "<br><font size='1'>Talheim, 12. Juli 2017</font><br><font size='4'><b>Bridge vote</b>"
        f"</font><br><i>Von Gerda Maier</i><br><br>{PROSE}<br><br>{PROSE2}<br><br>"
        "<a href='/archiv/'>Weitere Meldungen aus dem Juli 2017</a></td></tr></table>",
        lang="de",
    )
    content = parse_html(page, "https://t.example/a")
    assert [b.text for b in content.body] == [PROSE, PROSE2]
    assert content.published == "2017-07-12"


def test_forum_member_boxes_are_not_body() -> None:
    page = article(
        "<h2 class='topic-title'>Bridge vote</h2><div id='page-body'>"
        "<div class='post'><dl class='postprofile'><dd>Posts: 412</dd></dl>"
        f"<div class='content'>{PROSE}</div></div>"
        "<div class='post'><dl class='postprofile'><dd>Posts: 2231</dd></dl>"
        f"<div class='content'>{PROSE2}</div></div></div>"
    )
    assert [b.text for b in parse_html(page, "https://f.example/t?1").body] == [PROSE, PROSE2]


def test_a_product_box_named_meta_holding_the_text_is_read() -> None:
    page = article(
        "<h1>Enamel mug</h1><div class='product-meta'><div class='price'>14 EUR</div>"
        f"<div class='description'><p>{PROSE} {PROSE2}</p><ul><li>Steel</li></ul></div></div>"
        "<div class='reviews'><p>Great mug, survived a week in the Alps.</p></div>"
    )
    assert parse_html(page, "https://s.example/p").body[0].text == f"{PROSE} {PROSE2}"


def test_data_tables_are_read_a_row_at_a_time() -> None:
    rows = "".join(
        f"<tr><td>{n}</td><td>Work number {n}</td><td>{1920 + n}</td></tr>" for n in range(1, 4)
    )
    page = article(f"<h1>Bridge vote</h1><div><p>{PROSE}</p><table>{rows}</table></div>")
    body = [b.text for b in parse_html(page, "https://w.example/a").body]
    assert body[1:] == [
        "1 | Work number 1 | 1921",
        "2 | Work number 2 | 1922",
        "3 | Work number 3 | 1923",
    ]


def test_caption_paragraph_named_for_picture_and_text() -> None:
    page = article(
        f"<h1>Bridge vote</h1><div class='content'><p>{PROSE}</p>"
        "<p class='img'><img src='/b.jpg'></p><p class='pictext'>The new bridge at dusk.</p>"
        f"<p>{PROSE2}</p></div>"
    )
    content = parse_html(page, "https://c.example/a")
    assert [c.text for c in content.captions] == ["The new bridge at dusk."]
    assert [b.text for b in content.body] == [PROSE, PROSE2]


def test_metadata_title_is_kept_verbatim_in_its_order_of_precedence() -> None:
    body = f"<h1>Bridge vote</h1><div><p>{PROSE}</p><p>{PROSE2}</p></div>"
    ld = '<script type="application/ld+json">{"@type":"NewsArticle","headline":"LD"}</script>'
    og = '<meta property="og:title" content="OG | Site">'
    tw = '<meta name="twitter:title" content="TW">'
    cases = [(ld + og + tw, "LD"), (og + tw, "OG | Site"), (tw, "TW"), ("", "Bridge vote")]
    for head, title in cases:
        content = parse_html(article(body, head=head), "https://m.example/a")
        assert (content.title, content.headline) == (title, "Bridge vote"), head


def test_site_title_with_an_image_masthead_gives_the_bold_line_shown() -> None:
    head = "Mill fire destroys the old flax mill"
    for title in (f"The Old Town Herald :: {head}", f"{head} - The Old Town Herald"):
        page = table_page(title, "<img src='/m.gif' alt='The Old Town Herald'>", head)
        assert parse_html(page, "http://oth.example/a.html").headline == head, title
    # only the masthead is shown as text (a bold link home): the headline is the other part
    page = (
        "<html><head><title>The Old Town Herald :: " + head + "</title></head><body>"
        "<a href='/'><b>The Old Town Herald</b></a><div>"
        + PROSE
        + "<br><br>"
        + PROSE2
        + "</div></body></html>"
    ).encode()
    assert parse_html(page, "http://oth.example/a.html").headline == head


# Issue 10, generality (session 21): layouts of blogs, club sites and CMS pages.


def post(
    after: str, wrap: str = "article", head: str = "", url: str = "https://b.example/p"
) -> str:
    """A blog post: heading, body, then `after` inside the post's box, beside a sidebar whose
    teaser carries a date of its own."""
    html = (
        f"<html lang='en'><head><title>Bridge vote</title>{head}</head><body><div id='page'>"
        f"<{wrap} class='post'><h1 class='entry-title'>Bridge vote</h1>"
        f"<div class='entry-content'><p>{PROSE}</p><p>{PROSE2}</p></div>{after}</{wrap}>"
        "<div id='sidebar'><ul><li><a href='/x'>Older post</a> <span>January 1, 2020</span>"
        "</li></ul></div></div><footer>Updated March 9, 2021</footer></body></html>"
    )
    return parse_html(html.encode(), url).published or ""


def test_a_date_in_the_posts_own_footer_is_its_date() -> None:
    # WordPress Twenty Ten-Twelve: "This entry was posted in News on <time>" below the post
    footer = (
        "<footer class='entry-meta'>This entry was posted in <a href='/c'>News</a> on "
        "<a href='/p'><time datetime='2021-05-03T10:00:00+00:00'>May 3, 2021</time></a>.</footer>"
    )
    assert post(footer).startswith("2021-05-03")
    assert post(footer, wrap="div").startswith("2021-05-03")
    assert post("<div class='entry-footer'><span>Posted May 3, 2021</span></div>").startswith(
        "2021-05-03"
    )
    # a line of its own below the text, in the post's box (no class names a date)
    assert post("<p>Geschrieben am 3. Mai 2021 von Anna</p>", wrap="div").startswith("2021-05-03")
    # the page's footer and the sidebar's teaser are not the post's
    assert post("") == ""
    assert post("<div class='related'><span>April 2, 2021</span></div>", wrap="div") == ""


def test_a_webpage_date_stands_for_an_article_object_without_one() -> None:
    graph = (
        '<script type="application/ld+json">{"@context":"https://schema.org","@graph":['
        '{"@type":"WebPage","datePublished":"2021-05-03T10:00:00+02:00"},'
        '{"@type":"Article","headline":"Bridge vote"}]}</script>'
    )
    assert post("", head=graph).startswith("2021-05-03")


def test_german_two_digit_years() -> None:
    info = "<div class='newsinfo'>Erstellt am 14.06.21 von Vorstand</div>"
    assert post(info, wrap="div").startswith("2021-06-14")
    # version numbers are no dates
    assert post("<p>Version 1.2.21 von Anna</p>", wrap="div") == ""


def test_sentences_opening_with_a_furniture_word_are_prose() -> None:
    kept = [
        "Share prices across the sector slipped in sympathy, with two brewers losing 4 per cent.",
        "Comments from analysts after the announcement were mixed, one broker said on Monday.",
        "Posted profits for the first half were 4.2 million, against 1.1 million a year ago.",
    ]
    dropped = ["Share", "3 Comments", "Posted in News", "Updated 5 hours ago", "Share this story"]
    paras = "".join(f"<p>{t}</p>" for t in (*kept, *dropped))
    page = article(
        f"<h1>Bridge vote</h1><div class='story'><p>{PROSE}</p>{paras}<p>{PROSE2}</p></div>"
    )
    body = [b.text for b in parse_html(page, "https://n.example/a").body]
    assert body == [PROSE, *kept, PROSE2]


def test_joomla_article_info_is_furniture_and_gives_the_date() -> None:
    page = article(
        "<div class='item-page'><div class='page-header'><h2 itemprop='headline'>Bridge vote"
        f"</h2></div><div itemprop='articleBody'><p>{PROSE}</p><p>{PROSE2}</p></div>"
        "<dl class='article-info muted'><dt>Details</dt><dd class='category-name'>Kategorie: "
        "<a href='/c'>News</a></dd><dd class='create'>Erstellt: Sonntag, 31. März 2019 21:14"
        "</dd><dd class='hits'>Zugriffe: 412</dd></dl></div>",
        lang="de",
    )
    parsed = parse_html(page, "https://tsv.example/aktuelles/318-bridge-vote")
    assert [b.text for b in parsed.body] == [PROSE, PROSE2]
    assert (parsed.published or "").startswith("2019-03-31")


def test_a_form_around_the_whole_page_is_a_wrapper() -> None:
    # ASP.NET WebForms: <form id="aspnetForm"> holds everything, the text in <br> runs
    inner = f"<h1>Bridge vote</h1><div class='text'>{PROSE}<br><br>{PROSE2}</div>"
    for page in (
        article(f"<form id='aspnetForm' method='post'>{inner}</form>"),
        article(f"<div id='wrap'><form method='post'><div>{inner}</div></form></div>"),
    ):
        assert [b.text for b in parse_html(page, "https://w.example/a.aspx").body] == [
            PROSE,
            PROSE2,
        ]
    # a form beside the text is still a form
    page = article(
        f"<h1>Bridge vote</h1><div class='text'><p>{PROSE}</p><p>{PROSE2}</p></div>"
        "<div><form><p>Tell us what you think of the bridge plan and we will print it.</p>"
        "<textarea></textarea></form></div>"
    )
    assert [b.text for b in parse_html(page, "https://w.example/a").body] == [PROSE, PROSE2]


def test_a_box_around_the_headline_named_for_the_layout_is_no_sidebar() -> None:
    # "container layout-with-sidebar", "has-sidebar": the page's wrapper, with a short text
    for cls in ("container layout-with-sidebar", "wrap has-sidebar", "page-widget"):
        page = article(
            f"<div class='{cls}'><div class='col'><h1>Bridge vote</h1><p>{PROSE}</p>"
            f"<p>{PROSE2}</p></div><div class='side'><a href='/a'>Other</a></div></div>"
        )
        assert [b.text for b in parse_html(page, "https://w.example/a").body] == [
            PROSE,
            PROSE2,
        ], cls
    # a sidebar beside the headline's box is still pruned
    page = article(
        f"<div class='col'><h1>Bridge vote</h1><p>{PROSE}</p><p>{PROSE2}</p></div>"
        "<div class='sidebar'><p>The sidebar has a paragraph of its own about the town's "
        "history, its old mill and the river that runs through it, for new readers.</p></div>"
    )
    assert [b.text for b in parse_html(page, "https://w.example/a").body] == [PROSE, PROSE2]


def test_page_builder_widgets_hold_the_text() -> None:
    def widget(kind: str, inner: str) -> str:
        return (
            f"<div class='elementor-element elementor-widget elementor-widget-{kind}'>"
            f"<div class='elementor-widget-container'>{inner}</div></div>"
        )

    page = article(
        "<div class='elementor elementor-location-single'>"
        + widget("theme-post-title", "<h1 class='elementor-heading-title'>Bridge vote</h1>")
        + widget("theme-post-content", f"<p>{PROSE}</p><p>{PROSE2}</p>")
        + widget("share-buttons", "<p>Share this story with the people in your town today.</p>")
        + "</div>"
    )
    assert [b.text for b in parse_html(page, "https://w.example/a").body] == [PROSE, PROSE2]


def test_what_lies_between_two_parts_of_the_text_is_text() -> None:
    # parts of the text in sibling boxes, with a subheading, a list, an unnamed <div> and a
    # quote between them; a byline with its date and the links after the text stay out
    page = article(
        "<div id='story'><h1>Bridge vote</h1>"
        f"<div class='body-part'><p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE}</p></div>"
        "<div class='signature'>Ann Lee, Riverdale, May 3, 2021</div>"
        "<h2>What comes next</h2><ul><li>A design contest in the spring.</li>"
        "<li>Work starts in June.</li></ul>"
        "<div>A footbridge was first proposed there in 1998.</div>"
        f"<div class='body-part-2'><p>{PROSE2}</p></div>"
        "<div><a href='/more'>More local news</a> <a href='/w'>Weather</a></div></div>"
    )
    body = [b.text for b in parse_html(page, "https://w.example/a").body]
    assert body == [
        PROSE,
        PROSE2,
        PROSE,
        "What comes next",
        "A design contest in the spring.",
        "Work starts in June.",
        "A footbridge was first proposed there in 1998.",
        PROSE2,
    ]


def test_german_furniture_words() -> None:
    page = article(
        "<div class='artikel'><span class='dachzeile'>Verkehr</span><h1>Bridge vote</h1>"
        f"<p>{PROSE}</p><div class='anzeige'><p>{PROSE2} Jetzt bestellen!</p></div>"
        "<p>Anzeige</p><p>Mehr zum Thema: Brücken in der Region</p>"
        f"<p>{PROSE2}</p><div class='kommentare'><p>{PROSE} (Leser)</p></div></div>",
        lang="de",
    )
    assert [b.text for b in parse_html(page, "https://w.example/a").body] == [PROSE, PROSE2]


def test_wordpress_tag_and_category_classes_name_no_furniture() -> None:
    # post_class() names the post's box after its tags: "tag-social-media", "category-related"
    closing = "We will keep the newsletter going, once a month, with the news from the council."
    page = article(
        "<header class='page-header'><h1>Bridge vote</h1></header><div id='content'>"
        "<article class='post-9 post type-post hentry category-related tag-social-media'>"
        f"<div class='entry'><p>{PROSE}</p><p>{PROSE2}</p><p>{closing}</p></div></article>"
        "<div class='newsletter'><p>Sign up for our newsletter</p></div></div>"
    )
    body = [b.text for b in parse_html(page, "https://w.example/a").body]
    assert body == [PROSE, PROSE2, closing]


def test_sentences_with_a_date_and_by_or_von_are_prose() -> None:
    kept = [
        "Der Vertrag wurde am 3. Mai 2021 von beiden Seiten in Berlin unterschrieben.",
        "By Christmas, most of the shops in the centre will have reopened, the council said.",
        "The law was passed by parliament on 3 May 2021, after a long debate.",
    ]
    dropped = ["Von Anna Berg, 3. Mai 2021", "Published on May 3, 2021 by John Smith."]
    paras = "".join(f"<p>{t}</p>" for t in (*kept, *dropped))
    page = article(
        f"<h1>Bridge vote</h1><div class='story'><p>{PROSE}</p>{paras}<p>{PROSE2}</p></div>"
    )
    body = [b.text for b in parse_html(page, "https://n.example/a").body]
    assert body == [PROSE, *kept, PROSE2]


def test_published_meta_names_of_other_cms() -> None:
    for name in ("publication_date", "shareaholic:article_published_time", "date_published"):
        head = f'<meta name="{name}" content="2021-05-03T10:00:00+02:00">'
        assert post("", head=head).startswith("2021-05-03"), name


def test_blogger_classic_post_title_in_an_h3_is_the_headline() -> None:
    page = (
        "<html lang='en'><head><title>Two Wheels Blog: Bridge vote</title></head><body>"
        "<div class='header'><h1><a href='/'>Two Wheels Blog</a></h1></div>"
        "<div class='sidebar'><h3>Bridge vote results elsewhere and more</h3></div>"
        "<div class='post hentry'><h3 class='post-title entry-title'>Bridge vote</h3>"
        f"<div class='post-body entry-content'>{PROSE}<br><br>{PROSE2}</div>"
        "<div class='post-footer'>Posted by Sam at <abbr class='published' "
        "title='2017-07-12T14:33:00+01:00'>2:33 PM</abbr></div></div></body></html>"
    ).encode()
    parsed = parse_html(page, "https://b.example/2017/07/bridge.html")
    assert parsed.headline == "Bridge vote"
    # the post's footer is found as the post's once its heading is known
    assert parsed.published == "2017-07-12T14:33:00+01:00"
    # without the post's heading the sidebar's <h3> is no headline: the metadata title is kept
    bare = page.replace(b"<h3 class='post-title entry-title'>Bridge vote</h3>", b"")
    assert (
        parse_html(bare, "https://b.example/p").headline != "Bridge vote results elsewhere and more"
    )


def test_calendar_badge_dates_are_read_apart() -> None:
    badge = (
        "<div class='post-date'><span class='day'>12</span><span class='month'>Jul</span>"
        "<span class='year'>2017</span></div>"
    )
    page = article(f"{badge}<h1>Bridge vote</h1><div class='story'><p>{PROSE}</p><p>{PROSE2}</p>")
    assert parse_html(page, "https://b.example/bridge").published == "2017-07-12"
    # day and month alone are no date
    no_year = badge.replace("<span class='year'>2017</span>", "")
    page = article(f"{no_year}<h1>Bridge vote</h1><div class='story'><p>{PROSE}</p></div>")
    assert parse_html(page, "https://b.example/bridge").published is None


def test_a_list_beside_the_texts_box_is_part_of_it() -> None:
    items = ["500 g flour, sifted twice", "1 cube of fresh yeast", "250 ml warm milk", "80 g sugar"]
    ingredients = "<div class='ingredients'><h2>Ingredients</h2><ul>{}</ul></div>".format(
        "".join(f"<li>{i}</li>" for i in items)
    )
    steps = f"<div class='method'><h2>Method</h2><ol><li>{PROSE}</li><li>{PROSE2}</li></ol></div>"
    related = "<div class='more'><ul>{}</ul></div>".format(
        "".join(
            f"<li><a href='/r{n}'>Another recipe with a long name {n}</a></li>" for n in range(4)
        )
    )
    page = article(f"<div class='recipe'><h1>Bridge vote</h1>{ingredients}{steps}{related}</div>")
    body = [b.text for b in parse_html(page, "https://r.example/a").body]
    assert all(i in body for i in items)
    assert PROSE in body
    assert PROSE2 in body
    assert not any("Another recipe" in t for t in body)


def test_forum_posts_in_boxes_of_their_own_told_apart_by_numbered_ids() -> None:
    def post(n: int, text: str) -> str:
        return (
            f"<table id='post{n}'><tr><td class='thead'>12.07.2017, 14:3{n} #{n}</td></tr>"
            f"<tr><td class='alt2'><a class='bigusername' href='/u/{n}'>user{n}</a></td>"
            f"<td class='alt1' id='td_post_{n}'><div id='post_message_{n}'>{text}</div>"
            "</td></tr></table>"
        )

    short = "Danke, das hilft mir weiter."
    page = (
        "<html><head><title>Bridge vote - Forum</title></head><body>"
        f"<table><tr><td><a href='/'>Forum</a></td></tr></table>{post(1, PROSE)}"
        f"{post(2, PROSE2)}{post(3, short)}"
        "<div id='slide_4'><p>Another forum's thread with a title that is long enough</p></div>"
        "</body></html>"
    ).encode()
    body = [b.text for b in parse_html(page, "https://f.example/showthread.php?t=1").body]
    assert body == [PROSE, PROSE2, short]


def test_table_layout_titled_only_by_site_and_section_gives_the_opening_bold_line() -> None:
    def page(title: str, before: str = "") -> bytes:
        return (
            f"<html><head><title>{title}</title></head><body><table><tr>"
            "<td><a href='/'>Start</a><br><a href='/news'>Neuigkeiten</a><br>"
            "<a href='/club'>Verein</a></td><td>"
            f"{before}<font size='4'><b>Bridge reopens after two years</b></font><br>"
            f"<font size='2'>12.07.2017</font><br><br><font size='2'>{PROSE}<br><br>{PROSE2}"
            "</font></td></tr></table></body></html>"
        ).encode()

    parsed = parse_html(page("TV Talheim - Neuigkeiten"), "https://tv-talheim.example/n?id=4")
    assert parsed.headline == "Bridge reopens after two years"
    assert [b.text for b in parsed.body] == [PROSE, PROSE2]  # headline and date line are not
    assert parsed.published == "2017-07-12"
    # a bold line after the text has begun is no headline
    late = page("TV Talheim - Neuigkeiten", before=f"{PROSE}<br><br>")
    assert parse_html(late, "https://tv-talheim.example/n").headline == "Neuigkeiten"


def test_text_in_a_box_named_like_furniture_is_found_on_a_second_try() -> None:
    def page(box: str, text: str) -> bytes:
        return article(
            "<nav><a href='/'>Home</a> <a href='/news'>News</a> <a href='/tv'>TV</a></nav>"
            "<h1>Bridge vote</h1>"
            f"<div class='{box}'><div class='player'></div>"
            "<div class='notice'>Embed code copied to your clipboard.</div>"
            f"<div class='player-description'>{text}</div></div>"
            "<footer><p>Copyright City TV, all rights reserved, since 1998.</p></footer>"
        )

    runs = f"{PROSE}<br><br>{PROSE2}<br><br>{PROSE}<br><br>{PROSE2}"
    parsed = parse_html(page("video-player-page", runs), "https://tv.example/v/1")
    assert [b.text for b in parsed.body] == [PROSE, PROSE2, PROSE, PROSE2]
    # reader comments stay out, even when they are all the text there is
    with pytest.raises(NotAnArticle):
        parse_html(page("comments", runs), "https://tv.example/v/2")


def test_a_line_with_the_update_first_gives_the_published_date_after_it() -> None:
    lines = {
        "Zuletzt aktualisiert: 07.03.2019 | Veröffentlicht: 05.03.2019": "de",
        "Updated Mar 7, 2019 · First published Mar 5, 2019": "en",
        "Actualizado el 7 de marzo de 2019, publicado el 5 de marzo de 2019": "es",
    }
    for line, lang in lines.items():
        page = article(
            f"<div class='story'><h1>Bridge vote</h1><p class='meta'>{line}</p>"
            f"<div class='text'><p>{PROSE}</p><p>{PROSE2}</p></div></div>",
            lang=lang,
        )
        parsed = parse_html(page, "https://n.example/a")
        assert parsed.published == "2019-03-05", line
        assert parsed.modified == "2019-03-07", line
    # a line with the update alone still is no publication date beside a published one
    page = article(
        "<div class='story'><h1>Bridge vote</h1><p class='meta'>Updated Mar 7, 2019</p>"
        f"<div class='text'><p>{PROSE}</p><p>{PROSE2}</p></div>"
        "<p class='pubdate'>Published Mar 5, 2019</p></div>"
    )
    assert parse_html(page, "https://n.example/a").published == "2019-03-05"


def test_numbered_post_boxes_inside_the_best_box() -> None:
    def post(n: int, text: str) -> str:
        return (
            f"<div class='windowbg'><div class='post_wrapper'><div class='poster'><h4>"
            f"<a href='/u/{n}'>user{n}</a></h4></div><div class='postarea'>"
            f"<div class='keyinfo'><h5><a href='#msg{n}'>Re: Bridge vote</a></h5>"
            f"<div class='smalltext'>on: July 12, 2017, 02:3{n}:00 PM</div></div>"
            f"<div class='post'><div class='inner' id='msg_{n}'>{text}</div></div></div>"
            "</div></div>"
        )

    page = article(
        f"<h1>Bridge vote</h1><div id='forumposts'>{post(1, PROSE)}{post(2, PROSE2)}</div>"
    )
    body = [b.text for b in parse_html(page, "https://f.example/index.php?topic=1").body]
    assert body == [PROSE, PROSE2]


def test_thread_posts_named_alike_give_every_posts_text_and_no_member_box() -> None:
    def post(n: int, text: str) -> str:
        return (
            f"<article class='message message--post' id='js-post-{n}'><div class='message-inner'>"
            "<div class='message-cell message-cell--user'><div class='message-userDetails'>"
            f"<h4 class='message-name'><a href='/members/user{n}.{n}/'>user{n}</a></h4>"
            "<h5 class='userTitle message-userTitle'>Well-known member</h5></div>"
            "<dl class='pairs'><dt>Joined</dt><dd>Jan 5, 2015</dd></dl></div>"
            "<div class='message-cell message-cell--main'><div class='message-content'>"
            f"<article class='message-body'><div class='bbWrapper'>{text}</div></article>"
            "</div></div></div></article>"
        )

    short = "Thanks, that settles it for me."
    long = f"{PROSE}<br><br>{PROSE2}"
    page = article(
        f"<div class='p-title'><h1>Bridge vote</h1></div><div class='block-body'>"
        f"{post(1, long)}{post(2, long)}{post(3, short)}</div>"
    )
    body = [b.text for b in parse_html(page, "https://f.example/threads/bridge.1/").body]
    assert body == [PROSE, PROSE2, PROSE, PROSE2, short]


def test_a_numbered_box_holding_the_headline_is_the_article_not_a_post() -> None:
    other_text = "We cut, turned and baled the top meadow in three long days, with the neighbours."

    def other(n: int) -> str:
        return (
            f"<div id='post-{n}' class='post-{n} post'><h4><a href='/p{n}'>Hay</a></h4>"
            f"<p>{other_text}</p></div>"
        )

    page = article(
        "<div id='primary' class='content-area'>"
        "<div id='post-812' class='post-812 post'><h1>Bridge vote</h1>"
        f"<p>{PROSE}</p><p>{PROSE2}</p><p>{PROSE}</p></div>"
        f"<div class='more-posts'><h3>More from us</h3>{other(790)}{other(775)}</div></div>"
    )
    body = [b.text for b in parse_html(page, "https://b.example/2021/10/bees/").body]
    assert body == [PROSE, PROSE2, PROSE]


def test_text_folded_into_a_hidden_box_is_read() -> None:
    rest = f"<p>{PROSE2}</p><p>{PROSE}</p>"
    for hidden in ("style='display:none'", "hidden"):
        page = article(
            f"<h1>Bridge vote</h1><div class='entry'><p>{PROSE}</p>"
            f"<div class='more-text' {hidden}>{rest}</div><a class='readmore'>Read more</a>"
            "<div class='menu' style='display: none'><p>Home</p><p>News</p></div></div>"
        )
        body = [b.text for b in parse_html(page, "https://b.example/a").body]
        assert body == [PROSE, PROSE2, PROSE], hidden


def test_an_article_body_given_as_markup_in_json_ld_is_read() -> None:
    import json

    data = {
        "@type": "NewsArticle",
        "headline": "Bridge vote",
        "datePublished": "2021-03-05",
        "articleBody": f"<p>{PROSE}</p><h2>Cost</h2><p>{PROSE2}</p><p>{PROSE}</p>",
    }
    page = article(
        "<h1>Bridge vote</h1><div id='app'><p class='teaser'>The council voted ...</p></div>",
        head=f"<script type='application/ld+json'>{json.dumps(data)}</script>",
    )
    parsed = parse_html(page, "https://n.example/a")
    assert [b.text for b in parsed.body] == [PROSE, "Cost", PROSE2, PROSE]
    assert dict(parsed.provenance)["body"] == "json-ld"


def test_a_short_text_in_a_furniture_named_box_wins_over_the_description() -> None:
    description = "<meta name='description' content='The council voted for a footbridge ...'>"
    dated = "<meta property='article:published_time' content='2021-03-05T10:00:00Z'>"
    for notice in ("", "<div class='notice'>Embed code copied to your clipboard.</div>"):
        page = article(
            f"<h1>Bridge vote</h1><div class='video-player-page'><div class='player'></div>"
            f"{notice}<div class='player-description'>{PROSE}<br><br>{PROSE2}</div></div>",
            head=description + dated,
        )
        parsed = parse_html(page, "https://tv.example/v/1")
        assert [b.text for b in parsed.body] == [PROSE, PROSE2], notice
        assert dict(parsed.provenance)["body"] == "dom"


def test_a_thread_in_a_box_named_for_comments_still_gives_its_posts() -> None:
    def post(n: int, text: str) -> str:
        return (
            f"<article id='elComment_{n}' class='cPost ipsBox ipsComment'>"
            f"<h3 class='cAuthorPane_author'><a href='/u/{n}'>user{n}</a></h3>"
            "<div class='ipsComment_content'><div class='cPost_contentWrap'>"
            f"<div data-role='commentContent' class='ipsType_richText'><p>{text}</p></div>"
            "</div></div></article>"
        )

    page = article(
        "<h1>Bridge vote</h1><p class='meta'>By user1, March 5, 2021 in Town</p>"
        f"<div id='comments' class='cTopicPostArea'>{post(1, PROSE)}{post(2, PROSE2)}</div>"
    )
    with pytest.raises(NotAnArticle) as caught:
        parse_html(page, "https://f.example/topic/1-bridge-vote/")
    assert caught.value.content is not None
    assert [b.text for b in caught.value.content.body] == [PROSE, PROSE2]
    # an article's own text still leaves its comments out
    page = article(
        f"<h1>Bridge vote</h1><div class='entry'><p>{PROSE}</p><p>{PROSE}</p></div>"
        f"<div id='comments'>{post(1, PROSE2)}{post(2, PROSE2)}</div>"
    )
    assert [b.text for b in parse_html(page, "https://n.example/a").body] == [PROSE]


def test_a_byline_place_and_date_line_above_the_text_is_not_body() -> None:
    page = article(
        "<div class='noticia'><h1>Bridge vote</h1><h2 class='subtitulo'>The town gets a new "
        "footbridge over the river, paid for by a grant and the town's own savings</h2>"
        "<div class='firma'>Lucía Ferrándiz | Villarreal del Río | 14 de septiembre de 2022</div>"
        f"<div class='bloque-texto'>{PROSE}</div><div class='bloque-texto'>{PROSE2}</div></div>",
        lang="es",
    )
    body = [b.text for b in parse_html(page, "https://d.example/local/a").body]
    assert not any("Ferrándiz" in t for t in body)
    assert body[-2:] == [PROSE, PROSE2]


def _classic_thread(post: str, wrap: tuple[str, str]) -> bytes:
    short = "Thanks, that settles it for me."
    posts = post.format(n=1, text=PROSE) + post.format(n=2, text=PROSE2)
    posts += post.format(n=3, text=short)
    return article(f"<div class='titleBar'><h1>Bridge vote</h1></div>{wrap[0]}{posts}{wrap[1]}")


def test_classic_forum_threads_in_a_moderation_form_give_every_posts_text() -> None:
    xenforo1 = (
        "<li id='post-{n}' class='message' data-author='user{n}'><div class='messageUserInfo'>"
        "<h3 class='userText'><a href='members/user{n}.{n}/' class='username'>user{n}</a></h3>"
        "<dl class='pairsJustified'><dt>Joined:</dt><dd>Mar 4, 2009</dd></dl></div>"
        "<div class='messageInfo primaryContent'><div class='messageContent'><article>"
        "<blockquote class='messageText SelectQuoteContainer ugc baseHtml'>{text}"
        "<div class='messageTextEndMarker'>&nbsp;</div></blockquote></article></div>"
        "<div class='messageMeta'><a href='threads/t.1/#post-{n}'>#{n}</a></div></div></li>"
    )
    ipboard3 = (
        "<div class='post_block hentry clear clearfix' id='post_id_{n}'><div class='post_wrap'>"
        "<h3 class='row2'><span class='author vcard'><a href='/user/{n}-user{n}/'>user{n}</a>"
        "</span></h3><div class='author_info'><ul class='basic_info'><li>Members</li>"
        "<li class='post_count desc lighter'>412 posts</li></ul></div>"
        "<div class='post_body'><div class='post entry-content'>{text}</div></div>"
        "</div></div>"
    )
    mybb = (
        "<div class='post classic' id='post_{n}'><div class='post_author scaleimages'>"
        "<strong><span class='largetext'><a href='member.php?action=profile&amp;uid={n}'>"
        "user{n}</a></span></strong><div class='author_statistics'>Posts: 412</div></div>"
        "<div class='post_content'><div class='post_head'>#{n}</div>"
        "<div class='post_body scaleimages' id='pid_{n}'>{text}</div></div></div>"
    )
    layouts = {
        "xenforo1": (
            xenforo1,
            (
                "<div id='content' class='thread_view'><div class='pageContent'>"
                "<form action='inline-mod/post/switch' method='post' class='InlineModForm'>"
                "<ol class='messageList' id='messageList'>",
                "</ol></form></div></div>",
            ),
        ),
        "ipboard3": (
            ipboard3,
            ("<form id='modform' method='post'><div class='topic'>", "</div></form>"),
        ),
        "mybb": (mybb, ("<div id='posts'>", "</div>")),
    }
    for name, (post, wrap) in layouts.items():
        parsed = parse_html(_classic_thread(post, wrap), "https://f.example/threads/bridge.1/")
        body = [b.text for b in parsed.body]
        assert body == [PROSE, PROSE2, "Thanks, that settles it for me."], name
        assert dict(parsed.provenance)["body"] == "dom", name
        assert {b.kind for b in parsed.body} == {BlockKind.PARAGRAPH}, name  # no quotations


def test_a_form_of_one_post_box_is_still_a_form() -> None:
    page = article(
        f"<h1>Bridge vote</h1><div class='entry'><p>{PROSE}</p><p>{PROSE2}</p></div>"
        "<form class='reply' id='replyform'><div id='post-1'>Write a reply to this story: "
        "your name, your e-mail address and your comment, then press the button.</div></form>"
    )
    body = [b.text for b in parse_html(page, "https://b.example/a").body]
    assert body == [PROSE, PROSE2]


def test_a_short_partner_or_sponsor_box_in_the_text_is_furniture() -> None:
    for name, line in (
        ("partner-box", "Mit freundlicher Unterstützung der Stadtwerke Talheim"),
        ("presented-by", "Presented by the Riverside Savings Bank"),
        ("sponsor-note", "This series is supported by the Riverside Foundation."),
    ):
        page = article(
            f"<h1>Bridge vote</h1><div class='text'><p>{PROSE}</p>"
            f"<div class='{name}'><img src='/logos/p.png' alt=''><div>{line}</div></div>"
            f"<p>{PROSE2}</p></div>"
        )
        body = [b.text for b in parse_html(page, "https://n.example/a").body]
        assert body == [PROSE, PROSE2], name


def test_a_partner_named_box_holding_the_text_is_read() -> None:
    # syndicated stories: the whole text in a box named for the partner that wrote it
    page = article(
        f"<h1>Bridge vote</h1><div class='partner-content'><p>{PROSE}</p><p>{PROSE2}</p>"
        f"<p>{PROSE}</p></div>"
    )
    body = [b.text for b in parse_html(page, "https://n.example/a").body]
    assert body == [PROSE, PROSE2, PROSE]


# Byline lines: "By <Name>" (or another language's byline word) with the date, the place or
# the desk in other parts of the line give the name only.
@pytest.mark.parametrize(
    ("line", "authors"),
    [
        # old table layouts: the name in bold or italics, the date after a bar, in a <font>
        ('<font size="2"><b>By Dale Emmons</b> | 06-11-2019</font><br><br>', ["Dale Emmons"]),
        ('<font size="2"><i>Von Gerda Maier</i></font><br><br>', ["Gerda Maier"]),
        # the byline word alone in bold, the place after a bar: the place is no author
        (
            "<p><strong>By</strong> Jane Doe and John Roe | Des Moines, Iowa</p>",
            ["Jane Doe", "John Roe"],
        ),
        ("<p><span>By</span> <a href='/a/jd'>Jane Doe</a> | Des Moines, Iowa</p>", ["Jane Doe"]),
        # line breaks between name, desk and date
        ("<p>By Jane Doe<br>Des Moines Bureau<br>June 3, 2019</p>", ["Jane Doe"]),
        ("<p>Por María López — Madrid</p>", ["María López"]),
        ("<p>Автор: Иван Петров | 12.07.2017</p>", ["Иван Петров"]),
        # prose opening with "By" and a number, and a date after the word, name nobody
        ("<p><b>By 2030</b> the city will have doubled its fleet of buses.</p>", []),
        ("<p>By 06-11-2019 | Staff</p>", []),
    ],
)
def test_a_byline_line_gives_the_names_without_date_or_place(line: str, authors: list[str]) -> None:
    page = (
        "<html><head><title>Water rates</title></head><body><table><tr><td>"
        f'<font size="4"><b>Water district raises its rates</b></font><br>{line}'
        f"{PROSE}<br><br>{PROSE2}<br><br>{PROSE}</td></tr></table></body></html>"
    ).encode()
    assert list(parse_html(page, "http://ledger.example/news.asp?id=1").authors) == authors
