"""Every result code of create_accounts and create_transfers, each reached by a scenario.

The scenarios form two tables, one per enum, keyed by the code they end in and named after
the behaviour they show. Each scenario sets the scene on a pure engine (one open batch, so
nothing falls out of the engine's recent generations) and returns the final attempt; the test
runs it and asserts the exact results, that the books still balance, and that a failed attempt
changed nothing at all: no balance, no flag, no transfer id, no pending transfer, no row for
storage. `test_every_*_result_has_a_scenario` fails as soon as an enum member has none.

A few tests at the end go through `Ledger.open` to show that the codes survive the durable
path: after a reopen the engine no longer holds resolved pending transfers or old rows in
memory and must ask storage.

docs/LEDGER.md documents every code; keep both in step.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from msgspec.structs import replace

from corridor.ledger import BatchTooLarge, Ledger
from corridor.ledger.engine import TIMESTAMP_MAX, Engine, transfer_from_row
from corridor.ledger.types import (
    AMOUNT_MAX,
    BATCH_EVENTS_MAX,
    ID_MAX,
    NS_PER_S,
    U32_MAX,
    Account,
    PendingStatus,
    Transfer,
)
from corridor.ledger.types import AccountFlags as AF
from corridor.ledger.types import CreateAccountResult as A
from corridor.ledger.types import CreateTransferResult as T
from corridor.ledger.types import TransferFlags as TF
from corridor.ledger.verify import verify

USD = 840
JPY = 392
START = 1_700_000_000 * NS_PER_S
BANK = 900
"""A plain account that funds the others in scenarios that need a balance."""


# -- events --------------------------------------------------------------------------------


def acct(id: int, *, ledger: int = USD, code: int = 1, flags: int = 0, **kw: Any) -> Account:
    return Account(id=id, ledger=ledger, code=code, flags=int(flags), **kw)


def tr(
    id: int,
    dr: int = 1,
    cr: int = 2,
    amount: int = 100,
    *,
    ledger: int = USD,
    code: int = 1,
    flags: int = 0,
    **kw: Any,
) -> Transfer:
    return Transfer(
        id=id,
        debit_account_id=dr,
        credit_account_id=cr,
        amount=amount,
        ledger=ledger,
        code=code,
        flags=int(flags),
        **kw,
    )


def pending(id: int, dr: int = 1, cr: int = 2, amount: int = 100, **kw: Any) -> Transfer:
    flags = TF.PENDING | kw.pop("flags", 0)
    return tr(id, dr, cr, amount, flags=flags, **kw)


def post(id: int, pending_id: int, amount: int = 0, *, flags: int = 0, **kw: Any) -> Transfer:
    return Transfer(
        id=id,
        pending_id=pending_id,
        amount=amount,
        flags=int(TF.POST_PENDING_TRANSFER | flags),
        **kw,
    )


def void(id: int, pending_id: int, amount: int = 0, *, flags: int = 0, **kw: Any) -> Transfer:
    return Transfer(
        id=id,
        pending_id=pending_id,
        amount=amount,
        flags=int(TF.VOID_PENDING_TRANSFER | flags),
        **kw,
    )


# -- the book: a pure engine in one open batch ----------------------------------------------


class Book:
    """An engine with helpers to set a scene and to watch its whole state."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.batch = self.engine.begin()
        self._funding_id = 100_000

    def next_ts(self) -> int:
        return max(self.engine.last_timestamp, START) + 1

    def accounts(self, *events: Account, at: int | None = None) -> list[A]:
        return self.engine.create_accounts(list(events), at or self.next_ts())

    def transfers(self, *events: Transfer, at: int | None = None) -> list[T]:
        return self.engine.create_transfers(list(events), at or self.next_ts())

    def given_accounts(self, *events: Account) -> None:
        assert self.accounts(*events) == [A.OK] * len(events)

    def given_transfers(self, *events: Transfer, at: int | None = None) -> int:
        """Apply transfers that must all succeed; returns the first one's timestamp."""
        ts = at or self.next_ts()
        assert self.transfers(*events, at=ts) == [T.OK] * len(events)
        return ts

    def open(self, *ids: int, ledger: int = USD, flags: int = 0) -> None:
        self.given_accounts(*(acct(id, ledger=ledger, flags=flags) for id in ids))

    def fund(self, account_id: int, amount: int) -> None:
        """Credit `account_id` with `amount` posted, from the bank."""
        if BANK not in self.engine.accounts:
            self.open(BANK)
        self._funding_id += 1
        self.given_transfers(tr(self._funding_id, BANK, account_id, amount))

    def expire(self, now: int) -> int:
        return self.engine.expire(now, max(now, self.next_ts()))

    def balances(self, account_id: int) -> tuple[int, int, int, int]:
        """(debits_pending, debits_posted, credits_pending, credits_posted)."""
        s = self.engine.accounts[account_id]
        return (s.debits_pending, s.debits_posted, s.credits_pending, s.credits_posted)

    def closed(self, account_id: int) -> bool:
        return bool(self.engine.accounts[account_id].flags & AF.CLOSED)

    def transfer(self, id: int) -> Transfer:
        row = self.engine.committed_row(id)
        assert row is not None
        return transfer_from_row(row)

    def snapshot(self) -> object:
        e, b = self.engine, self.batch
        accounts = {
            id: (
                s.ledger,
                s.code,
                s.flags,
                s.debits_pending,
                s.debits_posted,
                s.credits_pending,
                s.credits_posted,
                s.last_transfer_timestamp,
            )
            for id, s in e.accounts.items()
        }
        rows = (len(b.accounts), len(b.transfers), len(b.history), len(b.expiries))
        return (accounts, frozenset(e.transfer_ids), frozenset(e.pending), rows)

    def assert_balanced(self) -> None:
        """Per ledger, debits equal credits, posted and pending."""
        totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for s in self.engine.accounts.values():
            t = totals[s.ledger]
            t[0] += s.debits_pending
            t[1] += s.credits_pending
            t[2] += s.debits_posted
            t[3] += s.credits_posted
        for ledger, (dp, cp, dpo, cpo) in totals.items():
            assert (dp, dpo) == (cp, cpo), f"ledger {ledger} does not balance"


# -- the scenario tables ---------------------------------------------------------------------


@dataclass
class Attempt:
    """The final batch of a scenario and what must come of it."""

    events: list[Account] | list[Transfer]
    results: list[A] | list[T] | None = None
    """All results of the batch; default: just the scenario's code."""
    at: int | None = None
    """The batch's timestamp; default: the next one."""
    then: Callable[[Book], None] | None = None
    """Further checks after a batch that succeeded."""


Scenario = Callable[[Book], Attempt]
ACCOUNT_SCENARIOS: list[tuple[A, Scenario]] = []
TRANSFER_SCENARIOS: list[tuple[T, Scenario]] = []


def scenario(code: A | T) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        if isinstance(code, A):
            ACCOUNT_SCENARIOS.append((code, fn))
        else:
            TRANSFER_SCENARIOS.append((code, fn))
        return fn

    return register


