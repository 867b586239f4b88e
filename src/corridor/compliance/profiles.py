"""Jurisdiction profiles: the KYC tiers, transfer caps and thresholds compliance applies.

Each jurisdiction (CN, JP, KR) has a TOML file in ``compliance/profiles/``, and ``fatf.toml``
is the default for customers of any other country and for anything a jurisdiction leaves out
(its travel-rule threshold). Figures live in these data files, never in code, and every figure
names its source: the regulation, article, URL and the date it was checked.

A profile holds:

- **tiers**: the customer's KYC tier (``PartyInfo.kyc_tier``, matched on the tier id or one of
  its aliases, case-insensitively) with its limits in the tier's currency: balance, per
  payment, daily (rolling 24 h) and annual (rolling 365 days), each optional, and the caps
  that apply to the tier's payments. A tier missing or unknown to the profile is held to the
  profile's ``unknown_tier`` (the strictest), so an unknown tier never loosens a limit.
- **caps**: legal caps on funds transfers (per transfer, daily, annual), e.g. the Japanese
  Payment Services Act's Type II and III caps or Korea's small-sum remittance caps.
- **travel_rule**: the threshold from which originator and beneficiary data must travel.
- **reporting**: large-value reporting thresholds, for the reports and for monitoring's
  structuring rule (payments kept just below them).

A threshold may be written in several currencies (CN: RMB 200,000 *or* USD 10,000); it is
reached when the payment reaches it in any currency the payment is priced in. A payment is
priced in its source currency, its target currency and US dollars (`PaymentEvent.usd_cents`);
`event_amount` gives the amount in one of them.

Loading validates everything (unknown keys, types, amounts with the currency's decimals,
references between tables) and refuses a bad file with ``ComplianceError("invalid_profile",
...)`` naming the file and the key.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pycountry
from babel.numbers import get_currency_precision

from corridor.compliance.errors import ComplianceError
from corridor.compliance.types import PaymentEvent

__all__ = [
    "DEFAULT_JURISDICTION",
    "PROFILES_DIR",
    "SCHEMA_VERSION",
    "Cap",
    "Profile",
    "Profiles",
    "Source",
    "Threshold",
    "Tier",
    "default_profiles",
    "event_amount",
    "format_minor",
    "load_profile",
    "load_profiles",
    "minor_units",
    "parse_decimal_amount",
]

SCHEMA_VERSION: Final = 1
PROFILES_DIR: Final = Path(__file__).resolve().parent / "profiles"
DEFAULT_JURISDICTION: Final = "FATF"
PROFILE_BYTES_MAX: Final = 256 * 1024
"""Largest profile file read, in bytes."""
TIERS_MAX: Final = 16
CAPS_MAX: Final = 16
REPORTING_MAX: Final = 32
ALIASES_MAX: Final = 16
TEXT_CHARS_MAX: Final = 1000
ID_CHARS_MAX: Final = 48

COMPARISONS: Final = ("at_least", "more_than")
"""``at_least``: reached at the figure (≥); ``more_than``: only above it (>)."""
BASES: Final = ("transaction", "day", "transaction_or_day")
"""What a reporting threshold is compared with: one payment, a day's total, or either."""
APPLIES_TO: Final = (
    "cash",
    "cross_border",
    "cross_border_individual",
    "virtual_asset_transfer",
    "wire_transfer",
)

_ID: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{ID_CHARS_MAX - 1}}}")
_AMOUNT: Final = re.compile(r"([0-9]{1,19})(?:\.([0-9]+))?")
_JURISDICTION: Final = re.compile(r"[A-Z]{2}|FATF")
_URL: Final = re.compile(r"https?://\S+")
_CURRENCY: Final = re.compile(r"[A-Z]{3}")


# --- amounts ---------------------------------------------------------------------------


@functools.cache
def minor_units(currency: str) -> int:
    """Decimal digits of `currency`'s minor unit (CLDR, as `corridor.switch.money`)."""
    if _CURRENCY.fullmatch(currency) is None or pycountry.currencies.get(alpha_3=currency) is None:
        raise ComplianceError("unknown_currency", f"not an ISO 4217 currency: {currency!r}")
    return int(get_currency_precision(currency))


def parse_decimal_amount(text: str, currency: str) -> int:
    """Minor units from a decimal string with at most the currency's decimals ("2000.00")."""
    match = _AMOUNT.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"not a decimal amount: {text!r}")
    whole, fraction = match.group(1), match.group(2) or ""
    digits = minor_units(currency)
    if len(fraction) > digits:
        raise ValueError(f"{currency} has {digits} decimals; {text!r} has {len(fraction)}")
    return int(whole + fraction.ljust(digits, "0"))


