"""Compressing a raw page against another page of the same site.

Pages of one news site share most of their bytes: templates, inline scripts and styles,
navigation, footers. zstd given an earlier page of the site as a raw-content dictionary keeps
little more than what differs: on the same-site pairs of the shared corpus, 0.054x of the raw
bytes against 0.150x for zstd alone (`bench/bench_archive.py` measures it).

The file stays standard zstd. A skippable frame in front names the reference by its sha256,
then one ordinary frame follows, so `zstd -d -D <reference page> blob.zst` reads it without
morgue. References are never chained: a reference is itself stored without one, so reading
any page needs at most two blobs.
"""

from __future__ import annotations

import re
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import TypeVar

import zstandard

_T = TypeVar("_T")

# zstd reserves 0x184D2A50..0x184D2A5F for skippable frames: decoders step over them
_SKIPPABLE_MAGIC = 0x184D2A5E
_LABEL = b"morgue-reference sha256:"
_HEADER = struct.Struct("<II")
HEADER_SIZE = _HEADER.size + len(_LABEL) + 64
_HEX = re.compile(rb"^[0-9a-f]{64}$")

# a reference is used only when it saves at least this much against compressing alone;
# otherwise the page is stored alone (and becomes a reference for later pages of its site)
WORTH_IT = 0.7
# bigger pages are never references: a warm compressor costs about 3.5x its reference in
# memory, and a hostile site's 10 MB pages must not make each store load 10 MB
MAX_REFERENCE_BYTES = 2_000_000


class BadBlob(ValueError):
    """A blob's reference header is malformed, or its frame claims an absurd size."""


def header(reference: str) -> bytes:
    payload = _LABEL + reference.encode("ascii")
    return _HEADER.pack(_SKIPPABLE_MAGIC, len(payload)) + payload


def split(packed: bytes) -> tuple[str | None, bytes]:
    """(reference sha256 or None, the zstd frame that follows)."""
    if len(packed) < _HEADER.size:
        return None, packed
    magic, size = _HEADER.unpack_from(packed)
    if magic != _SKIPPABLE_MAGIC:
        return None, packed
    payload = packed[_HEADER.size : _HEADER.size + size]
    if size != len(_LABEL) + 64 or not payload.startswith(_LABEL):
        raise BadBlob("unrecognised reference header")
    sha = payload[len(_LABEL) :]
    if not _HEX.match(sha):
        raise BadBlob("reference header does not hold a sha256")
    return sha.decode("ascii"), packed[_HEADER.size + size :]


def reference_in(prefix: bytes) -> str | None:
    """The reference named by the first HEADER_SIZE bytes of a blob file, if any."""
    try:
        return split(prefix)[0]
    except BadBlob:
        return None


def can_be_reference(prefix: bytes) -> bool:
    """Whether a blob starting with `prefix` (PREFIX_SIZE bytes) may serve as a reference:
    stored alone, as one zstd frame that says its size, and not too big."""
    try:
        ref, frame = split(prefix)
        size = zstandard.frame_content_size(frame)
    except (BadBlob, zstandard.ZstdError):
        return False
    return ref is None and 0 <= size <= MAX_REFERENCE_BYTES


PREFIX_SIZE = HEADER_SIZE + 18  # the reference header and a zstd frame header at most
# no fetch is allowed anywhere near this; a damaged frame header must not allocate gigabytes
MAX_BLOB_BYTES = 1 << 30


def _checked(frame: bytes) -> bytes:
    try:
        size = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as exc:
        raise BadBlob(f"not a zstd frame: {exc}") from exc
    if size > MAX_BLOB_BYTES:
        raise BadBlob(f"frame claims {size} bytes")
    return frame


class Codecs:
    """zstd compressors and decompressors bound to reference pages, a few kept warm.

    Building one loads the reference into zstd's tables (about a millisecond for 100 kB);
    rebuilds and crawls read and write many pages of one site in a row, so the recent ones
    are cached. One lock: zstandard objects must not be used by two threads at once.
    """

    def __init__(self, level: int, keep: int = 8) -> None:  # 8 warm: ~60 MB at most
        self.level = level
        self.keep = keep
        self._plain = zstandard.ZstdCompressor(level=level)
        self._fast = zstandard.ZstdCompressor(level=1)
        self._compressors: OrderedDict[str, zstandard.ZstdCompressor] = OrderedDict()
        self._decompressors: OrderedDict[str, zstandard.ZstdDecompressor] = OrderedDict()
        self.lock = threading.RLock()

    def compress(self, data: bytes) -> bytes:
        with self.lock:
            return self._plain.compress(data)

    def estimate(self, data: bytes) -> int:
        """The size of `data` compressed alone at zstd's fastest level (an upper bound of what
        the archive's level gives, in practice, at about a quarter of its cost)."""
        with self.lock:
            return len(self._fast.compress(data))

    def compress_against(
        self, reference: str, ref_bytes: Callable[[], bytes], data: bytes
    ) -> bytes:
        with self.lock:
            comp = self._compressors.get(reference)
            if comp is None:
                comp = zstandard.ZstdCompressor(level=self.level, dict_data=_dict(ref_bytes()))
                self._remember(self._compressors, reference, comp)
            else:
                self._compressors.move_to_end(reference)
            return comp.compress(data)

    def decompress(self, frame: bytes) -> bytes:
        with self.lock:
            return zstandard.ZstdDecompressor().decompress(_checked(frame))

    def decompress_against(
        self, reference: str, ref_bytes: Callable[[], bytes], frame: bytes
    ) -> bytes:
        with self.lock:
            dec = self._decompressors.get(reference)
            if dec is None:
                dec = zstandard.ZstdDecompressor(dict_data=_dict(ref_bytes()))
                self._remember(self._decompressors, reference, dec)
            else:
                self._decompressors.move_to_end(reference)
            return dec.decompress(_checked(frame))

    def _remember(self, cache: OrderedDict[str, _T], key: str, value: _T) -> None:
        cache[key] = value
        while len(cache) > self.keep:
            cache.popitem(last=False)


def _dict(content: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
