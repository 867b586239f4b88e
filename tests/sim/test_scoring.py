"""Detection scoring: stored alerts against the sandbox's labels, per typology.

A small database holds labels, payments and alerts written by hand, with the columns the
switch and compliance use, so that every ratio can be checked exactly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from corridor.sim.run import SIM_SCHEMA
from corridor.sim.scoring import score_detection

ALERTS = """
CREATE TABLE alerts (
    alert_id TEXT PRIMARY KEY, rule TEXT NOT NULL, score REAL NOT NULL, verdict TEXT NOT NULL,
    payment_id TEXT NOT NULL, subject TEXT NOT NULL, evidence TEXT NOT NULL,
    at_ns INTEGER NOT NULL, stored_ns INTEGER NOT NULL
);
"""


@pytest.fixture
def db() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.executescript(SIM_SCHEMA)
    connection.execute(
        "CREATE TABLE payments (payment_id TEXT PRIMARY KEY, wallet_id TEXT, customer_id TEXT,"
        " merchant_id TEXT)"
    )
    payments = [
        # four structuring payments by one customer
        *((f"s{i}", "w", "c1", "m9") for i in range(4)),
        # three fan-in payments to m1 by three customers
        *((f"f{i}", "w", f"c{10 + i}", "m1") for i in range(3)),
        # ordinary payments
        ("o1", "w", "c2", "m2"),
        ("o2", "w", "c3", "m3"),
    ]
    connection.executemany("INSERT INTO payments VALUES (?, ?, ?, ?)", payments)
    labels = [
        *(("structuring", "customer:w/c1", f"s{i}", "pattern") for i in range(4)),
        *(("mule_fan_in", "merchant:m1", f"f{i}", "pattern") for i in range(3)),
    ]
    connection.executemany(
        "INSERT INTO sim_labels (typology, party_id, payment_id, role, detail)"
        " VALUES (?, ?, ?, ?, '')",
        labels,
    )
    yield connection
    connection.close()


def alert(connection: sqlite3.Connection, n: int, rule: str, payment: str, subject: str) -> None:
    connection.execute(
        "INSERT INTO alerts VALUES (?, ?, 1.0, 'review', ?, ?, '{}', 0, 0)",
        (f"a{n}", rule, payment, subject),
    )


def test_without_alerts_table_detection_is_unavailable(db: sqlite3.Connection) -> None:
    scores = score_detection(db)
    assert scores == {
        "available": False,
        "reason": "no alerts table: compliance monitoring has not run on this database,"
        " so detection cannot be scored",
    }


def test_without_labels_detection_is_unavailable() -> None:
    connection = sqlite3.connect(":memory:")
    connection.executescript(ALERTS)
    assert score_detection(connection)["available"] is False


def test_recall_and_precision_per_typology(db: sqlite3.Connection) -> None:
    db.executescript(ALERTS)
    alert(db, 1, "monitoring.structuring", "s2", "customer:w/c1")
    alert(db, 2, "monitoring.structuring", "s3", "customer:w/c1")
    alert(db, 3, "monitoring.structuring", "o1", "customer:w/c2")  # false positive
    alert(db, 4, "monitoring.fan_in", "f2", "merchant:m1")
    alert(db, 5, "monitoring.velocity_count", "s0", "customer:w/c1")  # another rule
    scores = score_detection(db)
    assert scores["available"] is True
    assert scores["alerts"] == 5
    assert scores["alerts_by_rule"] == {
        "monitoring.fan_in": 1,
        "monitoring.structuring": 3,
        "monitoring.velocity_count": 1,
    }
    assert scores["alerted_payments_unlabelled"] == 1
    structuring = scores["typologies"]["structuring"]
    assert structuring["rules"] == ["monitoring.structuring"]
    assert structuring["labelled_payments"] == 4
    assert structuring["detected_payments"] == 2
    assert structuring["payment_recall"] == 0.5
    assert structuring["alerted_payments"] == 3
    assert structuring["payment_precision"] == 0.6667
    assert structuring["party_recall"] == 1.0
    assert structuring["party_precision"] == 0.5  # c1 right, c2 wrong
    assert structuring["any_rule_recall"] == 0.75  # s0 (velocity), s2, s3
    fan_in = scores["typologies"]["mule_fan_in"]
    assert fan_in["payment_recall"] == 0.3333
    assert fan_in["payment_precision"] == 1.0
    assert fan_in["party_recall"] == 1.0
    empty = scores["typologies"]["pass_through"]
    assert empty["labelled_payments"] == 0
    assert empty["payment_recall"] is None
    assert empty["payment_precision"] is None


def test_party_falls_back_to_the_payment_without_a_subject(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE alerts (rule TEXT, payment_id TEXT)")
    db.execute("INSERT INTO alerts VALUES ('fan_in', 'f0')")
    scores = score_detection(db)
    assert scores["typologies"]["mule_fan_in"]["detected_parties"] == 1  # the payee, m1


def test_a_table_without_rule_column_is_not_scored(db: sqlite3.Connection) -> None:
    db.execute("CREATE TABLE alerts (payment_id TEXT)")
    assert score_detection(db)["available"] is False
