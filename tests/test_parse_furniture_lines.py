"""Page furniture that lands in the text's own box (ad labels, date lines, member cells,
teaser grids, pagers, review boxes), and prose that looks like it: each rule on a small page
of its layout (tests/pages/web holds fuller examples)."""

from __future__ import annotations

from scraper.parse import parse_html
from tests.test_parse_layouts import PROSE, PROSE2

URL = "https://courier.example/news/footbridge.html"


def body_of(inner: str, lang: str = "en") -> list[str]:
    page = (
        f"<html lang='{lang}'><head><title>Council approves footbridge</title></head><body>"
        f"<h1>Council approves footbridge</h1><div class='text'>{inner}</div></body></html>"
    ).encode()
    return [b.text for b in parse_html(page, URL).body]


def test_ad_labels_in_many_languages_are_not_body() -> None:
    for label in (
        "Advertisement",
        "- Anzeige -",
        "ANZEIGE",
        "Publicidad",
        "Pubblicità",
        "Реклама",
        "Story continues below advertisement",
        "Advertisement - Scroll to continue",
        "Weiterlesen nach der Anzeige",
    ):
        text = body_of(f"<p>{PROSE}</p><p>{label}</p><p>{PROSE2}</p>")
        assert text == [PROSE, PROSE2], label
    # an ad box named in short ("adv") or in Russian/Polish ("reklama") goes with its label
    text = body_of(f"<p>{PROSE}</p><div class='adv'><span>Werbung</span></div><p>{PROSE2}</p>")
    assert text == [PROSE, PROSE2]


def test_sentences_that_name_advertising_stay() -> None:
    line = "Advertising revenue fell by a third last year, the publisher said in March."
    assert line in body_of(f"<p>{PROSE}</p><p>{line}</p><p>{PROSE2}</p>")


def test_date_lines_in_the_text_box_are_not_body() -> None:
    for line in (
        "Veröffentlicht am 03.05.2022 | Ressort: Verkehr",
        "Zuletzt aktualisiert: 07.03.2019, 16:40 Uhr",
        "Stand: 12.03.2022, 10:15 Uhr",
        "Ultima modifica il giovedì, 13 luglio 2017 09:02",
        "Publié le 12 juillet 2017 à 10h15",
    ):
        assert body_of(f"<p>{PROSE}</p><p>{line}</p><p>{PROSE2}</p>") == [PROSE, PROSE2], line
    # a finished sentence with such a word and a date is prose
    sentence = (
        "Der Bericht wurde am 3. Mai 2021 vom Landratsamt veröffentlicht und sofort kritisiert."
    )
    assert sentence in body_of(f"<p>{PROSE}</p><p>{sentence}</p><p>{PROSE2}</p>", lang="de")


def test_prose_with_newsletter_words_stays_and_the_offer_goes() -> None:
    told = "About 18,000 households subscribe to the printed paper today, down from 41,000 in 2010."
    inbox = "The letter landed in her inbox on Tuesday, two days after the deadline had passed."
    offer = "Get the Morning Briefing in your inbox. Sign up here for free."
    text = body_of(f"<p>{PROSE}</p><p>{told}</p><p>{inbox}</p><p>{offer}</p><p>{PROSE2}</p>")
    assert text == [PROSE, told, inbox, PROSE2]


def test_pager_numbers_and_teaser_grids_are_not_body() -> None:
    card = (
        "<div class='card'><a href='/news/{n}.html'><img src='/t/{n}.jpg'></a>"
        "<a href='/news/{n}.html'>Another story, no. {n}</a>"
        "<div>A short blurb about story {n}.</div></div>"
    )
    grid = "<div><h2>Most read</h2>" + "".join(card.format(n=n) for n in range(4)) + "</div>"
    pager = "<div><b>1</b> <a href='?p=2'>2</a> <a href='?p=3'>3</a></div>"
    assert body_of(f"<p>{PROSE}</p><p>{PROSE2}</p>{pager}{grid}") == [PROSE, PROSE2]
    # a listicle's items link their pictures to other pages too, but name their things in
    # headings of their own
    items = "<div>" + "".join(
        f"<div class='item'><h3>{n}. Folding bike</h3><a href='/shop/{n}.html'>"
        f"<img src='/t/{n}.jpg'></a><p>Light and quick to fold, with eight gears ({n}).</p></div>"
        for n in range(3)
    )
    text = body_of(f"<p>{PROSE}</p>{items}</div><p>{PROSE2}</p>")
    assert "Light and quick to fold, with eight gears (0)." in text


