"""The layering rule, checked on the source: `archive` never imports `scraper`; `parse` never
imports httpx; `fetch` never imports bs4."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules_under(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules_under("archive"), ids=lambda p: p.name)
def test_archive_never_imports_scraper(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m == "scraper" or m.startswith("scraper.")}
    assert not bad, f"{path} imports {bad}"


def test_parser_never_imports_httpx() -> None:
    for path in (ROOT / "scraper" / "parse").rglob("*.py"):
        assert not {m for m in imported_modules(path) if m.split(".")[0] == "httpx"}, path


def test_fetcher_never_imports_bs4() -> None:
    paths = modules_under("scraper/fetch")
    assert paths, "scraper/fetch/ is empty"
    for path in paths:
        assert "bs4" not in {m.split(".")[0] for m in imported_modules(path)}, path
