"""Transaction monitoring: typology rules over rolling aggregates, decided inline per payment.

The rules and every threshold they use are data (``compliance/rules/monitoring.toml``,
validated on load; ``invalid_rules`` names the file and key); the travel-rule and reporting
thresholds come from the jurisdiction profiles (`corridor.compliance.profiles`). Each rule
that fires on a payment becomes an `Alert` (rule, score in 0..1, evidence) and a `Reason`;
the `Decision` is the strictest verdict among them (ALLOW, REVIEW = hold pending, BLOCK).

The switch calls, for one payment:

- `Monitor.evaluate(event, screening_score=..., travel_rule_ok=...)` before reserving: pure
  with respect to the monitor's state, so quoting and reserving may both ask;
- `Monitor.record(event)` once the payment goes ahead (reserved): only then does it count in
  the aggregates. Evaluating and recording are separate so that a refused or abandoned
  payment never inflates a customer's velocity, and so that the same payment evaluated at
  quote and at reserve is counted once. Recording the same payment id twice counts once.

Who sends and who receives: for a purchase or a hold the payer (customer) sends and the payee
(merchant) receives; a refund flows the other way (merchant to customer), whichever way round
the switch names the parties (the ``merchant:`` party is the sender).

Aggregates per party, kept in memory (`_Window`: time-ordered columns of entries with running
totals and, where a rule counts distinct parties or similar amounts, per-key counts; old
entries are dropped as new ones arrive, and an evaluation discounts the entries that have
expired by its own time without modifying anything). Per party, all-time payment count and
US-dollar total (for "large versus history") and the last time it was active (dormancy).
Time is the event's ``at_ns``, never the wall clock, so the same events give the same
decisions on any machine.

Persistence: recorded events are buffered and written by `flush` (called by `close`, and
automatically every `FLUSH_EVENTS_MAX` events; the write runs outside the monitor's lock) in
one transaction to ``monitoring_events`` (only the events within the longest window are kept)
and ``monitoring_parties`` (the all-time figures), side tables in the ledger's SQLite file;
`Monitor.open` restores the aggregates by replaying the kept events. Events recorded since the
last flush are lost by a crash; the switch calls `flush` as often as it wants that window small.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import sqlite3
import threading
import tomllib
import zoneinfo
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Final, NamedTuple

import pycountry

from corridor.compliance.errors import ComplianceError
from corridor.compliance.profiles import (
    Profiles,
    default_profiles,
    event_amount,
    format_minor,
    parse_decimal_amount,
)
from corridor.compliance.types import Alert, Decision, PaymentEvent, Reason, Verdict
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection

__all__ = [
    "FLUSH_EVENTS_MAX",
    "MONITORING_SCHEMA",
    "RULES",
    "RULES_PATH",
    "Monitor",
    "MonitoringRules",
    "RuleConfig",
    "load_rules",
]

RULES_PATH: Final = Path(__file__).resolve().parent / "rules" / "monitoring.toml"
SCHEMA_VERSION: Final = 1
RULES_BYTES_MAX: Final = 256 * 1024
FLUSH_EVENTS_MAX: Final = 4096
"""Recorded events buffered before `record` flushes them to storage by itself."""
WINDOW_S_MAX: Final = 366 * 24 * 3600
LIST_ITEMS_MAX: Final = 10_000
REFUND_KINDS: Final = frozenset({"refund"})
_NS_PER_S: Final = 1_000_000_000
_COMPACT_MIN: Final = 16
"""Dropped window entries kept before compacting (at least half the entries)."""

# Parameter kinds of the rules file, and the parameters of each rule.
_SPECS: Final[dict[str, dict[str, str]]] = {
    "structuring": {"band": "fraction", "window_s": "seconds", "min_count": "count"},
    "velocity_count": {"window_s": "seconds", "min_count": "count"},
    "velocity_amount": {"window_s": "seconds", "min_usd": "usd"},
    "fan_in": {"window_s": "seconds", "min_payers": "count"},
    "fan_out": {"window_s": "seconds", "min_payees": "count"},
    "pass_through": {"window_s": "seconds", "min_inflow_usd": "usd", "min_ratio": "ratio"},
    "similar_amounts": {
        "window_s": "seconds",
        "tolerance": "fraction",
        "min_count": "count",
        "min_usd": "usd",
    },
    "round_amount": {"min_usd": "usd", "units": "units"},
    "large_vs_history": {"multiple": "ratio", "min_history": "count", "min_usd": "usd"},
    "dormant_reactivated": {"dormant_s": "seconds", "min_usd": "usd"},
    "new_account_large": {"new_s": "seconds", "min_usd": "usd"},
    "new_merchant_volume": {"new_s": "seconds", "window_s": "seconds", "min_usd": "usd"},
    "sanctioned_counterparty": {"review_score": "score", "block_score": "score"},
    "high_risk_jurisdiction": {"call_for_action": "countries", "increased_monitoring": "countries"},
    "high_risk_counterparty": {"parties": "parties"},
    "unusual_hours": {
        "start_hour": "hour",
        "end_hour": "hour",
        "min_usd": "usd",
        "timezones": "timezones",
    },
    "travel_rule_missing": {},
    "merchant_category_risk": {"mccs": "mccs"},
    "repeated_refunds": {"window_s": "seconds", "min_count": "count"},
}
RULES: Final = tuple(_SPECS)
"""Every rule the monitor knows, in evaluation order."""
_NO_VERDICT: Final = frozenset({"sanctioned_counterparty", "high_risk_jurisdiction"})
"""Rules whose verdict follows from their parameters (score levels, list) instead."""

MONITORING_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS monitoring_events (
    payment_id TEXT PRIMARY KEY,
    at_ns INTEGER NOT NULL,
    kind TEXT NOT NULL,
    sender TEXT NOT NULL,
    receiver TEXT NOT NULL,
    usd_cents INTEGER NOT NULL,
    near_threshold INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS monitoring_events_at ON monitoring_events (at_ns);

CREATE TABLE IF NOT EXISTS monitoring_parties (
    party_id TEXT PRIMARY KEY,
    out_count INTEGER NOT NULL,
    out_usd_cents INTEGER NOT NULL,
    last_active_ns INTEGER
) WITHOUT ROWID;
"""
"""Recorded events within the longest window, and per-party all-time figures."""


# --- the rules file --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One rule of the rules file, validated."""

    name: str
    description: str
    enabled: bool
    verdict: Verdict | None
    """What the rule asks for when it fires; None for rules whose parameters decide."""
    params: Mapping[str, object] = field(hash=False)


