"""The travel rule: who pays and who is paid travels with every payment above a threshold.

FATF Recommendation 16 requires the originating institution to send, with a transfer at or
above its jurisdiction's threshold, the originator's name, account number and one of
address, national identity number, customer identification number or date and place of
birth, and the beneficiary's name and account number. This module decides whether a
`PaymentEvent` is in scope, assembles the IVMS101 payload (`corridor.formats.ivms101`) from
the payer and payee (`PartyInfo`) and the two participants, refuses the payment when the
originator data is incomplete, and stores the payload.

In scope
--------

The jurisdiction is the payer's country (`PartyInfo.country`); its threshold comes from
``rules/travel_rule.toml`` (`load_thresholds`), and countries without one use the FATF
default. A payment is in scope when its value is at or above the threshold, measured in the
threshold's currency as the jurisdiction profiles measure it: the source amount when the
threshold is in the source currency (what the wallet pays, fee included), else the target
amount when in the target currency, else the switch's US-dollar value (`usd_cents`) when in
USD; otherwise the source amount is converted with the `rates` given (units of the
threshold currency per unit of the source currency at the payment's time, rounded
half-even to the threshold currency's minor unit). Without rates such a payment is refused
with ``no_rate`` rather than guessed.

What is checked (rule ids, verdict BLOCK)
------------------------------------------

- ``travel_rule.originator_incomplete``: the payer has no name, or none of: an address
  usable in IVMS101, a national identification, a date *and* place of birth, a customer
  identification. `Reason.figures["missing"]` lists what is missing (``name``,
  ``identification``), `Reason.message` says which alternatives were tried.
- ``travel_rule.beneficiary_incomplete``: the payee has no name.
- ``travel_rule.payload_invalid``: the payload fails IVMS101 validation for another reason
  (a name longer than the standard's 100 characters...); the message names the field.

From `PartyInfo` to IVMS101
---------------------------

- The romanized name is one ``nameIdentifier`` of type LEGL, whole in ``primaryIdentifier``
  (splitting family and given names is not reliable across scripts and name orders, and the
  standard allows an empty ``secondaryIdentifier``); the native-script name is a
  ``localNameIdentifier`` of type LEGL, and its scripts (Han ``hani``, kana ``kana``, Hangul
  ``kore``) are listed in ``payloadMetadata.transliterationMethod``.
- ``party_id`` is the account number; for a wallet customer (``customer:<wallet>/<id>``) the
  wallet's customer id is the ``customerIdentification`` (FATF's "customer identification
  number"); for a merchant (``merchant:<id>``) the merchant id is the ``customerNumber``.
- ``country`` is the natural person's ``countryOfResidence`` or the legal person's
  ``countryOfRegistration``.
- ``address`` is free text written ``street and building, ..., town`` (comma-separated, the
  town last): IVMS101 requires a ``townName``, so an address without a comma is not usable
  and does not count as the originator's address. The other parts become ``addressLine``
  (at most 7 lines of 70 characters); ``region`` becomes ``countrySubDivision``.
- A date of birth without a place of birth does not satisfy "date and place of birth" and is
  left out (IVMS101's ``dateAndPlaceOfBirth`` needs both). `PartyInfo` carries no national
  identification or place of birth, so for corridor's own customers the customer id is what
  completes the originator data.
- The participants (wallet: originating VASP; acquirer: beneficiary VASP) are legal persons
  named as registered in the directory, looked up through a `VaspDirectory` (by default the
  ``participants`` table of the same database file).

Storage: the table ``travel_rule_records`` in the ledger's SQLite file, through a connection
of its own, written in short ``BEGIN IMMEDIATE`` transactions (as the directory does). Rows
are append-only (triggers refuse UPDATE and DELETE). Recording a payment again with the same
payload returns the stored one; with another payload it is ``travel_rule_conflict``.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import re
import sqlite3
import threading
import time
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException
from pathlib import Path
from typing import Final, Protocol

import msgspec
import pycountry
from babel.numbers import get_currency_precision

from corridor.compliance.errors import ComplianceError
from corridor.compliance.types import PartyInfo, PaymentEvent, Reason, Verdict
from corridor.formats import ivms101
from corridor.store.transactions import immediate_transaction, open_side_connection

__all__ = [
    "RECORDS_PER_CALL_MAX",
    "RULES_FILE",
    "RULE_BENEFICIARY_INCOMPLETE",
    "RULE_ORIGINATOR_INCOMPLETE",
    "RULE_PAYLOAD_INVALID",
    "TRAVEL_RULE_SCHEMA",
    "RateLookup",
    "Threshold",
    "Thresholds",
    "TravelRule",
    "TravelRuleRecord",
    "Vasp",
    "VaspDirectory",
    "build_payload",
    "load_thresholds",
]

RULES_FILE: Final = Path(__file__).resolve().parent / "rules" / "travel_rule.toml"
RULES_FILE_BYTES_MAX: Final = 64 * 1024
RULES_VERSION: Final = 1
TEXT_CHARS_MAX: Final = 1000
BUSY_TIMEOUT_MS: Final = 5_000
"""How long a write waits for the ledger's writer before failing, in milliseconds."""
RECORDS_PER_CALL_MAX: Final = 8189
"""Payments recorded in one `TravelRule.record_many` transaction (one ledger batch)."""
VASP_CACHE_MAX: Final = 10_000
"""Participants kept in memory once found (registered participants never change)."""

