"""Snippets: the window of a hit's text with the query's matches marked. The pieces are cut
from one split of the paragraph (runs of words of one kind), so these pin what a reader sees:
phrases as one mark, words matched apart as separate marks, white space folded, the window
around the best matches with ellipses, prefixes, folding, and the text's start when nothing
matches."""

from __future__ import annotations

import pytest

from archive.ftsquery import parse
from archive.snippet import make_snippet

WORDS = " ".join(f"w{i}" for i in range(60))
AFTER = " ".join(f"x{i}" for i in range(60))


@pytest.mark.parametrize(
    ("text", "query", "parts"),
    [
        (  # one paragraph (the first naming the terms), the phrase one mark, no final stop
            "The port strike ended.\nDock workers at the port went on strike again.",
            '"port strike"',
            (("The ", False), ("port strike", True), (" ended", False)),
        ),
        (  # words matched apart: marks of their own; tabs, doubled and no-break spaces folded
            "Workers  at\tthe port   strike\u00a0today, said the port.",
            "port strike",
            (
                ("Workers at the ", False),
                ("port", True),
                (" ", False),
                ("strike", True),
                (" today, said the ", False),
                ("port", True),
            ),
        ),
        (  # a window of 32 words from three before the first match, ellipses either side
            f"{WORDS} harbour ferry {AFTER}",
            "ferry harbour",
            (
                ("… w57 w58 w59 ", False),
                ("harbour", True),
                (" ", False),
                ("ferry", True),
                (" " + " ".join(f"x{i}" for i in range(27)) + " …", False),
            ),
        ),
        (
            "Strikers and striking dockers struck.",
            "strik*",
            (("Strikers", True), (" and ", False), ("striking", True), (" dockers struck", False)),
        ),
        (  # case, diacritics and ß folded as the index folds them
            "Der Bürgermeister Jörg MÜLLER sprach über Straße.",
            "muller strasse",
            (
                ("Der Bürgermeister Jörg ", False),
                ("MÜLLER", True),
                (" sprach über ", False),
                ("Straße", True),
            ),
        ),
        (  # an excluded word is never marked
            "The rumour of a port strike spread.",
            '"port strike" -rumour',
            (("The rumour of a ", False), ("port strike", True), (" spread", False)),
        ),
        (
            "Nothing here matches at all, not one word of it.",
            "ferry",
            (("Nothing here matches at all, not one word of it", False),),
        ),
    ],
)
def test_snippet_pieces(text: str, query: str, parts: tuple[tuple[str, bool], ...]) -> None:
    assert make_snippet(text, parse(query)[1]).parts == parts


def test_a_text_without_words_has_no_snippet() -> None:
    assert make_snippet(" … — ", parse("ferry")[1]).parts == ()


def test_the_snippet_text_is_every_searched_field_but_the_headline_one_a_line() -> None:
    from archive.record import SCHEMA
    from archive.searchdoc import snippet_text

    record = {
        "schema": SCHEMA,
        "headline": "Not in the snippet: shown above it",
        "subheadline": "Dockers vote",
        "body": [{"kind": "p", "text": "The strike ended."}, {"kind": "h", "text": "Talks"}],
        "captions": [
            {"text": "The quay", "credit": "Photo: J. Roe", "image_url": None},
            {"text": "A crane", "credit": None, "image_url": None},
        ],
        "authors": ["Ana Lis", "Jörg Müller"],
    }
    assert snippet_text(record) == (
        "Dockers vote\nThe strike ended.\nTalks\nThe quay Photo: J. Roe\nA crane\n"
        "Ana Lis, Jörg Müller"
    )
    (muller,) = parse("muller")[1]
    assert make_snippet(snippet_text(record), [muller]).parts[-1] == ("Müller", True)
