"""A search query as people type it, checked and rewritten into FTS5's syntax.

People write `"port strike" strik* -rumour (dock OR harbour)`; FTS5 wants every term quoted
(a bare `U.S.` or `title:` is a syntax error or a column filter there), `NOT` between two
operands and no `-word`. `to_fts` reads the query into terms, phrases, prefixes, operators and
groups, refuses what makes no sense with a `QueryError` that says why in the user's words, and
writes an FTS5 expression in which nothing the user typed can act as syntax. `words` gives the
terms to mark in snippets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archive.errors import QueryError

MAX_QUERY = 500  # characters; longer is not a search, it is a paste
# letters a prefix needs before its `*`: a shorter one matches a large share of every word
# the index holds (`th*` read about 300 ms of postings at 100,000 articles)
MIN_PREFIX = 3
# (`-"a phrase"` is one token: read as `-` and a phrase, the phrase was searched for)
_TOKEN = re.compile(r'\s+|-?"[^"]*"?|\(|\)|-?[^\s()"]+\*?|-')
_OPERATORS = {"AND", "OR", "NOT"}


@dataclass(frozen=True, slots=True)
class Term:
    words: tuple[str, ...]  # one word, or a phrase's words
    prefix: bool = False
    negated: bool = False

    def fts(self) -> str:
        quoted = '"' + " ".join(self.words).replace('"', '""') + '"'
        return quoted + ("*" if self.prefix else "")


def _split(query: str) -> list[str]:
    tokens = []
    pos = 0
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if match is None:  # pragma: no cover - the pattern matches any character
            raise QueryError(f"cannot read the query at {query[pos:]!r}")
        text = match.group()
        pos = match.end()
        if not text.isspace():
            tokens.append(text)
    return tokens


def _word_parts(text: str) -> tuple[str, ...]:
    # what the index's tokenizer keeps of a word: runs of letters and digits
    return tuple(w for w in re.split(r"[^\w]+|_", text) if w)


def _term(token: str) -> Term | None:
    negated = token.startswith("-") and len(token) > 1
    if negated:
        token = token[1:]
    if token.startswith('"'):
        if len(token) < 2 or not token.endswith('"'):
            raise QueryError("a quotation mark is not closed")
        words = _word_parts(token[1:-1])
        if not words:
            raise QueryError("a quoted phrase has no words in it")
        return Term(words, negated=negated)
    prefix = token.endswith("*")
    core = token.rstrip("*")
    if "*" in core:
        raise QueryError(f"'*' marks a prefix and goes at the end of a word: {token!r}")
    words = _word_parts(core)
    if not words:
        if prefix:
            raise QueryError("'*' needs a few letters before it, like strik*")
        return None  # punctuation only: nothing the index could match
    if prefix and len(words[-1]) < MIN_PREFIX:
        raise QueryError(
            f"a prefix needs at least {MIN_PREFIX} letters before '*', like strik*"
            f" ({token[:40]!r} would match too many words)"
        )
    return Term(words, prefix=prefix, negated=negated)


class _Reader:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.terms: list[Term] = []

    def group(self, depth: int) -> str:
        """Terms and operators up to a closing parenthesis (or the end at depth 0)."""
        parts: list[str] = []  # positive operands and operators, in order
        negated: list[str] = []
        expect_operand = True
        while self.pos < len(self.tokens):
            token = self.tokens[self.pos]
            self.pos += 1
            if token == ")":
                if depth == 0:
                    raise QueryError("a ')' has no '(' before it")
                return self._close(parts, negated, expect_operand)
            if token in _OPERATORS:
                if expect_operand:
                    where = "begins with" if not parts else "has two operators in a row at"
                    raise QueryError(f"the query {where} {token}: put a word on each side of it")
                parts.append(token)
                expect_operand = True
                continue
            if token == "(":
                operand = self.group(depth + 1)
                if operand:
                    if not expect_operand:
                        parts.append("AND")
                    parts.append(operand)
                    expect_operand = False
                continue
            term = _term(token)
            if term is None:
                continue
            self.terms.append(term)
            if term.negated:
                negated.append(term.fts())
                continue
            if not expect_operand:
                parts.append("AND")
            parts.append(term.fts())
            expect_operand = False
        if depth:
            raise QueryError("a '(' is not closed")
        return self._close(parts, negated, expect_operand)

    @staticmethod
    def _close(parts: list[str], negated: list[str], expect_operand: bool) -> str:
        if parts and expect_operand:
            raise QueryError(f"the query ends with {parts[-1]}: put a word after it")
        if not parts:
            if negated:
                raise QueryError("a query needs at least one word that is not excluded with '-'")
            return ""
        expr = " ".join(parts)
        if negated:
            expr = f"({expr}) NOT ({' OR '.join(negated)})"
        return f"({expr})"


def parse(query: str) -> tuple[str, list[Term]]:
    """The FTS5 expression for `query` and the terms in it; QueryError when it makes no sense.

    >>> parse('"port strike" -rumour')[0]
    '(("port strike") NOT ("rumour"))'
    """
    if len(query) > MAX_QUERY:
        raise QueryError(f"the query is too long ({len(query)} characters, at most {MAX_QUERY})")
    reader = _Reader(_split(query))
    expr = reader.group(0)
    if not expr:
        raise QueryError("the query has no words to search for")
    return expr, reader.terms


def to_fts(query: str) -> str:
    return parse(query)[0]