RULE_ORIGINATOR_INCOMPLETE: Final = "travel_rule.originator_incomplete"
RULE_BENEFICIARY_INCOMPLETE: Final = "travel_rule.beneficiary_incomplete"
RULE_PAYLOAD_INVALID: Final = "travel_rule.payload_invalid"

_AMOUNT: Final = re.compile(r"([0-9]{1,19})(?:\.([0-9]+))?")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_ADDRESS_LINE_CHARS_MAX: Final = 70
_TOWN_CHARS_MAX: Final = 35
_HALF_EVEN: Final = Context(prec=80, rounding=ROUND_HALF_EVEN)
_NS_PER_DAY: Final = 86_400 * 1_000_000_000

TRAVEL_RULE_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS travel_rule_records (
    payment_id TEXT PRIMARY KEY,
    jurisdiction TEXT NOT NULL,
    threshold_currency TEXT NOT NULL,
    threshold_amount INTEGER NOT NULL,
    value_amount INTEGER NOT NULL,
    originating_vasp TEXT NOT NULL,
    beneficiary_vasp TEXT NOT NULL,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    recorded_ns INTEGER NOT NULL
);

CREATE TRIGGER IF NOT EXISTS travel_rule_records_no_update
BEFORE UPDATE ON travel_rule_records
BEGIN SELECT RAISE(ABORT, 'travel_rule_records is append-only'); END;

CREATE TRIGGER IF NOT EXISTS travel_rule_records_no_delete
BEFORE DELETE ON travel_rule_records
BEGIN SELECT RAISE(ABORT, 'travel_rule_records is append-only'); END;
"""
"""The travel rule's table, in the ledger's database file."""


# --- amounts ---------------------------------------------------------------------------


@functools.cache
def _minor_units(code: str) -> int:
    if _CURRENCY.fullmatch(code) is None or pycountry.currencies.get(alpha_3=code) is None:
        raise ComplianceError("unknown_currency", f"not an ISO 4217 currency: {code!r}")
    return int(get_currency_precision(code))


def _format_minor(amount: int, code: str) -> str:
    """1000000 KRW is "1,000,000"; 100000 USD is "1,000.00"."""
    digits = _minor_units(code)
    whole, fraction = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    return f"{sign}{whole:,}.{fraction:0{digits}d}" if digits else f"{sign}{whole:,}"


def _convert(amount: int, source: str, target: str, rate: Decimal) -> int:
    """`amount` minor units of `source` in minor units of `target`, rounded half-even."""
    try:
        exact = _HALF_EVEN.multiply(Decimal(amount), rate)
        exact = exact.scaleb(_minor_units(target) - _minor_units(source), context=_HALF_EVEN)
        return int(exact.quantize(Decimal(1), context=_HALF_EVEN))
    except DecimalException:
        raise ComplianceError("no_rate", f"rate {rate} for {source}→{target} is unusable") from None


RateLookup = Callable[[str, str, int], Decimal]
"""Units of the second currency one unit of the first buys at a time (ns since the epoch),
e.g. an adapter over `corridor.switch.fx.EcbRateSource.rate`."""


# --- thresholds ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """From this value (inclusive) a payment of this jurisdiction carries the payload."""

    jurisdiction: str
    """ISO 3166-1 alpha-2, or ``default``."""
    name: str
    currency: str
    amount: int
    """Minor units of `currency`."""
    source: str

    def describe(self) -> str:
        return f"{self.currency} {_format_minor(self.amount, self.currency)}"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The default threshold and the jurisdictions' own."""

    default: Threshold
    jurisdictions: Mapping[str, Threshold] = field(hash=False)

    def for_country(self, country: str) -> Threshold:
        return self.jurisdictions.get(country, self.default)


