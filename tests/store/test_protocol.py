"""Both stores implement the whole storage protocol, with the same signatures.

mypy checks this statically where `corridor.store.open_store` returns either store as a
`LedgerStore`; this test says it in the suite, so a method added to one store and the
protocol but forgotten in the other fails here first.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from corridor.store import LedgerStore, StoreError, WriterBusy, is_postgres_url, open_store
from corridor.store import sqlite as sqlite_store
from corridor.store.postgres import PostgresStore
from corridor.store.sqlite import SqliteStore

MEMBERS = sorted(name for name in vars(LedgerStore) if not name.startswith("_"))


def test_the_protocol_lists_the_write_path_recovery_and_reads() -> None:
    assert {"prepare", "commit", "iter_accounts", "log_row", "account_transfer_rows"} <= set(
        MEMBERS
    )


@pytest.mark.parametrize("store", [SqliteStore, PostgresStore], ids=lambda s: s.__name__)
@pytest.mark.parametrize("name", MEMBERS)
def test_each_store_has_each_member_with_the_protocols_parameters(store: type, name: str) -> None:
    expected = getattr(LedgerStore, name)
    if isinstance(expected, property):
        return  # an attribute: checked on instances (below, and in test_postgres.py)
    found = getattr(store, name, None)
    assert found is not None, f"{store.__name__} lacks {name}"
    want = list(inspect.signature(expected).parameters.items())
    got = list(inspect.signature(found).parameters.items())
    assert [(n, p.kind) for n, p in got] == [(n, p.kind) for n, p in want], name


def test_the_store_errors_are_shared_by_both_backends() -> None:
    assert sqlite_store.StoreError is StoreError and sqlite_store.WriterBusy is WriterBusy
    assert issubclass(WriterBusy, StoreError) and WriterBusy.code == "database_busy"


@pytest.mark.parametrize(
    ("target", "postgres"),
    [
        ("postgresql://host/db", True),
        ("postgres://host/db", True),
        ("ledger.db", False),
        ("mysql://host/db", False),
        ("./postgresql://weird", False),
    ],
)
def test_a_url_picks_postgresql_and_anything_else_is_a_file(target: str, postgres: bool) -> None:
    assert is_postgres_url(target) is postgres


def test_open_store_gives_a_sqlite_store_for_a_path(tmp_path: Path) -> None:
    store = open_store(f"{tmp_path}/ledger.db")
    try:
        assert isinstance(store, SqliteStore)
        assert store.path == tmp_path / "ledger.db"
    finally:
        store.close()
