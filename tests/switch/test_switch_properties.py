"""Random sequences of payments, holds, commits, aborts, expiries, refunds and settlements
keep the ledger's identity, never let a liquidity account go negative, and net to zero."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from corridor.ledger.verify import verify
from corridor.switch.directory import liquidity_account_id
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money
from corridor.switch.payments import PaymentState
from corridor.switch.settlement import WindowState

from .corridor_fixture import (
    ACQUIRER,
    CUSTOMER,
    MERCHANT,
    PROVIDER,
    WALLET,
    WALLET_KR,
    FakeClock,
    open_corridor,
    pay,
)

EXPECTED_ERRORS = {
    "insufficient_liquidity",
    "limit_exceeded",
    "payment_expired",
    "payment_not_reserved",
    "refund_exceeds_payment",
    "payment_not_committed",
    "window_out_of_order",
    "compliance_blocked",
    "payment_under_review",
}


class SwitchMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.clock = FakeClock()
        self.switch = open_corridor(
            Path(self.dir.name) / "c.db",
            self.clock,
            wallet_cny=200_000,
            provider_jpy=150_000,
            caps={WALLET_KR: {"KRW": 400_000}},
            compliance=True,
        )
        self.ids = itertools.count()
        self.committed: list[str] = []
        self.held: list[str] = []

    def teardown(self) -> None:
        try:
            self.check_ledger()
        finally:
            self.switch.close()
            self.dir.cleanup()

    def _expect(self, error: SwitchError) -> None:
        assert error.code in EXPECTED_ERRORS, (error.code, str(error))

    @rule(jpy=st.integers(1, 40_000), korean=st.booleans())
    def one_shot(self, jpy: int, korean: bool) -> None:
        payment_id = f"p-{next(self.ids)}"
        try:
            payment = pay(self.switch, payment_id, jpy, wallet=WALLET_KR if korean else WALLET)
        except SwitchError as error:
            self._expect(error)
            return
        if payment.state is PaymentState.RESERVED:  # Held for compliance review.
            self.held.append(payment_id)
            return
        assert payment.state is PaymentState.COMMITTED
        self.committed.append(payment_id)

    @rule(jpy=st.integers(1, 40_000), timeout_s=st.integers(1, 600))
    def hold(self, jpy: int, timeout_s: int) -> None:
        payment_id = f"h-{next(self.ids)}"
        quote = self.switch.quote(
            provider_id=PROVIDER, source_currency="CNY", target=Money.of(jpy, "JPY")
        )
        try:
            self.switch.payments.reserve(
                payment_id,
                wallet_id=WALLET,
                customer_id=CUSTOMER,
                merchant_id=MERCHANT,
                quote_id=quote.quote_id,
                hold_timeout_s=timeout_s,
            )
        except SwitchError as error:
            self._expect(error)
            return
        self.held.append(payment_id)

    @rule(data=st.data(), commit=st.booleans())
    def resolve(self, data: st.DataObject, commit: bool) -> None:
        if not self.held:
            return
        payment_id = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
        try:
            if commit:
                self.switch.payments.commit(payment_id)
                self.committed.append(payment_id)
            else:
                self.switch.payments.abort(payment_id)
        except SwitchError as error:
            self._expect(error)

    @rule(seconds=st.integers(1, 900))
    def time_passes(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.switch.ledger.pulse()

    @rule(data=st.data(), jpy=st.integers(1, 40_000))
    def refund(self, data: st.DataObject, jpy: int) -> None:
        if not self.committed:
            return
        payment_id = data.draw(st.sampled_from(self.committed))
        try:
            self.switch.refunds.refund(
                f"r-{next(self.ids)}", payment_id=payment_id, amount=Money.of(jpy, "JPY")
            )
        except SwitchError as error:
            self._expect(error)

    @rule(settle=st.booleans())
    def close_window(self, settle: bool) -> None:
        closed = self.switch.settlement.close_window()
        assert all(total == 0 for total in closed.totals().values())
        if settle:
            for window in reversed(self.switch.settlement.windows(limit=1000)):
                if window.state == WindowState.CLOSED:
                    try:
                        self.switch.settlement.settle_window(window.window_id)
                    except SwitchError as error:
                        self._expect(error)
                        break

    @rule()
    def deposit_for_acquirer(self) -> None:
        self.switch.liquidity.deposit(
            ACQUIRER, Money.of(5_000, "JPY"), reference=f"top-up-{next(self.ids)}"
        )

    @invariant()
    def liquidity_never_negative_and_positions_sum_to_zero(self) -> None:
        for participant, code in (
            (WALLET, "CNY"),
            (WALLET_KR, "KRW"),
            (PROVIDER, "CNY"),
            (PROVIDER, "JPY"),
            (PROVIDER, "KRW"),
            (ACQUIRER, "JPY"),
        ):
            (account,) = self.switch.ledger.lookup_accounts(
                [liquidity_account_id(participant, code)]
            )
            assert account.debits_posted + account.debits_pending <= account.credits_posted
        window = self.switch.settlement.open_window()
        assert all(total == 0 for total in window.totals().values())

    @invariant()
    def kr_wallet_stays_within_its_cap(self) -> None:
        nets = {
            (p.participant_id, p.currency): p.net
            for p in self.switch.settlement.open_window().positions
        }
        assert -nets.get((WALLET_KR, "KRW"), 0) <= 400_000

    def check_ledger(self) -> None:
        assert verify(self.switch.ledger.store.path).ok


SwitchMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestSwitchMachine = SwitchMachine.TestCase


def test_the_ledger_verifies_after_a_long_random_run() -> None:
    machine = SwitchMachine()
    try:
        for i in range(30):
            machine.one_shot(jpy=1_000 + 997 * i % 30_000, korean=bool(i % 3 == 0))
            if i % 4 == 0:
                machine.hold(jpy=2_000, timeout_s=300)
            if i % 5 == 0:
                machine.time_passes(seconds=400)
            if i % 7 == 0:
                machine.close_window(settle=True)
            machine.liquidity_never_negative_and_positions_sum_to_zero()
        assert machine.committed
    finally:
        machine.teardown()