def _rules_error(path: Path, where: str, message: str) -> ComplianceError:
    return ComplianceError("invalid_rules", f"{path.name}: {where}: {message}")


def _read_threshold(path: Path, where: str, table: object, jurisdiction: str) -> Threshold:
    if not isinstance(table, Mapping):
        raise _rules_error(path, where, "must be a table")
    allowed = {"name", "currency", "amount", "source"}
    for key in table:
        if key not in allowed:
            raise _rules_error(path, f"{where}.{key}", "unknown key")
    texts: dict[str, str] = {}
    for key in sorted(allowed):
        value = table.get(key)
        if not isinstance(value, str) or not value.strip() or len(value) > TEXT_CHARS_MAX:
            raise _rules_error(path, f"{where}.{key}", f"must be non-empty text, not {value!r}")
        texts[key] = value
    currency = texts["currency"]
    try:
        digits = _minor_units(currency)
    except ComplianceError:
        raise _rules_error(
            path, f"{where}.currency", f"not an ISO 4217 code: {currency!r}"
        ) from None
    match = _AMOUNT.fullmatch(texts["amount"])
    if match is None or len(match.group(2) or "") > digits:
        raise _rules_error(
            path,
            f"{where}.amount",
            f"must be a decimal string with at most {digits} decimals, not {texts['amount']!r}",
        )
    amount = int(match.group(1) + (match.group(2) or "").ljust(digits, "0"))
    if amount <= 0:
        raise _rules_error(path, f"{where}.amount", "must be positive")
    return Threshold(jurisdiction, texts["name"], currency, amount, texts["source"])


def load_thresholds(path: str | os.PathLike[str] | None = None) -> Thresholds:
    """Read and validate the thresholds file (default `RULES_FILE`); ``invalid_rules``."""
    file = Path(path) if path is not None else RULES_FILE
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
    for key in document:
        if key not in ("version", "default", "jurisdictions"):
            raise _rules_error(file, key, "unknown key")
    if document.get("version") != RULES_VERSION:
        raise _rules_error(file, "version", f"must be {RULES_VERSION}")
    default = _read_threshold(file, "default", document.get("default"), "default")
    table = document.get("jurisdictions", {})
    if not isinstance(table, Mapping):
        raise _rules_error(file, "jurisdictions", "must be a table")
    jurisdictions: dict[str, Threshold] = {}
    for country, entry in table.items():
        if _COUNTRY.fullmatch(country) is None or pycountry.countries.get(alpha_2=country) is None:
            raise _rules_error(file, f"jurisdictions.{country}", "not an ISO 3166-1 country")
        jurisdictions[country] = _read_threshold(file, f"jurisdictions.{country}", entry, country)
    return Thresholds(default, jurisdictions)


# --- participants ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Vasp:
    """A participant as the payload names it: a legal person."""

    participant_id: str
    name: str
    country: str
    """ISO 3166-1 alpha-2 country of registration."""


class VaspDirectory(Protocol):
    """Where participants' names and countries come from."""

    def vasp(self, participant_id: str) -> Vasp | None:
        """The participant, or None when there is none with this id."""
        ...


