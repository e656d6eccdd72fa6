"""The data at the centre of morgue: what a fetch returns, what a parse returns, what is stored.

`RawPage` is one HTTP response exactly as served. `Content` is what the parser extracts from
one page. `Article` is the stored, versioned record: a `Content` plus where and when it was
fetched and the catalog's bookkeeping (id, version, every URL it was seen at). Records are
written as JSON carrying `"schema": "morgue.article/2"`. `Article.from_json` reads the current
schema and every older one, each upgraded one step at a time (`upgrade_record`), and refuses
a schema it does not know with `SchemaError`; `rebuild` writes what it re-parses in the
current schema.

Schemas: 1, the first; 2 adds `title`, the page's metadata title (null when a record was
made before it existed: rebuild fills it in).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import orjson

from archive.errors import SchemaError

SCHEMA = "morgue.article/2"
SCHEMA_VERSION = 2
RAW_META_SCHEMA = "morgue.raw/1"

# Response headers kept on the article record (all headers are kept with the raw page).
RECORD_HEADERS = ("content-type", "etag", "last-modified", "date")


def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    # the metadata title was not extracted yet: unknown, not empty
    return {**doc, "schema": "morgue.article/2", "title": None}


# each older schema -> the step that reads it as the next one
_UPGRADES = {"morgue.article/1": _v1_to_v2}
OLD_SCHEMAS = tuple(_UPGRADES)


def upgrade_record(doc: dict[str, Any]) -> dict[str, Any]:
    """A record document in the current schema (`doc` itself when it already is)."""
    schema = doc.get("schema")
    while schema in _UPGRADES:
        doc = _UPGRADES[str(schema)](doc)
        schema = doc.get("schema")
    if schema != SCHEMA:
        raise SchemaError(
            f"unsupported article schema {schema!r} (this morgue reads {SCHEMA} and "
            f"{', '.join(OLD_SCHEMAS)})"
        )
    return doc


def utcnow() -> datetime:
    """The current time, tz-aware UTC (the default clock everywhere)."""
    return datetime.now(UTC)


def since_text(since: date | datetime | str | None) -> str | None:
    """A `since` bound as the catalog compares it (ISO text, UTC for datetimes)."""
    if since is None or isinstance(since, str):
        return since
    if isinstance(since, datetime):
        return iso_utc(since)
    return since.isoformat()


def iso_utc(moment: datetime) -> str:
    """ISO 8601 for a fetch time: always UTC, always with its offset."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: fetch times must be tz-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


_ORJSON = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
# a run of 19 digits, found in C (a regex takes longer than orjson's whole parse): 18 digits
# always fit in 64 bits
_DIGITS_AS_ZERO = bytes(48 if 48 <= b <= 57 else 32 for b in range(256))
_NINETEEN_DIGITS = b"0" * 19


def dumps(obj: object) -> str:
    """The one way JSON is written, so records and goldens diff cleanly (and fetch ids, which
    hash this text, stay the same): `json.dumps(sort_keys, ensure_ascii=False, indent=2)`.

    orjson writes the same text ~15x faster (the stdlib's indenting encoder is pure Python),
    except for floats under 1e-4 or not finite, which it spells differently, and for what
    it refuses (non-str keys, ints over 64 bits): those go to the stdlib."""
    if _orjson_same(obj):
        try:
            return orjson.dumps(obj, option=_ORJSON).decode("utf-8") + "\n"
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2) + "\n"


def loads(data: bytes) -> Any:
    """JSON as `json.loads` reads it. orjson parses a record ~4x faster (a search page reads
    twenty), but reads an integer past 64 bits as a float: text with a run of 19 digits or
    more goes to the stdlib, and so does what orjson refuses and the stdlib accepts (NaN,
    an escaped lone surrogate), so no file reads differently."""
    if _NINETEEN_DIGITS not in data.translate(_DIGITS_AS_ZERO):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data.decode("utf-8"))


def _orjson_same(obj: object) -> bool:
    """Only str, int, bool, None, floats orjson spells as Python does, lists, tuples and
    dicts (anything else json itself would refuse or orjson would write its own way)."""
    kind = type(obj)
    if kind is str or kind is int or kind is bool or obj is None:
        return True
    if kind is dict:
        return all(_orjson_same(v) for v in obj.values())  # type: ignore[attr-defined]
    if kind is list or kind is tuple:
        return all(_orjson_same(v) for v in obj)  # type: ignore[attr-defined]
    if kind is float:
        return math.isfinite(obj) and (obj == 0 or abs(obj) >= 1e-4)  # type: ignore[arg-type]
    return False


