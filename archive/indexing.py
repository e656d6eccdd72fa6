"""Content -> fingerprints -> catalog rows: the one path by which a record version is indexed.

`Archive.store`, `rebuild` and `verify --repair` all call `index_version`, so what a
fingerprint covers and which rows a version gets cannot differ between a store and a repair.
"""

from __future__ import annotations

from dataclasses import dataclass

from archive.backends.catalog import ArticleRow, Catalog, VersionRow
from archive.fingerprint import digest_normalized, normalize_text, simhash_normalized
from archive.record import Article, Content, iso_utc
from archive.urls import url_key


@dataclass(frozen=True, slots=True)
class Fingerprints:
    digest: str
    simhash: int
    text: str

    @classmethod
    def of(cls, content: Content) -> Fingerprints:
        text = "\n\n".join([block.text for block in content.body])
        # `body_digest` normalizes the paragraphs joined by a space, `simhash` joined by a
        # blank line: the same normalized text (NFKC neither composes nor reorders across a
        # space or a line break, and whitespace is folded), so it is made once
        normalized = normalize_text(text)
        return cls(digest_normalized(normalized), simhash_normalized(normalized), text)


def index_version(
    catalog: Catalog,
    article: Article,
    prints: Fingerprints,
    *,
    article_key: str,
    current: bool,
) -> ArticleRow:
    """Write the catalog rows of one record version: its version row and full-text entry,
    its canonical key, and, when it is the article's current version, the article row.

    `article_key` is the canonical key the article was first filed under (its id derives
    from it); a later version may declare another canonical, which is added as a key too.
    """
    seen = iso_utc(article.fetched_at)
    content = article.content
    head = ArticleRow(
        id=article.id,
        source=article.source,
        canonical_key=article_key,
        current_version=article.version,
        headline=content.headline,
        modified=content.modified,
        body_digest=prints.digest,
        simhash=prints.simhash,
    )
    catalog.add_canonical(url_key(article.canonical_url), article.id)
    if current:
        catalog.put_article(head, seen)
    catalog.put_version(
        VersionRow(article.id, article.version, article.source, article.raw_sha256, seen),
        digest=prints.digest,
        fingerprint=prints.simhash,
        headline=content.headline,
        body=prints.text,
        modified=content.modified,
        parser=(content.parser, content.parser_version),
    )
    return head
