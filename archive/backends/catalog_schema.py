"""The catalog's SQLite schema: every table is named `archive_*` so other modules (the crawl
frontier) can keep their own tables in the same file. Creation is idempotent."""

from __future__ import annotations

# 2: archive_references; 3: search over five fields + metadata, copies found by the body
# digest of versions (archive_bodies held one article per text), file checksums and verify runs;
# 4: simhash bands indexed by article (moving an article's head deleted its old bands with a
# scan of every band: each store cost time in proportion to the archive). Opening a schema 3
# catalog runs the DDL again, which only adds the index. 5: the search metadata's filter
# columns in an index keyed by doc (`archive_search_meta_filter`): a filtered search looks up
# every matching version's filters, and the narrow index holds about 4x the rows of a page
# of the table (a third less CPU per filtered search on the 100,000-article bench). Opening a
# schema 3 or 4 catalog runs the DDL again, which builds the index from the table (about a
# second per 100,000 versions); the search index is not rebuilt. 6: the span of docs indexed
# on each day (`archive_search_days`): a search filtered by dates reads the matches of that
# span only, where it read every newer match to find the first in range (a cost that grew with
# the archive). Opening a schema 3 to 5 catalog fills it from the metadata (`FILL_SEARCH_DAYS`).
# 7: listings by author and by section use an index: each indexed version's folded author names
# (`archive_search_authors`, with every name once in `archive_author_names`, which a fragment
# of a name is looked up in) and the metadata by section and day; both listings read every
# version's metadata before (17 ms at 100,000 articles). Opening a schema 3 to 6 catalog fills
# the authors from the metadata (`_fill_authors`). The section index holds each version's article
# and number: counting a section's articles reads the index, not each version's row as well.
# 8: the index's docs that are not one article each (`archive_search_multi`): every doc of an
# article with more than one indexed version, and (article NULL) each replaced version's entry
# left in the contentless index. A search counts its articles as the matching docs less those,
# plus their distinct articles: the join to each match's article and the set of distinct
# articles (three quarters of the count's CPU) are read for that small table's docs only.
# Opening a schema 3 to 7 catalog fills it from the metadata and the index (`FILL_SEARCH_MULTI`).
# 9: each indexed version says whether it is its article's current one (`current`, kept by
# `put_article` and `index_doc`): a listing reads the current versions without joining each to
# its article, and a section's are in an index by section and that flag, with their source,
# so a section's count reads that index alone, and so does a section and source
# listing's, where SQLite walked the section's versions reading each one's row for its source
# (slower than the source's index before schema 7). The article id descends in that index as
# the listing's order has it (`day DESC, fetched_at DESC, article_id`): a page needs no sort.
# Opening a schema 3 to 8 catalog adds the column and sets it from the articles
# (`SET_CURRENT`, one pass over the metadata: nothing is indexed again).
# 10: the replaced versions' entries of `archive_search_multi` (article NULL) in an index of
# their own: a search that counts its matching versions subtracts those it matches, and
# finding none read the whole table (0.6 ms at 100,000 articles, a tenth of a search).
# Opening a schema 3 to 9 catalog builds it (the DDL again; a read of that table).
# 11: the full-text index holds each version's source and section as tokens of a sixth
# column (`facets`, weight 0 in bm25: they rank nothing), so a search filtered by source or
# section has FTS5 intersect them with the query's matches, where it looked up every match's
# metadata to drop those of other sources (about 0.3 microseconds a match: 3 of 7.5 ms for a
# word in 15,000 versions and one source of ten on the 100,000-article bench). A contentless
# index cannot gain a column: opening a schema 3 to 10 catalog drops it and queues every
# version, which the reading side indexes again from the files (`REQUEUE_DOCS`; about 70 s
# at 100,000 articles). The same index keeps prefix indexes of 3 and 4 characters
# (`prefix='3 4'`): FTS5 otherwise expands a prefix into every word it starts and merges
# their postings in each statement that reads it (four or five a search), and a short prefix
# starts many words. CPU of a search at 100,000 articles, without / with prefixes of 3 / of
# 4 / of both, in ms: inc* 35 / 6.9 / 27 / 7.5, pre* 46 / 7.0 / 34 / 7.5, the* 233 / 13.5 /
# 201 / 13.4, incl* 11.6 / 11.4 / 5.6 / 5.7, pres* 19 / 20 / 5.6 / 6.0, cons* 27 / 28 / 6.5 /
# 6.4; 5 letters (inclu* 11.6) and words unchanged. The index grows from 160 to 274 / 263 /
# 378 MB (the catalog from 560 to 779 MB; the archive with its files is 2.3 GB). An older
# catalog's index is built again from the files (as from schema 10, `REQUEUE_DOCS`).
CATALOG_SCHEMA_VERSION = 11

