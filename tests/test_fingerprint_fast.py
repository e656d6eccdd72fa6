"""`simhash` computed with C-level bulk operations gives exactly the fingerprints of the plain
definition (stored fingerprints must not change: near-duplicates are found across runs)."""

from __future__ import annotations

import hashlib
import random
import re
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from archive.fingerprint import body_digest, normalize_text, simhash
from archive.indexing import Fingerprints
from archive.record import Block, Content


def _reference(text: str) -> int:
    words = []
    for word in re.findall(r"\w+", normalize_text(text)):
        machine = len(word) >= 8 and not word.isalpha() and not word.isdigit()
        words.append("#" if machine else word)
    if len(words) <= 3:
        shingles = [" ".join(words)] if words else []
    else:
        shingles = [" ".join(words[i : i + 3]) for i in range(len(words) - 2)]
    if not shingles:
        return 0
    counts = [0] * 64
    for shingle in shingles:
        value = int.from_bytes(hashlib.blake2b(shingle.encode(), digest_size=8).digest(), "little")
        for bit in range(64):
            counts[bit] += value >> bit & 1
    return sum(1 << bit for bit in range(64) if counts[bit] > len(shingles) / 2)


_WORDS = ["the", "council", "vote", "2024", "abc12345def", "élan", "Straße", "東京", "x", "ﬁ"]


@given(st.lists(st.sampled_from(_WORDS), max_size=300), st.text(max_size=40))
def test_simhash_is_the_plain_definition(words: list[str], noise: str) -> None:
    text = " ".join(words) + noise
    assert simhash(text) == _reference(text)


def test_simhash_of_short_texts() -> None:
    for text in ("", "one", "one two", "one two three", "one two three four", "  \n "):
        assert simhash(text) == _reference(text)


@settings(max_examples=400)
@given(st.text(max_size=400))
def test_simhash_of_any_text_is_the_plain_definition(text: str) -> None:
    assert simhash(text) == _reference(text)


def test_simhash_of_many_long_texts() -> None:
    rng = random.Random(11)
    pool = [
        *_WORDS,
        "\uff26\uff35\uff2c\uff2c",
        "İstanbul",
        "e\u0301",
        "\u0301",
        "a_b",
        "9" * 12,
        "x1" * 5,
        "\xa0",
    ]
    for n in [*range(0, 12), *(rng.randrange(12, 3000) for _ in range(60))]:
        text = " ".join(rng.choice(pool) for _ in range(n))
        assert simhash(text) == _reference(text)


def _prints(paragraphs: list[str]) -> Fingerprints:
    return Fingerprints.of(Content(headline="h", body=tuple(Block(p) for p in paragraphs)))


@given(st.lists(st.text(max_size=30), max_size=8))
def test_fingerprints_normalize_once_as_both_did(paragraphs: list[str]) -> None:
    """Fingerprints.of normalizes the body once for both: the same digest and simhash as
    `body_digest` (paragraphs joined by a space) and `simhash` (by a blank line)."""
    prints = _prints(paragraphs)
    assert prints.digest == body_digest(paragraphs)
    assert prints.simhash == simhash("\n\n".join(paragraphs)) == _reference(prints.text)


def test_every_code_point_beside_a_paragraph_break_normalizes_as_beside_a_space() -> None:
    points = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(points), 65536):
        paragraphs = points[start : start + 65536]
        assert normalize_text(" ".join(paragraphs)) == normalize_text("\n\n".join(paragraphs))
        # each one after a letter, a combining mark and a Hangul jamo too
        for before in ("a", "\u0301", "\u1100"):
            pairs = [before + p for p in paragraphs]
            assert normalize_text(" ".join(pairs)) == normalize_text("\n\n".join(pairs))
