"""``Idempotency-Key``: a retried POST gets the first answer, and nothing happens twice.

A client names each state-changing request with a key of its own (1-255 printable ASCII
characters, e.g. a UUID). Keys are scoped to the API key that sends them. The request is
fingerprinted (SHA-256 of method, path and the body as canonical JSON: sorted keys, no
spaces; bytes that are not JSON are hashed as they are), then:

- first time: the request runs and its response (status, content type, body) is stored
  durably before it is sent (`corridor.api.journal`), unless it is a 5xx, which is not;
- same key, same fingerprint, answered before: the stored response again, with the header
  ``Idempotent-Replayed: true``; nothing runs;
- same key, same fingerprint, still running (a concurrent retry): the retry waits for the
  first to finish and gets its response; if the first failed with a 5xx, the waiting retry
  runs itself;
- same key, another fingerprint: 409 ``modified_request``.

The check-and-mark is done in the event loop thread, so two concurrent requests can never
both find a key free. Stored responses are kept `IDEMPOTENCY_RETENTION_S`; recent ones are
also kept in memory (`RECENT_MAX`) so that quick retries do not read the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

import msgspec

from corridor.api.journal import IDEMPOTENCY_RETENTION_S, ApiJournal, IdempotencyRow

__all__ = [
    "IDEMPOTENCY_KEY_CHARS_MAX",
    "Idempotency",
    "StoredResponse",
    "fingerprint",
    "valid_idempotency_key",
]

IDEMPOTENCY_KEY_CHARS_MAX: Final = 255
RECENT_MAX: Final = 20_000
"""Completed responses kept in memory for quick replays."""
_RETENTION_NS: Final = IDEMPOTENCY_RETENTION_S * 1_000_000_000
_KEY: Final = re.compile(rf"[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_CHARS_MAX}}}")


def valid_idempotency_key(value: str) -> bool:
    return _KEY.fullmatch(value) is not None


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Hex SHA-256 of the request: method, path and canonical JSON body."""
    try:
        canonical = msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, msgspec.EncodeError, RecursionError):
        canonical = body
    digest = hashlib.sha256(f"{method} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_sha256: str
    status: int
    content_type: str
    body: bytes
    created_ns: int


class _InFlight:
    __slots__ = ("done", "request_sha256")

    def __init__(self, request_sha256: str) -> None:
        self.request_sha256 = request_sha256
        self.done: asyncio.Future[StoredResponse | None] = (
            asyncio.get_running_loop().create_future()
        )


@dataclass(frozen=True, slots=True)
class Replay:
    """Answer with this stored response."""

    response: StoredResponse


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used with another request: 409 ``modified_request``."""


@dataclass(frozen=True, slots=True)
class Proceed:
    """Run the request, then `Idempotency.finish` or `Idempotency.abandon` it."""

    scope_key: tuple[str, str]
    request_sha256: str


class Idempotency:
    """Stored responses by (API key id, idempotency key). Use from the event loop only."""

    def __init__(self, journal: ApiJournal) -> None:
        self._journal = journal
        self._in_flight: dict[tuple[str, str], _InFlight] = {}
        self._recent: OrderedDict[tuple[str, str], StoredResponse] = OrderedDict()

    async def begin(
        self, key_id: str, idempotency_key: str, request_sha256: str
    ) -> Replay | Mismatch | Proceed:
        scope_key = (key_id, idempotency_key)
        while True:
            stored = self._recent.get(scope_key)
            if stored is not None and stored.created_ns < time.time_ns() - _RETENTION_NS:
                del self._recent[scope_key]  # expired: the key may be used afresh
                stored = None
            if stored is None:
                running = self._in_flight.get(scope_key)
                if running is not None:
                    if running.request_sha256 != request_sha256:
                        return Mismatch()
                    outcome = await asyncio.shield(running.done)
                    if outcome is None:
                        continue  # the first attempt failed: try again (maybe run it)
                    stored = outcome
                else:
                    row = self._journal.stored_response(key_id, idempotency_key)
                    if row is not None:
                        stored = StoredResponse(
                            row.request_sha256,
                            row.status,
                            row.content_type,
                            row.body,
                            row.created_ns,
                        )
                        self._remember(scope_key, stored)
            if stored is not None:
                if stored.request_sha256 != request_sha256:
                    return Mismatch()
                return Replay(stored)
            if scope_key in self._in_flight:
                continue  # another request took the key while the database was read
            self._in_flight[scope_key] = _InFlight(request_sha256)
            return Proceed(scope_key, request_sha256)

    async def finish(
        self, token: Proceed, *, method: str, path: str, status: int, content_type: str, body: bytes
    ) -> None:
        """Store the response durably, then release the waiting retries with it."""
        running = self._in_flight[token.scope_key]
        now = time.time_ns()
        stored = StoredResponse(token.request_sha256, status, content_type, body, now)
        try:
            row = IdempotencyRow(
                token.scope_key[0],
                token.scope_key[1],
                token.request_sha256,
                method,
                path,
                status,
                content_type,
                body,
                now,
            )
            await asyncio.wrap_future(self._journal.append(row))
        except BaseException:
            self.abandon(token)
            raise
        self._remember(token.scope_key, stored)
        del self._in_flight[token.scope_key]
        running.done.set_result(stored)

    def abandon(self, token: Proceed) -> None:
        """The request failed without a response to keep: waiting retries run themselves."""
        running = self._in_flight.pop(token.scope_key, None)
        if running is not None and not running.done.done():
            running.done.set_result(None)

    def _remember(self, scope_key: tuple[str, str], stored: StoredResponse) -> None:
        self._recent[scope_key] = stored
        self._recent.move_to_end(scope_key)
        while len(self._recent) > RECENT_MAX:
            self._recent.popitem(last=False)
