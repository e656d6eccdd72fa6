"""`simhash` computed with C-level bulk operations gives exactly the fingerprints of the plain
definition (stored fingerprints must not change: near-duplicates are found across runs)."""

from __future__ import annotations

import hashlib
import re

from hypothesis import given
from hypothesis import strategies as st

from archive.fingerprint import normalize_text, simhash


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
