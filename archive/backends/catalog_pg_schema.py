"""The PostgreSQL catalog's schema, as numbered migrations.

`MIGRATIONS[n]` takes a database at schema n-1 to schema n; `archive_info.schema` says where a
database stands. `catalog_pg.PgCatalog` applies the missing ones in order, each in its own
transaction under an advisory lock, so workers starting together migrate once. Tables mirror the
SQLite catalog's (`catalog_schema.py`, the same `archive_*` names) plus the frontier's
`frontier_*` tables and the cluster's host leases and robots.txt cache. Full-text search is
PostgreSQL's own: a `tsvector` per version with a GIN index.
"""

from __future__ import annotations

from archive.backends.catalog_pg_read import (
    CURRENT_SCHEMA,
    LISTING_SCHEMA,
    MULTI_SCHEMA,
    READ_DERIVED_TABLES,
    READ_SCHEMA,
    SETTLE_SCHEMA,
)

MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE IF NOT EXISTS archive_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE archive_sources (name TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
CREATE TABLE archive_articles (
    id TEXT PRIMARY KEY, source TEXT NOT NULL, canonical_key TEXT NOT NULL,
    current_version INTEGER NOT NULL, headline TEXT NOT NULL, modified TEXT,
    body_digest TEXT NOT NULL, simhash BIGINT NOT NULL,
    first_seen TEXT NOT NULL, last_seen TEXT NOT NULL);
CREATE INDEX archive_articles_source ON archive_articles (source, last_seen);
CREATE TABLE archive_versions (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, raw_sha256 TEXT NOT NULL,
    fetched_at TEXT NOT NULL, body_digest TEXT NOT NULL, simhash BIGINT NOT NULL,
    headline TEXT NOT NULL, modified TEXT, parser TEXT NOT NULL, parser_version TEXT NOT NULL,
    PRIMARY KEY (article_id, version));
CREATE INDEX archive_versions_raw ON archive_versions (raw_sha256);
CREATE TABLE archive_canonical (key TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE TABLE archive_urls (
    key TEXT PRIMARY KEY, url TEXT NOT NULL, article_id TEXT NOT NULL,
    first_seen TEXT NOT NULL, duplicate INTEGER NOT NULL DEFAULT 0);
CREATE INDEX archive_urls_article ON archive_urls (article_id);
CREATE TABLE archive_raw (
    sha256 TEXT PRIMARY KEY, size BIGINT NOT NULL, stored_size BIGINT NOT NULL,
    source TEXT NOT NULL, first_fetched TEXT NOT NULL);
CREATE TABLE archive_bodies (digest TEXT PRIMARY KEY, article_id TEXT NOT NULL);
CREATE TABLE archive_simhash_bands (
    band INTEGER NOT NULL, value INTEGER NOT NULL, article_id TEXT NOT NULL,
    PRIMARY KEY (band, value, article_id));
CREATE TABLE archive_fetches (
    fetch_id TEXT PRIMARY KEY, url TEXT NOT NULL, url_key TEXT NOT NULL,
    final_url TEXT NOT NULL, status INTEGER NOT NULL, etag TEXT, last_modified TEXT,
    fetched_at TEXT NOT NULL, raw_sha256 TEXT, size BIGINT NOT NULL, source TEXT NOT NULL,
    article_id TEXT, outcome TEXT, run_id BIGINT);
CREATE INDEX archive_fetches_key ON archive_fetches (url_key, fetched_at);
CREATE INDEX archive_fetches_raw ON archive_fetches (raw_sha256);
CREATE TABLE archive_near_duplicates (
    article_id TEXT NOT NULL, other_id TEXT NOT NULL, distance INTEGER NOT NULL,
    found_at TEXT NOT NULL, PRIMARY KEY (article_id, other_id));
CREATE TABLE archive_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, kind TEXT NOT NULL, source TEXT,
    started_at TEXT NOT NULL, finished_at TEXT, counts TEXT);
CREATE TABLE archive_fts_docs (
    article_id TEXT NOT NULL, version INTEGER NOT NULL, doc TSVECTOR NOT NULL,
    PRIMARY KEY (article_id, version));
CREATE INDEX archive_fts_docs_doc ON archive_fts_docs USING GIN (doc);
CREATE TABLE archive_references (
    seq BIGINT GENERATED ALWAYS AS IDENTITY, site TEXT NOT NULL, raw_sha256 TEXT NOT NULL,
    since TEXT NOT NULL, PRIMARY KEY (site, raw_sha256));
CREATE INDEX archive_references_newest ON archive_references (site, seq);
CREATE TABLE frontier_urls (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, source TEXT NOT NULL,
    key TEXT NOT NULL, url TEXT NOT NULL, kind TEXT NOT NULL, depth INTEGER NOT NULL,
    priority INTEGER NOT NULL, state TEXT NOT NULL, start INTEGER NOT NULL DEFAULT 0,
    discovered_at DOUBLE PRECISION NOT NULL, first_fetched DOUBLE PRECISION,
    fetched_at DOUBLE PRECISION, published DOUBLE PRECISION, etag TEXT, last_modified TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, outcome TEXT, UNIQUE (source, key));
CREATE INDEX frontier_queue ON frontier_urls (source, state, priority, depth);
CREATE TABLE frontier_templates (
    source TEXT NOT NULL, template TEXT NOT NULL, pages INTEGER NOT NULL,
    PRIMARY KEY (source, template));
CREATE TABLE frontier_runs (
    source TEXT PRIMARY KEY, started_at DOUBLE PRECISION NOT NULL,
    finished_at DOUBLE PRECISION, status TEXT NOT NULL);
""",
    # 2: the cluster: leases on hosts (politeness across workers), robots.txt shared by all
    # workers, and when a frontier URL was leased (a dead worker's leases expire)
    2: """
CREATE TABLE cluster_hosts (
    host TEXT PRIMARY KEY, last_start DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_end DOUBLE PRECISION NOT NULL DEFAULT 0);
CREATE TABLE cluster_host_slots (
    host TEXT NOT NULL, slot INTEGER NOT NULL, holder TEXT,
    expires DOUBLE PRECISION NOT NULL DEFAULT 0, PRIMARY KEY (host, slot));
CREATE TABLE cluster_robots (
    origin TEXT PRIMARY KEY, status INTEGER NOT NULL, body BYTEA NOT NULL,
    expires DOUBLE PRECISION NOT NULL);
ALTER TABLE frontier_urls ADD COLUMN leased_at DOUBLE PRECISION;
""",
    # 3: copies found by the body digest of versions (archive_bodies held one article per
    # text); every file's checksum and the verify runs (fixity)
    3: """
DROP TABLE IF EXISTS archive_bodies;
CREATE INDEX archive_versions_digest ON archive_versions (body_digest);
CREATE INDEX archive_fetches_article ON archive_fetches (article_id, fetched_at);
CREATE TABLE archive_files (
    path TEXT PRIMARY KEY, kind TEXT NOT NULL, sha256 TEXT NOT NULL, size BIGINT NOT NULL,
    written_at TEXT NOT NULL);
CREATE INDEX archive_files_written ON archive_files (written_at);
CREATE TABLE archive_verify_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, scope TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT NOT NULL, checked INTEGER NOT NULL,
    problems INTEGER NOT NULL, summary TEXT NOT NULL);
