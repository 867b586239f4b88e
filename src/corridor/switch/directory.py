"""The switch's directory: participants, their ledger accounts, customers and merchants.

Who may move money through the corridor, and to whom, is recorded here, next to the ledger in
the same SQLite file so that a backup of one file holds both. The directory keeps its tables
through a connection of its own; its writes are short ``BEGIN IMMEDIATE`` transactions that
wait for the ledger's single writer (and it for them) through SQLite's busy timeout, and it
never writes ledger tables: ledger accounts are created through `Ledger.create_accounts`.

Tables (``created_ns`` is nanoseconds since the Unix epoch, from the clock passed in):

- ``participants``: id (a slug such as ``alipay-cn``), kind, name, ISO 3166-1 country;
- ``participant_currencies``: the currencies each participant operates in, with its optional
  net debit cap in minor units (kept as rows so that an auditor can query caps with SQL);
- ``customers``: wallet users, keyed by (wallet participant, customer id): names in native
  script and romanized, country, date of birth, KYC tier;
- ``merchants``: keyed by merchant id (the id in the corridor template of its QR code), with
  its acquirer, names, MCC, city, ISO 3166-2 region and currency.

Rows are never updated or deleted. Registering the same thing twice with the same data is
idempotent (the stored record is returned); with different data it is refused.

Ledger accounts
---------------

Account ids are derived, never stored: anyone who knows a participant's id can recompute its
account ids, and registering twice creates nothing twice. An id is the first 16 bytes, read
big-endian, of::

    SHA-256("corridor/ledger-account/v1" ‖ 0x00 ‖ role ‖ 0x00 ‖ owner ‖ 0x00 ‖ currency)

with UTF-8 strings; `role` is ``liquidity``, ``hub_settlement`` or ``hub_fees``; `owner` is
the participant id, or empty for the hub's accounts (participant ids are never empty); and
`currency` is the ISO 4217 alphabetic code. Should the digest give 0 or 2¹²⁸−1 (the ledger's
reserved ids; chance 2⁻¹²⁷), ``‖ 0x00 ‖ n`` (n = 1, 2, ... in decimal) is appended until it
does not. The version in the prefix changes if the scheme ever does.

Account codes (u16) name the role: `ACCOUNT_CODE_LIQUIDITY`, `ACCOUNT_CODE_HUB_SETTLEMENT`,
`ACCOUNT_CODE_HUB_FEES`. The ledger of an account is its currency's ISO 4217 numeric code.
Customers are parties, not ledger accounts: a payer wallet's customers are paid for out of
that wallet's liquidity account.

Sign conventions (one hub settlement account, one hub fee account and one liquidity account
per participant, per currency):

- A participant's **liquidity** account is credit-normal: its balance, credits_posted −
  debits_posted, is what the hub owes the participant (its prefunded money). Flag
  ``debits_must_not_exceed_credits``: it cannot be overdrawn, pending reservations included.
- The **hub settlement** account is debit-normal: its balance, debits_posted −
  credits_posted, is the money the hub holds at its settlement bank for everyone. A deposit
  debits it and credits the participant's liquidity; a withdrawal does the reverse. Flag
  ``credits_must_not_exceed_debits``: the hub cannot pay out more than was paid in. Since
  liquidity and fee accounts never go negative, this always holds when the switch is correct,
  so the flag is a cheap, decisive check that it is.
- The **hub fees** account is credit-normal: fees the hub has earned and not yet swept. Flag
  ``debits_must_not_exceed_credits``.

Per currency, Σ liquidity + hub fees (credit balances) = hub settlement (debit balance).
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import re
import sqlite3
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Final

import pycountry

from corridor.formats import emvqr
from corridor.ledger import (
    AMOUNT_MAX,
    ID_MAX,
    Account,
    AccountFlags,
    CreateAccountResult,
    Ledger,
)
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import (
    immediate_transaction,
    open_side_connection,
    read_transaction,
)
from corridor.switch.errors import SwitchError
from corridor.switch.money import CORRIDOR_CURRENCIES, Money, currency, format_amount

__all__ = [
    "ACCOUNT_CODE_HUB_FEES",
    "ACCOUNT_CODE_HUB_SETTLEMENT",
    "ACCOUNT_CODE_LIQUIDITY",
    "ACCOUNT_ID_DOMAIN",
    "DIRECTORY_SCHEMA",
    "Customer",
    "Directory",
    "Merchant",
    "Participant",
    "ParticipantKind",
    "ScannedMerchant",
    "account_id",
    "hub_fees_account_id",
    "hub_settlement_account_id",
    "liquidity_account_id",
]

ACCOUNT_CODE_LIQUIDITY: Final = 100
"""A participant's prefunded liquidity in one currency (credit-normal)."""
ACCOUNT_CODE_HUB_SETTLEMENT: Final = 900
"""The hub's settlement account in one currency: money held at the settlement bank."""
ACCOUNT_CODE_HUB_FEES: Final = 901
"""The hub's fee income in one currency (credit-normal)."""