# ---- accounts ------------------------------------------------------------------------------


@scenario(A.OK)
def account_with_ledger_and_code_is_ok_with_zero_balances(book: Book) -> Attempt:
    def then(book: Book) -> None:
        assert book.balances(1) == (0, 0, 0, 0)
        assert book.engine.accounts[1].timestamp == START + 1

    return Attempt([acct(1, flags=AF.HISTORY, user_data_128=5)], at=START + 1, then=then)


@scenario(A.OK)
def linked_accounts_are_ok_together(book: Book) -> Attempt:
    return Attempt([acct(1, flags=AF.LINKED), acct(2)], results=[A.OK, A.OK])


@scenario(A.LINKED_EVENT_FAILED)
def account_chain_with_a_failing_account_creates_none(book: Book) -> Attempt:
    return Attempt(
        [acct(1, flags=AF.LINKED), acct(2, ledger=0)],
        results=[A.LINKED_EVENT_FAILED, A.LEDGER_MUST_NOT_BE_ZERO],
    )


@scenario(A.LINKED_EVENT_CHAIN_OPEN)
def account_chain_left_open_at_the_end_of_the_batch_is_linked_event_chain_open(
    book: Book,
) -> Attempt:
    return Attempt(
        [acct(1, flags=AF.LINKED), acct(2, flags=AF.LINKED)],
        results=[A.LINKED_EVENT_FAILED, A.LINKED_EVENT_CHAIN_OPEN],
    )


@scenario(A.INVALID_EVENT)
def account_with_a_string_ledger_is_invalid_event(book: Book) -> Attempt:
    return Attempt([acct(1, ledger="840")])  # type: ignore[arg-type]


@scenario(A.TIMESTAMP_MUST_BE_ZERO)
def account_with_a_timestamp_is_timestamp_must_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, timestamp=START)])


@scenario(A.TIMESTAMP_MUST_BE_ZERO)
def resubmitting_an_account_as_looked_up_is_timestamp_must_be_zero(book: Book) -> Attempt:
    book.open(1)
    return Attempt([book.engine.accounts[1].to_account()])


@scenario(A.RESERVED_FLAG)
def account_with_tigerbeetles_imported_flag_is_reserved_flag(book: Book) -> Attempt:
    return Attempt([acct(1, flags=1 << 4)])


@scenario(A.ID_MUST_NOT_BE_ZERO)
def account_id_zero_is_id_must_not_be_zero(book: Book) -> Attempt:
    return Attempt([acct(0)])


@scenario(A.ID_MUST_NOT_BE_INT_MAX)
def account_id_int_max_is_id_must_not_be_int_max(book: Book) -> Attempt:
    return Attempt([acct(ID_MAX)])


@scenario(A.FIELD_OUT_OF_RANGE)
def account_id_of_129_bits_is_field_out_of_range(book: Book) -> Attempt:
    return Attempt([acct(1 << 128)])


@scenario(A.FIELD_OUT_OF_RANGE)
def account_user_data_64_of_64_bits_is_field_out_of_range(book: Book) -> Attempt:
    return Attempt([acct(1, user_data_64=1 << 63)])


def _existing_account(book: Book) -> Account:
    original = acct(1, flags=AF.HISTORY, user_data_128=7, user_data_64=8, user_data_32=9)
    book.given_accounts(original)
    return original


@scenario(A.EXISTS_WITH_DIFFERENT_FLAGS)
def account_retry_with_other_flags_is_exists_with_different_flags(book: Book) -> Attempt:
    return Attempt([replace(_existing_account(book), flags=0)])


@scenario(A.EXISTS_WITH_DIFFERENT_USER_DATA_128)
def account_retry_with_other_user_data_128_is_exists_with_different_user_data_128(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_account(book), user_data_128=70)])


@scenario(A.EXISTS_WITH_DIFFERENT_USER_DATA_64)
def account_retry_with_other_user_data_64_is_exists_with_different_user_data_64(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_account(book), user_data_64=80)])


@scenario(A.EXISTS_WITH_DIFFERENT_USER_DATA_32)
def account_retry_with_other_user_data_32_is_exists_with_different_user_data_32(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_account(book), user_data_32=90)])


@scenario(A.EXISTS_WITH_DIFFERENT_LEDGER)
def account_retry_on_another_ledger_is_exists_with_different_ledger(book: Book) -> Attempt:
    return Attempt([replace(_existing_account(book), ledger=JPY)])


@scenario(A.EXISTS_WITH_DIFFERENT_CODE)
def account_retry_with_another_code_is_exists_with_different_code(book: Book) -> Attempt:
    return Attempt([replace(_existing_account(book), code=2)])


@scenario(A.EXISTS)
def identical_account_retry_is_exists(book: Book) -> Attempt:
    return Attempt([_existing_account(book)])


@scenario(A.EXISTS)
def account_retry_after_a_closing_transfer_is_exists_as_closed_is_not_compared(
    book: Book,
) -> Attempt:
    original = _existing_account(book)
    book.open(2)
    book.given_transfers(pending(20, 1, 2, 1, flags=TF.CLOSING_DEBIT))
    assert book.closed(1)
    return Attempt([original])


@scenario(A.EXISTS_WITH_DIFFERENT_FLAGS)
def account_retry_is_compared_before_its_flags_are_judged(book: Book) -> Attempt:
    both = AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.CREDITS_MUST_NOT_EXCEED_DEBITS
    book.given_accounts(acct(1))
    return Attempt([acct(1, flags=both)])  # not flags_are_mutually_exclusive


@scenario(A.FLAGS_ARE_MUTUALLY_EXCLUSIVE)
def account_with_both_balance_limits_is_flags_are_mutually_exclusive(book: Book) -> Attempt:
    both = AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.CREDITS_MUST_NOT_EXCEED_DEBITS
    return Attempt([acct(1, flags=both)])


@scenario(A.DEBITS_PENDING_MUST_BE_ZERO)
def account_with_debits_pending_is_debits_pending_must_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, debits_pending=1)])


@scenario(A.DEBITS_POSTED_MUST_BE_ZERO)
def account_with_debits_posted_is_debits_posted_must_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, debits_posted=1)])


@scenario(A.CREDITS_PENDING_MUST_BE_ZERO)
def account_with_credits_pending_is_credits_pending_must_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, credits_pending=1)])


@scenario(A.CREDITS_POSTED_MUST_BE_ZERO)
def account_with_credits_posted_is_credits_posted_must_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, credits_posted=1)])


@scenario(A.LEDGER_MUST_NOT_BE_ZERO)
def account_without_ledger_is_ledger_must_not_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, ledger=0)])


@scenario(A.CODE_MUST_NOT_BE_ZERO)
def account_without_code_is_code_must_not_be_zero(book: Book) -> Attempt:
    return Attempt([acct(1, code=0)])


# ---- transfers: success --------------------------------------------------------------------


@scenario(T.OK)
def single_phase_transfer_is_ok_and_moves_posted_balances(book: Book) -> Attempt:
    book.open(1, 2)

    def then(book: Book) -> None:
        assert book.balances(1) == (0, 100, 0, 0)
        assert book.balances(2) == (0, 0, 0, 100)

    return Attempt([tr(10, 1, 2, 100)], then=then)


