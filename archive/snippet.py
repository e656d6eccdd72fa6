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

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
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
    return text.translate(_FOLDED)


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


def _matches(words: Sequence[str], terms: Sequence[Term]) -> list[tuple[int, int, int]]:
    """(first word, last word + 1, term number) of each match."""
    where: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        where.setdefault(word, []).append(i)
    found = []
    for number, term in enumerate(terms):
        if term.negated:
            continue
        wanted = [fold(w) for w in term.words]
        n = len(wanted)
        if n == 1 and term.prefix:
            starts = [i for w, at in where.items() if w.startswith(wanted[0]) for i in at]
        else:
            starts = where.get(wanted[0], []) if n > 1 or not term.prefix else []
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
    if text.isascii():  # one pass over the paragraph, not one call per word
        found = [(m.span(), m.group()) for m in _WORD.finditer(text.lower())]
        spans = [span for span, _ in found]
        words = [word for _, word in found]
    else:
        spans = [m.span() for m in _WORD.finditer(text)]
        words = [fold(text[a:b]) for a, b in spans]
    if not spans:
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
                best, start = score, max(0, min(first - 3, len(spans) - window))
    end = min(len(spans), start + window)
    marked = [False] * len(spans)
    inner = [False] * len(spans)  # the gap before word i lies inside a phrase match
    for a, b, _ in matches:
        for i in range(a, b):
            marked[i] = True
            inner[i] = inner[i] or i > a
    # adjacent pieces of one kind as one piece: "port strike" is one mark
    merged: list[tuple[str, bool]] = []
    run: list[str] = ["… "] if start > 0 else []
    kind = False

    def add(piece: str, is_marked: bool) -> None:
        nonlocal run, kind
        if is_marked != kind and run:
            merged.append(("".join(run), kind))
            run = []
        kind = is_marked
        run.append(piece)

    pos = spans[start][0]
    for i in range(start, end):
        a, b = spans[i]
        if a > pos:
            gap = text[pos:a]
            add(gap if gap == " " else _SPACE.sub(" ", gap), inner[i])
        add(text[a:b], marked[i])
        pos = b
    if end < len(spans):
        add(" …", False)
    if run:
        merged.append(("".join(run), kind))
    return Snippet(tuple(merged))
