"""Body and caption extraction on small written pages: what belongs to the article's text and
what is furniture around it (other posts, summary boxes, boilerplate sections)."""

from __future__ import annotations

from scraper.parse import parse_html

PROSE = (
    "The council met on Tuesday evening to vote on the plan for the harbour, which has been "
    "discussed for more than two years, and the members agreed to fund the first stage. "
)


def _para(n: int, words: str = PROSE) -> str:
    return f"<p>{words * 2} (Paragraph {n}.)</p>"


def test_other_posts_nested_in_a_related_box_are_not_the_article() -> None:
    related = "".join(
        f'<article class="post"><h2><a href="/p{n}">Another story {n}</a></h2>'
        f"<p>{'Teaser text about something else entirely, with many words in it. ' * 6}</p>"
        "</article>"
        for n in range(6)
    )
    html = (
        "<html><body><div id='primary'>"
        '<article class="post"><h1>Harbour plan approved</h1>'
        + "".join(_para(n) for n in range(3))
        + "</article>"
        + f'<article class="post"><h3>You may also like</h3>{related}</article>'
        + "</div></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert content.headline == "Harbour plan approved"
    assert len(content.body) == 3
    assert not any("Teaser" in b.text for b in content.body)


def test_a_line_of_links_under_an_image_is_not_its_caption() -> None:
    html = (
        "<html><body><article><h1>Harbour plan approved</h1>"
        '<center><img src="/a.jpg"></center>'
        '<div><center><a href="/s1">Whatsapp</a> <a href="/s2">Facebook</a> '
        '<a href="/a.jpg">Download</a></center></div>'
        + "".join(_para(n) for n in range(3))
        + "</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert content.captions == ()


def test_a_key_points_summary_box_is_not_body_text() -> None:
    html = (
        "<html><body><article><h1>Harbour plan approved</h1>"
        '<div class="RenderKeyPoints-wrapper"><h2>Key Points</h2><ul>'
        "<li>The council approved the first stage of the harbour plan on Tuesday evening.</li>"
        "<li>Work is expected to start in the spring and to last for about two years.</li>"
        "</ul></div>" + "".join(_para(n) for n in range(3)) + "</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert [b.text[:20] for b in content.body] == [PROSE[:20]] * 3


def test_a_credit_beside_its_caption_is_the_caption_credit_not_body() -> None:
    html = (
        "<html><body><article><h1>Harbour plan approved</h1><div class='story'>"
        + _para(0)
        + '<div class="InlineImage-wrapper"><div class="InlineImage-placeholder"></div><div>'
        '<div class="InlineImage-imageEmbedCaption">The harbour wall at low tide.</div>'
        '<div class="InlineImage-imageEmbedCredit">Jo Park | Harbour News</div></div></div>'
        + "".join(_para(n) for n in range(1, 3))
        + "</div></article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert [(c.text, c.credit) for c in content.captions] == [
        ("The harbour wall at low tide.", "Jo Park | Harbour News")
    ]
    assert not any("Jo Park" in b.text for b in content.body)


def test_a_headings_permalink_mark_is_not_part_of_the_headline() -> None:
    html = (
        '<html><head><title>Shared history — the manual</title></head><body><div class="doc">'
        '<h1>Shared history<a class="headerlink" href="#shared-history">¶</a></h1>'
        + "".join(_para(n) for n in range(3))
        + "</div></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/manual")
    assert content.headline == "Shared history"


def test_a_footer_named_after_the_image_box_is_its_caption() -> None:
    html = (
        "<html><body><article><h1>Harbour plan approved</h1>"
        '<div class="cover"><div class="media"><picture><source srcset="/a-2x.jpg">'
        '<img src="/a.jpg"></picture></div><div class="media__footer">'
        "<span>The harbour wall at low tide, November 19, 2019. </span>"
        '<span data-role="copyright">© Jo Park / Harbour News</span></div></div>'
        + "".join(_para(n) for n in range(3))
        + "</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert [(c.text, c.credit) for c in content.captions] == [
        ("The harbour wall at low tide, November 19, 2019.", "© Jo Park / Harbour News")
    ]


def test_the_line_beside_an_image_that_ends_in_a_credit_is_its_caption() -> None:
    html = (
        "<html><body><table><tr><td>"
        '<table><tr><td><img src="/a.jpg"><div class="info2">The harbour wall at low tide. '
        "(credit: Jo Park)</div></td></tr></table>"
        "<h1>Harbour plan approved</h1>" + "".join(_para(n) for n in range(3)) + "</td></tr>"
        "</table></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert [(c.text, c.credit) for c in content.captions] == [
        ("The harbour wall at low tide.", "(credit: Jo Park)")
    ]
    assert not any("low tide" in b.text for b in content.body)


def test_a_sentence_whose_objects_are_links_is_still_prose() -> None:
    deals = (
        '<p>Today\'s deals include <a href="/a">refurbished laptops from $700 at the big online '
        'store this week</a>. You also find <a href="/b">wireless earphones with a charging case '
        'for only $150 today</a> and <a href="/c">smart thermostats from $139 at the hardware '
        "chain</a>. All that and more is below in today's roundup of offers.</p>"
    )
    html = (
        "<html><body><article><h1>Harbour plan approved</h1>"
        + deals
        + "".join(_para(n) for n in range(3))
        + '<p><a href="/next">Next story: the lighthouse reopens</a></p>'
        + "</article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert content.body[0].text.startswith("Today's deals include")
    assert not any("lighthouse" in b.text for b in content.body)


def test_an_article_element_inside_the_headlines_article_is_its_body() -> None:
    html = (
        '<html><body><article class="post"><header><h1>Harbour plan approved</h1></header>'
        '<article class="entry-content">'
        + "".join(_para(n) for n in range(4))
        + "</article></article>"
        '<aside><article class="post"><h2><a href="/x">Another story</a></h2>'
        f"<p>{'Teaser text about something else entirely, with many words. ' * 4}</p>"
        "</article></aside></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert len(content.body) == 4


def test_the_credit_of_a_posts_own_thumbnail_is_a_caption_credit() -> None:
    html = (
        '<html><body><article><h1>Harbour plan approved</h1><div class="entry-content">'
        '<div class="index-post-thumbnail"><img src="/a.jpg" class="wp-post-image">'
        '<div class="thumbnail-credit">Getty Images</div></div>'
        + "".join(_para(n) for n in range(3))
        + '<ul class="related"><li><div class="thumbnail"><img src="/b.jpg">'
        '<div class="thumbnail-credit">Other Agency</div></div></li></ul>'
        + "</div></article></body></html>"
    )
    content = parse_html(html.encode(), "https://example.org/harbour")
    assert [(c.text, c.credit) for c in content.captions] == [("", "Getty Images")]
