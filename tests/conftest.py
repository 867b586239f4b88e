"""Fixtures shared by every test package: ledger databases on both storage backends.

`db_target` runs a test twice, on a SQLite file and on a fresh PostgreSQL schema (see
tests/store/backends.py for where the server comes from; without one the PostgreSQL half
skips with the reason). Tests that exercise something only SQLite has carry
``@pytest.mark.sqlite_only`` and run on SQLite alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.backends import BACKENDS, close_postgres, postgres


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_only: the test exercises SQLite itself; not run with db_target=postgresql",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked sqlite_only run on SQLite alone: their PostgreSQL half is deselected."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("db_target") == "postgresql"
        (dropped if on_postgres and item.get_closest_marker("sqlite_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    close_postgres()


@pytest.fixture(params=BACKENDS)
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    """A new, empty ledger database: a SQLite file path, or a PostgreSQL URL."""
    if request.param == "sqlite":
        yield tmp_path / "ledger.db"
        return
    with postgres().schema() as target:
        yield target


@pytest.fixture
def pg_target() -> Iterator[str]:
    """A fresh PostgreSQL schema's URL (skips without a server)."""
    with postgres().schema() as target:
        yield target


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database's URL, tables in its `public` schema (skips without one)."""
    with postgres().database() as target:
        yield target
