"""Prefix searches (`inc*`) in the embedded catalog: the full-text index keeps prefix
indexes of 3 and 4 characters, so FTS5 reads a short prefix's postings as one list instead
of merging those of every word it starts in each statement (a 3-letter prefix cost 35 to
233 ms of CPU per search at 100,000 articles, 7 to 14 with them)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from archive.backends.catalog import Filters, SearchDoc
from archive.backends.catalog_sqlite import SqliteCatalog
from archive.ftsquery import parse
from tests.catalog_rows import put_version_row

WORDS = ["include", "Included", "inclusion", "income", "Incline", "incur", "pretext", "in"]


def catalog(tmp_path: Path) -> SqliteCatalog:
    """One article per word (its body that word), plus one with all of them."""
    cat = SqliteCatalog(tmp_path / "catalog.sqlite", synchronous="OFF")
    seen = "2026-01-01T00:00:00Z"
    for n, body in enumerate([*WORDS, " ".join(WORDS)]):
        put_version_row(cat, f"a{n}", source="s", seen=seen)
        with cat.writing():
            for pending in cat.pending_docs(10):
                doc = SearchDoc("h", "", body, "", "", "2026-01-01", None, None, "", "u")
                cat.index_doc(pending, doc)
    return cat


def test_the_index_keeps_prefixes_of_3_and_4_characters(tmp_path: Path) -> None:
    catalog(tmp_path).close()
    with contextlib.closing(sqlite3.connect(tmp_path / "catalog.sqlite")) as db:
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'archive_fts'").fetchone()
    assert "prefix='3 4'" in sql


@pytest.mark.parametrize("prefix", ["inc", "incl", "inclu", "INCL", "pre", "incom"])
def test_a_prefix_finds_every_word_it_starts(tmp_path: Path, prefix: str) -> None:
    cat = catalog(tmp_path)
    try:
        rows, total, exact, _, _ = cat.search_rows(parse(prefix + "*")[0], Filters(), 20, 0)
    finally:
        cat.close()
    want = {f"a{n}" for n, w in enumerate(WORDS) if w.lower().startswith(prefix.lower())}
    want.add(f"a{len(WORDS)}")  # the one with every word
    assert {r.article_id for r in rows} == want
    assert (total, exact) == (len(want), True)


def test_an_index_without_prefixes_is_built_again(tmp_path: Path) -> None:
    """A schema 11 catalog whose index was made before the prefixes: opened, its index is
    made anew and every version queued to be indexed again from the files."""
    catalog(tmp_path).close()
    path = tmp_path / "catalog.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE archive_fts")
        db.execute(
            "CREATE VIRTUAL TABLE archive_fts USING fts5(headline, subheadline, body,"
            " captions, authors, facets, content='', tokenize='unicode61 remove_diacritics 2')"
        )
        db.commit()
    SqliteCatalog(path, synchronous="OFF").close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        (sql,) = db.execute("SELECT sql FROM sqlite_master WHERE name = 'archive_fts'").fetchone()
        waiting = db.execute("SELECT count(*) FROM archive_fts_docs WHERE indexed = 0")
        assert "prefix='3 4'" in sql
        assert waiting.fetchone()[0] == len(WORDS) + 1
