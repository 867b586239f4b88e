"""Short write transactions for the modules that keep side tables in the ledger's file.

The directory, the payment service and the audit registry each use their own connection to
the same SQLite file. Their writes must be short and must wait politely for the ledger's
writer: `BEGIN IMMEDIATE` takes the write lock up front (waiting up to the busy timeout), and
anything that fails inside rolls back completely.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


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
