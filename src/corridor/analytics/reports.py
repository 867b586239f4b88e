"""Named SQL reports over a corridor database, for the CLI and the dashboard.

Each report is one or a few plain SQL queries over the tables the switch keeps in the
ledger's file (``payments``, ``refunds``, ``merchants``, ``participants``,
``settlement_windows``, ``settlement_positions``; ``alerts`` and ``cases`` once compliance
runs; ``sim_labels`` and ``sim_trips`` in a simulated database), read through a read-only
connection, so a report never changes anything and can run while the switch writes.

`run_report(db, name)` returns a `ReportResult`: column names and rows of plain values
(int, str, None), in a stable order, with `to_json` and `to_csv` for the command line
(``corridor report NAME --db PATH [--json|--csv]``). A report whose tables are missing (a
ledger without payments, a database where compliance never ran) raises `ReportError`
``report_unavailable`` naming what is missing, rather than answering with made-up zeros.

Conventions: amounts are integers of minor units with their currency beside them, and a
``*_decimal`` column gives the exact decimal text where it helps reading; a day is a calendar
day in Japan (UTC+9), the hub's business day; only COMMITTED payments count as volume.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pycountry

from corridor.store.transactions import read_transaction
from corridor.switch.money import Money, currency, format_amount

__all__ = [
    "JST_OFFSET_S",
    "REPORTS",
    "ReportError",
    "ReportResult",
    "ReportSpec",
    "open_readonly",
    "report_names",
    "run_report",
]

JST_OFFSET_S: Final = 9 * 3_600
"""A report's day is the calendar day in Japan (UTC+9, no daylight saving time)."""
TOP_MERCHANTS: Final = 20
RATE_DIGITS: Final = 8
"""Significant digits of an effective rate shown in a report."""

MCC_TITLES: Final = {
    "4111": "Local transport (bike sharing)",
    "5311": "Department stores",
    "5411": "Grocery stores",
    "5499": "Convenience and food stores",
    "5732": "Electronics",
    "5812": "Restaurants",
    "5814": "Fast food",
    "5912": "Drugstores",
    "5944": "Jewellery",
    "5977": "Cosmetics",
    "7011": "Lodging (homestays, hotels)",
    "7991": "Tourist attractions",
}
"""Titles of the ISO 18245 merchant category codes the corridor meets most."""

_DAY: Final = f"date(p.created_ns / 1000000000 + {JST_OFFSET_S}, 'unixepoch')"


