"""Regulatory large-value reports per jurisdiction, for a date range, as JSON or CSV.

Regulators want to see payments above a figure: China's PBOC large-value transaction report
(cross-border transfers of individuals, RMB 200,000 or USD 10,000, single or same-day
cumulative), Japan's statement of overseas remittances (more than JPY 1,000,000 per
remittance) and FEA payment reports, Korea's currency transaction report (KRW 10,000,000 or
more per customer per day). The rules are data (``rules/reporting.toml``, loaded and
validated by `load_reporting_rules`, each figure with its source); this module computes the
report from the switch's tables with SQL.

What is read
------------

Committed payments (``payments.state = 'committed'``) joined with ``participants`` (the
wallet's and the acquirer's countries), ``customers`` (payer side) and ``merchants`` (payee
side), read in one snapshot through a connection of its own that only queries. A payment's
time is its ``created_ns`` (when it was received; commit follows within the hold timeout);
its reporting day is the calendar day of that time in the jurisdiction's UTC offset, and the
range ``--from``/``--to`` is such days, both included.

- Payer side: payments whose wallet is a participant of the jurisdiction; the subject is the
  wallet's customer; the amount is what the customer paid, ``source_amount + fee_amount`` in
  ``source_currency``.
- Payee side: payments whose merchant's acquirer is a participant of the jurisdiction; the
  subject is the merchant; the amount is what it received, ``target_amount`` in
  ``target_currency``.
- ``cross_border`` rules keep payments whose wallet and acquirer are in different countries.
- ``payment`` basis: each payment is compared on its own. ``customer_day`` basis: a subject's
  payments of one reporting day are added up (SQL ``GROUP BY`` subject, day and currency),
  and the day's total is compared; a single payment at the figure reaches it too.

Thresholds in several currencies
--------------------------------

A rule is reached when the amount reaches ANY of its figures. Amounts in the figure's own
currency are compared as they are. Amounts in another currency are converted with the rates
the report is given (`RateLookup`: units of the figure's currency per unit of the amount's
currency on the row's reporting day; the CLI uses the ECB reference rates,
`corridor.switch.fx.EcbRateSource`, cross rates through EUR). Each currency's total is
converted once, exactly in Decimal, then rounded half-even (banker's rounding) to the
figure's minor unit, and the converted totals are added. Without rates such a conversion is
refused (``no_rate``), never guessed.

Output
------

`LargeValueReport.to_json` and `LargeValueReport.to_csv`. Amounts are plain decimal strings
with the currency's decimals (``"200000.00"`` CNY, ``"1000001"`` JPY). Rows are ordered by
rule (file order), reporting day, side, participant and subject. CSV follows RFC 4180 (CRLF line
ends, quotes where needed) with a header row; a text cell that starts with ``=``, ``+``,
``-``, ``@``, tab or carriage return is prefixed with ``'`` so that a spreadsheet does not
run it as a formula (OWASP CSV injection).

Refusals are `ComplianceError`: ``invalid_rules``, ``unknown_jurisdiction``,
``invalid_range`` (the end before the start, or more than `REPORT_DAYS_MAX` days),
``database_not_found``, ``no_payments`` (the database has no switch tables), ``no_rate``.
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import functools
import io
import os
import re
import sqlite3
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException
from pathlib import Path
from typing import Final

import pycountry
from babel.numbers import get_currency_precision

from corridor.compliance.errors import ComplianceError
from corridor.store.transactions import read_transaction

__all__ = [
    "REPORTING_RULES_FILE",
    "REPORT_DAYS_MAX",
    "Basis",
    "Comparison",
    "Figure",
    "Jurisdiction",
    "LargeValueReport",
    "RateLookup",
    "ReportRow",
    "ReportingRule",
    "ReportingRules",
    "Side",
    "large_value_report",
    "load_reporting_rules",
]

REPORTING_RULES_FILE: Final = Path(__file__).resolve().parent / "rules" / "reporting.toml"
RULES_FILE_BYTES_MAX: Final = 64 * 1024
RULES_VERSION: Final = 1
RULES_PER_JURISDICTION_MAX: Final = 16
THRESHOLDS_PER_RULE_MAX: Final = 4
TEXT_CHARS_MAX: Final = 1000
REPORT_DAYS_MAX: Final = 366
"""Longest date range of one report, in days."""
BUSY_TIMEOUT_MS: Final = 5_000

_NS_PER_DAY: Final = 86_400 * 1_000_000_000
_EPOCH: Final = dt.date(1970, 1, 1)
_ID: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_AMOUNT: Final = re.compile(r"([0-9]{1,19})(?:\.([0-9]+))?")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_OFFSET: Final = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_HALF_EVEN: Final = Context(prec=80, rounding=ROUND_HALF_EVEN)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


class Side(enum.StrEnum):
    PAYER = "payer"
    """The payer's wallet reports its customer."""
    PAYEE = "payee"
    """The merchant's acquirer reports its merchant."""


