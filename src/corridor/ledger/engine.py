"""The ledger engine: applies batches of account and transfer events to in-memory state.

The engine is pure and deterministic: it owns no clock, no thread and no connection. The
sequencer hands it events with the timestamps to use and gets back one result code per event
plus the effects of the batch (rows to store). Inside the engine, failures are results, never
exceptions; an exception escaping from here is a bug.

Hot state kept in memory: every account with its balances, the set of every transfer id (for
idempotency), every pending transfer not yet posted, voided or expired, and the transfers of
the last few batches (which may not be durable yet). Anything older is read back through the
`history` callbacks, which the sequencer wires to storage.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Final, Protocol, TypeVar

from corridor.ledger.types import (
    ACCOUNT_FLAGS_ALL,
    AMOUNT_MAX,
    ID_MAX,
    NS_PER_S,
    TRANSFER_FLAGS_ALL,
    Account,
    AccountFlags,
    CreateAccountResult,
    CreateTransferResult,
    PendingStatus,
    Transfer,
    TransferFlags,
)
from corridor.store.rows import (
    R_AMOUNT,
    R_CODE,
    R_CREDIT,
    R_DEBIT,
    R_FLAGS,
    R_ID,
    R_LEDGER,
    R_PENDING_ID,
    R_TIMEOUT,
    R_TIMESTAMP,
    R_USER_DATA_32,
    R_USER_DATA_64,
    R_USER_DATA_128,
    AccountStateRow,
    HistoryRow,
    LedgerBatch,
    TransferRow,
)

TIMESTAMP_MAX: Final = (1 << 63) - 1
"""Timestamps are nanoseconds since the Unix epoch in a signed 64-bit integer."""

RECENT_GENERATIONS: Final = 4
"""Batches whose transfers stay in memory; must exceed the sequencer's pipeline depth."""

A = CreateAccountResult
T = CreateTransferResult

_LINKED: Final = int(TransferFlags.LINKED)
_PENDING: Final = int(TransferFlags.PENDING)
_POST: Final = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID: Final = int(TransferFlags.VOID_PENDING_TRANSFER)
_BALANCING_DEBIT: Final = int(TransferFlags.BALANCING_DEBIT)
_BALANCING_CREDIT: Final = int(TransferFlags.BALANCING_CREDIT)
_CLOSING_DEBIT: Final = int(TransferFlags.CLOSING_DEBIT)
_CLOSING_CREDIT: Final = int(TransferFlags.CLOSING_CREDIT)
_BALANCING: Final = _BALANCING_DEBIT | _BALANCING_CREDIT
_CLOSING: Final = _CLOSING_DEBIT | _CLOSING_CREDIT
_RESOLVE: Final = _POST | _VOID