class ReportError(Exception):
    """A report cannot run; `code` says why: ``unknown_report``, ``report_unavailable``,
    ``database_not_found``, ``invalid_database``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ReportResult:
    """A report's answer: column names and rows of plain values."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def dicts(self) -> list[dict[str, Any]]:
        """The rows as mappings of column name to value (for JSON and the dashboard)."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def column(self, name: str) -> list[Any]:
        index = self.columns.index(name)
        return [row[index] for row in self.rows]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.name,
            "title": self.title,
            "columns": list(self.columns),
            "rows": self.dicts(),
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


@dataclass(frozen=True, slots=True)
class ReportSpec:
    name: str
    title: str
    description: str
    tables: tuple[str, ...]
    """Tables that must exist for the report to run."""
    build: Callable[[sqlite3.Connection], tuple[tuple[str, ...], list[tuple[Any, ...]]]]


# --- helpers -----------------------------------------------------------------------------


def open_readonly(db: str | Path) -> sqlite3.Connection:
    """A read-only connection to a database file (``database_not_found`` if there is none)."""
    path = Path(db)
    if not path.is_file():
        raise ReportError("database_not_found", f"{path}: no such database file")
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, check_same_thread=False, isolation_level=None)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as error:
        raise ReportError("invalid_database", f"{path}: {error}") from None
    return connection


def tables(connection: sqlite3.Connection) -> set[str]:
    rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(row[0]) for row in rows}


def columns_of(connection: sqlite3.Connection, table: str) -> list[str]:
    return [str(row[1]) for row in connection.execute(f"PRAGMA table_info({table})")]


def _decimal(amount: int | None, code: str) -> str | None:
    if amount is None:
        return None
    return format_amount(Money(amount, currency(code)))


def _divide_half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def _region_name(code: str) -> str:
    found = pycountry.subdivisions.get(code=code)  # type: ignore[no-untyped-call]
    return str(found.name) if found is not None else code


def _rows(connection: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    return connection.execute(sql, params).fetchall()


# --- the reports ---------------------------------------------------------------------------


def _volume_by_corridor_day(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        f"""
        SELECT {_DAY} AS day, w.country || '-' || substr(m.region, 1, 2) AS corridor,
               p.source_currency, p.target_currency, count(*), sum(p.source_amount),
               sum(p.fee_amount), sum(p.target_amount)
          FROM payments p
          JOIN participants w ON w.id = p.wallet_id
          JOIN merchants m ON m.id = p.merchant_id
         WHERE p.state = 'committed'
         GROUP BY day, corridor, p.source_currency, p.target_currency
         ORDER BY day, corridor, p.source_currency, p.target_currency
        """,
    )
    columns = (
        "day",
        "corridor",
        "source_currency",
        "target_currency",
        "payments",
        "source_amount",
        "fee_amount",
        "target_amount",
    )
    return columns, [tuple(r) for r in rows]


def _volume_by_currency(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    paid = {
        r[0]: (r[1], r[2])
        for r in _rows(
            c,
            "SELECT source_currency, count(*), sum(source_amount + fee_amount) FROM payments"
            " WHERE state = 'committed' GROUP BY source_currency",
        )
    }
    received = {
        r[0]: (r[1], r[2])
        for r in _rows(
            c,
            "SELECT target_currency, count(*), sum(target_amount) FROM payments"
            " WHERE state = 'committed' GROUP BY target_currency",
        )
    }
    rows = []
    for code in sorted(set(paid) | set(received)):
        paid_count, paid_amount = paid.get(code, (0, 0))
        received_count, received_amount = received.get(code, (0, 0))
        rows.append(
            (
                code,
                paid_count,
                paid_amount,
                _decimal(paid_amount, code),
                received_count,
                received_amount,
                _decimal(received_amount, code),
            )
        )
    columns = (
        "currency",
        "payments_paid",
        "paid_amount",
        "paid_decimal",
        "payments_received",
        "received_amount",
        "received_decimal",
    )
    return columns, rows


def _labelled_parties(c: sqlite3.Connection) -> set[str]:
    """Parties the sandbox labelled, and the payers of labelled payments (mules among them)."""
    if "sim_labels" not in tables(c):
        return set()
    parties = {str(r[0]) for r in _rows(c, "SELECT DISTINCT party_id FROM sim_labels")}
    payers = _rows(
        c,
        "SELECT DISTINCT p.wallet_id, p.customer_id FROM sim_labels l"
        " JOIN payments p ON p.payment_id = l.payment_id",
    )
    return parties | {f"customer:{wallet}/{customer}" for wallet, customer in payers}


def _spend_per_trip(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    """Per wallet: each customer is one trip (as in the sandbox); labelled parties apart."""
    excluded = _labelled_parties(c)
    per_customer = _rows(
        c,
        """
        SELECT p.wallet_id, w.country, p.source_currency, p.customer_id, count(*),
               sum(p.source_amount + p.fee_amount),
               coalesce(sum(r.refunded), 0)
          FROM payments p
          JOIN participants w ON w.id = p.wallet_id
          LEFT JOIN (SELECT payment_id, sum(source_amount + fee_amount) AS refunded
                       FROM refunds WHERE state = 'completed' GROUP BY payment_id) r
            ON r.payment_id = p.payment_id
         WHERE p.state = 'committed'
         GROUP BY p.wallet_id, w.country, p.source_currency, p.customer_id
         ORDER BY p.wallet_id, p.source_currency, p.customer_id
        """,
    )
    sums: dict[tuple[str, str, str], list[int]] = {}
    for wallet, country, code, customer, payments, spend, refunded in per_customer:
        entry = sums.setdefault((wallet, country, code), [0, 0, 0, 0, 0])
        if f"customer:{wallet}/{customer}" in excluded:
            entry[4] += 1
            continue
        entry[0] += 1
        entry[1] += payments
        entry[2] += spend
        entry[3] += refunded
    rows = []
    for (wallet, country, code), (trips, payments, spend, refunded, skipped) in sorted(
        sums.items()
    ):
        average = _divide_half_even(spend, trips) if trips else None
        average_net = _divide_half_even(spend - refunded, trips) if trips else None
        rows.append(
            (
                wallet,
                country,
                code,
                trips,
                payments,
                spend,
                refunded,
                average,
                _decimal(average, code),
                average_net,
                _decimal(average_net, code),
                skipped,
            )
        )
    columns = (
        "wallet_id",
        "country",
        "currency",
        "trips",
        "payments",
        "spend",
        "refunded",
        "average_spend",
        "average_spend_decimal",
        "average_net_spend",
        "average_net_spend_decimal",
        "labelled_trips_excluded",
    )
    return columns, rows


def _by_prefecture(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT m.region, m.currency, count(DISTINCT m.id), count(p.payment_id),
               coalesce(sum(p.target_amount), 0)
          FROM merchants m
          LEFT JOIN payments p ON p.merchant_id = m.id AND p.state = 'committed'
         GROUP BY m.region, m.currency
         ORDER BY m.region
        """,
    )
    totals: dict[str, int] = {}
    for _, code, _, _, volume in rows:
        totals[code] = totals.get(code, 0) + volume
    out = []
    for region, code, merchants, payments, volume in rows:
        total = totals[code]
        share = _divide_half_even(volume * 10_000, total) if total else 0
        out.append(
            (
                region,
                _region_name(region),
                code,
                merchants,
                payments,
                volume,
                _decimal(volume, code),
                f"{share // 100}.{share % 100:02d}",
            )
        )
    columns = (
        "region",
        "name",
        "currency",
        "merchants",
        "payments",
        "volume",
        "volume_decimal",
        "share_percent",
    )
    return columns, out


