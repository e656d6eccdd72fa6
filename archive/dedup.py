"""Deciding what a fetched page is to the archive: one article is one publication on one site.

Two fetches are the same article when they are on the same site (`archive.urls.site_of`) and
1. they share the canonical or normalized URL (rel=canonical / og:url on the page's own site,
   else the `url_key` of the final URL: tracking parameters, AMP and print variants, trailing
   slashes fold away); every URL a page was reached by then points to the article; or
2. their raw bytes are identical (the same page at two addresses of one site); or
3. their body text and headline are the same.
The latter two file the fetch as a DUPLICATE of the stored article. The same text anywhere
else (another site, or this site under another headline and canonical URL) is a NEW article:
the catalog links it to the others as a copy, by their common body digest.

A re-fetch of a known article whose body moved more than `threshold` bits of SimHash (or whose
headline changed) is a new version (UPDATED); a smaller change (a counter, a timestamp) is
UNCHANGED. SimHash only ever compares versions of one article; a new article within the
threshold of another one on its site is reported as a possible near duplicate, never joined.

Only lookups here; `Archive` writes what the decision calls for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.backends.catalog import ArticleRow, Catalog
from archive.fingerprint import distance
from archive.identity import PageKeys, new_id
from archive.record import Content, Outcome
from archive.urls import site_of

if TYPE_CHECKING:
    from archive.indexing import Fingerprints


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    article_id: str
    row: ArticleRow | None = None  # the known article (UPDATED/UNCHANGED/DUPLICATE)
    near: list[tuple[str, int]] = field(default_factory=list)  # possible duplicates of a NEW one


def _key_of(catalog: Catalog, article_id: str) -> str | None:
    row = catalog.article(article_id)
    return row.canonical_key if row else None


def known_article(catalog: Catalog, keys: PageKeys) -> str | None:
    found = catalog.article_by_canonical(keys.canonical_key)
    if found:
        return found
    for key in keys.keys:
        # a URL linked as a DUPLICATE is not the article's own: its body decides again
        found = catalog.article_at_url(key)
        if found:
            return found
    return None


def decide(
    catalog: Catalog,
    keys: PageKeys,
    prints: Fingerprints,
    content: Content,
    threshold: int,
    fetched_at: str,
    raw_sha256: str,
) -> Decision:
    known = known_article(catalog, keys)
    row = catalog.article(known) if known else None
    if row is not None:
        same_headline = row.headline == content.headline
        if prints.digest == row.body_digest and same_headline:
            return Decision(Outcome.UNCHANGED, row.id, row)
        if same_headline and distance(prints.simhash, row.simhash) <= threshold:
            return Decision(Outcome.UNCHANGED, row.id, row)
        if catalog.seen_before(row.id, prints.digest, fetched_at):
            return Decision(Outcome.UNCHANGED, row.id, row)
        return Decision(Outcome.UPDATED, row.id, row)
    # asked once: same_publication and the near-duplicate search both need it
    with_body = catalog.articles_with_body(prints.digest) if prints.text.strip() else []
    twin = same_publication(catalog, keys, prints, content, raw_sha256, with_body)
    if twin is not None:
        return Decision(Outcome.DUPLICATE, twin.id, twin)
    article_id = new_id(keys.canonical_key, lambda i: _key_of(catalog, i))
    near = []
    if prints.text.strip():
        copies = {a.id for a in with_body}
        site = site_of(keys.canonical_url)
        near = [
            (other, d)
            for other, d in catalog.near(prints.simhash, threshold)
            if other != article_id and other not in copies and _site_of_id(catalog, other) == site
        ]
    return Decision(Outcome.NEW, article_id, None, near)


def same_publication(
    catalog: Catalog,
    keys: PageKeys,
    prints: Fingerprints,
    content: Content,
    raw_sha256: str,
    with_body: list[ArticleRow] | None = None,
) -> ArticleRow | None:
    """A stored article on this page's site that this page is another address of: the same
    raw bytes, or the same body text under the same headline (`with_body`: the articles with
    this body, when already asked)."""
    site = site_of(keys.canonical_url)
    for twin in catalog.articles_with_raw(raw_sha256):
        if site_of(twin.canonical_key) == site:
            return twin
    if not prints.text.strip():
        return None
    if with_body is None:
        with_body = catalog.articles_with_body(prints.digest)
    for twin in with_body:
        if twin.headline == content.headline and site_of(twin.canonical_key) == site:
            return twin
    return None


def _site_of_id(catalog: Catalog, article_id: str) -> str | None:
    row = catalog.article(article_id)
    return site_of(row.canonical_key) if row else None
