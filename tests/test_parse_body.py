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
