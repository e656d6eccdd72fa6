"""One fetch as the archive records it: its id, its sidecar document and its catalog row
(pure functions, no I/O)."""

from __future__ import annotations

import hashlib
from typing import Any

from archive.backends.catalog import FetchRow
from archive.record import Outcome, RawPage, dumps, iso_utc
from archive.urls import url_key


def fetch_id(page: RawPage, source: str) -> str:
    """A stable id for one fetch: the same response stored twice is one fetch."""
    seed = dumps(page.meta_json()) + source
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:32]


def sidecar_doc(
    page: RawPage,
    source: str,
    fid: str,
    raw_sha: str,
    article_id: str | None,
    outcome: Outcome | None,
) -> dict[str, Any]:
    doc = page.meta_json()
    doc.update(
        fetch_id=fid,
        source=source,
        raw_sha256=raw_sha,
        article_id=article_id,
        outcome=outcome.value if outcome else None,
    )
    return doc


def fetch_row(
    page: RawPage,
    source: str,
    fid: str,
    raw_sha: str | None,
    article_id: str | None,
    outcome: Outcome | None,
    run_id: int | None = None,
) -> FetchRow:
    return FetchRow(
        fetch_id=fid,
        url=page.requested_url,
        url_key=url_key(page.final_url),
        final_url=page.final_url,
        status=page.status,
        etag=page.header("etag"),
        last_modified=page.header("last-modified"),
        fetched_at=iso_utc(page.fetched_at),
        raw_sha256=raw_sha,
        size=len(page.body),
        source=source,
        article_id=article_id,
        outcome=outcome.value if outcome else None,
        run_id=run_id,
    )
