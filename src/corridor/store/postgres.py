"""The PostgreSQL store: the ledger's tables on a server, one transaction per batch.

`Ledger.open("postgresql://...")` picks this store; it satisfies the same protocol as the
SQLite store (`corridor.store.protocol.LedgerStore`) and keeps the same tables and columns, so
auditors' SQL and `corridor ledger verify` run unchanged on both.

Schema. Versioned SQL files in `corridor/store/migrations/` (`0001_ledger.sql`, ...), applied
in order inside one transaction by `corridor init` or when a writer opens the database, and
recorded with their SHA-256 in `schema_migrations`. A database whose recorded migration
differs from the file of the same number, or that is newer than this corridor, is refused.
Ids are 16-byte big-endian `bytea` (as SQLite's BLOBs): byte order is numeric order, a lookup
compares 16 bytes, and the writer copies the bytes straight from the transfers' audit leaves.
Amounts, balances and timestamps are `bigint`: the ledger caps them at 2^63 - 1.

Write path. `prepare` (on the sequencer thread) encodes a batch as PostgreSQL binary COPY
streams: one for the transfers, built with one precompiled `struct` per row from the audit
leaves' id bytes; one for the accounts' new balances, copied into a temporary table and
applied by a single set-based `UPDATE ... FROM`. `commit` (on the commit thread, the GIL
released while it waits) sends them in one transaction with `synchronous_commit = on`:
BEGIN, COPY transfers, COPY balances, then in one pipeline the UPDATE of the accounts, the
upsert of the audit tree rows and of `meta` (prepared statements) and COMMIT. About eight
round trips a batch, whatever its size. A small batch (PIPELINE_ROWS_MAX rows at most: one
transfer per call, say) skips COPY and goes as prepared INSERTs and UPDATEs with binary
parameters, BEGIN to COMMIT in one pipeline: one round trip plus the WAL flush.

One writer per database (per schema): the writer's connection holds a session-level advisory
lock (`pg_try_advisory_lock`) for the store's lifetime. A second writer gets `WriterBusy`
(``database_busy``) naming the holder. The server drops the lock when the holder's
connection ends: at once when its process dies, within about 25 s (TCP keepalives) when its
host or network does. Readers use their own connections (a small pool), in autocommit, so
every read is one statement on one MVCC snapshot and never blocks the writer.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import psycopg
from psycopg.rows import TupleRow
from psycopg.types.numeric import Int8BinaryDumper, Int8Dumper

from corridor.store.protocol import StoreError, WriterBusy
from corridor.store.rows import AccountStateRow, HistoryRow, LedgerBatch, TransferRow

__all__ = [
    "CONNECT_TIMEOUT_S",
    "READERS_MAX",
    "DatabaseUnavailable",
    "Migration",
    "MigrationReport",
    "PostgresStore",
    "connect",
    "migrate",
    "migrations",
    "redact",
]

CONNECT_TIMEOUT_S: Final = 10
READERS_MAX: Final = 8
"""Reader connections one store keeps open at most (lookups from many threads share them)."""
READER_WAIT_S: Final = 30.0
"""How long a read waits for a free reader connection before giving up."""
PIPELINE_ROWS_MAX: Final = 64
"""Batches of at most this many rows go as prepared statements in one pipeline (one round
trip) instead of COPY streams (two round trips each); one transfer per call then commits in
one round trip plus the WAL flush."""
FETCH_ROWS: Final = 10_000
"""Rows per round trip when recovery streams a whole table."""

WRITER_LOCK_CLASS: Final = 0x636F7272
"""First key of the writer's advisory lock ('corr'); the second is hashtext(schema)."""
MIGRATION_LOCK_CLASS: Final = WRITER_LOCK_CLASS + 1

TCP_KEEPALIVES_IDLE_S: Final = 10
TCP_KEEPALIVES_INTERVAL_S: Final = 5
TCP_KEEPALIVES_COUNT: Final = 3
"""A writer whose host vanished loses its lock after about idle + interval x count = 25 s."""
CLIENT_CHECK_INTERVAL_MS: Final = 5_000
"""The server checks that the writer is still connected while running its statements."""

_ID_FORMAT: Final = re.compile(r"(\d{4})_([a-z0-9_]+)\.sql")
_PASSWORD_IN_URL: Final = re.compile(r"(://[^:/@?#]*):[^@/?#]*@")
_PASSWORD_KEYWORD: Final = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)

Connection = psycopg.Connection[TupleRow]


class DatabaseUnavailable(StoreError):
    """The server cannot be reached, or refused the connection."""

    code = "database_unavailable"


class UnsupportedOnPostgres(StoreError):
    code = "unsupported_database"


