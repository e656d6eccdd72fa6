"""Turn page bytes into text without guessing wrong: the one place the parser decodes.

Order of evidence, most explicit first: a byte-order mark, the HTTP Content-Type charset, a
`<meta charset>` / `<meta http-equiv>` declaration (or an XML declaration) in the first bytes,
then charset-normalizer's detection, then UTF-8. A declared charset that cannot decode the bytes
is skipped rather than trusted. Decoding never fails: undecodable bytes become U+FFFD in the
text, and the raw bytes themselves are never altered (the caller keeps them).

Pages that mix UTF-8 with Windows-1252 (smart quotes pasted into a UTF-8 CMS, an old cp1252
template around UTF-8 articles) decode as neither; bs4's `UnicodeDammit.detwingle` turns the
cp1252 bytes into UTF-8 first (`_untwingle`). It runs only on such pages, never on valid UTF-8.
"""

from __future__ import annotations

import codecs
import logging
import re

from charset_normalizer import from_bytes

log = logging.getLogger(__name__)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([A-Za-z0-9._:\-]+)", re.I)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:\-]+)""", re.I)
_XML_DECL = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9._:\-]+)""", re.I)
# What browsers actually do with these labels (WHATWG Encoding standard).
_ALIASES = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "tis-620": "cp874",
    "x-sjis": "shift_jis",
    "sjis": "shift_jis",
    "shift-jis": "shift_jis",
    "windows-31j": "cp932",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "utf8": "utf-8",
    "unicode": "utf-8",
}
_SNIFF_BYTES = 4096
# A well-formed multi-byte UTF-8 character: a page holding some and still not decoding as
# UTF-8 mixes encodings.
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_NOT_WEB = frozenset(
    ("undefined", "utf-7", "idna", "punycode", "unicode-escape", "raw-unicode-escape", "charmap")
)


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when Python does not know it."""
    if not label:
        return None
    name = _ALIASES.get(label.strip().lower(), label.strip().lower())
    # A page that says UTF-16 in a meta tag was necessarily decoded as ASCII-compatible.
    if name.startswith(("utf-16", "utf16")):
        name = "utf-8"
    try:
        info = codecs.lookup(name)
    except LookupError:
        return None
    # A page names whatever it likes: Python's bytes-to-bytes codecs (base64, zlib, rot13),
    # its own escape formats, "undefined" (always raises) and UTF-7 (WHATWG forbids it: it
    # hides markup) are no character encodings of the web.
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_WEB:
        return None
    return info.name


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
    except UnicodeDecodeError:
        return False
    return True


def _mostly_utf8(body: bytes) -> bool:
    bad = body.decode("utf-8", errors="replace").count("\ufffd")
    return bad <= max(2, len(body) // 2000)


def _detect(body: bytes) -> str | None:
    """charset-normalizer's pick; among near-equal single-byte Latin guesses windows-1252,
    the web's own default, wins (it tells "è" from "č" no better than chance)."""
    results = from_bytes(body)
    best = results.best()
    if best is None:
        return None
    close = [r.encoding for r in results if r.chaos <= best.chaos + 0.15]
    if best.language not in _NON_LATIN and "cp1252" in close:
        return "cp1252"
    return _codec(best.encoding)


_NON_LATIN = frozenset(
    (
        "Russian",
        "Ukrainian",
        "Bulgarian",
        "Greek",
        "Hebrew",
        "Arabic",
        "Japanese",
        "Chinese",
        "Korean",
        "Thai",
        "Persian",
        "Serbian",
    )
)


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value, if any."""
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def sniff_encoding(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """(codec, where it came from): "bom", "http", "meta", "detected" or "default"."""
    for bom, bom_codec in _BOMS:
        if body.startswith(bom):
            return bom_codec, "bom"
    # Valid UTF-8 with multi-byte sequences is no accident of a legacy encoding: a server that
    # labels such a page iso-8859-1 (Apache's old default) or koi8-r is wrong, and trusting
    # the label turns every "é" into "Ã©" in the archive.
    if not body.isascii() and _decodes(body, "utf-8"):
        return "utf-8", "detected"
    head = body[:_SNIFF_BYTES]
    declared = [(header_charset(content_type), "http")]
    for pattern in (_META_CHARSET, _XML_DECL):
        match = pattern.search(head)
        if match:
            declared.append((match.group(1).decode("ascii", "replace"), "meta"))
    for label, source in declared:
        codec = _codec(label)
        # Trust a declaration when the bytes agree; a few stray bytes are tolerated for UTF-8.
        if codec and (_decodes(body, codec) or (codec == "utf-8" and _mostly_utf8(body))):
            return codec, source
    if _decodes(body, "utf-8"):
        return "utf-8", "default"
    detected = _detect(body[:200_000])
    if detected:
        return detected, "detected"
    for label, source in declared:
        codec = _codec(label)
        if codec:
            return codec, source
    return "utf-8", "default"


def _untwingle(body: bytes) -> str | None:
    """The text of a page that mixes UTF-8 and Windows-1252 bytes, or None when it does not.

    Mixed means: not valid UTF-8, yet holding well-formed UTF-8 characters, and valid UTF-8
    (but for a stray byte or two) once detwingle has re-encoded the cp1252 bytes. A page in
    cp1252 alone fails that last test (its accented letters look like broken UTF-8 lead bytes)
    unless its only high bytes are cp1252 punctuation, where both readings give the same text.
    """
    if body.startswith(tuple(b for b, _ in _BOMS)) or _UTF8_MULTIBYTE.search(body) is None:
        return None
    if _decodes(body, "utf-8"):
        return None  # all UTF-8 already (under a wrong label): nothing to repair
    from bs4.dammit import UnicodeDammit  # imported here: only mixed pages need bs4

    fixed = UnicodeDammit.detwingle(body)
    if not _mostly_utf8(fixed):
        return None
    return fixed.decode("utf-8", errors="replace")


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str, str]:
    """(text, codec, source) for page bytes; never raises on bad bytes."""
    text, _, codec, source = decode_html_utf8(body, content_type)
    return text, codec, source


def decode_html_utf8(
    body: bytes, content_type: str | None = None
) -> tuple[str, bytes | None, str, str]:
    """(text, the text as UTF-8 when that is the page's own bytes, codec, source).

    The bytes are the page itself in the common case (valid UTF-8 nothing declares otherwise),
    so the tree builder can hand libxml2 UTF-8 without encoding the text again; None when the
    text was decoded from anything else."""
    declared = header_charset(content_type)
    if not body.startswith(tuple(b for b, _ in _BOMS)) and _codec(declared) in (None, "utf-8"):
        # The common case, decoded once: valid UTF-8 that nothing declares otherwise.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            head = body[:_SNIFF_BYTES]
            meta = _META_CHARSET.search(head) or _XML_DECL.search(head)
            label = meta.group(1).decode("ascii", "replace") if meta else None
            if _codec(label) in (None, "utf-8"):
                source = "http" if declared else ("meta" if label else "default")
                return text, body, "utf-8", source
    codec, source = sniff_encoding(body, content_type)
    if codec in ("utf-8", "cp1252", "latin-1", "iso8859-1"):
        fixed = _untwingle(body)
        if fixed is not None:
            log.debug("mixed UTF-8 and cp1252 bytes: detwingled")
            return fixed, None, "utf-8", "detwingled"
    text = body.decode(codec, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None, codec, source