@scenario(T.OK)
def pending_transfer_is_ok_and_moves_pending_balances(book: Book) -> Attempt:
    book.open(1, 2)

    def then(book: Book) -> None:
        assert book.balances(1) == (100, 0, 0, 0)
        assert book.balances(2) == (0, 0, 100, 0)
        assert book.engine.pending_status(20) is PendingStatus.PENDING

    return Attempt([pending(20, 1, 2, 100, timeout=60)], then=then)


@scenario(T.OK)
def partial_post_is_ok_and_releases_the_rest_of_the_pending_amount(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 100))

    def then(book: Book) -> None:
        assert book.balances(1) == (0, 30, 0, 0)
        assert book.balances(2) == (0, 0, 0, 30)
        assert book.transfer(30).amount == 30
        assert book.engine.pending_status(20) is PendingStatus.POSTED

    return Attempt([post(30, 20, 30)], then=then)


@scenario(T.OK)
def post_with_amount_zero_posts_the_full_pending_amount_and_inherits_its_fields(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 100, code=7, user_data_64=64, user_data_32=32))

    def then(book: Book) -> None:
        assert book.balances(1) == (0, 100, 0, 0)
        stored = book.transfer(30)
        assert (stored.amount, stored.debit_account_id, stored.credit_account_id) == (100, 1, 2)
        assert (stored.ledger, stored.code, stored.pending_id) == (USD, 7, 20)
        assert (stored.user_data_64, stored.user_data_32) == (64, 5)  # stated one wins

    return Attempt([post(30, 20, user_data_32=5)], then=then)


@scenario(T.OK)
def void_is_ok_and_releases_the_pending_amount(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 100))

    def then(book: Book) -> None:
        assert book.balances(1) == book.balances(2) == (0, 0, 0, 0)
        assert book.engine.pending_status(20) is PendingStatus.VOIDED

    return Attempt([void(30, 20, 100)], then=then)


@scenario(T.OK)
def post_one_nanosecond_before_expiry_is_ok(book: Book) -> Attempt:
    book.open(1, 2)
    t0 = book.given_transfers(pending(20, 1, 2, 100, timeout=1))
    return Attempt([post(30, 20)], at=t0 + NS_PER_S - 1)


@scenario(T.OK)
def balancing_debit_moves_only_the_available_amount(book: Book) -> Attempt:
    book.open(1, 2)
    book.fund(1, 100)
    book.given_transfers(tr(10, 1, 2, 30))

    def then(book: Book) -> None:
        assert book.transfer(11).amount == 70  # stored: what moved, not the bound
        assert book.balances(1) == (0, 100, 0, 100)

    return Attempt([tr(11, 1, 2, 1_000, flags=TF.BALANCING_DEBIT)], then=then)


@scenario(T.OK)
def balancing_credit_moves_only_the_available_amount(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(tr(10, 2, 3, 80), tr(11, 1, 2, 30))

    def then(book: Book) -> None:
        assert book.transfer(12).amount == 50
        assert book.balances(2) == (0, 80, 0, 80)

    return Attempt([tr(12, 1, 2, 1_000, flags=TF.BALANCING_CREDIT)], then=then)


@scenario(T.OK)
def pending_balancing_transfer_reserves_only_the_available_amount(book: Book) -> Attempt:
    book.open(1, 2)
    book.fund(1, 100)

    def then(book: Book) -> None:
        assert book.balances(1) == (100, 0, 0, 100)

    return Attempt([pending(20, 1, 2, 500, flags=TF.BALANCING_DEBIT)], then=then)


@scenario(T.OK)
def closing_transfer_is_ok_and_closes_both_accounts(book: Book) -> Attempt:
    book.open(1, 2)

    def then(book: Book) -> None:
        assert book.closed(1) and book.closed(2)

    flags = TF.CLOSING_DEBIT | TF.CLOSING_CREDIT
    return Attempt([pending(20, 1, 2, 1, flags=flags)], then=then)


@scenario(T.OK)
def empty_limited_account_is_closed_by_a_one_unit_closing_credit(book: Book) -> Attempt:
    book.open(1, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS)
    book.open(2)
    sweep = pending(19, 1, 2, 1, flags=TF.BALANCING_DEBIT | TF.CLOSING_DEBIT)
    assert book.transfers(sweep) == [T.EXCEEDS_CREDITS]

    def then(book: Book) -> None:
        assert book.closed(1)
        assert book.balances(1) == (0, 0, 1, 0)

    return Attempt([pending(20, 2, 1, 1, flags=TF.CLOSING_CREDIT)], then=then)


@scenario(T.OK)
def void_of_a_closing_transfer_is_ok_and_reopens_the_account(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 1, flags=TF.CLOSING_DEBIT))
    assert book.closed(1)

    def then(book: Book) -> None:
        assert not book.closed(1)

    return Attempt([void(30, 20)], then=then)


@scenario(T.OK)
def post_of_a_closing_transfer_is_ok_and_the_account_stays_closed(book: Book) -> Attempt:
    """Corridor allows post and void on closed accounts; TigerBeetle allows only void."""
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 1, flags=TF.CLOSING_DEBIT))

    def then(book: Book) -> None:
        assert book.closed(1)
        assert book.balances(1) == (0, 1, 0, 0)

    return Attempt([post(30, 20)], then=then)


@scenario(T.OK)
def post_of_an_older_pending_transfer_on_a_closed_account_is_ok(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 1, 2, 40), pending(21, 1, 3, 1, flags=TF.CLOSING_DEBIT))

    def then(book: Book) -> None:
        assert book.closed(1)
        assert book.balances(1) == (1, 40, 0, 0)

    return Attempt([post(30, 20)], then=then)


@scenario(T.OK)
def id_of_a_failed_transfer_can_be_used_again(book: Book) -> Attempt:
    """No `id_already_failed`: corridor does not remember ids of failed events."""
    book.open(1, 2, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS)
    assert book.transfers(tr(10, 1, 2, 50)) == [T.EXCEEDS_CREDITS]
    book.fund(1, 50)
    return Attempt([tr(10, 1, 2, 50)])


@scenario(T.OK)
def linked_transfers_on_two_ledgers_exchange_currency_together(book: Book) -> Attempt:
    book.open(1, 2)
    book.open(3, 4, ledger=JPY)

    def then(book: Book) -> None:
        assert book.balances(1) == (0, 100, 0, 0)
        assert book.balances(4) == (0, 0, 0, 15_000)

    return Attempt(
        [tr(10, 1, 2, 100, flags=TF.LINKED), tr(11, 3, 4, 15_000, ledger=JPY)],
        results=[T.OK, T.OK],
        then=then,
    )


# ---- transfers: linked chains and malformed events ----------------------------------------