def redact(dsn: str) -> str:
    """The connection string without its password, for messages and reports."""
    return _PASSWORD_KEYWORD.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1:***@", dsn))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def connect(dsn: str, *, role: str, read_only: bool = False) -> Connection:
    """An autocommit connection; `StoreError`s instead of psycopg's exceptions.

    Timeouts and keepalives the DSN leaves unset get corridor's defaults.
    """
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error as error:
        raise StoreError(
            f"{redact(dsn)} is not a valid PostgreSQL URL: {_one_line(error)}"
        ) from None
    params.setdefault("connect_timeout", CONNECT_TIMEOUT_S)
    params.setdefault("application_name", f"corridor-{role}")
    params.setdefault("keepalives", 1)
    params.setdefault("keepalives_idle", TCP_KEEPALIVES_IDLE_S)
    params.setdefault("keepalives_interval", TCP_KEEPALIVES_INTERVAL_S)
    params.setdefault("keepalives_count", TCP_KEEPALIVES_COUNT)
    try:
        connection = psycopg.connect(psycopg.conninfo.make_conninfo("", **params), autocommit=True)
    except psycopg.Error as error:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {redact(dsn)}: {_one_line(error)}"
        ) from None
    if read_only:
        try:
            connection.execute("SET default_transaction_read_only = on")
        except psycopg.Error as error:
            connection.close()
            raise DatabaseUnavailable(f"{redact(dsn)}: {_one_line(error)}") from None
    return connection


# -- migrations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str
    sha256: str


@dataclass(frozen=True)
class MigrationReport:
    """What `migrate` found and did."""

    location: str
    schema: str
    version: int
    applied: tuple[int, ...]


@cache
def migrations() -> tuple[Migration, ...]:
    """The migration files shipped with corridor, by version (1, 2, ... without gaps)."""
    folder = importlib.resources.files("corridor.store") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _ID_FORMAT.fullmatch(entry.name)
        if match is None:
            continue
        text = entry.read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        found.append(Migration(int(match[1]), match[2], text, digest))
    found.sort(key=lambda m: m.version)
    assert [m.version for m in found] == list(range(1, len(found) + 1)), "migration numbering"
    return tuple(found)