@dataclass(frozen=True, slots=True)
class MonitoringRules:
    """The validated rules file."""

    rules: Mapping[str, RuleConfig] = field(hash=False)
    path: str = ""

    def __getitem__(self, name: str) -> RuleConfig:
        return self.rules[name]


def _fail(path: Path, key: str, message: str) -> ComplianceError:
    return ComplianceError("invalid_rules", f"{path.name}: {key}: {message}")


def _param(path: Path, key: str, kind: str, value: object) -> object:
    """A rule parameter checked against its kind; refusals name the file and key."""
    if kind in ("seconds", "count", "hour"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(path, key, f"must be an integer, not {value!r}")
        low, high = {"seconds": (1, WINDOW_S_MAX), "count": (1, 1_000_000), "hour": (0, 24)}[kind]
        if not low <= value <= high:
            raise _fail(path, key, f"must be between {low} and {high}, not {value}")
        return value
    if kind in ("fraction", "ratio", "score"):
        if not isinstance(value, int | float) or isinstance(value, bool) or math.isnan(value):
            raise _fail(path, key, f"must be a number, not {value!r}")
        number = float(value)
        ok = {
            "fraction": 0 < number < 1,
            "ratio": 0 < number <= 1_000_000,
            "score": 0 < number <= 1,
        }[kind]
        if not ok:
            bounds = {"fraction": "in (0, 1)", "ratio": "positive", "score": "in (0, 1]"}[kind]
            raise _fail(path, key, f"must be {bounds}, not {value}")
        return number
    if kind == "usd":
        return _usd_param(path, key, value)
    if kind == "units":
        if not isinstance(value, Mapping) or not value:
            raise _fail(path, key, "must be a table of currency = amount")
        units: dict[str, int] = {}
        for currency, text in value.items():
            try:
                amount = parse_decimal_amount(text, currency) if isinstance(text, str) else 0
            except (ValueError, ComplianceError) as error:
                raise _fail(path, f"{key}.{currency}", str(error)) from None
            if amount <= 0:
                raise _fail(path, f"{key}.{currency}", f"must be a positive amount, not {text!r}")
            units[currency] = amount
        return units
    if kind in ("countries", "parties"):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise _fail(path, key, f"must be a list of strings, not {value!r}")
        if len(value) > LIST_ITEMS_MAX:
            raise _fail(path, key, f"has {len(value)} items; at most {LIST_ITEMS_MAX}")
        if kind == "countries":
            for country in value:
                if len(country) != 2 or pycountry.countries.get(alpha_2=country) is None:
                    raise _fail(path, key, f"{country!r} is not an ISO 3166-1 alpha-2 country")
        return frozenset(value)
    if kind == "timezones":
        if not isinstance(value, Mapping):
            raise _fail(path, key, "must be a table of country = time zone")
        zones: dict[str, zoneinfo.ZoneInfo] = {}
        for country, name in value.items():
            if pycountry.countries.get(alpha_2=country) is None or len(country) != 2:
                raise _fail(path, f"{key}.{country}", "is not an ISO 3166-1 alpha-2 country")
            try:
                zones[country] = _zone(str(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise _fail(path, f"{key}.{country}", f"unknown time zone {name!r}") from None
        return zones
    if kind == "mccs":
        if not isinstance(value, Mapping):
            raise _fail(path, key, "must be a table of MCC = description")
        for mcc, label in value.items():
            if len(mcc) != 4 or not mcc.isdigit() or not isinstance(label, str):
                raise _fail(path, f"{key}.{mcc}", "must be a 4-digit MCC with a description")
        return dict(value)
    raise AssertionError(kind)


def _usd_param(path: Path, key: str, value: object) -> int:
    if not isinstance(value, str):
        raise _fail(path, key, f"must be a decimal string of US dollars, not {value!r}")
    try:
        cents = parse_decimal_amount(value, "USD")
    except ValueError as error:
        raise _fail(path, key, str(error)) from None
    if cents <= 0:
        raise _fail(path, key, f"must be positive, not {value!r}")
    return cents


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(name)


def load_rules(path: str | Path | None = None) -> MonitoringRules:
    """Read and validate a rules file (default: the packaged ``monitoring.toml``).

    Every known rule must be present (``enabled = false`` turns one off); unknown rules and
    keys are refused, as are values of the wrong type or out of range.
    """
    path = RULES_PATH if path is None else Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ComplianceError("invalid_rules", f"{path}: cannot read: {error}") from None
    if len(data) > RULES_BYTES_MAX:
        raise _fail(path, "(file)", f"{len(data)} bytes; at most {RULES_BYTES_MAX}")
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ComplianceError("invalid_rules", f"{path.name}: not valid TOML: {error}") from None
    for key in document:
        if key not in ("schema", "rules"):
            raise _fail(path, key, "unknown key (allowed: rules, schema)")
    if document.get("schema") != SCHEMA_VERSION:
        raise _fail(path, "schema", f"must be {SCHEMA_VERSION}, not {document.get('schema')!r}")
    table = document.get("rules")
    if not isinstance(table, Mapping):
        raise _fail(path, "rules", "is required: a table of rules")
    for name in table:
        if name not in _SPECS:
            raise _fail(path, f"rules.{name}", f"unknown rule (known: {', '.join(RULES)})")
    configs: dict[str, RuleConfig] = {}
    for name, spec in _SPECS.items():
        where = f"rules.{name}"
        entry = table.get(name)
        if not isinstance(entry, Mapping):
            raise _fail(path, where, "is missing (set enabled = false to turn a rule off)")
        common = {"description", "enabled", "verdict", "source", "checked"}
        for key in entry:
            if key not in spec and key not in common:
                allowed = ", ".join(sorted(set(spec) | common))
                raise _fail(path, f"{where}.{key}", f"unknown key (allowed: {allowed})")
        description = entry.get("description")
        if not isinstance(description, str) or not description.strip():
            raise _fail(path, f"{where}.description", "is required: non-empty text")
        source = entry.get("source")
        if source is not None and (not isinstance(source, str) or not source.strip()):
            raise _fail(path, f"{where}.source", "must be non-empty text")
        checked = entry.get("checked")
        if checked is not None and (
            not isinstance(checked, dt.date) or isinstance(checked, dt.datetime)
        ):
            raise _fail(path, f"{where}.checked", f"must be a TOML date, not {checked!r}")
        enabled = entry.get("enabled", True)
        if not isinstance(enabled, bool):
            raise _fail(path, f"{where}.enabled", f"must be true or false, not {enabled!r}")
        verdict: Verdict | None = None
        if name in _NO_VERDICT:
            if "verdict" in entry:
                raise _fail(path, f"{where}.verdict", "is set by this rule's parameters")
        else:
            raw = entry.get("verdict")
            if raw not in [v.value for v in Verdict]:
                raise _fail(path, f"{where}.verdict", f"must be allow, review or block: {raw!r}")
            verdict = Verdict(raw)
        params: dict[str, object] = {}
        for key, kind in spec.items():
            if key not in entry:
                raise _fail(path, f"{where}.{key}", "is required")
            params[key] = _param(path, f"{where}.{key}", kind, entry[key])
        configs[name] = RuleConfig(name, description.strip(), enabled, verdict, params)
    sanctioned = configs["sanctioned_counterparty"].params
    if float(str(sanctioned["review_score"])) > float(str(sanctioned["block_score"])):
        raise _fail(path, "rules.sanctioned_counterparty.review_score", "exceeds block_score")
    hours = configs["unusual_hours"].params
    if hours["start_hour"] == hours["end_hour"]:
        raise _fail(path, "rules.unusual_hours.end_hour", "equals start_hour (an empty range)")
    return MonitoringRules(configs, str(path))


@functools.cache
def _default_rules() -> MonitoringRules:
    return load_rules()


# --- rolling windows -------------------------------------------------------------------


class _Window:
    """Entries ``(at_ns, key, value)`` of the last `span_ns`, with running totals.

    `add` drops the entries older than the span before the newest; `view` gives the count,
    total and expired keys as of any later time without changing anything. Times and values
    live in `array` columns (no object per entry), so that a large state costs the garbage
    collector nothing to scan; dropped entries are skipped by `head` and compacted away once
    they are half of the columns.
    """

    __slots__ = ("counts", "head", "keys", "span_ns", "times", "total", "values")

    def __init__(self, span_ns: int, keyed: bool) -> None:
        self.span_ns = span_ns
        self.times = array("q")
        self.values = array("q")
        self.keys: list[object] | None = [] if keyed else None
        self.head = 0
        self.total = 0
        self.counts: dict[object, int] | None = {} if keyed else None

    def __len__(self) -> int:
        return len(self.times) - self.head

    def add(self, at_ns: int, key: object, value: int) -> None:
        times, values, keys = self.times, self.values, self.keys
        head = self.head
        if len(times) > head and at_ns < times[-1]:
            index = len(times)
            while index > head and times[index - 1] > at_ns:
                index -= 1
            times.insert(index, at_ns)
            values.insert(index, value)
            if keys is not None:
                keys.insert(index, key)
        else:
            times.append(at_ns)
            values.append(value)
            if keys is not None:
                keys.append(key)
        self.total += value
        counts = self.counts
        if counts is not None:
            counts[key] = counts.get(key, 0) + 1
        cutoff = times[-1] - self.span_ns
        while times[head] <= cutoff:
            self.total -= values[head]
            if counts is not None and keys is not None:
                old_key = keys[head]
                keys[head] = None
                remaining = counts[old_key] - 1
                if remaining:
                    counts[old_key] = remaining
                else:
                    del counts[old_key]
            head += 1
        if head >= _COMPACT_MIN and 2 * head >= len(times):
            del times[:head]
            del values[:head]
            if keys is not None:
                del keys[:head]
            head = 0
        self.head = head

    def view(self, at_ns: int) -> tuple[int, int, dict[object, int] | None]:
        """(count, total, expired key counts or None) of the window ending at `at_ns`."""
        cutoff = at_ns - self.span_ns
        times, end = self.times, len(self.times)
        index = self.head
        if index == end or times[index] > cutoff:
            return end - index, self.total, None
        total = self.total
        keys = self.keys
        expired: dict[object, int] | None = {} if keys is not None else None
        while index < end and times[index] <= cutoff:
            total -= self.values[index]
            if expired is not None and keys is not None:
                key = keys[index]
                expired[key] = expired.get(key, 0) + 1
            index += 1
        return end - index, total, expired

    def key_count(self, key: object, expired: dict[object, int] | None) -> int:
        assert self.counts is not None
        present = self.counts.get(key, 0)
        return present - expired.get(key, 0) if expired else present

    def distinct_with(self, key: object, expired: dict[object, int] | None) -> int:
        """Distinct keys in the window, counting `key` as one of them."""
        counts = self.counts
        assert counts is not None
        distinct = len(counts)
        if expired:
            distinct -= sum(1 for k, n in expired.items() if counts[k] == n)
        return distinct + (0 if self.key_count(key, expired) > 0 else 1)


# Window slots of a party (indexes into `_Party.windows`).
_W_COUNT, _W_FAN_OUT, _W_AMOUNT, _W_SIMILAR, _W_STRUCTURING = 0, 1, 2, 3, 4
_W_PASS_OUT, _W_PASS_IN, _W_FAN_IN, _W_VOLUME, _W_REFUNDS = 5, 6, 7, 8, 9
_W_SLOTS: Final = 10


class _Party:
    __slots__ = ("last_active_ns", "out_count", "out_usd", "windows")

    def __init__(self) -> None:
        self.windows: list[_Window | None] = [None] * _W_SLOTS
        self.out_count = 0
        self.out_usd = 0
        self.last_active_ns: int | None = None


class _Recorded(NamedTuple):
    """What the aggregates need of a recorded payment (also its stored row)."""

    payment_id: str
    at_ns: int
    kind: str
    sender: str
    receiver: str
    usd_cents: int
    near_threshold: bool


@dataclass(frozen=True, slots=True)
class _Band:
    """The "just below" band of one threshold in one currency: [low, high) or [low, high]."""

    label: str
    currency: str
    low: int
    high: int
    high_inclusive: bool
    figure: int


def _usd(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    return f"{sign}{whole}.{fraction:02d}"


def _usd_text(cents: int) -> str:
    return f"USD {format_minor(cents, 'USD')}"


def _score(observed: float, threshold: float) -> float:
    """0.5 at the threshold, rising to 1.0 at twice the threshold."""
    if threshold <= 0:
        return 1.0
    return round(min(1.0, 0.5 + 0.5 * (observed - threshold) / threshold), 3)


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


_ALLOW: Final = Decision(Verdict.ALLOW)

_Fired = tuple[str, Verdict, float, str, str, dict[str, str]]
"""(rule, verdict, score, subject, message, evidence) of a rule that fired."""


# --- the monitor -----------------------------------------------------------------------


class Monitor:
    """The rules engine with its rolling aggregates. Thread-safe."""

    def __init__(
        self,
        rules: MonitoringRules | None = None,
        profiles: Profiles | None = None,
        *,
        connection: sqlite3.Connection | None = None,
    ) -> None:
        self.rules = rules if rules is not None else _default_rules()
        self.profiles = profiles if profiles is not None else default_profiles()
        self._db = connection
        self._lock = threading.Lock()
        self._flush_lock = threading.RLock()
        self._parties: dict[str, _Party] = {}
        self._seen: dict[str, int] = {}
        self._seen_times = array("q")
        self._seen_ids: list[str | None] = []
        self._seen_head = 0
        self._pending: list[_Recorded] = []
        self._touched: set[str] = set()
        self._newest_ns: int | None = None
        self._bands: dict[str, dict[str, tuple[_Band, ...]]] = {}
        self._near_cache: tuple[PaymentEvent, _Band | None] | None = None
        self._configure()
        if connection is not None:
            self._restore(connection)

    def _on(self, name: str) -> RuleConfig | None:
        config = self.rules[name]
        return config if config.enabled else None

    def _configure(self) -> None:
        """Copy the parameters into typed attributes (the hot path reads these)."""
        r = self.rules

        def p(rule: str, key: str) -> object:
            return r[rule].params[key]

        def ns(rule: str, key: str) -> int:
            value = p(rule, key)
            assert isinstance(value, int)
            return value * _NS_PER_S

        def num(rule: str, key: str) -> float:
            value = p(rule, key)
            assert isinstance(value, int | float)
            return float(value)

        def integer(rule: str, key: str) -> int:
            value = p(rule, key)
            assert isinstance(value, int)
            return value

        self.structuring_band = num("structuring", "band")
        self.structuring_ns = ns("structuring", "window_s")
        self.structuring_min = integer("structuring", "min_count")
        self.velocity_count_ns = ns("velocity_count", "window_s")
        self.velocity_count_min = integer("velocity_count", "min_count")
        self.velocity_amount_ns = ns("velocity_amount", "window_s")
        self.velocity_amount_min = integer("velocity_amount", "min_usd")
        self.fan_in_ns = ns("fan_in", "window_s")
        self.fan_in_min = integer("fan_in", "min_payers")
        self.fan_out_ns = ns("fan_out", "window_s")
        self.fan_out_min = integer("fan_out", "min_payees")
        self.pass_ns = ns("pass_through", "window_s")
        self.pass_min_inflow = integer("pass_through", "min_inflow_usd")
        self.pass_ratio = num("pass_through", "min_ratio")
        self.similar_ns = ns("similar_amounts", "window_s")
        self.similar_log_step = math.log1p(num("similar_amounts", "tolerance"))
        self.similar_min = integer("similar_amounts", "min_count")
        self.similar_min_usd = integer("similar_amounts", "min_usd")
        self.round_min_usd = integer("round_amount", "min_usd")
        units = p("round_amount", "units")
        assert isinstance(units, dict)
        self.round_units: dict[str, int] = units
        self.history_multiple = num("large_vs_history", "multiple")
        self.history_min = integer("large_vs_history", "min_history")
        self.history_min_usd = integer("large_vs_history", "min_usd")
        self.dormant_ns = ns("dormant_reactivated", "dormant_s")
        self.dormant_min_usd = integer("dormant_reactivated", "min_usd")
        self.new_account_ns = ns("new_account_large", "new_s")
        self.new_account_min_usd = integer("new_account_large", "min_usd")
        self.new_merchant_ns = ns("new_merchant_volume", "new_s")
        self.volume_ns = ns("new_merchant_volume", "window_s")
        self.volume_min_usd = integer("new_merchant_volume", "min_usd")
        self.sanction_review = num("sanctioned_counterparty", "review_score")
        self.sanction_block = num("sanctioned_counterparty", "block_score")
        call = p("high_risk_jurisdiction", "call_for_action")
        grey = p("high_risk_jurisdiction", "increased_monitoring")
        parties = p("high_risk_counterparty", "parties")
        assert isinstance(call, frozenset) and isinstance(grey, frozenset)
        assert isinstance(parties, frozenset)
        self.call_for_action: frozenset[str] = call
        self.increased_monitoring: frozenset[str] = grey
        self.high_risk_parties: frozenset[str] = parties
        self.hours_start = integer("unusual_hours", "start_hour")
        self.hours_end = integer("unusual_hours", "end_hour")
        self.hours_min_usd = integer("unusual_hours", "min_usd")
        zones = p("unusual_hours", "timezones")
        assert isinstance(zones, dict)
        self.zones: dict[str, zoneinfo.ZoneInfo] = zones
        mccs = p("merchant_category_risk", "mccs")
        assert isinstance(mccs, dict)
        self.mccs: dict[str, str] = mccs
        self.refunds_ns = ns("repeated_refunds", "window_s")
        self.refunds_min = integer("repeated_refunds", "min_count")

        spans = {
            _W_COUNT: ("velocity_count", self.velocity_count_ns, False),
            _W_FAN_OUT: ("fan_out", self.fan_out_ns, True),
            _W_AMOUNT: ("velocity_amount", self.velocity_amount_ns, False),
            _W_SIMILAR: ("similar_amounts", self.similar_ns, True),
            _W_STRUCTURING: ("structuring", self.structuring_ns, False),
            _W_PASS_OUT: ("pass_through", self.pass_ns, False),
            _W_PASS_IN: ("pass_through", self.pass_ns, False),
            _W_FAN_IN: ("fan_in", self.fan_in_ns, True),
            _W_VOLUME: ("new_merchant_volume", self.volume_ns, False),
            _W_REFUNDS: ("repeated_refunds", self.refunds_ns, False),
        }
        self._spans: list[tuple[int, bool] | None] = [None] * _W_SLOTS
        for slot, (rule, span_ns, keyed) in spans.items():
            if self.rules[rule].enabled:
                self._spans[slot] = (span_ns, keyed)
        self._enabled = frozenset(name for name in RULES if self.rules[name].enabled)
        self.horizon_ns = max((s[0] for s in self._spans if s is not None), default=0)
        """How far back recorded events matter: the longest window of an enabled rule."""

    # -- helpers ---------------------------------------------------------------------------

    def _bands_for(self, country: str) -> dict[str, tuple[_Band, ...]]:
        """The "just below" bands of a payer's jurisdiction by currency (cached)."""
        bands = self._bands.get(country)
        if bands is not None:
            return bands
        profile = self.profiles.for_country(country)
        thresholds = [self.profiles.travel_rule(country)]
        thresholds += [t for t in profile.reporting if t.basis != "day"]
        below = 1 - Decimal(repr(self.structuring_band))  # exact: 0.1 is not 0.1 in binary
        found: dict[str, list[_Band]] = {}
        for threshold in thresholds:
            label = "travel rule" if threshold.id == "travel_rule" else threshold.id
            inclusive = threshold.comparison == "more_than"
            for currency, figure in threshold.amounts.items():
                low = math.ceil(figure * below)
                found.setdefault(currency, []).append(
                    _Band(label, currency, low, figure, inclusive, figure)
                )
        bands = {currency: tuple(items) for currency, items in found.items()}
        self._bands[country] = bands
        return bands

    def _near_threshold(self, event: PaymentEvent) -> _Band | None:
        """The threshold `event` is just below, if any (remembered for `record`)."""
        cached = self._near_cache
        if cached is not None and cached[0] is event:
            return cached[1]
        bands = self._bands_for(event.payer.country)
        found: _Band | None = None
        for currency, amount in (
            (event.source_currency, event.source_amount),
            (event.target_currency, event.target_amount),
            ("USD", event.usd_cents),
        ):
            for band in bands.get(currency, ()):
                if band.low <= amount < band.high or (band.high_inclusive and amount == band.high):
                    found = band
                    break
            if found is not None:
                break
        self._near_cache = (event, found)
        return found

    def _bucket(self, usd_cents: int) -> int:
        return math.floor(math.log(max(usd_cents, 1)) / self.similar_log_step)

    @staticmethod
    def _flow(event: PaymentEvent) -> tuple[str, str, bool]:
        """(sender, receiver, is_refund): a refund flows from the merchant to the customer."""
        if event.kind in REFUND_KINDS:
            if event.payee.party_id.startswith("merchant:"):
                return event.payee.party_id, event.payer.party_id, True
            return event.payer.party_id, event.payee.party_id, True
        return event.payer.party_id, event.payee.party_id, False

    # -- evaluation ------------------------------------------------------------------------

    def evaluate(
        self,
        event: PaymentEvent,
        *,
        screening_score: float | None = None,
        screened_party_id: str | None = None,
        travel_rule_ok: bool = True,
    ) -> Decision:
        """The decision on `event` with every enabled rule; nothing is recorded.

        `screening_score` is the best sanctions-screening score (0..1) of the payment's
        parties, None when they were not screened, and `screened_party_id` the party it is
        for (the alert's subject; the payer when not given); `travel_rule_ok` is False when
        the originator or beneficiary data the travel rule asks for is missing.
        """
        if screening_score is not None and not 0.0 <= screening_score <= 1.0:
            raise ComplianceError(
                "invalid_score", f"screening score must be in 0..1, not {screening_score!r}"
            )
        with self._lock:
            fired = self._fire(event, screening_score, screened_party_id, travel_rule_ok)
        if not fired:
            return _ALLOW
        alerts: list[Alert] = []
        reasons: list[Reason] = []
        for rule, verdict, score, subject, message, evidence in fired:
            rule_id = f"monitoring.{rule}"
            alerts.append(
                Alert(
                    alert_id=f"{event.payment_id}/{rule_id}",
                    rule=rule_id,
                    score=score,
                    verdict=verdict,
                    payment_id=event.payment_id,
                    subject=subject,
                    evidence=evidence,
                    at_ns=event.at_ns,
                )
            )
            reasons.append(Reason(rule_id, verdict, message, evidence))
        return Decision.of(tuple(reasons), tuple(alerts))

    def _fire(
        self,
        event: PaymentEvent,
        screening_score: float | None,
        screened_party_id: str | None,
        travel_rule_ok: bool,
    ) -> list[_Fired]:
        fired: list[_Fired] = []
        at = event.at_ns
        usd = event.usd_cents
        payer, payee = event.payer, event.payee
        sender_id, receiver_id, refund = self._flow(event)
        sender = self._parties.get(sender_id)
        receiver = self._parties.get(receiver_id)
        on = self._enabled

        # Customer-side rules: a customer paying (purchases and holds).
        if not refund:
            windows = sender.windows if sender is not None else None
            if "structuring" in on:
                band = self._near_threshold(event)
                if band is not None:
                    window = windows[_W_STRUCTURING] if windows else None
                    count = 1 + (window.view(at)[0] if window else 0)
                    if count >= self.structuring_min:
                        amount = event_amount(event, band.currency)
                        assert amount is not None
                        fired.append(
                            (
                                "structuring",
                                self._verdict("structuring"),
                                _score(count, self.structuring_min),
                                sender_id,
                                f"{count} payments just below {band.label} "
                                f"{band.currency} {format_minor(band.figure, band.currency)} in "
                                f"{_duration(self.structuring_ns // _NS_PER_S)} (this one "
                                f"{band.currency} {format_minor(amount, band.currency)})",
                                {
                                    "count": str(count),
                                    "min_count": str(self.structuring_min),
                                    "threshold": band.label,
                                    "currency": band.currency,
                                    "figure": format_minor(band.figure, band.currency).replace(
                                        ",", ""
                                    ),
                                    "window_s": str(self.structuring_ns // _NS_PER_S),
                                },
                            )
                        )
            if "velocity_count" in on:
                window = windows[_W_COUNT] if windows else None
                count = 1 + (window.view(at)[0] if window else 0)
                if count >= self.velocity_count_min:
                    fired.append(
                        self._count_alert(
                            "velocity_count",
                            sender_id,
                            count,
                            self.velocity_count_min,
                            self.velocity_count_ns,
                            "payments",
                        )
                    )
            if "fan_out" in on:
                window = windows[_W_FAN_OUT] if windows else None
                if window is not None:
                    expired = window.view(at)[2]
                    distinct = window.distinct_with(receiver_id, expired)
                else:
                    distinct = 1
                if distinct >= self.fan_out_min:
                    fired.append(
                        self._count_alert(
                            "fan_out",
                            sender_id,
                            distinct,
                            self.fan_out_min,
                            self.fan_out_ns,
                            "distinct merchants paid",
                        )
                    )
            if "velocity_amount" in on:
                window = windows[_W_AMOUNT] if windows else None
                total = usd + (window.view(at)[1] if window else 0)
                if total >= self.velocity_amount_min:
                    fired.append(
                        (
                            "velocity_amount",
                            self._verdict("velocity_amount"),
                            _score(total, self.velocity_amount_min),
                            sender_id,
                            f"{_usd_text(total)} paid in "
                            f"{_duration(self.velocity_amount_ns // _NS_PER_S)} (threshold "
                            f"{_usd_text(self.velocity_amount_min)})",
                            {
                                "total_usd": _usd(total),
                                "min_usd": _usd(self.velocity_amount_min),
                                "window_s": str(self.velocity_amount_ns // _NS_PER_S),
                            },
                        )
                    )
            if "similar_amounts" in on and usd >= self.similar_min_usd:
                window = windows[_W_SIMILAR] if windows else None
                count = 1
                if window is not None:
                    expired = window.view(at)[2]
                    bucket = self._bucket(usd)
                    count += sum(
                        window.key_count(b, expired) for b in (bucket - 1, bucket, bucket + 1)
                    )
                if count >= self.similar_min:
                    fired.append(
                        self._count_alert(
                            "similar_amounts",
                            sender_id,
                            count,
                            self.similar_min,
                            self.similar_ns,
                            f"payments of about {_usd_text(usd)}",
                        )
                    )
            if "round_amount" in on and usd >= self.round_min_usd:
                unit = self.round_units.get(event.source_currency)
                if unit is not None and event.source_amount % unit == 0:
                    currency = event.source_currency
                    fired.append(
                        (
                            "round_amount",
                            self._verdict("round_amount"),
                            0.4,
                            sender_id,
                            f"round amount {currency} "
                            f"{format_minor(event.source_amount, currency)} (a multiple of "
                            f"{format_minor(unit, currency)}), {_usd_text(usd)}",
                            {
                                "amount": format_minor(event.source_amount, currency).replace(
                                    ",", ""
                                ),
                                "currency": currency,
                                "unit": format_minor(unit, currency).replace(",", ""),
                                "usd": _usd(usd),
                            },
                        )
                    )
            if (
                "large_vs_history" in on
                and sender is not None
                and sender.out_count >= self.history_min
                and usd >= self.history_min_usd
            ):
                mean = sender.out_usd / sender.out_count
                if usd >= self.history_multiple * mean:
                    multiple = usd / mean if mean > 0 else math.inf
                    fired.append(
                        (
                            "large_vs_history",
                            self._verdict("large_vs_history"),
                            _score(min(multiple, 1e9), self.history_multiple),
                            sender_id,
                            f"{_usd_text(usd)} is {multiple:.1f}x the customer's mean payment "
                            f"{_usd_text(round(mean))} over {sender.out_count} payments",
                            {
                                "usd": _usd(usd),
                                "mean_usd": _usd(round(mean)),
                                "history_count": str(sender.out_count),
                                "multiple": f"{multiple:.2f}",
                                "min_multiple": f"{self.history_multiple:g}",
                            },
                        )
                    )
            if (
                "dormant_reactivated" in on
                and sender is not None
                and sender.last_active_ns is not None
                and usd >= self.dormant_min_usd
                and at - sender.last_active_ns >= self.dormant_ns
            ):
                idle_s = (at - sender.last_active_ns) // _NS_PER_S
                fired.append(
                    (
                        "dormant_reactivated",
                        self._verdict("dormant_reactivated"),
                        _score(idle_s, self.dormant_ns // _NS_PER_S),
                        sender_id,
                        f"first activity in {idle_s // 86400} days: {_usd_text(usd)}",
                        {
                            "idle_s": str(idle_s),
                            "dormant_s": str(self.dormant_ns // _NS_PER_S),
                            "usd": _usd(usd),
                        },
                    )
                )
            if (
                "new_account_large" in on
                and payer.created_ns is not None
                and usd >= self.new_account_min_usd
                and at - payer.created_ns < self.new_account_ns
            ):
                age_s = max(0, at - payer.created_ns) // _NS_PER_S
                fired.append(
                    (
                        "new_account_large",
                        self._verdict("new_account_large"),
                        _score(usd, self.new_account_min_usd),
                        payer.party_id,
                        f"{_usd_text(usd)} from an account registered {age_s // 3600} h ago",
                        {
                            "age_s": str(age_s),
                            "new_s": str(self.new_account_ns // _NS_PER_S),
                            "usd": _usd(usd),
                            "min_usd": _usd(self.new_account_min_usd),
                        },
                    )
                )
            if "fan_in" in on:
                window = receiver.windows[_W_FAN_IN] if receiver is not None else None
                if window is not None:
                    expired = window.view(at)[2]
                    distinct = window.distinct_with(sender_id, expired)
                else:
                    distinct = 1
                if distinct >= self.fan_in_min:
                    fired.append(
                        self._count_alert(
                            "fan_in",
                            receiver_id,
                            distinct,
                            self.fan_in_min,
                            self.fan_in_ns,
                            "distinct payers",
                        )
                    )
            if (
                "new_merchant_volume" in on
                and payee.created_ns is not None
                and at - payee.created_ns < self.new_merchant_ns
            ):
                window = receiver.windows[_W_VOLUME] if receiver is not None else None
                total = usd + (window.view(at)[1] if window else 0)
                if total >= self.volume_min_usd:
                    age_s = max(0, at - payee.created_ns) // _NS_PER_S
                    fired.append(
                        (
                            "new_merchant_volume",
                            self._verdict("new_merchant_volume"),
                            _score(total, self.volume_min_usd),
                            receiver_id,
                            f"{_usd_text(total)} taken in "
                            f"{_duration(self.volume_ns // _NS_PER_S)} by a merchant registered "
                            f"{age_s // 86400} days ago",
                            {
                                "total_usd": _usd(total),
                                "min_usd": _usd(self.volume_min_usd),
                                "age_s": str(age_s),
                                "window_s": str(self.volume_ns // _NS_PER_S),
                            },
                        )
                    )
        elif "repeated_refunds" in on:
            window = receiver.windows[_W_REFUNDS] if receiver is not None else None
            count = 1 + (window.view(at)[0] if window else 0)
            if count >= self.refunds_min:
                fired.append(
                    self._count_alert(
                        "repeated_refunds",
                        receiver_id,
                        count,
                        self.refunds_min,
                        self.refunds_ns,
                        "refunds received",
                    )
                )

        # Flow rules: money received going straight out again (either direction).
        if "pass_through" in on and sender is not None:
            window_in = sender.windows[_W_PASS_IN]
            inflow = window_in.view(at)[1] if window_in is not None else 0
            if inflow >= self.pass_min_inflow:
                window_out = sender.windows[_W_PASS_OUT]
                outflow = usd + (window_out.view(at)[1] if window_out is not None else 0)
                if outflow >= self.pass_ratio * inflow:
                    fired.append(
                        (
                            "pass_through",
                            self._verdict("pass_through"),
                            _score(outflow / inflow, self.pass_ratio),
                            sender_id,
                            f"{_usd_text(outflow)} sent out against {_usd_text(inflow)} "
                            f"received in {_duration(self.pass_ns // _NS_PER_S)}",
                            {
                                "inflow_usd": _usd(inflow),
                                "outflow_usd": _usd(outflow),
                                "min_ratio": f"{self.pass_ratio:g}",
                                "window_s": str(self.pass_ns // _NS_PER_S),
                            },
                        )
                    )

        # Party rules: who the parties are.
        if (
            "sanctioned_counterparty" in on
            and screening_score is not None
            and screening_score >= self.sanction_review
        ):
            verdict = Verdict.BLOCK if screening_score >= self.sanction_block else Verdict.REVIEW
            fired.append(
                (
                    "sanctioned_counterparty",
                    verdict,
                    round(screening_score, 3),
                    screened_party_id or payer.party_id,
                    f"sanctions screening score {screening_score:.3f} (review at "
                    f"{self.sanction_review:g}, block at {self.sanction_block:g})",
                    {
                        "screening_score": f"{screening_score:.3f}",
                        "review_score": f"{self.sanction_review:g}",
                        "block_score": f"{self.sanction_block:g}",
                    },
                )
            )
        if "high_risk_jurisdiction" in on:
            # The strictest listing of either party: a call for action before monitoring.
            black_list, grey_list = self.call_for_action, self.increased_monitoring
            listed = (
                payer
                if payer.country in black_list
                else payee
                if payee.country in black_list
                else payer
                if payer.country in grey_list
                else payee
                if payee.country in grey_list
                else None
            )
            if listed is not None:
                party = listed
                country = party.country
                black = country in self.call_for_action
                fired.append(
                    (
                        "high_risk_jurisdiction",
                        Verdict.BLOCK if black else Verdict.REVIEW,
                        1.0 if black else 0.6,
                        party.party_id,
                        f"{party.party_id} is in {country}, "
                        + (
                            "a FATF high-risk jurisdiction subject to a call for action"
                            if black
                            else "a jurisdiction under FATF increased monitoring"
                        ),
                        {
                            "country": country,
                            "list": "call_for_action" if black else "increased_monitoring",
                        },
                    )
                )
        if "high_risk_counterparty" in on and self.high_risk_parties:
            for party in (payer, payee):
                if party.party_id in self.high_risk_parties:
                    fired.append(
                        (
                            "high_risk_counterparty",
                            self._verdict("high_risk_counterparty"),
                            0.8,
                            party.party_id,
                            f"{party.party_id} is on the corridor's high-risk party list",
                            {"party_id": party.party_id},
                        )
                    )
                    break
        if "unusual_hours" in on and usd >= self.hours_min_usd:
            zone = self.zones.get(payer.country)
            if zone is not None:
                hour = dt.datetime.fromtimestamp(at // _NS_PER_S, zone).hour
                start, end = self.hours_start, self.hours_end
                inside = start <= hour < end if start < end else (hour >= start or hour < end)
                if inside:
                    fired.append(
                        (
                            "unusual_hours",
                            self._verdict("unusual_hours"),
                            0.3,
                            payer.party_id,
                            f"{_usd_text(usd)} at {hour:02d}h local time in {payer.country} "
                            f"(unusual: {start:02d}h to {end:02d}h)",
                            {
                                "local_hour": str(hour),
                                "timezone": str(zone.key),
                                "start_hour": str(start),
                                "end_hour": str(end),
                                "usd": _usd(usd),
                            },
                        )
                    )
        if "travel_rule_missing" in on and not travel_rule_ok:
            threshold = self.profiles.travel_rule(payer.country)
            reached = threshold.reached_by(event)
            if reached is not None:
                currency, amount, figure = reached
                fired.append(
                    (
                        "travel_rule_missing",
                        self._verdict("travel_rule_missing"),
                        1.0,
                        payer.party_id,
                        f"travel-rule data missing for {currency} "
                        f"{format_minor(amount, currency)} (threshold {threshold.describe()})",
                        {
                            "currency": currency,
                            "amount": format_minor(amount, currency).replace(",", ""),
                            "threshold": format_minor(figure, currency).replace(",", ""),
                        },
                    )
                )
        if "merchant_category_risk" in on:
            mcc = payee.mcc or payer.mcc
            if mcc is not None and mcc in self.mccs:
                merchant = payee if payee.mcc else payer
                fired.append(
                    (
                        "merchant_category_risk",
                        self._verdict("merchant_category_risk"),
                        0.5,
                        merchant.party_id,
                        f"merchant category {mcc} ({self.mccs[mcc]})",
                        {"mcc": mcc, "category": self.mccs[mcc]},
                    )
                )
        return fired

    def _verdict(self, rule: str) -> Verdict:
        verdict = self.rules[rule].verdict
        assert verdict is not None
        return verdict

    def _count_alert(
        self, rule: str, subject: str, count: int, minimum: int, span_ns: int, what: str
    ) -> _Fired:
        window_s = span_ns // _NS_PER_S
        return (
            rule,
            self._verdict(rule),
            _score(count, minimum),
            subject,
            f"{count} {what} in {_duration(window_s)} (threshold {minimum})",
            {"count": str(count), "min_count": str(minimum), "window_s": str(window_s)},
        )

    # -- recording -------------------------------------------------------------------------

    def record(self, event: PaymentEvent) -> None:
        """Count a payment that goes ahead in the aggregates (idempotent per payment id)."""
        sender, receiver, refund = self._flow(event)
        near = (
            not refund
            and "structuring" in self._enabled
            and self._near_threshold(event) is not None
        )
        recorded = _Recorded(
            event.payment_id, event.at_ns, event.kind, sender, receiver, event.usd_cents, near
        )
        with self._lock:
            if event.payment_id in self._seen:
                return
            self._remember(recorded.payment_id, recorded.at_ns)
            self._apply(recorded, history=True)
            if self._db is None:
                return
            self._pending.append(recorded)
            self._touched.update((sender, receiver))
            full = len(self._pending) >= FLUSH_EVENTS_MAX
        if full:
            self.flush()

    def _remember(self, payment_id: str, at_ns: int) -> None:
        """Remember a recorded payment id for as long as its events matter (the horizon)."""
        self._seen[payment_id] = at_ns
        times, ids = self._seen_times, self._seen_ids
        times.append(at_ns)
        ids.append(payment_id)
        newest = at_ns if self._newest_ns is None else max(self._newest_ns, at_ns)
        self._newest_ns = newest
        cutoff = newest - self.horizon_ns
        head, end = self._seen_head, len(times)
        while head < end and times[head] <= cutoff:
            old = ids[head]
            ids[head] = None
            if old is not None and self._seen.get(old) == times[head]:
                del self._seen[old]
            head += 1
        if head >= _COMPACT_MIN and 2 * head >= len(times):
            del times[:head]
            del ids[:head]
            head = 0
        self._seen_head = head

    def _party(self, party_id: str) -> _Party:
        party = self._parties.get(party_id)
        if party is None:
            party = self._parties[party_id] = _Party()
        return party

    def _apply(self, recorded: _Recorded, *, history: bool) -> None:
        at, usd = recorded.at_ns, recorded.usd_cents
        sender = self._party(recorded.sender)
        receiver = self._party(recorded.receiver)
        if recorded.kind not in REFUND_KINDS:
            updates = [
                (sender, _W_COUNT, None, 1),
                (sender, _W_FAN_OUT, recorded.receiver, 1),
                (sender, _W_AMOUNT, None, usd),
                (sender, _W_SIMILAR, self._bucket(usd), 1),
                (receiver, _W_FAN_IN, recorded.sender, 1),
                (receiver, _W_VOLUME, None, usd),
                (sender, _W_PASS_OUT, None, usd),
                (receiver, _W_PASS_IN, None, usd),
            ]
            if recorded.near_threshold:
                updates.append((sender, _W_STRUCTURING, None, 1))
            if history:
                sender.out_count += 1
                sender.out_usd += usd
        else:
            updates = [
                (receiver, _W_REFUNDS, None, 1),
                (sender, _W_PASS_OUT, None, usd),
                (receiver, _W_PASS_IN, None, usd),
            ]
        spans = self._spans
        for party, slot, key, value in updates:
            spec = spans[slot]
            if spec is None:
                continue
            window = party.windows[slot]
            if window is None:
                window = party.windows[slot] = _Window(spec[0], spec[1])
            window.add(at, key, value)
        if history:
            for party in (sender, receiver):
                if party.last_active_ns is None or party.last_active_ns < at:
                    party.last_active_ns = at

    # -- persistence -----------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        rules: MonitoringRules | None = None,
        profiles: Profiles | None = None,
    ) -> Monitor:
        """The monitor whose aggregates live in the ledger's SQLite file `path`, restored."""
        connection = open_side_connection(path, MONITORING_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
        try:
            return cls(rules, profiles, connection=connection)
        except BaseException:
            connection.close()
            raise

    def _restore(self, db: sqlite3.Connection) -> None:
        for party_id, out_count, out_usd, last_active in db.execute(
            "SELECT party_id, out_count, out_usd_cents, last_active_ns FROM monitoring_parties"
        ):
            party = self._party(str(party_id))
            party.out_count = int(out_count)
            party.out_usd = int(out_usd)
            party.last_active_ns = None if last_active is None else int(last_active)
        newest = db.execute("SELECT max(at_ns) FROM monitoring_events").fetchone()[0]
        if newest is None:
            return
        rows = db.execute(
            "SELECT payment_id, at_ns, kind, sender, receiver, usd_cents, near_threshold"
            " FROM monitoring_events WHERE at_ns > ? ORDER BY at_ns, payment_id",
            (int(newest) - self.horizon_ns,),
        )
        for row in rows:
            recorded = _Recorded(
                payment_id=str(row[0]),
                at_ns=int(row[1]),
                kind=str(row[2]),
                sender=str(row[3]),
                receiver=str(row[4]),
                usd_cents=int(row[5]),
                near_threshold=bool(row[6]),
            )
            self._remember(recorded.payment_id, recorded.at_ns)
            self._apply(recorded, history=False)

    def flush(self) -> None:
        """Write the events recorded since the last flush, in one transaction.

        The buffer is taken under the monitor's lock, and written outside it: evaluations
        and recordings of other threads go on while SQLite writes.
        """
        with self._flush_lock:
            db = self._db
            if db is None:
                return
            with self._lock:
                pending, self._pending = self._pending, []
                touched, self._touched = self._touched, set()
                parties = [
                    (pid, p.out_count, p.out_usd, p.last_active_ns)
                    for pid in sorted(touched)
                    if (p := self._parties.get(pid)) is not None
                ]
                newest = self._newest_ns
            if not pending:
                return
            try:
                self._write(db, pending, parties, newest)
            except BaseException:
                with self._lock:  # keep them for the next flush
                    self._pending[:0] = pending
                    self._touched |= touched
                raise

    def _write(
        self,
        db: sqlite3.Connection,
        pending: list[_Recorded],
        parties: list[tuple[str, int, int, int | None]],
        newest: int | None,
    ) -> None:
        with immediate_transaction(db):
            db.executemany(
                "INSERT INTO monitoring_events (payment_id, at_ns, kind, sender, receiver,"
                " usd_cents, near_threshold) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (payment_id) DO NOTHING",
                [
                    (
                        r.payment_id,
                        r.at_ns,
                        r.kind,
                        r.sender,
                        r.receiver,
                        r.usd_cents,
                        int(r.near_threshold),
                    )
                    for r in pending
                ],
            )
            db.executemany(
                "INSERT INTO monitoring_parties (party_id, out_count, out_usd_cents,"
                " last_active_ns) VALUES (?, ?, ?, ?) ON CONFLICT (party_id) DO UPDATE SET"
                " out_count = excluded.out_count, out_usd_cents = excluded.out_usd_cents,"
                " last_active_ns = excluded.last_active_ns",
                parties,
            )
            if newest is not None:
                db.execute(
                    "DELETE FROM monitoring_events WHERE at_ns <= ?", (newest - self.horizon_ns,)
                )

    def close(self) -> None:
        """Flush and close the connection (an in-memory monitor just stays as it is)."""
        with self._flush_lock:
            if self._db is None:
                return
            try:
                self.flush()
            finally:
                with self._lock:
                    self._db.close()
                    self._db = None

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