def test_an_h2_subtitle_after_the_h1_is_the_standfirst() -> None:
    sub = "The new crossing will open next summer, the mayor said on Friday."
    page = (
        "<html><head><title>Council approves footbridge</title></head><body><article>"
        f"<h1>Council approves footbridge</h1><h2>{sub}</h2><p>{PROSE}</p><h2>Costs</h2>"
        f"<p>{PROSE2}</p></article></body></html>"
    ).encode()
    content = parse_html(page, URL)
    assert content.subheadline == sub
    assert [b.text for b in content.body] == [PROSE, "Costs", PROSE2]


def test_phpbb2_member_cells_and_column_heads_are_not_body() -> None:
    def post(n: int, text: str) -> str:
        return (
            f"<tr><td class='row1'><span class='name'><b>member{n}</b></span><br>"
            "<span class='postdetails'>Member<br>Joined: 03 Feb 2009<br>Posts: 120</span></td>"
            "<td class='row1'><table><tr><td><span class='postdetails'>Posted: Wed Jul 12, 2017 "
            "4:33 pm Post subject:</span></td></tr>"
            f"<tr><td><span class='postbody'>{text}</span></td></tr></table></td></tr>"
        )

    page = (
        "<html><head><title>Forum :: View topic - Ice on the lake</title></head><body>"
        "<a class='maintitle' href='viewtopic.php?t=1'>Ice on the lake</a>"
        "<table class='forumline'><tr><th>Author</th><th>Message</th></tr>"
        f"{post(1, PROSE)}{post(2, PROSE2)}</table></body></html>"
    ).encode()
    content = parse_html(page, "https://forum.example/viewtopic.php?t=1")
    assert [b.text for b in content.body] == [PROSE, PROSE2]


def test_a_column_head_above_data_rows_stays() -> None:
    table = (
        "<table><thead><tr><th>Year</th><th>Riders</th></tr></thead><tbody>"
        "<tr><td>2019</td><td>41,000</td></tr><tr><td>2020</td><td>38,500</td></tr>"
        "</tbody></table>"
    )
    text = body_of(f"<p>{PROSE}</p>{table}<p>{PROSE2}</p>")
    assert "Year | Riders" in text
    assert "2019 | 41,000" in text
    # cells holding paragraphs are read one by one, under their head all the same
    table = (
        "<table><tr><th>Symptom</th><th>Cause</th></tr><tr><td><p>Slow pages at noon</p></td>"
        "<td><p>The cache is emptied every hour</p></td></tr></table>"
    )
    assert "Symptom | Cause" in body_of(f"<p>{PROSE}</p>{table}<p>{PROSE2}</p>")


def test_shop_reviews_are_not_body() -> None:
    reviews = (
        "<div class='tab-content' id='bewertungen'><h2>Bewertungen</h2>"
        "<div class='review'><b>Sabine K.</b> - Leise und leicht, der Akku reicht für unseren "
        "Garten locker.</div></div>"
    )
    assert body_of(f"<p>{PROSE}</p><p>{PROSE2}</p>{reviews}") == [PROSE, PROSE2]


def test_a_lead_box_named_as_a_teaser_opens_the_text() -> None:
    lead = "The old wooden crossing will be replaced by a steel bridge, the council decided."
    page = (
        "<html><head><title>Council approves footbridge</title></head><body>"
        "<div class='news-single'><h1>Council approves footbridge</h1>"
        f"<div class='news-teaser'><strong>{lead}</strong></div>"
        f"<div class='news-text'><p>{PROSE}</p><p>{PROSE2}</p></div></div></body></html>"
    ).encode()
    assert [b.text for b in parse_html(page, URL).body] == [lead, PROSE, PROSE2]


def test_read_also_credit_and_reading_time_lines_are_not_body() -> None:
    for line in (
        "Lea también:",
        "Читайте также:",
        "Foto: dpa/Max Muster",
        "Lesezeit: 3 Minuten",
        "5 min read",
        "Artikel vorlesen",
        "Artikel teilen",
        "Partager sur",
        "Beitragsbild: Pixabay",
        "Schlagworte: Verkehr, Brücke",
    ):
        assert body_of(f"<p>{line}</p><p>{PROSE}</p><p>{PROSE2}</p>") == [PROSE, PROSE2], line
    sentence = "Reading time is short for those who ride the early bus to the office."
    assert sentence in body_of(f"<p>{PROSE}</p><p>{sentence}</p><p>{PROSE2}</p>")