@scenario(T.LINKED_EVENT_FAILED)
def chain_with_a_failing_transfer_is_rolled_back_as_linked_event_failed(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt(
        [
            tr(10, 1, 2, 100, flags=TF.LINKED),
            pending(11, 1, 2, 50, flags=TF.LINKED | TF.CLOSING_CREDIT),
            tr(12, 1, 99, 5),
        ],
        results=[T.LINKED_EVENT_FAILED, T.LINKED_EVENT_FAILED, T.CREDIT_ACCOUNT_NOT_FOUND],
    )


@scenario(T.LINKED_EVENT_FAILED)
def chain_that_posts_a_pending_transfer_then_fails_leaves_it_pending(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, 1, 2, 100))
    return Attempt(
        [post(30, 20, flags=TF.LINKED), tr(31, 1, 99, 5)],
        results=[T.LINKED_EVENT_FAILED, T.CREDIT_ACCOUNT_NOT_FOUND],
    )


@scenario(T.LINKED_EVENT_FAILED)
def chain_that_creates_and_posts_a_pending_transfer_then_fails_leaves_no_trace(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    return Attempt(
        [pending(20, flags=TF.LINKED), post(30, 20, flags=TF.LINKED), tr(31, 1, 99)],
        results=[T.LINKED_EVENT_FAILED, T.LINKED_EVENT_FAILED, T.CREDIT_ACCOUNT_NOT_FOUND],
    )


@scenario(T.LINKED_EVENT_FAILED)
def chain_that_creates_and_voids_a_closing_transfer_then_fails_leaves_no_trace(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    closing = pending(20, flags=TF.LINKED | TF.CLOSING_DEBIT)
    return Attempt(
        [closing, void(30, 20, flags=TF.LINKED), tr(31, 1, 99)],
        results=[T.LINKED_EVENT_FAILED, T.LINKED_EVENT_FAILED, T.CREDIT_ACCOUNT_NOT_FOUND],
    )


@scenario(T.LINKED_EVENT_CHAIN_OPEN)
def chain_left_open_at_the_end_of_the_batch_is_linked_event_chain_open(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt(
        [tr(10, flags=TF.LINKED), tr(11, flags=TF.LINKED)],
        results=[T.LINKED_EVENT_FAILED, T.LINKED_EVENT_CHAIN_OPEN],
    )


@scenario(T.INVALID_EVENT)
def transfer_with_a_string_amount_is_invalid_event(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, amount="5")])  # type: ignore[arg-type]


@scenario(T.INVALID_EVENT)
def transfer_with_non_integer_flags_is_invalid_event(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([replace(tr(10), flags=None)])


@scenario(T.TIMESTAMP_MUST_BE_ZERO)
def transfer_with_a_timestamp_is_timestamp_must_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, timestamp=START)])


@scenario(T.RESERVED_FLAG)
def transfer_with_tigerbeetles_imported_flag_is_reserved_flag(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, flags=1 << 8)])


@scenario(T.ID_MUST_NOT_BE_ZERO)
def transfer_id_zero_is_id_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(0)])


@scenario(T.ID_MUST_NOT_BE_INT_MAX)
def transfer_id_int_max_is_id_must_not_be_int_max(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(ID_MAX)])


@scenario(T.FIELD_OUT_OF_RANGE)
def negative_amount_is_field_out_of_range(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, amount=-5)])


@scenario(T.FIELD_OUT_OF_RANGE)
def amount_above_amount_max_is_field_out_of_range(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, amount=AMOUNT_MAX + 1)])


@scenario(T.FIELD_OUT_OF_RANGE)
def transfer_id_of_129_bits_is_field_out_of_range(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(1 << 128)])


@scenario(T.FIELD_OUT_OF_RANGE)
def timeout_of_33_bits_is_field_out_of_range(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([pending(10, timeout=U32_MAX + 1)])


# ---- transfers: idempotency ----------------------------------------------------------------


def _existing_transfer(book: Book) -> Transfer:
    book.open(1, 2, 3)
    original = tr(10, 1, 2, 100, user_data_128=7, user_data_64=8, user_data_32=9)
    book.given_transfers(original)
    return original


@scenario(T.EXISTS_WITH_DIFFERENT_FLAGS)
def transfer_retry_with_other_flags_is_exists_with_different_flags(book: Book) -> Attempt:
    return Attempt([replace(_existing_transfer(book), flags=int(TF.PENDING))])


@scenario(T.EXISTS_WITH_DIFFERENT_FLAGS)
def single_phase_id_retried_as_a_full_post_is_exists_with_different_flags(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20), tr(10))
    return Attempt([post(10, 20)])


@scenario(T.EXISTS_WITH_DIFFERENT_PENDING_ID)
def post_retry_naming_another_pending_transfer_is_exists_with_different_pending_id(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20), pending(21))
    book.given_transfers(post(30, 20))
    return Attempt([post(30, 21)])


@scenario(T.EXISTS_WITH_DIFFERENT_TIMEOUT)
def pending_retry_with_another_timeout_is_exists_with_different_timeout(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20, timeout=60))
    return Attempt([pending(20, timeout=30)])


@scenario(T.EXISTS_WITH_DIFFERENT_DEBIT_ACCOUNT_ID)
def transfer_retry_from_another_account_is_exists_with_different_debit_account_id(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_transfer(book), debit_account_id=3)])


@scenario(T.EXISTS_WITH_DIFFERENT_CREDIT_ACCOUNT_ID)
def transfer_retry_to_another_account_is_exists_with_different_credit_account_id(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_transfer(book), credit_account_id=3)])


@scenario(T.EXISTS_WITH_DIFFERENT_AMOUNT)
def transfer_retry_with_another_amount_is_exists_with_different_amount(book: Book) -> Attempt:
    return Attempt([replace(_existing_transfer(book), amount=99)])


@scenario(T.EXISTS_WITH_DIFFERENT_AMOUNT)
def balancing_retry_bounded_below_the_amount_moved_is_exists_with_different_amount(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.fund(1, 70)
    book.given_transfers(tr(11, 1, 2, 1_000, flags=TF.BALANCING_DEBIT))
    return Attempt([tr(11, 1, 2, 69, flags=TF.BALANCING_DEBIT)])


@scenario(T.EXISTS_WITH_DIFFERENT_AMOUNT)
def full_post_retried_against_a_partial_post_is_exists_with_different_amount(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    book.given_transfers(post(30, 20, 40))
    return Attempt([post(30, 20)])  # amount 0: the full pending amount


@scenario(T.EXISTS_WITH_DIFFERENT_USER_DATA_128)
def transfer_retry_with_other_user_data_128_is_exists_with_different_user_data_128(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_transfer(book), user_data_128=70)])


@scenario(T.EXISTS_WITH_DIFFERENT_USER_DATA_64)
def transfer_retry_with_other_user_data_64_is_exists_with_different_user_data_64(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_transfer(book), user_data_64=80)])


@scenario(T.EXISTS_WITH_DIFFERENT_USER_DATA_32)
def transfer_retry_with_other_user_data_32_is_exists_with_different_user_data_32(
    book: Book,
) -> Attempt:
    return Attempt([replace(_existing_transfer(book), user_data_32=90)])


