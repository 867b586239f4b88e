"""Transaction monitoring: each rule fires at its threshold and not just below; the rules
file is validated; aggregates survive a restart; decisions are deterministic."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import pytest

from corridor.compliance.errors import ComplianceError
from corridor.compliance.monitoring import RULES, RULES_PATH, Monitor, load_rules
from corridor.compliance.types import Decision, PartyInfo, PaymentEvent, Verdict

NS = 1_000_000_000
HOUR = 3_600
DAY = 86_400
# 2026-06-01 04:00 UTC: noon in Shanghai, 13h in Tokyo and Seoul (no unusual hours).
T0_S = int(dt.datetime(2026, 6, 1, 4, 0, tzinfo=dt.UTC).timestamp())
_PER_US_CENT = {"CNY": 7.0, "JPY": 1.5, "KRW": 14.0, "USD": 1.0}
_HOME = {"CN": "CNY", "JP": "JPY", "KR": "KRW", "US": "USD", "VN": "USD", "KP": "USD"}
_ids = iter(range(1, 10**9))


def customer(number: int = 1, country: str = "CN", created_s: float | None = None) -> PartyInfo:
    return PartyInfo(
        party_id=f"customer:wallet-{country.lower()}/c-{number}",
        name=f"Customer {number}",
        name_native=None,
        country=country,
        kind="individual",
        kyc_tier="T1",
        created_ns=None if created_s is None else int((T0_S + created_s) * NS),
    )


def merchant(
    number: int = 1, country: str = "JP", mcc: str = "5311", created_s: float | None = None
) -> PartyInfo:
    return PartyInfo(
        party_id=f"merchant:m-{number}",
        name=f"Merchant {number}",
        name_native=None,
        country=country,
        kind="entity",
        region=f"{country}-13" if country == "JP" else None,
        mcc=mcc,
        created_ns=None if created_s is None else int((T0_S + created_s) * NS),
    )


def pay(
    payer: PartyInfo,
    payee: PartyInfo,
    usd_cents: int,
    at_s: float = 0,
    *,
    kind: str = "purchase",
    source_amount: int | None = None,
) -> PaymentEvent:
    source = _HOME[payer.country]
    target = _HOME.get(payee.country, "USD")
    return PaymentEvent(
        payment_id=f"p-{next(_ids)}",
        at_ns=int((T0_S + at_s) * NS),
        payer=payer,
        payee=payee,
        wallet_id="wallet",
        acquirer_id="acquirer",
        source_currency=source,
        source_amount=(
            source_amount
            if source_amount is not None
            else round(usd_cents * _PER_US_CENT[source]) + 1
        ),
        target_currency=target,
        target_amount=round(usd_cents * _PER_US_CENT[target]) + 1,
        usd_cents=usd_cents,
        kind=kind,
    )


def fired(decision: Decision) -> set[str]:
    return {alert.rule.removeprefix("monitoring.") for alert in decision.alerts}


def record_all(monitor: Monitor, events: Iterable[PaymentEvent]) -> None:
    for event in events:
        monitor.record(event)


@pytest.fixture
def monitor() -> Monitor:
    return Monitor()


def test_the_packaged_rules_hold_at_least_15_typologies() -> None:
    rules = load_rules()
    assert len(RULES) >= 15
    assert set(rules.rules) == set(RULES)
    assert all(rules[name].enabled for name in RULES)


def test_an_ordinary_payment_is_allowed(monitor: Monitor) -> None:
    decision = monitor.evaluate(pay(customer(), merchant(), 5_000))
    assert decision == Decision(Verdict.ALLOW)


# --- velocity, fan-in, fan-out ---------------------------------------------------------


def test_velocity_count_fires_at_the_count(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    record_all(monitor, [pay(payer, shop, 1_000, i) for i in range(monitor.velocity_count_min - 2)])
    assert "velocity_count" not in fired(monitor.evaluate(pay(payer, shop, 1_000, 60)))
    monitor.record(pay(payer, shop, 1_000, 61))
    decision = monitor.evaluate(pay(payer, shop, 1_000, 62))
    assert "velocity_count" in fired(decision)
    assert decision.verdict is Verdict.REVIEW


def test_velocity_count_window_rolls(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    window_s = monitor.velocity_count_ns // NS
    record_all(monitor, [pay(payer, shop, 1_000, i) for i in range(monitor.velocity_count_min - 1)])
    assert "velocity_count" in fired(monitor.evaluate(pay(payer, shop, 1_000, window_s - 1)))
    # At t = window the first payment (t = 0) has left the window.
    assert "velocity_count" not in fired(monitor.evaluate(pay(payer, shop, 1_000, window_s)))


def test_velocity_amount_fires_at_the_sum(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    minimum = monitor.velocity_amount_min
    monitor.record(pay(payer, shop, minimum // 2, 0))
    rest = minimum - minimum // 2
    assert "velocity_amount" not in fired(monitor.evaluate(pay(payer, shop, rest - 1, 60)))
    alert_decision = monitor.evaluate(pay(payer, shop, rest, 60))
    assert "velocity_amount" in fired(alert_decision)
    (alert,) = [a for a in alert_decision.alerts if a.rule == "monitoring.velocity_amount"]
    assert alert.evidence["total_usd"] == f"{minimum // 100}.{minimum % 100:02d}"
    assert alert.subject == payer.party_id


def test_fan_in_counts_distinct_payers(monitor: Monitor) -> None:
    shop = merchant()
    minimum = monitor.fan_in_min
    record_all(monitor, [pay(customer(i), shop, 1_000, i) for i in range(minimum - 1)])
    # A payer already counted adds no one.
    assert "fan_in" not in fired(monitor.evaluate(pay(customer(0), shop, 1_000, HOUR - 600)))
    decision = monitor.evaluate(pay(customer(10**6), shop, 1_000, HOUR - 600))
    assert "fan_in" in fired(decision)
    (alert,) = [a for a in decision.alerts if a.rule == "monitoring.fan_in"]
    assert alert.subject == shop.party_id
    assert alert.evidence["count"] == str(minimum)


def test_fan_out_counts_distinct_merchants(monitor: Monitor) -> None:
    payer = customer()
    minimum = monitor.fan_out_min
    record_all(monitor, [pay(payer, merchant(i), 1_000, i * 60) for i in range(minimum - 1)])
    assert "fan_out" not in fired(monitor.evaluate(pay(payer, merchant(0), 1_000, 1_800)))
    assert "fan_out" in fired(monitor.evaluate(pay(payer, merchant(999), 1_000, 1_800)))


# --- amounts ---------------------------------------------------------------------------


def test_structuring_fires_on_repeated_payments_just_below_the_travel_rule(
    monitor: Monitor,
) -> None:
    payer = customer(country="CN")  # FATF default: USD 1,000.00
    just_below = 95_000
    minimum = monitor.structuring_min
    events = [pay(payer, merchant(i), just_below, i * HOUR) for i in range(minimum - 2)]
    record_all(monitor, events)
    assert "structuring" not in fired(monitor.evaluate(pay(payer, merchant(50), just_below, DAY)))
    monitor.record(pay(payer, merchant(51), just_below, DAY))
    decision = monitor.evaluate(pay(payer, merchant(52), just_below, DAY + 60))
    assert "structuring" in fired(decision)
    (reason,) = [r for r in decision.reasons if r.rule == "monitoring.structuring"]
    assert "just below travel rule USD 1,000.00" in reason.message


def test_structuring_band_edges(monitor: Monitor) -> None:
    payer = customer(country="CN")
    band_low = round(100_000 * (1 - monitor.structuring_band))
    record_all(
        monitor,
        [pay(payer, merchant(i), band_low, i * HOUR) for i in range(monitor.structuring_min - 1)],
    )
    assert "structuring" in fired(monitor.evaluate(pay(payer, merchant(9), band_low, DAY)))
    # Below the band, and at the threshold itself, is not "just below".
    assert "structuring" not in fired(monitor.evaluate(pay(payer, merchant(9), band_low - 1, DAY)))
    assert "structuring" not in fired(monitor.evaluate(pay(payer, merchant(9), 100_000, DAY)))


def test_structuring_below_a_more_than_threshold_includes_the_figure(monitor: Monitor) -> None:
    payer = customer(country="JP")  # JP tax-office report: more than JPY 1,000,000
    shop = merchant(country="CN")
    for i in range(monitor.structuring_min - 1):
        monitor.record(pay(payer, shop, 100, i * HOUR, source_amount=990_000))
    at_figure = pay(payer, shop, 100, DAY, source_amount=1_000_000)
    assert "structuring" in fired(monitor.evaluate(at_figure))
    above = pay(payer, shop, 100, DAY, source_amount=1_000_001)
    assert "structuring" not in fired(monitor.evaluate(above))


def test_similar_amounts(monitor: Monitor) -> None:
    payer = customer()
    amount = max(monitor.similar_min_usd, 20_000)
    minimum = monitor.similar_min
    record_all(monitor, [pay(payer, merchant(1), amount, i * 60) for i in range(minimum - 2)])
    assert "similar_amounts" not in fired(monitor.evaluate(pay(payer, merchant(1), amount, HOUR)))
    monitor.record(pay(payer, merchant(1), amount * 3, HOUR))  # not similar
    assert "similar_amounts" not in fired(monitor.evaluate(pay(payer, merchant(1), amount, HOUR)))
    monitor.record(pay(payer, merchant(1), amount + 100, HOUR))  # similar
    assert "similar_amounts" in fired(monitor.evaluate(pay(payer, merchant(1), amount, HOUR)))


def test_similar_amounts_ignores_small_payments(monitor: Monitor) -> None:
    payer = customer()
    small = monitor.similar_min_usd - 1
    record_all(monitor, [pay(payer, merchant(1), small, i) for i in range(monitor.similar_min)])
    assert "similar_amounts" not in fired(monitor.evaluate(pay(payer, merchant(1), small, 60)))


def test_round_amount(monitor: Monitor) -> None:
    payer, shop = customer(country="CN"), merchant()
    usd = monitor.round_min_usd
    unit = monitor.round_units["CNY"]
    round_cny = unit * 30
    assert "round_amount" in fired(monitor.evaluate(pay(payer, shop, usd, source_amount=round_cny)))
    not_round = pay(payer, shop, usd, source_amount=round_cny + 1)
    assert "round_amount" not in fired(monitor.evaluate(not_round))
    small = pay(payer, shop, usd - 1, source_amount=round_cny)
    assert "round_amount" not in fired(monitor.evaluate(small))


def test_large_versus_history(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    mean = 20_000
    record_all(monitor, [pay(payer, shop, mean, i * DAY) for i in range(monitor.history_min)])
    large = round(mean * monitor.history_multiple)
    assert large >= monitor.history_min_usd
    assert "large_vs_history" in fired(monitor.evaluate(pay(payer, shop, large, 30 * DAY)))
    assert "large_vs_history" not in fired(monitor.evaluate(pay(payer, shop, large - 1, 30 * DAY)))


def test_large_versus_history_needs_enough_history(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    record_all(monitor, [pay(payer, shop, 100, i * DAY) for i in range(monitor.history_min - 1)])
    assert "large_vs_history" not in fired(monitor.evaluate(pay(payer, shop, 10**6, 30 * DAY)))


# --- accounts --------------------------------------------------------------------------


def test_dormant_account_reactivated(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    monitor.record(pay(payer, shop, 1_000, 0))
    dormant_s = monitor.dormant_ns // NS
    usd = monitor.dormant_min_usd
    assert "dormant_reactivated" in fired(monitor.evaluate(pay(payer, shop, usd, dormant_s)))
    assert "dormant_reactivated" not in fired(
        monitor.evaluate(pay(payer, shop, usd, dormant_s - 1))
    )
    assert "dormant_reactivated" not in fired(
        monitor.evaluate(pay(payer, shop, usd - 1, dormant_s))
    )


def test_new_account_large_payment(monitor: Monitor) -> None:
    shop = merchant()
    new_s = monitor.new_account_ns // NS
    usd = monitor.new_account_min_usd
    young = customer(created_s=-new_s + 1)
    assert "new_account_large" in fired(monitor.evaluate(pay(young, shop, usd)))
    assert "new_account_large" not in fired(monitor.evaluate(pay(young, shop, usd - 1)))
    old_enough = customer(created_s=-new_s)
    assert "new_account_large" not in fired(monitor.evaluate(pay(old_enough, shop, usd)))


def test_new_merchant_volume(monitor: Monitor) -> None:
    shop = merchant(created_s=-DAY)
    minimum = monitor.volume_min_usd
    monitor.record(pay(customer(1), shop, minimum // 2, 0))
    rest = minimum - minimum // 2
    assert "new_merchant_volume" in fired(monitor.evaluate(pay(customer(2), shop, rest, 60)))
    assert "new_merchant_volume" not in fired(
        monitor.evaluate(pay(customer(2), shop, rest - 1, 60))
    )
    old_shop = merchant(2, created_s=-(monitor.new_merchant_ns // NS))
    monitor.record(pay(customer(1), old_shop, minimum, 0))
    assert "new_merchant_volume" not in fired(monitor.evaluate(pay(customer(2), old_shop, 100, 60)))


# --- flows -----------------------------------------------------------------------------


@pytest.mark.parametrize("merchant_first", [True, False])
def test_pass_through_of_refunds_received(monitor: Monitor, merchant_first: bool) -> None:
    payer, shop = customer(), merchant()
    inflow = monitor.pass_min_inflow
    # A refund, whichever way round the switch names its parties.
    refund = (
        pay(shop, payer, inflow, 0, kind="refund")
        if merchant_first
        else pay(payer, shop, inflow, 0, kind="refund")
    )
    monitor.record(refund)
    needed = round(monitor.pass_ratio * inflow)
    assert "pass_through" in fired(monitor.evaluate(pay(payer, merchant(2), needed, 600)))
    assert "pass_through" not in fired(monitor.evaluate(pay(payer, merchant(2), needed - 1, 600)))


def test_pass_through_needs_a_minimum_inflow(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    small = monitor.pass_min_inflow - 1
    monitor.record(pay(payer, shop, small, 0, kind="refund"))
    assert "pass_through" not in fired(monitor.evaluate(pay(payer, merchant(2), small, 600)))


def test_repeated_refunds(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    minimum = monitor.refunds_min
    for i in range(minimum - 2):
        monitor.record(pay(payer, shop, 100, i * HOUR, kind="refund"))
    assert "repeated_refunds" not in fired(
        monitor.evaluate(pay(payer, shop, 100, DAY, kind="refund"))
    )
    monitor.record(pay(payer, shop, 100, DAY, kind="refund"))
    decision = monitor.evaluate(pay(payer, shop, 100, DAY + 1, kind="refund"))
    assert "repeated_refunds" in fired(decision)
    assert decision.alerts[0].subject == payer.party_id


# --- parties ---------------------------------------------------------------------------


def test_sanctioned_counterparty_review_and_block_levels(monitor: Monitor) -> None:
    event = pay(customer(), merchant(), 1_000)
    review = monitor.evaluate(event, screening_score=monitor.sanction_review)
    assert fired(review) == {"sanctioned_counterparty"}
    assert review.verdict is Verdict.REVIEW
    block = monitor.evaluate(event, screening_score=monitor.sanction_block)
    assert block.verdict is Verdict.BLOCK
    assert block.alerts[0].score == monitor.sanction_block
    below = monitor.evaluate(event, screening_score=monitor.sanction_review - 0.001)
    assert below.verdict is Verdict.ALLOW
    assert monitor.evaluate(event, screening_score=None).verdict is Verdict.ALLOW


def test_screened_party_is_the_alert_subject(monitor: Monitor) -> None:
    shop = merchant()
    decision = monitor.evaluate(
        pay(customer(), shop, 1_000), screening_score=0.99, screened_party_id=shop.party_id
    )
    assert decision.alerts[0].subject == shop.party_id


@pytest.mark.parametrize("score", [-0.1, 1.5, float("nan")])
def test_a_screening_score_outside_0_1_is_refused(monitor: Monitor, score: float) -> None:
    with pytest.raises(ComplianceError) as caught:
        monitor.evaluate(pay(customer(), merchant(), 1_000), screening_score=score)
    assert caught.value.code == "invalid_score"


def test_high_risk_jurisdictions(monitor: Monitor) -> None:
    black = monitor.evaluate(pay(customer(), merchant(country="KP"), 1_000))
    assert fired(black) == {"high_risk_jurisdiction"}
    assert black.verdict is Verdict.BLOCK
    grey = monitor.evaluate(pay(customer(country="VN"), merchant(), 1_000))
    assert grey.verdict is Verdict.REVIEW
    assert grey.alerts[0].evidence["list"] == "increased_monitoring"
    assert monitor.evaluate(pay(customer(country="KR"), merchant(), 1_000)).verdict is (
        Verdict.ALLOW
    )


def _rules_with(tmp_path: Path, old: str, new: str) -> Path:
    text = RULES_PATH.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "monitoring.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_high_risk_counterparty_from_the_rules_file(tmp_path: Path) -> None:
    path = _rules_with(tmp_path, "parties = []", 'parties = ["merchant:m-7"]')
    monitor = Monitor(load_rules(path))
    assert "high_risk_counterparty" in fired(monitor.evaluate(pay(customer(), merchant(7), 100)))
    assert "high_risk_counterparty" not in fired(
        monitor.evaluate(pay(customer(), merchant(8), 100))
    )


def test_unusual_hours_in_the_payer_local_time(monitor: Monitor) -> None:
    usd = monitor.hours_min_usd
    # 02:00 in Shanghai is 18:00 UTC the day before.
    two_am = -10 * HOUR
    five_am = -7 * HOUR
    decision = monitor.evaluate(pay(customer(country="CN"), merchant(), usd, two_am))
    assert "unusual_hours" in fired(decision)
    (alert,) = decision.alerts
    assert alert.evidence["local_hour"] == "2"
    assert "unusual_hours" not in fired(
        monitor.evaluate(pay(customer(country="CN"), merchant(), usd, five_am))
    )
    assert "unusual_hours" not in fired(
        monitor.evaluate(pay(customer(country="CN"), merchant(), usd - 1, two_am))
    )
    # No time zone for the country: the rule cannot judge and stays silent.
    assert "unusual_hours" not in fired(
        monitor.evaluate(pay(customer(country="US"), merchant(), usd, two_am))
    )


def test_travel_rule_missing_blocks_at_the_threshold(monitor: Monitor) -> None:
    payer, shop = customer(country="CN"), merchant()
    at = pay(payer, shop, 100_000)
    decision = monitor.evaluate(at, travel_rule_ok=False)
    assert fired(decision) == {"travel_rule_missing"}
    assert decision.verdict is Verdict.BLOCK
    assert monitor.evaluate(at, travel_rule_ok=True).verdict is Verdict.ALLOW
    below = pay(payer, shop, 99_999)
    assert monitor.evaluate(below, travel_rule_ok=False).verdict is Verdict.ALLOW


def test_travel_rule_missing_uses_the_payer_jurisdiction_threshold(monitor: Monitor) -> None:
    korean = customer(country="KR")
    shop = merchant()
    at_krw = pay(korean, shop, 70_000, source_amount=1_000_000)
    assert "travel_rule_missing" in fired(monitor.evaluate(at_krw, travel_rule_ok=False))
    below = pay(korean, shop, 70_000, source_amount=999_999)
    assert "travel_rule_missing" not in fired(monitor.evaluate(below, travel_rule_ok=False))


def test_merchant_category_risk(monitor: Monitor) -> None:
    risky = monitor.evaluate(pay(customer(), merchant(mcc="6051"), 1_000))
    assert fired(risky) == {"merchant_category_risk"}
    assert risky.alerts[0].evidence["mcc"] == "6051"
    assert monitor.evaluate(pay(customer(), merchant(mcc="5311"), 1_000)).verdict is (Verdict.ALLOW)


# --- decisions, alerts, purity ---------------------------------------------------------


def test_the_strictest_verdict_wins_and_every_alert_has_a_reason(monitor: Monitor) -> None:
    event = pay(customer(), merchant(country="KP", mcc="6051"), 1_000)
    decision = monitor.evaluate(event, screening_score=0.9)
    assert decision.verdict is Verdict.BLOCK
    assert fired(decision) == {
        "high_risk_jurisdiction",
        "merchant_category_risk",
        "sanctioned_counterparty",
    }
    assert [r.rule for r in decision.reasons] == [a.rule for a in decision.alerts]
    for alert in decision.alerts:
        assert 0 <= alert.score <= 1
        assert alert.payment_id == event.payment_id
        assert alert.alert_id == f"{event.payment_id}/{alert.rule}"
        assert alert.at_ns == event.at_ns
        assert all(isinstance(v, str) for v in alert.evidence.values())


def test_evaluate_changes_nothing(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    event = pay(payer, shop, 1_000)
    for _ in range(3 * monitor.velocity_count_min):
        assert monitor.evaluate(event).verdict is Verdict.ALLOW


def test_recording_a_payment_twice_counts_it_once(monitor: Monitor) -> None:
    payer, shop = customer(), merchant()
    event = pay(payer, shop, 1_000)
    for _ in range(monitor.velocity_count_min):
        monitor.record(event)
    assert "velocity_count" not in fired(monitor.evaluate(pay(payer, shop, 1_000, 1)))


def test_a_disabled_rule_never_fires(tmp_path: Path) -> None:
    path = _rules_with(
        tmp_path,
        "[rules.merchant_category_risk]\n",
        "[rules.merchant_category_risk]\nenabled = false\n",
    )
    monitor = Monitor(load_rules(path))
    assert monitor.evaluate(pay(customer(), merchant(mcc="6051"), 1_000)).verdict is (Verdict.ALLOW)


def _stream() -> list[PaymentEvent]:
    events: list[PaymentEvent] = []
    for i in range(400):
        payer = customer(i % 23, country=("CN", "JP", "KR")[i % 3])
        shop = merchant(
            i % 7, country="JP" if i % 3 else "KR", mcc="6051" if i % 50 == 0 else "5311"
        )
        usd = (i * 7919) % 300_000 + 100
        events.append(pay(payer, shop, usd, i * 97, kind="refund" if i % 41 == 0 else "purchase"))
    return events


def _replay(monitor: Monitor, events: list[PaymentEvent]) -> list[Decision]:
    decisions = []
    for event in events:
        decision = monitor.evaluate(event, screening_score=0.5, travel_rule_ok=True)
        decisions.append(decision)
        if decision.verdict is not Verdict.BLOCK:
            monitor.record(event)
    return decisions


def test_same_events_give_the_same_decisions() -> None:
    events = _stream()
    first = _replay(Monitor(), events)
    assert any(d.alerts for d in first)
    assert first == _replay(Monitor(), events)


def test_aggregates_survive_a_restart(tmp_path: Path) -> None:
    events = _stream()
    head, tail = events[:250], events[250:]
    db = tmp_path / "corridor.db"
    with Monitor.open(db) as persisted:
        _replay(persisted, head)
    reference = Monitor()
    _replay(reference, head)
    with Monitor.open(db) as restored:
        expected = _replay(reference, tail)
        assert any(d.alerts for d in expected)
        assert _replay(restored, tail) == expected


def test_flush_keeps_only_events_within_the_longest_window(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    payer, shop = customer(), merchant()
    with Monitor.open(db) as monitor:
        horizon_s = monitor.horizon_ns // NS
        monitor.record(pay(payer, shop, 1_000, 0))
        monitor.flush()
        monitor.record(pay(payer, shop, 1_000, horizon_s + 1))
    with sqlite3.connect(db) as connection:
        (events,) = connection.execute("SELECT count(*) FROM monitoring_events").fetchone()
        (count,) = connection.execute(
            "SELECT out_count FROM monitoring_parties WHERE party_id = ?", (payer.party_id,)
        ).fetchone()
    assert (events, count) == (1, 2)


def test_history_survives_a_restart_beyond_the_windows(tmp_path: Path) -> None:
    db = tmp_path / "corridor.db"
    payer, shop = customer(), merchant()
    with Monitor.open(db) as monitor:
        record_all(monitor, [pay(payer, shop, 1_000, i) for i in range(monitor.history_min)])
        dormant_s = monitor.dormant_ns // NS
    with Monitor.open(db) as monitor:
        later = pay(
            payer, shop, max(monitor.dormant_min_usd, monitor.history_min_usd), dormant_s + 60
        )
        assert {"dormant_reactivated", "large_vs_history"} <= fired(monitor.evaluate(later))


# --- the rules file --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ("min_count = 10", 'min_count = "10"', "rules.velocity_count.min_count"),
        ("min_count = 10", "min_count = 0", "rules.velocity_count.min_count"),
        ("band = 0.10", "band = 1.5", "rules.structuring.band"),
        ('min_usd = "10000.00"', 'min_usd = "10000.001"', "rules.velocity_amount.min_usd"),
        ('min_usd = "10000.00"', "min_usd = 10000", "rules.velocity_amount.min_usd"),
        (
            'verdict = "review"\nwindow_s = 3600\nmin_count',
            'verdict = "hold"\nwindow_s = 3600\nmin_count',
            "rules.velocity_count.verdict",
        ),
        (
            "window_s = 3600\nmin_count = 10",
            "window_s = 3600\nmin_count = 10\nspeed = 1",
            "rules.velocity_count.speed",
        ),
        ("[rules.fan_in]", "[rules.fan_in_typo]", "rules.fan_in_typo"),
        (
            "review_score = 0.85",
            "review_score = 0.99",
            "rules.sanctioned_counterparty.review_score",
        ),
        (
            'call_for_action = ["KP", "IR", "MM"]',
            'call_for_action = ["KP", "XX"]',
            "rules.high_risk_jurisdiction.call_for_action",
        ),
        ('CN = "Asia/Shanghai"', 'CN = "Asia/Atlantis"', "rules.unusual_hours.timezones.CN"),
        ('"6051" = "quasi', '"605" = "quasi', "rules.merchant_category_risk.mccs.605"),
        ('JPY = "100000"', 'JPY = "100000.5"', "rules.round_amount.units.JPY"),
        ("end_hour = 5", "end_hour = 0", "rules.unusual_hours.end_hour"),
        ("schema = 1", "schema = 3", "schema"),
        ("checked = 2026-11-22", 'checked = "recently"', "rules.high_risk_jurisdiction.checked"),
    ],
)
def test_a_bad_rules_file_is_refused_naming_file_and_key(
    tmp_path: Path, old: str, new: str, key: str
) -> None:
    path = _rules_with(tmp_path, old, new)
    with pytest.raises(ComplianceError) as caught:
        load_rules(path)
    assert caught.value.code == "invalid_rules"
    assert f"monitoring.toml: {key}" in str(caught.value)


def test_a_rules_file_missing_a_rule_is_refused(tmp_path: Path) -> None:
    text = RULES_PATH.read_text(encoding="utf-8")
    start = text.index("[rules.repeated_refunds]")
    path = tmp_path / "monitoring.toml"
    path.write_text(text[:start], encoding="utf-8")
    with pytest.raises(ComplianceError, match=r"rules\.repeated_refunds: is missing"):
        load_rules(path)


def test_recording_flushes_by_itself_when_the_buffer_is_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import corridor.compliance.monitoring as monitoring

    monkeypatch.setattr(monitoring, "FLUSH_EVENTS_MAX", 3)
    db = tmp_path / "corridor.db"
    monitor = Monitor.open(db)
    record_all(monitor, [pay(customer(), merchant(), 100, i) for i in range(4)])
    with sqlite3.connect(db) as connection:
        (written,) = connection.execute("SELECT count(*) FROM monitoring_events").fetchone()
    assert written == 3
    monitor.close()
    with sqlite3.connect(db) as connection:
        (written,) = connection.execute("SELECT count(*) FROM monitoring_events").fetchone()
    assert written == 4


def test_high_risk_jurisdiction_takes_the_strictest_listing_of_either_party(
    monitor: Monitor,
) -> None:
    decision = monitor.evaluate(pay(customer(country="VN"), merchant(country="IR"), 1_000))
    assert decision.verdict is Verdict.BLOCK
    (alert,) = decision.alerts
    assert alert.evidence == {"country": "IR", "list": "call_for_action"}
