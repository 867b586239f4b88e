"""KYC limits: each tier and cap, each window, rolling expiry, release, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.compliance.limits import ANNUAL_WINDOW_S, DAILY_WINDOW_S, Limits
from corridor.compliance.profiles import default_profiles
from corridor.compliance.types import PartyInfo, PaymentEvent, Verdict

NS = 1_000_000_000
DAY_S = 86_400
T0_S = 1_780_000_000
# Synthetic rates for the tests' USD figures: CNY 7 and JPY 150 and KRW 1,400 to the dollar.
_PER_US_CENT = {"CNY": 7.0, "JPY": 1.5, "KRW": 14.0, "USD": 1.0}
_HOME = {"CN": "CNY", "JP": "JPY", "KR": "KRW", "US": "USD"}
MERCHANT = PartyInfo("merchant:m-1", "Shop", None, "JP", "entity", mcc="5311")
_counter = iter(range(1, 10**9))


def customer(country: str = "CN", tier: str | None = "T3", number: int = 1) -> PartyInfo:
    return PartyInfo(
        party_id=f"customer:wallet-{country.lower()}/c-{number}",
        name="Wang Xiaoming",
        name_native="王小明",
        country=country,
        kind="individual",
        kyc_tier=tier,
    )


def pay(
    payer: PartyInfo,
    amount: int,
    at_s: float = 0,
    *,
    currency: str | None = None,
    target: str = "JPY",
    usd_cents: int | None = None,
    kind: str = "purchase",
    payment_id: str | None = None,
) -> PaymentEvent:
    """A payment of `amount` minor units of the payer's home currency at T0 + `at_s`."""
    source = currency or _HOME[payer.country]
    usd = usd_cents if usd_cents is not None else round(amount / _PER_US_CENT[source])
    return PaymentEvent(
        payment_id=payment_id or f"p-{next(_counter)}",
        at_ns=int((T0_S + at_s) * NS),
        payer=payer,
        payee=MERCHANT,
        wallet_id=f"wallet-{payer.country.lower()}",
        acquirer_id="acq-jp",
        source_currency=source,
        source_amount=amount,
        target_currency=target,
        target_amount=round(usd * _PER_US_CENT[target]),
        usd_cents=usd,
        kind=kind,
    )


def rules(reasons: tuple[object, ...]) -> list[str]:
    return [r.rule for r in reasons]  # type: ignore[attr-defined]


CN_TIERS = {t.id: t for t in default_profiles().get("CN").tiers}


# --- per payment -----------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["T1", "T2", "T3", "T4"])
def test_cn_per_payment_limit_allows_the_figure_and_refuses_one_fen_more(tier: str) -> None:
    limits = Limits()
    figure = CN_TIERS[tier].per_payment
    assert figure is not None
    payer = customer("CN", tier)
    assert limits.check(pay(payer, figure)) == ()
    refused = limits.check(pay(payer, figure + 1))
    assert f"kyc.cn.{tier.lower()}.per_payment" in rules(refused)
    assert all(r.verdict is Verdict.BLOCK for r in refused)


def test_refusal_names_the_rule_and_the_figure() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    limits.record(pay(payer, 195_000, 0))
    (reason,) = limits.check(pay(payer, 10_000, 60))
    assert reason.rule == "kyc.cn.t3.daily"
    assert reason.message == "CN T3 daily limit CNY 2,000.00: 1,950.00 used, 100.00 requested"
    assert dict(reason.figures) == {
        "jurisdiction": "CN",
        "tier": "T3",
        "limit": "2000.00",
        "currency": "CNY",
        "requested": "100.00",
        "used": "1950.00",
        "window_s": str(DAILY_WINDOW_S),
    }


