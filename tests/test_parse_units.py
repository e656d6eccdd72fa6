"""Unit tests for the parser's pure helpers: dates, authors, credits, charsets, rules."""

from __future__ import annotations

import gc
import random
import re
from datetime import UTC, datetime

import pytest

from archive.record import RawPage
from scraper.config import SiteRules
from scraper.errors import NotAnArticle, ParseError
from scraper.parse import dom, parse_html, parse_page
from scraper.parse.authors import clean_name
from scraper.parse.body import _excluded, _link_densities, word_key
from scraper.parse.captions import split_credit
from scraper.parse.charset import decode_html, sniff_encoding
from scraper.parse.datetext import PageDate, parse_human, parse_iso
from scraper.parse.segment import segment

ARTICLE = """<html><head><title>{title}</title>{head}</head><body>
<h1>Harbour wall repairs start</h1>
<div class="byline">By Jo Park</div>
<div class="story-body">
<p>Repairs to the harbour wall began on Monday after storms in January left a gap of almost
ten metres, and the work is expected to take the whole summer.</p>
<p>The harbour master said boats would still be able to use the inner basin, although the
outer moorings will be closed until the contractors have finished the new section.</p>
<p>The council has set aside money for the work from its reserves and hopes to recover part
of it from the national fund for storm damage later in the year.</p>
</div>{extra}</body></html>"""


def page(head: str = "", extra: str = "", title: str = "Harbour wall repairs start") -> bytes:
    return ARTICLE.format(head=head, extra=extra, title=title).encode()


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2019-11-20T02:07:18Z", "2019-11-20T02:07:18Z"),
        ("2019-11-20T02:07:18+0000", "2019-11-20T02:07:18Z"),
        ("2020-07-09T08:21:00+05:30", "2020-07-09T08:21:00+05:30"),
        ("2019-11-18 19:14:00", "2019-11-18T19:14:00"),
        ("2019-11-18", "2019-11-18"),
        ("Tue, 19 Nov 2019 21:57:01 GMT", "2019-11-19T21:57:01Z"),
    ],
)
def test_machine_dates_keep_what_they_say(text: str, iso: str) -> None:
    parsed = parse_iso(text)
    assert parsed is not None
    assert parsed.iso() == iso


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Nov. 18, 2019 7:04 pm ET", "2019-11-18T19:04:00"),
        ("10:01 pm PST, Tuesday, November 19, 2019", "2019-11-19T22:01:00-08:00"),
        ("Posted March 3, 2021", "2021-03-03"),
        ("12 марта 2021", "2021-03-12"),
        ("2023年3月17日", "2023-03-17"),
        ("19 novembre 2019", "2019-11-19"),
    ],
)
def test_human_dates_never_invent_a_time_or_zone(text: str, iso: str) -> None:
    parsed = parse_human(text)
    assert parsed is not None
    assert parsed.iso() == iso


def test_numeric_dates_follow_the_page_language() -> None:
    assert parse_human("05/10/2018", month_first=False) == PageDate(datetime(2018, 10, 5).date())
    assert parse_human("05/10/2018", month_first=True) == PageDate(datetime(2018, 5, 10).date())
    assert parse_human("25/10/2018", month_first=True) == PageDate(datetime(2018, 10, 25).date())


def test_utc_metadata_is_moved_to_the_day_readers_see() -> None:
    head = '<meta property="article:published_time" content="2019-11-20T03:31:00Z">'
    extra = '<p class="timestamp">Nov 19, 2019, 10:31 pm EST</p>'
    html = page(head=head).replace(
        b'<div class="byline">', extra.encode() + b'<div class="byline">'
    )
    content = parse_html(html, "https://example.org/a")
    assert content.published == "2019-11-19T22:31:00-05:00"


