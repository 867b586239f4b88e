"""API keys: created by the operator, shown once, stored only as a hash, revocable.

A key is ``ck_<key id>_<secret>``: the key id (12 hex digits) names the key in lists, logs
and the audit trail; the secret is 32 random bytes (base64url). The database keeps the key
id, the SHA-256 of the whole key, its role and (for a participant key) its participant. A
random 256-bit secret needs no slow password hash: SHA-256 cannot be inverted and there is
nothing to guess. The key itself is printed once, at creation, and is never stored.

Roles (`Role`):

- ``operator``: runs the hub; may do everything, and every change it makes is recorded in
  the audit trail (table ``api_audit_trail``);
- ``participant``: a wallet, acquirer, bank or FX provider; sees and acts only on its own
  parties, payments, accounts and reports;
- ``compliance``: works alerts and cases, screens names, reads payments and parties;
- ``auditor``: reads the ledger, the audit log, settlement reports and payments.

Authentication reads a small in-memory cache (`KEY_CACHE_TTL_S`): a key revoked through the
API is refused at once; one revoked from the command line (another process) within that
time.

Tables, in the ledger's SQLite file (a connection of their own, short transactions):
``api_keys`` here, and ``api_idempotency``, ``api_access_log`` and ``api_audit_trail``
written by `corridor.api.journal`.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection

__all__ = [
    "API_SCHEMA",
    "KEY_CACHE_TTL_S",
    "ApiKey",
    "ApiKeyError",
    "ApiKeyStore",
    "CreatedKey",
    "Role",
    "key_sha256",
]

KEY_CACHE_TTL_S: Final = 1.0
"""How long an authenticated (or refused) key is trusted from memory, in seconds."""
KEY_CACHE_ENTRIES_MAX: Final = 10_000
KEYS_LIST_MAX: Final = 1000
LABEL_CHARS_MAX: Final = 128
_SECRET_BYTES: Final = 32
_KEY_ID: Final = re.compile(r"[0-9a-f]{12}")
_KEY: Final = re.compile(r"ck_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")

API_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    key_sha256 TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    participant_id TEXT,
    label TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_ns INTEGER
);

CREATE TABLE IF NOT EXISTS api_idempotency (
    key_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    body BLOB NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (key_id, idempotency_key)
);

CREATE INDEX IF NOT EXISTS api_idempotency_by_created ON api_idempotency (created_ns);

CREATE TABLE IF NOT EXISTS api_access_log (
    id INTEGER PRIMARY KEY,
    at_ns INTEGER NOT NULL,
    key_id TEXT,
    role TEXT,
    participant_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT NOT NULL,
    detail TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS api_audit_trail (
    id INTEGER PRIMARY KEY,
    at_ns INTEGER NOT NULL,
    key_id TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    idempotency_key TEXT,
    request_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    code TEXT
);
"""
"""Every table of the HTTP API."""


class ApiKeyError(Exception):
    """An API key operation is refused; `code` says why.

    Codes: ``invalid_role``, ``invalid_participant``, ``unknown_participant``,
    ``invalid_label``, ``unknown_key``, ``database_not_found``, ``unsupported_database``;
    and, from `corridor serve`, ``invalid_port``, ``invalid_rate_limit``,
    ``invalid_batch_window``, ``invalid_writers``.
    """

    code: str = "api_key_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Role(enum.StrEnum):
    OPERATOR = "operator"
    PARTICIPANT = "participant"
    COMPLIANCE = "compliance"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (without its secret)."""

    key_id: str
    role: Role
    participant_id: str | None
    label: str
    created_ns: int
    created_by: str
    revoked_ns: int | None

    @property
    def active(self) -> bool:
        return self.revoked_ns is None


@dataclass(frozen=True, slots=True)
class CreatedKey:
    """A new key and its secret form, which is shown once and never stored."""

    key: ApiKey
    secret: str


def key_sha256(secret: str) -> str:
    """Hex SHA-256 of a whole key as presented (``ck_..._...``)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _row_key(row: tuple[object, ...]) -> ApiKey:
    key_id, role, participant_id, label, created_ns, created_by, revoked_ns = row
    return ApiKey(
        key_id=str(key_id),
        role=Role(str(role)),
        participant_id=None if participant_id is None else str(participant_id),
        label=str(label),
        created_ns=int(str(created_ns)),
        created_by=str(created_by),
        revoked_ns=None if revoked_ns is None else int(str(revoked_ns)),
    )


