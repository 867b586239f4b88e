"""The API's own durable records, group-committed: idempotent responses and two logs.

Three tables (schema in `corridor.api.keys`) take one row per request of some kind:

- ``api_idempotency``: the response stored for an ``Idempotency-Key`` (see
  `corridor.api.idempotency`);
- ``api_access_log``: every request refused for access reasons (unknown or revoked key, a
  role that may not, another participant's resource), for the security team;
- ``api_audit_trail``: every change an operator key makes (method, path, request hash,
  status and code).

A request waits until its row is durable before it is answered, so an answered request is
never forgotten by a crash. Writing one transaction per request would serialize requests
behind the disk; instead a writer thread takes every row queued meanwhile and commits them
in one transaction (group commit, like the ledger's sequencer), so the cost of a commit is
shared by all the requests that arrived during the previous one. At most `QUEUE_ROWS_MAX`
rows wait; callers beyond that block until the writer catches up (back pressure).
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corridor.api.keys import API_SCHEMA
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection

__all__ = [
    "IDEMPOTENCY_RETENTION_S",
    "AccessLogRow",
    "ApiJournal",
    "AuditTrailRow",
    "IdempotencyRow",
]

QUEUE_ROWS_MAX: Final = 65_536
COMMIT_ROWS_MAX: Final = 8192
IDEMPOTENCY_RETENTION_S: Final = 86_400
"""Stored responses are kept a day (then a retry with the same key is a new request)."""
PRUNE_INTERVAL_S: Final = 60.0
_NS_PER_S: Final = 1_000_000_000

_log = logging.getLogger("corridor.api")


@dataclass(frozen=True, slots=True)
class IdempotencyRow:
    key_id: str
    idempotency_key: str
    request_sha256: str
    method: str
    path: str
    status: int
    content_type: str
    body: bytes
    created_ns: int


@dataclass(frozen=True, slots=True)
class AccessLogRow:
    at_ns: int
    key_id: str | None
    role: str | None
    participant_id: str | None
    method: str
    path: str
    status: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditTrailRow:
    at_ns: int
    key_id: str
    method: str
    path: str
    idempotency_key: str | None
    request_sha256: str
    status: int
    code: str | None


Row = IdempotencyRow | AccessLogRow | AuditTrailRow


class ApiJournal:
    """Group-commits API rows in a writer thread; reads stored idempotent responses."""

    def __init__(self, path: str | Path, *, clock: Callable[[], int] = time.time_ns) -> None:
        self._clock = clock
        self._writer_db = open_side_connection(path, API_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
        self._reader_db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        self._read_lock = threading.Lock()
        self._queue: queue.Queue[tuple[Row, Future[None]] | None] = queue.Queue(QUEUE_ROWS_MAX)
        self._closed = False
        self._last_prune = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="corridor-api-journal", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then stop."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        self._writer_db.close()
        with self._read_lock:
            self._reader_db.close()

    # -- writes ----------------------------------------------------------------------------

    def append(self, row: Row) -> Future[None]:
        """Queue a row; the future resolves once it is durable (or fails with the error)."""
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(RuntimeError("the API journal is closed"))
            return future
        self._queue.put((row, future))
        return future

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            stop = item is None
            batch: list[tuple[Row, Future[None]]] = [] if item is None else [item]
            while len(batch) < COMMIT_ROWS_MAX:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            if batch:
                self._commit(batch)
            if stop:
                return

    def _commit(self, batch: list[tuple[Row, Future[None]]]) -> None:
        idempotency = [r for r, _ in batch if isinstance(r, IdempotencyRow)]
        access = [r for r, _ in batch if isinstance(r, AccessLogRow)]
        trail = [r for r, _ in batch if isinstance(r, AuditTrailRow)]
        try:
            with immediate_transaction(self._writer_db):
                if idempotency:
                    self._writer_db.executemany(
                        "INSERT INTO api_idempotency (key_id, idempotency_key, request_sha256,"
                        " method, path, status, content_type, body, created_ns)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (key_id, idempotency_key) DO NOTHING",
                        [
                            (
                                r.key_id,
                                r.idempotency_key,
                                r.request_sha256,
                                r.method,
                                r.path,
                                r.status,
                                r.content_type,
                                r.body,
                                r.created_ns,
                            )
                            for r in idempotency
                        ],
                    )
                if access:
                    self._writer_db.executemany(
                        "INSERT INTO api_access_log (at_ns, key_id, role, participant_id,"
                        " method, path, status, code, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                r.at_ns,
                                r.key_id,
                                r.role,
                                r.participant_id,
                                r.method,
                                r.path,
                                r.status,
                                r.code,
                                r.detail,
                            )
                            for r in access
                        ],
                    )
                if trail:
                    self._writer_db.executemany(
                        "INSERT INTO api_audit_trail (at_ns, key_id, method, path,"
                        " idempotency_key, request_sha256, status, code)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [
                            (
                                r.at_ns,
                                r.key_id,
                                r.method,
                                r.path,
                                r.idempotency_key,
                                r.request_sha256,
                                r.status,
                                r.code,
                            )
                            for r in trail
                        ],
                    )
                self._maybe_prune()
        except sqlite3.Error as error:
            _log.error("the API journal could not commit %d rows: %s", len(batch), error)
            for _, future in batch:
                if not future.cancelled():
                    future.set_exception(error)
            return
        for _, future in batch:
            if not future.cancelled():
                future.set_result(None)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now - self._last_prune < PRUNE_INTERVAL_S:
            return
        self._last_prune = now
        horizon = self._clock() - IDEMPOTENCY_RETENTION_S * _NS_PER_S
        self._writer_db.execute("DELETE FROM api_idempotency WHERE created_ns < ?", (horizon,))

    # -- reads -----------------------------------------------------------------------------

    def stored_response(self, key_id: str, idempotency_key: str) -> IdempotencyRow | None:
        """The durable response stored for this key, if it is within retention."""
        with self._read_lock:
            row = self._reader_db.execute(
                "SELECT request_sha256, method, path, status, content_type, body, created_ns"
                " FROM api_idempotency WHERE key_id = ? AND idempotency_key = ?",
                (key_id, idempotency_key),
            ).fetchone()
        if row is None:
            return None
        sha, method, path, status, content_type, body, created_ns = row
        if int(created_ns) < self._clock() - IDEMPOTENCY_RETENTION_S * _NS_PER_S:
            return None
        return IdempotencyRow(
            key_id,
            idempotency_key,
            str(sha),
            str(method),
            str(path),
            int(status),
            str(content_type),
            bytes(body),
            int(created_ns),
        )

    def access_log(self, *, limit: int = 100) -> list[AccessLogRow]:
        """The newest access-log rows first."""
        with self._read_lock:
            rows = self._reader_db.execute(
                "SELECT at_ns, key_id, role, participant_id, method, path, status, code, detail"
                " FROM api_access_log ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AccessLogRow(*row) for row in rows]

    def audit_trail(self, *, limit: int = 100) -> list[AuditTrailRow]:
        """The newest audit-trail rows first."""
        with self._read_lock:
            rows = self._reader_db.execute(
                "SELECT at_ns, key_id, method, path, idempotency_key, request_sha256, status,"
                " code FROM api_audit_trail ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [AuditTrailRow(*row) for row in rows]
