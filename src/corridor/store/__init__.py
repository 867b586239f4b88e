"""Storage layer: one protocol (`protocol.LedgerStore`), an embedded SQLite store and a
PostgreSQL store, picked by what `--db` names: a file path or a ``postgresql://`` URL."""

from __future__ import annotations

import os

from corridor.store.protocol import LedgerStore, StoreError, WriterBusy

__all__ = [
    "LedgerStore",
    "StoreError",
    "WriterBusy",
    "describe_target",
    "is_postgres_url",
    "open_store",
]

_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def is_postgres_url(target: object) -> bool:
    """Whether `target` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(target, str) and target.startswith(_POSTGRES_PREFIXES)


def describe_target(target: str | os.PathLike[str]) -> str:
    """`target` as messages may show it: a path, or a URL without its password."""
    if is_postgres_url(target):
        from corridor.store.postgres import redact

        return redact(str(target))
    return os.fspath(target)


def open_store(target: str | os.PathLike[str]) -> LedgerStore:
    """The store for `target`, holding its writer lock, with its schema up to date.

    psycopg is imported only for PostgreSQL targets, so SQLite users do not pay for it.
    """
    if is_postgres_url(target):
        from corridor.store.postgres import PostgresStore

        return PostgresStore(str(target))
    from corridor.store.sqlite import SqliteStore

    return SqliteStore(target)