_DMNEC: Final = int(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
_CMNED: Final = int(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS)
_HISTORY: Final = int(AccountFlags.HISTORY)
_CLOSED: Final = int(AccountFlags.CLOSED)


def transfer_from_row(row: TransferRow) -> Transfer:
    return Transfer(
        id=row[R_ID],
        debit_account_id=row[R_DEBIT],
        credit_account_id=row[R_CREDIT],
        amount=row[R_AMOUNT],
        pending_id=row[R_PENDING_ID],
        user_data_128=row[R_USER_DATA_128],
        user_data_64=row[R_USER_DATA_64],
        user_data_32=row[R_USER_DATA_32],
        timeout=row[R_TIMEOUT],
        ledger=row[R_LEDGER],
        code=row[R_CODE],
        flags=row[R_FLAGS],
        timestamp=row[R_TIMESTAMP],
    )


class AccountState:
    """An account's mutable state inside the engine."""

    __slots__ = (
        "code",
        "credits_pending",
        "credits_posted",
        "debits_pending",
        "debits_posted",
        "flags",
        "id",
        "last_transfer_timestamp",
        "ledger",
        "timestamp",
        "user_data_32",
        "user_data_64",
        "user_data_128",
    )

    def __init__(
        self,
        id: int,
        ledger: int,
        code: int,
        flags: int,
        user_data_128: int,
        user_data_64: int,
        user_data_32: int,
        timestamp: int,
        debits_pending: int = 0,
        debits_posted: int = 0,
        credits_pending: int = 0,
        credits_posted: int = 0,
        last_transfer_timestamp: int = 0,
    ) -> None:
        self.id = id
        self.ledger = ledger
        self.code = code
        self.flags = int(flags)  # Never an IntFlag: its operators are 20x slower than int's.
        self.user_data_128 = user_data_128
        self.user_data_64 = user_data_64
        self.user_data_32 = user_data_32
        self.timestamp = timestamp
        self.debits_pending = debits_pending
        self.debits_posted = debits_posted
        self.credits_pending = credits_pending
        self.credits_posted = credits_posted
        self.last_transfer_timestamp = last_transfer_timestamp

    def to_account(self) -> Account:
        return Account(
            id=self.id,
            ledger=self.ledger,
            code=self.code,
            flags=self.flags,
            debits_pending=self.debits_pending,
            debits_posted=self.debits_posted,
            credits_pending=self.credits_pending,
            credits_posted=self.credits_posted,
            user_data_128=self.user_data_128,
            user_data_64=self.user_data_64,
            user_data_32=self.user_data_32,
            timestamp=self.timestamp,
        )


class PendingState:
    """A pending transfer that is neither posted, voided nor expired."""

    __slots__ = ("expires_at", "row")

    def __init__(self, row: TransferRow, expires_at: int) -> None:
        self.row = row
        self.expires_at = expires_at  # 0: never


class History(Protocol):
    """Reads of committed history the engine needs when memory does not have the answer."""

    def transfer_row(self, id: int) -> TransferRow | None: ...

    def pending_status(self, pending_id: int) -> PendingStatus | None: ...


class _NoHistory:
    def transfer_row(self, id: int) -> TransferRow | None:
        return None

    def pending_status(self, pending_id: int) -> PendingStatus | None:
        return None


class _ChainUndo:
    """What a linked chain changed so far, to put back if a later event of it fails."""

    __slots__ = ("balances", "marks", "new_accounts", "new_pending", "new_transfers", "resolved")

    def __init__(self, marks: tuple[int, int, int]) -> None:
        self.marks = marks  # lengths of the batch's account, transfer and history rows
        # (account, debits_pending, debits_posted, credits_pending, credits_posted, flags,
        #  last_transfer_timestamp) before the change; restored newest first.
        self.balances: list[tuple[AccountState, int, int, int, int, int, int]] = []
        self.new_accounts: list[int] = []
        self.new_transfers: list[int] = []
        self.new_pending: list[int] = []
        self.resolved: list[tuple[int, PendingState]] = []

    def save(self, s: AccountState) -> None:
        self.balances.append(
            (
                s,
                s.debits_pending,
                s.debits_posted,
                s.credits_pending,
                s.credits_posted,
                s.flags,
                s.last_transfer_timestamp,
            )
        )


class Engine:
    """In-memory ledger state and the rules that change it."""

    def __init__(self, history: History | None = None) -> None:
        self.history: History = history if history is not None else _NoHistory()
        self.accounts: dict[int, AccountState] = {}
        self.transfer_ids: set[int] = set()
        self.pending: dict[int, PendingState] = {}
        self.expiry_queue: list[tuple[int, int]] = []  # (expires_at, pending_id) min-heap
        self.last_timestamp = 0
        self._recent_rows: list[dict[int, TransferRow]] = [{}]
        self._recent_status: list[dict[int, PendingStatus]] = [{}]
        self._effects = LedgerBatch()
        self._touched: dict[int, AccountState] = {}

    # -- loading -------------------------------------------------------------------------

    def load_account(self, row: AccountStateRow) -> None:
        (ts, id, ledger, code, flags, ud128, ud64, ud32, dp, dpo, cp, cpo, last) = row
        self.accounts[id] = AccountState(
            id, ledger, code, flags, ud128, ud64, ud32, ts, dp, dpo, cp, cpo, last
        )
        self.last_timestamp = max(self.last_timestamp, ts)

    def load_pending(self, row: TransferRow) -> None:
        timeout = row[R_TIMEOUT]
        expires_at = row[R_TIMESTAMP] + timeout * NS_PER_S if timeout else 0
        self.pending[row[R_ID]] = PendingState(row, expires_at)
        if expires_at:
            heapq.heappush(self.expiry_queue, (expires_at, row[R_ID]))

    # -- batches -------------------------------------------------------------------------

    def begin(self) -> LedgerBatch:
        """Start a batch; events applied until `seal` belong to one storage transaction."""
        self._effects = LedgerBatch()
        self._touched = {}
        return self._effects

    def seal(self) -> LedgerBatch:
        """Finish the batch: snapshot touched balances and rotate the recent generations."""
        effects = self._effects
        effects.balances = [
            (
                s.timestamp,
                s.flags,
                s.debits_pending,
                s.debits_posted,
                s.credits_pending,
                s.credits_posted,
                s.last_transfer_timestamp,
            )
            for s in self._touched.values()
        ]
        effects.last_timestamp = self.last_timestamp
        self._recent_rows.insert(0, {})
        self._recent_status.insert(0, {})
        del self._recent_rows[RECENT_GENERATIONS:]
        del self._recent_status[RECENT_GENERATIONS:]
        self._effects = LedgerBatch()
        self._touched = {}
        return effects

    def _take_timestamps(self, timestamp: int, count: int) -> None:
        assert timestamp > self.last_timestamp, "timestamps must strictly increase"
        assert timestamp + count <= TIMESTAMP_MAX
        self.last_timestamp = timestamp + count - 1 if count else self.last_timestamp

    # -- expiry --------------------------------------------------------------------------

    def next_expiry(self) -> int:
        """The earliest time at which a pending transfer expires, or 0 if none."""
        queue = self.expiry_queue
        while queue:
            expires_at, pending_id = queue[0]
            state = self.pending.get(pending_id)
            if state is not None and state.expires_at == expires_at:
                return expires_at
            heapq.heappop(queue)
        return 0

    def advance(self, now: int) -> int:
        """Move the engine's clock to `now`: expire what is due, return the next timestamp.

        Timestamps never go backwards even if the wall clock does.
        """
        start = max(now, self.last_timestamp + 1)
        self.expire(start, start)
        self.last_timestamp = max(self.last_timestamp, start - 1)
        return self.last_timestamp + 1

    def expire(self, now: int, timestamp: int) -> int:
        """Expire pending transfers due at or before `now`; returns timestamps consumed.

        Each expiry gets its own timestamp from `timestamp` on, so history stays a strict
        sequence of events.
        """
        expired = 0
        queue = self.expiry_queue
        effects = self._effects
        while queue and queue[0][0] <= now:
            expires_at, pending_id = heapq.heappop(queue)
            state = self.pending.get(pending_id)
            if state is None or state.expires_at != expires_at:
                continue
            ts = timestamp + expired
            expired += 1
            row = state.row
            amount = row[R_AMOUNT]
            dr = self.accounts[row[R_DEBIT]]
            cr = self.accounts[row[R_CREDIT]]
            dr.debits_pending -= amount
            cr.credits_pending -= amount
            if row[R_FLAGS] & _CLOSING_DEBIT:
                dr.flags &= ~_CLOSED
            if row[R_FLAGS] & _CLOSING_CREDIT:
                cr.flags &= ~_CLOSED
            del self.pending[pending_id]
            self._recent_status[0][pending_id] = PendingStatus.EXPIRED
            effects.expiries.append((pending_id, ts))
            self._touched[dr.id] = dr
            self._touched[cr.id] = cr
            if dr.flags & _HISTORY:
                effects.history.append(_history_row(dr, ts))
            if cr.flags & _HISTORY:
                effects.history.append(_history_row(cr, ts))
        if expired:
            self._take_timestamps(timestamp, expired)
        return expired

    # -- accounts ------------------------------------------------------------------------

    def create_accounts(
        self, events: Sequence[Account], timestamp: int
    ) -> list[CreateAccountResult]:
        """Apply account events; event i gets `timestamp + i`."""
        self._take_timestamps(timestamp, len(events))
        return _run_chains(self, events, timestamp, self._create_account, A.OK)

    def _create_account(self, a: Account, ts: int, undo: _ChainUndo | None) -> A:
        try:
            id = a.id
            flags = a.flags
            if a.timestamp:
                return A.TIMESTAMP_MUST_BE_ZERO
            if a.debits_pending:
                return A.DEBITS_PENDING_MUST_BE_ZERO
            if a.debits_posted:
                return A.DEBITS_POSTED_MUST_BE_ZERO
            if a.credits_pending:
                return A.CREDITS_PENDING_MUST_BE_ZERO
            if a.credits_posted:
                return A.CREDITS_POSTED_MUST_BE_ZERO
            if (
                ((id | a.user_data_128) >> 128)
                or (a.user_data_64 >> 63)
                or ((a.user_data_32 | a.ledger) >> 32)
                or (a.code >> 16)
                or (flags >> 16)
            ):
                return A.FIELD_OUT_OF_RANGE
        except TypeError:
            return A.INVALID_EVENT
        if flags & ~ACCOUNT_FLAGS_ALL:
            return A.RESERVED_FLAG
        if id == 0:
            return A.ID_MUST_NOT_BE_ZERO
        if id == ID_MAX:
            return A.ID_MUST_NOT_BE_INT_MAX
        existing = self.accounts.get(id)
        if existing is not None:
            if (existing.flags ^ flags) & ~_CLOSED:
                return A.EXISTS_WITH_DIFFERENT_FLAGS
            if existing.user_data_128 != a.user_data_128:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_128
            if existing.user_data_64 != a.user_data_64:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_64
            if existing.user_data_32 != a.user_data_32:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_32
            if existing.ledger != a.ledger:
                return A.EXISTS_WITH_DIFFERENT_LEDGER
            if existing.code != a.code:
                return A.EXISTS_WITH_DIFFERENT_CODE
            return A.EXISTS
        if flags & _DMNEC and flags & _CMNED:
            return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if a.ledger == 0:
            return A.LEDGER_MUST_NOT_BE_ZERO
        if a.code == 0:
            return A.CODE_MUST_NOT_BE_ZERO
        state = AccountState(
            id, a.ledger, a.code, flags, a.user_data_128, a.user_data_64, a.user_data_32, ts
        )
        self.accounts[id] = state
        effects = self._effects
        effects.accounts.append(
            (ts, id, a.ledger, a.code, flags, a.user_data_128, a.user_data_64, a.user_data_32)
        )
        self._touched[id] = state
        if flags & _HISTORY:
            effects.history.append(_history_row(state, ts))
        if undo is not None:
            undo.new_accounts.append(id)
        return A.OK

    # -- documents -----------------------------------------------------------------------

    def notarize(self, digests: Sequence[bytes], timestamp: int) -> list[int]:
        """Record document digests for the audit log; returns their timestamps."""
        self._take_timestamps(timestamp, len(digests))
        stamps = [timestamp + i for i in range(len(digests))]
        self._effects.documents.extend(zip(digests, stamps, strict=True))
        return stamps

    # -- transfers -----------------------------------------------------------------------

    def create_transfers(
        self, events: Sequence[Transfer], timestamp: int
    ) -> list[CreateTransferResult]:
        """Apply transfer events; event i gets `timestamp + i`."""
        self._take_timestamps(timestamp, len(events))
        return _run_chains(self, events, timestamp, self._create_transfer, T.OK)

    def committed_row(self, id: int) -> TransferRow | None:
        for generation in self._recent_rows:
            row = generation.get(id)
            if row is not None:
                return row
        return self.history.transfer_row(id)

    def pending_status(self, pending_id: int) -> PendingStatus | None:
        """Status of a transfer that was created pending; None if it was not."""
        if pending_id in self.pending:
            return PendingStatus.PENDING
        for generation in self._recent_status:
            status = generation.get(pending_id)
            if status is not None:
                return status
        return self.history.pending_status(pending_id)

    def _create_transfer(self, t: Transfer, ts: int, undo: _ChainUndo | None) -> T:
        try:
            id = t.id
            debit_id = t.debit_account_id
            credit_id = t.credit_account_id
            amount = t.amount
            pending_id = t.pending_id
            flags = t.flags
            if type(flags) is not int and isinstance(flags, int):
                flags = int(flags)  # An IntFlag: its operators are 20x slower than int's.
            timeout = t.timeout
            ledger = t.ledger
            code = t.code
            if t.timestamp:
                return T.TIMESTAMP_MUST_BE_ZERO
            if (
                ((id | debit_id | credit_id | pending_id | t.user_data_128) >> 128)
                or ((amount | t.user_data_64) >> 63)
                or ((t.user_data_32 | timeout | ledger) >> 32)
                or (code >> 16)
                or (flags >> 16)
            ):
                return T.FIELD_OUT_OF_RANGE
        except TypeError:
            return T.INVALID_EVENT
        if flags & ~TRANSFER_FLAGS_ALL:
            return T.RESERVED_FLAG
        if id == 0:
            return T.ID_MUST_NOT_BE_ZERO
        if id == ID_MAX:
            return T.ID_MUST_NOT_BE_INT_MAX
        if id in self.transfer_ids:
            existing = self.committed_row(id)
            assert existing is not None, "a known transfer id must be readable"
            full_amount = 0
            if flags & _POST and flags == existing[R_FLAGS] and t.amount == 0:
                # Amount 0 posts the full pending amount: compare with what that was.
                pending = self.committed_row(existing[R_PENDING_ID])
                assert pending is not None, "a post must name a readable pending transfer"
                full_amount = pending[R_AMOUNT]
            return _compare_existing(t, existing, full_amount)
        if flags & _RESOLVE:
            return self._resolve_pending(t, ts, undo)

        if flags & _CLOSING and not flags & _PENDING:
            return T.CLOSING_TRANSFER_MUST_BE_PENDING
        if debit_id == 0:
            return T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if debit_id == ID_MAX:
            return T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if credit_id == 0:
            return T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if credit_id == ID_MAX:
            return T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if debit_id == credit_id:
            return T.ACCOUNTS_MUST_BE_DIFFERENT
        if pending_id:
            return T.PENDING_ID_MUST_BE_ZERO
        if timeout and not flags & _PENDING:
            return T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if amount == 0:
            return T.AMOUNT_MUST_NOT_BE_ZERO
        if ledger == 0:
            return T.LEDGER_MUST_NOT_BE_ZERO
        if code == 0:
            return T.CODE_MUST_NOT_BE_ZERO
        accounts = self.accounts
        dr = accounts.get(debit_id)
        if dr is None:
            return T.DEBIT_ACCOUNT_NOT_FOUND
        cr = accounts.get(credit_id)
        if cr is None:
            return T.CREDIT_ACCOUNT_NOT_FOUND
        if dr.ledger != cr.ledger:
            return T.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
        if ledger != dr.ledger:
            return T.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
        if dr.flags & _CLOSED:
            return T.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.flags & _CLOSED:
            return T.CREDIT_ACCOUNT_ALREADY_CLOSED

        if flags & _BALANCING:
            # The requested amount is an upper bound; move only what the balance allows,
            # and never a zero amount (as elsewhere): nothing available is a limit failure.
            if flags & _BALANCING_DEBIT:
                available = dr.credits_posted - dr.debits_posted - dr.debits_pending
                if available <= 0:
                    return T.EXCEEDS_CREDITS
                amount = min(amount, available)
            if flags & _BALANCING_CREDIT:
                available = cr.debits_posted - cr.credits_posted - cr.credits_pending
                if available <= 0:
                    return T.EXCEEDS_DEBITS
                amount = min(amount, available)

        if flags & _PENDING:
            if dr.debits_pending + amount > AMOUNT_MAX:
                return T.OVERFLOWS_DEBITS_PENDING
            if cr.credits_pending + amount > AMOUNT_MAX:
                return T.OVERFLOWS_CREDITS_PENDING
        else:
            if dr.debits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_DEBITS_POSTED
            if cr.credits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_CREDITS_POSTED
        if dr.debits_pending + dr.debits_posted + amount > AMOUNT_MAX:
            return T.OVERFLOWS_DEBITS
        if cr.credits_pending + cr.credits_posted + amount > AMOUNT_MAX:
            return T.OVERFLOWS_CREDITS
        expires_at = 0
        if timeout:
            expires_at = ts + timeout * NS_PER_S
            if expires_at > TIMESTAMP_MAX:
                return T.OVERFLOWS_TIMEOUT
        if dr.flags & _DMNEC and dr.debits_pending + dr.debits_posted + amount > dr.credits_posted:
            return T.EXCEEDS_CREDITS
        if cr.flags & _CMNED and cr.credits_pending + cr.credits_posted + amount > cr.debits_posted:
            return T.EXCEEDS_DEBITS

        if undo is not None:
            undo.save(dr)
            undo.save(cr)
            undo.new_transfers.append(id)
        row: TransferRow = (
            ts,
            id,
            debit_id,
            credit_id,
            amount,
            0,
            t.user_data_128,
            t.user_data_64,
            t.user_data_32,
            timeout,
            ledger,
            code,
            flags,
            dr.last_transfer_timestamp,
            cr.last_transfer_timestamp,
        )
        if flags & _PENDING:
            dr.debits_pending += amount
            cr.credits_pending += amount
            if flags & _CLOSING_DEBIT:
                dr.flags |= _CLOSED
            if flags & _CLOSING_CREDIT:
                cr.flags |= _CLOSED
            self.pending[id] = PendingState(row, expires_at)
            if expires_at:
                heapq.heappush(self.expiry_queue, (expires_at, id))
            if undo is not None:
                undo.new_pending.append(id)
        else:
            dr.debits_posted += amount
            cr.credits_posted += amount
        # _commit_row, inlined: this is the hottest path in the ledger.
        dr.last_transfer_timestamp = ts
        cr.last_transfer_timestamp = ts
        self.transfer_ids.add(id)
        self._recent_rows[0][id] = row
        effects = self._effects
        effects.transfers.append(row)
        touched = self._touched
        touched[debit_id] = dr
        touched[credit_id] = cr
        if (dr.flags | cr.flags) & _HISTORY:
            if dr.flags & _HISTORY:
                effects.history.append(_history_row(dr, ts))
            if cr.flags & _HISTORY:
                effects.history.append(_history_row(cr, ts))
        return T.OK

    def _resolve_pending(self, t: Transfer, ts: int, undo: _ChainUndo | None) -> T:
        """Post or void a pending transfer."""
        flags = t.flags
        if type(flags) is not int:
            flags = int(flags)  # An IntFlag (checked to be an int by the caller).
        pending_id = t.pending_id
        if flags & (_PENDING | _BALANCING | _CLOSING) or (flags & _POST and flags & _VOID):
            return T.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if pending_id == 0:
            return T.PENDING_ID_MUST_NOT_BE_ZERO
        if pending_id == ID_MAX:
            return T.PENDING_ID_MUST_NOT_BE_INT_MAX
        if pending_id == t.id:
            return T.PENDING_ID_MUST_BE_DIFFERENT
        if t.timeout:
            return T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        state = self.pending.get(pending_id)
        if state is None:
            status = self.pending_status(pending_id)
            if status is PendingStatus.POSTED:
                return T.PENDING_TRANSFER_ALREADY_POSTED
            if status is PendingStatus.VOIDED:
                return T.PENDING_TRANSFER_ALREADY_VOIDED
            if status is PendingStatus.EXPIRED:
                return T.PENDING_TRANSFER_EXPIRED
            if pending_id in self.transfer_ids:
                return T.PENDING_TRANSFER_NOT_PENDING
            return T.PENDING_TRANSFER_NOT_FOUND
        p = state.row
        if t.debit_account_id and t.debit_account_id != p[R_DEBIT]:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != p[R_CREDIT]:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.ledger and t.ledger != p[R_LEDGER]:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
        if t.code and t.code != p[R_CODE]:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        pending_amount = p[R_AMOUNT]
        if flags & _POST:
            amount = t.amount or pending_amount
            if amount > pending_amount:
                return T.EXCEEDS_PENDING_TRANSFER_AMOUNT
        else:
            if t.amount and t.amount != pending_amount:
                return T.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
            amount = pending_amount
        if state.expires_at and state.expires_at <= ts:
            return T.PENDING_TRANSFER_EXPIRED
        dr = self.accounts[p[R_DEBIT]]
        cr = self.accounts[p[R_CREDIT]]
        if flags & _POST:
            if dr.debits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_DEBITS_POSTED
            if cr.credits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_CREDITS_POSTED

        if undo is not None:
            undo.save(dr)
            undo.save(cr)
            undo.new_transfers.append(t.id)
            undo.resolved.append((pending_id, state))
        dr.debits_pending -= pending_amount
        cr.credits_pending -= pending_amount
        if flags & _POST:
            dr.debits_posted += amount
            cr.credits_posted += amount
            status = PendingStatus.POSTED
        else:
            if p[R_FLAGS] & _CLOSING_DEBIT:
                dr.flags &= ~_CLOSED
            if p[R_FLAGS] & _CLOSING_CREDIT:
                cr.flags &= ~_CLOSED
            status = PendingStatus.VOIDED
        del self.pending[pending_id]
        self._recent_status[0][pending_id] = status
        row: TransferRow = (
            ts,
            t.id,
            p[R_DEBIT],
            p[R_CREDIT],
            amount,
            pending_id,
            t.user_data_128 or p[R_USER_DATA_128],
            t.user_data_64 or p[R_USER_DATA_64],
            t.user_data_32 or p[R_USER_DATA_32],
            0,
            p[R_LEDGER],
            p[R_CODE],
            flags,
            dr.last_transfer_timestamp,
            cr.last_transfer_timestamp,
        )
        self._commit_row(row, dr, cr)
        return T.OK

    def _commit_row(self, row: TransferRow, dr: AccountState, cr: AccountState) -> None:
        ts = row[R_TIMESTAMP]
        id = row[R_ID]
        dr.last_transfer_timestamp = ts
        cr.last_transfer_timestamp = ts
        self.transfer_ids.add(id)
        self._recent_rows[0][id] = row
        effects = self._effects
        effects.transfers.append(row)
        touched = self._touched
        touched[dr.id] = dr
        touched[cr.id] = cr
        if dr.flags & _HISTORY:
            effects.history.append(_history_row(dr, ts))
        if cr.flags & _HISTORY:
            effects.history.append(_history_row(cr, ts))

    # -- linked chains -------------------------------------------------------------------

    def _marks(self) -> tuple[int, int, int]:
        e = self._effects
        return (len(e.accounts), len(e.transfers), len(e.history))

    def _rollback(self, undo: _ChainUndo) -> None:
        for state, dp, dpo, cp, cpo, flags, last in reversed(undo.balances):
            state.debits_pending, state.debits_posted = dp, dpo
            state.credits_pending, state.credits_posted = cp, cpo
            state.flags, state.last_transfer_timestamp = flags, last
        for id in undo.new_accounts:
            del self.accounts[id]
            self._touched.pop(id, None)
        for id in undo.new_transfers:
            self.transfer_ids.discard(id)
            self._recent_rows[0].pop(id, None)
        # Restore resolved holds first: a chain may have created a hold and resolved it.
        for id, pending in undo.resolved:
            self.pending[id] = pending
            self._recent_status[0].pop(id, None)
        for id in undo.new_pending:
            del self.pending[id]
        accounts_mark, transfers_mark, history_mark = undo.marks
        e = self._effects
        del e.accounts[accounts_mark:]
        del e.transfers[transfers_mark:]
        del e.history[history_mark:]


def _history_row(s: AccountState, ts: int) -> HistoryRow:
    return (s.id, ts, s.debits_pending, s.debits_posted, s.credits_pending, s.credits_posted)


def _compare_existing(t: Transfer, e: TransferRow, full_amount: int = 0) -> T:
    """Result for a retried transfer id: `exists` only if the request is the same."""
    flags = t.flags
    if flags != e[R_FLAGS]:
        return T.EXISTS_WITH_DIFFERENT_FLAGS
    if flags & _RESOLVE:
        # Post and void may leave accounts, ledger, code, amount and user data to the
        # pending transfer; only what the request states is compared.
        if t.pending_id != e[R_PENDING_ID]:
            return T.EXISTS_WITH_DIFFERENT_PENDING_ID
        if t.timeout:
            return T.EXISTS_WITH_DIFFERENT_TIMEOUT
        if t.debit_account_id and t.debit_account_id != e[R_DEBIT]:
            return T.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != e[R_CREDIT]:
            return T.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.amount and t.amount != e[R_AMOUNT]:
            return T.EXISTS_WITH_DIFFERENT_AMOUNT
        if full_amount and full_amount != e[R_AMOUNT]:  # a full post retried against a partial
            return T.EXISTS_WITH_DIFFERENT_AMOUNT
        if t.user_data_128 and t.user_data_128 != e[R_USER_DATA_128]:
            return T.EXISTS_WITH_DIFFERENT_USER_DATA_128
        if t.user_data_64 and t.user_data_64 != e[R_USER_DATA_64]:
            return T.EXISTS_WITH_DIFFERENT_USER_DATA_64
        if t.user_data_32 and t.user_data_32 != e[R_USER_DATA_32]:
            return T.EXISTS_WITH_DIFFERENT_USER_DATA_32
        if t.ledger and t.ledger != e[R_LEDGER]:
            return T.EXISTS_WITH_DIFFERENT_LEDGER
        if t.code and t.code != e[R_CODE]:
            return T.EXISTS_WITH_DIFFERENT_CODE
        return T.EXISTS
    if t.pending_id != e[R_PENDING_ID]:
        return T.EXISTS_WITH_DIFFERENT_PENDING_ID
    if t.timeout != e[R_TIMEOUT]:
        return T.EXISTS_WITH_DIFFERENT_TIMEOUT
    if t.debit_account_id != e[R_DEBIT]:
        return T.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID
    if t.credit_account_id != e[R_CREDIT]:
        return T.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID
    if flags & _BALANCING:
        # A balancing transfer stores what it moved, at most the requested bound.
        if t.amount < e[R_AMOUNT]:
            return T.EXISTS_WITH_DIFFERENT_AMOUNT
    elif t.amount != e[R_AMOUNT]:
        return T.EXISTS_WITH_DIFFERENT_AMOUNT
    if t.user_data_128 != e[R_USER_DATA_128]:
        return T.EXISTS_WITH_DIFFERENT_USER_DATA_128
    if t.user_data_64 != e[R_USER_DATA_64]:
        return T.EXISTS_WITH_DIFFERENT_USER_DATA_64
    if t.user_data_32 != e[R_USER_DATA_32]:
        return T.EXISTS_WITH_DIFFERENT_USER_DATA_32
    if t.ledger != e[R_LEDGER]:
        return T.EXISTS_WITH_DIFFERENT_LEDGER
    if t.code != e[R_CODE]:
        return T.EXISTS_WITH_DIFFERENT_CODE
    return T.EXISTS


_Event = TypeVar("_Event", Account, Transfer)
_Result = TypeVar("_Result", CreateAccountResult, CreateTransferResult)


def _run_chains(
    engine: Engine,
    events: Sequence[_Event],
    timestamp: int,
    apply: Callable[[_Event, int, _ChainUndo | None], _Result],
    ok: _Result,
) -> list[_Result]:
    """Apply events one by one; linked chains succeed or fail as a whole."""
    results = type(ok)
    try:
        unlinked = not any([event.flags & _LINKED for event in events])
    except TypeError:  # a malformed flags field: the careful loop below reports it
        unlinked = False
    if unlinked:
        return [apply(event, timestamp + i, None) for i, event in enumerate(events)]
    linked_failed = results.LINKED_EVENT_FAILED
    out: list[_Result] = []
    append = out.append
    count = len(events)
    i = 0
    while i < count:
        event = events[i]
        flags = event.flags
        if not isinstance(flags, int) or not flags & _LINKED:
            append(apply(event, timestamp + i, None))
            i += 1
            continue
        end = i
        while end < count:
            f = events[end].flags
            if not isinstance(f, int) or not f & _LINKED:
                break
            end += 1
        if end == count:
            out.extend([linked_failed] * (count - 1 - i))
            append(results.LINKED_EVENT_CHAIN_OPEN)
            break
        undo = _ChainUndo(engine._marks())
        chain: list[_Result] = []
        for k in range(i, end + 1):
            result = apply(events[k], timestamp + k, undo)
            if result is not ok:
                engine._rollback(undo)
                chain = [linked_failed] * (end + 1 - i)
                chain[k - i] = result
                break
            chain.append(result)
        out.extend(chain)
        i = end + 1
    return out
