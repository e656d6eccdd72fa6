"""beautifulsoup4 where it is the best tool: mixed UTF-8/cp1252 bytes repaired with
`UnicodeDammit.detwingle`, and pages libxml2 loses parsed again through `lxml.html.soupparser`."""

from __future__ import annotations

import time

from scraper.parse import parse_html
from scraper.parse.charset import decode_html
from scraper.parse.dom import build_tree

PARAS = [
    "The council met on Tuesday evening to decide the future of the old river bridge.",
    "Engineers told members that the structure could carry traffic for another ten years.",
    "Residents who had waited for the meeting since spring filled the public gallery.",
    "A final vote on the repair budget is expected before the end of the month.",
]


def page(inner: str, head: str = "<meta charset='utf-8'>") -> str:
    return (
        f"<html><head>{head}<title>Bridge vote | Herald</title></head><body>"
        f"<h1>Council delays the bridge vote</h1><article>{inner}</article></body></html>"
    )


def test_mixed_utf8_and_cp1252_is_detwingled() -> None:
    html = page("".join(f"<p>{p} Café.</p>" for p in PARAS)).encode("utf-8")
    html = html.replace(b"Tuesday", b"\x93Tuesday\x94").replace(b"council", b"council\x92s")
    content = parse_html(html, "https://herald.example/a", content_type="text/html")
    assert "\u201cTuesday\u201d evening" in content.text
    assert "council\u2019s met" in content.text
    assert "Café" in content.text
    assert "Ã" not in content.text
    assert dict(content.provenance)["encoding"] == "detwingled:utf-8"


def test_mislabelled_latin1_with_utf8_inside_is_detwingled() -> None:
    html = page("<p>Zürich \u2013 quoted</p>")
    body = html.encode("utf-8").replace(b"quoted", b"\x93quoted\x94")
    text, codec, source = decode_html(body, "text/html; charset=iso-8859-1")
    assert (codec, source) == ("utf-8", "detwingled")
    assert "Zürich \u2013 \u201cquoted\u201d" in text


def test_plain_cp1252_and_valid_utf8_are_not_detwingled() -> None:
    cp1252 = page("<p>Über café à la \u201cx\u201d Straße grüß</p>", head="").encode("cp1252")
    text, _, source = decode_html(cp1252, "text/html; charset=windows-1252")
    assert source == "http"
    assert "Über café à la \u201cx\u201d Straße grüß" in text
    utf8 = page("<p>Über café \u201cx\u201d</p>").encode("utf-8")
    assert decode_html(utf8)[2] != "detwingled"


def test_nesting_deeper_than_libxml2_takes_is_parsed_again() -> None:
    article = "".join(f"<p>{p}</p>" for p in PARAS)
    html = page("<div>" * 400 + article + "</div>" * 400).encode("utf-8")
    content = parse_html(html, "https://herald.example/a")
    assert content.headline == "Council delays the bridge vote"
    assert [b.text for b in content.body] == PARAS
    assert dict(content.provenance)["tree"] == "bs4"


def test_ordinary_pages_stay_with_libxml2() -> None:
    article = "".join(f"<p>{p}</p>" for p in PARAS)
    # paragraph markup inside a script's JSON is not markup libxml2 lost
    state = '<script>window.s = {"html": "' + "<p>x</p>" * 40 + '"}</script>'
    for html in (page(article), page(article + state)):
        assert not build_tree(html, None).reparsed
        content = parse_html(html.encode(), "https://herald.example/a")
        assert "tree" not in dict(content.provenance)


def test_hostile_nesting_falls_back_to_the_libxml2_tree_quickly() -> None:
    html = page("<div>" * 50_000 + "".join(f"<p>{p}</p>" for p in PARAS))
    start = time.process_time()
    tree = build_tree(html, None)
    assert not tree.reparsed  # soupparser's recursive conversion gives up; nothing breaks
    assert time.process_time() - start < 10