class _SqliteVasps:
    """Participants from the directory's ``participants`` table (read with plain SQL)."""

    def __init__(self, connection: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = connection
        self._lock = lock
        self._cache: dict[str, Vasp] = {}

    def vasp(self, participant_id: str) -> Vasp | None:
        cached = self._cache.get(participant_id)
        if cached is not None:
            return cached
        try:
            with self._lock:
                row = self._db.execute(
                    "SELECT name, country FROM participants WHERE id = ?", (participant_id,)
                ).fetchone()
        except sqlite3.OperationalError:  # no directory in this database
            return None
        if row is None:
            return None
        if len(self._cache) >= VASP_CACHE_MAX:
            self._cache.clear()
        found = Vasp(participant_id, str(row[0]), str(row[1]))
        self._cache[participant_id] = found
        return found


# --- building the payload --------------------------------------------------------------


def _script_methods(text: str) -> set[ivms101.TransliterationMethod]:
    methods: set[ivms101.TransliterationMethod] = set()
    for ch in text:
        name = unicodedata.name(ch, "")
        if name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")):
            methods.add(ivms101.TransliterationMethod.HAN)
        elif name.startswith(("HIRAGANA", "KATAKANA")):
            methods.add(ivms101.TransliterationMethod.KANA)
        elif name.startswith("HANGUL"):
            methods.add(ivms101.TransliterationMethod.KOREAN)
    return methods


def _wrap(text: str, width: int) -> list[str]:
    """Words of `text` in lines of at most `width` characters (a longer word is cut)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:width])
            word = word[width:]
        candidate = f"{current} {word}" if current else word
        if len(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return lines


def _address(party: PartyInfo, kind: ivms101.AddressType) -> ivms101.Address | None:
    """The party's free-text address as IVMS101, or None when it has no usable town."""
    if party.address is None:
        return None
    parts = [part.strip() for part in party.address.split(",")]
    if len(parts) < 2 or not all(parts):
        return None
    town = parts[-1]
    lines = _wrap(", ".join(parts[:-1]), _ADDRESS_LINE_CHARS_MAX)
    if len(town) > _TOWN_CHARS_MAX or not lines or len(lines) > ivms101.ADDRESS_LINES_MAX:
        return None
    subdivision = party.region if party.region and len(party.region) <= _TOWN_CHARS_MAX else None
    return ivms101.Address(
        address_type=kind,
        town_name=town,
        country_sub_division=subdivision,
        address_line=tuple(lines),
        country=party.country,
    )


def _party_number(party: PartyInfo) -> str | None:
    """The wallet's customer id (``customer:<wallet>/<id>``) or the merchant id."""
    kind, _, rest = party.party_id.partition(":")
    if kind == "customer":
        _, slash, customer_id = rest.partition("/")
        return customer_id.strip() or None if slash else None
    if kind == "merchant":
        return rest.strip() or None
    return None


def _natural_person(party: PartyInfo) -> ivms101.Person:
    legal = ivms101.NaturalPersonNameType.LEGAL
    local = (
        (
            ivms101.NaturalPersonNameId(
                primary_identifier=party.name_native, name_identifier_type=legal
            ),
        )
        if party.name_native and party.name_native.strip()
        else ()
    )
    address = _address(party, ivms101.AddressType.HOME)
    return ivms101.Person(
        natural_person=ivms101.NaturalPerson(
            name=ivms101.NaturalPersonName(
                name_identifier=(
                    ivms101.NaturalPersonNameId(
                        primary_identifier=party.name, name_identifier_type=legal
                    ),
                ),
                local_name_identifier=local,
            ),
            geographic_address=(address,) if address is not None else (),
            customer_identification=_party_number(party),
            country_of_residence=party.country,
        )
    )


def _legal_person(party: PartyInfo) -> ivms101.Person:
    legal = ivms101.LegalPersonNameType.LEGAL
    local = (
        (
            ivms101.LegalPersonNameId(
                legal_person_name=party.name_native, legal_person_name_identifier_type=legal
            ),
        )
        if party.name_native and party.name_native.strip()
        else ()
    )
    address = _address(party, ivms101.AddressType.BUSINESS)
    return ivms101.Person(
        legal_person=ivms101.LegalPerson(
            name=ivms101.LegalPersonName(
                name_identifier=(
                    ivms101.LegalPersonNameId(
                        legal_person_name=party.name, legal_person_name_identifier_type=legal
                    ),
                ),
                local_name_identifier=local,
            ),
            geographic_address=(address,) if address is not None else (),
            customer_number=_party_number(party),
            country_of_registration=party.country,
        )
    )


def _person(party: PartyInfo) -> ivms101.Person:
    return _legal_person(party) if party.kind == "entity" else _natural_person(party)


def _vasp_person(vasp: Vasp) -> ivms101.Person:
    legal = ivms101.LegalPersonNameType.LEGAL
    return ivms101.Person(
        legal_person=ivms101.LegalPerson(
            name=ivms101.LegalPersonName(
                name_identifier=(
                    ivms101.LegalPersonNameId(
                        legal_person_name=vasp.name, legal_person_name_identifier_type=legal
                    ),
                )
            ),
            country_of_registration=vasp.country,
        )
    )


def build_payload(
    event: PaymentEvent, originating: Vasp, beneficiary: Vasp
) -> ivms101.IdentityPayload:
    """The IVMS101 payload for `event` (not validated: see `ivms101.validate`)."""
    methods = set()
    for party in (event.payer, event.payee):
        if party.name_native:
            methods |= _script_methods(party.name_native)
    metadata = (
        ivms101.PayloadMetadata(transliteration_method=tuple(sorted(methods))) if methods else None
    )
    return ivms101.IdentityPayload(
        originator=ivms101.Originator(
            originator_persons=(_person(event.payer),), account_number=(event.payer.party_id,)
        ),
        beneficiary=ivms101.Beneficiary(
            beneficiary_persons=(_person(event.payee),), account_number=(event.payee.party_id,)
        ),
        originating_vasp=ivms101.OriginatingVasp(originating_vasp=_vasp_person(originating)),
        beneficiary_vasp=ivms101.BeneficiaryVasp(beneficiary_vasp=_vasp_person(beneficiary)),
        payload_metadata=metadata,
    )


def _missing_originator_data(party: PartyInfo) -> tuple[list[str], list[str]]:
    """What FATF R.16 originator data is missing (``name``, ``identification``), and notes."""
    missing: list[str] = []
    notes: list[str] = []
    if not party.name or not party.name.strip():
        missing.append("name")
        notes.append("no name")
    has_customer_id = _party_number(party) is not None
    has_address = _address(party, ivms101.AddressType.HOME) is not None
    if not (has_customer_id or has_address):
        missing.append("identification")
        tried = ["no customer identification"]
        if party.address is None or not party.address.strip():
            tried.append("no address")
        else:
            tried.append("an address without a town (write it 'street, ..., town')")
        tried.append("no national identification")
        if party.date_of_birth:
            tried.append("a date of birth without a place of birth")
        else:
            tried.append("no date and place of birth")
        notes.append(
            "none of address, national identification, date and place of birth, customer"
            f" identification ({'; '.join(tried)})"
        )
    return missing, notes


# --- records and the service -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TravelRuleRecord:
    """A stored payload and why it was required."""

    payment_id: str
    jurisdiction: str
    threshold_currency: str
    threshold_amount: int
    value_amount: int
    """The payment's value in the threshold's currency, minor units."""
    originating_vasp: str
    beneficiary_vasp: str
    payload: ivms101.IdentityPayload
    payload_json: str
    payload_sha256: str
    recorded_ns: int


_COLUMNS: Final = (
    "payment_id, jurisdiction, threshold_currency, threshold_amount, value_amount,"
    " originating_vasp, beneficiary_vasp, payload, payload_sha256, recorded_ns"
)


class TravelRule:
    """Decides, builds, refuses and stores travel-rule payloads; one per database.

    Thread-safe; close it when done.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        *,
        thresholds: Thresholds | None = None,
        vasps: VaspDirectory | None = None,
        rates: RateLookup | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self._db = connection
        self._lock = threading.RLock()
        self._thresholds = thresholds if thresholds is not None else load_thresholds()
        self._vasps: VaspDirectory = (
            vasps if vasps is not None else _SqliteVasps(connection, self._lock)
        )
        self._rates = rates
        self._clock = clock

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        thresholds: Thresholds | None = None,
        vasps: VaspDirectory | None = None,
        rates: RateLookup | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> TravelRule:
        """The travel rule on the database file at `path`, creating its table if missing.

        `vasps` defaults to the directory's ``participants`` table in the same file; `rates`
        is only needed for thresholds in a currency the payment is not priced in.
        """
        connection = open_side_connection(path, TRAVEL_RULE_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS)
        return cls(connection, thresholds=thresholds, vasps=vasps, rates=rates, clock=clock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> TravelRule:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def thresholds(self) -> Thresholds:
        return self._thresholds

    # -- scope ---------------------------------------------------------------------------

    def threshold(self, event: PaymentEvent) -> Threshold:
        """The threshold of the payer's jurisdiction."""
        return self._thresholds.for_country(event.payer.country)

    def value(self, event: PaymentEvent, currency: str) -> int:
        """The payment's value in `currency` (see the module docstring); ``no_rate``."""
        if currency == event.source_currency:
            return event.source_amount
        if currency == event.target_currency:
            return event.target_amount
        if currency == "USD":
            return event.usd_cents
        if self._rates is None:
            raise ComplianceError(
                "no_rate",
                f"payment {event.payment_id} is in {event.source_currency}/"
                f"{event.target_currency}; the {currency} threshold needs rates",
            )
        rate = self._rates(event.source_currency, currency, event.at_ns)
        return _convert(event.source_amount, event.source_currency, currency, rate)

    def applies(self, event: PaymentEvent) -> bool:
        """Whether the payment is at or above its jurisdiction's threshold."""
        threshold = self.threshold(event)
        return self.value(event, threshold.currency) >= threshold.amount

    # -- check and build -----------------------------------------------------------------

    def _vasp(self, participant_id: str, role: str) -> Vasp:
        found = self._vasps.vasp(participant_id)
        if found is None:
            raise ComplianceError(
                "unknown_participant", f"the {role} {participant_id!r} is not a participant"
            )
        return found

    def _assess(
        self, event: PaymentEvent
    ) -> tuple[Threshold, int, tuple[Reason, ...], ivms101.IdentityPayload | None]:
        threshold = self.threshold(event)
        value = self.value(event, threshold.currency)
        if value < threshold.amount:
            return threshold, value, (), None
        figures = {
            "jurisdiction": threshold.jurisdiction,
            "threshold": threshold.describe(),
            "value": f"{threshold.currency} {_format_minor(value, threshold.currency)}",
        }
        scope = (
            f"payment {event.payment_id} of {figures['value']} is at or above the"
            f" {threshold.jurisdiction} travel-rule threshold {figures['threshold']}"
        )
        reasons: list[Reason] = []
        missing, notes = _missing_originator_data(event.payer)
        if missing:
            reasons.append(
                Reason(
                    RULE_ORIGINATOR_INCOMPLETE,
                    Verdict.BLOCK,
                    f"{scope}; originator data incomplete: {'; '.join(notes)}",
                    {**figures, "missing": ",".join(missing)},
                )
            )
        if not event.payee.name or not event.payee.name.strip():
            reasons.append(
                Reason(
                    RULE_BENEFICIARY_INCOMPLETE,
                    Verdict.BLOCK,
                    f"{scope}; beneficiary data incomplete: no name",
                    {**figures, "missing": "name"},
                )
            )
        if reasons:
            return threshold, value, tuple(reasons), None
        payload = build_payload(
            event,
            self._vasp(event.wallet_id, "wallet"),
            self._vasp(event.acquirer_id, "acquirer"),
        )
        try:
            ivms101.validate(payload, today=self._today())
        except ivms101.Ivms101Error as error:
            reason = Reason(
                RULE_PAYLOAD_INVALID,
                Verdict.BLOCK,
                f"{scope}; the IVMS101 payload is invalid: {error}",
                {**figures, "field": error.field, "error": error.code},
            )
            return threshold, value, (reason,), None
        return threshold, value, (), payload

    def _today(self) -> dt.date:
        return dt.date(1970, 1, 1) + dt.timedelta(days=self._clock() // _NS_PER_DAY)

    def check(self, event: PaymentEvent) -> tuple[Reason, ...]:
        """Reasons to refuse the payment (BLOCK), or () when it may go ahead.

        () for a payment below its threshold, and for one at or above it whose payload is
        complete and valid.
        """
        return self._assess(event)[2]

    def payload(self, event: PaymentEvent) -> ivms101.IdentityPayload | None:
        """The validated payload, None below the threshold; ``travel_rule_refused``."""
        _, _, reasons, payload = self._assess(event)
        if reasons:
            raise ComplianceError(
                "travel_rule_refused", "; ".join(f"{r.rule}: {r.message}" for r in reasons)
            )
        return payload

    # -- storage -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    def record(self, event: PaymentEvent) -> ivms101.IdentityPayload | None:
        """Build, validate and store the payment's payload; None below the threshold.

        ``travel_rule_refused`` (nothing stored) when `check` has reasons;
        ``travel_rule_conflict`` when the payment was recorded with another payload.
        """
        return self.record_many([event])[0]

    def record_many(self, events: Sequence[PaymentEvent]) -> list[ivms101.IdentityPayload | None]:
        """`record` for many payments in one transaction (the switch's batches); all or none.

        Every event is assessed first: one refused (``travel_rule_refused``, naming its
        payment) or in conflict (``travel_rule_conflict``) stores nothing. At most
        `RECORDS_PER_CALL_MAX` events.
        """
        if len(events) > RECORDS_PER_CALL_MAX:
            raise ComplianceError(
                "too_many_records", f"{len(events)} payments; at most {RECORDS_PER_CALL_MAX}"
            )
        today = self._today()
        results: list[ivms101.IdentityPayload | None] = []
        rows: list[tuple[object, ...]] = []
        for event in events:
            threshold, value, reasons, payload = self._assess(event)
            if reasons:
                raise ComplianceError(
                    "travel_rule_refused",
                    f"payment {event.payment_id}: "
                    + "; ".join(f"{r.rule}: {r.message}" for r in reasons),
                )
            results.append(payload)
            if payload is None:
                continue
            encoded = ivms101.encode(payload, today=today)
            rows.append(
                (
                    event.payment_id,
                    threshold.jurisdiction,
                    threshold.currency,
                    threshold.amount,
                    value,
                    event.wallet_id,
                    event.acquirer_id,
                    encoded.decode("utf-8"),
                    hashlib.sha256(encoded).hexdigest(),
                )
            )
        if not rows:
            return results
        with self._write():
            now = self._clock()
            self._db.executemany(
                f"INSERT INTO travel_rule_records ({_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (payment_id) DO NOTHING",
                [(*row, now) for row in rows],
            )
            for row in rows:
                stored = self._db.execute(
                    "SELECT payload_sha256 FROM travel_rule_records WHERE payment_id = ?",
                    (row[0],),
                ).fetchone()
                if stored is None or stored[0] != row[8]:
                    raise ComplianceError(
                        "travel_rule_conflict",
                        f"payment {row[0]} was recorded with another travel-rule payload",
                    )
        return results

    def get(self, payment_id: str) -> TravelRuleRecord | None:
        """The stored record of a payment, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM travel_rule_records WHERE payment_id = ?",
                (payment_id,),
            ).fetchone()
        if row is None:
            return None
        payload_json = str(row[7])
        return TravelRuleRecord(
            payment_id=str(row[0]),
            jurisdiction=str(row[1]),
            threshold_currency=str(row[2]),
            threshold_amount=int(row[3]),
            value_amount=int(row[4]),
            originating_vasp=str(row[5]),
            beneficiary_vasp=str(row[6]),
            payload=_decode_stored(payload_json),
            payload_json=payload_json,
            payload_sha256=str(row[8]),
            recorded_ns=int(row[9]),
        )


def _decode_stored(text: str) -> ivms101.IdentityPayload:
    """A stored payload, parsed without the date check (it was checked when stored)."""
    return msgspec.json.decode(text.encode("utf-8"), type=ivms101.IdentityPayload)
