"""The ledger as its users see it: open a database, create accounts and transfers, look up.

`Ledger.open(path)` recovers the engine's state from storage, starts the single writer and
returns a handle that any number of threads may share. `path` is a SQLite file or a
``postgresql://`` URL (corridor.store.open_store picks the store). Writes are
group-committed; each call returns once its batch is durable. Reads go to storage through
connections of their own and see only committed data.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Final

from corridor.audit.tiles import TileAppender, TileReader
from corridor.ledger.engine import Engine, transfer_from_row
from corridor.ledger.errors import BatchTooLarge, InvalidRequest
from corridor.ledger.sequencer import Sequencer
from corridor.ledger.types import (
    BATCH_EVENTS_MAX,
    Account,
    AccountBalance,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
)
from corridor.store import LedgerStore, StoreError, describe_target, open_store
from corridor.store.rows import AccountStateRow, TransferRow

QUERY_LIMIT_MAX: Final = BATCH_EVENTS_MAX
"""Most rows one lookup or page returns."""


class _StoreHistory:
    """Lets the engine read committed history it no longer holds in memory."""

    def __init__(self, store: LedgerStore) -> None:
        self._store = store

    def transfer_row(self, id: int) -> TransferRow | None:
        return self._store.transfer_row(id)

    def pending_status(self, pending_id: int) -> PendingStatus | None:
        code = self._store.pending_status_code(pending_id)
        return PendingStatus(code) if code is not None else None


def _account(row: AccountStateRow) -> Account:
    ts, id, ledger, code, flags, ud128, ud64, ud32, dp, dpo, cp, cpo, _last = row
    return Account(
        id=id,
        ledger=ledger,
        code=code,
        flags=flags,
        debits_pending=dp,
        debits_posted=dpo,
        credits_pending=cp,
        credits_posted=cpo,
        user_data_128=ud128,
        user_data_64=ud64,
        user_data_32=ud32,
        timestamp=ts,
    )


def _check_events(events: Sequence[object], kind: type) -> tuple[object, ...]:
    """Validate a request and return a snapshot of it: the caller may reuse its list."""
    if not isinstance(events, Sequence):
        raise InvalidRequest(f"events must be a list of {kind.__name__}")
    if len(events) > BATCH_EVENTS_MAX:
        raise BatchTooLarge(
            f"{len(events)} events in one request; at most {BATCH_EVENTS_MAX} are accepted"
        )
    snapshot = tuple(events)
    for index, event in enumerate(snapshot):
        if type(event) is not kind:
            raise InvalidRequest(
                f"event {index} is a {type(event).__name__}, expected {kind.__name__}"
            )
    return snapshot


def _resolved(results: list[object]) -> Future[list[object]]:
    future: Future[list[object]] = Future()
    future.set_result(results)
    return future


def _check_limit(limit: int) -> None:
    if not isinstance(limit, int) or not 0 < limit <= QUERY_LIMIT_MAX:
        raise InvalidRequest(f"limit must be between 1 and {QUERY_LIMIT_MAX}")


class Ledger:
    """A handle on one ledger database. Thread-safe; close it when done."""

    def __init__(
        self, store: LedgerStore, engine: Engine, clock: Callable[[], int], log: TileAppender
    ) -> None:
        self.store = store
        self._engine = engine
        self._sequencer = Sequencer(engine, store, clock, log)

    @classmethod
    def open(
        cls, path: str | os.PathLike[str], *, clock: Callable[[], int] = time.time_ns
    ) -> Ledger:
        """Open (creating if needed) a ledger database and recover its state exactly.

        `path`: a SQLite file, or a ``postgresql://`` URL of a database (schema migrations
        are applied on open).
        """
        store = open_store(path)
        try:
            return cls._recover(store, path, clock)
        except BaseException:
            store.close()  # releases the writer lock for a retry in this process
            raise

    @classmethod
    def _recover(
        cls, store: LedgerStore, path: str | os.PathLike[str], clock: Callable[[], int]
    ) -> Ledger:
        engine = Engine(_StoreHistory(store))
        for row in store.iter_accounts():
            engine.load_account(row)
        engine.transfer_ids = set(store.iter_transfer_ids())
        for pending in store.iter_open_pending():
            engine.load_pending(pending)
        engine.last_timestamp = max(engine.last_timestamp, store.last_timestamp())
        log_size = store.log_size()
        tails = {}
        for level, row_index in TileAppender.tail_keys(log_size):
            blob = store.log_row(level, row_index)
            if blob is None:
                raise StoreError(
                    f"{describe_target(path)}: audit log row ({level}, {row_index}) is missing"
                )
            tails[level] = blob
        return cls(store, engine, clock, TileAppender(log_size, tails))

    def close(self) -> None:
        self._sequencer.close()
        self.store.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writes --------------------------------------------------------------------------

    def create_accounts(self, accounts: Sequence[Account]) -> list[CreateAccountResult]:
        """Create accounts; one result per event, in order. Blocks until durable."""
        return self.submit_accounts(accounts).result()  # type: ignore[return-value]

    def create_transfers(self, transfers: Sequence[Transfer]) -> list[CreateTransferResult]:
        """Create transfers; one result per event, in order. Blocks until durable."""
        return self.submit_transfers(transfers).result()  # type: ignore[return-value]

    def submit_accounts(self, accounts: Sequence[Account]) -> Future[list[object]]:
        """Like create_accounts, without waiting: the future resolves once durable."""
        snapshot = _check_events(accounts, Account)
        if not snapshot:
            return _resolved([])
        return self._sequencer.submit_accounts(snapshot)  # type: ignore[arg-type]

    def submit_transfers(self, transfers: Sequence[Transfer]) -> Future[list[object]]:
        """Like create_transfers, without waiting: the future resolves once durable."""
        snapshot = _check_events(transfers, Transfer)
        if not snapshot:
            return _resolved([])
        return self._sequencer.submit_transfers(snapshot)  # type: ignore[arg-type]

    def notarize(self, digests: Sequence[bytes]) -> list[int]:
        """Append SHA-256 digests of documents to the audit log; returns their log indexes."""
        if len(digests) > BATCH_EVENTS_MAX:
            raise BatchTooLarge(f"{len(digests)} digests; at most {BATCH_EVENTS_MAX}")
        for digest in digests:
            if type(digest) is not bytes or len(digest) != 32:
                raise InvalidRequest("a document digest is 32 bytes of SHA-256")
        return self._sequencer.submit_documents(digests).result()  # type: ignore[return-value]

    def log(self) -> TileReader:
        """A reader of the durable audit log at its current size (roots and proofs)."""
        return TileReader(self.store.log_row, self.store.log_size())

    def pulse(self) -> None:
        """Expire every pending transfer whose timeout has passed, now."""
        self._sequencer.pulse().result()

    # -- reads ---------------------------------------------------------------------------

    def lookup_accounts(self, ids: Sequence[int]) -> list[Account]:
        """The accounts that exist among `ids`, in the order asked."""
        _check_ids(ids)
        return [_account(row) for row in self.store.account_rows(ids) if row is not None]

    def lookup_transfers(self, ids: Sequence[int]) -> list[Transfer]:
        """The transfers that exist among `ids`, in the order asked."""
        _check_ids(ids)
        return [transfer_from_row(row) for row in self.store.transfer_rows(ids) if row]

    def get_account_transfers(
        self,
        account_id: int,
        *,
        timestamp_min: int = 0,
        timestamp_max: int = 0,
        limit: int = 100,
        debits: bool = True,
        credits: bool = True,
        reversed: bool = False,
    ) -> list[Transfer]:
        """An account's transfers in timestamp order (newest first with `reversed`).

        Page forward by passing the last timestamp seen + 1 as `timestamp_min` (or, newest
        first, the last timestamp - 1 as `timestamp_max`).
        """
        _check_ids([account_id])
        _check_limit(limit)
        rows = self.store.account_transfer_rows(
            account_id,
            timestamp_min=timestamp_min,
            timestamp_max=timestamp_max,
            limit=limit,
            debits=debits,
            credits=credits,
            newest_first=reversed,
        )
        return [transfer_from_row(row) for row in rows]

    def get_account_balances(
        self,
        account_id: int,
        *,
        timestamp_min: int = 0,
        timestamp_max: int = 0,
        limit: int = 100,
        reversed: bool = False,
    ) -> list[AccountBalance]:
        """Balances after each change, for accounts created with the history flag."""
        _check_ids([account_id])
        _check_limit(limit)
        rows = self.store.balance_rows(
            account_id,
            timestamp_min=timestamp_min,
            timestamp_max=timestamp_max,
            limit=limit,
            newest_first=reversed,
        )
        return [AccountBalance(*row) for row in rows]


def _check_ids(ids: Sequence[int]) -> None:
    if len(ids) > QUERY_LIMIT_MAX:
        raise BatchTooLarge(f"{len(ids)} ids in one lookup; at most {QUERY_LIMIT_MAX}")
    for id in ids:
        if type(id) is not int or not 0 <= id < (1 << 128):
            raise InvalidRequest(f"{id!r} is not a 128-bit unsigned id")