def format_minor(amount: int, currency: str) -> str:
    """An amount of minor units with thousands separators: 195000 CNY is "1,950.00"."""
    digits = minor_units(currency)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**digits)
    return f"{sign}{whole:,}.{fraction:0{digits}d}" if digits else f"{sign}{whole:,}"


def event_amount(event: PaymentEvent, currency: str) -> int | None:
    """What `event` amounts to in `currency`, if it is priced in it, else None.

    The payer's side first (source currency, what the wallet pays, fee included), then the
    merchant's (target currency), then the switch's US-dollar equivalent.
    """
    if currency == event.source_currency:
        return event.source_amount
    if currency == event.target_currency:
        return event.target_amount
    if currency == "USD":
        return event.usd_cents
    return None


# --- records ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a figure comes from."""

    key: str
    title: str
    article: str
    url: str
    checked: dt.date
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Cap:
    """A legal cap on funds transfers, in one currency (minor units; None = no cap)."""

    id: str
    description: str
    currency: str
    per_transfer: int | None
    daily: int | None
    annual: int | None
    source: Source


@dataclass(frozen=True, slots=True)
class Tier:
    """A KYC tier and its limits in `currency` (minor units; None = no limit)."""

    id: str
    aliases: tuple[str, ...]
    description: str
    currency: str
    balance: int | None
    per_payment: int | None
    daily: int | None
    annual: int | None
    caps: tuple[str, ...]
    """Ids of the profile's caps that also apply to this tier's payments."""
    source: Source


@dataclass(frozen=True, slots=True)
class Threshold:
    """A figure in one or more currencies from which something applies (report, travel rule)."""

    id: str
    description: str
    applies_to: str
    basis: str
    comparison: str
    amounts: Mapping[str, int] = field(hash=False)
    """Currency code to minor units; reached when reached in any one of them."""
    source: Source

    def reached(self, amount: int, currency: str) -> bool:
        """Whether `amount` minor units of `currency` reach the figure in that currency."""
        figure = self.amounts.get(currency)
        if figure is None:
            return False
        return amount >= figure if self.comparison == "at_least" else amount > figure

    def reached_by(self, event: PaymentEvent) -> tuple[str, int, int] | None:
        """The first (currency, amount, figure) in which `event` reaches it, or None."""
        for currency, figure in self.amounts.items():
            amount = event_amount(event, currency)
            if amount is not None and self.reached(amount, currency):
                return currency, amount, figure
        return None

    def describe(self) -> str:
        """The figure as text: "USD 1,000.00 or EUR 1,000.00" (with ≥ or >)."""
        sign = "≥" if self.comparison == "at_least" else ">"
        return " or ".join(f"{sign} {c} {format_minor(a, c)}" for c, a in self.amounts.items())


@dataclass(frozen=True, slots=True)
class Profile:
    """One jurisdiction's profile, validated."""

    jurisdiction: str
    """ISO 3166-1 alpha-2, or ``FATF`` for the default profile."""
    name: str
    currency: str
    tiers: tuple[Tier, ...]
    unknown_tier: str | None
    caps: Mapping[str, Cap] = field(hash=False)
    travel_rule: Threshold | None = None
    """None when the profile has none of its own (the default profile's applies)."""
    reporting: tuple[Threshold, ...] = ()
    sources: Mapping[str, Source] = field(default_factory=dict, hash=False)
    path: str = ""

    def tier(self, name: str | None) -> tuple[Tier | None, bool]:
        """The tier for a customer's `kyc_tier`, and whether it was assumed.

        Matches the id or an alias, ignoring case. A missing or unknown tier gives the
        profile's ``unknown_tier`` with ``True``; a profile without tiers gives ``(None,
        False)``.
        """
        if not self.tiers:
            return None, False
        if name is not None:
            wanted = name.casefold()
            for tier in self.tiers:
                if tier.id.casefold() == wanted or wanted in tier.aliases:
                    return tier, False
        fallback = next(t for t in self.tiers if t.id == self.unknown_tier)
        return fallback, True


