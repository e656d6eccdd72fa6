"""Where the archive keeps things: blob stores (raw pages), the catalog and the crawl frontier.

Each has an interface (`blobs.BlobStore`, `catalog.Catalog`) and the embedded implementation
(a folder, SQLite); SQL lives only in the catalog and frontier modules here.
"""
