"""Exports: records as JSONL / CSV, articles as Markdown files, raw fetches as WARC 1.1.

JSONL and CSV carry every version (each with its `version`); Markdown writes the latest version
of each article in the `morgue show` layout, one file per article, under
`<out>/<source>/<id>.md`. The WARC holds, per fetch in time order, a request, the response
(exact stored body; transfer/content encodings the fetcher already undid are renamed
`X-Archive-Orig-*` so readers do not decode twice) and a metadata record with morgue's fetch
sidecar; a fetch of bytes already written becomes an identical-payload-digest revisit, a 304 a
server-not-modified revisit. Record ids and dates derive from the fetches, so exporting the
same archive twice gives the same WARC.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import http
import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.atomic import write_atomic
from archive.errors import ArchiveError
from archive.record import Article, dumps
from archive.render import render_text

if TYPE_CHECKING:
    from archive.store import Archive

FORMATS = ("jsonl", "csv", "md", "warc")
CSV_FIELDS = (
    "id", "version", "source", "url", "final_url", "canonical_url", "fetched_at", "headline",
    "subheadline", "authors", "published", "modified", "section", "language", "site_name",
    "tags", "captions", "body", "raw_sha256", "parser", "urls", "copies",
)  # fmt: skip
# encodings the fetcher removed before storing the body
UNDONE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
WARC_PROFILE_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def export_jsonl(archive: Archive, versions: Iterator[Article], out: IO[str]) -> int:
    """One record per line, as `show --format json` gives it (every URL seen, the copies)."""
    count = 0
    for article in versions:
        doc = archive.describe(article)
        out.write(json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n")
        count += 1
    return count


def csv_row(archive: Archive, article: Article) -> dict[str, Any]:
    c = article.content
    copies = archive.copies(article.id)
    return {
        "id": article.id,
        "version": article.version,
        "source": article.source,
        "url": article.url,
        "final_url": article.final_url,
        "canonical_url": article.canonical_url,
        "fetched_at": article.to_json()["fetched_at"],
        "headline": c.headline,
        "subheadline": c.subheadline or "",
        "authors": "; ".join(c.authors),
        "published": c.published or "",
        "modified": c.modified or "",
        "section": c.section or "",
        "language": c.language or "",
        "site_name": c.site_name or "",
        "tags": "; ".join(c.tags),
        "captions": "\n".join(cap.text for cap in c.captions),
        "body": c.text,
        "raw_sha256": article.raw_sha256,
        "parser": f"{c.parser}/{c.parser_version}",
        "urls": "\n".join(archive.seen_urls(article)),
        "copies": "\n".join(f"{copy.url} ({copy.source} {copy.id})" for copy in copies),
    }


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: Any) -> Any:
    """A page's text that starts like a spreadsheet formula ("=HYPERLINK(...)") gets a leading
    apostrophe, so opening the CSV in a spreadsheet never runs what a page wrote."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def export_csv(archive: Archive, versions: Iterator[Article], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for article in versions:
        writer.writerow({key: _inert(value) for key, value in csv_row(archive, article).items()})
        count += 1
    return count


def export_md(archive: Archive, articles: Iterator[Article], out_dir: Path) -> int:
    """One Markdown file per article; names come from the source name and the article id."""
    count = 0
    for article in articles:
        # source and id were validated when the record was stored; layout checks them again
        path = out_dir / article.source / f"{article.id}.md"
        if path.parent.name != article.source or not article.id.isalnum():
            raise ArchiveError(f"refusing to export to {path}")
        text = render_text(article, copies=archive.describe(article)["copies"])
        write_atomic(path, text.encode("utf-8"), durable=False)
        count += 1
    return count


def _record_id(seed: str) -> str:
    return f"<urn:uuid:{uuid.UUID(hashlib.sha256(seed.encode()).hexdigest()[:32])}>"


