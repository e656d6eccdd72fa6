"""The OpenAPI 3.1 document of the JSON API (`/api/openapi.json`), written out by hand: the API
is small, and a document kept next to the routes is easier to review than one generated."""

from __future__ import annotations

from typing import Any

_FILTERS = [
    ("source", "Only this source (one archived or configured; any other name is a 400)."),
    ("since", "Published (else fetched) on or after this day, YYYY-MM-DD."),
    ("until", "Published (else fetched) on or before this day, YYYY-MM-DD."),
    ("author", "An author's name or part of it (case and diacritics do not matter)."),
    ("section", "A section name."),
    ("page", "Page number, from 1 (20 per page)."),
]
_ERROR = {"$ref": "#/components/schemas/Error"}


def _param(name: str, text: str, where: str = "query", required: bool = False) -> dict[str, Any]:
    kind = "integer" if name in ("page", "version", "from", "to") else "string"
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": text,
        "schema": {"type": kind},
    }


def _get(summary: str, params: list[dict[str, Any]], schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "parameters": params,
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
                "400": {"description": "A malformed query, filter or page", "content": _json()},
                "404": {
                    "description": "No such article, version, page or source",
                    "content": _json(),
                },
            },
        }
    }


def _json() -> dict[str, Any]:
    return {"application/json": {"schema": _ERROR}}


def openapi_document(version: str) -> dict[str, Any]:
    filters = [_param(n, t) for n, t in _FILTERS]
    article_id = _param("article_id", "An article id (16 hex digits).", "path", True)
    obj = {"type": "object"}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "morgue",
            "version": version,
            "description": "Read a morgue news archive: search, articles, versions, word "
            "diffs, raw pages, sources; archive a URL.",
        },
        "paths": {
            "/api/search": _get(
                "Full-text search (phrases, prefix* with 3 letters at least, AND/OR/NOT, -word),"
                " best first; matching articles counted exactly up to 10,000, or (see total_of"
                " and total_relation) a cheaper count unless count=exact",
                [
                    _param("q", "The query.", required=True),
                    *filters,
                    _param(
                        "count",
                        "exact: count the matching articles (up to 10,000) even when that"
                        " costs more than the search; else past 2,000 matching versions the"
                        " count may be the matching versions (total_of) or a lower bound",
                    ),
                ],
                {"$ref": "#/components/schemas/Results"},
            ),
            "/api/articles": _get(
                "The newest articles, filtered", filters, {"$ref": "#/components/schemas/Results"}
            ),
            "/api/articles/{article_id}": _get(
                "An article's latest version, every URL it was seen at, versions, fetches",
                [article_id],
                obj,
            ),
            "/api/articles/{article_id}/v/{version}": _get(
                "One version of an article",
                [article_id, _param("version", "Version number.", "path", True)],
                obj,
            ),
            "/api/articles/{article_id}/versions": _get(
                "An article's versions with their fetch times", [article_id], obj
            ),
            "/api/articles/{article_id}/diff": _get(
                "Word diff between two versions (default: the last two), per field",
                [article_id, _param("from", "Older version."), _param("to", "Newer version.")],
                obj,
            ),
            "/api/raw/{sha}": _get(
                "Metadata of a stored page (the bytes are at /raw/{sha})",
                [_param("sha", "The page's sha256.", "path", True)],
                obj,
            ),
            "/api/sources": _get(
                "Per source: articles, versions, last crawl, failures, articles per day",
                [],
                obj,
            ),
            "/api/archive": {
                "post": {
                    "summary": "Fetch, parse and store one URL (politely, the fetcher's rules)",
                    "security": [{"token": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["url"],
                                    "properties": {"url": {"type": "string", "format": "uri"}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "new, new version, unchanged or duplicate",
                            "content": {"application/json": {"schema": obj}},
                        },
                        "400": {"description": "No url in the JSON body", "content": _json()},
                        "401": {"description": "Token missing or wrong", "content": _json()},
                        "403": {"description": "Sent from another site", "content": _json()},
                        "415": {"description": "Not JSON", "content": _json()},
                        "422": {"description": "failed, with the reason", "content": _json()},
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"token": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}, "status": {"type": "integer"}},
                },
                "Hit": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "version": {"type": "integer"},
                        "headline": {"type": "string"},
                        "published": {"type": ["string", "null"]},
                        "fetched_at": {"type": "string"},
                        "source": {"type": "string"},
                        "url": {"type": "string"},
                        "snippet": {"type": "string"},
                        "marks": {
                            "type": "array",
                            "description": "[start, end) of each match in snippet",
                            "items": {"type": "array", "items": {"type": "integer"}},
                        },
                        "headline_marks": {
                            "type": "array",
                            "description": "[start, end) of each match in headline",
                            "items": {"type": "array", "items": {"type": "integer"}},
                        },
                        "score": {"type": "number"},
                    },
                },
                "Results": {
                    "type": "object",
                    "properties": {
                        "total": {
                            "type": "integer",
                            "description": "Matching articles, counted exactly up to 10,000;"
                            " past that 10,000, a lower bound (see total_relation)",
                        },
                        "total_exact": {
                            "type": "boolean",
                            "description": "false: total is a lower bound (at least total match)",
                        },
                        "total_relation": {
                            "type": "string",
                            "enum": ["eq", "gte"],
                            "description": "eq: total is exact; gte: at least total match"
                            " (as Elasticsearch's hits.total.relation)",
                        },
                        "total_of": {
                            "type": "string",
                            "enum": ["articles", "versions"],
                            "description": "What total counts: articles, or the matching"
                            " versions (exact; an article once per version that matches)",
                        },
                        "count": {"type": "string"},
                        "ranked_newest": {
                            "type": ["integer", "null"],
                            "description": "When a query matched very many versions: the"
                            " newest this many were ranked (the best of them first); null:"
                            " every match was ranked",
                        },
                        "ranking": {
                            "type": "string",
                            "description": "ranked_newest in words, empty when null",
                        },
                        "page": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "ms": {"type": "number"},
                        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                    },
                },
            },
        },
    }
