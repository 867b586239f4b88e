"""How well the monitoring rules caught the sandbox's labelled typologies.

After a run, the alerts compliance raised are in the database (table ``alerts``: at least a
``rule`` column, and ``payment_id`` and/or ``subject`` to say what an alert is about); the
sandbox's labels are in ``sim_labels``. This module compares them, per typology, with SQL
reads and set arithmetic; it never infers an alert that is not stored. Without an ``alerts``
table (compliance not wired, or not run) the answer is ``available: false`` with the reason.

Which alerts count for a typology: those whose rule id contains one of the typology's
keywords (`TYPOLOGY_RULES`), so ``monitoring.fan_in`` and ``fan_in`` both count for
``mule_fan_in``. Scores, per typology:

- payment recall: labelled ``pattern`` payments with at least one alert of the typology's
  rules, over labelled ``pattern`` payments;
- payment precision: payments alerted by those rules that carry a label of the typology
  (``pattern`` or ``setup``), over payments alerted by those rules;
- party recall and precision: the same for parties. An alert flags the party in its
  ``subject`` column when there is one, else the payee of its payment for ``mule_fan_in``
  and the payer for the other typologies;
- any-rule recall: labelled ``pattern`` payments with an alert of any rule at all.

Ratios are rounded to 4 decimal places; a ratio with nothing to divide by is null.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any, Final

__all__ = ["TYPOLOGY_RULES", "score_detection"]

TYPOLOGY_RULES: Final = {
    "structuring": ("structuring",),
    "mule_fan_in": ("fan_in",),
    "pass_through": ("pass_through",),
    "sanctioned_party": ("sanction", "screening"),
}
"""Typology → keywords of the alert rules that detect it."""
PAYEE_TYPOLOGIES: Final = frozenset({"mule_fan_in"})
RATIO_DIGITS: Final = 4


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, RATIO_DIGITS) if whole else None


def _tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(r[0]) for r in rows}


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in connection.execute(f"PRAGMA table_info({table})")}


def score_detection(connection: sqlite3.Connection) -> dict[str, Any]:
    """Detection scores per typology, or ``{"available": False, "reason": ...}``."""
    present = _tables(connection)
    if "sim_labels" not in present:
        return {"available": False, "reason": "no sim_labels table: not a simulated database"}
    if "alerts" not in present:
        return {
            "available": False,
            "reason": "no alerts table: compliance monitoring has not run on this database,"
            " so detection cannot be scored",
        }
    alert_columns = _columns(connection, "alerts")
    if "rule" not in alert_columns or not alert_columns & {"payment_id", "subject"}:
        return {
            "available": False,
            "reason": "the alerts table lacks a rule column or both payment_id and subject",
        }
    payment_column = "payment_id" if "payment_id" in alert_columns else "NULL"
    subject_column = "subject" if "subject" in alert_columns else "NULL"
    alerts = [
        (str(rule), None if pid is None else str(pid), None if subject is None else str(subject))
        for rule, pid, subject in connection.execute(
            f"SELECT rule, {payment_column}, {subject_column} FROM alerts"
        )
    ]
    labels = connection.execute(
        "SELECT typology, party_id, payment_id, role FROM sim_labels"
    ).fetchall()
    parties_of: dict[str, tuple[str, str]] = {}
    if "payments" in present:
        for pid, wallet, customer, merchant in connection.execute(
            "SELECT payment_id, wallet_id, customer_id, merchant_id FROM payments"
        ):
            parties_of[str(pid)] = (f"customer:{wallet}/{customer}", f"merchant:{merchant}")

    alerted_any = {pid for _, pid, _ in alerts if pid is not None}
    labelled_any = {str(pid) for _, _, pid, _ in labels if pid is not None}
    typologies: dict[str, Any] = {}
    for typology, keywords in TYPOLOGY_RULES.items():
        mine = [label for label in labels if label[0] == typology]
        pattern = {str(pid) for _, _, pid, role in mine if pid is not None and role == "pattern"}
        suspicious = {str(pid) for _, _, pid, _ in mine if pid is not None}
        parties = {str(party) for _, party, _, _ in mine}
        matching = [a for a in alerts if any(k in a[0].lower() for k in keywords)]
        alerted = {pid for _, pid, _ in matching if pid is not None}
        flagged: set[str] = set()
        side = 1 if typology in PAYEE_TYPOLOGIES else 0
        for _, pid, subject in matching:
            if subject:
                flagged.add(subject)
            elif pid is not None and pid in parties_of:
                flagged.add(parties_of[pid][side])
        typologies[typology] = {
            "rules": sorted({rule for rule, _, _ in matching}),
            "labelled_payments": len(pattern),
            "detected_payments": len(pattern & alerted),
            "payment_recall": _ratio(len(pattern & alerted), len(pattern)),
            "alerted_payments": len(alerted),
            "payment_precision": _ratio(len(alerted & suspicious), len(alerted)),
            "labelled_parties": len(parties),
            "detected_parties": len(parties & flagged),
            "party_recall": _ratio(len(parties & flagged), len(parties)),
            "flagged_parties": len(flagged),
            "party_precision": _ratio(len(flagged & parties), len(flagged)),
            "any_rule_recall": _ratio(len(pattern & alerted_any), len(pattern)),
        }
    by_rule = Counter(rule for rule, _, _ in alerts)
    return {
        "available": True,
        "alerts": len(alerts),
        "alerts_by_rule": dict(sorted(by_rule.items())),
        "alerted_payments": len(alerted_any),
        "alerted_payments_unlabelled": len(alerted_any - labelled_any),
        "typologies": typologies,
    }
