"""Shared pytest options. Area fixtures live in tests/*_support.py and are imported by tests."""

from __future__ import annotations

import pytest

# catalog_backend / open_archive / pg_url: archive tests on sqlite and postgresql;
# s3_storage: a bucket on a local S3 stand-in
pytest_plugins = ["tests.backend_support", "tests.s3_support"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/pages/**/*.expected.json from the current parser (review the diff)",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))
