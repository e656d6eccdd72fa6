"""Import WARC files (ours, wget --warc-file, browsertrix, CC-NEWS) as raw pages.

Each HTML response becomes a `RawPage` (body as served, with transfer and content encodings
undone by warcio), is parsed with the handed-in function and stored through the normal dedup
path; a page that does not parse is kept with `put_raw` so a later rebuild can retry it.
Redirect responses in the same file give the page its requested URL and redirect chain.
Revisit records resolve to the payload they refer to. WARCs written by morgue carry each
fetch's sidecar in a metadata record; when present it restores the exact fetch (requested
URL, redirects, all headers, source).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from archive.errors import ArchiveError, StorageError
from archive.layout import check_source
from archive.record import RAW_META_SCHEMA, Content, Outcome, RawPage
from archive.urls import url_key

if TYPE_CHECKING:
    from archive.store import Archive

log = logging.getLogger(__name__)

ParseFn = Callable[[RawPage, str], Content]
HTML_TYPES = ("text/html", "application/xhtml+xml")
NOT_MODIFIED = "server-not-modified"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# The most bytes one payload may decode to (the fetcher's default decompressed limit): warcio
# undoes Content-Encoding, so a gzip bomb in a WARC would otherwise fill memory and the archive.
MAX_PAYLOAD = 50_000_000


class WarcError(ArchiveError):
    """A WARC file that cannot be read."""


def _warc_date(text: str | None) -> datetime:
    try:
        value = datetime.fromisoformat((text or "").replace("Z", "+00:00"))
    except ValueError:
        raise ArchiveError(f"unreadable WARC-Date {str(text)[:40]!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _status(record: Any) -> int:
    code = record.http_headers.get_statuscode() or "0"
    if not (code.isascii() and code.isdigit()):
        raise ArchiveError(f"unreadable HTTP status {code[:40]!r}")
    return int(code)


def _payload(record: Any) -> bytes:
    """The record's payload, decoded, refused past MAX_PAYLOAD bytes (read in bounded steps)."""
    data = record.content_stream().read(MAX_PAYLOAD + 1)
    if len(data) > MAX_PAYLOAD:
        raise ArchiveError(f"payload larger than {MAX_PAYLOAD} bytes once decoded")
    return bytes(data)


def _records(path: Path) -> Iterable[Any]:
    try:
        with path.open("rb") as stream:
            yield from ArchiveIterator(stream, arc2warc=True)
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    except ArchiveLoadFailed as exc:
        raise WarcError(f"{path}: not a readable WARC: {str(exc).splitlines()[0]}") from exc
    except (AttributeError, ValueError, TypeError, EOFError) as exc:
        # warcio's own failures on malformed records (a record with no target URI, ...)
        raise WarcError(f"{path}: not a readable WARC: {type(exc).__name__}: {exc}") from exc


def _morgue_sidecars(path: Path) -> dict[str, dict[str, Any]]:
    """First pass: morgue metadata records, by the response record they describe."""
    found: dict[str, dict[str, Any]] = {}
    for record in _records(path):
        if record.rec_type != "metadata":
            continue
        if "json" not in (record.rec_headers.get_header("Content-Type") or ""):
            continue
        target = record.rec_headers.get_header("WARC-Concurrent-To")
        try:
            doc = json.loads(_payload(record))
        except (ValueError, ArchiveError):
            continue
        if target and isinstance(doc, dict) and doc.get("schema") == RAW_META_SCHEMA:
            found[target] = doc
    return found