# --- daily -----------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["T1", "T2", "T3", "T4"])
def test_cn_daily_limit_is_a_rolling_24_hours(tier: str) -> None:
    limits = Limits()
    spec = CN_TIERS[tier]
    assert spec.daily is not None and spec.per_payment is not None
    payer = customer("CN", tier)
    used = 0
    at = 0
    while used + spec.per_payment <= spec.daily:
        event = pay(payer, spec.per_payment, at)
        assert limits.check(event) == ()
        limits.record(event)
        used += spec.per_payment
        at += 60
    left = spec.daily - used
    if left:
        assert limits.check(pay(payer, left, at)) == ()
    assert "kyc.cn." + tier.lower() + ".daily" in rules(limits.check(pay(payer, left + 1, at)))
    # The first payment leaves the window exactly 24 h after it was made.
    assert limits.check(pay(payer, left + spec.per_payment, DAILY_WINDOW_S)) == ()
    still_in = limits.check(pay(payer, left + spec.per_payment, DAILY_WINDOW_S - 0.5))
    assert "kyc.cn." + tier.lower() + ".daily" in rules(still_in)


# --- annual ----------------------------------------------------------------------------


@pytest.mark.parametrize("tier", ["T1", "T2", "T3", "T4"])
def test_cn_annual_limit_is_a_rolling_365_days(tier: str) -> None:
    limits = Limits()
    spec = CN_TIERS[tier]
    assert spec.annual is not None and spec.per_payment is not None
    payer = customer("CN", tier)
    payments = spec.annual // spec.per_payment
    assert payments * spec.per_payment == spec.annual
    for day in range(payments):
        event = pay(payer, spec.per_payment, day * DAY_S)
        assert limits.check(event) == (), day
        limits.record(event)
    later = payments * DAY_S
    refused = limits.check(pay(payer, 1, later))
    assert rules(refused) == [f"kyc.cn.{tier.lower()}.annual"]
    # 365 days after the first payment it no longer counts.
    assert limits.check(pay(payer, spec.per_payment, ANNUAL_WINDOW_S)) == ()
    assert rules(limits.check(pay(payer, 1, ANNUAL_WINDOW_S - 1))) == [
        f"kyc.cn.{tier.lower()}.annual"
    ]


# --- caps ------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "cap", "figure"), [("T1", "psa_type2", 1_000_000),
                                                     ("T2", "psa_type2", 1_000_000),
                                                     ("T3", "psa_type3", 50_000),
                                                     ("T4", "psa_type3", 50_000)])  # fmt: skip
def test_jp_funds_transfer_caps_per_tier(tier: str, cap: str, figure: int) -> None:
    limits = Limits()
    payer = customer("JP", tier)
    assert limits.check(pay(payer, figure, target="CNY")) == ()
    (reason,) = limits.check(pay(payer, figure + 1, target="CNY"))
    assert reason.rule == f"kyc.jp.{cap}.per_transfer"
    assert f"JP {cap} cap per-transfer limit JPY {figure:,}" in reason.message


def test_jp_caps_have_no_daily_figure() -> None:
    limits = Limits()
    payer = customer("JP", "T3")
    for minute in range(30):
        event = pay(payer, 50_000, minute * 60, target="CNY")
        limits.record(event)
    assert limits.check(pay(payer, 50_000, 1800, target="CNY")) == ()


def test_kr_small_sum_remittance_per_transfer_in_usd() -> None:
    limits = Limits()
    payer = customer("KR", "T1")
    assert limits.check(pay(payer, 7_000_000, usd_cents=500_000)) == ()
    (reason,) = limits.check(pay(payer, 7_000_014, usd_cents=500_001))
    assert reason.rule == "kyc.kr.small_sum_remittance.per_transfer"
    assert "USD 5,000.00" in reason.message