def test_a_future_date_is_refused() -> None:
    head = '<meta property="article:published_time" content="2031-01-01T00:00:00Z">'
    raw = RawPage(
        requested_url="https://example.org/a",
        final_url="https://example.org/a",
        status=200,
        headers=(),
        body=page(head=head),
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert parse_page(raw).published is None


def test_no_date_is_invented_for_a_page_without_one() -> None:
    assert parse_html(page(), "https://example.org/news/harbour").published is None


def test_url_date_is_the_last_resort() -> None:
    content = parse_html(page(), "https://example.org/2021/06/02/harbour")
    assert (content.published, dict(content.provenance)["published"]) == ("2021-06-02", "url")


@pytest.mark.parametrize(
    ("byline", "names"),
    [
        ("By Jane Doe and John Roe, Associated Press", ["Jane Doe", "John Roe"]),
        ("BY MARIA LOPEZ | Staff Writer", ["Maria Lopez"]),
        ("Reuters", []),
        ("Staff Reports", []),
        ("By Ann Lee, Senior Reporter, Nov. 3, 2021", ["Ann Lee"]),
        ("Daily Example", []),
        ("admin", []),
        # byline lines: the parts opening with a byline word hold the names; the place, the
        # date and the desk in the other parts are none, and dashes end a bylined part only
        ("By Jane Doe and John Roe | Des Moines, Iowa", ["Jane Doe", "John Roe"]),
        ("June 3, 2019 | By Jane Doe", ["Jane Doe"]),
        ("By Tim Childers - Live Science Contributor 2019-11-19", ["Tim Childers"]),
        ("Текст: Анна Иванова · Москва", ["Анна Иванова"]),
        ("Par Claire Vautrin Publié le 12 juillet 2017", ["Claire Vautrin"]),
        ("By Jane Doe\u2028Des Moines Bureau", ["Jane Doe"]),
        ("PMJS - Coordenadoria de TI", []),
        ("Other Alden -- the most important character", []),
    ],
)
def test_authors_are_people_only(byline: str, names: list[str]) -> None:
    assert clean_name(byline, {"daily example"}) == names


@pytest.mark.parametrize(
    ("caption", "text", "credit"),
    [
        (
            "Nadal celebrates in Madrid. (Manu Fernandez/AP)",
            "Nadal celebrates in Madrid.",
            "(Manu Fernandez/AP)",
        ),
        (
            "A cyclist near La Paz. © Reuters / David Mercado",
            "A cyclist near La Paz.",
            "© Reuters / David Mercado",
        ),
        (
            "Traders on the floor. REUTERS/Brendan McDermid",
            "Traders on the floor.",
            "REUTERS/Brendan McDermid",
        ),
        (
            "Hanwha Q Cells was the largest maker.Image: Hanwha Q cells",
            "Hanwha Q Cells was the largest maker.",
            "Image: Hanwha Q cells",
        ),
        (
            "Troops remain in Afghanistan [File: Reuters]",
            "Troops remain in Afghanistan",
            "[File: Reuters]",
        ),
        (
            "The core stage of the first SLS at Michoud",
            "The core stage of the first SLS at Michoud",
            None,
        ),
    ],
)
def test_credits_are_split_off(caption: str, text: str, credit: str | None) -> None:
    assert split_credit(caption) == (text, credit)


def test_figure_credit_markup_and_captions_kept_out_of_the_body() -> None:
    figure = (
        '<figure><img src="/a.jpg"><figcaption>Boats in the inner basin. '
        '<span class="credit">Ola Berg/Harbour News</span></figcaption></figure>'
    )
    html = page().replace(
        b'<div class="story-body">', b'<div class="story-body">' + figure.encode()
    )
    content = parse_html(html, "https://example.org/a")
    assert [(c.text, c.credit, c.image_url) for c in content.captions] == [
        ("Boats in the inner basin.", "Ola Berg/Harbour News", "https://example.org/a.jpg")
    ]
    assert "Boats in the inner basin" not in content.text


def test_charset_order_bom_header_meta_detection() -> None:
    text = "Морозы задержат навигацию на Волге. " * 20
    cp1251 = text.encode("cp1251")
    assert sniff_encoding(b"\xef\xbb\xbfabc") == ("utf-8", "bom")
    assert sniff_encoding(cp1251, "text/html; charset=windows-1251") == ("cp1251", "http")
    meta = b'<meta charset="windows-1251">' + cp1251
    assert sniff_encoding(meta) == ("cp1251", "meta")
    decoded, codec, source = decode_html(cp1251)
    assert (decoded, source) == (text, "detected")
    assert codec in ("cp1251", "koi8_r") or decoded == text


def test_undeclared_shift_jis_is_detected() -> None:
    text = "気象台は十七日、市内の標本木で桜の開花を確認したと発表した。" * 10
    decoded, _, source = decode_html(text.encode("shift_jis"))
    assert (decoded, source) == (text, "detected")


def test_a_lying_utf8_declaration_does_not_garble_cp1252() -> None:
    body = '<meta charset="utf-8"><p>café crème \u2013 déjà vu</p>'.encode("cp1252") * 50
    decoded, codec, _ = decode_html(body)
    assert "café crème" in decoded
    assert codec == "cp1252"


def test_site_rules_override_and_drop() -> None:
    extra = (
        '<div class="promo"><p>This promotional paragraph is long enough to be taken for'
        " body text by mistake, really.</p></div>"
    )
    rules = SiteRules(
        headline="div.story-body p:first-child",
        drop=("div.promo",),
        published="//div[@class='byline']",
        authors="//h1",
    )
    html = page(extra=extra).replace(
        b'<div class="byline">By Jo Park</div>', b'<div class="byline">2022-02-02</div>'
    )
    content = parse_html(html, "https://example.org/a", rules=rules)
    assert content.headline.startswith("Repairs to the harbour wall")
    assert content.published == "2022-02-02"
    assert "promotional" not in content.text
    assert dict(content.provenance)["headline"] == "rule"


def test_a_bad_rule_selector_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="bad site rule selector"):
        parse_html(page(), None, rules=SiteRules(headline="div[[["))