def _by_category(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT m.mcc, p.target_currency, count(*), sum(p.target_amount)
          FROM payments p JOIN merchants m ON m.id = p.merchant_id
         WHERE p.state = 'committed'
         GROUP BY m.mcc, p.target_currency
         ORDER BY m.mcc, p.target_currency
        """,
    )
    out = [
        (mcc, MCC_TITLES.get(mcc, f"MCC {mcc}"), code, payments, volume, _decimal(volume, code))
        for mcc, code, payments, volume in rows
    ]
    return ("mcc", "category", "currency", "payments", "volume", "volume_decimal"), out


def _fx_volume(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT provider_id, source_currency, target_currency, count(*), sum(source_amount),
               sum(target_amount), sum(fee_amount)
          FROM payments WHERE state = 'committed'
         GROUP BY provider_id, source_currency, target_currency
         ORDER BY provider_id, source_currency, target_currency
        """,
    )
    out = []
    for provider, source_code, target_code, payments, source, target, fee in rows:
        source_major = Decimal(source).scaleb(-currency(source_code).minor_units)
        target_major = Decimal(target).scaleb(-currency(target_code).minor_units)
        rate = (target_major / source_major) if source else None
        out.append(
            (
                provider,
                source_code,
                target_code,
                payments,
                source,
                _decimal(source, source_code),
                target,
                _decimal(target, target_code),
                fee,
                None if rate is None else _significant(rate, RATE_DIGITS),
            )
        )
    columns = (
        "provider_id",
        "source_currency",
        "target_currency",
        "payments",
        "source_amount",
        "source_decimal",
        "target_amount",
        "target_decimal",
        "fee_amount",
        "effective_rate",
    )
    return columns, out


def _significant(value: Decimal, digits: int) -> str:
    exponent = value.adjusted() - digits + 1
    return str(value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN))


def _settlement_positions(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT w.window_id, w.state, s.participant_id, s.currency, s.debits, s.credits, s.net
          FROM settlement_positions s JOIN settlement_windows w ON w.window_id = s.window_id
         ORDER BY w.window_id, s.participant_id, s.currency
        """,
    )
    out = [(*row, _decimal(row[6], row[3])) for row in rows]
    columns = (
        "window_id",
        "state",
        "participant_id",
        "currency",
        "debits",
        "credits",
        "net",
        "net_decimal",
    )
    return columns, out


def _settlement_nets(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT s.participant_id, s.currency, count(DISTINCT s.window_id), sum(s.debits),
               sum(s.credits), sum(s.net),
               sum(CASE WHEN w.state = 'settled' THEN s.net ELSE 0 END)
          FROM settlement_positions s JOIN settlement_windows w ON w.window_id = s.window_id
         GROUP BY s.participant_id, s.currency
         ORDER BY s.participant_id, s.currency
        """,
    )
    out = [(*row, _decimal(row[5], row[1])) for row in rows]
    columns = (
        "participant_id",
        "currency",
        "windows",
        "debits",
        "credits",
        "net",
        "settled_net",
        "net_decimal",
    )
    return columns, out


