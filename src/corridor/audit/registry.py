"""The operator's audit records, kept in the ledger's own SQLite file.

What the log has signed and who has witnessed it must survive with the log itself, so it is
stored next to the ledger's tables, in the same database file, through a connection of its
own (the ledger's single writer is never involved; its `BEGIN IMMEDIATE` transactions and
ours wait for each other through SQLite's busy timeout, and ours are a few rows long):

- ``meta`` keys ``log_origin``, ``log_vkey`` (the C2SP verifier key of the log), and
  ``log_key_file`` (where `corridor init` put the signing key), written once by
  `corridor init`; ``witness_quorum``, how many known witnesses make a checkpoint witnessed;
- ``checkpoints``: every signed checkpoint, one per tree size (signing the same size twice
  gives the same note, Ed25519 being deterministic; a different root at a signed size is
  refused before it gets here), with its note text and when it was signed;
- ``witnesses``: the witnesses the operator knows, by name, with their verifier keys;
- ``cosignatures``: each witness's latest cosignature of each checkpoint, as the signature
  line to append to the checkpoint's note, with the witness key it verified with.

Reads that must agree with each other (the log size and the tree rows for a root or a proof)
run inside `AuditStore.snapshot()`, one read transaction: in WAL mode it sees one commit of
the ledger, whatever the writer does meanwhile.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.audit.errors import AuditError, LogKeyError
from corridor.audit.tiles import TileReader
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, read_transaction

__all__ = [
    "AUDIT_SCHEMA",
    "AuditStore",
    "CheckpointRecord",
    "CosignatureRecord",
    "LogInfo",
    "WitnessRecord",
    "now",
]

AUDIT_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    created INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS witnesses (
    name TEXT PRIMARY KEY,
    vkey TEXT NOT NULL,
    added INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS cosignatures (
    size INTEGER NOT NULL REFERENCES checkpoints (size),
    witness TEXT NOT NULL,
    vkey TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    signature TEXT NOT NULL,
    received INTEGER NOT NULL,
    PRIMARY KEY (size, witness)
);
"""
"""The audit tables (`created`, `added`, `timestamp`, `received` are Unix seconds)."""

META_ORIGIN: Final = "log_origin"
META_VKEY: Final = "log_vkey"
META_KEY_FILE: Final = "log_key_file"
META_QUORUM: Final = "witness_quorum"


@dataclass(frozen=True)
class LogInfo:
    """What `corridor init` recorded: the log's origin, verifier key and key file."""

    origin: str
    vkey: str
    key_file: str | None


@dataclass(frozen=True)
class CheckpointRecord:
    """A stored checkpoint: tree size, root hash, the log-signed note and when it was made."""

    size: int
    root: bytes
    note: str
    created: int


@dataclass(frozen=True)
class WitnessRecord:
    """A known witness: its key name and its C2SP cosignature verifier key."""

    name: str
    vkey: str
    added: int


@dataclass(frozen=True)
class CosignatureRecord:
    """A witness's cosignature of the checkpoint of `size`, as a note signature line."""

    size: int
    witness: str
    vkey: str
    timestamp: int
    signature: str
    received: int


def now() -> int:
    """Unix seconds, for the `created`, `added` and `received` columns."""
    return int(time.time())