class Basis(enum.StrEnum):
    PAYMENT = "payment"
    CUSTOMER_DAY = "customer_day"


class Comparison(enum.StrEnum):
    AT_LEAST = "at_least"
    MORE_THAN = "more_than"

    @property
    def sign(self) -> str:
        return ">=" if self is Comparison.AT_LEAST else ">"

    def reached(self, amount: int, figure: int) -> bool:
        return amount >= figure if self is Comparison.AT_LEAST else amount > figure


# --- amounts ---------------------------------------------------------------------------


@functools.cache
def _minor_units(code: str) -> int:
    if _CURRENCY.fullmatch(code) is None or pycountry.currencies.get(alpha_3=code) is None:
        raise ComplianceError("unknown_currency", f"not an ISO 4217 currency: {code!r}")
    return int(get_currency_precision(code))


def _decimal_text(amount: int, code: str) -> str:
    """Minor units as a plain decimal string: 20000000 CNY is "200000.00"."""
    digits = _minor_units(code)
    whole, fraction = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole}.{fraction:0{digits}d}" if digits else f"{sign}{whole}"


def _convert(amount: int, source: str, target: str, rate: Decimal) -> int:
    """Minor units of `source` in minor units of `target` at `rate`, rounded half-even."""
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ComplianceError("no_rate", f"unusable {source}→{target} rate: {rate!r}")
    try:
        exact = _HALF_EVEN.multiply(Decimal(amount), rate)
        exact = exact.scaleb(_minor_units(target) - _minor_units(source), context=_HALF_EVEN)
        return int(exact.quantize(Decimal(1), context=_HALF_EVEN))
    except DecimalException:
        raise ComplianceError("no_rate", f"unusable {source}→{target} rate: {rate}") from None


RateLookup = Callable[[str, str, dt.date], Decimal]
"""Units of the second currency per unit of the first on a day (e.g. ECB reference rates)."""


# --- rules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    """An amount of minor units in a currency."""

    currency: str
    amount: int

    def text(self) -> str:
        return _decimal_text(self.amount, self.currency)

    def to_json(self) -> dict[str, str]:
        return {"currency": self.currency, "amount": self.text()}


@dataclass(frozen=True, slots=True)
class ReportingRule:
    id: str
    description: str
    sides: tuple[Side, ...]
    cross_border: bool
    basis: Basis
    comparison: Comparison
    thresholds: tuple[Figure, ...]
    source: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "description": self.description,
            "sides": [side.value for side in self.sides],
            "cross_border": self.cross_border,
            "basis": self.basis.value,
            "comparison": self.comparison.sign,
            "thresholds": [figure.to_json() for figure in self.thresholds],
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    code: str
    name: str
    utc_offset: str
    """``+08:00``: the offset of the jurisdiction's reporting day from UTC."""
    rules: tuple[ReportingRule, ...]

    @property
    def offset_ns(self) -> int:
        match = _OFFSET.fullmatch(self.utc_offset)
        assert match is not None
        minutes = int(match.group(2)) * 60 + int(match.group(3))
        return (-1 if match.group(1) == "-" else 1) * minutes * 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReportingRules:
    jurisdictions: Mapping[str, Jurisdiction] = field(hash=False)

    def get(self, code: str) -> Jurisdiction:
        found = self.jurisdictions.get(code)
        if found is None:
            known = ", ".join(sorted(self.jurisdictions))
            raise ComplianceError(
                "unknown_jurisdiction", f"no reporting rules for {code!r} (known: {known})"
            )
        return found