""",
    # 4: the reading side's search index (archive.backends.catalog_pg_read), which replaces
    # the headline-and-body index of migration 1
    4: "DROP TABLE IF EXISTS archive_fts_docs;\n" + READ_SCHEMA,
    # 5: an article's bands found by its id (moving its head deleted them with a scan of
    # every band: each store cost time in proportion to the archive)
    5: "CREATE INDEX archive_simhash_bands_article ON archive_simhash_bands (article_id);",
    # 6: a frontier URL's rank among its host's URLs found together: leases spread over hosts
    6: "ALTER TABLE frontier_urls ADD COLUMN host_seq INTEGER NOT NULL DEFAULT 0;",
    # 7: queued URLs read in the order they are leased: a lease reads the few it takes, where
    # it sorted every queued URL of the source (one lease every few pages)
    7: """
CREATE INDEX frontier_lease_order ON frontier_urls (source, state, priority, depth, host_seq, id);
DROP INDEX frontier_queue;
""",
    # 8: listings by author and by section use an index (they read every version's metadata)
    8: LISTING_SCHEMA,
    # 9: sticky hosts: a host is claimed by one worker at a time (`holder` until
    # `holder_expires`, renewed with its URL leases), which paces it in memory; a URL's host,
    # and its queued URLs found per host in lease order (what a worker may lease, and whether
    # a host ran dry)
    9: r"""
