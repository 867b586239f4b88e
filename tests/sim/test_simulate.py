"""`corridor.sim`: a seeded corridor through the real switch, its labels, and its report.

Most tests read one shared run (the `simulated` fixture: 160 tourists, 4 days, small
reference data written by the tests). Determinism and the fallbacks run their own.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from corridor.analytics.reports import run_report
from corridor.audit.verify import verify_log
from corridor.compliance.profiles import default_profiles
from corridor.ledger.verify import verify
from corridor.sim.calibration import PREFECTURES
from corridor.sim.errors import SimError
from corridor.sim.plan import DAY_S, PlanSize, build_plan
from corridor.sim.run import SimConfig, simulate
from corridor.sim.sanctions import load_listed_people
from corridor.switch.money import convert
from tests.sim.fixtures import ECB_RATES, canonical, make_data_dir, run

Simulated = tuple[Path, Any]
NS = 1_000_000_000


def query(db: Path, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def ecb_rate(source: str, target: str) -> Decimal:
    return Decimal(ECB_RATES[target]) / Decimal(ECB_RATES[source])


# -- determinism -------------------------------------------------------------------------


def test_same_seed_gives_same_ledger_root_and_report(tmp_path: Path, data_dir: Path) -> None:
    first = run(tmp_path / "a.db", data_dir, seed=3, tourists=70, days=3)
    second = run(tmp_path / "b.db", data_dir, seed=3, tourists=70, days=3)
    assert canonical(first) == canonical(second)
    assert first["audit"]["root_sha256"] == second["audit"]["root_sha256"]
    assert first["audit"]["checkpoint"]["note"] == second["audit"]["checkpoint"]["note"]
    ledger = "SELECT hex(id), debit_account_id, credit_account_id, amount, timestamp, flags FROM transfers ORDER BY timestamp"  # noqa: E501
    assert query(tmp_path / "a.db", ledger) == query(tmp_path / "b.db", ledger)
    payments = "SELECT * FROM payments ORDER BY payment_id"
    assert query(tmp_path / "a.db", payments) == query(tmp_path / "b.db", payments)


def test_another_seed_gives_another_root(tmp_path: Path, data_dir: Path) -> None:
    first = run(tmp_path / "a.db", data_dir, seed=3, tourists=40, days=2)
    second = run(tmp_path / "b.db", data_dir, seed=4, tourists=40, days=2)
    assert first["audit"]["root_sha256"] != second["audit"]["root_sha256"]


# -- what the run holds ----------------------------------------------------------------------


def test_finished_database_passes_ledger_and_audit_verify(simulated: Simulated) -> None:
    db, _ = simulated
    assert verify(db).ok
    assert verify_log(db).ok


def test_every_day_is_settled_and_nets_sum_to_zero(simulated: Simulated) -> None:
    db, report = simulated
    assert report["settlement"]["windows"] == {"open": 1, "settled": 4}
    sums = query(
        db,
        "SELECT window_id, currency, sum(net) FROM settlement_positions GROUP BY 1, 2",
    )
    assert sums and all(total == 0 for _, _, total in sums)


def test_final_checkpoint_is_witnessed_by_participants(simulated: Simulated) -> None:
    _, report = simulated
    checkpoint = report["audit"]["checkpoint"]
    assert checkpoint["size"] == report["audit"]["log_size"]
    assert checkpoint["witnessed"]
    assert checkpoint["cosigners"] == ["hangang-pay", "kansai-acq", "panda-wallet"]
    assert checkpoint["quorum"] == 2
    assert report["audit"]["checkpoints"] == 4  # one a day


def test_merchants_and_payments_in_all_47_prefectures(simulated: Simulated) -> None:
    db, report = simulated
    codes = {p.code for p in PREFECTURES}
    assert len(codes) == 47
    with_payments = {
        region
        for (region,) in query(
            db,
            "SELECT DISTINCT m.region FROM payments p JOIN merchants m ON m.id = p.merchant_id"
            " WHERE p.state = 'committed' AND m.region LIKE 'JP-%'",
        )
    }
    assert with_payments == codes
    assert report["prefectures"]["with_payments"] == 47


def test_visitors_go_where_visitors_go(simulated: Simulated) -> None:
    _, report = simulated
    top = [p["region"] for p in report["prefectures"]["top"][:4]]
    assert "JP-13" in top  # Tokyo


def test_all_three_corridors_and_reverse_directions_carry_payments(simulated: Simulated) -> None:
    _, report = simulated
    assert set(report["volume_by_corridor"]) == {"CN-JP", "KR-JP", "JP-CN", "JP-KR"}
    assert report["fx"]["source"] == "ecb"


def test_customers_have_native_script_and_romanized_names(simulated: Simulated) -> None:
    db, _ = simulated
    rows = query(db, "SELECT country, name_native, name_romanized FROM customers")
    scripts: dict[str, set[str]] = {}
    for country, native, romanized in rows:
        names = {unicodedata.name(ch, "").split()[0] for ch in native if ch.isalpha()}
        scripts.setdefault(country, set()).update(names)
        assert all(ch in " -'.," or unicodedata.name(ch).startswith("LATIN") for ch in romanized)
    assert "CJK" in scripts["CN"]
    assert "HANGUL" in scripts["KR"]
    assert scripts["JP"] & {"CJK", "KATAKANA", "HIRAGANA"}


def test_holds_are_reserved_then_captured_or_released(simulated: Simulated) -> None:
    db, report = simulated
    events = report["events"]
    assert events["hold"]["reserved"] > 0
    assert events["release"]["aborted"] > 0
    # Deposits (bike sharing, 4111) and pre-authorizations (lodging, 7011) are holds of a
    # day or more; payments held for compliance review have long holds too.
    holds = query(
        db,
        "SELECT p.state, m.mcc FROM payments p JOIN merchants m ON m.id = p.merchant_id"
        " WHERE p.hold_timeout_s >= 86400 AND m.mcc IN ('4111', '7011')",
    )
    states = {state for state, _ in holds}
    assert {"committed", "aborted"} <= states  # captured, released
    assert states <= {"committed", "aborted", "reserved", "expired"}


def test_refunds_happen_now_and_then(simulated: Simulated) -> None:
    db, _ = simulated
    (count,) = query(db, "SELECT count(*) FROM refunds WHERE state = 'completed'")[0]
    assert count > 0


# -- calibration -----------------------------------------------------------------------------


def test_average_spend_per_trip_is_calibrated(tmp_path: Path, data_dir: Path) -> None:
    report = run(tmp_path / "calibration.db", data_dir, seed=21, tourists=500, days=5)
    spend = {row["currency"]: row for row in report["spend_per_trip"]}
    # DESIGN.md: about CNY 3,900 per trip. ~270 Chinese trips: the sample mean is within
    # about 4% (one standard error) of the figure; the band is 4 standard errors wide.
    assert spend["CNY"]["trips"] > 200
    assert 330_000 <= spend["CNY"]["average_spend"] <= 450_000
    assert 220_000 <= spend["KRW"]["average_spend"] <= 360_000  # assumption: KRW 290,000
    assert 30_000 <= spend["JPY"]["average_spend"] <= 50_000  # assumption: JPY 40,000


def test_planned_budgets_average_the_calibration_figure(data_dir: Path) -> None:
    size = PlanSize(seed=5, tourists=4_000, days=7, start=dt.date(2018, 7, 16))
    plan = build_plan(size, lambda s, t, at: ecb_rate(s, t), [], lambda c, code, at: 10**9)
    cn = [t.budget_minor for t in plan.trips if t.nationality == "CN"]
    assert len(cn) > 2_000
    assert 380_000 <= sum(cn) / len(cn) <= 400_000


# -- labelled typologies -----------------------------------------------------------------------


def labels(db: Path, typology: str) -> list[tuple[str, str | None, str, str]]:
    return query(
        db,
        "SELECT party_id, payment_id, role, detail FROM sim_labels WHERE typology = ?",
        (typology,),
    )


def test_every_typology_is_labelled(simulated: Simulated) -> None:
    db, report = simulated
    for typology in ("structuring", "mule_fan_in", "pass_through", "sanctioned_party"):
        found = labels(db, typology)
        assert any(role == "pattern" and pid for _, pid, role, _ in found), typology
        assert report["labels"][typology]["pattern_payments"] > 0
    labelled = {pid for (pid,) in query(db, "SELECT payment_id FROM sim_labels") if pid}
    paid = {pid for (pid,) in query(db, "SELECT payment_id FROM payments")}
    assert labelled <= paid


def test_structuring_stays_just_below_the_travel_rule_threshold(simulated: Simulated) -> None:
    db, _ = simulated
    profiles = default_profiles()
    rows = query(
        db,
        "SELECT c.country, p.source_currency, p.source_amount + p.fee_amount, p.created_ns"
        " FROM sim_labels l JOIN payments p ON p.payment_id = l.payment_id"
        " JOIN participants w ON w.id = p.wallet_id"
        " JOIN customers c ON c.participant_id = p.wallet_id AND c.customer_id = p.customer_id"
        " WHERE l.typology = 'structuring'",
    )
    assert len(rows) >= 4
    days = set()
    for country, code, debit, created_ns in rows:
        amounts = profiles.travel_rule(country).amounts
        if code in amounts:
            threshold = amounts[code]
        else:
            threshold = convert(amounts["USD"], "USD", code, ecb_rate("USD", code))
        assert threshold * 90 // 100 <= debit < threshold
        days.add(created_ns // (DAY_S * NS))
    assert len(days) >= 2


def test_mule_fan_in_is_many_new_payers_to_one_merchant_within_an_hour(
    simulated: Simulated,
) -> None:
    db, _ = simulated
    rows = query(
        db,
        "SELECT l.party_id, count(DISTINCT p.customer_id), max(p.created_ns) - min(p.created_ns),"
        " count(DISTINCT 'merchant:' || p.merchant_id), min(c.created_ns)"
        " FROM sim_labels l JOIN payments p ON p.payment_id = l.payment_id"
        " JOIN customers c ON c.participant_id = p.wallet_id AND c.customer_id = p.customer_id"
        " WHERE l.typology = 'mule_fan_in' GROUP BY l.party_id",
    )
    assert len(rows) == 2  # two rings at least, at two merchants
    start_ns = PlanSize(11, 160, 4, dt.date(2018, 7, 16)).start_ns
    for _, payers, spread_ns, merchants, registered_ns in rows:
        assert 40 <= payers <= 160
        assert merchants == 1
        assert spread_ns <= 3_600 * NS
        assert registered_ns >= start_ns  # accounts opened during the run


def test_pass_through_spends_the_refund_within_hours(simulated: Simulated) -> None:
    db, _ = simulated
    found = labels(db, "pass_through")
    (setup,) = [pid for _, pid, role, _ in found if role == "setup"]
    outflows = [pid for _, pid, role, _ in found if role == "pattern"]
    inflow, refunded_ns = query(
        db,
        "SELECT r.target_amount, r.created_ns FROM refunds r"
        " WHERE r.payment_id = ? AND r.state = 'completed'",
        (setup,),
    )[0]
    (paid,) = query(db, "SELECT target_amount FROM payments WHERE payment_id = ?", (setup,))[0]
    assert inflow == paid  # refunded in full
    spent = query(
        db,
        f"SELECT target_amount, created_ns FROM payments WHERE payment_id IN"
        f" ({','.join('?' * len(outflows))})",
        tuple(outflows),
    )
    assert 0.8 * inflow <= sum(amount for amount, _ in spent) <= inflow
    assert all(refunded_ns < created <= refunded_ns + DAY_S * NS for _, created in spent)


def test_sanctioned_people_use_native_script_and_variant_names(simulated: Simulated) -> None:
    db, _ = simulated
    parties = {party: detail for party, pid, _, detail in labels(db, "sanctioned_party")}
    assert len(parties) == 2
    for party, detail in parties.items():
        wallet, customer = party.removeprefix("customer:").split("/")
        native, romanized = query(
            db,
            "SELECT name_native, name_romanized FROM customers"
            " WHERE participant_id = ? AND customer_id = ?",
            (wallet, customer),
        )[0]
        assert any(not ch.isascii() for ch in native)
        assert romanized.isascii() or any(ch.isalpha() for ch in romanized)
        assert detail.startswith(("UN KPi.", "OFAC "))
        assert native in detail and romanized in detail


def test_listed_people_come_from_the_list_files(data_dir: Path) -> None:
    people, warning = load_listed_people(data_dir)
    assert warning is None
    by_name = {p.listed_name: p for p in people}
    assert by_name["KIM YONG CHOL"].native == "김영철"
    assert by_name["KIM YONG CHOL"].source == "UN"  # the UN entry, not the OFAC duplicate
    assert by_name["RI MAN GON"].native == "리만건"
    assert by_name["LI FANGWEI"].native == "李方伟"
    assert by_name["LI FANGWEI"].aliases == ("Karl LEE",)
    assert "ERIC BADEGE" not in by_name  # not a DPRK or documented entry


def test_labels_carry_no_hint_in_ids(simulated: Simulated) -> None:
    db, _ = simulated
    ids = {c for (c,) in query(db, "SELECT customer_id FROM customers")}
    assert all(i.startswith("c") and i[1:].isdigit() for i in ids)


# -- detection -----------------------------------------------------------------------------------


def test_detection_scores_the_alerts_the_switch_stored(simulated: Simulated) -> None:
    db, report = simulated
    tables = {name for (name,) in query(db, "SELECT name FROM sqlite_master")}
    assert "alerts" in tables
    detection = report["detection"]
    assert detection["available"] is True
    assert detection["alerts"] == query(db, "SELECT count(*) FROM alerts")[0][0]
    by_rule = dict(query(db, "SELECT rule, count(*) FROM alerts GROUP BY rule"))
    assert detection["alerts_by_rule"] == by_rule
    rows = {r["typology"]: r for r in run_report(db, "detection").dicts()}
    for typology, entry in detection["typologies"].items():
        assert rows[typology]["payment_recall"] == entry["payment_recall"]
        assert rows[typology]["labelled_payments"] == entry["labelled_payments"]


# -- fallbacks and refusals ------------------------------------------------------------------------


def test_missing_ecb_file_falls_back_to_fixed_prices_with_a_warning(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data", fx=False)
    warnings: list[str] = []
    report = simulate(
        SimConfig(db=tmp_path / "x.db", seed=1, tourists=30, days=2, data_dir=data),
        warn=warnings.append,
    )
    assert report["fx"]["source"] == "prices"
    # The fixed prices include USD, which compliance needs: the payments go through.
    rows = report["payments_by_state"]
    committed = sum(r["payments"] for r in rows if r["state"] == "committed")
    assert committed > 0.8 * sum(r["payments"] for r in rows), rows
    assert warnings and "ECB file" in warnings[0]
    assert report["warnings"] == warnings
    assert verify(tmp_path / "x.db").ok


def test_missing_sanctions_lists_leave_the_typology_out(tmp_path: Path) -> None:
    data = make_data_dir(tmp_path / "data", sanctions=False)
    report = run(tmp_path / "x.db", data, seed=1, tourists=30, days=2)
    assert report["labels"]["sanctioned_party"]["parties"] == 0
    assert "skipped" in report["labels"]["sanctioned_party"]
    assert report["sanctions_lists"]["people_available"] == 0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"tourists": 0}, "invalid_argument"),
        ({"tourists": 100_001}, "invalid_argument"),
        ({"days": 0}, "invalid_argument"),
        ({"days": 93}, "invalid_argument"),
        ({"seed": -1}, "invalid_argument"),
        ({"start": dt.date(1990, 1, 1)}, "invalid_start"),
        ({"start": dt.date(2018, 10, 5)}, "invalid_start"),  # runs past the ECB file
    ],
)
def test_bad_arguments_are_refused_before_anything_is_written(
    tmp_path: Path, data_dir: Path, changes: dict[str, Any], code: str
) -> None:
    base: dict[str, Any] = {"db": tmp_path / "x.db", "tourists": 10, "days": 3}
    with pytest.raises(SimError) as raised:
        simulate(SimConfig(**(base | changes), data_dir=data_dir))
    assert raised.value.code == code
    assert not (tmp_path / "x.db").exists()


def test_a_database_with_payments_is_refused(simulated: Simulated, data_dir: Path) -> None:
    db, _ = simulated
    before = query(db, "SELECT count(*) FROM payments")
    with pytest.raises(SimError) as raised:
        simulate(SimConfig(db=db, tourists=10, days=1, data_dir=data_dir))
    assert raised.value.code == "database_not_empty"
    assert query(db, "SELECT count(*) FROM payments") == before


def test_a_run_whose_payments_mostly_fail_says_so() -> None:
    from corridor.sim.run import _mostly_refused

    rows = [
        {"state": "aborted", "error_code": "compliance_unavailable", "payments": 90},
        {"state": "aborted", "error_code": "insufficient_liquidity", "payments": 5},
        {"state": "committed", "error_code": "", "payments": 20},
    ]
    warning = _mostly_refused(rows)
    assert warning is not None
    assert warning.startswith("only 20 of 115 payments committed")
    assert "compliance_unavailable (90), insufficient_liquidity (5)" in warning
    rows[2]["payments"] = 200
    assert _mostly_refused(rows) is None
    assert _mostly_refused([]) is None
