"""The store's fast validator (fastjsonschema) and the full one (jsonschema) agree.

Records built from the recorded pages, and copies broken one field at a time (a key removed,
a wrong type, an extra key, a bad list item), must get the same verdict from both.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from archive.record import Article
from archive.validate import RecordValidator
from scraper.errors import ParseError
from scraper.parse import parse_page
from tests.parse_support import recorded_pages

BAD_VALUES: tuple[Any, ...] = (None, 1, -1, 1.5, True, "", "x", [], {})


def _records() -> list[dict[str, Any]]:
    docs = []
    for recorded in recorded_pages():
        page = recorded.raw_page()
        try:
            content = parse_page(page)
        except ParseError:
            continue
        article = Article.build(
            page, content, id="0" * 16, version=1, source="src", canonical_url=page.final_url
        )
        docs.append(article.to_json())
    return docs


def _broken(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key, value in doc.items():
        removed = copy.deepcopy(doc)
        del removed[key]
        yield removed
        for bad in BAD_VALUES:
            changed = copy.deepcopy(doc)
            changed[key] = bad
            yield changed
        if isinstance(value, dict):
            for inner in value:
                for bad in BAD_VALUES:
                    changed = copy.deepcopy(doc)
                    changed[key][inner] = bad
                    yield changed
            extra = copy.deepcopy(doc)
            extra[key]["extra"] = 1
            yield extra
        if isinstance(value, list) and value:
            for bad in BAD_VALUES:
                changed = copy.deepcopy(doc)
                changed[key][0] = bad
                yield changed
    extra = copy.deepcopy(doc)
    extra["extra"] = 1
    yield extra


def test_fast_and_full_validators_agree() -> None:
    validator = RecordValidator()
    docs = _records()
    assert len(docs) >= 3
    checked = invalid = 0
    for doc in docs[:3]:
        assert validator.ok(doc)
        assert validator.problems(doc) == []
        for broken in _broken(doc):
            full = validator.problems(broken)
            assert validator.ok(broken) == (not full), full
            checked += 1
            invalid += bool(full)
    assert invalid > checked // 2  # most of the breakages are real ones


@pytest.mark.parametrize("field", ["id", "fetched_at", "published"])
def test_pattern_violations_are_caught_fast(field: str) -> None:
    doc = _records()[0]
    doc[field] = "not-a-match"
    validator = RecordValidator()
    assert not validator.ok(doc)
    assert validator.problems(doc)