@pytest.mark.parametrize("body", [b"", b"\x00\x01\x02", b"<html></html>", b"   ", b"\xff\xfe"])
def test_empty_or_binary_input_is_not_an_article(body: bytes) -> None:
    with pytest.raises(NotAnArticle):
        parse_html(body, "https://example.org/x")


def test_parse_page_refuses_error_statuses() -> None:
    raw = RawPage(
        requested_url="https://example.org/a",
        final_url="https://example.org/a",
        status=404,
        headers=(),
        body=page(),
        fetched_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(ParseError, match="HTTP 404"):
        parse_page(raw)


def test_every_field_records_its_source() -> None:
    head = '<meta property="og:site_name" content="Harbour News"><link rel="canonical" href="/a">'
    content = parse_html(page(head=head), "https://example.org/a?x=1")
    provenance = dict(content.provenance)
    assert provenance["headline"] == "dom"
    assert provenance["body"] == "dom"
    assert provenance["site_name"] == "meta"
    assert provenance["canonical_url"] == "link"
    assert provenance["authors"] == "dom"
    assert content.canonical_url == "https://example.org/a"
    assert content.authors == ("Jo Park",)


def test_site_rules_for_body_captions_and_credit() -> None:
    extra = (
        '<div class="pic"><img src="/b.jpg"><p class="txt">Divers check the wall.</p>'
        '<p class="who">Kim Roe</p></div>'
    )
    rules = SiteRules(body="div.story-body", captions="div.pic", credit="p.who", tags="//h1")
    content = parse_html(page(extra=extra), "https://example.org/a", rules=rules)
    assert [(c.text, c.credit, c.image_url) for c in content.captions] == [
        ("Divers check the wall.", "Kim Roe", "https://example.org/b.jpg")
    ]
    assert content.text.startswith("Repairs to the harbour wall")
    assert content.tags == ("Harbour wall repairs start",)
    provenance = dict(content.provenance)
    assert [provenance[k] for k in ("body", "captions", "tags")] == ["rule"] * 3


def test_a_rule_that_matches_nothing_leaves_the_generic_result() -> None:
    content = parse_html(page(), None, rules=SiteRules(headline="h6.nothing", body="//article"))
    assert content.headline == "Harbour wall repairs start"
    assert dict(content.provenance)["headline"] == "dom"


def test_dateline_text_loose_after_the_headline_block() -> None:
    html = page().replace(
        b'<div class="byline">By Jo Park</div>',
        b"<div><dl><dt>Harbour wall repairs start</dt></dl> Posted: 2018-09-28 17:32 </div>",
    )
    assert parse_html(html, None).published == "2018-09-28T17:32:00"


def test_an_updated_date_is_not_taken_for_the_published_one() -> None:
    html = page().replace(
        b'<div class="byline">By Jo Park</div>',
        b'<p class="meta">Updated March 9, 2022</p><p class="meta">March 2, 2022</p>',
    )
    content = parse_html(html, None)
    assert (content.published, content.modified) == ("2022-03-02", "2022-03-09")


def test_hatom_abbr_title_gives_the_machine_date() -> None:
    html = page().replace(
        b'<div class="byline">By Jo Park</div>',
        b'<abbr class="published" title="2019-11-19T10:00:00-05:00">last Tuesday</abbr>',
    )
    assert parse_html(html, None).published == "2019-11-19T10:00:00-05:00"


def test_name_comma_agency_credit() -> None:
    caption = "Teachers rally at the Statehouse on Tuesday. Michael Conroy, AP"
    assert split_credit(caption) == (
        "Teachers rally at the Statehouse on Tuesday.",
        "Michael Conroy, AP",
    )


def _tame_reference(text: str) -> str:
    """tame_attributes as first written: every "<letter" followed by 512 characters that are
    neither "<" nor ">" starts a tag that may need capping."""
    out: list[str] = []
    last = 0
    for match in re.finditer(r"<[A-Za-z][^<>]{512}", text):
        start = match.start()
        ends = [p for p in (text.find(">", match.end()), text.find("<", match.end())) if p != -1]
        stop = min(ends) if ends else len(text)
        capped = dom._cap_attributes(text[start:stop])
        if capped != text[start:stop]:
            out += (text[last:start], capped)
            last = stop
    return "".join([*out, text[last:]]) if out else text


def test_tame_attributes_caps_the_same_tags_as_the_plain_regex() -> None:
    rng = random.Random(7)
    many_words = " " + " ".join(f"a{i}" for i in range(300))
    parts = ["<a", "<div", " b", " c=d", "<", ">", "x", " ", "<1", "\n", "=''", '"', many_words]
    parts.append("y" * 600)
    for _ in range(300):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 60)))
        assert dom.tame_attributes(text) == _tame_reference(text)
    many = "<div " + " ".join(f"a{i}=x" for i in range(1000)) + "><p>text</p>"
    tamed = dom.tame_attributes("<a<a" * 300 + many)
    assert tamed.count("=x") == dom.MAX_ATTRIBUTES
    assert tamed.endswith("<p>text</p>")