class _Reader:
    """One table of the rules file; refusals name the file and the key."""

    def __init__(self, path: Path, table: object, where: str) -> None:
        if not isinstance(table, Mapping):
            raise ComplianceError("invalid_rules", f"{path.name}: {where}: must be a table")
        self.path = path
        self.table: Mapping[str, object] = table
        self.where = where

    def fail(self, key: str, message: str) -> ComplianceError:
        return ComplianceError("invalid_rules", f"{self.path.name}: {self.where}.{key}: {message}")

    def only(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def text(self, key: str) -> str:
        value = self.table.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > TEXT_CHARS_MAX:
            raise self.fail(key, f"must be non-empty text of at most {TEXT_CHARS_MAX} characters")
        return value

    def choice(self, key: str, kind: type[enum.StrEnum]) -> str:
        value = self.table.get(key)
        allowed = [member.value for member in kind]
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}, not {value!r}")
        assert isinstance(value, str)
        return value

    def flag(self, key: str) -> bool:
        value = self.table.get(key)
        if not isinstance(value, bool):
            raise self.fail(key, f"must be true or false, not {value!r}")
        return value

    def items(self, key: str, items_max: int) -> list[object]:
        value = self.table.get(key)
        if not isinstance(value, list) or not value or len(value) > items_max:
            raise self.fail(key, f"must be a list of 1 to {items_max} entries")
        return value


def _read_figure(reader: _Reader) -> Figure:
    reader.only({"currency", "amount"})
    currency = reader.text("currency")
    try:
        digits = _minor_units(currency)
    except ComplianceError:
        raise reader.fail("currency", f"not an ISO 4217 code: {currency!r}") from None
    text = reader.text("amount")
    match = _AMOUNT.fullmatch(text)
    if match is None or len(match.group(2) or "") > digits:
        raise reader.fail(
            "amount", f"must be a decimal string with at most {digits} decimals, not {text!r}"
        )
    amount = int(match.group(1) + (match.group(2) or "").ljust(digits, "0"))
    if amount <= 0:
        raise reader.fail("amount", "must be positive")
    return Figure(currency, amount)


def _read_rule(reader: _Reader, seen: set[str]) -> ReportingRule:
    reader.only(
        {
            "id",
            "description",
            "sides",
            "cross_border",
            "basis",
            "comparison",
            "thresholds",
            "source",
        }
    )
    rule_id = reader.text("id")
    if _ID.fullmatch(rule_id) is None or rule_id in seen:
        raise reader.fail("id", f"must be a new lower-case id, not {rule_id!r}")
    seen.add(rule_id)
    sides: list[Side] = []
    for side in reader.items("sides", len(Side)):
        if side not in [s.value for s in Side] or Side(str(side)) in sides:
            raise reader.fail("sides", f"lists payer and/or payee once each, not {side!r}")
        sides.append(Side(str(side)))
    thresholds = tuple(
        _read_figure(_Reader(reader.path, entry, f"{reader.where}.thresholds[{index}]"))
        for index, entry in enumerate(reader.items("thresholds", THRESHOLDS_PER_RULE_MAX))
    )
    if len({figure.currency for figure in thresholds}) != len(thresholds):
        raise reader.fail("thresholds", "gives a currency twice")
    return ReportingRule(
        id=rule_id,
        description=reader.text("description"),
        sides=tuple(sides),
        cross_border=reader.flag("cross_border"),
        basis=Basis(reader.choice("basis", Basis)),
        comparison=Comparison(reader.choice("comparison", Comparison)),
        thresholds=thresholds,
        source=reader.text("source"),
    )


