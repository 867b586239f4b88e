"""The engine and the durable ledger against the reference model, on random histories.

Random batches mix plain, pending, post, void, balancing and closing transfers, linked chains
(some left open), retries of earlier events (identical or with one field changed) and time
passing so that pending transfers expire. After every step both sides must agree on every
result code and every balance, and every ledger must balance (debits = credits, posted and
pending). The durable variant also closes and reopens the database at random, so recovery and
the storage fallbacks of the engine are part of the comparison.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from corridor.ledger import Ledger
from corridor.ledger.engine import RECENT_GENERATIONS, Engine
from corridor.ledger.types import AMOUNT_MAX, Account, PendingStatus, Transfer
from corridor.ledger.types import AccountFlags as AF
from corridor.ledger.types import TransferFlags as TF
from corridor.store.rows import R_FLAGS, R_ID, R_PENDING_ID, LedgerBatch, TransferRow
from tests.ledger.reference import NS, Model
from tests.store.backends import temporary_target

START_NS = 1_700_000_000 * NS

ACCOUNTS = [
    Account(id=1, ledger=1, code=10, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS),
    Account(id=2, ledger=1, code=10, flags=AF.CREDITS_MUST_NOT_EXCEED_DEBITS),
    Account(id=3, ledger=1, code=10, flags=AF.HISTORY),
    Account(id=4, ledger=1, code=10),
    Account(id=5, ledger=1, code=10),
    Account(id=6, ledger=1, code=10, flags=AF.DEBITS_MUST_NOT_EXCEED_CREDITS | AF.HISTORY),
    Account(id=7, ledger=2, code=20),
    Account(id=8, ledger=2, code=20),
]
ACCOUNT_IDS = [a.id for a in ACCOUNTS] + [99]

NEW_FLAGS = [
    0,
    0,
    0,
    TF.PENDING,
    TF.PENDING,
    TF.BALANCING_DEBIT,
    TF.BALANCING_CREDIT,
    TF.PENDING | TF.BALANCING_DEBIT,
    TF.PENDING | TF.CLOSING_DEBIT,
    TF.PENDING | TF.CLOSING_CREDIT,
    TF.CLOSING_DEBIT,
]
AMOUNTS = st.one_of(
    st.integers(1, 500), st.sampled_from([0, AMOUNT_MAX, AMOUNT_MAX - 1, AMOUNT_MAX // 2])
)


class _LedgerMachine(RuleBasedStateMachine):
    """Shared generation and checks; subclasses say how a batch reaches the system."""

    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.now = START_NS
        self.next_id = 1000
        self.sent: list[Transfer] = []
        self.pending_ids: list[int] = []

    # -- system under test: provided by subclasses --

    def system_accounts(self, events: list[Account]) -> list[Any]:
        raise NotImplementedError

    def system_transfers(self, events: list[Transfer]) -> list[Any]:
        raise NotImplementedError

    def system_balances(self) -> dict[int, tuple[int, int, int, int, int]]:
        raise NotImplementedError

    def system_tick(self) -> None:
        raise NotImplementedError

    # -- generation --

    def _event(self, data: st.DataObject) -> Transfer:
        kind = data.draw(st.sampled_from(["new", "new", "new", "resolve", "retry", "raw"]))
        linked = TF.LINKED if data.draw(st.integers(0, 3)) == 0 else 0
        if kind == "retry" and self.sent:
            old = data.draw(st.sampled_from(self.sent))
            change = data.draw(st.sampled_from(["same", "same", "amount", "user_data_32"]))
            if change == "amount":
                return _replace(old, amount=old.amount + 1)
            if change == "user_data_32":
                return _replace(old, user_data_32=old.user_data_32 + 7)
            return old
        self.next_id += 1
        if kind == "resolve" and self.pending_ids:
            pending_id = data.draw(st.sampled_from(self.pending_ids))
            flags = data.draw(st.sampled_from([TF.POST_PENDING_TRANSFER, TF.VOID_PENDING_TRANSFER]))
            amount = data.draw(st.sampled_from([0, 0, 1, 50, 10_000]))
            return Transfer(
                id=self.next_id, pending_id=pending_id, amount=amount, flags=flags | linked
            )
        if kind == "raw":
            # Rarely valid on purpose: zero fields, unknown accounts, wrong ledgers.
            return Transfer(
                id=data.draw(st.sampled_from([self.next_id, 0])),
                debit_account_id=data.draw(st.sampled_from([*ACCOUNT_IDS, 0])),
                credit_account_id=data.draw(st.sampled_from([*ACCOUNT_IDS, 0])),
                amount=data.draw(AMOUNTS),
                pending_id=data.draw(st.sampled_from([0, 0, 5])),
                timeout=data.draw(st.sampled_from([0, 0, 3])),
                ledger=data.draw(st.sampled_from([0, 1, 2])),
                code=data.draw(st.sampled_from([0, 1])),
                flags=data.draw(st.sampled_from(NEW_FLAGS)) | linked,
            )
        flags = data.draw(st.sampled_from(NEW_FLAGS))
        debit = data.draw(st.sampled_from(ACCOUNT_IDS[:-1]))
        credit = data.draw(st.sampled_from(ACCOUNT_IDS[:-1]))
        ledger = 1 if debit <= 6 else 2
        timeout = data.draw(st.sampled_from([0, 0, 1, 5, 30])) if flags & TF.PENDING else 0
        return Transfer(
            id=self.next_id,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=data.draw(AMOUNTS),
            timeout=timeout,
            ledger=ledger,
            code=1,
            user_data_32=data.draw(st.sampled_from([0, 1])),
            flags=flags | linked,
        )

    # -- rules --

    @initialize()
    def create_accounts(self) -> None:
        self.model.advance(self.now)
        expected = self.model.create_accounts(ACCOUNTS)
        assert self.system_accounts(ACCOUNTS) == expected
        assert all(r.value == "ok" for r in expected)

    @rule(data=st.data())
    def submit_batch(self, data: st.DataObject) -> None:
        events = [self._event(data) for _ in range(data.draw(st.integers(1, 7)))]
        self.model.advance(self.now)
        expected = self.model.create_transfers(events)
        actual = self.system_transfers(events)
        assert actual == expected, (events, actual, expected)
        for event, result in zip(events, expected, strict=True):
            if result.value == "ok":
                self.sent.append(event)
                if event.flags & TF.PENDING:
                    self.pending_ids.append(event.id)

    @rule(seconds=st.sampled_from([0, 1, 2, 6, 31]))
    def time_passes(self, seconds: int) -> None:
        self.now += seconds * NS
        self.model.advance(self.now)
        self.system_tick()

    @invariant()
    def balances_match_the_model(self) -> None:
        assert self.system_balances() == self.model.balances()

    @invariant()
    def every_ledger_balances(self) -> None:
        sums: dict[int, list[int]] = {}
        for account in self.model.state.accounts.values():
            s = sums.setdefault(account.ledger, [0, 0, 0, 0])
            s[0] += account.debits_pending
            s[1] += account.credits_pending
            s[2] += account.debits_posted
            s[3] += account.credits_posted
        for dp, cp, dpo, cpo in sums.values():
            assert dp == cp and dpo == cpo


def _replace(t: Transfer, **changes: int) -> Transfer:
    fields = {name: getattr(t, name) for name in t.__struct_fields__}
    fields.update(changes)
    return Transfer(**fields)


class SealedHistory:
    """Storage stand-in for the pure engine: remembers the rows of every sealed batch."""

    def __init__(self) -> None:
        self.rows: dict[int, TransferRow] = {}
        self.status: dict[int, PendingStatus] = {}

    def record(self, batch: LedgerBatch) -> None:
        for row in batch.transfers:
            self.rows[row[R_ID]] = row
            if row[R_FLAGS] & TF.PENDING:
                self.status[row[R_ID]] = PendingStatus.PENDING
            elif row[R_FLAGS] & TF.POST_PENDING_TRANSFER:
                self.status[row[R_PENDING_ID]] = PendingStatus.POSTED
            elif row[R_FLAGS] & TF.VOID_PENDING_TRANSFER:
                self.status[row[R_PENDING_ID]] = PendingStatus.VOIDED
        for pending_id, _ts in batch.expiries:
            self.status[pending_id] = PendingStatus.EXPIRED

    def transfer_row(self, id: int) -> TransferRow | None:
        return self.rows.get(id)

    def pending_status(self, pending_id: int) -> PendingStatus | None:
        return self.status.get(pending_id)


class EngineMachine(_LedgerMachine):
    def __init__(self) -> None:
        super().__init__()
        self.history = SealedHistory()
        self.engine = Engine(self.history)

    def _batch(self, apply: Any, events: list[Any]) -> list[Any]:
        self.engine.begin()
        self.engine.advance(self.now)
        results = apply(events, self.engine.last_timestamp + 1)
        self.history.record(self.engine.seal())
        return list(results)

    def system_accounts(self, events: list[Account]) -> list[Any]:
        return self._batch(self.engine.create_accounts, events)

    def system_transfers(self, events: list[Transfer]) -> list[Any]:
        return self._batch(self.engine.create_transfers, events)

    def system_tick(self) -> None:
        self.engine.begin()
        self.engine.advance(self.now)
        self.history.record(self.engine.seal())

    def system_balances(self) -> dict[int, tuple[int, int, int, int, int]]:
        return {
            id: (s.debits_pending, s.debits_posted, s.credits_pending, s.credits_posted, s.flags)
            for id, s in self.engine.accounts.items()
        }

    @rule()
    def seal_empty_batches(self) -> None:
        # Rotates the engine's recent generations so retries must be answered from history.
        for _ in range(RECENT_GENERATIONS):
            self.engine.begin()
            self.engine.seal()


TestEngineAgainstModel = EngineMachine.TestCase
TestEngineAgainstModel.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


@pytest.mark.slow
class TestEngineAgainstModelLong(EngineMachine.TestCase):  # type: ignore[misc,name-defined]
    settings = settings(max_examples=5000, stateful_step_count=60, deadline=None)


class DurableMachine(_LedgerMachine):
    """Through Ledger: sequencer, storage (SQLite; PostgreSQL below), recovery on reopen."""

    backend = "sqlite"

    def __init__(self) -> None:
        super().__init__()
        self._cleanup = ExitStack()
        self.path: Path | str = self._cleanup.enter_context(temporary_target(self.backend))
        self.ledger = Ledger.open(self.path, clock=lambda: self.now)

    def teardown(self) -> None:
        self.ledger.close()
        self._cleanup.close()

    def system_accounts(self, events: list[Account]) -> list[Any]:
        return list(self.ledger.create_accounts(events))

    def system_transfers(self, events: list[Transfer]) -> list[Any]:
        return list(self.ledger.create_transfers(events))

    def system_tick(self) -> None:
        self.ledger.pulse()

    def system_balances(self) -> dict[int, tuple[int, int, int, int, int]]:
        ids = [a.id for a in ACCOUNTS]
        return {
            a.id: (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.flags)
            for a in self.ledger.lookup_accounts(ids)
        }

    @rule()
    def reopen(self) -> None:
        self.ledger.close()
        self.ledger = Ledger.open(self.path, clock=lambda: self.now)


TestDurableLedgerAgainstModel = DurableMachine.TestCase
TestDurableLedgerAgainstModel.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class DurablePostgresMachine(DurableMachine):
    """The same on PostgreSQL: a fresh schema per example (skips without a server)."""

    backend = "postgresql"


TestDurablePostgresLedgerAgainstModel = DurablePostgresMachine.TestCase
TestDurablePostgresLedgerAgainstModel.settings = TestDurableLedgerAgainstModel.settings
