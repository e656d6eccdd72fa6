"""Bare catalog rows for search and listing tests: an article at one version, no files."""

from __future__ import annotations

from archive.backends.catalog import ArticleRow, Catalog, VersionRow


def put_version_row(
    cat: Catalog,
    aid: str,
    *,
    source: str = "src",
    version: int = 1,
    seen: str = "2026-01-01T00:00:00Z",
) -> None:
    """Article `aid` of `source` at `version` (headline "h", no body), seen at `seen`; its
    version waits to be indexed (`cat.pending_docs`)."""
    with cat.writing():
        cat.put_article(ArticleRow(aid, source, aid, version, "h", None, "d", 0), seen)
        cat.put_version(
            VersionRow(aid, version, source, "0" * 64, seen),
            digest="d",
            fingerprint=0,
            headline="h",
            body="",
            modified=None,
            parser=("t", "1"),
        )
