"""Word diffs between versions: pure functions over records."""

from __future__ import annotations

from archive.diff import _pair, diff_articles, render_plain, word_ops
from archive.record import Article, Caption, HttpInfo
from tests.archive_support import T0
from tests.read_support import content


def article(version: int, headline: str, paragraphs: list[str], **kw: object) -> Article:
    return Article(
        id="a" * 16,
        version=version,
        source="s",
        url="http://x/",
        final_url="http://x/",
        canonical_url="http://x/",
        urls=("http://x/",),
        fetched_at=T0,
        http=HttpInfo(status=200),
        raw_sha256="0" * 64,
        content=content(headline, paragraphs, **kw),
    )


def test_word_ops_keep_every_character() -> None:
    old, new = "The mayor said no to the plan.", "The new mayor said yes to the plan today."
    ops = word_ops(old, new)
    assert "".join(o.text for o in ops if o.kind != "insert") == old
    assert "".join(o.text for o in ops if o.kind != "delete") == new


def test_paragraphs_are_paired_before_words() -> None:
    old = ["One two three four.", "Removed entirely here.", "Five six seven eight."]
    new = ["One two three four.", "Five six seven nine.", "Brand new closing words."]
    assert _pair(old, new) == [
        ("One two three four.", "One two three four."),
        ("Removed entirely here.", None),
        ("Five six seven eight.", "Five six seven nine."),
        (None, "Brand new closing words."),
    ]


def test_diff_fields_and_markup() -> None:
    a = article(
        1, "Old title", ["Same.", "Cut me."], authors=("A",), captions=(Caption("Pic", "Cred"),)
    )
    b = article(2, "New title", ["Same."], authors=("A", "B"), published="2024-01-02")
    diff = diff_articles(a, b)
    names = [f.field for f in diff.fields]
    assert names == ["headline", "published", "authors", "captions[0]", "body[1]"]
    text = render_plain(diff)
    assert "headline: [-Old-]{+New+} title" in text
    assert "body[1]: [-Cut me.-]" in text
    coloured = render_plain(diff, color=True)
    assert "\x1b[31mOld\x1b[0m" in coloured
    assert "\x1b[32mNew\x1b[0m" in coloured
    # a replacement is two words apart, not run together: "Old New title"
    assert "headline: \x1b[31mOld\x1b[0m \x1b[32mNew\x1b[0m title" in coloured
    assert diff.summary().startswith("authors, body, captions, headline, published changed")


def test_identical_versions_have_no_fields() -> None:
    a = article(1, "T", ["P."])
    assert not diff_articles(a, article(2, "T", ["P."])).changed