@dataclass(frozen=True, slots=True, kw_only=True)
class RawPage:
    """One HTTP response as served: exact body bytes, never re-encoded."""

    requested_url: str
    final_url: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    fetched_at: datetime
    redirects: tuple[str, ...] = ()  # every hop before final_url, in order
    attempts: int = 1  # fetch attempts it took, retries included
    waits: tuple[float, ...] = ()  # seconds waited before each retry (backoff or Retry-After)
    # computed once: storing a page asks for it several times, and bodies reach megabytes
    sha256: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())

    def header(self, name: str) -> str | None:
        """The first value of a header, case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str | None:
        return self.header("content-type")

    def meta_json(self) -> dict[str, Any]:
        """Everything but the body: the sidecar stored next to the raw bytes."""
        return {
            "schema": RAW_META_SCHEMA,
            "requested_url": self.requested_url,
            "final_url": self.final_url,
            "redirects": list(self.redirects),
            "status": self.status,
            "headers": [list(h) for h in self.headers],
            "fetched_at": iso_utc(self.fetched_at),
            "attempts": self.attempts,
            "waits": list(self.waits),
            "sha256": self.sha256,
            "size": len(self.body),
        }

    @classmethod
    def from_meta_json(cls, meta: dict[str, Any], body: bytes) -> RawPage:
        if meta.get("schema") != RAW_META_SCHEMA:
            raise SchemaError(f"unknown raw page schema {meta.get('schema')!r}")
        return cls(
            requested_url=meta["requested_url"],
            final_url=meta["final_url"],
            redirects=tuple(meta.get("redirects", ())),
            status=int(meta["status"]),
            headers=tuple((str(k), str(v)) for k, v in meta["headers"]),
            body=body,
            fetched_at=parse_iso_utc(meta["fetched_at"]),
            attempts=int(meta.get("attempts", 1)),
            waits=tuple(float(w) for w in meta.get("waits", ())),
        )


@dataclass(frozen=True, slots=True)
class Caption:
    """One figure of the article: caption text, photo credit apart, and the image."""

    text: str
    credit: str | None = None
    image_url: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "credit": self.credit, "image_url": self.image_url}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Caption:
        return cls(data["text"], data.get("credit"), data.get("image_url"))


class BlockKind(StrEnum):
    PARAGRAPH = "p"
    HEADING = "h"  # a subheading inside the body
    QUOTE = "quote"
    LIST_ITEM = "li"


@dataclass(frozen=True, slots=True)
class Block:
    """One body block: a paragraph, or a subheading marked as such."""

    text: str
    kind: BlockKind = BlockKind.PARAGRAPH

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "text": self.text}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Block:
        return cls(data["text"], BlockKind(data.get("kind", "p")))


@dataclass(frozen=True, slots=True, kw_only=True)
class Content:
    """What the parser extracts from one page. Dates are ISO 8601 strings as the page gives
    them: with the page's own offset when it has one, a bare `YYYY-MM-DD` when it gives a day."""

    headline: str
    body: tuple[Block, ...]
    # the page's metadata title verbatim (JSON-LD headline, og:title, twitter:title, <title>):
    # often an SEO or social variant of the visible headline; optional, so old records stay valid
    title: str | None = None
    subheadline: str | None = None
    authors: tuple[str, ...] = ()
    published: str | None = None
    modified: str | None = None
    captions: tuple[Caption, ...] = ()
    lead_image: str | None = None
    language: str | None = None
    site_name: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    parser: str = "generic"
    parser_version: str = "0"
    # field name -> where its value came from ("json-ld", "og", "dom", "url", "rule", ...)
    provenance: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        """The body as plain text, paragraphs separated by blank lines."""
        return "\n\n".join(block.text for block in self.body)

    def to_json(self) -> dict[str, Any]:
        """The extracted fields as JSON data: the content part of a record, and what the
        parser's golden files hold."""
        return {
            "headline": self.headline,
            "title": self.title,
            "subheadline": self.subheadline,
            "authors": list(self.authors),
            "published": self.published,
            "modified": self.modified,
            "captions": [cap.to_json() for cap in self.captions],
            "lead_image": self.lead_image,
            "body": [block.to_json() for block in self.body],
            "language": self.language,
            "site_name": self.site_name,
            "section": self.section,
            "tags": list(self.tags),
            "canonical_url": self.canonical_url,
            "parser": {"name": self.parser, "version": self.parser_version},
            "provenance": dict(self.provenance),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpInfo:
    status: int
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    date: str | None = None

    @classmethod
    def of(cls, page: RawPage) -> HttpInfo:
        return cls(
            status=page.status,
            content_type=page.header("content-type"),
            etag=page.header("etag"),
            last_modified=page.header("last-modified"),
            date=page.header("date"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Article:
    """The stored record: one version of one article."""

    id: str
    version: int
    source: str
    url: str  # as requested
    final_url: str
    canonical_url: str
    urls: tuple[str, ...]  # every URL this article was seen at
    fetched_at: datetime
    http: HttpInfo
    raw_sha256: str
    content: Content

    @classmethod
    def build(
        cls,
        page: RawPage,
        content: Content,
        *,
        id: str,
        version: int,
        source: str,
        canonical_url: str,
        urls: tuple[str, ...] = (),
    ) -> Article:
        seen = tuple(dict.fromkeys((*urls, page.requested_url, page.final_url, canonical_url)))
        # the record keeps one canonical URL: the one the archive decided on
        content = replace(content, canonical_url=canonical_url)
        return cls(
            id=id,
            version=version,
            source=source,
            url=page.requested_url,
            final_url=page.final_url,
            canonical_url=canonical_url,
            urls=seen,
            fetched_at=page.fetched_at,
            http=HttpInfo.of(page),
            raw_sha256=page.sha256,
            content=content,
        )

    def to_json(self) -> dict[str, Any]:
        # the content's canonical_url is the record's own (set by `build`)
        return {
            **self.content.to_json(),
            "schema": SCHEMA,
            "id": self.id,
            "version": self.version,
            "source": self.source,
            "url": self.url,
            "final_url": self.final_url,
            "canonical_url": self.canonical_url,
            "urls": list(self.urls),
            "fetched_at": iso_utc(self.fetched_at),
            "http": {
                "status": self.http.status,
                "content_type": self.http.content_type,
                "etag": self.http.etag,
                "last_modified": self.http.last_modified,
                "date": self.http.date,
            },
            "raw_sha256": self.raw_sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Article:
        data = upgrade_record(data)
        http = data["http"]
        content = Content(
            headline=data["headline"],
            title=data.get("title"),
            subheadline=data.get("subheadline"),
            authors=tuple(data.get("authors", ())),
            published=data.get("published"),
            modified=data.get("modified"),
            captions=tuple(Caption.from_json(c) for c in data.get("captions", ())),
            lead_image=data.get("lead_image"),
            body=tuple(Block.from_json(b) for b in data.get("body", ())),
            language=data.get("language"),
            site_name=data.get("site_name"),
            section=data.get("section"),
            tags=tuple(data.get("tags", ())),
            canonical_url=data.get("canonical_url"),
            parser=data["parser"]["name"],
            parser_version=data["parser"]["version"],
            provenance=tuple(sorted(data.get("provenance", {}).items())),
        )
        return cls(
            id=data["id"],
            version=int(data["version"]),
            source=data["source"],
            url=data["url"],
            final_url=data["final_url"],
            canonical_url=data["canonical_url"],
            urls=tuple(data["urls"]),
            fetched_at=parse_iso_utc(data["fetched_at"]),
            http=HttpInfo(
                status=int(http["status"]),
                content_type=http.get("content_type"),
                etag=http.get("etag"),
                last_modified=http.get("last_modified"),
                date=http.get("date"),
            ),
            raw_sha256=data["raw_sha256"],
            content=content,
        )


class Outcome(StrEnum):
    """What storing a fetched page did. Dedup is a result, not an exception."""

    NEW = "new"  # a new article, version 1
    UPDATED = "updated"  # a known article whose body changed: a new version
    UNCHANGED = "unchanged"  # same article, no meaningful change (or HTTP 304)
    DUPLICATE = "duplicate"  # same body as another article: linked to it, not stored twice


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    outcome: Outcome
    article: Article | None  # the article's current version (None only for a bare 304 miss)
    duplicate_of: str | None = None  # article id, when outcome is DUPLICATE


@dataclass(frozen=True, slots=True, kw_only=True)
class Validators:
    """What the last fetch of a URL gave for conditional GET."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out
