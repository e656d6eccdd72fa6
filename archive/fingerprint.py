"""Body fingerprints for the second and third levels of deduplication (pure functions).

`body_digest` is a sha256 of the normalized body text: two pages whose article text is the
same (syndication, one story at two addresses) get the same digest even when their HTML
differs. `simhash` is a 64-bit SimHash over word shingles: bodies that differ by a word or two
land a few bits apart, rewritten bodies far apart (Charikar 2002; Manku et al. 2007 use 64 bits
and a distance of 3 for near-duplicate web pages).
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import unicodedata

SHINGLE = 3  # words per shingle
BANDS = 4  # simhash split into 4 x 16 bits: any two within 3 bits share a band
BAND_BITS = 64 // BANDS
_WORD = re.compile(r"\w+", re.UNICODE)
# for each bit of a byte, a bytes.translate table mapping every byte value to that bit
_BIT_TABLES = tuple(bytes(value >> bit & 1 for value in range(256)) for bit in range(8))


def normalize_text(text: str) -> str:
    """Case, width and whitespace folded: what "the same body text" means."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def body_digest(paragraphs: list[str] | tuple[str, ...]) -> str:
    """sha256 hex of the normalized body; paragraph breaks do not matter, words do."""
    return hashlib.sha256(normalize_text(" ".join(paragraphs)).encode("utf-8")).hexdigest()


# the digest of a page with no body text: never a "shared text"
EMPTY_DIGEST = body_digest(())


def _shingles(text: str) -> list[str]:
    found = _WORD.findall(normalize_text(text))
    # machine tokens (8+ characters mixing letters and digits: a request id, a session token,
    # a cache-buster) are all one word, so a page that prints a new one on every fetch does
    # not look rewritten
    words = ["#" if len(w) >= 8 and not w.isalpha() and not w.isdigit() else w for w in found]
    if len(words) <= SHINGLE:
        return [" ".join(words)] if words else []
    return list(map(" ".join, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))


# 8-byte blake2b digest of bytes, as C calls only (no Python frame per shingle)
_hash8 = functools.partial(hashlib.blake2b, digest_size=8)
_digest = operator.methodcaller("digest")


def simhash(text: str) -> int:
    """64-bit SimHash of `text` over word 3-shingles (unsigned, 0 for an empty text)."""
    shingles = _shingles(text)
    if not shingles:
        return 0
    digests = b"".join(map(_digest, map(_hash8, map(str.encode, shingles))))
    half = len(shingles) / 2
    result = 0
    # how many digests have each bit set, one byte column at a time: translate maps each
    # byte to 1 or 0 for one bit, count adds them up (both in C)
    for column in range(8):
        values = digests[column::8]
        for bit, table in enumerate(_BIT_TABLES):
            if values.translate(table).count(1) > half:
                result |= 1 << (column * 8 + bit)
    return result


def distance(a: int, b: int) -> int:
    """Hamming distance between two 64-bit fingerprints."""
    return (a ^ b).bit_count()


def bands(fingerprint: int) -> list[int]:
    """The 16-bit slices used to find near neighbours without comparing against everything."""
    mask = (1 << BAND_BITS) - 1
    return [(fingerprint >> (i * BAND_BITS)) & mask for i in range(BANDS)]


def to_signed(value: int) -> int:
    """SQLite integers are signed 64-bit."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value