def _sha1_digest(body: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def _warc_date(iso: str) -> str:
    return iso if iso.endswith("Z") else iso + "Z"


def http_headers(doc: dict[str, Any], body_length: int | None) -> StatusAndHeaders:
    status = int(doc["status"])
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Unknown"
    headers: list[tuple[str, str]] = []
    for name, value in doc["headers"]:
        if name.lower() in UNDONE_HEADERS:
            headers.append((f"X-Archive-Orig-{name}", value))
        else:
            headers.append((name, value))
    if body_length is not None:
        headers.append(("Content-Length", str(body_length)))
    return StatusAndHeaders(f"{status} {phrase}", headers, protocol="HTTP/1.1")


def _request(writer: WARCWriter, doc: dict[str, Any], date: str, concurrent: str) -> Any:
    parts = urlsplit(doc["final_url"])
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = StatusAndHeaders(
        f"GET {target} HTTP/1.1",
        [("Host", parts.netloc)],
        protocol="HTTP/1.1",
        is_http_request=True,
    )
    return writer.create_warc_record(
        doc["final_url"],
        "request",
        http_headers=head,
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": _record_id(f"request {doc['fetch_id']}"),
            "WARC-Concurrent-To": concurrent,
        },
    )


def _metadata(writer: WARCWriter, doc: dict[str, Any], date: str, concurrent: str) -> Any:
    data = dumps(doc).encode("utf-8")
    return writer.create_warc_record(
        doc["final_url"],
        "metadata",
        payload=io.BytesIO(data),
        length=len(data),
        warc_content_type="application/json",
        warc_headers_dict={
            "WARC-Date": date,
            "WARC-Record-ID": _record_id(f"metadata {doc['fetch_id']}"),
            "WARC-Concurrent-To": concurrent,
        },
    )


def export_warc(
    archive: Archive, out: IO[bytes], *, source: str | None = None, since: str | None = None
) -> int:
    """Write every fetch (of `source`, since `since`) as WARC 1.1 records; returns fetches."""
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    written: dict[str, tuple[str, str, str]] = {}  # sha256 -> (uri, date, sha1 digest)
    count = 0
    for doc in _fetch_docs(archive, source, since):
        sha = doc["raw_sha256"]
        if sha not in written and int(doc["status"]) == 304:
            # a 304 whose original response is older than `since`: write that first
            original = archive.blobs.sidecars(sha)[0]
            _response(archive, writer, original, written)
        if sha in written:
            _revisit(writer, doc, written[sha])
        else:
            _response(archive, writer, doc, written)
        count += 1
    return count


def _revisit(writer: WARCWriter, doc: dict[str, Any], first: tuple[str, str, str]) -> None:
    date = _warc_date(doc["fetched_at"])
    rid = _record_id(f"response {doc['fetch_id']}")
    record = writer.create_revisit_record(
        doc["final_url"],
        first[2],
        first[0],
        first[1],
        http_headers=http_headers(doc, None),
        warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": rid},
    )
    if int(doc["status"]) == 304:
        record.rec_headers.replace_header("WARC-Profile", WARC_PROFILE_NOT_MODIFIED)
    writer.write_record(record)
    writer.write_record(_metadata(writer, doc, date, rid))


def _response(
    archive: Archive,
    writer: WARCWriter,
    doc: dict[str, Any],
    written: dict[str, tuple[str, str, str]],
) -> None:
    date = _warc_date(doc["fetched_at"])
    sha = doc["raw_sha256"]
    rid = _record_id(f"response {doc['fetch_id']}")
    body = archive.blobs.get(sha)
    record = writer.create_warc_record(
        doc["final_url"],
        "response",
        payload=io.BytesIO(body),
        length=len(body),
        http_headers=http_headers(doc, len(body)),
        warc_headers_dict={"WARC-Date": date, "WARC-Record-ID": rid},
    )
    writer.write_record(_request(writer, doc, date, rid))
    writer.write_record(record)
    writer.write_record(_metadata(writer, doc, date, rid))
    written[sha] = (doc["final_url"], date, _sha1_digest(body))


def _fetch_docs(
    archive: Archive, source: str | None, since: str | None
) -> Iterator[dict[str, Any]]:
    """The fetch sidecars to export, oldest first."""
    rows = archive.catalog.fetched_raw(source, since)
    cache: dict[str, dict[str, dict[str, Any]]] = {}
    for fetch_id, sha in rows:
        if sha not in cache:
            cache.clear()  # fetches of one blob tend to come together; keep memory flat
            cache[sha] = {str(d.get("fetch_id")): d for d in archive.blobs.sidecars(sha)}
        doc = cache[sha].get(fetch_id)
        if doc is not None:
            yield doc
