"""Settlement windows and net debit caps.

Pinned: OPEN → CLOSED → SETTLED; positions per participant and currency from the payments
and refunds posted in the window (holds count when posted); Σ net = 0 per currency; the
settlement chain restores every participant's prefunding and leaves the hub settlement
account where it was; retries never settle twice; windows settle in order; reports in JSON
and CSV; net debit caps refuse what would take a participant beyond its cap, holds included,
and free the room again when holds are aborted or a window closes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.ledger.verify import verify
from corridor.switch.directory import (
    hub_fees_account_id,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money
from corridor.switch.payments import PaymentState
from corridor.switch.service import Switch
from corridor.switch.settlement import HUB_PARTICIPANT, WindowState

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


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Switch]:
    with open_corridor(tmp_path / "c.db", FakeClock()) as opened:
        yield opened


def _posted(switch: Switch, participant: str, code: str) -> int:
    (account,) = switch.ledger.lookup_accounts([liquidity_account_id(participant, code)])
    return account.credits_posted - account.debits_posted


def _nets(report: object) -> dict[tuple[str, str], int]:
    return {(p.participant_id, p.currency): p.net for p in report.positions}  # type: ignore[attr-defined]


def test_a_new_database_has_one_open_empty_window(switch: Switch) -> None:
    window = switch.settlement.open_window()
    assert window.state == WindowState.OPEN and window.positions == ()


def test_closing_a_window_computes_net_positions_that_sum_to_zero(switch: Switch) -> None:
    first = pay(switch, "p-1", 10_000)
    second = pay(switch, "p-2", 3_000, wallet=WALLET_KR)
    switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(1_000, "JPY"))
    closed = switch.settlement.close_window()
    assert closed.state == WindowState.CLOSED
    assert all(total == 0 for total in closed.totals().values())
    nets = _nets(closed)
    assert nets[(ACQUIRER, "JPY")] == 10_000 + 3_000 - 1_000
    assert nets[(PROVIDER, "JPY")] == -(10_000 + 3_000 - 1_000)
    refund = switch.refunds.get("r-1")
    assert nets[(WALLET, "CNY")] == -first.debit_total.amount + refund.credit_total.amount
    assert nets[(WALLET_KR, "KRW")] == -second.debit_total.amount
    assert nets[(HUB_PARTICIPANT, "CNY")] == first.fee.amount - refund.fee.amount
    # The next window is open and empty; new payments go there.
    pay(switch, "p-3", 500)
    assert _nets(switch.settlement.open_window())[(ACQUIRER, "JPY")] == 500
    assert _nets(switch.settlement.window(closed.window_id)) == nets


def test_settling_restores_prefunding_and_nets_the_hub_to_zero(switch: Switch) -> None:
    wallet_before = _posted(switch, WALLET, "CNY")
    (hub_before,) = switch.ledger.lookup_accounts([hub_settlement_account_id("JPY")])
    pay(switch, "p-1", 10_000)
    closed = switch.settlement.close_window()
    settled = switch.settlement.settle_window(closed.window_id)
    assert settled.state == WindowState.SETTLED and settled.settled_ns is not None
    assert _posted(switch, WALLET, "CNY") == wallet_before
    assert _posted(switch, ACQUIRER, "JPY") == 0
    (hub_after,) = switch.ledger.lookup_accounts([hub_settlement_account_id("JPY")])
    assert (hub_after.debits_posted - hub_after.credits_posted) == (
        hub_before.debits_posted - hub_before.credits_posted
    )
    found = switch.ledger.lookup_transfers(list(settled.settlement_transfer_ids))
    # Wallet CNY, provider CNY and JPY, acquirer JPY; the hub keeps its fee income.
    assert len(found) == len(settled.settlement_transfer_ids) == 4
    (fees,) = switch.ledger.lookup_accounts([hub_fees_account_id("CNY")])
    assert fees.credits_posted - fees.debits_posted == 250
    # Settling again changes nothing.
    assert switch.settlement.settle_window(closed.window_id) == settled
    assert verify(switch.ledger.store.path).ok
    # Settlement transfers are not positions of the next window.
    assert switch.settlement.open_window().positions == ()


def test_a_pending_hold_counts_in_the_window_where_it_is_posted(switch: Switch) -> None:
    quote = switch.quote(provider_id=PROVIDER, source_currency="CNY", target=Money.of(800, "JPY"))
    switch.payments.reserve(
        "p-hold",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=quote.quote_id,
    )
    first = switch.settlement.close_window()
    assert first.positions == ()
    switch.payments.commit("p-hold")
    assert _nets(switch.settlement.open_window())[(ACQUIRER, "JPY")] == 800


def test_windows_settle_in_order_and_open_windows_do_not_settle(switch: Switch) -> None:
    pay(switch, "p-1", 100)
    first = switch.settlement.close_window()
    pay(switch, "p-2", 100)
    second = switch.settlement.close_window()
    with pytest.raises(SwitchError) as out_of_order:
        switch.settlement.settle_window(second.window_id)
    assert out_of_order.value.code == "window_out_of_order"
    with pytest.raises(SwitchError) as still_open:
        switch.settlement.settle_window(switch.settlement.open_window().window_id)
    assert still_open.value.code == "window_not_closed"
    with pytest.raises(SwitchError) as unknown:
        switch.settlement.window(999)
    assert unknown.value.code == "unknown_window"
    switch.settlement.settle_window(first.window_id)
    assert switch.settlement.settle_window(second.window_id).state == WindowState.SETTLED
    assert [w.window_id for w in switch.settlement.windows(limit=2)] == [
        second.window_id + 1,
        second.window_id,
    ]


def test_a_creditor_that_withdrew_its_takings_cannot_be_settled_yet(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    closed = switch.settlement.close_window()
    switch.liquidity.withdraw(ACQUIRER, Money.of(10_000, "JPY"), reference="payout")
    with pytest.raises(SwitchError) as error:
        switch.settlement.settle_window(closed.window_id)
    assert error.value.code == "insufficient_liquidity"
    assert ACQUIRER in str(error.value)
    assert switch.settlement.window(closed.window_id).state == WindowState.CLOSED
    switch.liquidity.deposit(ACQUIRER, Money.of(10_000, "JPY"), reference="top-up")
    assert switch.settlement.settle_window(closed.window_id).state == WindowState.SETTLED


def test_reports_in_json_and_csv_carry_the_same_positions(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    closed = switch.settlement.close_window()
    data = closed.to_json()
    assert data["net_sum_by_currency"] == {"CNY": 0, "JPY": 0}
    rows = list(csv.DictReader(io.StringIO(closed.to_csv())))
    assert [(r["participant_id"], r["currency"], int(r["net"])) for r in rows] == [
        (p["participant_id"], p["currency"], p["net"]) for p in data["positions"]
    ]
    acquirer = next(p for p in data["positions"] if p["participant_id"] == ACQUIRER)
    assert acquirer["net_decimal"] == "10000"


# --- net debit caps --------------------------------------------------------------------


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Switch]:
    # The wallet may owe at most CNY 1,000.00 net within a window.
    with open_corridor(
        tmp_path / "capped.db", FakeClock(), caps={WALLET: {"CNY": 100_000}}
    ) as opened:
        yield opened


def test_a_payment_beyond_the_net_debit_cap_is_limit_exceeded(capped: Switch) -> None:
    pay(capped, "p-1", 19_000)  # CNY 950.00 + 4.75 fee
    before = _posted(capped, WALLET, "CNY")
    with pytest.raises(SwitchError) as error:
        pay(capped, "p-2", 1_000)  # + CNY 50.25: beyond 1,000.00
    assert error.value.code == "limit_exceeded"
    assert "net debit cap" in str(error.value)
    assert _posted(capped, WALLET, "CNY") == before
    assert capped.payments.get("p-2").state is PaymentState.ABORTED
    pay(capped, "p-3", 900)  # CNY 45.00 + 0.23 still fits


def test_holds_count_against_the_cap_until_aborted(capped: Switch) -> None:
    quote = capped.quote(
        provider_id=PROVIDER, source_currency="CNY", target=Money.of(19_000, "JPY")
    )
    capped.payments.reserve(
        "p-hold",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=quote.quote_id,
    )
    with pytest.raises(SwitchError) as error:
        pay(capped, "p-1", 1_000)
    assert error.value.code == "limit_exceeded"
    capped.payments.abort("p-hold")
    assert pay(capped, "p-2", 1_000).state is PaymentState.COMMITTED


def test_closing_the_window_frees_the_cap(capped: Switch) -> None:
    pay(capped, "p-1", 19_000)
    capped.settlement.close_window()
    assert pay(capped, "p-2", 1_000).state is PaymentState.COMMITTED


def test_positions_are_rebuilt_when_the_switch_reopens(tmp_path: Path) -> None:
    clock = FakeClock()
    caps = {WALLET: {"CNY": 100_000}}
    with open_corridor(tmp_path / "c.db", clock, caps=caps) as first:
        pay(first, "p-1", 19_000)
    with open_corridor(tmp_path / "c.db", clock, caps=caps) as reopened:
        with pytest.raises(SwitchError) as error:
            pay(reopened, "p-2", 1_000)
        assert error.value.code == "limit_exceeded"


def test_expired_holds_stop_counting_against_the_cap(capped: Switch) -> None:
    quote = capped.quote(
        provider_id=PROVIDER, source_currency="CNY", target=Money.of(19_000, "JPY")
    )
    capped.payments.reserve(
        "p-hold",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=quote.quote_id,
        hold_timeout_s=60,
    )
    capped.clock.advance(120)  # type: ignore[attr-defined]
    capped.ledger.pulse()
    assert pay(capped, "p-1", 1_000).state is PaymentState.COMMITTED


def test_one_shot_payments_post_their_legs_directly_with_derived_ids(switch: Switch) -> None:
    from corridor.switch.payments import payment_transfer_id

    payment = pay(switch, "p-direct", 10_000)
    assert payment.flow == "direct" and payment.state is PaymentState.COMMITTED
    legs = ("source", "target", "fee")
    expected = [payment_transfer_id("p-direct", leg, "direct") for leg in legs]
    assert list(payment.transfer_ids) == expected
    transfers = switch.ledger.lookup_transfers(expected)
    assert [t.amount for t in transfers] == [
        payment.source.amount,
        payment.target.amount,
        payment.fee.amount,
    ]
    assert all(t.flags & 2 == 0 and t.timeout == 0 for t in transfers)  # posted, not held
    # A retry with the same body replays without writing anything.
    again = switch.payments.pay(
        "p-direct",
        wallet_id=WALLET,
        customer_id=CUSTOMER,
        merchant_id=MERCHANT,
        quote_id=payment.quote_id,
    )
    assert again == switch.payments.get("p-direct")
    assert _posted(switch, ACQUIRER, "JPY") == 10_000


def test_fees_of_a_settled_window_can_still_be_refunded(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    closed = switch.settlement.close_window()
    switch.settlement.settle_window(closed.window_id)
    # Settlement paid the creditors out; they fund the refund from new liquidity...
    switch.liquidity.deposit(ACQUIRER, Money.of(10_000, "JPY"), reference="top-up")
    switch.liquidity.deposit(PROVIDER, Money.of(50_000, "CNY"), reference="top-up")
    refund = switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(10_000, "JPY"))
    # ...and the fee comes back out of the hub's fee income, which settlement left in place.
    assert refund.state == "completed" and refund.fee.amount == 250
