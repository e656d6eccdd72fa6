"""Body fingerprints for the second and third levels of deduplication (pure functions).

`body_digest` is a sha256 of the normalized body text: two pages whose article text is the
same (syndication, one story at two addresses) get the same digest even when their HTML
differs. `simhash` is a 64-bit SimHash over word shingles: bodies that differ by a word or two
land a few bits apart, rewritten bodies far apart (Charikar 2002; Manku et al. 2007 use 64 bits
and a distance of 3 for near-duplicate web pages).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

SHINGLE = 3  # words per shingle
BANDS = 4  # simhash split into 4 x 16 bits: any two within 3 bits share a band
BAND_BITS = 64 // BANDS
_WORD = re.compile(r"\w+", re.UNICODE)
_blake2b = hashlib.blake2b
_BIT_BYTES = tuple(bytes((1 << bit,)) for bit in range(8))  # a byte with only that bit set


def normalize_text(text: str) -> str:
    """Case, width and whitespace folded: what "the same body text" means."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(folded.split())


def body_digest(paragraphs: list[str] | tuple[str, ...]) -> str:
    """sha256 hex of the normalized body; paragraph breaks do not matter, words do."""
    return digest_normalized(normalize_text(" ".join(paragraphs)))


def digest_normalized(normalized: str) -> str:
    """`body_digest` of paragraphs whose normalized text is `normalized`."""
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()


# the digest of a page with no body text: never a "shared text"
EMPTY_DIGEST = body_digest(())


def _words(normalized: str) -> list[str]:
    """The words of a normalized text, machine tokens (8+ characters mixing letters and
    digits: a request id, a session token, a cache-buster) all one word, "#", so a page that
    prints a new one on every fetch does not look rewritten."""
    return [
        "#" if len(w) >= 8 and not w.isalpha() and not w.isdigit() else w
        for w in _WORD.findall(normalized)
    ]


def _shingles(text: str) -> list[str]:
    words = _words(normalize_text(text))
    if len(words) <= SHINGLE:
        return [" ".join(words)] if words else []
    return list(map(" ".join, zip(*(words[i:] for i in range(SHINGLE)), strict=False)))


def simhash(text: str) -> int:
    """64-bit SimHash of `text` over word 3-shingles (unsigned, 0 for an empty text)."""
    return simhash_normalized(normalize_text(text))


def simhash_normalized(normalized: str) -> int:
    """`simhash` of a text whose `normalize_text` is `normalized`."""
    words = _words(normalized)
    if not words:
        return 0
    # each shingle is its three words' UTF-8 joined by a space: each word encoded once
    encoded = list(map(str.encode, words))
    if len(encoded) <= SHINGLE:
        shingles: list[bytes] = [b" ".join(encoded)]
    else:
        shingles = list(map(b" ".join, zip(*(encoded[i:] for i in range(SHINGLE)), strict=False)))
    # an 8-byte blake2b digest of each (a direct call: through functools.partial, the keyword
    # argument cost as much as the hash)
    digests = b"".join([_blake2b(shingle, digest_size=8).digest() for shingle in shingles])
    return _majority(digests, len(shingles))


def _majority(digests: bytes, count: int) -> int:
    """The bits set in more than half of the `count` 8-byte digests `digests` holds (bit
    8 * c + b: bit b of each digest's byte c)."""
    half = count / 2
    # one int of `count` bytes per byte column, and per bit a mask of that bit in every byte:
    # AND and bit_count count a column's bytes with the bit set (in C, a machine word at a time)
    masks = [int.from_bytes(one * count, "little") for one in _BIT_BYTES]
    result = 0
    for column in range(8):
        values = int.from_bytes(digests[column::8], "little")
        for bit, mask in enumerate(masks):
            if (values & mask).bit_count() > half:
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
