"""Deciding what a fetched page is to the archive: the three levels of deduplication.

1. URL: the article's key is its rel=canonical / og:url when that is on the page's own site,
   else the `url_key` of the final URL; every URL a page was reached by points to the article.
2. Exact content: a page whose normalized body text equals a stored article's is a DUPLICATE
   of it (the same story at two addresses), not a second article.
3. Near duplicate: a re-fetch of a known article whose body moved more than `threshold` bits
   of SimHash (or whose headline changed) is a new version (UPDATED); a smaller change (a
   counter, a timestamp) is UNCHANGED. A new article within the threshold of another one is
   reported as a possible duplicate.

Only lookups here; `Archive` writes what the decision calls for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from archive.backends.catalog import ArticleRow, Catalog
from archive.fingerprint import distance
from archive.identity import PageKeys, new_id
from archive.record import Content, Outcome

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
    if prints.text.strip():
        twin = catalog.article_by_body(prints.digest)
        twin_row = catalog.article(twin) if twin else None
        if twin_row is not None:
            return Decision(Outcome.DUPLICATE, twin_row.id, twin_row)
    article_id = new_id(keys.canonical_key, lambda i: _key_of(catalog, i))
    near = []
    if prints.text.strip():
        near = [
            (other, d)
            for other, d in catalog.near(prints.simhash, threshold)
            if other != article_id
        ]
    return Decision(Outcome.NEW, article_id, None, near)
