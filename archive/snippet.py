"""A few words around the matches of a query, with the matches marked.

The search index is contentless (no copy of the text to cut snippets from), so a snippet is
cut from the record itself: the words of the text are folded the way the index folds them
(case and diacritics: "Muller" matches "Müller"), the query's terms, prefixes and phrases are
found among them, and the window of words with the most distinct matches is kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from archive.ftsquery import Term

_WORDS_SPLIT = re.compile(r"(\w+)")
_SPACE = re.compile(r"\s+")
_NON_SPACE_GAP = re.compile(r"[^\S ]|  ")  # white space other than single spaces
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
WINDOW = 32  # words
_FOLD_KEPT = 20_000  # characters whose folding is remembered


def _fold_char(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


class _FoldTable(dict[int, str]):
    """What each character folds to, worked out the first time it is met: `str.translate`
    then folds a paragraph in C instead of one character at a time in Python."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < _FOLD_KEPT:  # text of every script there is stays a bounded table
            self[code] = folded
        return folded


_FOLDED = _FoldTable()


def fold(text: str) -> str:
    """Lower case without diacritics, as the index compares words. Character by character
    this is the same as decomposing the whole text (the marks dropped are per character)."""
    if text.isascii():  # most words of most archives: no decomposition needed
        return text.lower()
    # the table only for the runs of other characters (a curly quote or an accent in a
    # paragraph of English): `translate` looks each character up, `lower` does not; an ASCII
    # character folds to its lower case, so the result is the same character for character
    out = []
    pos = 0
    for run in _NON_ASCII.finditer(text):
        out.append(text[pos : run.start()].lower())
        out.append(run.group().translate(_FOLDED))
        pos = run.end()
    out.append(text[pos:].lower())
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Snippet:
    """Text in pieces: (text, marked). Empty when nothing was found to show."""

    parts: tuple[tuple[str, bool], ...] = ()

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.parts)

    def render(self, mark: Callable[[str], str], plain: Callable[[str], str] = str) -> str:
        return "".join(mark(t) if marked else plain(t) for t, marked in self.parts)

    def marks(self) -> list[list[int]]:
        """[start, end) of each marked piece in `text`."""
        out, pos = [], 0
        for text, marked in self.parts:
            if marked:
                out.append([pos, pos + len(text)])
            pos += len(text)
        return out


def _positions(words: list[str], word: str) -> list[int]:
    """Where `word` is in `words` (list.index runs in C: no pass in Python over every word)."""
    found: list[int] = []
    at = -1
    try:
        while True:
            at = words.index(word, at + 1)
            found.append(at)
    except ValueError:
        return found


def _matches(words: list[str], terms: Sequence[Term]) -> list[tuple[int, int, int]]:
    """(first word, last word + 1, term number) of each match."""
    found = []
    for number, term in enumerate(terms):
        if term.negated:
            continue
        wanted = [fold(w) for w in term.words]
        n = len(wanted)
        if n == 1 and term.prefix:
            starts = [i for i, w in enumerate(words) if w.startswith(wanted[0])]
        else:
            starts = _positions(words, wanted[0])
        for i in starts:
            if i + n > len(words):
                continue
            ok = all(words[i + k] == wanted[k] for k in range(1, n - 1))
            last = words[i + n - 1]
            ok = ok and (last.startswith(wanted[-1]) if term.prefix else last == wanted[-1])
            if ok:
                found.append((i, i + n, number))
    return sorted(found)


def _best_paragraph(text: str, terms: Sequence[Term]) -> str:
    """The paragraph naming most of the terms (a cheap substring test on folded text), so
    the word-by-word work below reads one paragraph, not the whole article."""
    paragraphs = [p for p in text.split("\n") if p.strip()]
    if len(paragraphs) < 2:
        return text
    wanted = {fold(t.words[0]) for t in terms if not t.negated}
    best, best_score = paragraphs[0], 0
    for paragraph in paragraphs:
        folded = fold(paragraph)
        score = sum(1 for w in wanted if w in folded)
        if score > best_score:
            best, best_score = paragraph, score
            if score == len(wanted):
                break
    return best


def make_snippet(text: str, terms: Sequence[Term], window: int = WINDOW) -> Snippet:
    """The best window of `text` for `terms`; the text's start when nothing matches.
    Paragraphs are separated by newlines; the window stays within one of them."""
    text = _best_paragraph(text, terms)
    # one split in C: gap, word, gap, word, ..., gap (word i is parts[2i + 1])
    parts = _WORDS_SPLIT.split(text)
    # folding ASCII is lower-casing: the table only for words that need it
    words = [w.lower() if w.isascii() else fold(w) for w in parts[1::2]]
    if not words:
        return Snippet()
    matches = _matches(words, terms)
    start = 0
    if matches:
        best = -1
        for first, _, _ in matches:
            inside = {n for a, b, n in matches if first <= a and b <= first + window}
            hits = sum(1 for a, b, _ in matches if first <= a and b <= first + window)
            score = len(inside) * 100 + hits
            if score > best:
                best, start = score, max(0, min(first - 3, len(words) - window))
    end = min(len(words), start + window)
    marked = [False] * len(words)
    inner = [False] * len(words)  # the gap before word i lies inside a phrase match
    for a, b, _ in matches:
        for i in range(a, b):
            marked[i] = True
            inner[i] = inner[i] or i > a
    # runs of words of one kind, each one piece with its gaps' spaces folded: "port
    # strike" (a phrase) is one mark; two words matched apart are two
    pieces: list[tuple[str, bool]] = []

    def add(piece: str, is_marked: bool) -> None:
        if pieces and pieces[-1][1] == is_marked:
            pieces[-1] = (pieces[-1][0] + piece, is_marked)
        else:
            pieces.append((piece, is_marked))

    if start > 0:
        add("… ", False)
    i = start
    while i < end:
        kind = marked[i]
        j = i + 1
        while j < end and marked[j] == kind and (not kind or inner[j]):
            j += 1
        if i > start:
            add(_spaced(parts[2 * i]), False)  # the gap before a run is never inside a mark
        add(_spaced("".join(parts[2 * i + 1 : 2 * j])), kind)
        i = j
    if end < len(words):
        add(" …", False)
    return Snippet(tuple(pieces))


def _spaced(text: str) -> str:
    """Each run of white space as one space."""
    return text if text == " " or not _NON_SPACE_GAP.search(text) else _SPACE.sub(" ", text)


def mark_all(text: str, terms: Sequence[Term]) -> Snippet:
    """All of `text`, exactly as it is, with every match of `terms` marked (a headline shown
    with its matches: a phrase found in the headline alone marks nothing in the snippet)."""
    parts = _WORDS_SPLIT.split(text)
    words = [w.lower() if w.isascii() else fold(w) for w in parts[1::2]]
    marked = [False] * len(words)
    for a, b, _ in _matches(words, terms):
        marked[a:b] = [True] * (b - a)
    pieces: list[tuple[str, bool]] = []
    for i, part in enumerate(parts):
        # a word is marked as it matched; a gap is marked when it lies inside one match
        # (between two marked words of a phrase), so "port strike" is one mark
        word = i % 2 == 1
        is_marked = (
            marked[i // 2]
            if word
            else 0 < i < len(parts) - 1 and marked[i // 2 - 1] and marked[i // 2] and bool(part)
        )
        if not part:
            continue
        if pieces and pieces[-1][1] == is_marked:
            pieces[-1] = (pieces[-1][0] + part, is_marked)
        else:
            pieces.append((part, is_marked))
    return Snippet(tuple(pieces))