def load_reporting_rules(path: str | os.PathLike[str] | None = None) -> ReportingRules:
    """Read and validate the rules file (default `REPORTING_RULES_FILE`); ``invalid_rules``."""
    file = Path(path) if path is not None else REPORTING_RULES_FILE
    try:
        data = file.read_bytes()
    except OSError as error:
        raise ComplianceError("invalid_rules", f"{file}: cannot read: {error}") from None
    if len(data) > RULES_FILE_BYTES_MAX:
        raise ComplianceError("invalid_rules", f"{file.name}: larger than {RULES_FILE_BYTES_MAX}")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ComplianceError("invalid_rules", f"{file.name}: not valid TOML: {error}") from None
    top = _Reader(file, document, "$")
    top.only({"version", "jurisdictions"})
    if document.get("version") != RULES_VERSION:
        raise top.fail("version", f"must be {RULES_VERSION}")
    table = _Reader(file, document.get("jurisdictions"), "jurisdictions")
    jurisdictions: dict[str, Jurisdiction] = {}
    seen: set[str] = set()
    for code, entry in table.table.items():
        reader = _Reader(file, entry, f"jurisdictions.{code}")
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise table.fail(code, "is not an ISO 3166-1 alpha-2 country")
        reader.only({"name", "utc_offset", "rules"})
        offset = reader.text("utc_offset")
        match = _OFFSET.fullmatch(offset)
        if match is None or int(match.group(2)) > 14 or int(match.group(3)) >= 60:
            raise reader.fail("utc_offset", f"must be +HH:MM or -HH:MM, not {offset!r}")
        rules = tuple(
            _read_rule(_Reader(file, rule, f"jurisdictions.{code}.rules[{index}]"), seen)
            for index, rule in enumerate(reader.items("rules", RULES_PER_JURISDICTION_MAX))
        )
        jurisdictions[code] = Jurisdiction(code, reader.text("name"), offset, rules)
    if not jurisdictions:
        raise top.fail("jurisdictions", "must define at least one jurisdiction")
    return ReportingRules(jurisdictions)


# --- the report ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One reportable payment, or one subject's reportable day."""

    rule: str
    side: Side
    date: dt.date
    """The reporting day (jurisdiction's calendar)."""
    subject_type: str
    """``customer`` (payer side) or ``merchant`` (payee side)."""
    participant_id: str
    """The reporting participant: the wallet or the acquirer."""
    subject_id: str
    name: str
    name_native: str | None
    country: str
    date_of_birth: str | None
    payment_ids: tuple[str, ...]
    amounts: tuple[Figure, ...]
    """Totals per currency, by currency code."""
    threshold: Figure
    """The first of the rule's figures that was reached."""
    observed: Figure
    """The amount compared with it, in its currency."""
    comparison: Comparison

    def to_json(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "side": self.side.value,
            "date": self.date.isoformat(),
            "subject_type": self.subject_type,
            "participant_id": self.participant_id,
            "subject_id": self.subject_id,
            "name": self.name,
            "name_native": self.name_native,
            "country": self.country,
            "date_of_birth": self.date_of_birth,
            "payments": len(self.payment_ids),
            "payment_ids": list(self.payment_ids),
            "amounts": [figure.to_json() for figure in self.amounts],
            "threshold": {**self.threshold.to_json(), "comparison": self.comparison.sign},
            "observed": self.observed.to_json(),
        }


CSV_COLUMNS: Final = (
    "rule",
    "side",
    "date",
    "subject_type",
    "participant_id",
    "subject_id",
    "name",
    "name_native",
    "country",
    "date_of_birth",
    "payments",
    "payment_ids",
    "amounts",
    "threshold_currency",
    "comparison",
    "threshold_amount",
    "observed_amount",
)
"""The CSV header, in order."""


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


