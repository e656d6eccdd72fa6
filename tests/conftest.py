"""Shared pytest options. Area fixtures live in tests/*_support.py and are imported by tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

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


# A test that needs a real part this machine lacks (Chromium, ...) skips with a reason that
# starts with MISSING; on CI (env CI=true) the part must be there, so that skip is a failure.
MISSING = "missing part:"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if not report.skipped or os.environ.get("CI") != "true":
        return
    longrepr = report.longrepr
    reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
    if MISSING in reason:
        report.outcome = "failed"
        report.longrepr = f"CI=true but {reason.split(MISSING, 1)[1].strip()}"