ROLE_LIQUIDITY: Final = "liquidity"
ROLE_HUB_SETTLEMENT: Final = "hub_settlement"
ROLE_HUB_FEES: Final = "hub_fees"
_ROLES: Final = frozenset({ROLE_LIQUIDITY, ROLE_HUB_SETTLEMENT, ROLE_HUB_FEES})

ACCOUNT_ID_DOMAIN: Final = b"corridor/ledger-account/v1"
"""Prefix of every derived account id's hash input; the version changes with the scheme."""

ACCOUNT_IDS_CACHED_MAX: Final = 65_536
"""Derived account ids kept in memory (they are pure functions of their inputs)."""
CACHE_RECORDS_MAX: Final = 100_000
"""Participants, customers and merchants kept in memory once found (cleared when full)."""

PARTICIPANT_ID_CHARS_MIN: Final = 3
PARTICIPANT_ID_CHARS_MAX: Final = 32
PARTY_ID_CHARS_MAX: Final = 64
"""Longest customer or merchant id (a merchant id also fits the QR's corridor template)."""
NAME_CHARS_MAX: Final = 128
CITY_CHARS_MAX: Final = 64
KYC_TIER_CHARS_MAX: Final = 16
DATE_OF_BIRTH_MIN: Final = dt.date(1900, 1, 1)

RESERVED_PARTICIPANT_IDS: Final = frozenset({"hub", "corridor"})
"""Ids a participant may not take: they would read as the operator's own in reports."""

_PARTICIPANT_ID: Final = re.compile(
    rf"[a-z0-9][a-z0-9-]{{{PARTICIPANT_ID_CHARS_MIN - 2},{PARTICIPANT_ID_CHARS_MAX - 2}}}[a-z0-9]"
)
_PARTY_ID: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{PARTY_ID_CHARS_MAX - 1}}}")
_KYC_TIER: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{KYC_TIER_CHARS_MAX - 1}}}")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")
_REGION: Final = re.compile(r"[A-Z]{2}-[A-Z0-9]{1,3}")
_MCC: Final = re.compile(r"[0-9]{4}")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ROMANIZED_PUNCTUATION: Final = frozenset(" -'.,")
_NS_PER_S: Final = 1_000_000_000

