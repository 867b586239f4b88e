"""Compliance inline on payments: KYC limits and sanctions block before the ledger, monitoring
sends payments to review as holds that only their case can release or refuse, and the limits
count only what went through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.compliance.cases import HoldState
from corridor.formats.sanctions import LIST_OFAC_SDN, SanctionsEntry, SanctionsList, SourceFile
from corridor.ledger.verify import verify
from corridor.switch.directory import liquidity_account_id
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money
from corridor.switch.payments import REVIEW_HOLD_TIMEOUT_S, PaymentState
from corridor.switch.service import Switch

from .corridor_fixture import (
    ACQUIRER,
    CUSTOMER,
    MERCHANT,
    PROVIDER,
    WALLET,
    FakeClock,
    open_corridor,
    pay,
)


@pytest.fixture
def switch(tmp_path: Path) -> Iterator[Switch]:
    with open_corridor(
        tmp_path / "c.db", FakeClock(), wallet_cny=5_000_000, compliance=True
    ) as opened:
        opened.clock.advance(30 * 86_400)  # type: ignore[attr-defined]  # Not a new account.
        yield opened


def _acquirer_jpy(switch: Switch) -> int:
    (account,) = switch.ledger.lookup_accounts([liquidity_account_id(ACQUIRER, "JPY")])
    return account.credits_posted + account.credits_pending


def _customer(switch: Switch, customer_id: str, tier: str, name: str = "Li Wei") -> None:
    switch.directory.register_customer(
        customer_id,
        wallet_id=WALLET,
        name_native="李伟",
        name_romanized=name,
        country="CN",
        date_of_birth="1985-02-03",
        kyc_tier=tier,
    )


def _pay_as(switch: Switch, payment_id: str, customer_id: str, jpy: int, merchant: str = MERCHANT):
    quote = switch.quote(provider_id=PROVIDER, source_currency="CNY", target=Money.of(jpy, "JPY"))
    return switch.payments.pay(
        payment_id,
        wallet_id=WALLET,
        customer_id=customer_id,
        merchant_id=merchant,
        quote_id=quote.quote_id,
    )


def test_an_allowed_payment_goes_straight_through(switch: Switch) -> None:
    assert pay(switch, "p-1", 1_234).state is PaymentState.COMMITTED
    assert switch.compliance is not None
    assert (
        switch.compliance.limits.used(
            f"customer:{WALLET}/{CUSTOMER}", "CNY", 86_400, switch.clock()
        )
        > 0
    )


def test_a_payment_over_the_kyc_tier_limit_is_blocked_before_the_ledger(switch: Switch) -> None:
    _customer(switch, "c-t3", "T3")  # CN T3: CNY 2,000 per payment
    before = _acquirer_jpy(switch)
    with pytest.raises(SwitchError) as error:
        _pay_as(switch, "p-big", "c-t3", 50_000)  # about CNY 2,500
    assert error.value.code == "compliance_blocked"
    assert "kyc.cn.t3.per_payment" in str(error.value)
    assert _acquirer_jpy(switch) == before
    stored = switch.payments.get("p-big")
    assert stored.state is PaymentState.ABORTED and stored.error_code == "compliance_blocked"
    # The refusal is replayed, not re-decided.
    with pytest.raises(SwitchError) as again:
        switch.payments.pay(
            "p-big",
            wallet_id=WALLET,
            customer_id="c-t3",
            merchant_id=MERCHANT,
            quote_id=stored.quote_id,
        )
    assert again.value.code == "compliance_blocked"
    assert _pay_as(switch, "p-small", "c-t3", 20_000).state is PaymentState.COMMITTED


def test_daily_limits_count_earlier_payments_of_the_same_batch(switch: Switch) -> None:
    from corridor.switch.payments import PaymentRequest

    _customer(switch, "c-t3", "T3")  # CN T3: CNY 2,000 a day
    requests = []
    for i in range(3):  # 3 x about CNY 900
        quote = switch.quote(
            provider_id=PROVIDER, source_currency="CNY", target=Money.of(18_000, "JPY")
        )
        requests.append(PaymentRequest(f"p-{i}", WALLET, "c-t3", MERCHANT, quote.quote_id))
    outcomes = switch.payments.pay_many(requests)
    assert [getattr(o, "code", "ok") for o in outcomes] == ["ok", "ok", "compliance_blocked"]


def test_a_high_risk_merchant_category_holds_the_payment_for_review(switch: Switch) -> None:
    switch.directory.register_merchant(
        "m-remit",
        acquirer_id=ACQUIRER,
        name="Remit Shop",
        mcc="4829",
        city="Tokyo",
        region="JP-13",
        currency="JPY",
    )
    payment = _pay_as(switch, "p-review", CUSTOMER, 3_000, merchant="m-remit")
    assert payment.state is PaymentState.RESERVED and payment.flow == "two_phase"
    assert payment.hold_timeout_s >= REVIEW_HOLD_TIMEOUT_S
    assert switch.compliance is not None
    hold = switch.compliance.cases.hold("p-review")
    assert hold is not None and hold.state is HoldState.PENDING
    with pytest.raises(SwitchError) as error:
        switch.payments.commit("p-review")
    assert error.value.code == "payment_under_review"
    switch.compliance.cases.release(hold.case_id, "p-review", actor="officer-1")
    assert switch.payments.get("p-review").state is PaymentState.COMMITTED
    assert verify(switch.ledger.store.path).ok


def test_a_refused_review_aborts_the_payment_and_frees_the_limits(switch: Switch) -> None:
    switch.directory.register_merchant(
        "m-remit",
        acquirer_id=ACQUIRER,
        name="Remit Shop",
        mcc="4829",
        city="Tokyo",
        region="JP-13",
        currency="JPY",
    )
    party = f"customer:{WALLET}/{CUSTOMER}"
    assert switch.compliance is not None
    _pay_as(switch, "p-review", CUSTOMER, 3_000, merchant="m-remit")
    used = switch.compliance.limits.used(party, "CNY", 86_400, switch.clock())
    assert used > 0
    hold = switch.compliance.cases.hold("p-review")
    assert hold is not None
    switch.compliance.cases.refuse(hold.case_id, "p-review", actor="officer-1")
    assert switch.payments.get("p-review").state is PaymentState.ABORTED
    assert switch.compliance.limits.used(party, "CNY", 86_400, switch.clock()) == 0


def test_a_sanctioned_customer_is_blocked_in_native_script(switch: Switch) -> None:
    entry = SanctionsEntry(
        list=LIST_OFAC_SDN,
        entity_id="99001",
        kind="individual",
        name="KIM, Chol Su",
        native_names=("김철수",),
    )
    assert switch.compliance is not None
    switch.compliance.sanctions.load(
        [SanctionsList(LIST_OFAC_SDN, "test-1", (SourceFile("sdn.csv", "0" * 64, 1),), (entry,))]
    )
    switch.directory.register_customer(
        "c-kim",
        wallet_id=WALLET,
        name_native="김철수",
        name_romanized="Gim Cheolsu",
        country="CN",
        date_of_birth="1970-01-01",
        kyc_tier="T1",
    )
    with pytest.raises(SwitchError) as error:
        _pay_as(switch, "p-kim", "c-kim", 1_000)
    assert error.value.code in ("compliance_blocked",)
    assert "sanctioned_counterparty" in str(error.value)
    alerts = switch.compliance.cases.list_alerts(rule="monitoring.sanctioned_counterparty")
    assert [a.payment_id for a in alerts] == ["p-kim"]


def test_without_a_usd_rate_compliance_cannot_decide(tmp_path: Path) -> None:
    from decimal import Decimal

    from corridor.switch.fx import PairPrice
    from corridor.switch.service import FxPricing

    with open_corridor(tmp_path / "c.db", FakeClock(), compliance=True) as switch:
        switch.set_fx_pricing(
            FxPricing(
                PROVIDER,
                "prices",
                prices=(PairPrice("CNY", "JPY", Decimal("20"), Decimal("20.2")),),
            )
        )
        with pytest.raises(SwitchError) as error:
            pay(switch, "p-1", 1_000)
        assert error.value.code == "compliance_unavailable"
        stored = switch.payments.get("p-1")
        assert stored.state is PaymentState.ABORTED
        assert stored.error_code == "compliance_unavailable"


def test_refunds_are_seen_by_monitoring(switch: Switch) -> None:
    for i in range(3):
        pay(switch, f"p-{i}", 1_000 + i)
        switch.refunds.refund(f"r-{i}", payment_id=f"p-{i}", amount=Money.of(1_000, "JPY"))
    # The third refund to the same customer within a week raises an alert; the refund
    # itself is done, so the alert holds nothing.
    assert switch.compliance is not None
    alerts = switch.compliance.cases.list_alerts(rule="monitoring.repeated_refunds")
    assert [a.payment_id for a in alerts] == ["refund:r-2"]
    assert alerts[0].evidence["rule_verdict"] == "review"
    assert switch.compliance.cases.hold("refund:r-2") is None
