"""The single writer: batches concurrent callers, applies them in order, commits durably.

Two threads own the write path. The sequencer thread takes requests from any number of
callers, packs them into batches of at most BATCH_EVENTS_MAX events (group commit), assigns
strictly increasing timestamps and runs the engine. The commit thread writes each sealed
batch in one storage transaction and only then answers the batch's callers, in order. While
SQLite writes batch k (with the GIL released) the engine already applies batch k+1 on the
other core; PIPELINE_BATCHES_MAX bounds how far memory may run ahead of the disk.

If a commit fails, memory is ahead of storage, so the ledger stops: every caller still waiting
and every later caller gets LedgerUnavailable, and reopening the database recovers the last
durable state. Nothing acknowledged is ever lost; nothing unacknowledged is half-applied.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Final, Protocol

from corridor.audit.leaf import document_leaf, expiry_leaf, transfer_leaves
from corridor.audit.tiles import TileAppender, leaf_hashes
from corridor.ledger.engine import Engine
from corridor.ledger.errors import LedgerClosed, LedgerUnavailable
from corridor.ledger.types import (
    BATCH_EVENTS_MAX,
    Account,
    CreateAccountResult,
    CreateTransferResult,
    Transfer,
)
from corridor.store.rows import LedgerBatch

COMMIT_EVENTS_MAX: Final = 4 * BATCH_EVENTS_MAX
"""Most events group-committed in one storage transaction, from any number of requests.

Each request still holds at most BATCH_EVENTS_MAX events. Per-account balance writes cost
once per transaction however many transfers touched the account, so a commit that gathers the
requests waiting in the queue writes far fewer rows than one commit per request."""

PIPELINE_BATCHES_MAX: Final = 1
"""Sealed batches that may wait for the commit thread (plus the one it is writing)."""

IDLE_WAKEUP_S_MAX: Final = 1.0
"""Longest the sequencer sleeps when idle, so timeouts expire without traffic."""

SWITCH_INTERVAL_S: Final = 0.0002
"""The interpreter's GIL switch interval while a ledger is open (default 0.005 s).