DIRECTORY_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS participants (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    country TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS participant_currencies (
    participant_id TEXT NOT NULL REFERENCES participants (id),
    currency TEXT NOT NULL,
    net_debit_cap INTEGER,
    PRIMARY KEY (participant_id, currency)
);

CREATE TABLE IF NOT EXISTS customers (
    participant_id TEXT NOT NULL REFERENCES participants (id),
    customer_id TEXT NOT NULL,
    name_native TEXT NOT NULL,
    name_romanized TEXT NOT NULL,
    country TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    kyc_tier TEXT NOT NULL,
    created_ns INTEGER NOT NULL,
    PRIMARY KEY (participant_id, customer_id)
);

CREATE TABLE IF NOT EXISTS merchants (
    id TEXT PRIMARY KEY,
    acquirer_id TEXT NOT NULL REFERENCES participants (id),
    name TEXT NOT NULL,
    name_native TEXT,
    mcc TEXT NOT NULL,
    city TEXT NOT NULL,
    region TEXT NOT NULL,
    currency TEXT NOT NULL,
    created_ns INTEGER NOT NULL
);
"""
"""The directory's tables, in the ledger's database file."""


# --- ledger account ids ----------------------------------------------------------------


@functools.lru_cache(maxsize=ACCOUNT_IDS_CACHED_MAX)
def account_id(role: str, owner: str, currency_code: str) -> int:
    """The ledger account id of `role` for `owner` ("" for the hub) in `currency_code`."""
    assert role in _ROLES, role
    message = b"\x00".join(
        [ACCOUNT_ID_DOMAIN, role.encode(), owner.encode(), currency_code.encode()]
    )
    digest = hashlib.sha256(message).digest()
    retry = 0
    while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
        retry += 1
        digest = hashlib.sha256(message + b"\x00" + str(retry).encode()).digest()
    return value


def liquidity_account_id(participant_id: str, currency_code: str) -> int:
    """The id of `participant_id`'s liquidity account in `currency_code`."""
    assert participant_id, "a participant id is never empty"
    return account_id(ROLE_LIQUIDITY, participant_id, currency_code)


def hub_settlement_account_id(currency_code: str) -> int:
    """The id of the hub's settlement account in `currency_code`."""
    return account_id(ROLE_HUB_SETTLEMENT, "", currency_code)


def hub_fees_account_id(currency_code: str) -> int:
    """The id of the hub's fee account in `currency_code`."""
    return account_id(ROLE_HUB_FEES, "", currency_code)


def _hub_accounts(currency_code: str) -> list[Account]:
    ledger = currency(currency_code).ledger
    return [
        Account(
            id=hub_settlement_account_id(currency_code),
            ledger=ledger,
            code=ACCOUNT_CODE_HUB_SETTLEMENT,
            flags=AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
        ),
        Account(
            id=hub_fees_account_id(currency_code),
            ledger=ledger,
            code=ACCOUNT_CODE_HUB_FEES,
            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
        ),
    ]


def _liquidity_account(participant_id: str, currency_code: str) -> Account:
    return Account(
        id=liquidity_account_id(participant_id, currency_code),
        ledger=currency(currency_code).ledger,
        code=ACCOUNT_CODE_LIQUIDITY,
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    )


# --- records ---------------------------------------------------------------------------


class ParticipantKind(enum.StrEnum):
    """What a participant does in the corridor."""

    WALLET = "wallet"
    """Holds customers' money and pays on their behalf (payer side)."""
    ACQUIRER = "acquirer"
    """Signs up merchants and is paid on their behalf (merchant side)."""
    BANK = "bank"
    FX_PROVIDER = "fx_provider"
    """Exchanges currencies: its liquidity in one currency pays out in another."""


@dataclass(frozen=True, slots=True)
class Participant:
    """A registered participant."""

    id: str
    kind: ParticipantKind
    name: str
    country: str
    """ISO 3166-1 alpha-2."""
    currencies: tuple[str, ...]
    """The currencies it operates in, sorted; it has a liquidity account in each."""
    net_debit_caps: Mapping[str, int] = field(hash=False)
    """Net debit cap in minor units, for the currencies that have one."""
    created_ns: int

    def net_debit_cap(self, currency_code: str) -> int | None:
        """The cap in minor units of `currency_code`, or None when it has none."""
        return self.net_debit_caps.get(currency_code)


@dataclass(frozen=True, slots=True)
class Customer:
    """A wallet's customer: a party to payments, not a ledger account."""

    wallet_id: str
    customer_id: str
    name_native: str
    """Name in its native script, e.g. 王小明 or 김민준."""
    name_romanized: str
    """Name in Latin script, e.g. "Wang Xiaoming", "Satō Hanako"."""
    country: str
    date_of_birth: dt.date
    kyc_tier: str
    created_ns: int


@dataclass(frozen=True, slots=True)
class Merchant:
    """A merchant, paid through its acquirer."""

    id: str
    acquirer_id: str
    name: str
    name_native: str | None
    mcc: str
    """ISO 18245 merchant category code, four digits."""
    city: str
    region: str
    """ISO 3166-2 subdivision, e.g. JP-26 (Kyoto)."""
    currency: str
    created_ns: int

    @property
    def country(self) -> str:
        """ISO 3166-1 alpha-2 country of the merchant (from its region)."""
        return self.region.split("-", 1)[0]


@dataclass(frozen=True, slots=True)
class ScannedMerchant:
    """A merchant found from the QR code a customer scanned, with the decoded QR."""

    merchant: Merchant
    qr: emvqr.MerchantQR


# --- validation ------------------------------------------------------------------------


def _check_text(value: object, what: str, chars_max: int, code: str) -> str:
    """Non-empty text of at most `chars_max` characters, no control characters, trimmed."""
    if not isinstance(value, str) or not value:
        raise SwitchError(code, f"{what} must be non-empty text, not {value!r}")
    if len(value) > chars_max:
        raise SwitchError(code, f"{what} has {len(value)} characters; at most {chars_max}")
    if value != value.strip():
        raise SwitchError(code, f"{what} has leading or trailing spaces: {value!r}")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise SwitchError(code, f"{what} holds control or format characters: {value!r}")
    return value


def _check_pattern(value: object, pattern: re.Pattern[str], what: str, code: str) -> str:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise SwitchError(code, f"{what} is malformed: {value!r}")
    return value


def _check_country(value: object, what: str, code: str) -> str:
    country = _check_pattern(value, _COUNTRY, f"{what} (ISO 3166-1 alpha-2)", code)
    if pycountry.countries.get(alpha_2=country) is None:
        raise SwitchError(code, f"{what} is not an ISO 3166-1 country: {country}")
    return country


def _check_participant_id(value: object, code: str) -> str:
    what = (
        f"participant id ({PARTICIPANT_ID_CHARS_MIN}-{PARTICIPANT_ID_CHARS_MAX} characters of "
        "a-z, 0-9 and '-', not starting or ending with '-')"
    )
    participant_id = _check_pattern(value, _PARTICIPANT_ID, what, code)
    if participant_id in RESERVED_PARTICIPANT_IDS:
        raise SwitchError(code, f"participant id {participant_id!r} is reserved")
    return participant_id


def _check_romanized(value: object, what: str) -> str:
    name = _check_text(value, what, NAME_CHARS_MAX, "invalid_party")
    for ch in name:
        latin_letter = ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN ")
        if not latin_letter and ch not in _ROMANIZED_PUNCTUATION:
            raise SwitchError(
                "invalid_party", f"{what} must be in Latin script; {ch!r} is not: {name!r}"
            )
    return name


def _check_date_of_birth(value: object, today: dt.date) -> dt.date:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        with suppress(ValueError):
            value = dt.date.fromisoformat(value)
    # datetime is a date subclass; a time of day in a date of birth is a caller's mistake.
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        raise SwitchError(
            "invalid_party", f"date of birth must be an ISO date (YYYY-MM-DD), not {value!r}"
        )
    if not DATE_OF_BIRTH_MIN <= value <= today:
        raise SwitchError(
            "invalid_party",
            f"date of birth {value} is not between {DATE_OF_BIRTH_MIN} and today ({today})",
        )
    return value


def _check_currencies(currencies: object, caps: object) -> tuple[tuple[str, ...], dict[str, int]]:
    code = "invalid_participant"
    if isinstance(currencies, str) or not isinstance(currencies, Sequence) or not currencies:
        raise SwitchError(code, f"currencies must be a non-empty list of codes, not {currencies!r}")
    for item in currencies:
        if item not in CORRIDOR_CURRENCIES:
            raise SwitchError(
                code, f"{item!r} is not a corridor currency ({', '.join(CORRIDOR_CURRENCIES)})"
            )
    if len(set(currencies)) != len(currencies):
        raise SwitchError(code, f"currencies are listed more than once: {list(currencies)}")
    codes = tuple(sorted(currencies))
    if caps is None:
        caps = {}
    if not isinstance(caps, Mapping):
        raise SwitchError(code, f"net debit caps must map currency to minor units, not {caps!r}")
    for cap_currency, cap in caps.items():
        if cap_currency not in codes:
            raise SwitchError(
                code, f"net debit cap for {cap_currency!r}, which the participant does not use"
            )
        if not isinstance(cap, int) or isinstance(cap, bool) or not 0 <= cap <= AMOUNT_MAX:
            raise SwitchError(
                code, f"net debit cap must be 0..{AMOUNT_MAX} minor units, not {cap!r}"
            )
    return codes, dict(sorted(caps.items()))


def _participant_kind(value: object) -> ParticipantKind:
    kinds = [kind.value for kind in ParticipantKind]
    if not isinstance(value, str) or value not in kinds:
        raise SwitchError(
            "invalid_participant", f"kind must be one of {', '.join(kinds)}, not {value!r}"
        )
    return ParticipantKind(value)


# --- the directory ---------------------------------------------------------------------


class Directory:
    """Participants, customers and merchants of one corridor database. Thread-safe."""

    def __init__(
        self, ledger: Ledger, connection: sqlite3.Connection, clock: Callable[[], int]
    ) -> None:
        self.ledger = ledger
        self._db = connection
        self._clock = clock
        self._lock = threading.RLock()
        # Registered records never change (registering again with other data is refused),
        # so a record once found is cached; misses are not, since they may be registered.
        self._cache: dict[tuple[object, ...], Participant | Customer | Merchant] = {}

    def _remember(self, key: tuple[object, ...], record: Participant | Customer | Merchant) -> None:
        if len(self._cache) >= CACHE_RECORDS_MAX:
            self._cache.clear()
        self._cache[key] = record

    @classmethod
    def open(cls, ledger: Ledger, *, clock: Callable[[], int] = time.time_ns) -> Directory:
        """The directory in `ledger`'s database file, creating its tables if missing.

        `clock` gives nanoseconds since the Unix epoch, for ``created_ns`` and for "today"
        when checking dates of birth.
        """
        connection = open_side_connection(
            ledger.store.path, DIRECTORY_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
        )
        return cls(ledger, connection, clock)

    def close(self) -> None:
        """Close the directory's connection (the ledger stays open)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Directory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One short write transaction; BEGIN IMMEDIATE waits for the ledger's writer."""
        with self._lock, immediate_transaction(self._db):
            yield

    @contextmanager
    def _read(self) -> Iterator[None]:
        """One read transaction, so that related rows come from the same commit."""
        with self._lock, read_transaction(self._db):
            yield

    def _today(self) -> dt.date:
        return dt.datetime.fromtimestamp(self._clock() // _NS_PER_S, dt.UTC).date()

    # -- participants ----------------------------------------------------------------------

    def register_participant(
        self,
        participant_id: str,
        *,
        kind: str,
        name: str,
        country: str,
        currencies: Sequence[str],
        net_debit_caps: Mapping[str, int] | None = None,
    ) -> Participant:
        """Register a participant and create its ledger accounts; returns what is stored.

        Creates a liquidity account per currency and, if missing, the hub's settlement and fee
        accounts in those currencies. Registering again with the same data returns the stored
        participant (and re-creates any account a crash left missing); with different data it
        is ``duplicate_participant``. Net debit caps are in minor units per currency code.
        """
        code = "invalid_participant"
        participant_id = _check_participant_id(participant_id, code)
        checked_kind = _participant_kind(kind)
        name = _check_text(name, "participant name", NAME_CHARS_MAX, code)
        country = _check_country(country, "participant country", code)
        codes, caps = _check_currencies(currencies, net_debit_caps)
        wanted = Participant(participant_id, checked_kind, name, country, codes, caps, 0)

        # Accounts first, row second: a participant in the directory always has its
        # accounts. A registration that loses a race with different data leaves accounts
        # with no participant, which hold nothing and are never used.
        existing = self._find_participant(participant_id)
        if existing is not None:
            _check_same_participant(existing, wanted)
        accounts = [account for c in codes for account in _hub_accounts(c)]
        accounts += [_liquidity_account(participant_id, c) for c in codes]
        self._create_accounts(accounts)
        if existing is not None:
            return existing

        created_ns = self._clock()
        with self._write():
            inserted = self._db.execute(
                "INSERT INTO participants (id, kind, name, country, created_ns)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
                (participant_id, checked_kind.value, name, country, created_ns),
            ).rowcount
            if inserted:
                self._db.executemany(
                    "INSERT INTO participant_currencies (participant_id, currency, net_debit_cap)"
                    " VALUES (?, ?, ?)",
                    [(participant_id, c, caps.get(c)) for c in codes],
                )
            stored = self._find_participant(participant_id)
        assert stored is not None
        _check_same_participant(stored, wanted)
        return stored

    def _create_accounts(self, accounts: list[Account]) -> None:
        results = self.ledger.create_accounts(accounts)
        for account, result in zip(accounts, results, strict=True):
            if result not in (CreateAccountResult.OK, CreateAccountResult.EXISTS):
                raise SwitchError(
                    "ledger_rejected",
                    f"the ledger refused account {account.id:032x} (code {account.code}): "
                    f"{result.value}",
                )

    def _find_participant(self, participant_id: str) -> Participant | None:
        with self._read():
            row = self._db.execute(
                "SELECT id, kind, name, country, created_ns FROM participants WHERE id = ?",
                (participant_id,),
            ).fetchone()
            if row is None:
                return None
            currency_rows = self._db.execute(
                "SELECT currency, net_debit_cap FROM participant_currencies"
                " WHERE participant_id = ? ORDER BY currency",
                (participant_id,),
            ).fetchall()
        return Participant(
            id=str(row[0]),
            kind=ParticipantKind(row[1]),
            name=str(row[2]),
            country=str(row[3]),
            currencies=tuple(str(r[0]) for r in currency_rows),
            net_debit_caps={str(r[0]): int(r[1]) for r in currency_rows if r[1] is not None},
            created_ns=int(row[4]),
        )

    def participant(self, participant_id: str) -> Participant:
        """The participant with this id; ``unknown_participant`` if none."""
        cached = self._cache.get(("participant", participant_id))
        if cached is not None:
            assert isinstance(cached, Participant)
            return cached
        found = self._find_participant(participant_id) if isinstance(participant_id, str) else None
        if found is None:
            raise SwitchError("unknown_participant", f"no participant {participant_id!r}")
        self._remember(("participant", participant_id), found)
        return found

    def participants(self) -> list[Participant]:
        """Every participant, by id."""
        with self._read():
            ids = [str(r[0]) for r in self._db.execute("SELECT id FROM participants ORDER BY id")]
            found = [self._find_participant(i) for i in ids]
        return [p for p in found if p is not None]

    # -- customers -------------------------------------------------------------------------

    def register_customer(
        self,
        customer_id: str,
        *,
        wallet_id: str,
        name_native: str,
        name_romanized: str,
        country: str,
        date_of_birth: dt.date | str,
        kyc_tier: str,
    ) -> Customer:
        """Register a wallet's customer; returns what is stored.

        `customer_id` is the wallet's own id for the customer (unique per wallet); the wallet
        must be a participant of kind wallet. Same data again is idempotent; different data
        is ``duplicate_party``.
        """
        code = "invalid_party"
        customer_id = _check_pattern(customer_id, _PARTY_ID, "customer id", code)
        name_native = _check_text(name_native, "native-script name", NAME_CHARS_MAX, code)
        name_romanized = _check_romanized(name_romanized, "romanized name")
        country = _check_country(country, "customer country", code)
        birth = _check_date_of_birth(date_of_birth, self._today())
        kyc_tier = _check_pattern(kyc_tier, _KYC_TIER, "KYC tier", code)
        wallet = self.participant(wallet_id)
        if wallet.kind is not ParticipantKind.WALLET:
            raise SwitchError(
                code, f"customers belong to wallets; {wallet.id} is a {wallet.kind.value}"
            )
        wanted = Customer(
            wallet.id, customer_id, name_native, name_romanized, country, birth, kyc_tier, 0
        )
        with self._write():
            self._db.execute(
                "INSERT INTO customers (participant_id, customer_id, name_native,"
                " name_romanized, country, date_of_birth, kyc_tier, created_ns)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (participant_id, customer_id) DO NOTHING",
                (
                    wallet.id,
                    customer_id,
                    name_native,
                    name_romanized,
                    country,
                    birth.isoformat(),
                    kyc_tier,
                    self._clock(),
                ),
            )
            stored = self._find_customer(wallet.id, customer_id)
            assert stored is not None
            if _without_created(stored) != _without_created(wanted):
                raise SwitchError(
                    "duplicate_party",
                    f"customer {customer_id!r} of {wallet.id} is registered with other data",
                )
        self._remember(("customer", wallet.id, customer_id), stored)  # committed: cache it
        return stored

    def _find_customer(self, wallet_id: str, customer_id: str) -> Customer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT participant_id, customer_id, name_native, name_romanized, country,"
                " date_of_birth, kyc_tier, created_ns FROM customers"
                " WHERE participant_id = ? AND customer_id = ?",
                (wallet_id, customer_id),
            ).fetchone()
        if row is None:
            return None
        return Customer(
            wallet_id=str(row[0]),
            customer_id=str(row[1]),
            name_native=str(row[2]),
            name_romanized=str(row[3]),
            country=str(row[4]),
            date_of_birth=dt.date.fromisoformat(str(row[5])),
            kyc_tier=str(row[6]),
            created_ns=int(row[7]),
        )

    def customer(self, wallet_id: str, customer_id: str) -> Customer:
        """The wallet's customer with this id; ``unknown_customer`` if none."""
        cached = self._cache.get(("customer", wallet_id, customer_id))
        if cached is not None:
            assert isinstance(cached, Customer)
            return cached
        found = (
            self._find_customer(wallet_id, customer_id)
            if isinstance(wallet_id, str) and isinstance(customer_id, str)
            else None
        )
        if found is not None:
            self._remember(("customer", wallet_id, customer_id), found)
        if found is None:
            raise SwitchError(
                "unknown_customer", f"wallet {wallet_id!r} has no customer {customer_id!r}"
            )
        return found

    # -- merchants -------------------------------------------------------------------------

    def register_merchant(
        self,
        merchant_id: str,
        *,
        acquirer_id: str,
        name: str,
        mcc: str,
        city: str,
        region: str,
        currency: str,
        name_native: str | None = None,
    ) -> Merchant:
        """Register a merchant of an acquirer; returns what is stored.

        The acquirer must be a participant of kind acquirer operating in `currency`, and
        `region` an ISO 3166-2 subdivision (``JP-26``). Same data again is idempotent;
        different data is ``duplicate_party``.
        """
        code = "invalid_party"
        merchant_id = _check_pattern(merchant_id, _PARTY_ID, "merchant id", code)
        name = _check_text(name, "merchant name", NAME_CHARS_MAX, code)
        if name_native is not None:
            name_native = _check_text(name_native, "native-script name", NAME_CHARS_MAX, code)
        mcc = _check_pattern(mcc, _MCC, "merchant category code (4 digits)", code)
        city = _check_text(city, "city", CITY_CHARS_MAX, code)
        region = _check_pattern(region, _REGION, "region (ISO 3166-2, e.g. JP-26)", code)
        if pycountry.subdivisions.get(code=region) is None:  # type: ignore[no-untyped-call]
            raise SwitchError(code, f"region {region} is not an ISO 3166-2 subdivision")
        if currency not in CORRIDOR_CURRENCIES:
            raise SwitchError(code, f"merchant currency {currency!r} is not a corridor currency")
        acquirer = self.participant(acquirer_id)
        if acquirer.kind is not ParticipantKind.ACQUIRER:
            raise SwitchError(
                code, f"merchants belong to acquirers; {acquirer.id} is a {acquirer.kind.value}"
            )
        if currency not in acquirer.currencies:
            raise SwitchError(code, f"acquirer {acquirer.id} does not operate in {currency}")
        wanted = Merchant(
            merchant_id, acquirer.id, name, name_native, mcc, city, region, currency, 0
        )
        with self._write():
            self._db.execute(
                "INSERT INTO merchants (id, acquirer_id, name, name_native, mcc, city, region,"
                " currency, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (
                    merchant_id,
                    acquirer.id,
                    name,
                    name_native,
                    mcc,
                    city,
                    region,
                    currency,
                    self._clock(),
                ),
            )
            stored = self._find_merchant(merchant_id)
            assert stored is not None
            if _without_created(stored) != _without_created(wanted):
                raise SwitchError(
                    "duplicate_party", f"merchant {merchant_id!r} is registered with other data"
                )
        self._remember(("merchant", merchant_id), stored)  # committed: cache it
        return stored

    def _find_merchant(self, merchant_id: str) -> Merchant | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, acquirer_id, name, name_native, mcc, city, region, currency,"
                " created_ns FROM merchants WHERE id = ?",
                (merchant_id,),
            ).fetchone()
        if row is None:
            return None
        return Merchant(
            id=str(row[0]),
            acquirer_id=str(row[1]),
            name=str(row[2]),
            name_native=None if row[3] is None else str(row[3]),
            mcc=str(row[4]),
            city=str(row[5]),
            region=str(row[6]),
            currency=str(row[7]),
            created_ns=int(row[8]),
        )

    def merchant(self, merchant_id: str) -> Merchant:
        """The merchant with this id; ``unknown_merchant`` if none."""
        cached = self._cache.get(("merchant", merchant_id))
        if cached is not None:
            assert isinstance(cached, Merchant)
            return cached
        found = self._find_merchant(merchant_id) if isinstance(merchant_id, str) else None
        if found is None:
            raise SwitchError("unknown_merchant", f"no merchant {merchant_id!r}")
        self._remember(("merchant", merchant_id), found)
        return found

    def merchant_from_qr(self, payload: str) -> ScannedMerchant:
        """The merchant a scanned EMVCo QR payload names, with the decoded QR.

        The payload must decode (CRC included) and carry the corridor template; its currency
        and country must be the merchant's. Refusals are ``invalid_qr`` (the message starts
        with the QR error code) and ``unknown_merchant``.
        """
        try:
            qr = emvqr.decode(payload)
            qr_currency = qr.currency_code
        except emvqr.QRError as error:
            raise SwitchError("invalid_qr", f"{error.code}: {error}") from error
        merchant_id = qr.corridor_merchant_id
        if merchant_id is None:
            raise SwitchError(
                "invalid_qr",
                f"not_a_corridor_merchant: the QR has no {emvqr.CORRIDOR_GUI} template",
            )
        merchant = self.merchant(merchant_id)
        if qr_currency != merchant.currency:
            raise SwitchError(
                "invalid_qr",
                f"currency_mismatch: the QR asks for {qr_currency}; merchant {merchant.id} "
                f"is paid in {merchant.currency}",
            )
        if qr.country_code != merchant.country:
            raise SwitchError(
                "invalid_qr",
                f"country_mismatch: the QR says {qr.country_code}; merchant {merchant.id} "
                f"is in {merchant.country}",
            )
        return ScannedMerchant(merchant, qr)