@dataclass(frozen=True, slots=True)
class LargeValueReport:
    jurisdiction: Jurisdiction
    start: dt.date
    end: dt.date
    rows: tuple[ReportRow, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "report": "large_value",
            "jurisdiction": self.jurisdiction.code,
            "name": self.jurisdiction.name,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "utc_offset": self.jurisdiction.utc_offset,
            "conversion": (
                "amounts in another currency than a threshold's are converted per currency"
                " total at the rate of the reporting day, rounded half-even to the"
                " threshold currency's minor unit"
            ),
            "rules": [rule.to_json() for rule in self.jurisdiction.rules],
            "count": len(self.rows),
            "rows": [row.to_json() for row in self.rows],
        }

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for row in self.rows:
            writer.writerow(
                [
                    row.rule,
                    row.side.value,
                    row.date.isoformat(),
                    row.subject_type,
                    _cell(row.participant_id),
                    _cell(row.subject_id),
                    _cell(row.name),
                    _cell(row.name_native or ""),
                    row.country,
                    row.date_of_birth or "",
                    str(len(row.payment_ids)),
                    " ".join(row.payment_ids),
                    "; ".join(f"{f.currency} {f.text()}" for f in row.amounts),
                    row.threshold.currency,
                    row.comparison.sign,
                    row.threshold.text(),
                    row.observed.text(),
                ]
            )
        return out.getvalue()


_PAYER_SQL: Final = """
SELECT p.wallet_id, p.customer_id, (p.created_ns + :offset) / :ns_per_day AS day, {key},
       p.source_currency, SUM(p.source_amount + p.fee_amount), group_concat(p.payment_id, ' '),
       c.name_romanized, c.name_native, c.country, c.date_of_birth
FROM payments p
JOIN participants w ON w.id = p.wallet_id
JOIN participants a ON a.id = p.acquirer_id
JOIN customers c ON c.participant_id = p.wallet_id AND c.customer_id = p.customer_id
WHERE p.state = 'committed' AND p.created_ns >= :start AND p.created_ns < :end
  AND w.country = :jurisdiction {cross_border}
GROUP BY p.wallet_id, p.customer_id, day, {key}, p.source_currency
"""

_PAYEE_SQL: Final = """
SELECT p.acquirer_id, p.merchant_id, (p.created_ns + :offset) / :ns_per_day AS day, {key},
       p.target_currency, SUM(p.target_amount), group_concat(p.payment_id, ' '),
       m.name, m.name_native, substr(m.region, 1, 2), NULL
FROM payments p
JOIN participants w ON w.id = p.wallet_id
JOIN participants a ON a.id = p.acquirer_id
JOIN merchants m ON m.id = p.merchant_id
WHERE p.state = 'committed' AND p.created_ns >= :start AND p.created_ns < :end
  AND a.country = :jurisdiction {cross_border}
GROUP BY p.acquirer_id, p.merchant_id, day, {key}, p.target_currency
"""


@dataclass
class _Group:
    participant_id: str
    subject_id: str
    day: int
    name: str
    name_native: str | None
    country: str
    date_of_birth: str | None
    totals: dict[str, int] = field(default_factory=dict)
    payment_ids: list[str] = field(default_factory=list)


def _sql(rule: ReportingRule, side: Side) -> str:
    template = _PAYER_SQL if side is Side.PAYER else _PAYEE_SQL
    # Per-payment rules group by the payment id; day rules by a constant (the day groups).
    key = "p.payment_id" if rule.basis is Basis.PAYMENT else "''"
    cross_border = "AND w.country != a.country" if rule.cross_border else ""
    return template.format(key=key, cross_border=cross_border)


def _groups(rows: Iterable[tuple[object, ...]]) -> list[_Group]:
    groups: dict[tuple[str, str, int, str], _Group] = {}
    for row in rows:
        participant_id, subject_id, day, key = (
            str(row[0]),
            str(row[1]),
            int(str(row[2])),
            str(row[3]),
        )
        group = groups.get((participant_id, subject_id, day, key))
        if group is None:
            group = _Group(
                participant_id=participant_id,
                subject_id=subject_id,
                day=day,
                name=str(row[7]),
                name_native=None if row[8] is None else str(row[8]),
                country=str(row[9]),
                date_of_birth=None if row[10] is None else str(row[10]),
            )
            groups[(participant_id, subject_id, day, key)] = group
        currency = str(row[4])
        group.totals[currency] = group.totals.get(currency, 0) + int(str(row[5]))
        group.payment_ids.extend(str(row[6]).split(" "))
    return list(groups.values())


def _in_currency(
    totals: Mapping[str, int], currency: str, day: dt.date, rates: RateLookup | None
) -> int:
    total = 0
    for source, amount in sorted(totals.items()):
        if source == currency:
            total += amount
            continue
        if rates is None:
            raise ComplianceError(
                "no_rate",
                f"a {source} amount must be compared with a {currency} threshold; give rates",
            )
        total += _convert(amount, source, currency, rates(source, currency, day))
    return total