class Profiles:
    """Every loaded profile, looked up by jurisdiction with the FATF profile as default."""

    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        if DEFAULT_JURISDICTION not in profiles:
            raise ComplianceError(
                "invalid_profile", f"no {DEFAULT_JURISDICTION} default profile among the profiles"
            )
        default = profiles[DEFAULT_JURISDICTION]
        if default.travel_rule is None:
            raise ComplianceError(
                "invalid_profile", f"{default.path}: travel_rule: the default profile needs one"
            )
        self._profiles = dict(profiles)
        self.default = default

    def __iter__(self) -> Iterator[Profile]:
        return iter(self._profiles.values())

    def __len__(self) -> int:
        return len(self._profiles)

    def get(self, jurisdiction: str) -> Profile:
        """The profile of `jurisdiction` (``CN``, ``FATF``...); ``unknown_jurisdiction``."""
        found = self._profiles.get(jurisdiction)
        if found is None:
            raise ComplianceError("unknown_jurisdiction", f"no profile for {jurisdiction!r}")
        return found

    def for_country(self, country: str) -> Profile:
        """The profile for a party of `country` (ISO 3166-1 alpha-2), else the default."""
        if country == DEFAULT_JURISDICTION:
            return self.default
        return self._profiles.get(country, self.default)

    def travel_rule(self, country: str) -> Threshold:
        """The travel-rule threshold for a payer of `country` (its own, else the default)."""
        own = self.for_country(country).travel_rule
        if own is not None:
            return own
        assert self.default.travel_rule is not None
        return self.default.travel_rule


# --- loading ---------------------------------------------------------------------------


