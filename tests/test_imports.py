"""The layering rule, checked on the source: `archive` never imports `scraper`; `parse` never
imports httpx; `fetch` never imports bs4."""

from __future__ import annotations

import ast
import re
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


def all_imports(path: Path) -> set[str]:
    """Every module `path` names in an import: module level, inside functions, and under
    `if TYPE_CHECKING:` (a cycle the type checker follows is still a knot in the design)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(folder: str) -> dict[str, set[str]]:
    paths = {module_name(p): p for p in modules_under(folder)}
    return {name: all_imports(path) & paths.keys() - {name} for name, path in paths.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := walk(start)):
            return found
    return None


def test_no_import_cycle_inside_archive() -> None:
    graph = import_graph("archive")
    assert "archive.store" in graph
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# modules that may hold SQL: the catalog and frontier backends
SQL_HOMES = {
    "catalog_sqlite.py",
    "catalog_sqlite_search.py",
    "catalog_schema.py",
    "frontier_sqlite.py",
    "catalog_pg.py",
    "catalog_pg_schema.py",
    "frontier_pg.py",
    "hostlease_pg.py",
    "catalog_pg_read.py",
    "catalog_pg_ahead.py",
}
SQL_TEXT = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX|VIRTUAL)|DROP\s+TABLE|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)\b",
    re.DOTALL,
)


def string_literals(path: Path) -> list[str]:
    """Every string constant of a module, leaving out docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


def test_no_sql_outside_the_catalog_backends() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {text[:60]!r}"
        for folder in ("archive", "scraper")
        for path in modules_under(folder)
        if path.name not in SQL_HOMES or path.parent.name != "backends"
        for text in string_literals(path)
        if SQL_TEXT.search(text)
    ]
    assert not offenders, offenders


def test_sql_finder_sees_sql() -> None:
    assert SQL_TEXT.search("SELECT id FROM archive_articles WHERE x = ?")
    assert SQL_TEXT.search("PRAGMA quick_check")
    assert not SQL_TEXT.search("Select the articles from a source")
