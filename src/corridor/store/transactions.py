"""Short write transactions for the modules that keep side tables in the ledger's file.

The directory, the payment service and the audit registry each use their own connection to
the same SQLite file. Their writes must be short and must wait politely for the ledger's
writer: `BEGIN IMMEDIATE` takes the write lock up front (waiting up to the busy timeout), and
anything that fails inside rolls back completely.

Every connection to the file shares one WAL. SQLite checkpoints it from whichever connection
commits once it exceeds that connection's `wal_autocheckpoint` (1,000 pages by default), so
side connections take the ledger writer's larger threshold: with the default, almost every
short side transaction after a ledger batch paid for a checkpoint (copying the batch into
the database file and syncing it).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from corridor.store.sqlite import WAL_AUTOCHECKPOINT_PAGES


@contextmanager
def immediate_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One write transaction on `db`: committed if the block finishes, else rolled back."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@contextmanager
def read_transaction(db: sqlite3.Connection) -> Iterator[None]:
    """One read transaction: every read inside sees the same commit (WAL snapshot).

    Nested use joins the transaction already open.
    """
    if db.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        _end_read(db)


def _end_read(db: sqlite3.Connection) -> None:
    # A function of its own: inline, the type checker would keep `in_transaction` narrowed
    # to False from the test above and call this unreachable.
    if db.in_transaction:
        db.execute("COMMIT")


def open_side_connection(
    path: str | os.PathLike[str], schema: str, *, busy_timeout_ms: int
) -> sqlite3.Connection:
    """A connection of its own to the ledger's file, with `schema` applied (idempotent DDL)."""
    connection = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.executescript(schema)
    except BaseException:
        connection.close()
        raise
    return connection
