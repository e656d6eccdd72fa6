"""The part of storing a page that needs no catalog, done before the store (in a worker).

`Archive.store` first works out, from the page and its content alone, the page's URL keys,
its fetch id, its fingerprints and whether the content makes a valid record; only then does it
touch the catalog. A crawl computes these in its worker processes (with the compressed page,
`BlobStore.pack`) and hands them to `Archive.store` as a `Prepared`, so the crawling process,
the archive's one writer, does only the part that needs the catalog. The same functions run in
both places: a page is filed the same way whether it was prepared in a worker or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.fetchlog import fetch_id
from archive.identity import PageKeys, page_keys
from archive.indexing import Fingerprints
from archive.record import Article, Content, RawPage
from archive.validate import RecordValidator


@dataclass(frozen=True, slots=True)
class Prepared:
    """What `Archive.store` works out without the catalog (see `prepare`)."""

    keys: PageKeys
    fetch_id: str
    prints: Fingerprints
    problem: str | None  # the first reason the content makes no valid record; None: fine
    packed: bytes | None = None  # the raw page as the blob store keeps it, when computed


def schema_problem(
    page: RawPage, content: Content, source: str, keys: PageKeys, validator: RecordValidator
) -> str | None:
    """Whether `content` could be filed as a record of `page` at all: the first schema problem
    of a record built from it (as version 1 of a placeholder id), else None."""
    probe = Article.build(
        page, content, id="0" * 16, version=1, source=source, canonical_url=keys.canonical_url
    )
    doc = probe.to_json()
    if validator.ok(doc):
        return None
    problems = validator.problems(doc)  # the fast check and the full one agree (tests)
    return problems[0] if problems else None


def prepare(
    page: RawPage,
    content: Content,
    source: str,
    validator: RecordValidator,
    packed: bytes | None = None,
) -> Prepared:
    keys = page_keys(page, content)
    return Prepared(
        keys=keys,
        fetch_id=fetch_id(page, source),
        prints=Fingerprints.of(content),
        problem=schema_problem(page, content, source, keys, validator),
        packed=packed,
    )