def test_utf8_scan_agrees_with_tame_attributes_and_the_paragraph_count() -> None:
    """_scan_utf8 counts on bytes what _P_OPEN counts on the text (Unicode whitespace after
    "<p" included), and says "no capping" only where tame_attributes leaves the text as is."""
    rng = random.Random(11)
    spaces = ["\u00a0", "\u0085", "\u2009", "\u3000", "\u1680", "\x1c", "\u205f", "\u200b"]
    many_words = " " + " ".join(f"a{i}" for i in range(300))
    parts = ["<p", "<P", "<a", "<div", " b", "<", ">", "x", " ", "\n", '"', "é", "中", "€"]
    parts += [*spaces, many_words, "y" * 600, "é" * 300, "<p " + "z " * 300]
    parts += ["<p " + " ".join(f"a{i}" for i in range(300))]
    for _ in range(600):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(1, 60)))
        found = dom._scan_utf8(text.encode("utf-8"))
        if found is not None:
            assert found == len(dom._P_OPEN.findall(text)), text
            assert dom.tame_attributes(text) is text
    capped = "<div " + " ".join(f"a{i}=x" for i in range(1000)) + "><p>text</p>"
    assert dom._scan_utf8(capped.encode("utf-8")) is None


def test_over_attributes_is_what_cap_attributes_caps() -> None:
    """The scan's stopping count of attributes says "capped" exactly where _cap_attributes
    caps, for tags with more gaps than MAX_ATTRIBUTES (the only ones it is asked about)."""
    rng = random.Random(13)
    parts = [" a", " b=c", " b=c", " a", ' d="e f"', " g='h'", "=", "/", " ", "\n", '"', "é"]
    outcomes = []
    for _ in range(400):
        words = rng.randint(250, 700)
        tag = rng.choice(["<div", "<p", "<a", "<"]) + "".join(
            rng.choice(parts) for _ in range(words)
        )
        if sum(map(tag.count, dom._SEPARATORS)) <= dom.MAX_ATTRIBUTES:
            continue
        over = dom._over_attributes(tag)
        assert over == (dom._cap_attributes(tag) is not tag), tag
        outcomes.append(over)
    assert outcomes.count(True) > 100  # both kinds were tried
    assert outcomes.count(False) > 100
    assert dom._over_attributes("<div " + " ".join(f"a{i}=x" for i in range(257)))
    assert not dom._over_attributes("<div " + " ".join(f"a{i}=x" for i in range(256)))


