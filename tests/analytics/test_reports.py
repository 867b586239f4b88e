"""`corridor.analytics.reports`: shapes of every report and sums that must agree.

The reports run on one simulated database (the `simulated` fixture) and are checked
against plain SQL over the same tables, and against each other.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from corridor.analytics.reports import REPORTS, ReportError, run_report
from corridor.sim.calibration import PREFECTURES

Simulated = tuple[Path, Any]


def scalar(db: Path, sql: str) -> Any:
    connection = sqlite3.connect(db)
    try:
        return connection.execute(sql).fetchone()[0]
    finally:
        connection.close()


EXPECTED_COLUMNS = {
    "volume_by_corridor_day": ("day", "corridor", "source_currency", "target_currency"),
    "volume_by_currency": ("currency", "payments_paid", "paid_amount"),
    "spend_per_trip": ("wallet_id", "country", "currency", "trips", "payments", "spend"),
    "by_prefecture": ("region", "name", "currency", "merchants", "payments", "volume"),
    "by_category": ("mcc", "category", "currency", "payments", "volume"),
    "fx_volume": ("provider_id", "source_currency", "target_currency", "payments"),
    "settlement_positions": ("window_id", "state", "participant_id", "currency", "debits"),
    "settlement_nets": ("participant_id", "currency", "windows", "debits", "credits", "net"),
    "payments_by_state": ("state", "error_code", "payments"),
    "top_merchants": ("merchant_id", "name", "region", "mcc", "currency", "payments"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_COLUMNS))
def test_report_shape(simulated: Simulated, name: str) -> None:
    db, _ = simulated
    result = run_report(db, name)
    assert result.columns[: len(EXPECTED_COLUMNS[name])] == EXPECTED_COLUMNS[name]
    assert result.rows
    assert all(len(row) == len(result.columns) for row in result.rows)
    assert result.to_json()["rows"][0] == dict(zip(result.columns, result.rows[0], strict=True))
    parsed = list(csv.reader(io.StringIO(result.to_csv())))
    assert parsed[0] == list(result.columns)
    assert len(parsed) == len(result.rows) + 1


def test_every_report_is_listed_with_a_title_and_tables() -> None:
    assert set(EXPECTED_COLUMNS) | {"alert_funnel", "detection"} == set(REPORTS)
    assert all(spec.title and spec.description and spec.tables for spec in REPORTS.values())


def test_volume_by_day_sums_to_the_total(simulated: Simulated) -> None:
    db, _ = simulated
    days = run_report(db, "volume_by_corridor_day")
    totals = {row["currency"]: row for row in run_report(db, "volume_by_currency").dicts()}
    for code in ("CNY", "JPY", "KRW"):
        received = sum(r["target_amount"] for r in days.dicts() if r["target_currency"] == code)
        paid = sum(
            r["source_amount"] + r["fee_amount"]
            for r in days.dicts()
            if r["source_currency"] == code
        )
        assert received == totals[code]["received_amount"]
        assert paid == totals[code]["paid_amount"]
        direct = scalar(
            db,
            f"SELECT sum(target_amount) FROM payments WHERE state = 'committed'"
            f" AND target_currency = '{code}'",
        )
        assert received == direct
    assert sum(days.column("payments")) == scalar(
        db, "SELECT count(*) FROM payments WHERE state = 'committed'"
    )
    assert len(set(days.column("day"))) == 4  # one row group per simulated day


def test_prefecture_and_category_volumes_add_up(simulated: Simulated) -> None:
    db, _ = simulated
    jpy = scalar(
        db,
        "SELECT sum(target_amount) FROM payments"
        " WHERE state = 'committed' AND target_currency = 'JPY'",
    )
    prefectures = [r for r in run_report(db, "by_prefecture").dicts() if r["currency"] == "JPY"]
    assert {r["region"] for r in prefectures} == {p.code for p in PREFECTURES}
    assert sum(r["volume"] for r in prefectures) == jpy
    shares = sum(float(r["share_percent"]) for r in prefectures)
    assert abs(shares - 100) < 0.5
    tokyo = next(r for r in prefectures if r["region"] == "JP-13")
    assert tokyo["name"] == "Tokyo"
    categories = [r for r in run_report(db, "by_category").dicts() if r["currency"] == "JPY"]
    assert sum(r["volume"] for r in categories) == jpy
    assert {"Drugstores", "Department stores", "Restaurants"} <= {r["category"] for r in categories}


def test_fx_volume_matches_payments_and_gives_a_sane_rate(simulated: Simulated) -> None:
    db, _ = simulated
    rows = {
        (r["source_currency"], r["target_currency"]): r for r in run_report(db, "fx_volume").dicts()
    }
    assert set(rows) == {("CNY", "JPY"), ("KRW", "JPY"), ("JPY", "CNY"), ("JPY", "KRW")}
    cny_jpy = float(rows[("CNY", "JPY")]["effective_rate"])
    assert 16.5 < cny_jpy < 16.8  # 130.50 / 7.80 = 16.73 less the 0.3% spread
    assert sum(r["payments"] for r in rows.values()) == scalar(
        db, "SELECT count(*) FROM payments WHERE state = 'committed'"
    )


def test_settlement_nets_sum_to_zero_per_currency(simulated: Simulated) -> None:
    db, _ = simulated
    nets = run_report(db, "settlement_nets").dicts()
    for code in ("CNY", "JPY", "KRW"):
        assert sum(r["net"] for r in nets if r["currency"] == code) == 0
    assert all(r["settled_net"] == r["net"] for r in nets)  # every closed window settled
    positions = run_report(db, "settlement_positions").dicts()
    assert {r["window_id"] for r in positions} == {1, 2, 3, 4}


def test_spend_per_trip_leaves_out_labelled_parties(simulated: Simulated) -> None:
    db, _ = simulated
    rows = {r["currency"]: r for r in run_report(db, "spend_per_trip").dicts()}
    customers = scalar(
        db,
        "SELECT count(DISTINCT wallet_id || '/' || customer_id) FROM payments"
        " WHERE state = 'committed'",
    )
    assert sum(r["trips"] + r["labelled_trips_excluded"] for r in rows.values()) == customers
    assert sum(r["labelled_trips_excluded"] for r in rows.values()) > 60  # the mules at least
    cny = rows["CNY"]
    assert cny["average_spend"] == round(cny["spend"] / cny["trips"])
    assert cny["average_spend_decimal"] == f"{cny['average_spend'] / 100:.2f}"


def test_payments_by_state_counts_every_payment(simulated: Simulated) -> None:
    db, _ = simulated
    rows = run_report(db, "payments_by_state").dicts()
    assert sum(r["payments"] for r in rows) == scalar(db, "SELECT count(*) FROM payments")


def test_unknown_report_and_missing_tables_are_refused(
    simulated: Simulated, tmp_path: Path
) -> None:
    db, _ = simulated
    with pytest.raises(ReportError) as unknown:
        run_report(db, "nope")
    assert unknown.value.code == "unknown_report"
    with pytest.raises(ReportError) as missing:
        run_report(tmp_path / "none.db", "by_category")
    assert missing.value.code == "database_not_found"
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(ReportError) as unavailable:
        run_report(empty, "volume_by_currency")
    assert unavailable.value.code == "report_unavailable"
    not_sqlite = tmp_path / "text.db"
    not_sqlite.write_text("not a database at all, just text" * 10)
    with pytest.raises(ReportError) as invalid:
        run_report(not_sqlite, "volume_by_currency")
    assert invalid.value.code == "invalid_database"


def test_detection_report_needs_stored_alerts(simulated: Simulated) -> None:
    db, _ = simulated
    if scalar(db, "SELECT count(*) FROM sqlite_master WHERE name = 'alerts'"):
        assert run_report(db, "detection").rows
        return
    with pytest.raises(ReportError) as raised:
        run_report(db, "detection")
    assert raised.value.code == "report_unavailable"
    with pytest.raises(ReportError) as funnel:
        run_report(db, "alert_funnel")
    assert funnel.value.code == "report_unavailable"


def test_alert_funnel_follows_alerts_into_cases(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    connection = sqlite3.connect(db)
    connection.executescript(
        """
        CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, rule TEXT, payment_id TEXT, subject TEXT);
        CREATE TABLE cases (case_id INTEGER PRIMARY KEY, subject TEXT, state TEXT,
                            disposition TEXT);
        CREATE TABLE case_alerts (case_id INTEGER, alert_id TEXT);
        INSERT INTO alerts VALUES ('a1', 'monitoring.fan_in', 'p1', 'merchant:m1'),
                                  ('a2', 'monitoring.fan_in', 'p2', 'merchant:m1'),
                                  ('a3', 'monitoring.structuring', 'p3', 'customer:w/c1');
        INSERT INTO cases VALUES (1, 'merchant:m1', 'closed', 'reported'),
                                 (2, 'customer:w/c1', 'open', NULL);
        INSERT INTO case_alerts VALUES (1, 'a1'), (1, 'a2');
        """
    )
    connection.commit()
    connection.close()
    rows = run_report(db, "alert_funnel").rows
    assert rows == (
        ("alerts", "monitoring.fan_in", 2),
        ("alerts", "monitoring.structuring", 1),
        ("alerts_in_cases", "monitoring.fan_in", 2),
        ("cases", "total", 2),
        ("cases_by_state", "closed", 1),
        ("cases_by_state", "open", 1),
        ("dispositions", "reported", 1),
    )


def test_reports_only_read(simulated: Simulated) -> None:
    db, _ = simulated
    before = db.stat().st_mtime_ns, scalar(db, "SELECT count(*) FROM payments")
    for name in EXPECTED_COLUMNS:
        run_report(db, name)
    assert (db.stat().st_mtime_ns, scalar(db, "SELECT count(*) FROM payments")) == before