DDL = """
CREATE TABLE IF NOT EXISTS archive_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archive_sources (
    name TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archive_articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, canonical_key TEXT NOT NULL,
    current_version INTEGER NOT NULL, headline TEXT NOT NULL, modified TEXT,
    body_digest TEXT NOT NULL, simhash INTEGER NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS archive_articles_source ON archive_articles (source, last_seen);
CREATE TABLE IF NOT EXISTS archive_versions (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, raw_sha256 TEXT NOT NULL,
    fetched_at TEXT NOT NULL, body_digest TEXT NOT NULL, simhash INTEGER NOT NULL,
    headline TEXT NOT NULL, modified TEXT, parser TEXT NOT NULL, parser_version TEXT NOT NULL,
    PRIMARY KEY (article_id, version));
CREATE INDEX IF NOT EXISTS archive_versions_raw ON archive_versions (raw_sha256);
CREATE TABLE IF NOT EXISTS archive_canonical (
    key TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS archive_urls (
    key TEXT PRIMARY KEY, url TEXT NOT NULL, article_id TEXT NOT NULL,
    first_seen TEXT NOT NULL, duplicate INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS archive_urls_article ON archive_urls (article_id);
CREATE TABLE IF NOT EXISTS archive_raw (
    sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL,
    source TEXT NOT NULL, first_fetched TEXT NOT NULL);
DROP TABLE IF EXISTS archive_bodies;
CREATE INDEX IF NOT EXISTS archive_versions_digest ON archive_versions (body_digest);
CREATE TABLE IF NOT EXISTS archive_simhash_bands (
    band INTEGER NOT NULL, value INTEGER NOT NULL, article_id TEXT NOT NULL,
    PRIMARY KEY (band, value, article_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS archive_simhash_bands_article ON archive_simhash_bands (article_id);
CREATE TABLE IF NOT EXISTS archive_fetches (
    fetch_id TEXT PRIMARY KEY, url TEXT NOT NULL, url_key TEXT NOT NULL,
    final_url TEXT NOT NULL, status INTEGER NOT NULL, etag TEXT, last_modified TEXT,
    fetched_at TEXT NOT NULL, raw_sha256 TEXT, size INTEGER NOT NULL, source TEXT NOT NULL,
    article_id TEXT, outcome TEXT, run_id INTEGER);
CREATE INDEX IF NOT EXISTS archive_fetches_key ON archive_fetches (url_key, fetched_at);
CREATE INDEX IF NOT EXISTS archive_fetches_raw ON archive_fetches (raw_sha256);
CREATE INDEX IF NOT EXISTS archive_fetches_article ON archive_fetches (article_id, fetched_at);
CREATE TABLE IF NOT EXISTS archive_near_duplicates (
    article_id TEXT NOT NULL, other_id TEXT NOT NULL, distance INTEGER NOT NULL,
    found_at TEXT NOT NULL, PRIMARY KEY (article_id, other_id));
CREATE TABLE IF NOT EXISTS archive_runs (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, source TEXT, started_at TEXT NOT NULL,
    finished_at TEXT, counts TEXT);
CREATE TABLE IF NOT EXISTS archive_fts_docs (
    doc INTEGER PRIMARY KEY AUTOINCREMENT, article_id TEXT NOT NULL, version INTEGER NOT NULL,
    indexed INTEGER NOT NULL DEFAULT 0, UNIQUE (article_id, version));
CREATE INDEX IF NOT EXISTS archive_fts_docs_pending ON archive_fts_docs (doc) WHERE indexed = 0;
CREATE TABLE IF NOT EXISTS archive_search_meta (
    doc INTEGER PRIMARY KEY, article_id TEXT NOT NULL, version INTEGER NOT NULL,
    source TEXT NOT NULL, day TEXT NOT NULL, fetched_at TEXT NOT NULL, published TEXT,
    headline TEXT NOT NULL, section_key TEXT, authors_key TEXT NOT NULL, url TEXT NOT NULL,
    current INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS archive_search_meta_article ON archive_search_meta (article_id, version);
CREATE INDEX IF NOT EXISTS archive_search_meta_day ON archive_search_meta (day, fetched_at);
CREATE INDEX IF NOT EXISTS archive_search_meta_source
    ON archive_search_meta (source, day, fetched_at);
CREATE INDEX IF NOT EXISTS archive_search_meta_filter
    ON archive_search_meta (doc, article_id, source, day, section_key, authors_key);
DROP INDEX IF EXISTS archive_search_meta_section;
CREATE INDEX IF NOT EXISTS archive_search_meta_current_section
    ON archive_search_meta (section_key, current, day, fetched_at, article_id DESC, source);
CREATE TABLE IF NOT EXISTS archive_search_authors (
    author_key TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (author_key, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_author_names (author_key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_search_multi (doc INTEGER PRIMARY KEY, article_id TEXT);
CREATE INDEX IF NOT EXISTS archive_search_multi_replaced
    ON archive_search_multi (doc) WHERE article_id IS NULL;
CREATE TABLE IF NOT EXISTS archive_search_days (
    day TEXT PRIMARY KEY, first_doc INTEGER NOT NULL, last_doc INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS archive_references (
    site TEXT NOT NULL, raw_sha256 TEXT NOT NULL, since TEXT NOT NULL,
    PRIMARY KEY (site, raw_sha256));
CREATE INDEX IF NOT EXISTS archive_references_newest ON archive_references (site);
CREATE TABLE IF NOT EXISTS archive_files (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
    written_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS archive_files_written ON archive_files (written_at);
CREATE TABLE IF NOT EXISTS archive_verify_runs (
    id INTEGER PRIMARY KEY, scope TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL, checked INTEGER NOT NULL, problems INTEGER NOT NULL,
    summary TEXT NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS archive_fts USING fts5(
    headline, subheadline, body, captions, authors, facets,
    content='', tokenize='unicode61 remove_diacritics 2', prefix='3 4');
"""