_SCHEMA_MIGRATIONS: Final = """
CREATE TABLE schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    sha256 text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def _current_schema(connection: Connection, location: str) -> str:
    row = connection.execute("SELECT current_schema()").fetchone()
    if row is None or row[0] is None:
        raise StoreError(
            f"{location}: no schema to keep the ledger in (search_path names no existing schema)"
        )
    return str(row[0])


def _pending_migrations(connection: Connection, location: str) -> list[Migration] | None:
    """Migrations still to apply, in order; None when `schema_migrations` does not exist yet.

    Refuses a schema that holds tables of something else, one migrated by a newer corridor,
    and one whose recorded migrations differ from the files.
    """
    tables = {
        row[0]
        for row in connection.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    known = migrations()
    if "schema_migrations" not in tables:
        if tables:
            raise StoreError(
                f"{location} already holds tables of something else "
                f"({', '.join(sorted(tables)[:5])}); refusing to add corridor tables to it: "
                "use an empty database, or a schema of its own (options=-csearch_path=...)"
            )
        return None
    recorded: dict[int, str] = dict(
        connection.execute("SELECT version, sha256 FROM schema_migrations").fetchall()
    )
    newest = max(recorded, default=0)
    if newest > len(known):
        raise StoreError(
            f"{location} has schema version {newest}; this corridor knows up to "
            f"{len(known)}: upgrade corridor"
        )
    for migration in known:
        digest = recorded.get(migration.version)
        if digest is not None and digest != migration.sha256:
            raise StoreError(
                f"{location}: migration {migration.version} ({migration.name}) was applied from "
                "different SQL than this corridor ships; the schema cannot be trusted"
            )
    return [m for m in known if m.version not in recorded]


def _apply_migrations(connection: Connection, location: str) -> tuple[int, ...]:
    """Apply every pending migration in one transaction; the versions applied."""
    with connection.transaction():
        connection.execute(
            "SELECT pg_advisory_xact_lock(%s::integer, hashtext(current_schema()))",
            (MIGRATION_LOCK_CLASS,),
        )
        pending = _pending_migrations(connection, location)
        if pending is None:
            connection.execute(_SCHEMA_MIGRATIONS)
            pending = list(migrations())
        for migration in pending:
            connection.execute(migration.sql.encode("utf-8"))
            connection.execute(
                "INSERT INTO schema_migrations (version, name, sha256) VALUES (%s, %s, %s)",
                (migration.version, migration.name, migration.sha256),
            )
    return tuple(m.version for m in pending)


def migrate(dsn: str) -> MigrationReport:
    """Bring the database's schema up to date (`corridor init`).

    Nothing to do is fine while a writer runs; applying migrations needs the writer lock, so
    a running writer makes it fail with `WriterBusy`.
    """
    location = redact(dsn)
    connection = connect(dsn, role="migrate")
    try:
        schema = _current_schema(connection, location)
        pending = _pending_migrations(connection, location)
        applied: tuple[int, ...] = ()
        if pending is None or pending:
            _take_writer_lock(connection, location, schema)
            try:
                applied = _apply_migrations(connection, location)
            finally:
                _release_writer_lock(connection)
        return MigrationReport(location, schema, len(migrations()), applied)
    except psycopg.Error as error:
        raise StoreError(f"{location}: cannot migrate: {_one_line(error)}") from None
    finally:
        connection.close()


# -- the writer lock -------------------------------------------------------------------------


def _take_writer_lock(connection: Connection, location: str, schema: str) -> None:
    row = connection.execute(
        "SELECT pg_try_advisory_lock(%s::integer, hashtext(current_schema()))",
        (WRITER_LOCK_CLASS,),
    ).fetchone()
    if row is not None and row[0]:
        return
    holder = connection.execute(
        "SELECT a.pid, a.application_name, host(a.client_addr), a.backend_start::text"
        " FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
        "   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        "   AND l.classid = %s::bigint::oid"
        "   AND l.objid = (hashtext(current_schema())::bigint & 4294967295)::oid",
        (WRITER_LOCK_CLASS,),
    ).fetchone()
    who = (
        f" (server process {holder[0]}, {holder[1] or 'no application name'}"
        f" from {holder[2] or 'a local socket'}, connected since {holder[3]})"
        if holder is not None
        else ""
    )
    raise WriterBusy(
        f"{location} (schema {schema}) is open for writing by another corridor process{who}; "
        "readers (verify, lookups) may run alongside it, writers may not"
    )


def _release_writer_lock(connection: Connection) -> None:
    connection.execute(
        "SELECT pg_advisory_unlock(%s::integer, hashtext(current_schema()))",
        (WRITER_LOCK_CLASS,),
    )


# -- binary COPY encoding --------------------------------------------------------------------

_SIGNATURE: Final = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER: Final = b"\xff\xff"
_NULL: Final = b"\xff\xff\xff\xff"
_ID_LENGTH: Final = struct.pack(">i", 16)
_INT8: Final = struct.Struct(">iq")

# A transfer row whose pending_id and user_data_128 are NULL and whose previous-transfer
# timestamps are not: by far the most common shape, packed in one call.
_TRANSFER_COMMON: Final = struct.Struct(
    ">h" + "iq" + "i16s" * 3 + "iq" + "ii" + "iq" * 4 + "ii" * 2 + "iq" * 3
)
_TRANSFER_HEAD: Final = struct.Struct(">h" + "iq" + "i16s" * 3 + "iq")
_TRANSFER_MIDDLE: Final = struct.Struct(">" + "iq" * 4 + "ii" * 2)
_ACCOUNT_HEAD: Final = struct.Struct(">hiqi16siqiiii")
_ACCOUNT_TAIL: Final = struct.Struct(">iqiq")
_EXPIRY: Final = struct.Struct(">hi16siqiq")
_DOCUMENT: Final = struct.Struct(">hiqi32siq")
_HISTORY: Final = struct.Struct(">hi16s" + "iq" * 5)
_BALANCE: Final = struct.Struct(">h" + "iq" * 7)


def _copy_stream(rows: list[bytes]) -> bytes:
    return b"".join([_SIGNATURE, *rows, _TRAILER])


def _transfer_any(r: TransferRow, leaf: bytes, log_index: int) -> bytes:
    return b"".join(
        (
            _TRANSFER_HEAD.pack(
                16, 8, r[0], 16, leaf[2:18], 16, leaf[18:34], 16, leaf[34:50], 8, r[4]
            ),
            _ID_LENGTH + leaf[50:66] if r[5] else _NULL,
            _ID_LENGTH + leaf[66:82] if r[6] else _NULL,
            _TRANSFER_MIDDLE.pack(8, r[7], 8, r[8], 8, r[9], 8, r[10], 4, r[11], 4, r[12]),
            _INT8.pack(8, r[13]) if r[13] else _NULL,
            _INT8.pack(8, r[14]) if r[14] else _NULL,
            _INT8.pack(8, log_index),
        )
    )


def _encode_transfers(rows: list[TransferRow], leaves: list[bytes], first_log_index: int) -> bytes:
    """The COPY stream of a batch's transfers. Ids come from the audit leaves, which hold
    them as 16-byte big-endian values already (corridor.audit.leaf)."""
    pack = _TRANSFER_COMMON.pack
    general = _transfer_any
    indexes = range(first_log_index, first_log_index + len(rows))
    # fmt: off
    encoded = [
        pack(16, 8, r[0], 16, leaf[2:18], 16, leaf[18:34], 16, leaf[34:50], 8, r[4], -1, -1,
             8, r[7], 8, r[8], 8, r[9], 8, r[10], 4, r[11], 4, r[12], 8, r[13], 8, r[14],
             8, log_index)
        if r[13] and r[14] and not (r[5] or r[6])
        else general(r, leaf, log_index)
        for r, leaf, log_index in zip(rows, leaves, indexes, strict=True)
    ]
    # fmt: on
    return _copy_stream(encoded)


def _transfer_parameters(r: TransferRow, leaf: bytes, log_index: int) -> tuple[Any, ...]:
    """A transfer row as the parameters of _INSERT_TRANSFER (NULL for zero ids and links)."""
    return (
        r[0],
        leaf[2:18],
        leaf[18:34],
        leaf[34:50],
        r[4],
        leaf[50:66] if r[5] else None,
        leaf[66:82] if r[6] else None,
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
        r[13] or None,
        r[14] or None,
        log_index,
    )


def _id(value: int) -> bytes:
    return value.to_bytes(16, "big")


def _int(value: bytes | None) -> int:
    return int.from_bytes(value, "big") if value else 0


class PreparedBatch:
    """A LedgerBatch encoded for one transaction: COPY streams for a large batch, rows of
    parameters for prepared statements sent in one pipeline for a small one."""

    __slots__ = ("copies", "log_rows", "meta", "rows", "update_balances")

    def __init__(self) -> None:
        self.copies: list[tuple[str, bytes]] = []
        self.rows: list[tuple[str, list[tuple[Any, ...]]]] = []
        self.update_balances = False
        self.log_rows: list[tuple[int, int, bytes]] = []
        self.meta: tuple[str, str] = ("0", "0")


# -- statements ------------------------------------------------------------------------------

_TRANSFER_COLUMNS: Final = (
    "timestamp, id, debit_account_id, credit_account_id, amount, pending_id, user_data_128, "
    "user_data_64, user_data_32, timeout, ledger, code, flags, "
    "debit_previous_timestamp, credit_previous_timestamp"
)
_ACCOUNT_COLUMNS: Final = (
    "timestamp, id, ledger, code, flags, user_data_128, user_data_64, user_data_32, "
    "debits_pending, debits_posted, credits_pending, credits_posted, last_transfer_timestamp"
)
_BALANCE_COLUMNS: Final = (
    "flags",
    "debits_pending",
    "debits_posted",
    "credits_pending",
    "credits_posted",
    "last_transfer_timestamp",
)

_COPY_ACCOUNTS: Final = (
    "COPY accounts (timestamp, id, ledger, code, flags, user_data_128, user_data_64,"
    " user_data_32) FROM STDIN (FORMAT BINARY)"
)
_COPY_TRANSFERS: Final = (
    f"COPY transfers ({_TRANSFER_COLUMNS}, log_index) FROM STDIN (FORMAT BINARY)"
)
_COPY_EXPIRIES: Final = (
    "COPY expirations (pending_id, timestamp, log_index) FROM STDIN (FORMAT BINARY)"
)
_COPY_DOCUMENTS: Final = "COPY documents (log_index, sha256, timestamp) FROM STDIN (FORMAT BINARY)"
_COPY_HISTORY: Final = (
    "COPY account_balances (account_id, timestamp, debits_pending, debits_posted,"
    " credits_pending, credits_posted) FROM STDIN (FORMAT BINARY)"
)
_BALANCE_TABLE: Final = (
    "CREATE TEMPORARY TABLE balance_updates (timestamp bigint, "
    + ", ".join(f"{column} bigint" for column in _BALANCE_COLUMNS)
    + ") ON COMMIT DELETE ROWS"
)
_COPY_BALANCES: Final = (
    f"COPY pg_temp.balance_updates (timestamp, {', '.join(_BALANCE_COLUMNS)})"
    " FROM STDIN (FORMAT BINARY)"
)
_UPDATE_BALANCES: Final = (
    "UPDATE accounts AS a SET "
    + ", ".join(f"{column} = u.{column}" for column in _BALANCE_COLUMNS)
    + " FROM pg_temp.balance_updates AS u WHERE a.timestamp = u.timestamp"
)
# Binary parameters, sent pipelined by executemany: an array parameter of 8 KiB hashes rows
# goes as text and cost 50 ms a batch to escape and parse, against 4 ms this way.
_UPSERT_LOG_ROW: Final = (
    "INSERT INTO log_hashes (level, row, hashes) VALUES (%b, %b, %b)"
    " ON CONFLICT (level, row) DO UPDATE SET hashes = excluded.hashes"
)
_INSERT_ACCOUNT: Final = (
    "INSERT INTO accounts (timestamp, id, ledger, code, flags, user_data_128, user_data_64,"
    " user_data_32) VALUES (%b, %b, %b, %b, %b, %b, %b, %b)"
)
_INSERT_TRANSFER: Final = (
    f"INSERT INTO transfers ({_TRANSFER_COLUMNS}, log_index) VALUES ("
    + ", ".join(["%b"] * 16)
    + ")"
)
_INSERT_EXPIRY: Final = (
    "INSERT INTO expirations (pending_id, timestamp, log_index) VALUES (%b, %b, %b)"
)
_INSERT_DOCUMENT: Final = "INSERT INTO documents (log_index, sha256, timestamp) VALUES (%b, %b, %b)"
_INSERT_HISTORY: Final = (
    "INSERT INTO account_balances (account_id, timestamp, debits_pending, debits_posted,"
    " credits_pending, credits_posted) VALUES (%b, %b, %b, %b, %b, %b)"
)
_UPDATE_BALANCE: Final = (
    "UPDATE accounts SET "
    + ", ".join(f"{column} = %b" for column in _BALANCE_COLUMNS)
    + " WHERE timestamp = %b"
)
_UPSERT_META: Final = (
    "INSERT INTO meta (key, value) VALUES ('last_timestamp', %s), ('log_size', %s)"
    " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)

_OPEN_PENDING: Final = (
    f"SELECT {_TRANSFER_COLUMNS} FROM transfers AS t WHERE (t.flags & 2) != 0"
    " AND NOT EXISTS (SELECT 1 FROM transfers AS r WHERE r.pending_id = t.id)"
    " AND NOT EXISTS (SELECT 1 FROM expirations AS x WHERE x.pending_id = t.id)"
    " ORDER BY t.timestamp"
)

_PENDING_STATUS: Final = (
    "SELECT t.flags,"
    " (SELECT r.flags FROM transfers AS r WHERE r.pending_id = t.id LIMIT 1),"
    " EXISTS (SELECT 1 FROM expirations AS x WHERE x.pending_id = t.id)"
    " FROM transfers AS t WHERE t.id = %s"
)

_MATCHES: Final = (
    "((%(max)s = 0 OR t.timestamp <= %(max)s)"
    " AND ((%(debits)s AND t.debit_account_id = %(account)s)"
    "  OR (%(credits)s AND t.credit_account_id = %(account)s)))"
)
# An account's transfers, walking its linked list from the newest one in one statement (one
# snapshot). `matched` counts the matching transfers newer than the row; the walk stops past
# `timestamp_min`, or once `stop` matches are behind it (newest-first pages).
_ACCOUNT_TRANSFERS: Final = (
    "WITH RECURSIVE walk (ts, matched) AS ("
    " SELECT last_transfer_timestamp, 0 FROM accounts"
    "  WHERE id = %(account)s AND last_transfer_timestamp != 0"
    " UNION ALL"
    " SELECT CASE WHEN t.debit_account_id = %(account)s"
    "  THEN t.debit_previous_timestamp ELSE t.credit_previous_timestamp END,"
    f"  w.matched + CASE WHEN {_MATCHES} THEN 1 ELSE 0 END"
    "  FROM walk AS w JOIN transfers AS t ON t.timestamp = w.ts"
    "  WHERE w.ts >= %(min)s AND w.matched < %(stop)s"
    f") SELECT {', '.join('t.' + c for c in _TRANSFER_COLUMNS.split(', '))}"
    " FROM walk AS w JOIN transfers AS t ON t.timestamp = w.ts"
    f" WHERE w.ts >= %(min)s AND {_MATCHES}"
    " ORDER BY t.timestamp {order} LIMIT %(limit)s"
)
_WALK_ALL: Final = 1 << 62


def _transfer_row(r: Sequence[Any]) -> TransferRow:
    return (
        r[0],
        _int(r[1]),
        _int(r[2]),
        _int(r[3]),
        r[4],
        _int(r[5]),
        _int(r[6]),
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
        r[13] or 0,
        r[14] or 0,
    )


def _account_row(r: Sequence[Any]) -> AccountStateRow:
    return (
        r[0],
        _int(r[1]),
        r[2],
        r[3],
        r[4],
        _int(r[5]),
        r[6],
        r[7],
        r[8],
        r[9],
        r[10],
        r[11],
        r[12],
    )


# -- readers ---------------------------------------------------------------------------------


class _Readers:
    """A small pool of read-only autocommit connections, opened on demand."""

    def __init__(self, dsn: str, location: str, limit: int) -> None:
        self._dsn = dsn
        self._location = location
        self._limit = limit
        self._idle: list[Connection] = []
        self._open = 0
        self._closed = False
        self._condition = threading.Condition()

    def _take(self) -> Connection:
        with self._condition:
            if not self._condition.wait_for(
                lambda: self._closed or self._idle or self._open < self._limit,
                timeout=READER_WAIT_S,
            ):
                raise DatabaseUnavailable(
                    f"{self._location}: all {self._limit} reader connections stayed busy for "
                    f"{READER_WAIT_S:.0f} s"
                )
            if self._closed:
                raise StoreError(f"{self._location} is closed")
            if self._idle:
                return self._idle.pop()
            self._open += 1
        try:
            return connect(self._dsn, role="reader", read_only=True)
        except BaseException:
            with self._condition:
                self._open -= 1
                self._condition.notify()
            raise

    def _give(self, connection: Connection) -> None:
        healthy = (
            not connection.closed
            and connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        )
        with self._condition:
            if healthy and not self._closed:
                self._idle.append(connection)
            else:
                self._open -= 1
                connection.close()
            self._condition.notify()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        connection = self._take()
        try:
            yield connection
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(f"{self._location}: {_one_line(error)}") from None
        except psycopg.Error as error:
            raise StoreError(f"{self._location}: {_one_line(error)}") from None
        finally:
            self._give(connection)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._condition.notify_all()
        for connection in idle:
            connection.close()


# -- the store -------------------------------------------------------------------------------


class PostgresStore:
    """Ledger storage in a PostgreSQL database (its current schema). One writer connection
    holding the advisory lock, a pool of reader connections."""

    def __init__(self, dsn: str, *, readers_max: int = READERS_MAX) -> None:
        self.dsn = dsn
        self.location = redact(dsn)
        self._closed = False
        self._writer = connect(dsn, role="writer")
        try:
            self.schema = _current_schema(self._writer, self.location)
            in_recovery = self._writer.execute("SELECT pg_is_in_recovery()").fetchone()
            if in_recovery is not None and in_recovery[0]:
                raise StoreError(
                    f"{self.location} is a read-only standby; open the writer on the primary"
                )
            _take_writer_lock(self._writer, self.location, self.schema)
            _apply_migrations(self._writer, self.location)
            self._writer.execute("SET synchronous_commit = on")
            if self._writer.info.server_version >= 140000:
                self._writer.execute(
                    f"SET client_connection_check_interval = {CLIENT_CHECK_INTERVAL_MS}"
                )
            self._writer.execute(f"SET tcp_keepalives_idle = {TCP_KEEPALIVES_IDLE_S}")
            self._writer.execute(f"SET tcp_keepalives_interval = {TCP_KEEPALIVES_INTERVAL_S}")
            self._writer.execute(f"SET tcp_keepalives_count = {TCP_KEEPALIVES_COUNT}")
            self._writer.execute(_BALANCE_TABLE)
            self.settings: dict[str, str] = dict(
                self._writer.execute(
                    "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit',"
                    " 'fsync', 'full_page_writes', 'wal_sync_method', 'server_version',"
                    " 'synchronous_standby_names')"
                ).fetchall()
            )
        except psycopg.Error as error:
            self._writer.close()
            raise StoreError(
                f"cannot open {self.location} as a ledger: {_one_line(error)}"
            ) from None
        except BaseException:
            self._writer.close()  # the server drops the advisory lock with the session
            raise
        # Every int the writer sends fits a bigint (ids go as bytes): one parameter type, so
        # one prepared statement per query instead of one per mix of int2, int4 and int8.
        self._writer.adapters.register_dumper(int, Int8BinaryDumper)
        self._writer.adapters.register_dumper(int, Int8Dumper)
        self._cursor = self._writer.cursor()
        self._pipelined = psycopg.Pipeline.is_supported()  # libpq >= 14
        self._readers = _Readers(dsn, self.location, readers_max)

    @property
    def path(self) -> Path:
        raise UnsupportedOnPostgres(
            f"{self.location}: the side tables of the switch and the audit registry are kept in "
            "SQLite only; open a SQLite ledger for them (docs/SCALING.md)"
        )

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._readers.close()
        try:
            if not self._writer.closed:
                _release_writer_lock(self._writer)
        except psycopg.Error:
            pass  # a broken connection: the server drops the lock with it
        finally:
            self._writer.close()

    # -- the write path ------------------------------------------------------------------

    def prepare(self, batch: LedgerBatch) -> PreparedBatch:
        """Encode a batch (on the sequencer thread, so that the commit thread only waits on
        the server)."""
        prepared = PreparedBatch()
        expiry_index = batch.log_first_index
        transfer_index = expiry_index + len(batch.expiries)
        document_index = transfer_index + len(batch.transfers)
        rows = (
            len(batch.accounts) + len(batch.transfers) + len(batch.expiries)
            + len(batch.documents) + len(batch.history) + len(batch.balances)
        )  # fmt: skip
        if rows <= PIPELINE_ROWS_MAX:
            self._prepare_rows(batch, prepared, transfer_index, document_index)
        else:
            self._prepare_copies(batch, prepared, transfer_index, document_index)
        prepared.log_rows = [(level, row, blob) for (level, row), blob in batch.log_rows.items()]
        prepared.meta = (str(batch.last_timestamp), str(batch.log_size))
        return prepared

    @staticmethod
    def _prepare_copies(
        batch: LedgerBatch, prepared: PreparedBatch, transfer_index: int, document_index: int
    ) -> None:
        copies = prepared.copies
        if batch.accounts:
            head, tail = _ACCOUNT_HEAD.pack, _ACCOUNT_TAIL.pack
            stream = _copy_stream(
                [
                    head(8, 8, ts, 16, _id(id), 8, ledger, 4, code, 4, flags)
                    + (_ID_LENGTH + _id(ud128) if ud128 else _NULL)
                    + tail(8, ud64, 8, ud32)
                    for ts, id, ledger, code, flags, ud128, ud64, ud32 in batch.accounts
                ]
            )
            copies.append((_COPY_ACCOUNTS, stream))
        if batch.transfers:
            stream = _encode_transfers(batch.transfers, batch.transfer_leaves, transfer_index)
            copies.append((_COPY_TRANSFERS, stream))
        if batch.expiries:
            first = batch.log_first_index
            stream = _copy_stream(
                [
                    _EXPIRY.pack(3, 16, _id(pending_id), 8, ts, 8, first + k)
                    for k, (pending_id, ts) in enumerate(batch.expiries)
                ]
            )
            copies.append((_COPY_EXPIRIES, stream))
        if batch.documents:
            stream = _copy_stream(
                [
                    _DOCUMENT.pack(3, 8, document_index + k, 32, digest, 8, ts)
                    for k, (digest, ts) in enumerate(batch.documents)
                ]
            )
            copies.append((_COPY_DOCUMENTS, stream))
        if batch.history:
            stream = _copy_stream(
                [
                    _HISTORY.pack(6, 16, _id(r[0]), 8, r[1], 8, r[2], 8, r[3], 8, r[4], 8, r[5])
                    for r in batch.history
                ]
            )
            copies.append((_COPY_HISTORY, stream))
        if batch.balances:
            pack = _BALANCE.pack
            stream = _copy_stream(
                [
                    pack(7, 8, r[0], 8, r[1], 8, r[2], 8, r[3], 8, r[4], 8, r[5], 8, r[6])
                    for r in batch.balances
                ]
            )
            copies.append((_COPY_BALANCES, stream))
            prepared.update_balances = True

    @staticmethod
    def _prepare_rows(
        batch: LedgerBatch, prepared: PreparedBatch, transfer_index: int, document_index: int
    ) -> None:
        rows = prepared.rows
        if batch.accounts:
            rows.append(
                (
                    _INSERT_ACCOUNT,
                    [
                        (
                            ts,
                            _id(id),
                            ledger,
                            code,
                            flags,
                            _id(ud128) if ud128 else None,
                            ud64,
                            ud32,
                        )
                        for ts, id, ledger, code, flags, ud128, ud64, ud32 in batch.accounts
                    ],
                )
            )
        if batch.transfers:
            indexes = range(transfer_index, transfer_index + len(batch.transfers))
            rows.append(
                (
                    _INSERT_TRANSFER,
                    [
                        _transfer_parameters(r, leaf, index)
                        for r, leaf, index in zip(
                            batch.transfers, batch.transfer_leaves, indexes, strict=True
                        )
                    ],
                )
            )
        if batch.expiries:
            first = batch.log_first_index
            rows.append(
                (
                    _INSERT_EXPIRY,
                    [
                        (_id(pending_id), ts, first + k)
                        for k, (pending_id, ts) in enumerate(batch.expiries)
                    ],
                )
            )
        if batch.documents:
            rows.append(
                (
                    _INSERT_DOCUMENT,
                    [
                        (document_index + k, digest, ts)
                        for k, (digest, ts) in enumerate(batch.documents)
                    ],
                )
            )
        if batch.history:
            rows.append((_INSERT_HISTORY, [(_id(r[0]), *r[1:]) for r in batch.history]))
        if batch.balances:
            rows.append((_UPDATE_BALANCE, [(*r[1:], r[0]) for r in batch.balances]))

    def commit(self, prepared: PreparedBatch) -> None:
        """Write one prepared batch in one durable transaction; all of it or nothing.

        COPY cannot run in a pipeline: a large batch costs BEGIN, two round trips a COPY,
        one for the statements after them, and COMMIT. A small batch goes BEGIN to COMMIT in
        one pipeline: one round trip.
        """
        connection = self._writer
        if not prepared.copies and self._pipelined:
            with connection.pipeline(), connection.transaction():
                self._execute(prepared)
            return
        with connection.transaction():
            cursor = self._cursor
            for statement, stream in prepared.copies:
                with cursor.copy(statement) as copy:
                    copy.write(stream)
            with connection.pipeline() if self._pipelined else nullcontext():
                self._execute(prepared)

    def _execute(self, prepared: PreparedBatch) -> None:
        cursor = self._cursor
        for statement, rows in prepared.rows:
            cursor.executemany(statement, rows)
        if prepared.log_rows:
            cursor.executemany(_UPSERT_LOG_ROW, prepared.log_rows)
        if prepared.update_balances:
            cursor.execute(_UPDATE_BALANCES, prepare=True)
        cursor.execute(_UPSERT_META, prepared.meta, prepare=True)

    # -- recovery ------------------------------------------------------------------------

    def _stream(self, statement: str) -> Iterator[tuple[Any, ...]]:
        """Every row of a query, fetched FETCH_ROWS at a time through a server-side cursor."""
        with (
            self._readers.connection() as connection,
            connection.transaction(),
            connection.cursor(name="corridor_recovery", binary=True) as cursor,
        ):
            cursor.itersize = FETCH_ROWS
            cursor.execute(statement)
            yield from cursor

    def _one(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> Any:
        with self._readers.connection() as connection, connection.cursor(binary=True) as cursor:
            return cursor.execute(statement, params).fetchone()

    def _all(self, statement: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self._readers.connection() as connection, connection.cursor(binary=True) as cursor:
            return cursor.execute(statement, params).fetchall()

    def last_timestamp(self) -> int:
        row = self._one(
            "SELECT greatest("
            " coalesce((SELECT value::bigint FROM meta WHERE key = 'last_timestamp'), 0),"
            " coalesce((SELECT max(timestamp) FROM transfers), 0),"
            " coalesce((SELECT max(timestamp) FROM accounts), 0),"
            " coalesce((SELECT max(timestamp) FROM expirations), 0))"
        )
        return int(row[0])

    def log_size(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'log_size'")
        return int(row[0]) if row else 0

    def log_row(self, level: int, row: int) -> bytes | None:
        found = self._one(
            "SELECT hashes FROM log_hashes WHERE level = %s AND row = %s", (level, row)
        )
        return bytes(found[0]) if found else None

    def iter_accounts(self) -> Iterator[AccountStateRow]:
        for r in self._stream(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts"):
            yield _account_row(r)

    def iter_transfer_ids(self) -> Iterator[int]:
        from_bytes = int.from_bytes
        for (id,) in self._stream("SELECT id FROM transfers"):
            yield from_bytes(id, "big")

    def iter_open_pending(self) -> Iterator[TransferRow]:
        for r in self._stream(_OPEN_PENDING):
            yield _transfer_row(r)

    # -- reads ---------------------------------------------------------------------------

    def transfer_row(self, id: int) -> TransferRow | None:
        r = self._one(f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE id = %s", (_id(id),))
        return _transfer_row(r) if r else None

    def pending_status_code(self, pending_id: int) -> str | None:
        row = self._one(_PENDING_STATUS, (_id(pending_id),))
        if row is None or not row[0] & 2:
            return None
        if row[1] is not None:
            return "posted" if row[1] & 4 else "voided"
        return "expired" if row[2] else "pending"

    def account_rows(self, ids: Sequence[int]) -> list[AccountStateRow | None]:
        if not ids:
            return []
        found = {
            r[1]: r
            for r in self._all(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ANY(%s)",
                ([_id(id) for id in ids],),
            )
        }
        rows = [found.get(_id(id)) for id in ids]
        return [_account_row(r) if r is not None else None for r in rows]

    def transfer_rows(self, ids: Sequence[int]) -> list[TransferRow | None]:
        if not ids:
            return []
        found = {
            r[1]: r
            for r in self._all(
                f"SELECT {_TRANSFER_COLUMNS} FROM transfers WHERE id = ANY(%s)",
                ([_id(id) for id in ids],),
            )
        }
        rows = [found.get(_id(id)) for id in ids]
        return [_transfer_row(r) if r is not None else None for r in rows]

    def account_transfer_rows(
        self,
        account_id: int,
        *,
        timestamp_min: int,
        timestamp_max: int,
        limit: int,
        debits: bool,
        credits: bool,
        newest_first: bool,
    ) -> list[TransferRow]:
        """An account's transfers by walking its linked list from the newest one, in one
        recursive statement. Newest-first pages cost O(limit); oldest-first pages walk back
        to `timestamp_min`."""
        if not (debits or credits):
            return []
        statement = _ACCOUNT_TRANSFERS.replace("{order}", "DESC" if newest_first else "ASC")
        rows = self._all(
            statement,
            {
                "account": _id(account_id),
                "min": timestamp_min,
                "max": timestamp_max,
                "debits": debits,
                "credits": credits,
                "stop": limit if newest_first else _WALK_ALL,
                "limit": limit,
            },
        )
        return [_transfer_row(r) for r in rows]

    def balance_rows(
        self,
        account_id: int,
        *,
        timestamp_min: int,
        timestamp_max: int,
        limit: int,
        newest_first: bool,
    ) -> list[HistoryRow]:
        order = "DESC" if newest_first else "ASC"
        upper = timestamp_max or (1 << 63) - 1
        rows = self._all(
            "SELECT account_id, timestamp, debits_pending, debits_posted, credits_pending,"
            " credits_posted FROM account_balances WHERE account_id = %s"
            f" AND timestamp BETWEEN %s AND %s ORDER BY timestamp {order} LIMIT %s",
            (_id(account_id), timestamp_min, upper, limit),
        )
        return [(_int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in rows]