@scenario(T.EXISTS_WITH_DIFFERENT_LEDGER)
def transfer_retry_on_another_ledger_is_exists_with_different_ledger(book: Book) -> Attempt:
    return Attempt([replace(_existing_transfer(book), ledger=JPY)])


@scenario(T.EXISTS_WITH_DIFFERENT_CODE)
def transfer_retry_with_another_code_is_exists_with_different_code(book: Book) -> Attempt:
    return Attempt([replace(_existing_transfer(book), code=2)])


@scenario(T.EXISTS)
def identical_transfer_retry_is_exists(book: Book) -> Attempt:
    return Attempt([_existing_transfer(book)])


@scenario(T.EXISTS)
def identical_post_retry_is_exists_even_once_the_pending_transfer_is_resolved(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    book.given_transfers(post(30, 20, 40))
    return Attempt([post(30, 20, 40, debit_account_id=1, ledger=USD)])


@scenario(T.EXISTS)
def full_post_retried_with_amount_zero_is_exists(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    book.given_transfers(post(30, 20))
    return Attempt([post(30, 20)])


@scenario(T.EXISTS)
def balancing_retry_with_a_larger_bound_is_exists(book: Book) -> Attempt:
    book.open(1, 2)
    book.fund(1, 70)
    book.given_transfers(tr(11, 1, 2, 1_000, flags=TF.BALANCING_DEBIT))
    return Attempt([tr(11, 1, 2, 70, flags=TF.BALANCING_DEBIT)])


@scenario(T.EXISTS)
def transfer_retry_wins_over_a_closed_account(book: Book) -> Attempt:
    original = _existing_transfer(book)
    book.given_transfers(pending(20, 1, 3, 1, flags=TF.CLOSING_DEBIT))
    return Attempt([original])


@scenario(T.LINKED_EVENT_FAILED)
def retrying_a_whole_chain_fails_the_chain_at_its_first_exists(book: Book) -> Attempt:
    """`exists` is not `ok`: inside a chain it fails the chain like any other code."""
    book.open(1, 2)
    chain = [tr(10, flags=TF.LINKED), tr(11)]
    book.given_transfers(*chain)
    return Attempt(chain, results=[T.EXISTS, T.LINKED_EVENT_FAILED])


# ---- transfers: validation -----------------------------------------------------------------


@scenario(T.FLAGS_ARE_MUTUALLY_EXCLUSIVE)
def post_and_void_together_is_flags_are_mutually_exclusive(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    return Attempt([post(30, 20, flags=TF.VOID_PENDING_TRANSFER)])


@scenario(T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_ZERO)
def transfer_without_debit_account_is_debit_account_id_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 0, 2)])


@scenario(T.DEBIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX)
def debit_account_int_max_is_debit_account_id_must_not_be_int_max(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, ID_MAX, 2)])


@scenario(T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_ZERO)
def transfer_without_credit_account_is_credit_account_id_must_not_be_zero(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 1, 0)])


@scenario(T.CREDIT_ACCOUNT_ID_MUST_NOT_BE_INT_MAX)
def credit_account_int_max_is_credit_account_id_must_not_be_int_max(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 1, ID_MAX)])


@scenario(T.ACCOUNTS_MUST_BE_DIFFERENT)
def transfer_to_the_same_account_is_accounts_must_be_different(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 1, 1)])


@scenario(T.PENDING_ID_MUST_BE_ZERO)
def plain_transfer_with_a_pending_id_is_pending_id_must_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    return Attempt([tr(10, pending_id=20)])


@scenario(T.PENDING_ID_MUST_NOT_BE_ZERO)
def post_without_pending_id_is_pending_id_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([post(30, 0)])


@scenario(T.PENDING_ID_MUST_NOT_BE_INT_MAX)
def void_of_pending_id_int_max_is_pending_id_must_not_be_int_max(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([void(30, ID_MAX)])


@scenario(T.PENDING_ID_MUST_BE_DIFFERENT)
def post_naming_itself_is_pending_id_must_be_different(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([post(30, 30)])


@scenario(T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER)
def single_phase_transfer_with_timeout_is_timeout_reserved_for_pending_transfer(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, timeout=60)])


@scenario(T.TIMEOUT_RESERVED_FOR_PENDING_TRANSFER)
def post_with_timeout_is_timeout_reserved_for_pending_transfer(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(pending(20))
    return Attempt([post(30, 20, timeout=60)])


@scenario(T.CLOSING_TRANSFER_MUST_BE_PENDING)
def single_phase_closing_transfer_is_closing_transfer_must_be_pending(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 1, 2, 1, flags=TF.CLOSING_DEBIT)])


@scenario(T.AMOUNT_MUST_NOT_BE_ZERO)
def single_phase_transfer_of_zero_is_amount_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, amount=0)])


@scenario(T.AMOUNT_MUST_NOT_BE_ZERO)
def pending_transfer_of_zero_is_amount_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([pending(20, amount=0)])


@scenario(T.AMOUNT_MUST_NOT_BE_ZERO)
def balancing_transfer_of_zero_is_amount_must_not_be_zero_not_as_much_as_possible(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    book.fund(1, 100)
    return Attempt([tr(10, amount=0, flags=TF.BALANCING_DEBIT)])


@scenario(T.LEDGER_MUST_NOT_BE_ZERO)
def transfer_without_ledger_is_ledger_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, ledger=0)])


@scenario(T.CODE_MUST_NOT_BE_ZERO)
def transfer_without_code_is_code_must_not_be_zero(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, code=0)])


@scenario(T.DEBIT_ACCOUNT_NOT_FOUND)
def transfer_from_an_unknown_account_is_debit_account_not_found(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 98, 99)])


@scenario(T.CREDIT_ACCOUNT_NOT_FOUND)
def transfer_to_an_unknown_account_is_credit_account_not_found(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, 1, 99)])


@scenario(T.ACCOUNTS_MUST_HAVE_THE_SAME_LEDGER)
def transfer_between_currencies_is_accounts_must_have_the_same_ledger(book: Book) -> Attempt:
    book.open(1)
    book.open(5, ledger=JPY)
    return Attempt([tr(10, 1, 5)])


@scenario(T.TRANSFER_MUST_HAVE_THE_SAME_LEDGER_AS_ACCOUNTS)
def transfer_on_another_ledger_than_its_accounts_is_transfer_must_have_the_same_ledger(
    book: Book,
) -> Attempt:
    book.open(1, 2)
    return Attempt([tr(10, ledger=JPY)])


# ---- transfers: post and void --------------------------------------------------------------


def _pending_20(book: Book, **kw: Any) -> int:
    book.open(1, 2, 3)
    return book.given_transfers(pending(20, 1, 2, 100, code=7, **kw))