def _payments_by_state(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        "SELECT state, coalesce(error_code, ''), count(*) FROM payments"
        " GROUP BY state, error_code ORDER BY state, error_code",
    )
    return ("state", "error_code", "payments"), [tuple(r) for r in rows]


def _top_merchants(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    rows = _rows(
        c,
        """
        SELECT m.id, m.name, m.region, m.mcc, p.target_currency, count(*),
               sum(p.target_amount), count(DISTINCT p.wallet_id || '/' || p.customer_id)
          FROM payments p JOIN merchants m ON m.id = p.merchant_id
         WHERE p.state = 'committed'
         GROUP BY m.id, p.target_currency
         ORDER BY sum(p.target_amount) DESC, m.id
         LIMIT ?
        """,
        (TOP_MERCHANTS,),
    )
    columns = (
        "merchant_id",
        "name",
        "region",
        "mcc",
        "currency",
        "payments",
        "volume",
        "payers",
    )
    return columns, [tuple(r) for r in rows]


def _alert_funnel(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    """Alerts by rule, how many reached a case, cases by state, and dispositions.

    The case tables are read as far as they exist: ``alerts.case_id`` or a ``case_alerts``
    link table for alerts in cases, ``cases.state`` and ``cases.disposition``.
    """
    present = tables(c)
    alert_columns = columns_of(c, "alerts")
    if "rule" not in alert_columns:
        raise ReportError("report_unavailable", "the alerts table has no rule column")
    out: list[tuple[Any, ...]] = [
        ("alerts", rule, count)
        for rule, count in _rows(c, "SELECT rule, count(*) FROM alerts GROUP BY rule ORDER BY rule")
    ]
    in_cases: list[Any] = []
    if "case_id" in alert_columns:
        in_cases = _rows(
            c,
            "SELECT rule, count(*) FROM alerts WHERE case_id IS NOT NULL"
            " GROUP BY rule ORDER BY rule",
        )
    elif "case_alerts" in present and "alert_id" in alert_columns:
        in_cases = _rows(
            c,
            "SELECT a.rule, count(DISTINCT a.alert_id) FROM alerts a"
            " JOIN case_alerts l ON l.alert_id = a.alert_id GROUP BY a.rule ORDER BY a.rule",
        )
    out.extend(("alerts_in_cases", rule, count) for rule, count in in_cases)
    if "cases" in present:
        case_columns = columns_of(c, "cases")
        total = _rows(c, "SELECT count(*) FROM cases")[0][0]
        out.append(("cases", "total", total))
        if "state" in case_columns:
            out.extend(
                ("cases_by_state", state, count)
                for state, count in _rows(
                    c, "SELECT state, count(*) FROM cases GROUP BY state ORDER BY state"
                )
            )
        if "disposition" in case_columns:
            out.extend(
                ("dispositions", disposition, count)
                for disposition, count in _rows(
                    c,
                    "SELECT disposition, count(*) FROM cases WHERE disposition IS NOT NULL"
                    " GROUP BY disposition ORDER BY disposition",
                )
            )
    return ("stage", "key", "count"), out


def _detection(c: sqlite3.Connection) -> tuple[tuple[str, ...], list[Any]]:
    from corridor.sim.scoring import score_detection

    scores = score_detection(c)
    if not scores["available"]:
        raise ReportError("report_unavailable", str(scores["reason"]))
    rows = [
        (
            typology,
            ",".join(entry["rules"]),
            entry["labelled_payments"],
            entry["detected_payments"],
            entry["payment_recall"],
            entry["alerted_payments"],
            entry["payment_precision"],
            entry["labelled_parties"],
            entry["detected_parties"],
            entry["party_recall"],
            entry["party_precision"],
        )
        for typology, entry in scores["typologies"].items()
    ]
    columns = (
        "typology",
        "rules",
        "labelled_payments",
        "detected_payments",
        "payment_recall",
        "alerted_payments",
        "payment_precision",
        "labelled_parties",
        "detected_parties",
        "party_recall",
        "party_precision",
    )
    return columns, rows


def _spec(
    name: str,
    title: str,
    description: str,
    needs: Iterable[str],
    build: Callable[[sqlite3.Connection], tuple[tuple[str, ...], list[Any]]],
) -> ReportSpec:
    return ReportSpec(name, title, description, tuple(needs), build)


_PAYMENTS: Final = ("payments", "participants", "merchants")

REPORTS: Final = {
    spec.name: spec
    for spec in (
        _spec(
            "volume_by_corridor_day",
            "Volume by corridor and day",
            "Committed payments per day (Japan time), payer-country-merchant-country "
            "corridor and currency pair.",
            _PAYMENTS,
            _volume_by_corridor_day,
        ),
        _spec(
            "volume_by_currency",
            "Volume by currency",
            "What payers paid (source and fee) and merchants received, per currency.",
            ("payments",),
            _volume_by_currency,
        ),
        _spec(
            "spend_per_trip",
            "Spend per trip",
            "Average wallet spend per trip (one customer, one trip), per wallet, gross and "
            "net of refunds; labelled parties and payers of labelled payments are left out.",
            (*_PAYMENTS, "refunds"),
            _spend_per_trip,
        ),
        _spec(
            "by_prefecture",
            "Volume by prefecture",
            "Merchants, payments and volume per ISO 3166-2 region, with its share of the "
            "currency's volume.",
            ("merchants", "payments"),
            _by_prefecture,
        ),
        _spec(
            "by_category",
            "Volume by merchant category",
            "Payments and volume per merchant category code.",
            _PAYMENTS,
            _by_category,
        ),
        _spec(
            "fx_volume",
            "FX volume",
            "Converted volume per FX provider and currency pair, with the effective rate.",
            ("payments",),
            _fx_volume,
        ),
        _spec(
            "settlement_positions",
            "Settlement positions",
            "Net position of every participant per currency and window.",
            ("settlement_windows", "settlement_positions"),
            _settlement_positions,
        ),
        _spec(
            "settlement_nets",
            "Settlement nets",
            "Net positions summed over all closed windows, per participant and currency.",
            ("settlement_windows", "settlement_positions"),
            _settlement_nets,
        ),
        _spec(
            "payments_by_state",
            "Payments by state",
            "Payments per state and error code.",
            ("payments",),
            _payments_by_state,
        ),
        _spec(
            "top_merchants",
            "Top merchants",
            f"The {TOP_MERCHANTS} merchants with the largest committed volume.",
            _PAYMENTS,
            _top_merchants,
        ),
        _spec(
            "alert_funnel",
            "Alert funnel",
            "Alerts by rule, alerts that became cases, cases by state, dispositions.",
            ("alerts",),
            _alert_funnel,
        ),
        _spec(
            "detection",
            "Detection of labelled typologies",
            "Recall and precision of the monitoring rules against the sandbox's labels.",
            ("sim_labels", "payments"),
            _detection,
        ),
    )
}
"""Every report, by name."""


def report_names() -> list[str]:
    return list(REPORTS)


def run_report(db: str | Path | sqlite3.Connection, name: str) -> ReportResult:
    """Run report `name` on a database file (opened read-only) or an open connection."""
    spec = REPORTS.get(name)
    if spec is None:
        raise ReportError(
            "unknown_report", f"no report {name!r}; reports: {', '.join(report_names())}"
        )
    connection = db if isinstance(db, sqlite3.Connection) else open_readonly(db)
    try:
        missing = [t for t in spec.tables if t not in tables(connection)]
        if missing:
            raise ReportError(
                "report_unavailable",
                f"report {name} needs the table(s) {', '.join(missing)}, which this database"
                " does not have",
            )
        with read_transaction(connection):  # every query of the report sees one commit
            columns, rows = spec.build(connection)
    finally:
        if not isinstance(db, sqlite3.Connection):
            connection.close()
    return ReportResult(name, spec.title, columns, tuple(tuple(r) for r in rows))