def _day_range(jurisdiction: Jurisdiction, start: dt.date, end: dt.date) -> tuple[int, int]:
    if not isinstance(start, dt.date) or not isinstance(end, dt.date):
        raise ComplianceError("invalid_range", "the range is two dates")
    if end < start:
        raise ComplianceError("invalid_range", f"the range ends ({end}) before it starts ({start})")
    days = (end - start).days + 1
    if days > REPORT_DAYS_MAX:
        raise ComplianceError(
            "invalid_range", f"the range has {days} days; at most {REPORT_DAYS_MAX}"
        )
    offset = jurisdiction.offset_ns
    start_ns = (start - _EPOCH).days * _NS_PER_DAY - offset
    end_ns = (end - _EPOCH).days * _NS_PER_DAY + _NS_PER_DAY - offset
    return start_ns, end_ns


def large_value_report(
    db: str | os.PathLike[str],
    *,
    jurisdiction: str,
    start: dt.date,
    end: dt.date,
    rates: RateLookup | None = None,
    rules: ReportingRules | None = None,
) -> LargeValueReport:
    """The large-value report of `jurisdiction` for the days `start`..`end` (included).

    `db` is the corridor database file; `rates` converts amounts for thresholds in another
    currency (``no_rate`` when needed and missing); `rules` defaults to the rules file.
    """
    chosen = (rules if rules is not None else load_reporting_rules()).get(jurisdiction)
    start_ns, end_ns = _day_range(chosen, start, end)
    path = Path(db)
    try:
        # mode=rw: a missing file is an error, not a new empty database.
        connection = sqlite3.connect(
            path.resolve().as_uri() + "?mode=rw",
            uri=True,
            isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
    except sqlite3.OperationalError as error:
        raise ComplianceError("database_not_found", f"{path}: {error}") from None
    rows: list[ReportRow] = []
    try:
        connection.execute("PRAGMA query_only = ON")
        with read_transaction(connection):
            for rule in chosen.rules:
                rule_rows: list[ReportRow] = []
                for side in rule.sides:
                    params = {
                        "offset": chosen.offset_ns,
                        "ns_per_day": _NS_PER_DAY,
                        "start": start_ns,
                        "end": end_ns,
                        "jurisdiction": chosen.code,
                    }
                    try:
                        cursor = connection.execute(_sql(rule, side), params)
                    except sqlite3.OperationalError as error:
                        raise ComplianceError(
                            "no_payments",
                            f"{os.fspath(db)} has no switch tables to report: {error}",
                        ) from None
                    for group in _groups(cursor):
                        row = _report_row(rule, side, group, rates)
                        if row is not None:
                            rule_rows.append(row)
                rule_rows.sort(
                    key=lambda r: (
                        r.date,
                        r.side.value,
                        r.participant_id,
                        r.subject_id,
                        r.payment_ids,
                    )
                )
                rows.extend(rule_rows)
    finally:
        connection.close()
    return LargeValueReport(chosen, start, end, tuple(rows))


def _report_row(
    rule: ReportingRule, side: Side, group: _Group, rates: RateLookup | None
) -> ReportRow | None:
    day = _EPOCH + dt.timedelta(days=group.day)
    for figure in rule.thresholds:
        observed = _in_currency(group.totals, figure.currency, day, rates)
        if rule.comparison.reached(observed, figure.amount):
            return ReportRow(
                rule=rule.id,
                side=side,
                date=day,
                subject_type="customer" if side is Side.PAYER else "merchant",
                participant_id=group.participant_id,
                subject_id=group.subject_id,
                name=group.name,
                name_native=group.name_native,
                country=group.country,
                date_of_birth=group.date_of_birth,
                payment_ids=tuple(sorted(group.payment_ids)),
                amounts=tuple(Figure(c, a) for c, a in sorted(group.totals.items())),
                threshold=figure,
                observed=Figure(figure.currency, observed),
                comparison=rule.comparison,
            )
    return None