# bm25 weights per column (headline, subheadline, body, captions, authors, facets): a word in
# the headline says far more about what an article is about than the same word in paragraph
# nine; the facets (source, section) filter and rank nothing
FTS_WEIGHTS = "10.0, 4.0, 1.0, 1.5, 3.0, 0.0"
FTS_RANK = f"bm25({FTS_WEIGHTS})"
# the same function named in a query's ORDER BY: SQLite then keeps only the LIMIT best in its
# sorter, where FTS5's `ORDER BY rank` ranks in a statement of its own and sorts every row it
# ranked (a quarter more CPU over 10,000 matches on the 100,000-article bench)
BM25 = f"bm25(archive_fts, {FTS_WEIGHTS})"

# Before version 3 the index held headline and body only, written as versions were stored.
# Contentless FTS5 cannot be altered or re-read, so the upgrade drops it and marks every
# version as waiting: the reading side (`archive.query`) indexes them again from the files.
UPGRADE_TO_3 = """
DROP TABLE IF EXISTS archive_fts;
DROP TABLE IF EXISTS archive_fts_docs;
"""
REQUEUE_VERSIONS = (
    "INSERT INTO archive_fts_docs (article_id, version) "
    "SELECT article_id, version FROM archive_versions ORDER BY rowid"
)

