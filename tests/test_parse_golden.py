"""Golden tests: every recorded page in tests/pages parses to its .expected.json."""

from __future__ import annotations

import json

import pytest

from tests.parse_support import RecordedPage, recorded_pages

PAGES = recorded_pages()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_matches_golden(page: RecordedPage, update_golden: bool) -> None:
    actual = page.parsed_json()
    if update_golden or not page.expected_path.exists():
        page.expected_path.write_text(actual, encoding="utf-8")
        if not update_golden:
            pytest.fail(f"wrote missing golden {page.expected_path.name}: review and commit it")
    assert actual == page.expected_path.read_text(encoding="utf-8")


def test_goldens_are_complete() -> None:
    """A golden with an empty headline or body would pin a broken parse."""
    for page in PAGES:
        data = json.loads(page.expected_path.read_text(encoding="utf-8"))
        if "error" in data:
            continue
        assert data["headline"], page.name
        assert data["body"], page.name
        assert data["provenance"]["headline"], page.name
