"""The parser revision rule: records name the exact parser (`parser.version` is the package
version plus `+p<PARSER_REVISION>`), so the golden outputs may change only with a bump."""

from __future__ import annotations

import shutil
from pathlib import Path

from scraper import __version__
from scraper.parse import PARSER_REVISION, PARSER_VERSION
from tests.parse_support import (
    GOLDEN_REVISION,
    PAGES,
    golden_digest,
    read_golden_revision,
    recorded_pages,
    revision_problem,
    write_golden_revision,
)


def test_goldens_change_only_with_a_parser_revision_bump(update_golden: bool) -> None:
    recorded = read_golden_revision()
    problem = revision_problem(recorded, PARSER_REVISION, golden_digest())
    if problem and update_golden and recorded[0] != PARSER_REVISION:
        write_golden_revision(PARSER_REVISION, golden_digest())
        return
    assert problem is None, problem


def test_the_rule_fails_when_a_golden_changes_without_a_bump(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(PAGES, pages)
    recorded = read_golden_revision(pages / GOLDEN_REVISION.name)
    assert revision_problem(recorded, PARSER_REVISION, golden_digest(pages)) is None
    golden = sorted(pages.glob("*/*.expected.json"))[0]
    golden.write_text(golden.read_text("utf-8").replace('"body"', '"body" ', 1), "utf-8")
    problem = revision_problem(recorded, PARSER_REVISION, golden_digest(pages))
    assert problem is not None
    assert "bump it" in problem
    # a bump alone asks for the goldens to be recorded again; then all agree
    bumped = revision_problem(recorded, PARSER_REVISION + 1, golden_digest(pages))
    assert bumped is not None
    assert "--update-golden" in bumped
    write_golden_revision(PARSER_REVISION + 1, golden_digest(pages), pages / "GOLDEN_REVISION")
    again = read_golden_revision(pages / "GOLDEN_REVISION")
    assert revision_problem(again, PARSER_REVISION + 1, golden_digest(pages)) is None


def test_a_release_alone_changes_no_golden_digest(tmp_path: Path) -> None:
    pages = tmp_path / "pages"
    shutil.copytree(PAGES, pages)
    before = golden_digest(pages)
    for golden in pages.glob("*/*.expected.json"):
        text = golden.read_text("utf-8")
        golden.write_text(text.replace(f'"{__version__}+p', '"9.9.9+p'), "utf-8")
    assert golden_digest(pages) == before


def test_records_name_the_package_version_and_the_parser_revision() -> None:
    assert f"{__version__}+p{PARSER_REVISION}" == PARSER_VERSION
    page = next(p for p in recorded_pages() if '"error"' not in p.expected_path.read_text())
    assert f'"version": "{PARSER_VERSION}"' in page.parsed_json()