# an upgrade from schema 3 to 10: the index without its facets column dropped before the DDL
# (which creates it anew), then every version queued to be indexed again from its files; the
# replaced versions' entries are no longer in the index, so they no longer count among its docs
DROP_FTS = "DROP TABLE IF EXISTS archive_fts"
REQUEUE_DOCS = (
    "UPDATE archive_fts_docs SET indexed = 0",
    "DELETE FROM archive_search_multi WHERE article_id IS NULL",
)
# a facet token starts with a character of Unicode's private use area: the index's tokenizer
# keeps it in a word (its default word characters are letters, numbers and private use), and
# no query can hold one (`archive.ftsquery` keeps letters, digits and marks of a word), so a
# word searched for never matches a facet
_FACET_MARK = "\ue000"


def facet_token(kind: str, value: str) -> str:
    """The token of one filter value (`kind` s: a source, c: a folded section): its UTF-8 in
    hexadecimal, so any name is one token of letters and digits, and no two names one token
    (the facets alone are the filter)."""
    return f"{_FACET_MARK}{kind}{value.encode('utf-8').hex()}"


def facets_text(source: str, section_key: str | None) -> str:
    """What a version's `facets` column holds: its source's token and its section's."""
    tokens = [facet_token("s", source)]
    if section_key:
        tokens.append(facet_token("c", section_key))
    return " ".join(tokens)


# each day's first and last indexed doc, from the metadata (an upgrade from schema 3 to 5)
FILL_SEARCH_DAYS = (
    "INSERT OR REPLACE INTO archive_search_days"
    " SELECT day, min(doc), max(doc) FROM archive_search_meta GROUP BY day"
)

# the docs that are not one article each (an upgrade from schema 3 to 7): those of articles
# with more than one indexed version, then the index's entries without metadata (replaced)
FILL_SEARCH_MULTI = (
    "INSERT OR REPLACE INTO archive_search_multi SELECT doc, article_id FROM archive_search_meta"
    " WHERE article_id IN (SELECT article_id FROM archive_search_meta GROUP BY article_id"
    " HAVING count(*) > 1)",
    "INSERT OR REPLACE INTO archive_search_multi SELECT id, NULL FROM archive_fts_docsize"
    " WHERE id NOT IN (SELECT doc FROM archive_search_meta)",
)

# an upgrade from schema 3 to 8: the column, every row current by its default (rows are not
# rewritten to add it), then the versions that are not their article's current one marked: a
# tenth of the rows on the bench, where marking the current ones rewrote nine tenths. Every
# insert gives the value: the default is for the rows already there.
ADD_CURRENT = "ALTER TABLE archive_search_meta ADD COLUMN current INTEGER NOT NULL DEFAULT 1"
SET_CURRENT = (
    "UPDATE archive_search_meta SET current = 0 WHERE NOT EXISTS (SELECT 1 FROM"
    " archive_articles a WHERE a.id = archive_search_meta.article_id"
    " AND a.current_version = archive_search_meta.version)"
)

# what `repair` empties and refills from the files (runs are not in the files: kept; nor are
# the references, a hint for compressing later pages that may point at any stored page; nor
# the file checksums, the evidence the files are checked against, nor the verify runs)
DERIVED_TABLES = (
    "archive_sources",
    "archive_articles",
    "archive_versions",
    "archive_canonical",
    "archive_urls",
    "archive_raw",
    "archive_simhash_bands",
    "archive_fetches",
    "archive_near_duplicates",
    "archive_fts_docs",
    "archive_search_meta",
    "archive_search_days",
    "archive_search_multi",
    "archive_search_authors",
    "archive_author_names",
)


def author_keys(authors_key: str | None) -> list[str]:
    """The folded names in a version's `authors_key` (one a line), each once."""
    return sorted({a for a in (authors_key or "").split("\n") if a.strip()})
