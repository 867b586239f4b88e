"""FX quotes: what the payer pays, what the merchant gets, at which rate, for how long.

A tourist's wallet in one currency pays a merchant in another. Before the payment is
reserved, the switch asks an FX provider participant for a quote: the source amount (in the
payer's currency), the target amount (in the merchant's currency), the rate that links them,
the fee, and an expiry. A payment then uses the quote exactly once, before it expires. This
module holds the rate sources, the pricing rules, the `Quote` value and the `QuoteBook` that
issues quotes and hands each out once.

Rates. A rate is a `Decimal`: units of the target currency one unit of the source currency
buys for the customer (CNY→JPY at 20.67 means one yuan buys 20.67 yen), in major units, as in
`corridor.switch.money.convert`. Rate sources sit behind the one-method `RateSource` protocol:

- `EcbRateSource`: the ECB euro reference rates (`corridor.formats.ecb`), as mid rates with
  no spread. The ECB publishes units of each currency per 1 EUR, so the cross rate A→B is
  rate_B / rate_A, computed to `RATE_PRECISION_DIGITS` (28) significant digits, rounded
  half-even (it is a mid rate: neither side is favoured). The rates used are those of the UTC
  calendar day of the quote, falling back to the previous business day over weekends and
  holidays (the ECB's publication time, around 16:00 CET, is not modelled).
- `ProviderRateSource`: an FX provider's own prices, a bid and an ask per currency pair
  ``BASE/QUOTE`` (`PairPrice`, quoted as units of QUOTE per 1 BASE, like USD/JPY 150.20 /
  150.30), given directly or as a mid and a spread in basis points. The provider buys BASE at
  the bid and sells BASE at the ask, so the customer always gets the side that is worse for
  the customer: converting BASE→QUOTE the customer sells BASE and gets the bid; converting
  QUOTE→BASE the customer buys BASE and pays the ask, so gets 1/ask (28 significant digits,
  rounded down so that the customer never gets more than the ask allows). The spread is the
  provider's margin; the fee is separate.

Rounding. Amounts are integers of minor units, and the rate rarely divides them evenly. The
rule, for both kinds of quote: rounding never makes the provider pay out more than it takes
in at the quoted rate, and never takes more from the payer than one minor unit of the
currency being rounded. Exactly (no float, no intermediate rounding), with ``rate`` the quote's
rate:

- `quote_for_target` (the merchant's QR fixes the target, say JPY 1,000): the source amount is
  the smallest amount whose value at the rate covers the target, ``source * rate >= target``
  (rounded up, a ceiling): the payer pays less than one source minor unit more than the exact
  value, and the provider never funds a rounding shortfall.
- `quote_for_source` (the payer fixes how much to convert): the target amount is the largest
  amount the source covers, ``target <= source * rate`` (rounded down, a floor): the merchant
  gets less than one target minor unit less than the exact value.

Half-even rounding (the corridor's default, `corridor.switch.money.convert`) is not used for
quote amounts because it rounds up half the time and would let every such quote cost the
provider up to half a minor unit; it is used for the percentage part of fees, which is an
amount the hub charges rather than a conversion. Since ``source * rate >= target`` exactly,
``convert(source, rate) >= target`` holds too.

Fees. A `FeeSchedule` (data, loadable from a mapping: basis points plus a fixed amount per
source currency) gives the fee in the source currency's minor units: fixed +
round_half_even(source * bps / 10,000), computed on the converted source amount. The fee is on
top: the payer is debited ``source + fee`` (`Quote.debit_total`); the FX provider receives
``source`` and the hub ``fee``.

Same currency. A quote between a currency and itself is refused (``same_currency``): a
domestic payment needs no FX provider, and the switch routes it without a quote rather than
through an FX provider's accounts at 1:1.

Time. The clock is passed in: every call that needs the time takes ``now_ns`` (integer
nanoseconds since the Unix epoch, UTC). A quote is valid while ``now_ns < expires_at_ns``, and
``expires_at_ns = created_at_ns + ttl_s * NS_PER_S`` (`QUOTE_TTL_S` by default). Quote ids come
from an id generator passed to the `QuoteBook` (by default a counter: ``quote-1``,
``quote-2``, ...), so a seeded run issues the same ids every time.

Every refusal is an `FxError` with a stable `code` (listed on the class).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Context, Decimal, Inexact, InvalidOperation
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Protocol

from corridor.formats.ecb import FALLBACK_DAYS_MAX, EcbError, EcbRates
from corridor.switch.money import (
    AMOUNT_MAX_MINOR,
    RATE_DIGITS_MAX,
    Currency,
    Money,
    MoneyError,
    currency,
    parse_amount,
)

__all__ = [
    "BPS_PER_UNIT",
    "FEE_BPS_MAX",
    "NO_FEES",
    "NS_PER_S",
    "QUOTES_MAX",
    "QUOTE_ID_CHARS_MAX",
    "QUOTE_RETENTION_S",
    "QUOTE_TTL_S",
    "RATE_PRECISION_DIGITS",
    "SPREAD_BPS_MAX",
    "EcbRateSource",
    "FeeSchedule",
    "FixedSide",
    "FxError",
    "FxProvider",
    "PairPrice",
    "ProviderRateSource",
    "Quote",
    "QuoteBook",
    "RateSource",
    "quote_for_source",
    "quote_for_target",
    "sequential_ids",
]

QUOTE_TTL_S: Final = 60
"""How long a quote stays valid, in seconds: long enough to read and confirm on a phone."""

QUOTE_RETENTION_S: Final = 60
"""How long a `QuoteBook` remembers a quote after it expires, in seconds (then forgets it)."""

QUOTES_MAX: Final = 2_000_000
"""Most quotes a `QuoteBook` holds: 10,000 quotes/s for TTL plus retention is 1.2 million."""

QUOTE_ID_CHARS_MAX: Final = 64
"""Longest quote id, in characters."""

NS_PER_S: Final = 1_000_000_000
NS_PER_DAY: Final = 86_400 * NS_PER_S

BPS_PER_UNIT: Final = 10_000
"""Basis points in one (100%)."""

FEE_BPS_MAX: Final = 1_000
"""Largest percentage fee, in basis points (10%)."""

SPREAD_BPS_MAX: Final = 2_000
"""Widest bid-ask spread a provider may quote, in basis points of the mid (20%)."""

RATE_PRECISION_DIGITS: Final = 28
"""Significant digits of a derived rate (a cross rate, 1/ask): Python's default precision,
well within `RATE_DIGITS_MAX` (34), and far finer than any minor unit of any amount."""

_HALF_EVEN: Final = Context(prec=RATE_PRECISION_DIGITS, rounding=ROUND_HALF_EVEN)
_DOWN: Final = Context(prec=RATE_PRECISION_DIGITS, rounding=ROUND_FLOOR)
# from_mid computes bid and ask exactly: a mid of at most 28 digits times (20,000 ± spread)
# times 0.00005 has at most 34 digits, so Inexact can only mean a bug.
_EXACT: Final = Context(prec=RATE_DIGITS_MAX, traps=[Inexact, InvalidOperation])
_EURO: Final = "EUR"
_EPOCH: Final = dt.date(1970, 1, 1)


class FxError(Exception):
    """A rate, quote or use of a quote is refused; `code` says why and never changes.

    Codes: ``unknown_currency`` (not an ISO 4217 code), ``same_currency`` (source and target
    are one currency), ``no_rate`` (the source has no rate for the pair, or none on that
    date), ``invalid_rate`` (a rate that is not a positive finite Decimal of at most 34 digits),
    ``invalid_spread`` (bid above ask, a negative spread, or one wider than
    `SPREAD_BPS_MAX`), ``duplicate_pair`` (a provider prices one pair twice), ``invalid_fee``
    (a fee schedule out of bounds), ``invalid_amount`` (not a positive amount, or one that
    converts to less than one minor unit), ``amount_too_large`` (beyond a signed 64-bit
    count of minor units), ``quote_expired``, ``quote_used``, ``unknown_quote``,
    ``invalid_quote_id`` (empty or longer than `QUOTE_ID_CHARS_MAX`), ``duplicate_quote_id``
    (the id generator repeated itself), ``quote_book_full`` (`QUOTES_MAX` live quotes).
    """

    code: str = "fx_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _currency(value: Currency | str) -> Currency:
    if isinstance(value, Currency):
        return value
    try:
        return currency(value)
    except MoneyError as error:
        raise FxError(error.code, str(error)) from None


def _check_rate(rate: object) -> Decimal:
    if not isinstance(rate, Decimal):
        raise FxError("invalid_rate", f"a rate is a Decimal, never {type(rate).__name__}")
    if not rate.is_finite() or rate <= 0:
        raise FxError("invalid_rate", f"a rate must be finite and positive: {rate}")
    if len(rate.as_tuple().digits) > RATE_DIGITS_MAX:
        raise FxError("invalid_rate", f"a rate has at most {RATE_DIGITS_MAX} digits: {rate}")
    return rate


def _check_now(now_ns: int) -> None:
    if not isinstance(now_ns, int) or isinstance(now_ns, bool):
        raise TypeError(f"a time is an int of nanoseconds since the epoch: {now_ns!r}")
    if now_ns < 0:
        raise ValueError(f"a time is nanoseconds since the epoch, not before it: {now_ns}")


# --- Rate sources ----------------------------------------------------------------------


class RateSource(Protocol):
    """Where rates come from: one question, asked when a quote is priced."""

    def rate(self, source: Currency, target: Currency, at_ns: int) -> Decimal:
        """Units of `target` one unit of `source` buys for the customer at `at_ns`.

        Positive, finite, at most `RATE_DIGITS_MAX` significant digits. `FxError`
        ``no_rate`` when the source has none, ``same_currency`` when source is target.
        """
        ...


class EcbRateSource:
    """Mid cross rates through EUR from the ECB reference rates; no spread."""

    __slots__ = ("_fallback_days_max", "_rates")

    def __init__(self, rates: EcbRates, *, fallback_days_max: int = FALLBACK_DAYS_MAX) -> None:
        self._rates = rates
        self._fallback_days_max = fallback_days_max

    @property
    def rates(self) -> EcbRates:
        return self._rates

    def _per_euro(self, code: str, day: dt.date) -> Decimal:
        if code == _EURO:
            return Decimal(1)
        try:
            return self._rates.rate(code, day, fallback_days_max=self._fallback_days_max)
        except EcbError as error:
            raise FxError("no_rate", str(error)) from None

    def rate(self, source: Currency, target: Currency, at_ns: int) -> Decimal:
        """rate_target / rate_source on the UTC day of `at_ns` (28 digits, half-even)."""
        _check_now(at_ns)
        if source == target:
            raise FxError("same_currency", f"no rate from {source.code} to itself")
        try:
            day = _EPOCH + dt.timedelta(days=at_ns // NS_PER_DAY)
        except OverflowError:
            raise FxError("no_rate", f"no ECB rates at {at_ns} ns (after year 9999)") from None
        return _HALF_EVEN.divide(self._per_euro(target.code, day), self._per_euro(source.code, day))


@dataclass(frozen=True, slots=True)
class PairPrice:
    """A provider's price for the pair BASE/QUOTE: units of QUOTE per 1 BASE.

    The provider buys BASE from the customer at `bid` and sells BASE to the customer at
    `ask`; ``0 < bid <= ask`` and the spread is at most `SPREAD_BPS_MAX` of the mid.
    """

    base: str
    quote: str
    bid: Decimal
    ask: Decimal

    def __post_init__(self) -> None:
        if _currency(self.base) == _currency(self.quote):
            raise FxError(
                "same_currency", f"a pair of two currencies, not {self.base}/{self.quote}"
            )
        _check_rate(self.bid)
        _check_rate(self.ask)
        if self.bid > self.ask:
            raise FxError("invalid_spread", f"{self.pair}: bid {self.bid} is above ask {self.ask}")
        # spread / mid = (ask - bid) / ((ask + bid) / 2), compared exactly in integers.
        bid_ratio, ask_ratio = self.bid.as_integer_ratio(), self.ask.as_integer_ratio()
        width = ask_ratio[0] * bid_ratio[1] - bid_ratio[0] * ask_ratio[1]
        total = ask_ratio[0] * bid_ratio[1] + bid_ratio[0] * ask_ratio[1]
        if 2 * BPS_PER_UNIT * width > SPREAD_BPS_MAX * total:
            raise FxError(
                "invalid_spread",
                f"{self.pair}: spread {self.bid}/{self.ask} is wider than {SPREAD_BPS_MAX} bps",
            )

    @property
    def pair(self) -> str:
        return f"{self.base}/{self.quote}"

    @classmethod
    def from_mid(cls, base: str, quote: str, mid: Decimal, spread_bps: int) -> PairPrice:
        """bid = mid × (1 − spread/2), ask = mid × (1 + spread/2), exactly.

        `spread_bps` is the whole bid-ask spread in basis points of the mid (an int from 0 to
        `SPREAD_BPS_MAX`); `mid` has at most `RATE_PRECISION_DIGITS` significant digits.
        """
        if (
            not isinstance(spread_bps, int)
            or isinstance(spread_bps, bool)
            or not 0 <= spread_bps <= SPREAD_BPS_MAX
        ):
            raise FxError(
                "invalid_spread", f"a spread is an int of 0 to {SPREAD_BPS_MAX} bps: {spread_bps!r}"
            )
        _check_rate(mid)
        if len(mid.as_tuple().digits) > RATE_PRECISION_DIGITS:
            raise FxError("invalid_rate", f"a mid has at most {RATE_PRECISION_DIGITS} digits")
        halves = 2 * BPS_PER_UNIT
        bid = _EXACT.divide(_EXACT.multiply(mid, halves - spread_bps), halves)
        ask = _EXACT.divide(_EXACT.multiply(mid, halves + spread_bps), halves)
        return cls(base, quote, bid, ask)


class ProviderRateSource:
    """An FX provider's own prices: the customer gets the bid or 1/ask, never the mid.

    Converting BASE→QUOTE the rate is the bid; converting QUOTE→BASE it is 1/ask (28
    significant digits, rounded down). A pair not priced, in either direction, has no rate.
    """

    __slots__ = ("_prices",)

    def __init__(self, prices: Iterable[PairPrice]) -> None:
        self._prices: dict[tuple[str, str], PairPrice] = {}
        for price in prices:
            if not isinstance(price, PairPrice):
                raise TypeError(f"prices are PairPrice values, not {type(price).__name__}")
            key = (price.base, price.quote)
            if key in self._prices or (price.quote, price.base) in self._prices:
                raise FxError("duplicate_pair", f"{price.pair} is priced twice")
            self._prices[key] = price

    @property
    def prices(self) -> tuple[PairPrice, ...]:
        return tuple(self._prices.values())

    def rate(self, source: Currency, target: Currency, at_ns: int) -> Decimal:
        """The bid (source is BASE) or 1/ask (source is QUOTE); `at_ns` is not consulted."""
        _check_now(at_ns)
        if source == target:
            raise FxError("same_currency", f"no rate from {source.code} to itself")
        sold_base = self._prices.get((source.code, target.code))
        if sold_base is not None:
            return sold_base.bid
        bought_base = self._prices.get((target.code, source.code))
        if bought_base is not None:
            return _DOWN.divide(Decimal(1), bought_base.ask)
        raise FxError("no_rate", f"no price for {source.code}/{target.code} either way")


# --- Fees ------------------------------------------------------------------------------


def _round_half_even_div(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half-even, for numerator >= 0 and denominator > 0."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """A fee: `fixed` minor units of the source currency plus `bps` of the source amount.

    Currencies absent from `fixed` carry no fixed fee. The percentage part is rounded
    half-even to the source's minor unit.
    """

    bps: int = 0
    fixed: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if (
            not isinstance(self.bps, int)
            or isinstance(self.bps, bool)
            or not 0 <= self.bps <= FEE_BPS_MAX
        ):
            raise FxError("invalid_fee", f"fee bps is an int of 0 to {FEE_BPS_MAX}: {self.bps!r}")
        fixed: dict[str, int] = {}
        for code, amount in dict(self.fixed).items():
            _currency(code)
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise FxError("invalid_fee", f"a fixed fee is an int of minor units >= 0: {code}")
            if amount > AMOUNT_MAX_MINOR:
                raise FxError("invalid_fee", f"the fixed fee in {code} is too large")
            fixed[code] = amount
        object.__setattr__(self, "fixed", MappingProxyType(fixed))

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> FeeSchedule:
        """A schedule from data, such as ``{"bps": 30, "fixed": {"CNY": "1.00", "KRW": "200"}}``.

        Fixed fees are decimal text in the currency's major unit, read by `parse_amount`
        (so "1.00" CNY is 100 fen, and "1.005" CNY is refused). Unknown keys are refused.
        """
        if not isinstance(data, Mapping):
            raise FxError("invalid_fee", "a fee schedule is a mapping")
        unknown = set(data) - {"bps", "fixed"}
        if unknown:
            raise FxError("invalid_fee", f"unknown fee schedule keys: {sorted(unknown)}")
        bps = data.get("bps", 0)
        fixed_text = data.get("fixed", {})
        if not isinstance(bps, int):
            raise FxError("invalid_fee", f"fee bps is an int: {bps!r}")
        if not isinstance(fixed_text, Mapping):
            raise FxError("invalid_fee", "fixed fees are a mapping of currency code to amount")
        fixed: dict[str, int] = {}
        for code, text in fixed_text.items():
            if not isinstance(code, str) or not isinstance(text, str):
                raise FxError("invalid_fee", f"a fixed fee is amount text: {code!r}: {text!r}")
            try:
                fixed[code] = parse_amount(text, code).amount
            except MoneyError as error:
                code_out = "unknown_currency" if error.code == "unknown_currency" else "invalid_fee"
                raise FxError(code_out, f"fixed fee in {code}: {error}") from None
        return cls(bps=bps, fixed=fixed)

    def fee_for(self, source: Money) -> Money:
        """The fee on converting `source` (>= 0), in its currency."""
        if source.amount < 0:
            raise FxError("invalid_amount", f"a fee is on a positive amount: {source}")
        percentage = _round_half_even_div(source.amount * self.bps, BPS_PER_UNIT)
        total = self.fixed.get(source.currency.code, 0) + percentage
        if total > AMOUNT_MAX_MINOR:
            raise FxError("amount_too_large", f"the fee on {source} is too large")
        return Money(total, source.currency)


NO_FEES: Final = FeeSchedule()


@dataclass(frozen=True, slots=True)
class FxProvider:
    """An FX provider participant as the quote engine sees it: its rates and its fees."""

    participant_id: str
    rates: RateSource
    fees: FeeSchedule = NO_FEES

    def __post_init__(self) -> None:
        if not isinstance(self.participant_id, str) or not self.participant_id:
            raise ValueError("an FX provider has a non-empty participant id")


# --- Quotes ----------------------------------------------------------------------------


class FixedSide(StrEnum):
    """Which amount the caller fixed; the other was computed from the rate."""

    SOURCE = "source"
    """The payer fixed the amount converted (`quote_for_source`)."""
    TARGET = "target"
    """The merchant fixed the amount received, as a QR with an amount does (`quote_for_target`)."""


@dataclass(frozen=True, slots=True)
class Quote:
    """A priced offer to convert `source` into `target` at `rate`, valid until `expires_at_ns`.

    `source` is the amount converted, which the FX provider receives; `fee` (same currency)
    goes to the hub; the payer is debited `debit_total`. `target` is what the FX provider
    pays the merchant's acquirer. ``source * rate >= target`` always holds exactly.
    """

    quote_id: str
    provider_id: str
    source: Money
    target: Money
    rate: Decimal
    """Units of the target currency per unit of the source currency (major units)."""
    fee: Money
    fixed_side: FixedSide
    created_at_ns: int
    expires_at_ns: int

    @property
    def debit_total(self) -> Money:
        """What the payer pays: the amount converted plus the fee."""
        return self.source + self.fee

    def is_expired(self, now_ns: int) -> bool:
        """Whether the quote can no longer be used at `now_ns` (valid while now < expiry)."""
        return now_ns >= self.expires_at_ns


@dataclass(frozen=True, slots=True)
class _Priced:
    source: Money
    target: Money
    rate: Decimal
    fee: Money
    fixed_side: FixedSide


def _check_positive(money: Money, name: str) -> None:
    if not isinstance(money, Money):
        raise FxError("invalid_amount", f"the {name} amount is a Money, not {money!r}")
    if money.amount <= 0:
        raise FxError("invalid_amount", f"the {name} amount must be positive: {money}")


def _money(amount: int, unit: Currency, what: str) -> Money:
    if amount > AMOUNT_MAX_MINOR:
        raise FxError("amount_too_large", f"the {what} amount is beyond {AMOUNT_MAX_MINOR}")
    return Money(amount, unit)


def _pair_rate(provider: FxProvider, source: Currency, target: Currency, now_ns: int) -> Decimal:
    _check_now(now_ns)
    if source == target:
        raise FxError("same_currency", f"no quote from {source.code} to itself")
    return _check_rate(provider.rates.rate(source, target, now_ns))


def _price_for_target(
    target: Money, source_currency: Currency | str, provider: FxProvider, now_ns: int
) -> _Priced:
    _check_positive(target, "target")
    source_unit = _currency(source_currency)
    rate = _pair_rate(provider, source_unit, target.currency, now_ns)
    # source_minor * rate * 10**(t_mu - s_mu) >= target_minor, with the smallest such
    # source_minor: a ceiling division of integers, exact.
    numerator, denominator = rate.as_integer_ratio()
    dividend = target.amount * 10**source_unit.minor_units * denominator
    divisor = numerator * 10**target.currency.minor_units
    source = _money(-(-dividend // divisor), source_unit, "source")
    assert source.amount * divisor >= dividend, "the source covers the target"
    assert (source.amount - 1) * divisor < dividend, "the source is the smallest that covers"
    fee = provider.fees.fee_for(source)
    _money(source.amount + fee.amount, source_unit, "source plus fee")
    return _Priced(source, target, rate, fee, FixedSide.TARGET)


def _price_for_source(
    source: Money, target_currency: Currency | str, provider: FxProvider, now_ns: int
) -> _Priced:
    _check_positive(source, "source")
    target_unit = _currency(target_currency)
    rate = _pair_rate(provider, source.currency, target_unit, now_ns)
    # The largest target_minor <= source_minor * rate * 10**(t_mu - s_mu): a floor division.
    numerator, denominator = rate.as_integer_ratio()
    dividend = source.amount * numerator * 10**target_unit.minor_units
    divisor = denominator * 10**source.currency.minor_units
    target_minor = dividend // divisor
    if target_minor < 1:
        raise FxError(
            "invalid_amount", f"{source} converts to less than one {target_unit.code} minor unit"
        )
    target = _money(target_minor, target_unit, "target")
    fee = provider.fees.fee_for(source)
    _money(source.amount + fee.amount, source.currency, "source plus fee")
    return _Priced(source, target, rate, fee, FixedSide.SOURCE)


def _check_quote_id(quote_id: object) -> str:
    if not isinstance(quote_id, str) or not 0 < len(quote_id) <= QUOTE_ID_CHARS_MAX:
        raise FxError(
            "invalid_quote_id", f"a quote id is 1 to {QUOTE_ID_CHARS_MAX} characters: {quote_id!r}"
        )
    return quote_id


def _issue(priced: _Priced, provider: FxProvider, quote_id: str, now_ns: int, ttl_s: int) -> Quote:
    if not isinstance(ttl_s, int) or isinstance(ttl_s, bool) or ttl_s <= 0:
        raise ValueError(f"ttl_s is a positive int of seconds: {ttl_s!r}")
    return Quote(
        quote_id=_check_quote_id(quote_id),
        provider_id=provider.participant_id,
        source=priced.source,
        target=priced.target,
        rate=priced.rate,
        fee=priced.fee,
        fixed_side=priced.fixed_side,
        created_at_ns=now_ns,
        expires_at_ns=now_ns + ttl_s * NS_PER_S,
    )


def quote_for_target(
    target: Money,
    source_currency: Currency | str,
    provider: FxProvider,
    *,
    quote_id: str,
    now_ns: int,
    ttl_s: int = QUOTE_TTL_S,
) -> Quote:
    """A quote paying exactly `target` (the merchant's amount) from `source_currency`.

    Rounding rule: the source amount is the smallest number of source minor units whose value
    at the quoted rate covers the target, ``source * rate >= target`` exactly (a ceiling, never
    half-even): the payer pays at most one source minor unit more than the exact value, and
    the provider never pays out more than it receives. The fee is added on top.
    """
    priced = _price_for_target(target, source_currency, provider, now_ns)
    return _issue(priced, provider, quote_id, now_ns, ttl_s)


def quote_for_source(
    source: Money,
    target_currency: Currency | str,
    provider: FxProvider,
    *,
    quote_id: str,
    now_ns: int,
    ttl_s: int = QUOTE_TTL_S,
) -> Quote:
    """A quote converting exactly `source` (before the fee) into `target_currency`.

    Rounding rule: the target amount is the largest number of target minor units that the
    source covers at the quoted rate, ``target <= source * rate`` exactly (a floor, never
    half-even): the merchant gets at most one target minor unit less than the exact value.
    The fee is added on top of `source`; a source that converts to less than one target minor
    unit is refused (``invalid_amount``).
    """
    priced = _price_for_source(source, target_currency, provider, now_ns)
    return _issue(priced, provider, quote_id, now_ns, ttl_s)


def sequential_ids(prefix: str = "quote-", start: int = 1) -> Callable[[], str]:
    """An id generator: ``quote-1``, ``quote-2``, ... (deterministic, for `QuoteBook`)."""
    counter = itertools.count(start)
    return lambda: f"{prefix}{next(counter)}"


class QuoteBook:
    """Issues quotes, finds them by id, and lets each be used once before it expires.

    A quote is remembered until `retention_s` after it expires; using it in that time answers
    ``quote_expired`` (or ``quote_used``), and after it ``unknown_quote``. Forgetting happens
    when quotes are issued (oldest first) or on `prune`. At most `quotes_max` quotes are held;
    issuing beyond that is refused with ``quote_book_full``.
    """

    __slots__ = (
        "_expiry_order",
        "_next_id",
        "_quotes",
        "_quotes_max",
        "_retention_ns",
        "_ttl_s",
        "_used",
    )

    def __init__(
        self,
        *,
        next_id: Callable[[], str] | None = None,
        ttl_s: int = QUOTE_TTL_S,
        retention_s: int = QUOTE_RETENTION_S,
        quotes_max: int = QUOTES_MAX,
    ) -> None:
        if not isinstance(ttl_s, int) or ttl_s <= 0:
            raise ValueError(f"ttl_s is a positive int of seconds: {ttl_s!r}")
        if not isinstance(retention_s, int) or retention_s < 0:
            raise ValueError(f"retention_s is an int of seconds >= 0: {retention_s!r}")
        if not isinstance(quotes_max, int) or quotes_max <= 0:
            raise ValueError(f"quotes_max is a positive int: {quotes_max!r}")
        self._next_id: Callable[[], str] = next_id if next_id is not None else sequential_ids()
        self._ttl_s = ttl_s
        self._retention_ns = retention_s * NS_PER_S
        self._quotes_max = quotes_max
        self._quotes: dict[str, Quote] = {}
        self._used: set[str] = set()
        # (expires_at_ns, quote_id) in issue order: the order in which quotes are forgotten.
        self._expiry_order: deque[tuple[int, str]] = deque()

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    def __len__(self) -> int:
        return len(self._quotes)

    def __contains__(self, quote_id: object) -> bool:
        return quote_id in self._quotes

    def prune(self, now_ns: int) -> int:
        """Forget quotes expired more than `retention_s` before `now_ns`; how many were.

        Oldest-issued first, stopping at the first quote still to be kept, so a clock that
        went backwards between issues makes pruning late, never early.
        """
        forgotten = 0
        while self._expiry_order and self._expiry_order[0][0] + self._retention_ns <= now_ns:
            _, quote_id = self._expiry_order.popleft()
            del self._quotes[quote_id]
            self._used.discard(quote_id)
            forgotten += 1
        return forgotten

    def _store(self, priced: _Priced, provider: FxProvider, now_ns: int) -> Quote:
        self.prune(now_ns)
        if len(self._quotes) >= self._quotes_max:
            raise FxError("quote_book_full", f"{self._quotes_max} quotes are live")
        quote_id = self._next_id()
        if quote_id in self._quotes:
            raise FxError("duplicate_quote_id", f"the id generator repeated {quote_id!r}")
        quote = _issue(priced, provider, quote_id, now_ns, self._ttl_s)
        self._quotes[quote_id] = quote
        self._expiry_order.append((quote.expires_at_ns, quote_id))
        return quote

    def quote_for_target(
        self,
        target: Money,
        source_currency: Currency | str,
        provider: FxProvider,
        *,
        now_ns: int,
    ) -> Quote:
        """Issue `quote_for_target` (source rounded up) with the next id; see there."""
        priced = _price_for_target(target, source_currency, provider, now_ns)
        return self._store(priced, provider, now_ns)

    def quote_for_source(
        self,
        source: Money,
        target_currency: Currency | str,
        provider: FxProvider,
        *,
        now_ns: int,
    ) -> Quote:
        """Issue `quote_for_source` (target rounded down) with the next id; see there."""
        priced = _price_for_source(source, target_currency, provider, now_ns)
        return self._store(priced, provider, now_ns)

    def get(self, quote_id: str) -> Quote:
        """The quote with this id, used or not, expired or not; else ``unknown_quote``."""
        quote = self._quotes.get(quote_id)
        if quote is None:
            raise FxError("unknown_quote", f"no quote {quote_id!r}")
        return quote

    def is_used(self, quote_id: str) -> bool:
        self.get(quote_id)
        return quote_id in self._used

    def use(self, quote_id: str, now_ns: int) -> Quote:
        """Use the quote, once: ``unknown_quote``, then ``quote_used``, then ``quote_expired``.

        A refused use changes nothing. A quote is usable while ``now_ns < expires_at_ns``.
        """
        _check_now(now_ns)
        quote = self.get(quote_id)
        if quote_id in self._used:
            raise FxError("quote_used", f"quote {quote_id!r} was already used")
        if quote.is_expired(now_ns):
            raise FxError(
                "quote_expired",
                f"quote {quote_id!r} expired at {quote.expires_at_ns} ns (now {now_ns} ns)",
            )
        self._used.add(quote_id)
        return quote