@scenario(T.PENDING_TRANSFER_NOT_FOUND)
def post_of_an_unknown_transfer_is_pending_transfer_not_found(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([post(30, 77)])


@scenario(T.PENDING_TRANSFER_NOT_PENDING)
def post_of_a_single_phase_transfer_is_pending_transfer_not_pending(book: Book) -> Attempt:
    book.open(1, 2)
    book.given_transfers(tr(10))
    return Attempt([post(30, 10)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_DEBIT_ACCOUNT_ID)
def post_naming_another_debit_account_is_pending_transfer_has_different_debit_account_id(
    book: Book,
) -> Attempt:
    _pending_20(book)
    return Attempt([post(30, 20, debit_account_id=3)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_CREDIT_ACCOUNT_ID)
def void_naming_another_credit_account_is_pending_transfer_has_different_credit_account_id(
    book: Book,
) -> Attempt:
    _pending_20(book)
    return Attempt([void(30, 20, credit_account_id=3)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_LEDGER)
def post_naming_another_ledger_is_pending_transfer_has_different_ledger(book: Book) -> Attempt:
    _pending_20(book)
    return Attempt([post(30, 20, ledger=JPY)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_CODE)
def post_naming_another_code_is_pending_transfer_has_different_code(book: Book) -> Attempt:
    _pending_20(book)
    return Attempt([post(30, 20, code=8)])


@scenario(T.EXCEEDS_PENDING_TRANSFER_AMOUNT)
def post_of_more_than_pending_amount_is_exceeds_pending_transfer_amount(book: Book) -> Attempt:
    _pending_20(book)
    return Attempt([post(30, 20, 101)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT)
def void_of_less_than_pending_amount_is_pending_transfer_has_different_amount(
    book: Book,
) -> Attempt:
    _pending_20(book)
    return Attempt([void(30, 20, 50)])


@scenario(T.PENDING_TRANSFER_HAS_DIFFERENT_AMOUNT)
def void_of_more_than_pending_amount_is_pending_transfer_has_different_amount(
    book: Book,
) -> Attempt:
    """TigerBeetle answers exceeds_pending_transfer_amount here."""
    _pending_20(book)
    return Attempt([void(30, 20, 101)])


@scenario(T.PENDING_TRANSFER_ALREADY_POSTED)
def second_post_is_pending_transfer_already_posted(book: Book) -> Attempt:
    _pending_20(book)
    book.given_transfers(post(30, 20, 10))
    return Attempt([post(31, 20, 10)])


@scenario(T.PENDING_TRANSFER_ALREADY_POSTED)
def already_posted_is_answered_before_a_mismatched_debit_account(book: Book) -> Attempt:
    """TigerBeetle compares the fields first and would answer has_different_debit_account_id."""
    _pending_20(book)
    book.given_transfers(post(30, 20))
    return Attempt([void(31, 20, debit_account_id=3)])


@scenario(T.PENDING_TRANSFER_ALREADY_VOIDED)
def post_after_void_is_pending_transfer_already_voided(book: Book) -> Attempt:
    _pending_20(book)
    book.given_transfers(void(30, 20))
    return Attempt([post(31, 20)])


@scenario(T.PENDING_TRANSFER_EXPIRED)
def post_after_expire_is_pending_transfer_expired(book: Book) -> Attempt:
    t0 = _pending_20(book, timeout=1)
    assert book.expire(t0 + NS_PER_S - 1) == 0
    assert book.expire(t0 + NS_PER_S) == 1
    assert book.balances(1) == book.balances(2) == (0, 0, 0, 0)
    assert book.engine.pending_status(20) is PendingStatus.EXPIRED
    return Attempt([post(30, 20)])


@scenario(T.PENDING_TRANSFER_EXPIRED)
def post_timestamped_at_expiry_before_expire_runs_is_pending_transfer_expired(
    book: Book,
) -> Attempt:
    t0 = _pending_20(book, timeout=1)
    return Attempt([post(30, 20)], at=t0 + NS_PER_S)


@scenario(T.PENDING_TRANSFER_EXPIRED)
def void_after_expire_is_pending_transfer_expired(book: Book) -> Attempt:
    t0 = _pending_20(book, timeout=2)
    assert book.expire(t0 + 2 * NS_PER_S) == 1
    return Attempt([void(30, 20)])


# ---- transfers: overflows and limits -------------------------------------------------------


@scenario(T.OVERFLOWS_DEBITS_PENDING)
def pending_debit_beyond_amount_max_is_overflows_debits_pending(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 1, 2, AMOUNT_MAX))
    return Attempt([pending(21, 1, 3, 1)])


@scenario(T.OVERFLOWS_CREDITS_PENDING)
def pending_credit_beyond_amount_max_is_overflows_credits_pending(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 1, 2, AMOUNT_MAX))
    return Attempt([pending(21, 3, 2, 1)])


@scenario(T.OVERFLOWS_DEBITS_POSTED)
def posted_debit_beyond_amount_max_is_overflows_debits_posted(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(tr(20, 1, 2, AMOUNT_MAX))
    return Attempt([tr(21, 1, 3, 1)])


@scenario(T.OVERFLOWS_CREDITS_POSTED)
def posted_credit_beyond_amount_max_is_overflows_credits_posted(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(tr(20, 1, 2, AMOUNT_MAX))
    return Attempt([tr(21, 3, 2, 1)])


@scenario(T.OVERFLOWS_DEBITS)
def pending_plus_posted_debits_beyond_amount_max_is_overflows_debits(book: Book) -> Attempt:
    book.open(1, 2, 3, 4)
    book.given_transfers(tr(20, 1, 2, 10), pending(21, 1, 3, AMOUNT_MAX - 10))
    assert book.balances(1) == (AMOUNT_MAX - 10, 10, 0, 0)
    return Attempt([pending(22, 1, 4, 1)])


@scenario(T.OVERFLOWS_CREDITS)
def pending_plus_posted_credits_beyond_amount_max_is_overflows_credits(book: Book) -> Attempt:
    book.open(1, 2, 3, 4)
    book.given_transfers(tr(20, 1, 2, 10), pending(21, 3, 2, AMOUNT_MAX - 10))
    return Attempt([tr(22, 4, 2, 1)])


@scenario(T.OVERFLOWS_TIMEOUT)
def expiry_beyond_the_largest_timestamp_is_overflows_timeout(book: Book) -> Attempt:
    book.open(1, 2)
    at = TIMESTAMP_MAX - U32_MAX * NS_PER_S + 1
    return Attempt([pending(20, timeout=U32_MAX)], at=at)


@scenario(T.EXCEEDS_CREDITS)
def debit_beyond_credits_is_exceeds_credits(book: Book) -> Attempt:
    book.open(1, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS)
    book.open(2)
    book.fund(1, 100)
    return Attempt([tr(10, 1, 2, 101)])


@scenario(T.EXCEEDS_CREDITS)
def pending_debits_count_against_credits_as_exceeds_credits(book: Book) -> Attempt:
    book.open(1, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS)
    book.open(2)
    book.fund(1, 100)
    book.given_transfers(pending(20, 1, 2, 60))
    return Attempt([tr(10, 1, 2, 41)])


@scenario(T.EXCEEDS_CREDITS)
def balancing_debit_with_nothing_available_is_exceeds_credits(book: Book) -> Attempt:
    """Without any limit flag: a balancing transfer never moves a zero amount."""
    book.open(1, 2)
    book.fund(1, 100)
    book.given_transfers(pending(20, 1, 2, 100))
    return Attempt([tr(10, 1, 2, 50, flags=TF.BALANCING_DEBIT)])


@scenario(T.EXCEEDS_DEBITS)
def credit_beyond_debits_is_exceeds_debits(book: Book) -> Attempt:
    book.open(1, BANK)
    book.open(2, flags=AF.CREDITS_MUST_NOT_EXCEED_DEBITS)
    book.given_transfers(tr(10, 2, BANK, 100))
    return Attempt([pending(20, 1, 2, 101)])


@scenario(T.EXCEEDS_DEBITS)
def balancing_credit_with_nothing_available_is_exceeds_debits(book: Book) -> Attempt:
    book.open(1, 2)
    return Attempt([pending(10, 1, 2, 50, flags=TF.BALANCING_CREDIT)])


@scenario(T.DEBIT_ACCOUNT_ALREADY_CLOSED)
def transfer_from_a_closed_account_is_debit_account_already_closed(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 1, 3, 1, flags=TF.CLOSING_DEBIT))
    return Attempt([tr(21, 1, 2, 5)])


@scenario(T.DEBIT_ACCOUNT_ALREADY_CLOSED)
def second_closing_transfer_is_debit_account_already_closed(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 1, 3, 1, flags=TF.CLOSING_DEBIT))
    return Attempt([pending(21, 1, 2, 1, flags=TF.CLOSING_DEBIT)])


@scenario(T.CREDIT_ACCOUNT_ALREADY_CLOSED)
def transfer_to_a_closed_account_is_credit_account_already_closed(book: Book) -> Attempt:
    book.open(1, 2, 3)
    book.given_transfers(pending(20, 3, 2, 1, flags=TF.CLOSING_CREDIT))
    return Attempt([tr(21, 1, 2, 5)])


# -- running the tables ----------------------------------------------------------------------


def _run(code: A | T, make: Scenario) -> None:
    book = Book()
    attempt = make(book)
    book.assert_balanced()
    before = book.snapshot()
    if isinstance(attempt.events[0], Account):
        results: list[A] | list[T] = book.accounts(*attempt.events, at=attempt.at)
        ok: A | T = A.OK
    else:
        results = book.transfers(*attempt.events, at=attempt.at)
        ok = T.OK
    expected = attempt.results if attempt.results is not None else [code]
    assert code in expected, "the scenario must end in its own code"
    assert results == expected
    assert all(type(r) is type(code) for r in results)
    book.assert_balanced()
    if ok in results:
        assert set(results) == {ok}, "a scenario batch either all succeeds or all fails"
        if attempt.then is not None:
            attempt.then(book)
    else:
        assert book.snapshot() == before, "a failed event must change nothing"


@pytest.mark.parametrize(
    ("code", "make"), ACCOUNT_SCENARIOS, ids=[make.__name__ for _, make in ACCOUNT_SCENARIOS]
)
def test_create_account_result(code: A, make: Scenario) -> None:
    _run(code, make)


@pytest.mark.parametrize(
    ("code", "make"), TRANSFER_SCENARIOS, ids=[make.__name__ for _, make in TRANSFER_SCENARIOS]
)
def test_create_transfer_result(code: T, make: Scenario) -> None:
    _run(code, make)


def test_every_create_account_result_has_a_scenario() -> None:
    covered = {code for code, _ in ACCOUNT_SCENARIOS}
    missing = [code.value for code in A if code not in covered]
    assert not missing, f"no scenario ends in {missing}"


def test_every_create_transfer_result_has_a_scenario() -> None:
    covered = {code for code, _ in TRANSFER_SCENARIOS}
    missing = [code.value for code in T if code not in covered]
    assert not missing, f"no scenario ends in {missing}"


def test_scenario_names_are_unique() -> None:
    names = [make.__name__ for _, make in ACCOUNT_SCENARIOS + TRANSFER_SCENARIOS]
    assert len(names) == len(set(names))


# -- more behaviour on the pure engine -------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [TF.PENDING, TF.BALANCING_DEBIT, TF.BALANCING_CREDIT, TF.CLOSING_DEBIT, TF.CLOSING_CREDIT],
    ids=lambda flag: flag.name.lower(),
)
@pytest.mark.parametrize("resolve", [post, void], ids=["post", "void"])
def test_post_or_void_with_another_mode_is_flags_are_mutually_exclusive(
    resolve: Callable[..., Transfer], extra: TF
) -> None:
    book = Book()
    _pending_20(book)
    before = book.snapshot()
    assert book.transfers(resolve(30, 20, flags=extra)) == [T.FLAGS_ARE_MUTUALLY_EXCLUSIVE]
    assert book.snapshot() == before


def test_pending_transfer_expires_exactly_at_timestamp_plus_timeout() -> None:
    book = Book()
    t0 = _pending_20(book, timeout=3)
    t1 = book.given_transfers(pending(21, 1, 2, 5, timeout=1))
    assert book.engine.next_expiry() == t1 + NS_PER_S
    assert book.expire(t1 + NS_PER_S - 1) == 0
    assert book.expire(t1 + NS_PER_S) == 1  # 21 only
    assert book.balances(1) == (100, 0, 0, 0)
    assert book.engine.next_expiry() == t0 + 3 * NS_PER_S
    assert book.expire(t0 + 3 * NS_PER_S) == 1
    assert book.balances(1) == (0, 0, 0, 0)
    assert [pending_id for pending_id, _ in book.batch.expiries] == [21, 20]
    assert book.engine.next_expiry() == 0
    book.assert_balanced()


def test_pending_transfer_without_timeout_never_expires() -> None:
    book = Book()
    _pending_20(book)
    assert book.expire(TIMESTAMP_MAX - 10) == 0
    assert book.engine.pending_status(20) is PendingStatus.PENDING


def test_expiry_of_a_closing_transfer_reopens_the_account() -> None:
    book = Book()
    book.open(1, 2)
    t0 = book.given_transfers(pending(20, 1, 2, 1, timeout=1, flags=TF.CLOSING_CREDIT))
    assert book.closed(2)
    assert book.transfers(tr(21, 1, 2, 5)) == [T.CREDIT_ACCOUNT_ALREADY_CLOSED]
    assert book.expire(t0 + NS_PER_S) == 1
    assert not book.closed(2)
    assert book.transfers(tr(21, 1, 2, 5)) == [T.OK]


def test_independent_events_of_a_batch_fail_alone() -> None:
    book = Book()
    book.open(1, 2)
    results = book.transfers(tr(10), tr(11, 1, 99), tr(12), tr(10))
    assert results == [T.OK, T.CREDIT_ACCOUNT_NOT_FOUND, T.OK, T.EXISTS]
    assert book.balances(1) == (0, 200, 0, 0)


# -- known defects (each test passes once the engine is fixed) ------------------------------


def test_full_post_retry_naming_another_pending_transfer_is_exists_with_different_pending_id() -> (
    None
):
    book = Book()
    _pending_20(book)
    book.given_transfers(pending(21))
    book.given_transfers(post(30, 20, 40))
    assert book.transfers(post(30, 21)) == [T.EXISTS_WITH_DIFFERENT_PENDING_ID]


# -- the durable path ------------------------------------------------------------------------


class Clock:
    """A settable clock for Ledger.open, in nanoseconds."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def db(db_target: Path | str) -> Path | str:
    """A new ledger on each backend: a SQLite file, then a PostgreSQL schema."""
    return db_target


def _balances(ledger: Ledger, account_id: int) -> tuple[int, int, int, int]:
    [a] = ledger.lookup_accounts([account_id])
    return (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)


def test_durable_retries_after_reopen_are_exists_or_exists_with_different(db: Path) -> None:
    with Ledger.open(db, clock=Clock()) as ledger:
        assert ledger.create_accounts([acct(1), acct(2)]) == [A.OK, A.OK]
        assert ledger.create_transfers([tr(10, 1, 2, 100, user_data_32=3)]) == [T.OK]
    with Ledger.open(db, clock=Clock()) as ledger:
        assert ledger.create_accounts([acct(1), acct(2, code=2)]) == [
            A.EXISTS,
            A.EXISTS_WITH_DIFFERENT_CODE,
        ]
        retries = [tr(10, 1, 2, 100, user_data_32=3), tr(10, 1, 2, 100), tr(10, 1, 2, 99)]
        assert ledger.create_transfers(retries) == [
            T.EXISTS,
            T.EXISTS_WITH_DIFFERENT_USER_DATA_32,
            T.EXISTS_WITH_DIFFERENT_AMOUNT,
        ]
        assert _balances(ledger, 1) == (0, 100, 0, 0)
    assert verify(db).ok


def test_durable_resolved_pending_transfers_after_reopen_are_already_posted_or_voided(
    db: Path,
) -> None:
    with Ledger.open(db, clock=Clock()) as ledger:
        ledger.create_accounts([acct(1), acct(2)])
        setup = [tr(10), pending(20), pending(21, amount=50), post(30, 20, 60), void(31, 21)]
        assert ledger.create_transfers(setup) == [T.OK] * 5
    with Ledger.open(db, clock=Clock()) as ledger:
        # Nothing of this is in the engine's memory any more: storage must answer.
        attempts = [
            post(32, 20),
            void(33, 20),
            post(34, 21),
            void(35, 21),
            post(36, 10),
            post(37, 99),
            post(30, 20, 60),
        ]
        assert ledger.create_transfers(attempts) == [
            T.PENDING_TRANSFER_ALREADY_POSTED,
            T.PENDING_TRANSFER_ALREADY_POSTED,
            T.PENDING_TRANSFER_ALREADY_VOIDED,
            T.PENDING_TRANSFER_ALREADY_VOIDED,
            T.PENDING_TRANSFER_NOT_PENDING,
            T.PENDING_TRANSFER_NOT_FOUND,
            T.EXISTS,
        ]
        assert ledger.lookup_transfers([32, 33, 34, 35, 36, 37]) == []
        assert _balances(ledger, 1) == (0, 160, 0, 0)
    assert verify(db).ok


def test_durable_expiry_by_pulse_is_pending_transfer_expired_before_and_after_reopen(
    db: Path,
) -> None:
    clock = Clock()
    with Ledger.open(db, clock=clock) as ledger:
        ledger.create_accounts([acct(1), acct(2)])
        assert ledger.create_transfers([pending(20, timeout=1)]) == [T.OK]
        [stored] = ledger.lookup_transfers([20])
        expires_at = stored.timestamp + NS_PER_S
        clock.now = expires_at - 1
        ledger.pulse()
        assert _balances(ledger, 1) == (100, 0, 0, 0)
        clock.now = expires_at
        ledger.pulse()
        assert _balances(ledger, 1) == (0, 0, 0, 0)
        assert ledger.create_transfers([post(30, 20)]) == [T.PENDING_TRANSFER_EXPIRED]
    with Ledger.open(db, clock=clock) as ledger:
        assert ledger.create_transfers([void(31, 20), post(32, 20)]) == [
            T.PENDING_TRANSFER_EXPIRED,
            T.PENDING_TRANSFER_EXPIRED,
        ]
        assert ledger.lookup_transfers([30, 31, 32]) == []
    assert verify(db).ok


def test_durable_closed_account_stays_closed_after_reopen_until_its_closing_transfer_is_voided(
    db: Path,
) -> None:
    with Ledger.open(db, clock=Clock()) as ledger:
        ledger.create_accounts([acct(1), acct(2), acct(3)])
        assert ledger.create_transfers([pending(20, 1, 3, 1, flags=TF.CLOSING_DEBIT)]) == [T.OK]
    with Ledger.open(db, clock=Clock()) as ledger:
        [account] = ledger.lookup_accounts([1])
        assert account.flags & AF.CLOSED
        assert ledger.create_transfers([tr(21, 1, 2, 5)]) == [T.DEBIT_ACCOUNT_ALREADY_CLOSED]
        assert ledger.create_transfers([void(22, 20)]) == [T.OK]
    with Ledger.open(db, clock=Clock()) as ledger:
        [account] = ledger.lookup_accounts([1])
        assert not account.flags & AF.CLOSED
        assert ledger.create_transfers([tr(21, 1, 2, 5)]) == [T.OK]  # failed id, used again
    assert verify(db).ok


def test_durable_ledger_refuses_a_batch_beyond_batch_events_max(db: Path) -> None:
    with Ledger.open(db, clock=Clock()) as ledger:
        too_many = [acct(i + 1) for i in range(BATCH_EVENTS_MAX + 1)]
        with pytest.raises(BatchTooLarge):
            ledger.create_accounts(too_many)
        assert ledger.lookup_accounts([1]) == []


def test_full_post_retry_with_a_different_timeout_reports_the_timeout_first() -> None:
    from corridor.ledger.engine import Engine
    from corridor.ledger.types import Account, Transfer
    from corridor.ledger.types import CreateTransferResult as R
    from corridor.ledger.types import TransferFlags as F

    engine = Engine()
    engine.begin()
    engine.create_accounts([Account(id=i, ledger=1, code=1) for i in (1, 2)], 1)
    pending = Transfer(id=20, debit_account_id=1, credit_account_id=2, amount=100, ledger=1,
                       code=1, flags=F.PENDING)  # fmt: skip
    post = Transfer(id=30, pending_id=20, amount=40, flags=F.POST_PENDING_TRANSFER)
    assert engine.create_transfers([pending, post], 10) == [R.OK, R.OK]
    retry = Transfer(id=30, pending_id=20, timeout=5, flags=F.POST_PENDING_TRANSFER)
    assert engine.create_transfers([retry], 20) == [R.EXISTS_WITH_DIFFERENT_TIMEOUT]
    full = Transfer(id=30, pending_id=20, flags=F.POST_PENDING_TRANSFER)
    assert engine.create_transfers([full], 30) == [R.EXISTS_WITH_DIFFERENT_AMOUNT]
