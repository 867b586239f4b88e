"""A plain reference model of the ledger, written for obviousness, not speed.

It shares no code with the engine: state is dictionaries, a linked chain is applied to a deep
copy that replaces the state only if every event succeeds, and every rule is written out in
the order docs/LEDGER.md gives. The stateful tests run both on the same events and require
identical results and balances.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from corridor.ledger.types import (
    AMOUNT_MAX,
    ID_MAX,
    Account,
    Transfer,
)
from corridor.ledger.types import (
    AccountFlags as AF,
)
from corridor.ledger.types import (
    CreateAccountResult as A,
)
from corridor.ledger.types import (
    CreateTransferResult as T,
)
from corridor.ledger.types import (
    TransferFlags as TF,
)

NS = 1_000_000_000


@dataclass
class ModelAccount:
    id: int
    ledger: int
    code: int
    flags: int
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0


@dataclass
class ModelState:
    accounts: dict[int, ModelAccount] = field(default_factory=dict)
    transfers: dict[int, Transfer] = field(default_factory=dict)  # as stored
    status: dict[int, str] = field(default_factory=dict)  # pending id -> status
    expires_at: dict[int, int] = field(default_factory=dict)  # open pending id -> time


class Model:
    def __init__(self) -> None:
        self.state = ModelState()
        self.last_timestamp = 0

    def advance(self, now: int) -> int:
        """Expire what is due at max(now, last + 1); return the next event timestamp."""
        start = max(now, self.last_timestamp + 1)
        due = sorted((when, id) for id, when in self.state.expires_at.items() if when <= start)
        for _when, id in due:
            self._expire_one(id)
        if due:
            self.last_timestamp = start + len(due) - 1
        self.last_timestamp = max(self.last_timestamp, start - 1)
        return self.last_timestamp + 1

    def _take(self, count: int) -> int:
        first = self.last_timestamp + 1
        self.last_timestamp += count
        return first

    # -- accounts --

    def create_accounts(self, events: list[Account]) -> list[A]:
        return self._chains(events, self._take(len(events)), self._account, A)

    def _account(self, s: ModelState, a: Account, ts: int) -> A:
        if a.timestamp != 0:
            return A.TIMESTAMP_MUST_BE_ZERO
        if a.debits_pending:
            return A.DEBITS_PENDING_MUST_BE_ZERO
        if a.debits_posted:
            return A.DEBITS_POSTED_MUST_BE_ZERO
        if a.credits_pending:
            return A.CREDITS_PENDING_MUST_BE_ZERO
        if a.credits_posted:
            return A.CREDITS_POSTED_MUST_BE_ZERO
        if a.flags & ~int(
            AF.LINKED
            | AF.DEBITS_MUST_NOT_EXCEED_CREDITS
            | AF.CREDITS_MUST_NOT_EXCEED_DEBITS
            | AF.HISTORY
            | AF.CLOSED
        ):
            return A.RESERVED_FLAG
        if a.id == 0:
            return A.ID_MUST_NOT_BE_ZERO
        if a.id == ID_MAX:
            return A.ID_MUST_NOT_BE_INT_MAX
        e = s.accounts.get(a.id)
        if e is not None:
            if (e.flags ^ a.flags) & ~int(AF.CLOSED):
                return A.EXISTS_WITH_DIFFERENT_FLAGS
            if e.user_data_128 != a.user_data_128:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_128
            if e.user_data_64 != a.user_data_64:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_64
            if e.user_data_32 != a.user_data_32:
                return A.EXISTS_WITH_DIFFERENT_USER_DATA_32
            if e.ledger != a.ledger:
                return A.EXISTS_WITH_DIFFERENT_LEDGER
            if e.code != a.code:
                return A.EXISTS_WITH_DIFFERENT_CODE
            return A.EXISTS
        both = AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.CREDITS_MUST_NOT_EXCEED_DEBITS
        if a.flags & both == both:
            return A.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if a.ledger == 0:
            return A.LEDGER_MUST_NOT_BE_ZERO
        if a.code == 0:
            return A.CODE_MUST_NOT_BE_ZERO
        s.accounts[a.id] = ModelAccount(
            a.id, a.ledger, a.code, a.flags, a.user_data_128, a.user_data_64, a.user_data_32
        )
        return A.OK

    # -- time --

    def _expire_one(self, id: int) -> None:
        s = self.state
        p = s.transfers[id]
        dr, cr = s.accounts[p.debit_account_id], s.accounts[p.credit_account_id]
        dr.debits_pending -= p.amount
        cr.credits_pending -= p.amount
        if p.flags & TF.CLOSING_DEBIT:
            dr.flags &= ~AF.CLOSED
        if p.flags & TF.CLOSING_CREDIT:
            cr.flags &= ~AF.CLOSED
        s.status[id] = "expired"
        del s.expires_at[id]

    # -- transfers --

    def create_transfers(self, events: list[Transfer]) -> list[T]:
        return self._chains(events, self._take(len(events)), self._transfer, T)

    def _transfer(self, s: ModelState, t: Transfer, ts: int) -> T:
        if t.timestamp != 0:
            return T.TIMESTAMP_MUST_BE_ZERO
        limits = {
            "id": 128,
            "debit_account_id": 128,
            "credit_account_id": 128,
            "pending_id": 128,
            "user_data_128": 128,
            "amount": 63,
            "user_data_64": 63,
            "user_data_32": 32,
            "timeout": 32,
            "ledger": 32,
            "code": 16,
            "flags": 16,
        }
        for name, bits in limits.items():
            if not 0 <= getattr(t, name) < (1 << bits):
                return T.FIELD_OUT_OF_RANGE
        if t.flags & ~0xFF:
            return T.RESERVED_FLAG
        if t.id == 0:
            return T.ID_MUST_NOT_BE_ZERO
        if t.id == ID_MAX:
            return T.ID_MUST_NOT_BE_INT_MAX
        if t.id in s.transfers:
            e = s.transfers[t.id]
            full = 0
            if t.flags == e.flags and t.flags & TF.POST_PENDING_TRANSFER and t.amount == 0:
                full = s.transfers[e.pending_id].amount
            return self._exists(t, e, full)
        if t.flags & (TF.POST_PENDING_TRANSFER | TF.VOID_PENDING_TRANSFER):
            return self._resolve(s, t, ts)
        if t.flags & (TF.CLOSING_DEBIT | TF.CLOSING_CREDIT) and not t.flags & TF.PENDING:
            return T.CLOSING_TRANSFER_MUST_BE_PENDING
        if t.debit_account_id == 0:
            return T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.debit_account_id == ID_MAX:
            return T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if t.credit_account_id == 0:
            return T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO
        if t.credit_account_id == ID_MAX:
            return T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX
        if t.debit_account_id == t.credit_account_id:
            return T.ACCOUNTS_MUST_BE_DIFFERENT
        if t.pending_id != 0:
            return T.PENDING_ID_MUST_BE_ZERO
        if t.timeout and not t.flags & TF.PENDING:
            return T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        if t.amount == 0:
            return T.AMOUNT_MUST_NOT_BE_ZERO
        if t.ledger == 0:
            return T.LEDGER_MUST_NOT_BE_ZERO
        if t.code == 0:
            return T.CODE_MUST_NOT_BE_ZERO
        dr = s.accounts.get(t.debit_account_id)
        if dr is None:
            return T.DEBIT_ACCOUNT_NOT_FOUND
        cr = s.accounts.get(t.credit_account_id)
        if cr is None:
            return T.CREDIT_ACCOUNT_NOT_FOUND
        if dr.ledger != cr.ledger:
            return T.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER
        if t.ledger != dr.ledger:
            return T.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS
        if dr.flags & AF.CLOSED:
            return T.DEBIT_ACCOUNT_ALREADY_CLOSED
        if cr.flags & AF.CLOSED:
            return T.CREDIT_ACCOUNT_ALREADY_CLOSED
        amount = t.amount
        if t.flags & TF.BALANCING_DEBIT:
            available = dr.credits_posted - dr.debits_posted - dr.debits_pending
            if available <= 0:
                return T.EXCEEDS_CREDITS
            amount = min(amount, available)
        if t.flags & TF.BALANCING_CREDIT:
            available = cr.debits_posted - cr.credits_posted - cr.credits_pending
            if available <= 0:
                return T.EXCEEDS_DEBITS
            amount = min(amount, available)
        pending = bool(t.flags & TF.PENDING)
        if pending:
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
        if t.timeout and ts + t.timeout * NS > (1 << 63) - 1:
            return T.OVERFLOWS_TIMEOUT
        if (
            dr.flags & AF.DEBITS_MUST_NOT_EXCEED_CREDITS
            and dr.debits_pending + dr.debits_posted + amount > dr.credits_posted
        ):
            return T.EXCEEDS_CREDITS
        if (
            cr.flags & AF.CREDITS_MUST_NOT_EXCEED_DEBITS
            and cr.credits_pending + cr.credits_posted + amount > cr.debits_posted
        ):
            return T.EXCEEDS_DEBITS
        if pending:
            dr.debits_pending += amount
            cr.credits_pending += amount
            if t.flags & TF.CLOSING_DEBIT:
                dr.flags |= AF.CLOSED
            if t.flags & TF.CLOSING_CREDIT:
                cr.flags |= AF.CLOSED
            s.status[t.id] = "pending"
            if t.timeout:
                s.expires_at[t.id] = ts + t.timeout * NS
        else:
            dr.debits_posted += amount
            cr.credits_posted += amount
        s.transfers[t.id] = Transfer(
            id=t.id,
            debit_account_id=t.debit_account_id,
            credit_account_id=t.credit_account_id,
            amount=amount,
            user_data_128=t.user_data_128,
            user_data_64=t.user_data_64,
            user_data_32=t.user_data_32,
            timeout=t.timeout,
            ledger=t.ledger,
            code=t.code,
            flags=t.flags,
            timestamp=ts,
        )
        return T.OK

    def _resolve(self, s: ModelState, t: Transfer, ts: int) -> T:
        post = bool(t.flags & TF.POST_PENDING_TRANSFER)
        void = bool(t.flags & TF.VOID_PENDING_TRANSFER)
        others = TF.PENDING | TF.BALANCING_DEBIT | TF.BALANCING_CREDIT
        others |= TF.CLOSING_DEBIT | TF.CLOSING_CREDIT
        if (post and void) or t.flags & others:
            return T.FLAGS_ARE_MUTUALLY_EXCLUSIVE
        if t.pending_id == 0:
            return T.PENDING_ID_MUST_NOT_BE_ZERO
        if t.pending_id == ID_MAX:
            return T.PENDING_ID_MUST_NOT_BE_INT_MAX
        if t.pending_id == t.id:
            return T.PENDING_ID_MUST_BE_DIFFERENT
        if t.timeout:
            return T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER
        status = s.status.get(t.pending_id)
        if status == "posted":
            return T.PENDING_TRANSFER_ALREADY_POSTED
        if status == "voided":
            return T.PENDING_TRANSFER_ALREADY_VOIDED
        if status == "expired":
            return T.PENDING_TRANSFER_EXPIRED
        if status is None:
            if t.pending_id in s.transfers:
                return T.PENDING_TRANSFER_NOT_PENDING
            return T.PENDING_TRANSFER_NOT_FOUND
        p = s.transfers[t.pending_id]
        if t.debit_account_id and t.debit_account_id != p.debit_account_id:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID
        if t.credit_account_id and t.credit_account_id != p.credit_account_id:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID
        if t.ledger and t.ledger != p.ledger:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER
        if t.code and t.code != p.code:
            return T.PENDING_TRANSFER_HAS_DIFFERENT_CODE
        if post:
            amount = t.amount if t.amount else p.amount
            if amount > p.amount:
                return T.EXCEEDS_PENDING_TRANSFER_AMOUNT
        else:
            if t.amount and t.amount != p.amount:
                return T.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT
            amount = p.amount
        expires = s.expires_at.get(t.pending_id)
        if expires is not None and expires <= ts:
            return T.PENDING_TRANSFER_EXPIRED
        dr, cr = s.accounts[p.debit_account_id], s.accounts[p.credit_account_id]
        if post:
            if dr.debits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_DEBITS_POSTED
            if cr.credits_posted + amount > AMOUNT_MAX:
                return T.OVERFLOWS_CREDITS_POSTED
        dr.debits_pending -= p.amount
        cr.credits_pending -= p.amount
        if post:
            dr.debits_posted += amount
            cr.credits_posted += amount
            s.status[t.pending_id] = "posted"
        else:
            if p.flags & TF.CLOSING_DEBIT:
                dr.flags &= ~AF.CLOSED
            if p.flags & TF.CLOSING_CREDIT:
                cr.flags &= ~AF.CLOSED
            s.status[t.pending_id] = "voided"
        s.expires_at.pop(t.pending_id, None)
        s.transfers[t.id] = Transfer(
            id=t.id,
            debit_account_id=p.debit_account_id,
            credit_account_id=p.credit_account_id,
            amount=amount,
            pending_id=t.pending_id,
            user_data_128=t.user_data_128 or p.user_data_128,
            user_data_64=t.user_data_64 or p.user_data_64,
            user_data_32=t.user_data_32 or p.user_data_32,
            ledger=p.ledger,
            code=p.code,
            flags=t.flags,
            timestamp=ts,
        )
        return T.OK

    @staticmethod
    def _exists(t: Transfer, e: Transfer, full: int = 0) -> T:
        if t.flags != e.flags:
            return T.EXISTS_WITH_DIFFERENT_FLAGS
        resolving = t.flags & (TF.POST_PENDING_TRANSFER | TF.VOID_PENDING_TRANSFER)
        checks: list[tuple[str, T]] = [
            ("pending_id", T.EXISTS_WITH_DIFFERENT_PENDING_ID),
            ("timeout", T.EXISTS_WITH_DIFFERENT_TIMEOUT),
            ("debit_account_id", T.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID),
            ("credit_account_id", T.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID),
            ("amount", T.EXISTS_WITH_DIFFERENT_AMOUNT),
            ("user_data_128", T.EXISTS_WITH_DIFFERENT_USER_DATA_128),
            ("user_data_64", T.EXISTS_WITH_DIFFERENT_USER_DATA_64),
            ("user_data_32", T.EXISTS_WITH_DIFFERENT_USER_DATA_32),
            ("ledger", T.EXISTS_WITH_DIFFERENT_LEDGER),
            ("code", T.EXISTS_WITH_DIFFERENT_CODE),
        ]
        for name, result in checks:
            mine, theirs = getattr(t, name), getattr(e, name)
            if resolving:
                if name == "pending_id" and mine != theirs:
                    return result
                if name == "timeout" and mine:
                    return result
                if name not in ("pending_id", "timeout") and mine and mine != theirs:
                    return result
                if name == "amount" and not mine and full and full != theirs:
                    return result
            elif name == "amount" and t.flags & (TF.BALANCING_DEBIT | TF.BALANCING_CREDIT):
                if mine < theirs:
                    return result
            elif mine != theirs:
                return result
        return T.EXISTS

    # -- chains --

    def _chains(self, events, timestamp, apply, results):  # type: ignore[no-untyped-def]
        out = []
        i = 0
        while i < len(events):
            if not events[i].flags & TF.LINKED:
                out.append(apply(self.state, events[i], timestamp + i))
                i += 1
                continue
            end = i
            while end < len(events) and events[end].flags & TF.LINKED:
                end += 1
            if end == len(events):
                out += [results.LINKED_EVENT_FAILED] * (end - 1 - i)
                out.append(results.LINKED_EVENT_CHAIN_OPEN)
                break
            trial = copy.deepcopy(self.state)
            chain = []
            for k in range(i, end + 1):
                result = apply(trial, events[k], timestamp + k)
                if result != results.OK:
                    chain = [results.LINKED_EVENT_FAILED] * (end + 1 - i)
                    chain[k - i] = result
                    break
                chain.append(result)
            else:
                self.state = trial
            out += chain
            i = end + 1
        return out

    # -- views --

    def balances(self) -> dict[int, tuple[int, int, int, int, int]]:
        return {
            id: (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)
            for id, a in self.state.accounts.items()
        }