class AuditStore:
    """The audit tables of one ledger database, through a connection of their own."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    @classmethod
    def open(cls, path: Path, *, writable: bool = False) -> AuditStore:
        """Open the audit records of an existing corridor database.

        With `writable`, the audit tables are created if missing; without, nothing is ever
        written and missing tables read as empty (an auditor's copy stays untouched).
        Raises `AuditError` ``database_not_found`` or ``not_a_corridor_database``.
        """
        if not path.is_file():
            raise AuditError("database_not_found", f"{path}: no such database file")
        try:
            connection = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as error:
            raise AuditError("not_a_corridor_database", f"cannot open {path}: {error}") from None
        store = cls(path, connection)
        try:
            tables = store._tables()
            if "meta" not in tables or "log_hashes" not in tables:
                raise AuditError(
                    "not_a_corridor_database",
                    f"{path} is not a corridor database (no meta or log_hashes table)",
                )
            if writable and not {"checkpoints", "witnesses", "cosignatures"} <= tables:
                connection.executescript(AUDIT_SCHEMA)
            connection.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as error:
            connection.close()
            raise AuditError(
                "not_a_corridor_database", f"cannot read {path} as a corridor database: {error}"
            ) from None
        except AuditError:
            connection.close()
            raise
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The raw connection, for whole-table reads such as `corridor audit verify`."""
        return self._db

    def _tables(self) -> set[str]:
        return {
            row[0]
            for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }

    def has_audit_tables(self) -> bool:
        return "checkpoints" in self._tables()

    # -- transactions ----------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every read inside sees the same committed state."""
        with read_transaction(self._db):
            yield

    @contextmanager
    def write(self) -> Iterator[None]:
        """One short write transaction (BEGIN IMMEDIATE: waits for the ledger's writer)."""
        with immediate_transaction(self._db):
            yield

    # -- meta ------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Upsert one meta key (call inside `write()`)."""
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def log_info(self) -> LogInfo | None:
        """The log's origin and keys, or None if `corridor init` has not run on this db."""
        origin, vkey = self.meta(META_ORIGIN), self.meta(META_VKEY)
        if origin is None or vkey is None:
            return None
        return LogInfo(origin, vkey, self.meta(META_KEY_FILE))

    def require_log_info(self) -> LogInfo:
        info = self.log_info()
        if info is None:
            raise LogKeyError(
                "not_initialized",
                f"{self.path} has no log key yet: run `corridor init --db {self.path}`",
            )
        return info

    def record_log_info(self, origin: str, vkey: str, key_file: str) -> bool:
        """Record the log's identity once; False (nothing written) if already recorded."""
        with self.write():
            if self.meta(META_VKEY) is not None:
                return False
            self.set_meta(META_ORIGIN, origin)
            self.set_meta(META_VKEY, vkey)
            self.set_meta(META_KEY_FILE, key_file)
        return True

    # -- the stored tree -------------------------------------------------------------------

    def log_size(self) -> int:
        """Leaves in the durable log (meta ``log_size``, written by the ledger's commits)."""
        value = self.meta("log_size")
        try:
            return int(value) if value is not None else 0
        except ValueError:
            raise AuditError("log_mismatch", f"meta log_size {value!r} is not a number") from None

    def log_row(self, level: int, row: int) -> bytes | None:
        found = self._db.execute(
            "SELECT CAST(hashes AS BLOB) FROM log_hashes WHERE level = ? AND row = ?", (level, row)
        ).fetchone()
        return bytes(found[0]) if found else None

    def tile_reader(self, size: int | None = None) -> TileReader:
        """Roots and proofs of the stored tree (use inside `snapshot()` with `log_size`)."""
        return TileReader(self.log_row, self.log_size() if size is None else size)

    # -- checkpoints -----------------------------------------------------------------------

    def add_checkpoint(self, record: CheckpointRecord) -> CheckpointRecord:
        """Store a checkpoint; if its size is already stored, return the stored one."""
        with self.write():
            self._db.execute(
                "INSERT INTO checkpoints (size, root, note, created) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (size) DO NOTHING",
                (record.size, record.root, record.note, record.created),
            )
            stored = self.checkpoint(record.size)
        assert stored is not None
        return stored

    def checkpoints(self) -> list[CheckpointRecord]:
        """Every stored checkpoint, by size."""
        if not self.has_audit_tables():
            return []
        rows = self._db.execute(
            "SELECT size, root, note, created FROM checkpoints ORDER BY size"
        ).fetchall()
        return [_checkpoint(row) for row in rows]

    def checkpoint(self, size: int) -> CheckpointRecord | None:
        if not self.has_audit_tables():
            return None
        row = self._db.execute(
            "SELECT size, root, note, created FROM checkpoints WHERE size = ?", (size,)
        ).fetchone()
        return _checkpoint(row) if row else None

    def latest_checkpoint(self) -> CheckpointRecord | None:
        if not self.has_audit_tables():
            return None
        row = self._db.execute(
            "SELECT size, root, note, created FROM checkpoints ORDER BY size DESC LIMIT 1"
        ).fetchone()
        return _checkpoint(row) if row else None

    def checkpoint_covering(self, index: int) -> CheckpointRecord | None:
        """The latest checkpoint whose tree contains leaf `index`."""
        latest = self.latest_checkpoint()
        return latest if latest is not None and latest.size > index else None

    # -- witnesses -------------------------------------------------------------------------

    def witnesses(self) -> list[WitnessRecord]:
        if not self.has_audit_tables():
            return []
        rows = self._db.execute("SELECT name, vkey, added FROM witnesses ORDER BY name")
        return [WitnessRecord(str(r[0]), str(r[1]), int(r[2])) for r in rows]

    def quorum(self) -> int:
        """Cosignatures of known witnesses a checkpoint needs to be witnessed (default 1)."""
        value = self.meta(META_QUORUM)
        try:
            return int(value) if value is not None else 1
        except ValueError:
            return 1

    def update_witnesses(
        self,
        *,
        add: WitnessRecord | None = None,
        remove: str | None = None,
        quorum: int | None = None,
    ) -> tuple[list[WitnessRecord], int]:
        """Add or remove one witness and/or set the quorum, keeping 1 <= quorum <= witnesses.

        Returns the witnesses and the quorum after the change. Codes: ``witness_exists``,
        ``unknown_witness``, ``bad_quorum``.
        """
        with self.write():
            names = {w.name: w for w in self.witnesses()}
            if add is not None:
                if add.name in names:
                    if names[add.name].vkey != add.vkey:
                        raise AuditError(
                            "witness_exists",
                            f"witness {add.name} is already known with another key;"
                            " remove it first",
                        )
                else:
                    self._db.execute(
                        "INSERT INTO witnesses (name, vkey, added) VALUES (?, ?, ?)",
                        (add.name, add.vkey, add.added),
                    )
                    names[add.name] = add
            if remove is not None:
                if remove not in names:
                    raise AuditError("unknown_witness", f"no witness named {remove!r}")
                self._db.execute("DELETE FROM witnesses WHERE name = ?", (remove,))
                del names[remove]
            new_quorum = self.quorum() if quorum is None else quorum
            if quorum is not None and quorum < 1:
                raise AuditError("bad_quorum", f"the quorum must be at least 1, not {quorum}")
            if names and new_quorum > len(names):
                raise AuditError(
                    "bad_quorum",
                    f"a quorum of {new_quorum} needs at least {new_quorum} witnesses;"
                    f" {len(names)} known",
                )
            if quorum is not None:
                self.set_meta(META_QUORUM, str(quorum))
        return self.witnesses(), new_quorum

    # -- cosignatures ----------------------------------------------------------------------

    def add_cosignature(self, record: CosignatureRecord) -> None:
        """Store a witness's cosignature of a checkpoint (a newer one replaces an older)."""
        with self.write():
            self._db.execute(
                "INSERT INTO cosignatures (size, witness, vkey, timestamp, signature, received)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (size, witness) DO UPDATE SET"
                " vkey = excluded.vkey, timestamp = excluded.timestamp,"
                " signature = excluded.signature, received = excluded.received"
                " WHERE excluded.timestamp >= cosignatures.timestamp",
                (
                    record.size,
                    record.witness,
                    record.vkey,
                    record.timestamp,
                    record.signature,
                    record.received,
                ),
            )

    def cosignatures(self, size: int | None = None) -> list[CosignatureRecord]:
        """Stored cosignatures, of one checkpoint or of all, by size then witness name."""
        if not self.has_audit_tables():
            return []
        query = (
            "SELECT size, witness, vkey, timestamp, signature, received FROM cosignatures"
            + ("" if size is None else " WHERE size = ?")
            + " ORDER BY size, witness"
        )
        rows = self._db.execute(query, () if size is None else (size,)).fetchall()
        return [
            CosignatureRecord(int(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4]), int(r[5]))
            for r in rows
        ]

    def witnessing(self, size: int) -> tuple[list[str], int]:
        """Known witnesses (name and key as registered) that cosigned `size`, and the quorum."""
        known = {(w.name, w.vkey) for w in self.witnesses()}
        names = sorted({c.witness for c in self.cosignatures(size) if (c.witness, c.vkey) in known})
        return names, self.quorum()


def _checkpoint(row: tuple[object, ...]) -> CheckpointRecord:
    size, root, note, created = row
    return CheckpointRecord(int(size), bytes(root), str(note), int(created))  # type: ignore[call-overload]