def test_link_densities_agree_with_a_pass_over_the_blocks() -> None:
    """The running sums give every element what summing the blocks inside it gives; blocks
    are not in document order where a parent's text follows its nested blocks."""
    html = (
        "<html><body><div id=a>lead <a href=/x>link</a><p>one <a href=/y>two</a> three</p>"
        "tail text<div><p>four</p><ul><li><a href=/z>nav</a></li><li>item</li></ul></div>"
        "</div><section><h2>head</h2><p>five six</p><table><tr><td>x</td><td>"
        "<a href=/w>y</a></td></tr></table></section><div></div></body></html>"
    )
    page = dom.build_tree(html, None)
    blocks = segment(page.root.find("body"))
    order = page.order()
    assert [order[b.el] for b in blocks] != sorted(order[b.el] for b in blocks)
    density = _link_densities(blocks, order)
    for el in page.elements():
        first, last = order[el], order[dom.last_descendant(el)]
        inside = [b for b in blocks if first <= order[b.el] <= last]
        total = sum(len(b.text) for b in inside)
        expected = sum(b.links for b in inside) / total if total else 1.0
        assert density(el) == expected, el.tag


def test_parsing_a_page_leaves_no_reference_cycles() -> None:
    """parse_html pauses the cyclic collector on the grounds that a page makes no cycles: what
    one makes is only freed by a later collection pass (a recursive closure did, per call)."""
    html = page(
        extra=(
            "<p>Words <b>bold<br>line <a href='/x'>link <i>in</i></a></b> and "
            "<span class='tooltip'>card</span> more words, enough of them to be read.</p>"
            "<figure><img src='/a.jpg'><figcaption>The wall <span>at dawn</span>"
            "<button class='more'>more</button> (Photo: Jo Park/AP)</figcaption></figure>"
        )
    )
    parse_html(html, None)  # imports, compiled patterns, memos
    gc.collect()
    paused = gc.isenabled()
    gc.disable()
    try:
        parse_html(html, None)
        assert gc.collect() == 0
    finally:
        if paused:
            gc.enable()


def test_caption_exclusion_by_first_word_agrees_with_the_whole_word_key() -> None:
    wide = "\uff26\uff55\uff4c\uff4c width"
    captions = ["İstanbul at dawn", "Straße in Köln (Photo: AP)", "— —", wide, "y" * 80 + " z"]
    exclude = {word_key(c) for c in captions}
    firsts = {key.split(" ", 1)[0] for key in exclude if key}
    texts = [
        *captions,
        "istanbul at dawn",
        "İstanbul at dusk",
        "STRASSE in Köln Photo AP",
        "…" * 70 + " İstanbul at dawn",
        "x" * 80,
        "y" * 80 + " z",
        "Full width",
        "\uff26\uff55\uff4c\uff4c   width!",
        "",
    ]
    for text in texts:
        assert _excluded(text, exclude, firsts) == (word_key(text) in exclude), text


def test_any_part_finds_the_same_strings_as_a_plain_alternation() -> None:
    parts = ("ad", "advert", "share", "sharebar", "social", "key-points", "caption", "c")
    trie = dom.any_part(parts)
    plain = re.compile("|".join(re.escape(p) for p in parts))
    samples = ["", "x", "a", "adv", "c-share-bar", "so-cial", "keypoints", "key-points", "zzz"]
    samples += ["-".join(s) for s in ("ab", "soc", "ke")] + [p[:-1] for p in parts]
    for text in samples:
        assert (trie.search(text) is None) == (plain.search(text) is None), text
    assert dom.any_part(("ab", "cd")).search("xcdx") is not None
    assert dom.any_part(("ab", "cd")).search("acbd") is None
    # the page's own lists, on class strings made of pieces of their words
    from scraper.parse import boilerplate

    words = boilerplate._BOILERPLATE_PARTS
    trie, plain = dom.any_part(words), re.compile("|".join(re.escape(w) for w in words))
    rng = random.Random(7)
    for _ in range(3000):
        pieces = []
        for _ in range(rng.randint(1, 4)):
            w = rng.choice(words)
            i, j = sorted((rng.randint(0, len(w)), rng.randint(0, len(w))))
            pieces.append(w[i:j] if rng.random() < 0.7 else w)
        text = rng.choice(("-", "", " ")).join(pieces)
        assert (trie.search(text) is None) == (plain.search(text) is None), text
