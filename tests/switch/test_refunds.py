"""Refunds: full and partial, at the payment's own rate, exact to the minor unit, never
more than was paid, idempotent by refund id, and refused without changing anything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.ledger.verify import verify
from corridor.switch.directory import hub_fees_account_id, liquidity_account_id
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money
from corridor.switch.refunds import refund_shares
from corridor.switch.service import Switch

from .corridor_fixture import ACQUIRER, PROVIDER, WALLET, FakeClock, open_corridor, pay


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Switch]:
    with open_corridor(tmp_path / "c.db", FakeClock()) as opened:
        yield opened


def _balance(switch: Switch, participant: str, code: str) -> int:
    (account,) = switch.ledger.lookup_accounts([liquidity_account_id(participant, code)])
    return account.credits_posted - account.debits_posted


def test_full_refund_returns_exactly_what_the_payer_paid(switch: Switch) -> None:
    wallet_before = _balance(switch, WALLET, "CNY")
    payment = pay(switch, "p-1", 10_000)
    assert _balance(switch, WALLET, "CNY") == wallet_before - payment.debit_total.amount
    refund = switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(10_000, "JPY"))
    assert refund.state == "completed"
    assert refund.source == payment.source and refund.fee == payment.fee
    assert _balance(switch, WALLET, "CNY") == wallet_before
    assert _balance(switch, ACQUIRER, "JPY") == 0
    assert verify(switch.ledger.store.path).ok


def test_partial_refunds_add_up_to_the_payment_however_split(switch: Switch) -> None:
    payment = pay(switch, "p-1", 9_999)
    parts = [3_333, 3_333, 3_333]
    refunds = [
        switch.refunds.refund(f"r-{i}", payment_id="p-1", amount=Money.of(part, "JPY"))
        for i, part in enumerate(parts)
    ]
    assert sum(r.source.amount for r in refunds) == payment.source.amount
    assert sum(r.fee.amount for r in refunds) == payment.fee.amount
    assert [r.refund_id for r in switch.refunds.for_payment("p-1")] == ["r-0", "r-1", "r-2"]


def test_a_partial_refund_uses_the_original_rate_half_even(switch: Switch) -> None:
    payment = pay(switch, "p-1", 10_000)  # CNY 500.00 + fee 2.50
    refund = switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(2_500, "JPY"))
    assert refund.source == Money.of(payment.source.amount // 4, "CNY")
    assert refund.fee.amount == round(payment.fee.amount / 4)  # 62.5 -> 62 (half-even)


def test_refunding_more_than_is_left_is_refused_and_changes_nothing(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(6_000, "JPY"))
    before = _balance(switch, ACQUIRER, "JPY")
    with pytest.raises(SwitchError) as error:
        switch.refunds.refund("r-2", payment_id="p-1", amount=Money.of(4_001, "JPY"))
    assert error.value.code == "refund_exceeds_payment"
    assert _balance(switch, ACQUIRER, "JPY") == before
    with pytest.raises(SwitchError):
        switch.refunds.get("r-2")


def test_the_same_refund_id_replays_and_another_body_is_modified_request(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    first = switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(1_000, "JPY"))
    again = switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(1_000, "JPY"))
    assert again == first
    assert _balance(switch, ACQUIRER, "JPY") == 9_000
    with pytest.raises(SwitchError) as error:
        switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(2_000, "JPY"))
    assert error.value.code == "modified_request"


@pytest.mark.parametrize(
    ("refund_id", "amount", "code"),
    [
        ("", Money.of(1, "JPY"), "invalid_refund"),
        ("r-1", Money.of(0, "JPY"), "invalid_refund"),
        ("r-1", Money.of(100, "CNY"), "invalid_refund"),
    ],
)
def test_malformed_refunds_are_refused(
    switch: Switch, refund_id: str, amount: Money, code: str
) -> None:
    pay(switch, "p-1", 10_000)
    with pytest.raises(SwitchError) as error:
        switch.refunds.refund(refund_id, payment_id="p-1", amount=amount)
    assert error.value.code == code


def test_only_committed_payments_can_be_refunded(switch: Switch) -> None:
    quote = switch.quote(provider_id=PROVIDER, source_currency="CNY", target=Money.of(100, "JPY"))
    switch.payments.reserve(
        "p-held",
        wallet_id=WALLET,
        customer_id="c-wang",
        merchant_id="m-kyoto-tea",
        quote_id=quote.quote_id,
    )
    with pytest.raises(SwitchError) as error:
        switch.refunds.refund("r-1", payment_id="p-held", amount=Money.of(100, "JPY"))
    assert error.value.code == "payment_not_committed"
    with pytest.raises(SwitchError) as unknown:
        switch.refunds.refund("r-1", payment_id="nope", amount=Money.of(100, "JPY"))
    assert unknown.value.code == "unknown_payment"


def test_an_acquirer_that_withdrew_its_takings_cannot_refund(switch: Switch) -> None:
    pay(switch, "p-1", 10_000)
    switch.liquidity.withdraw(ACQUIRER, Money.of(9_500, "JPY"), reference="payout")
    with pytest.raises(SwitchError) as error:
        switch.refunds.refund("r-1", payment_id="p-1", amount=Money.of(1_000, "JPY"))
    assert error.value.code == "insufficient_liquidity"
    assert switch.refunds.get("r-1").state == "failed"
    (fees,) = switch.ledger.lookup_accounts([hub_fees_account_id("CNY")])
    assert fees.debits_posted == 0


@settings(max_examples=200, deadline=None)
@given(
    source=st.integers(1, 10**9),
    fee=st.integers(0, 10**6),
    target=st.integers(1, 10**9),
    cuts=st.lists(st.integers(1, 10**9), min_size=1, max_size=6),
)
def test_refund_shares_never_exceed_and_always_complete(
    source: int, fee: int, target: int, cuts: list[int]
) -> None:
    refunded = [0, 0, 0]
    for cut in cuts:
        left = target - refunded[0]
        if left == 0:
            break
        amount = min(cut, left)
        s, f = refund_shares(
            source=source,
            fee=fee,
            target=target,
            refunded_target=refunded[0],
            refunded_source=refunded[1],
            refunded_fee=refunded[2],
            amount=amount,
        )
        assert 0 <= s <= source - refunded[1] and 0 <= f <= fee - refunded[2]
        refunded = [refunded[0] + amount, refunded[1] + s, refunded[2] + f]
    if refunded[0] == target:
        assert refunded[1:] == [source, fee]