def merchant_qr(
    merchant: Merchant, *, amount: Money | None = None, reference: str | None = None
) -> emvqr.MerchantQR:
    """The merchant's EMVCo QR: static (no amount, ID 01 "11") or dynamic (amount, "12").

    The name and city are folded to the printable ASCII EMVCo requires (accents dropped,
    other characters left out) and cut to 25 and 15 characters; `reference` goes in the
    additional data (ID 62, reference label 05). ``invalid_amount`` if the amount is not a
    positive amount in the merchant's currency; ``invalid_qr`` if the QR cannot be built.
    """
    if amount is not None and (
        not isinstance(amount, Money)
        or amount.amount <= 0
        or amount.currency.code != merchant.currency
    ):
        raise SwitchError(
            "invalid_amount",
            f"a QR amount is a positive amount in {merchant.currency}, not {amount!r}",
        )
    unit = currency(merchant.currency)
    try:
        return emvqr.MerchantQR(
            merchant_category_code=merchant.mcc,
            transaction_currency=f"{unit.numeric:03d}",
            country_code=merchant.country,
            merchant_name=_ascii(merchant.name, emvqr.MERCHANT_NAME_CHARS_MAX) or merchant.id[:25],
            merchant_city=_ascii(merchant.city, emvqr.MERCHANT_CITY_CHARS_MAX) or "-",
            merchant_accounts=emvqr.corridor_account(merchant.id),
            point_of_initiation=(
                emvqr.POINT_OF_INITIATION_STATIC
                if amount is None
                else emvqr.POINT_OF_INITIATION_DYNAMIC
            ),
            transaction_amount=None if amount is None else format_amount(amount),
            additional_data={} if reference is None else {"05": reference},
        )
    except emvqr.QRError as error:
        raise SwitchError("invalid_qr", f"{error.code}: {error}") from None


def _ascii(text: str, chars_max: int) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    printable = "".join(c for c in folded if " " <= c <= "~")
    return " ".join(printable.split())[:chars_max].strip()


def _check_same_participant(stored: Participant, wanted: Participant) -> None:
    if _without_created(stored) != _without_created(wanted):
        raise SwitchError(
            "duplicate_participant", f"participant {stored.id} is registered with other data"
        )


def _without_created(record: Participant | Customer | Merchant) -> tuple[object, ...]:
    """A record's fields but ``created_ns``, to compare a re-registration with the stored."""
    return tuple(
        getattr(record, name) for name in record.__dataclass_fields__ if name != "created_ns"
    )
