"""The audit log's leaves, rebuilt from the ledger's tables with plain SQL.

The log stores no leaf bytes: leaf `i` is the row whose ``log_index`` is `i` in one of
``transfers``, ``expirations`` or ``documents``, encoded by `corridor.audit.leaf`. This module
reads those rows and rebuilds the leaves exactly as the ledger's writer encoded them, for
proofs (`corridor audit prove`) and for the full recomputation (`corridor audit verify`).

Rows are read as the SQL shape ``(log_index, kind, ...columns)`` so that rows of the three
tables sort together by log index. The stored form is checked on the way: ids are 16-byte
big-endian BLOBs, the nullable id columns (``pending_id``, ``user_data_128``) are NULL for
zero and never a zero BLOB, numbers are INTEGERs in their leaf field's range. A row that
breaks this cannot be what the writer stored, and raises `RowError`.
"""

from __future__ import annotations

import heapq
import sqlite3
import struct
from collections.abc import Iterator
from typing import Any, Final

from corridor.audit.leaf import LeafError, document_leaf, expiry_leaf, transfer_leaf
from corridor.store.rows import TransferRow

__all__ = [
    "KIND_DOCUMENT",
    "KIND_EXPIRY",
    "KIND_TRANSFER",
    "RowError",
    "SourceRow",
    "describe",
    "leaf_of",
    "rows_at",
    "sorted_rows",
    "transfer_by_id",
]

KIND_TRANSFER: Final = 0
KIND_EXPIRY: Final = 1
KIND_DOCUMENT: Final = 2

SourceRow = tuple[Any, ...]
"""(log_index, kind, ...columns of the table), as selected by this module."""

TRANSFER_SELECT: Final = (
    "SELECT log_index, 0, timestamp, id, debit_account_id, credit_account_id, amount,"
    " pending_id, user_data_128, user_data_64, user_data_32, timeout, ledger, code, flags"
    " FROM transfers"
)
EXPIRY_SELECT: Final = "SELECT log_index, 1, pending_id, timestamp FROM expirations"
DOCUMENT_SELECT: Final = "SELECT log_index, 2, sha256, timestamp FROM documents"

_FETCH: Final = 8192


class RowError(ValueError):
    """A stored row cannot be the one the ledger wrote (wrong type, length or range)."""


def _id(value: object, column: str, *, nullable: bool = False) -> int:
    if value is None and nullable:
        return 0
    if type(value) is not bytes or len(value) != 16:
        raise RowError(f"{column} is not a 16-byte BLOB")
    number = int.from_bytes(value, "big")
    if nullable and number == 0:
        raise RowError(f"{column} is a zero BLOB (zero is stored as NULL)")
    return number


def _int(value: object, column: str) -> int:
    if type(value) is not int:
        raise RowError(f"{column} is not an INTEGER")
    return value


def _transfer_row(r: SourceRow) -> TransferRow:
    return (
        _int(r[2], "timestamp"),
        _id(r[3], "id"),
        _id(r[4], "debit_account_id"),
        _id(r[5], "credit_account_id"),
        _int(r[6], "amount"),
        _id(r[7], "pending_id", nullable=True),
        _id(r[8], "user_data_128", nullable=True),
        _int(r[9], "user_data_64"),
        _int(r[10], "user_data_32"),
        _int(r[11], "timeout"),
        _int(r[12], "ledger"),
        _int(r[13], "code"),
        _int(r[14], "flags"),
        0,
        0,
    )


def leaf_of(row: SourceRow) -> bytes:
    """The leaf of a transfer, expiry or document row; `RowError` if it is malformed."""
    kind = row[1]
    try:
        if kind == KIND_TRANSFER:
            return transfer_leaf(_transfer_row(row))
        if kind == KIND_EXPIRY:
            return expiry_leaf(_id(row[2], "pending_id"), _int(row[3], "timestamp"))
        if kind == KIND_DOCUMENT:
            digest = row[2]
            if type(digest) is not bytes or len(digest) != 32:
                raise RowError("sha256 is not a 32-byte BLOB")
            return document_leaf(digest, _int(row[3], "timestamp"))
    except (struct.error, OverflowError, LeafError) as error:
        raise RowError(f"a value is out of its leaf field's range ({error})") from None
    raise RowError(f"unknown row kind {kind!r}")


def _hex_id(value: object) -> str:
    if type(value) is bytes:
        return hex(int.from_bytes(value, "big"))
    return repr(value)


def describe(row: SourceRow) -> str:
    """What a row is, for messages: ``transfer 0x1f``, ``expiry of 0x1e``, ``document <sha>``."""
    kind = row[1]
    if kind == KIND_TRANSFER:
        return f"transfer {_hex_id(row[3])}"
    if kind == KIND_EXPIRY:
        return f"expiry of {_hex_id(row[2])}"
    digest = row[2]
    return f"document {digest.hex() if type(digest) is bytes else repr(digest)}"


def _cursor_rows(cursor: sqlite3.Cursor) -> Iterator[SourceRow]:
    while True:
        rows = cursor.fetchmany(_FETCH)
        if not rows:
            return
        yield from rows


def sorted_rows(db: sqlite3.Connection) -> Iterator[SourceRow]:
    """Every leaf row of the three tables, in log_index order (ties: transfers first)."""
    streams = [
        _cursor_rows(db.execute(f"{TRANSFER_SELECT} ORDER BY log_index, timestamp")),
        _cursor_rows(db.execute(f"{EXPIRY_SELECT} ORDER BY log_index")),
        _cursor_rows(db.execute(f"{DOCUMENT_SELECT} ORDER BY log_index")),
    ]
    # Rows compare by (log_index, kind) first; rows of one table never tie on both except
    # duplicated transfer log indexes, which then compare by their unique timestamp.
    return heapq.merge(*streams)


def rows_at(db: sqlite3.Connection, index: int) -> list[SourceRow]:
    """The rows that claim log index `index` (exactly one in a sound database)."""
    found: list[SourceRow] = []
    for select in (EXPIRY_SELECT, DOCUMENT_SELECT, TRANSFER_SELECT):
        found.extend(db.execute(f"{select} WHERE log_index = ?", (index,)).fetchall())
    return found


def transfer_by_id(db: sqlite3.Connection, transfer_id: int) -> SourceRow | None:
    """The transfer row with this id, or None."""
    row: SourceRow | None = db.execute(
        f"{TRANSFER_SELECT} WHERE id = ?", (transfer_id.to_bytes(16, "big"),)
    ).fetchone()
    return row
