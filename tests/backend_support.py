"""Fixtures that run archive tests on every catalog backend, each test on its own database.

`catalog_backend` is parametrized sqlite | postgresql; `open_archive(root, **kw)` opens an
Archive on that backend (one fresh PostgreSQL database per archive folder of a test, dropped
after it). PostgreSQL is the machine's own on 127.0.0.1:5432 (trust auth, user postgres;
MORGUE_TEST_PG overrides the admin URL). Where it is unreachable, or psycopg is not installed,
the PostgreSQL cases skip with a one-line reason; with CI=true a skip is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from archive.backends.storage import Storage
from archive.store import Archive

if TYPE_CHECKING:  # psycopg is optional: the plugin must load without it
    from archive.backends.catalog_pg import PgCatalog

ADMIN_URL = os.environ.get("MORGUE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def unavailable(reason: str) -> None:
    """Skip, or fail under CI (where every service must be there)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}")
    pytest.skip(reason)


def _admin() -> Any:
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unavailable(f"PostgreSQL at {ADMIN_URL} is unreachable: {first}")


class Databases:
    """Creates test databases on demand and drops them all at the end of the test."""

    def __init__(self) -> None:
        self._admin: Any = None
        self.names: list[str] = []

    def create(self) -> str:
        if self._admin is None:
            self._admin = _admin()
        name = f"morgue_test_{uuid.uuid4().hex[:16]}"
        self._admin.execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        base = ADMIN_URL.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        if self._admin is None:
            return
        for name in self.names:
            self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.close()


@pytest.fixture
def pg_databases() -> Iterator[Databases]:
    dbs = Databases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="module")
def pg_catalog(pg_module_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgCatalog]:
    """One PostgreSQL catalog for a whole module's frontier tests; each test keeps to its own
    source (`run_source`)."""
    from archive.backends.catalog_pg import PgCatalog

    cat = PgCatalog(pg_module_url, root=tmp_path_factory.mktemp("w"))
    yield cat
    cat.close()


@pytest.fixture
def run_source() -> str:
    """A source name no other test of the module uses (they share `pg_catalog`'s database)."""
    return f"s-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_url(pg_databases: Databases) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return pg_databases.create()


@pytest.fixture(scope="module")
def pg_module_url() -> Iterator[str]:
    """One PostgreSQL database for a whole module: property tests run many examples, and a
    database each would take most of their time (each example empties what it uses)."""
    dbs = Databases()
    try:
        yield dbs.create()
    finally:
        dbs.drop_all()


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def open_archive(catalog_backend: str, request: pytest.FixtureRequest) -> Callable[..., Archive]:
    """Archive.open on this test's backend: the same folder reopens the same database."""
    if catalog_backend == "sqlite":
        return Archive.open
    dbs: Databases = request.getfixturevalue("pg_databases")
    urls: dict[Path, str] = {}

    def open_pg(root: Path | str, **kw: Any) -> Archive:
        key = Path(root).resolve()
        if key not in urls:
            urls[key] = dbs.create()
        kw.pop("busy_timeout", None)  # SQLite's lock wait; PostgreSQL writers queue on a lock
        kw.pop("sleep", None)
        return Archive.open(root, storage=Storage(catalog=urls[key]), **kw)

    return open_pg


def count_statements(monkeypatch: pytest.MonkeyPatch, *, each_row: bool) -> Counter[str]:
    """The statements psycopg sends from now on, by their first three words; an
    `executemany` counts once, or once per row (`each_row`)."""
    import psycopg

    sent: Counter[str] = Counter()
    execute = psycopg.Connection.execute
    executemany = psycopg.Cursor.executemany

    def counted(self: Any, query: Any, params: Any = None, **kw: Any) -> Any:
        sent[" ".join(str(query).split()[:3])] += 1
        return execute(self, query, params, **kw)

    def counted_many(self: Any, query: Any, params: Any, **kw: Any) -> Any:
        params = list(params)
        sent[" ".join(str(query).split()[:3])] += len(params) if each_row else 1
        return executemany(self, query, params, **kw)

    monkeypatch.setattr(psycopg.Connection, "execute", counted)
    monkeypatch.setattr(psycopg.Cursor, "executemany", counted_many)
    return sent
