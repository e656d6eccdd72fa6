"""Page text as blocks: the inline content of each block-level element, split at nested blocks
and at double line breaks, with how much of it is link text. Inline elements keep their text
(a link classed "tag" inside a sentence is the sentence) except hover cards and credits nested
in them; skipped subtrees (what the caller calls furniture) give no blocks at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from archive.record import BlockKind
from scraper.parse.boilerplate import SKIP_TAGS, inline_junk, inline_junk_named
from scraper.parse.dom import (
    BLOCK_TAGS,
    HEADING_TAGS,
    NO_CLASS,
    HtmlElement,
    class_id,
    clean_text,
    text_content,
)

_BR_SPLIT = re.compile(r"\n[ \t\r\f\v\u00a0]*\n")


@dataclass(slots=True)
class TextBlock:
    """The inline text of one block-level element (or one <br><br>-separated part of it)."""

    el: HtmlElement
    text: str
    links: int  # characters of link text
    kind: BlockKind

    @property
    def link_density(self) -> float:
        return self.links / max(1, len(self.text))


# Link text is wrapped in these (control characters: never prose, and clean_text would drop
# them) so that a <br><br>-separated part can count its own links.
_LINK_START, _LINK_END = "\x02", "\x03"
_MARKED = re.compile("\x02([^\x03]*)\x03?")


# A link whose text is its own address or an e-mail address: a reference in the text (RFCs,
# bylines, "pic.twitter.com/…"), not navigation.
_URLISH = re.compile(r"(?:https?://|www\.)\S*|[\w.+-]+@[\w-]+\.[\w.-]+|\S+\.[a-z]{2,}/\S*", re.I)


def _marked_length(text: str) -> int:
    """Characters of link text in a part of a block (clean_text drops the markers)."""
    linked = (clean_text(m.group(1)) for m in _MARKED.finditer(text))
    return sum(len(t) for t in linked if not _URLISH.fullmatch(t))


def _inline_text(el: HtmlElement, drop_junk: bool, mark: bool = False) -> tuple[str, int]:
    """(text, characters of link text) of an inline element, without the hover cards and
    credits nested in it when drop_junk is set; with mark, link text is wrapped in
    _LINK_START/_LINK_END."""
    tag = el.tag
    if not len(el) and tag != "br":
        # A leaf (most inline elements: a link, an <em>): no <br>, nothing nested to drop and
        # no link inside but itself, so the three subtree walks below can be skipped.
        text = el.text or ""
        if tag == "a":
            return (f"{_LINK_START}{text}{_LINK_END}" if mark else text), len(clean_text(text))
        return text, 0
    has_break = next(el.iter("br"), None) is not None
    if not has_break and (
        not drop_junk
        or not any(
            inline_junk_named(d, *ci) for d in el.iterdescendants() if (ci := class_id(d))[0]
        )
    ):
        text = text_content(el)
        if el.tag == "a":
            return (f"{_LINK_START}{text}{_LINK_END}" if mark else text), len(clean_text(text))
        linked = sum(len(clean_text(text_content(a))) for a in el.iter("a"))
        if not mark or not linked:
            return text, linked
    parts: list[str] = []
    linked = _walk_inline(el, False, drop_junk, mark, parts)
    return "".join(parts), linked


def _walk_inline(
    node: HtmlElement, in_link: bool, drop_junk: bool, mark: bool, parts: list[str]
) -> int:
    """Append node's text to parts as _inline_text reads it; returns its characters of link
    text. (A module function, not a closure: a nested function that calls itself is a
    reference cycle, left for the cyclic collector on every call.)"""
    linked = 0
    opens = mark and not in_link and node.tag == "a"
    in_link = in_link or node.tag == "a"
    if opens:
        parts.append(_LINK_START)
    parts.append(node.text or "")
    if in_link:
        linked += len(clean_text(node.text))
    for child in node:
        if child.tag == "br":
            parts.append("\n")  # <br><br> inside <font> still separates paragraphs
        elif isinstance(child.tag, str) and not (drop_junk and inline_junk(child)):
            linked += _walk_inline(child, in_link, drop_junk, mark, parts)
        parts.append(child.tail or "")
        if in_link:
            linked += len(clean_text(child.tail))
    if opens:
        parts.append(_LINK_END)
    return linked


_CELLS = ("td", "th")


def _data_row(tr: HtmlElement, holding: set[HtmlElement]) -> tuple[str, int] | None:
    """Layout: tables of data (works lists, timetables, product sheets) read one row at a
    time: (the row's cells joined by " | ", characters of link text). Rows of layout tables
    (cells holding blocks or <br> runs, or long text) are left to be read cell by cell."""
    cells = [c for c in tr if c.tag in _CELLS]
    if len(cells) < 2 or len(cells) != len(tr) or any(c in holding for c in cells):
        return None
    if any(next(c.iter("br"), None) is not None for c in cells):
        return None
    texts = [clean_text(text_content(c)) for c in cells]
    row = " | ".join(t for t in texts if t)
    if not row or len(row) > 300:
        return None
    return row, sum(len(clean_text(text_content(a))) for a in tr.iter("a"))


def _column_heads(tr: HtmlElement, holding: set[HtmlElement]) -> bool:
    """Layout: table-layout forums (phpBB 2's "Author | Message") and other layout tables
    head their columns too: a row of <th> cells only, above a row that holds tables of its
    own (a layout's), is not text. Data tables' heads stay, whatever their cells hold."""
    cells = [c for c in tr if isinstance(c.tag, str)]
    return (
        len(cells) >= 2
        and all(c.tag == "th" for c in cells)
        and not any(c in holding for c in cells)
        and _layout_follows(tr)
    )


def _layout_follows(tr: HtmlElement) -> bool:
    """Does the next row (in the same table part, or the first of the next part) hold a
    table of its own?"""
    after = tr.getnext()
    if after is None and (part := tr.getparent()) is not None and part.tag == "thead":
        after = part.getnext()  # (the <tbody> after the <thead>)
    while after is not None and after.tag != "tr":
        if after.tag in ("tbody", "thead", "tfoot"):
            after = next(after.iter("tr"), None)
            break
        after = after.getnext()
    if after is None:
        return False
    found = after.iter("table")
    return next(found, None) is not None


# (a module constant: an enum member read off its class runs a Python descriptor in 3.11)
_PARAGRAPH = BlockKind.PARAGRAPH
_KINDS = {
    **dict.fromkeys(HEADING_TAGS, BlockKind.HEADING),
    "li": BlockKind.LIST_ITEM,
    "blockquote": BlockKind.QUOTE,
}


def _kind(el: HtmlElement) -> BlockKind:
    return _KINDS.get(el.tag, _PARAGRAPH)


# What is never read as inline text: block-level elements and the subtrees callers skip
_NOT_INLINE = BLOCK_TAGS | SKIP_TAGS


def _has_block(el: HtmlElement) -> bool:
    found = el.iter(*BLOCK_TAGS)
    first = next(found, None)
    if first is el:
        first = next(found, None)
    return first is not None


def segment(
    root: HtmlElement, skip: Callable[[HtmlElement], bool] | None = None, max_depth: int = 600
) -> list[TextBlock]:
    """Text blocks under root, in document order; subtrees where skip(el) is true are left out.
    Trees re-parsed by bs4 can be deeper than libxml2's 256 levels; max_depth keeps the
    recursion well inside Python's limit."""
    out: list[TextBlock] = []
    _segment(root, skip, out, 0, max_depth, False, _holding_blocks(root), _kind(root))
    return out


def _holding_blocks(root: HtmlElement) -> set[HtmlElement]:
    """Every element under root with a block-level element inside it: one pass up from each
    block, stopping where an earlier pass already went."""
    holding: set[HtmlElement] = set()
    for block in root.iter(*BLOCK_TAGS):
        parent = block.getparent()
        while parent is not None and parent not in holding:
            holding.add(parent)
            if parent is root:
                break
            parent = parent.getparent()
    return holding


def _segment(
    el: HtmlElement,
    skip: Callable[[HtmlElement], bool] | None,
    out: list[TextBlock],
    depth: int,
    max_depth: int,
    in_link: bool,
    holding: set[HtmlElement],
    kind: BlockKind,
) -> None:
    """The blocks of el (whose block kind the caller passes: it has read el's tag already).
    Each element's tag, text and tail is read from lxml once (each read decodes a new str),
    and the gathered parts go to _flush only when they hold some text (most do not)."""
    parts: list[str] = [el.text or ""]
    links = 0
    for child in el:
        tag = child.tag
        if not isinstance(tag, str):
            parts.append(child.tail or "")
            continue
        nested = child in holding
        inline = tag not in _NOT_INLINE and not nested
        # Inline elements are only dropped for what is never prose (captions, share widgets,
        # hover cards): a link classed "tag" or "topic" inside a sentence is still the sentence.
        if skip is not None and (
            skip(child)
            if not inline
            else (ci := class_id(child)) is not NO_CLASS and inline_junk_named(child, *ci)
        ):
            parts.append(" ")
            parts.append(child.tail or "")
            continue
        if tag == "br":
            parts.append("\n")
        elif tag == "tr" and _column_heads(child, holding):
            pass  # (its tail, whitespace between rows, is appended below)
        elif tag == "tr" and (row := _data_row(child, holding)) is not None:
            raw = "".join(parts)
            if raw and not raw.isspace():
                _flush(el, kind, raw, links, in_link, out)
            parts, links = [], 0
            out.append(TextBlock(child, row[0], len(row[0]) if in_link else row[1], kind))
        elif tag in BLOCK_TAGS or nested:
            raw = "".join(parts)
            if raw and not raw.isspace():
                _flush(el, kind, raw, links, in_link, out)
            parts, links = [], 0
            if depth < max_depth:
                _segment(
                    child,
                    skip,
                    out,
                    depth + 1,
                    max_depth,
                    in_link or tag == "a",
                    holding,
                    _KINDS.get(tag, _PARAGRAPH),
                )
        elif tag in ("img", "hr", "wbr"):
            parts.append(" ")
        else:
            text, linked = _inline_text(child, skip is not None, mark=True)
            parts.append(text)
            links += linked
        parts.append(child.tail or "")
    raw = "".join(parts)
    if raw and not raw.isspace():
        _flush(el, kind, raw, links, in_link, out)


def _flush(
    el: HtmlElement,
    kind: BlockKind,
    raw: str,
    links: int,
    in_link: bool,
    out: list[TextBlock],
) -> None:
    """The inline text gathered so far in el (not all whitespace) as blocks (one per
    <br><br>-separated part)."""
    # (a split needs two line breaks: text with one, common in source layout, skips the regex)
    split = _BR_SPLIT.split(raw) if raw.count("\n") > 1 else None
    if split is not None and len(split) > 1:
        # <br><br> runs (old layouts, blog engines): each part counts its own links
        marked = _LINK_START in raw
        counted = [(clean_text(p), _marked_length(p) if marked else 0) for p in split]
        pieces = [(text, min(len(text), n)) for text, n in counted if text]
        if len(pieces) == 1:
            pieces = [(pieces[0][0], links)]
    else:
        text = clean_text(raw)
        pieces = [(text, links)] if text else []
    for piece, share in pieces:
        # Inside a link (a whole teaser card wrapped in <a>), all of it is link text.
        out.append(TextBlock(el, piece, len(piece) if in_link else share, kind))