class _Importer:
    def __init__(self, archive: Archive, parse: ParseFn, source: str) -> None:
        self.archive = archive
        self.parse = parse
        self.source = check_source(source)
        self.counts: Counter[str] = Counter()
        self.payloads: dict[str, str] = {}  # payload digest / "uri date" -> sha256
        self.redirected_from: dict[str, str] = {}  # url_key(target) -> url that redirected

    def run(self, path: Path) -> None:
        sidecars = _morgue_sidecars(path)
        for record in _records(path):
            if record.rec_type not in ("response", "revisit") or record.http_headers is None:
                continue
            self.counts["records"] += 1
            try:
                self._one(record, sidecars.get(record.rec_headers.get_header("WARC-Record-ID")))
            except StorageError:
                raise
            except ArchiveError as exc:
                self.counts["failed"] += 1
                log.warning("import %s: %s", path.name, exc)

    def _one(self, record: Any, sidecar: dict[str, Any] | None) -> None:
        head = record.rec_headers
        uri = head.get_header("WARC-Target-URI") or ""
        status = _status(record)
        headers = tuple((str(k), str(v)) for k, v in record.http_headers.headers)
        if status in REDIRECTS:
            location = record.http_headers.get_header("Location")
            if location:
                self.redirected_from[url_key(urljoin(uri, location))] = uri
            self.counts["redirects"] += 1
            return
        if record.rec_type == "revisit":
            body = self._revisited(head)
            if body is None:
                self.counts["skipped"] += 1
                return
        else:
            body = _payload(record)
        if sidecar is not None:
            page = RawPage.from_meta_json(sidecar, b"" if status == 304 else body)
            source = sidecar.get("source") or self.source
        else:
            page = self._page(uri, status, headers, body, _warc_date(head.get_header("WARC-Date")))
            source = self.source
        self._store(page, check_source(source), head.get_header("WARC-Profile") or "")
        if record.rec_type == "response":
            # remember where the payload went, for revisit records later in the file
            sha = page.sha256
            digest = head.get_header("WARC-Payload-Digest")
            if digest:
                self.payloads[digest] = sha
            self.payloads[f"{uri} {head.get_header('WARC-Date')}"] = sha

    def _revisited(self, head: Any) -> bytes | None:
        uri = head.get_header("WARC-Refers-To-Target-URI")
        refers = f"{uri} {head.get_header('WARC-Refers-To-Date')}"
        sha = self.payloads.get(head.get_header("WARC-Payload-Digest") or "")
        sha = sha or self.payloads.get(refers)
        if sha is None or not self.archive.blobs.has(sha):
            return None
        return self.archive.blobs.get(sha)

    def _page(
        self, uri: str, status: int, headers: tuple[tuple[str, str], ...], body: bytes, at: datetime
    ) -> RawPage:
        chain: list[str] = []
        key = url_key(uri)
        while key in self.redirected_from and len(chain) < 20:
            previous = self.redirected_from[key]
            if previous in chain:
                break
            chain.insert(0, previous)
            key = url_key(previous)
        return RawPage(
            requested_url=chain[0] if chain else uri,
            final_url=uri,
            status=status,
            headers=headers,
            body=body,
            fetched_at=at,
            redirects=tuple(chain),
        )

    def _store(self, page: RawPage, source: str, profile: str) -> None:
        if page.status == 304 or profile.endswith(NOT_MODIFIED):
            self.archive.store_unchanged(page, source=source)
            self.counts["unchanged"] += 1
            return
        ctype = (page.content_type or "").split(";")[0].strip().lower()
        if not 200 <= page.status < 300 or (ctype and ctype not in HTML_TYPES):
            self.counts["skipped"] += 1
            return
        try:
            content = self.parse(page, source)
        except Exception as exc:
            self.archive.put_raw(page, source=source)
            self.counts["unparsed"] += 1
            log.info("import: %s kept raw: %s", page.final_url, exc)
            return
        stored = self.archive.store(page, content, source=source)
        self.counts[stored.outcome.value] += 1
        if stored.outcome is Outcome.DUPLICATE:
            log.info("import: %s duplicates %s", page.final_url, stored.duplicate_of)


def import_warc(
    archive: Archive, paths: Iterable[Path], parse: ParseFn, *, source: str = "import"
) -> dict[str, int]:
    """Ingest the HTML responses of WARC files; counts by outcome."""
    importer = _Importer(archive, parse, source)
    for path in paths:
        importer.run(Path(path))
    return dict(importer.counts)