_KEY_COLUMNS: Final = "key_id, role, participant_id, label, created_ns, created_by, revoked_ns"


class ApiKeyStore:
    """API keys of one database. Thread-safe; close it when done."""

    def __init__(
        self, connection: sqlite3.Connection, *, clock: Callable[[], int] = time.time_ns
    ) -> None:
        self._db = connection
        self._clock = clock
        self._lock = threading.RLock()
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    @classmethod
    def open(
        cls, path: str | Path, *, clock: Callable[[], int] = time.time_ns, must_exist: bool = True
    ) -> ApiKeyStore:
        """The keys of the corridor database at `path` (its API tables are created if missing)."""
        if must_exist and not Path(path).is_file():
            raise ApiKeyError("database_not_found", f"{path}: no such database file")
        return cls(
            open_side_connection(path, API_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS), clock=clock
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ApiKeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    # -- operator ------------------------------------------------------------------------

    def create(
        self,
        role: Role | str,
        *,
        participant_id: str | None = None,
        label: str = "",
        created_by: str = "cli",
    ) -> CreatedKey:
        """A new key; a participant key names an existing participant, other roles none."""
        try:
            checked_role = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise ApiKeyError("invalid_role", f"role is one of {roles}, not {role!r}") from None
        if checked_role is Role.PARTICIPANT:
            if not isinstance(participant_id, str) or not participant_id:
                raise ApiKeyError("invalid_participant", "a participant key names its participant")
            if not self._participant_exists(participant_id):
                raise ApiKeyError("unknown_participant", f"no participant {participant_id!r}")
        elif participant_id is not None:
            raise ApiKeyError(
                "invalid_participant", f"a {checked_role.value} key names no participant"
            )
        if (
            not isinstance(label, str)
            or len(label) > LABEL_CHARS_MAX
            or any(not ch.isprintable() for ch in label)
        ):
            raise ApiKeyError(
                "invalid_label", f"a label is at most {LABEL_CHARS_MAX} printable characters"
            )
        key_id = secrets.token_hex(6)
        secret = f"ck_{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"
        assert _KEY.fullmatch(secret), secret
        created = ApiKey(
            key_id, checked_role, participant_id, label, self._clock(), created_by, None
        )
        with self._write():
            self._db.execute(
                "INSERT INTO api_keys (key_id, key_sha256, role, participant_id, label,"
                " created_ns, created_by, revoked_ns) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                (
                    key_id,
                    key_sha256(secret),
                    checked_role.value,
                    participant_id,
                    label,
                    created.created_ns,
                    created_by,
                ),
            )
        return CreatedKey(created, secret)

    def _participant_exists(self, participant_id: str) -> bool:
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT 1 FROM participants WHERE id = ?", (participant_id,)
                ).fetchone()
            except sqlite3.OperationalError:  # no directory yet: no participants
                return False
        return row is not None

    def get(self, key_id: str) -> ApiKey:
        if not isinstance(key_id, str) or _KEY_ID.fullmatch(key_id) is None:
            raise ApiKeyError("unknown_key", f"no API key {key_id!r}")
        with self._lock:
            row = self._db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise ApiKeyError("unknown_key", f"no API key {key_id!r}")
        return _row_key(row)

    def list(self, *, limit: int = KEYS_LIST_MAX) -> list[ApiKey]:
        """Keys, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys ORDER BY created_ns DESC, key_id LIMIT ?",
                (max(1, min(limit, KEYS_LIST_MAX)),),
            ).fetchall()
        return [_row_key(row) for row in rows]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (idempotent: a revoked key stays revoked at its first time)."""
        self.get(key_id)
        with self._write():
            self._db.execute(
                "UPDATE api_keys SET revoked_ns = ? WHERE key_id = ? AND revoked_ns IS NULL",
                (self._clock(), key_id),
            )
        with self._lock:
            self._cache.clear()
        return self.get(key_id)

    # -- authentication ------------------------------------------------------------------

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key `presented` is, or None (unknown, malformed or revoked)."""
        if _KEY.fullmatch(presented) is None:
            return None
        digest = key_sha256(presented)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < KEY_CACHE_TTL_S:
            return cached[1]
        with self._lock:
            row = self._db.execute(
                f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE key_sha256 = ?", (digest,)
            ).fetchone()
            found = None if row is None else _row_key(row)
            if found is not None and not found.active:
                found = None
            if len(self._cache) >= KEY_CACHE_ENTRIES_MAX:
                self._cache.clear()
            self._cache[digest] = (now, found)
        return found