ALTER TABLE cluster_hosts ADD COLUMN holder TEXT;
ALTER TABLE cluster_hosts ADD COLUMN holder_expires DOUBLE PRECISION NOT NULL DEFAULT 0;
CREATE INDEX cluster_hosts_holder ON cluster_hosts (holder);
ALTER TABLE frontier_urls ADD COLUMN host TEXT NOT NULL DEFAULT '';
UPDATE frontier_urls SET host = btrim(lower(COALESCE(substring(url FROM
    '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^]]*\]|[^:/?#]*)'), '')), '[]');
CREATE INDEX frontier_host_lease_order
    ON frontier_urls (source, host, state, priority, depth, host_seq, id);
""",
    # 10: the per-request host leases' slots, unused since sticky hosts (9). A worker of a
    # release before 9 still running against this database paced hosts by them, unseen by
    # the holders of 9: with the table gone its gate fails and pauses (it retries with
    # backoff) instead of sending beside another worker's requests to the same host
    10: "DROP TABLE IF EXISTS cluster_host_slots;\n",
    # 11: the crawlers of each source that are alive (a row per crawl, its lifetime renewed
    # with each of its leases): one that holds no host yet counts in the fair share of hosts,
    # so those holding more hand some back (the lease of sticky hosts, `frontier_pg`)
    11: """
CREATE TABLE cluster_workers (
    holder TEXT PRIMARY KEY, source TEXT NOT NULL, expires DOUBLE PRECISION NOT NULL);
CREATE INDEX cluster_workers_source ON cluster_workers (source, expires);
""",
    # 12: an unfiltered search counts its articles from the matching versions and those of
    # multi-version articles (catalog_pg_read.MULTI_SCHEMA), not a set of every match's
    # article
    12: MULTI_SCHEMA,
    # 13: a listing reads the current versions by a flag, not a join to the articles, and a
    # section's from an index by section and flag (catalog_pg_read.CURRENT_SCHEMA)
    13: CURRENT_SCHEMA,
    # 14: the search index's pending list merged and its tables analyzed: searches planned
    # through the index, not a scan of every row (catalog_pg_read.SETTLE_SCHEMA)
    14: SETTLE_SCHEMA,
    # 15: which crawler holds a URL's lease (sticky hosts): a hand-back queues again only the
    # URLs it still holds, not those the host's next holder leased since (a hand-back tried
    # again after a commit whose answer was lost queued them, to be fetched twice)
    15: "ALTER TABLE frontier_urls ADD COLUMN leased_by TEXT;",
    # 16: how each crawler's part of a source's run ended (a cluster's workers share a run):
    # the run's label in frontier_runs is merged from them once the last live one ended
    # (`frontier_pg.PgFrontier.end_run`), where the last to end set it for all. (IF NOT
    # EXISTS: tests that take a database back to an older schema keep the table.)
    16: """
CREATE TABLE IF NOT EXISTS frontier_run_crawlers (
    source TEXT NOT NULL, crawler TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
    seen DOUBLE PRECISION NOT NULL, finished_at DOUBLE PRECISION, status TEXT NOT NULL,
    PRIMARY KEY (source, crawler));
""",
}

SCHEMA_VERSION = max(MIGRATIONS)

# what `clear_derived` empties and `verify --repair` refills from the files (as in SQLite)
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
    *READ_DERIVED_TABLES,
)