The commit thread spends its time inside SQLite with the GIL released; every time a statement
returns it must take the GIL back from the busy sequencer thread, which by default takes up to
5 ms. With several statements a batch that convoy cost more than the writes themselves."""

REQUESTS_QUEUED_MAX: Final = 4096
"""Requests that may wait for the sequencer before submitters block (back pressure)."""

_KIND_ACCOUNTS: Final = 0
_KIND_TRANSFERS: Final = 1
_KIND_PULSE: Final = 2
_KIND_DOCUMENTS: Final = 3


class BatchStore(Protocol):
    def prepare(self, batch: LedgerBatch) -> Any: ...

    def commit(self, prepared: Any) -> None: ...


class _Request:
    __slots__ = ("events", "future", "kind", "results")

    def __init__(self, kind: int, events: Sequence[Account] | Sequence[Transfer]) -> None:
        self.kind = kind
        self.events = events
        self.results: list[object] = []
        self.future: Future[list[object]] = Future()


class _Sealed:
    """A batch the engine applied, encoded for storage, with the requests it answers."""

    __slots__ = ("prepared", "requests")

    def __init__(self, prepared: object | None, requests: list[_Request]) -> None:
        self.prepared = prepared
        self.requests = requests


_STOP: Final = object()


class Sequencer:
    """Owns the engine and the write path; callers submit requests from any thread."""

    def __init__(
        self, engine: Engine, store: BatchStore, clock: Callable[[], int], log: TileAppender
    ) -> None:
        self._engine = engine
        self._log = log
        self._store = store
        self._clock = clock
        self._requests: queue.Queue[object] = queue.Queue(REQUESTS_QUEUED_MAX)
        self._sealed: queue.Queue[object] = queue.Queue(PIPELINE_BATCHES_MAX)
        self._failure: BaseException | None = None
        self._closed = False
        self._close_lock = threading.Lock()
        self._sequencer = threading.Thread(
            target=self._sequence, name="corridor-sequencer", daemon=True
        )
        self._committer = threading.Thread(
            target=self._commit, name="corridor-committer", daemon=True
        )
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._sequencer.start()
        self._committer.start()

    # -- callers -------------------------------------------------------------------------

    def submit_accounts(self, events: Sequence[Account]) -> Future[list[object]]:
        return self._submit(_Request(_KIND_ACCOUNTS, events))

    def submit_transfers(self, events: Sequence[Transfer]) -> Future[list[object]]:
        return self._submit(_Request(_KIND_TRANSFERS, events))

    def submit_documents(self, digests: Sequence[bytes]) -> Future[list[object]]:
        """Append document digests to the audit log; resolves to their log indexes."""
        return self._submit(_Request(_KIND_DOCUMENTS, digests))  # type: ignore[arg-type]

    def pulse(self) -> Future[list[object]]:
        """Expire due pending transfers now; resolves once that is durable."""
        return self._submit(_Request(_KIND_PULSE, ()))

    def _submit(self, request: _Request) -> Future[list[object]]:
        if self._failure is not None:
            raise LedgerUnavailable(self._failure)
        # The check and the enqueue happen under the close lock, so no request can land
        # behind the stop marker and wait forever.
        with self._close_lock:
            if self._closed:
                raise LedgerClosed()
            self._requests.put(request)
        return request.future

    def close(self) -> None:
        """Finish every request already submitted, then stop both threads."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._requests.put(_STOP)
        self._sequencer.join()
        self._committer.join()

    # -- the sequencer thread ------------------------------------------------------------

    def _sequence(self) -> None:
        engine = self._engine
        carry: _Request | None = None
        stopping = False
        while not stopping:
            if carry is not None:
                first: object = carry
                carry = None
            else:
                try:
                    first = self._next_request()
                except BaseException as error:  # the clock failed: stop as after an engine bug
                    self._failure = error
                    continue
                if first is None:
                    first = _Request(_KIND_PULSE, ())
            if first is _STOP:
                break
            assert isinstance(first, _Request)
            batch = [first]
            count = len(first.events)
            while count < COMMIT_EVENTS_MAX:
                try:
                    more = self._requests.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                assert isinstance(more, _Request)
                if count + len(more.events) > COMMIT_EVENTS_MAX:
                    carry = more
                    break
                batch.append(more)
                count += len(more.events)
            if self._failure is not None:
                self._fail(batch, self._failure)
                continue
            try:
                sealed = self._apply(engine, batch)
                consumed = any(request.kind != _KIND_PULSE for request in batch)
                prepared = (
                    self._store.prepare(sealed) if consumed or self._has_rows(sealed) else None
                )
            except BaseException as error:  # a bug in the engine: stop rather than corrupt
                self._failure = error
                self._fail(batch, error)
                continue
            self._sealed.put(_Sealed(prepared, batch))
        if carry is not None:
            self._fail([carry], LedgerClosed())
        self._sealed.put(_STOP)

    def _next_request(self) -> object | None:
        """The next request, or None when it is time to expire pending transfers."""
        if self._failure is not None:
            return self._requests.get()  # stopped: only requests to refuse, no expiries
        while True:
            next_expiry = self._engine.next_expiry()
            if not next_expiry:
                timeout = IDLE_WAKEUP_S_MAX
            else:
                timeout = min(IDLE_WAKEUP_S_MAX, max(0.0, (next_expiry - self._clock()) / 1e9))
            try:
                return self._requests.get(timeout=timeout)
            except queue.Empty:
                if next_expiry and next_expiry <= self._clock():
                    return None

    def _apply(self, engine: Engine, batch: list[_Request]) -> LedgerBatch:
        engine.begin()
        engine.advance(self._clock())
        documents: list[_Request] = []
        for request in batch:
            if not request.events:
                continue
            start = engine.last_timestamp + 1
            if request.kind == _KIND_TRANSFERS:
                request.results = list(engine.create_transfers(request.events, start))  # type: ignore[arg-type]
            elif request.kind == _KIND_ACCOUNTS:
                request.results = list(engine.create_accounts(request.events, start))  # type: ignore[arg-type]
            else:
                # Documents go last so that log order is timestamp order within the batch.
                documents.append(request)
                continue
            request.events = ()  # the events are no longer needed; free them early
        for request in documents:
            engine.notarize(request.events, engine.last_timestamp + 1)  # type: ignore[arg-type]
        sealed = engine.seal()
        self._append_to_log(sealed, documents)
        return sealed

    def _append_to_log(self, sealed: LedgerBatch, documents: list[_Request]) -> None:
        """Every expiry, transfer and document of the batch becomes a leaf, in that order."""
        log = self._log
        sealed.log_first_index = log.size
        sealed.transfer_leaves = transfer_leaves(sealed.transfers)
        leaves = [expiry_leaf(pending_id, ts) for pending_id, ts in sealed.expiries]
        leaves.extend(sealed.transfer_leaves)
        leaves.extend(document_leaf(digest, ts) for digest, ts in sealed.documents)
        if leaves:
            log.append(leaf_hashes(leaves))
            sealed.log_rows = log.changed_rows()
        sealed.log_size = log.size
        index = log.size - len(sealed.documents)
        for request in documents:
            request.results = list(range(index, index + len(request.events)))
            index += len(request.events)
            request.events = ()

    # -- the commit thread ---------------------------------------------------------------

    def _commit(self) -> None:
        while True:
            item = self._sealed.get()
            if item is _STOP:
                return
            assert isinstance(item, _Sealed)
            prepared, batch = item.prepared, item.requests
            if self._failure is not None:
                self._fail(batch, self._failure)
                continue
            try:
                if prepared is not None:
                    self._store.commit(prepared)
            except BaseException as error:
                self._failure = error
                self._fail(batch, error)
                continue
            for request in batch:
                # A caller may have cancelled its future (e.g. an asyncio timeout): its
                # events are committed all the same, and nobody else may go unanswered.
                if request.future.set_running_or_notify_cancel():
                    request.future.set_result(request.results)

    @staticmethod
    def _has_rows(batch: LedgerBatch) -> bool:
        # A batch of requests is committed even if every event failed: the timestamps it
        # used are then durable too, so none is ever handed out twice, even across restarts.
        return bool(len(batch) or batch.balances or batch.history)

    @staticmethod
    def _fail(batch: list[_Request], error: BaseException) -> None:
        failure = error if isinstance(error, LedgerClosed) else LedgerUnavailable(error)
        for request in batch:
            if request.future.set_running_or_notify_cancel():
                request.future.set_exception(failure)


__all__ = ["CreateAccountResult", "CreateTransferResult", "Sequencer"]