class _Reader:
    """Reads one table of a profile file, naming the file and key in every refusal."""

    def __init__(self, path: Path, table: Mapping[str, object], where: str) -> None:
        self.path = path
        self.table = table
        self.where = where

    def fail(self, key: str, message: str) -> ComplianceError:
        name = f"{self.where}.{key}" if self.where else key
        return ComplianceError("invalid_profile", f"{self.path.name}: {name}: {message}")

    def only(self, allowed: set[str]) -> None:
        for key in self.table:
            if key not in allowed:
                raise self.fail(key, f"unknown key (allowed: {', '.join(sorted(allowed))})")

    def sub(self, key: str, table: object) -> _Reader:
        if not isinstance(table, Mapping):
            raise self.fail(key, f"must be a table, not {type(table).__name__}")
        return _Reader(self.path, table, f"{self.where}.{key}" if self.where else key)

    def raw(self, key: str, required: bool) -> object:
        if key not in self.table:
            if required:
                raise self.fail(key, "is required")
            return None
        return self.table[key]

    def text(self, key: str, *, required: bool = True, chars_max: int = TEXT_CHARS_MAX) -> str:
        value = self.raw(key, required)
        if value is None:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be non-empty text, not {value!r}")
        if len(value) > chars_max:
            raise self.fail(key, f"has {len(value)} characters; at most {chars_max}")
        return value

    def optional_text(self, key: str) -> str | None:
        return self.text(key, required=False) or None

    def ident(self, key: str) -> str:
        value = self.text(key, chars_max=ID_CHARS_MAX)
        if _ID.fullmatch(value) is None:
            raise self.fail(key, f"is not an id (letters, digits, '_', '.', '-'): {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def currency(self, key: str) -> str:
        value = self.text(key, chars_max=3)
        try:
            minor_units(value)
        except ComplianceError:
            raise self.fail(key, f"is not an ISO 4217 currency: {value!r}") from None
        return value

    def amount(self, key: str, currency: str) -> int | None:
        value = self.raw(key, False)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(key, f'must be a decimal string such as "2000.00", not {value!r}')
        try:
            amount = parse_decimal_amount(value, currency)
        except ValueError as error:
            raise self.fail(key, str(error)) from None
        if amount <= 0:
            raise self.fail(key, f"must be positive, not {value!r}")
        return amount

    def strings(self, key: str, items_max: int) -> tuple[str, ...]:
        value = self.raw(key, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"must be a list of non-empty strings, not {value!r}")
        if len(value) > items_max:
            raise self.fail(key, f"has {len(value)} items; at most {items_max}")
        if len(set(value)) != len(value):
            raise self.fail(key, f"lists an item twice: {value!r}")
        return tuple(value)

    def tables(self, key: str, items_max: int) -> list[Mapping[str, object]]:
        value = self.raw(key, False)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
            raise self.fail(key, "must be an array of tables ([[...]])")
        if len(value) > items_max:
            raise self.fail(key, f"has {len(value)} entries; at most {items_max}")
        return value

    def source(self, key: str, sources: Mapping[str, Source]) -> Source:
        name = self.text(key, chars_max=ID_CHARS_MAX)
        found = sources.get(name)
        if found is None:
            raise self.fail(key, f"names source {name!r}, which the [sources] table lacks")
        return found


def _read_sources(top: _Reader) -> dict[str, Source]:
    table = top.raw("sources", True)
    reader = top.sub("sources", table)
    if not reader.table:
        raise top.fail("sources", "must cite at least one source")
    sources: dict[str, Source] = {}
    for key, entry in reader.table.items():
        if _ID.fullmatch(key) is None:
            raise reader.fail(key, "is not an id")
        item = reader.sub(key, entry)
        item.only({"title", "article", "url", "checked", "note"})
        url = item.text("url")
        if _URL.fullmatch(url) is None:
            raise item.fail("url", f"is not an http(s) URL: {url!r}")
        checked = item.raw("checked", True)
        if not isinstance(checked, dt.date) or isinstance(checked, dt.datetime):
            raise item.fail("checked", f"must be a TOML date (YYYY-MM-DD), not {checked!r}")
        sources[key] = Source(
            key=key,
            title=item.text("title"),
            article=item.text("article"),
            url=url,
            checked=checked,
            note=item.optional_text("note"),
        )
    return sources


def _read_threshold(
    reader: _Reader, sources: Mapping[str, Source], default_id: str | None
) -> Threshold:
    allowed = {"description", "applies_to", "comparison", "thresholds", "source"}
    allowed |= {"id", "basis"} if default_id is None else set()
    reader.only(allowed)
    amounts_table = reader.sub("thresholds", reader.raw("thresholds", True))
    if not amounts_table.table:
        raise reader.fail("thresholds", "must give the figure in at least one currency")
    amounts: dict[str, int] = {}
    for currency in amounts_table.table:
        if (
            _CURRENCY.fullmatch(currency) is None
            or pycountry.currencies.get(alpha_3=currency) is None
        ):
            raise amounts_table.fail(currency, "is not an ISO 4217 currency")
        amount = amounts_table.amount(currency, currency)
        assert amount is not None
        amounts[currency] = amount
    return Threshold(
        id=default_id if default_id is not None else reader.ident("id"),
        description=reader.text("description"),
        applies_to=reader.choice("applies_to", APPLIES_TO),
        basis="transaction" if default_id is not None else reader.choice("basis", BASES),
        comparison=reader.choice("comparison", COMPARISONS),
        amounts=amounts,
        source=reader.source("source", sources),
    )


def _read_cap(reader: _Reader, sources: Mapping[str, Source]) -> Cap:
    reader.only({"id", "description", "currency", "per_transfer", "daily", "annual", "source"})
    currency = reader.currency("currency")
    cap = Cap(
        id=reader.ident("id"),
        description=reader.text("description"),
        currency=currency,
        per_transfer=reader.amount("per_transfer", currency),
        daily=reader.amount("daily", currency),
        annual=reader.amount("annual", currency),
        source=reader.source("source", sources),
    )
    if cap.per_transfer is None and cap.daily is None and cap.annual is None:
        raise reader.fail("per_transfer", "a cap needs per_transfer, daily or annual")
    return cap


def _read_tier(reader: _Reader, sources: Mapping[str, Source], caps: Mapping[str, Cap]) -> Tier:
    reader.only(
        {
            "id",
            "aliases",
            "description",
            "currency",
            "balance",
            "per_payment",
            "daily",
            "annual",
            "caps",
            "source",
        }
    )
    currency = reader.currency("currency")
    cap_ids = reader.strings("caps", CAPS_MAX)
    for cap_id in cap_ids:
        if cap_id not in caps:
            raise reader.fail("caps", f"names cap {cap_id!r}, which no [[caps]] entry defines")
    aliases = reader.strings("aliases", ALIASES_MAX)
    return Tier(
        id=reader.ident("id"),
        aliases=tuple(a.casefold() for a in aliases),
        description=reader.text("description"),
        currency=currency,
        balance=reader.amount("balance", currency),
        per_payment=reader.amount("per_payment", currency),
        daily=reader.amount("daily", currency),
        annual=reader.amount("annual", currency),
        caps=cap_ids,
        source=reader.source("source", sources),
    )


def load_profile(path: str | Path) -> Profile:
    """Read and validate one profile file; ``invalid_profile`` names the file and key."""
    path = Path(path)
    top = _Reader(path, {}, "")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ComplianceError("invalid_profile", f"{path}: cannot read: {error}") from None
    if len(data) > PROFILE_BYTES_MAX:
        raise ComplianceError(
            "invalid_profile", f"{path.name}: {len(data)} bytes; at most {PROFILE_BYTES_MAX}"
        )
    try:
        document = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ComplianceError("invalid_profile", f"{path.name}: not valid TOML: {error}") from None
    top = _Reader(path, document, "")
    top.only(
        {
            "schema",
            "jurisdiction",
            "name",
            "currency",
            "unknown_tier",
            "tiers",
            "caps",
            "travel_rule",
            "reporting",
            "sources",
        }
    )
    schema = top.raw("schema", True)
    if schema != SCHEMA_VERSION:
        raise top.fail("schema", f"must be {SCHEMA_VERSION}, not {schema!r}")
    jurisdiction = top.text("jurisdiction", chars_max=4)
    if _JURISDICTION.fullmatch(jurisdiction) is None or (
        jurisdiction != DEFAULT_JURISDICTION
        and pycountry.countries.get(alpha_2=jurisdiction) is None
    ):
        raise top.fail(
            "jurisdiction", f"is neither an ISO 3166-1 country nor FATF: {jurisdiction!r}"
        )
    if path.stem.upper() != jurisdiction:
        raise top.fail("jurisdiction", f"{jurisdiction} does not match the file name {path.name}")
    sources = _read_sources(top)

    caps: dict[str, Cap] = {}
    for index, entry in enumerate(top.tables("caps", CAPS_MAX)):
        cap = _read_cap(top.sub(f"caps[{index}]", entry), sources)
        if cap.id in caps:
            raise top.fail(f"caps[{index}].id", f"cap {cap.id!r} is defined twice")
        caps[cap.id] = cap

    tiers: list[Tier] = []
    names: set[str] = set()
    for index, entry in enumerate(top.tables("tiers", TIERS_MAX)):
        tier = _read_tier(top.sub(f"tiers[{index}]", entry), sources, caps)
        for name in (tier.id.casefold(), *tier.aliases):
            if name in names:
                raise top.fail(f"tiers[{index}]", f"tier name or alias {name!r} is used twice")
            names.add(name)
        tiers.append(tier)

    unknown_tier = top.optional_text("unknown_tier")
    if tiers and unknown_tier is None:
        raise top.fail("unknown_tier", "is required when the profile has tiers")
    if unknown_tier is not None and unknown_tier not in {t.id for t in tiers}:
        raise top.fail("unknown_tier", f"names tier {unknown_tier!r}, which is not defined")

    travel_table = top.raw("travel_rule", False)
    travel_rule = (
        None
        if travel_table is None
        else _read_threshold(top.sub("travel_rule", travel_table), sources, "travel_rule")
    )
    reporting: list[Threshold] = []
    for index, entry in enumerate(top.tables("reporting", REPORTING_MAX)):
        threshold = _read_threshold(top.sub(f"reporting[{index}]", entry), sources, None)
        if any(r.id == threshold.id for r in reporting):
            raise top.fail(f"reporting[{index}].id", f"{threshold.id!r} is defined twice")
        reporting.append(threshold)

    used = {t.source.key for t in tiers} | {c.source.key for c in caps.values()}
    used |= {r.source.key for r in reporting}
    if travel_rule is not None:
        used.add(travel_rule.source.key)
    for key in sources:
        if key not in used:
            raise top.fail(f"sources.{key}", "is cited by no figure")

    return Profile(
        jurisdiction=jurisdiction,
        name=top.text("name"),
        currency=top.currency("currency"),
        tiers=tuple(tiers),
        unknown_tier=unknown_tier,
        caps=caps,
        travel_rule=travel_rule,
        reporting=tuple(reporting),
        sources=sources,
        path=str(path),
    )


def load_profiles(directory: str | Path | None = None) -> Profiles:
    """Every ``*.toml`` profile in `directory` (default: the packaged profiles)."""
    folder = PROFILES_DIR if directory is None else Path(directory)
    paths = sorted(folder.glob("*.toml"))
    if not paths:
        raise ComplianceError("invalid_profile", f"{folder}: no *.toml profiles")
    profiles: dict[str, Profile] = {}
    for path in paths:
        profile = load_profile(path)
        profiles[profile.jurisdiction] = profile
    return Profiles(profiles)


@functools.cache
def default_profiles() -> Profiles:
    """The packaged profiles, loaded once per process."""
    return load_profiles()