def test_kr_small_sum_remittance_annual_in_usd_rolls_over_365_days() -> None:
    limits = Limits()
    payer = customer("KR", "T2")
    annual = default_profiles().get("KR").caps["small_sum_remittance"].annual
    assert annual is not None
    for day in range(annual // 500_000):
        limits.record(pay(payer, 7_000_000, day * DAY_S, usd_cents=500_000))
    refused = limits.check(pay(payer, 14, 300 * DAY_S, usd_cents=1))
    assert rules(refused) == ["kyc.kr.small_sum_remittance.annual"]
    assert limits.check(pay(payer, 14, ANNUAL_WINDOW_S, usd_cents=500_000)) == ()


# --- tiers and jurisdictions -----------------------------------------------------------


@pytest.mark.parametrize("tier", [None, "platinum"])
def test_unknown_tier_is_held_to_the_strictest(tier: str | None) -> None:
    limits = Limits()
    payer = customer("CN", tier)
    (reason,) = limits.check(pay(payer, 50_001))
    assert reason.rule == "kyc.cn.t4.per_payment"
    assert reason.figures["tier_assumed"] == "true"
    assert "held to T4" in reason.message


def test_tier_aliases_match() -> None:
    limits = Limits()
    assert limits.check(pay(customer("CN", "class-1"), 5_000_000)) == ()


def test_a_country_without_a_profile_has_no_kyc_limits() -> None:
    limits = Limits()
    assert limits.check(pay(customer("US", "T4"), 10**9)) == ()


def test_refunds_are_neither_limited_nor_counted() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    refund = pay(payer, 10**9, kind="refund")
    assert limits.check(refund) == ()
    limits.record(refund)
    assert limits.used(payer.party_id, "CNY", DAILY_WINDOW_S, refund.at_ns) == 0


def test_a_payment_that_cannot_be_priced_in_the_limit_currency_is_refused() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    (reason,) = limits.check(pay(payer, 10_000, currency="KRW", target="JPY"))
    assert reason.rule == "kyc.cn.unpriced"
    assert reason.verdict is Verdict.BLOCK


def test_a_used_payment_in_another_currency_is_converted_at_the_checked_rate() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    # CNY 1,400.00 = USD 200.00 priced in KRW/JPY only, then CNY 700.00 = USD 100.00.
    limits.record(pay(payer, 280_000, currency="KRW", usd_cents=20_000))
    (reason,) = limits.check(pay(payer, 70_000, 60, usd_cents=10_000))
    assert reason.rule == "kyc.cn.t3.daily"
    assert "1,400.00 used, 700.00 requested" in reason.message


# --- record, release, persistence ------------------------------------------------------


def test_recording_twice_counts_once_and_a_recheck_leaves_itself_out() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    event = pay(payer, 150_000)
    limits.record(event)
    limits.record(event)
    assert limits.used(payer.party_id, "CNY", DAILY_WINDOW_S, event.at_ns) == 150_000
    assert limits.check(event) == ()


def test_release_on_abort_frees_the_limit() -> None:
    limits = Limits()
    payer = customer("CN", "T3")
    first = pay(payer, 200_000, 0)
    limits.record(first)
    second = pay(payer, 100, 60)
    assert rules(limits.check(second)) == ["kyc.cn.t3.daily"]
    limits.release(first)
    assert limits.check(second) == ()
    limits.release(first)  # releasing again does nothing
    limits.release(pay(payer, 1))  # nor does releasing what was never recorded


def test_usage_survives_reopening_the_database(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    payer = customer("CN", "T3")
    kept, released = pay(payer, 150_000, 0), pay(payer, 40_000, 10)
    with Limits.open(db) as limits:
        limits.record(kept)
        limits.record(released)
        limits.release(released)
    with Limits.open(db) as reopened:
        assert reopened.used(payer.party_id, "CNY", DAILY_WINDOW_S, kept.at_ns + NS) == 150_000
        (reason,) = reopened.check(pay(payer, 50_001, 60))
        assert reason.message.endswith("1,500.00 used, 500.01 requested")


def test_rows_older_than_the_annual_window_are_dropped(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    payer = customer("CN", "T1")
    with Limits.open(db) as limits:
        limits.record(pay(payer, 100, 0))
        limits.record(pay(payer, 100, ANNUAL_WINDOW_S + 1))
    import sqlite3

    with sqlite3.connect(db) as connection:
        (count,) = connection.execute("SELECT count(*) FROM kyc_limit_usage").fetchone()
    assert count == 1


def test_same_events_give_the_same_refusals() -> None:
    def run() -> list[tuple[str, str]]:
        limits = Limits()
        payer = customer("CN", "T3")
        out: list[tuple[str, str]] = []
        for index in range(40):
            event = pay(payer, 30_000 + index * 1_000, index * 3_600, payment_id=f"d-{index}")
            reasons = limits.check(event)
            out += [(r.rule, r.message) for r in reasons]
            if not reasons:
                limits.record(event)
        return out

    first = run()
    assert first and first == run()
