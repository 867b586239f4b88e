"""Currencies and amounts of money: exact, integer, and never float.

An amount is an integer count of its currency's minor unit (CNY 12.34 is 1234 fen, JPY 1000
is 1000 yen), so sums are exact and every balance is a plain integer in storage. Text from the
outside ("12.34") becomes an amount only through `parse_amount`, which refuses anything it
would have to round or guess; `format_amount` writes it back so that the two round-trip
exactly. Exchange rates are `Decimal`, and `convert` is the one place where a currency
conversion rounds (half-even, to the target's minor unit).

Where the figures come from:

- The alphabetic and numeric codes come from ISO 4217 (via pycountry). The numeric code is
  also the ledger code of the currency's ledger: CNY 156, JPY 392, KRW 410, USD 840.
- The minor units (the exponent) come from CLDR's currency data (via babel's
  `get_currency_precision`), not from the ISO 4217 table, which no installed package carries.
  This is the CLDR `digits` value, not its cash digits (CLDR gives TWD digits 2, cash 0; we use
  2). For the corridor currencies CLDR and ISO 4217 agree: CNY 2, JPY 0, KRW 0, USD 2 (ISO 4217
  lists KRW with 0 minor units, even though the won was once divided into 100 jeon). Elsewhere
  they can differ (CLDR gives IQD 0 and LAK 0 where ISO 4217 gives 3 and 2; for currencies
  without minor units in ISO, such as XAU, CLDR's default of 2 applies), so a currency
  added to the corridor must be checked against ISO 4217 first; the tests pin the corridor's.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, DecimalException, Inexact, InvalidOperation
from typing import Final

import pycountry
from babel.numbers import get_currency_precision

__all__ = [
    "AMOUNT_MAX_MINOR",
    "AMOUNT_TEXT_CHARS_MAX",
    "CORRIDOR_CURRENCIES",
    "RATE_DIGITS_MAX",
    "Currency",
    "Money",
    "MoneyError",
    "convert",
    "convert_money",
    "currency",
    "currency_by_numeric",
    "format_amount",
    "parse_amount",
]

AMOUNT_MAX_MINOR: Final = (1 << 63) - 1
"""Largest magnitude of an amount, in minor units: a signed 64-bit integer in storage."""

AMOUNT_TEXT_CHARS_MAX: Final = 64
"""Longest amount text `parse_amount` reads, in characters (2**63-1 has 19 digits)."""

RATE_DIGITS_MAX: Final = 34
"""Most significant digits in an exchange rate (the precision of IEEE 754 decimal128)."""

CORRIDOR_CURRENCIES: Final = ("CNY", "JPY", "KRW", "USD")
"""The currencies the corridor settles in (USD for thresholds and reporting)."""

_AMOUNT_TEXT: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")
_ALPHA_CODE: Final = re.compile(r"[A-Z]{3}")
_NUMERIC_CODE_MAX: Final = 999
# Exact arithmetic for `convert`: an amount has at most 19 digits and a rate at most
# RATE_DIGITS_MAX, so every product fits and Inexact can never be raised by a valid call.
_EXACT: Final = Context(prec=2 * (19 + RATE_DIGITS_MAX), traps=[InvalidOperation, Inexact])
_HALF_EVEN: Final = Context(prec=2 * (19 + RATE_DIGITS_MAX), rounding=ROUND_HALF_EVEN)


class MoneyError(Exception):
    """An amount, currency or rate is refused; `code` says why and never changes.

    Codes: ``unknown_currency``, ``invalid_amount``, ``negative_amount``,
    ``too_many_decimals``, ``amount_too_large``, ``currency_mismatch``, ``invalid_rate``.
    """

    code: str = "money_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency: its codes and how many decimal digits its minor unit has."""

    code: str
    """Alphabetic code, e.g. "JPY"."""
    numeric: int
    """Numeric code, e.g. 392; also the ledger code of this currency's ledger."""
    minor_units: int
    """Digits after the decimal point (the exponent): CNY 2, JPY 0, KRW 0, USD 2 (CLDR)."""

    @property
    def ledger(self) -> int:
        """The ledger that holds this currency: its ISO 4217 numeric code."""
        return self.numeric

    def __str__(self) -> str:
        return self.code


@functools.cache
def currency(code: str) -> Currency:
    """The currency with this ISO 4217 alphabetic code ("JPY"); upper case only."""
    if not isinstance(code, str) or _ALPHA_CODE.fullmatch(code) is None:
        raise MoneyError("unknown_currency", f"not an ISO 4217 alphabetic code: {code!r}")
    record = pycountry.currencies.get(alpha_3=code)
    if record is None:
        raise MoneyError("unknown_currency", f"unknown currency: {code}")
    return Currency(
        code=code, numeric=int(record.numeric), minor_units=get_currency_precision(code)
    )


@functools.cache
def currency_by_numeric(numeric: int) -> Currency:
    """The currency with this ISO 4217 numeric code (392 is JPY)."""
    if (
        not isinstance(numeric, int)
        or isinstance(numeric, bool)
        or not 0 < numeric <= _NUMERIC_CODE_MAX
    ):
        raise MoneyError("unknown_currency", f"not an ISO 4217 numeric code: {numeric!r}")
    record = pycountry.currencies.get(numeric=f"{numeric:03d}")
    if record is None:
        raise MoneyError("unknown_currency", f"unknown currency number: {numeric:03d}")
    return currency(record.alpha_3)


def _resolve(value: Currency | str) -> Currency:
    if isinstance(value, Currency):
        return value
    return currency(value)


def _check_amount(amount: int) -> None:
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise MoneyError("invalid_amount", f"an amount is an int of minor units: {amount!r}")
    if abs(amount) > AMOUNT_MAX_MINOR:
        raise MoneyError("amount_too_large", f"{amount} minor units is beyond ±{AMOUNT_MAX_MINOR}")


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: an integer count of `currency`'s minor unit (may be negative).

    Addition, subtraction and comparison work only between amounts of the same currency.
    """

    amount: int
    currency: Currency

    def __post_init__(self) -> None:
        _check_amount(self.amount)
        if not isinstance(self.currency, Currency):
            raise MoneyError("unknown_currency", f"not a Currency: {self.currency!r}")

    @classmethod
    def of(cls, amount: int, currency: Currency | str) -> Money:
        """`Money` from minor units and a currency or its alphabetic code."""
        return cls(amount, _resolve(currency))

    @classmethod
    def zero(cls, currency: Currency | str) -> Money:
        return cls(0, _resolve(currency))

    def _same_currency(self, other: Money) -> None:
        if self.currency != other.currency:
            raise MoneyError(
                "currency_mismatch",
                f"cannot combine {self.currency.code} with {other.currency.code}",
            )

    def __add__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        if not isinstance(other, Money):
            return NotImplemented
        self._same_currency(other)
        return self.amount >= other.amount

    def __str__(self) -> str:
        return f"{format_amount(self)} {self.currency.code}"


def parse_amount(text: str, currency: Currency | str, *, allow_negative: bool = False) -> Money:
    """The exact amount a decimal string denotes: ``parse_amount("12.34", "CNY")`` is 1234 fen.

    Accepted: ASCII digits with an optional ``.`` and at most as many fractional digits as
    the currency has minor units ("12", "12.3", "12.30" in CNY; "1000" in JPY), and a leading
    ``-`` when `allow_negative`. Refused: anything else, including empty text, "+", spaces
    anywhere, thousand separators, exponents, "NaN", "Infinity", ".5", "5.", and more
    fractional digits than the currency has, even zeros ("12.340" CNY, "1000.0" JPY).
    """
    unit = _resolve(currency)
    if not isinstance(text, str):
        raise MoneyError("invalid_amount", f"an amount is parsed from text, not {text!r}")
    if len(text) > AMOUNT_TEXT_CHARS_MAX:
        raise MoneyError(
            "invalid_amount", f"amount text is longer than {AMOUNT_TEXT_CHARS_MAX} characters"
        )
    match = _AMOUNT_TEXT.fullmatch(text)
    if match is None:
        raise MoneyError("invalid_amount", f"not a decimal amount: {text!r}")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if sign and not allow_negative:
        raise MoneyError("negative_amount", f"negative amounts are refused here: {text!r}")
    if len(fraction) > unit.minor_units:
        raise MoneyError(
            "too_many_decimals",
            f"{unit.code} has {unit.minor_units} decimal digits; {text!r} has {len(fraction)}",
        )
    minor = int(whole + fraction.ljust(unit.minor_units, "0"))
    if minor > AMOUNT_MAX_MINOR:
        raise MoneyError(
            "amount_too_large", f"{text} {unit.code} is beyond {AMOUNT_MAX_MINOR} minor units"
        )
    return Money(-minor if sign else minor, unit)


def format_amount(money: Money) -> str:
    """The decimal string of an amount, with all of its currency's decimals ("12.30", "1000").

    ``parse_amount(format_amount(m), m.currency, allow_negative=True) == m`` for every `m`.
    """
    digits = str(abs(money.amount))
    sign = "-" if money.amount < 0 else ""
    exponent = money.currency.minor_units
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def _check_rate(rate: Decimal) -> None:
    if not isinstance(rate, Decimal):
        raise MoneyError("invalid_rate", f"a rate is a Decimal, never {type(rate).__name__}")
    if not rate.is_finite() or rate <= 0:
        raise MoneyError("invalid_rate", f"a rate must be finite and positive: {rate}")
    if len(rate.as_tuple().digits) > RATE_DIGITS_MAX:
        raise MoneyError("invalid_rate", f"a rate has at most {RATE_DIGITS_MAX} digits")


def convert(
    amount_minor: int,
    from_currency: Currency | str,
    to_currency: Currency | str,
    rate: Decimal,
) -> int:
    """`amount_minor` of `from_currency` in minor units of `to_currency`, at `rate`.

    `rate` is units of the target per unit of the source (CNY→JPY at 20.5 means one yuan buys
    20.5 yen). The product is computed exactly in Decimal, then rounded once to the target's
    minor unit with ROUND_HALF_EVEN (banker's rounding: an exact half goes to the even
    neighbour, so 0.5 → 0, 1.5 → 2, 2.5 → 2, -1.5 → -2), which carries no bias up or down
    over many conversions.
    """
    _check_amount(amount_minor)
    _check_rate(rate)
    source, target = _resolve(from_currency), _resolve(to_currency)
    try:
        exact = _EXACT.multiply(Decimal(amount_minor), rate)
        exact = exact.scaleb(target.minor_units - source.minor_units, context=_EXACT)
    except DecimalException as error:
        # Only a rate with an absurd exponent (beyond ±999999) gets here.
        raise MoneyError("invalid_rate", f"rate {rate} is out of range") from error
    too_large = MoneyError(
        "amount_too_large", f"converted amount is beyond {AMOUNT_MAX_MINOR} minor units"
    )
    if exact.copy_abs() >= AMOUNT_MAX_MINOR + 1:  # keeps quantize away from huge numbers
        raise too_large
    result = int(exact.quantize(Decimal(1), context=_HALF_EVEN))
    if abs(result) > AMOUNT_MAX_MINOR:  # AMOUNT_MAX_MINOR + 0.5 and up rounds past the limit
        raise too_large
    return result


def convert_money(money: Money, to_currency: Currency | str, rate: Decimal) -> Money:
    """`convert` for a `Money`: the same value in `to_currency`, rounded half-even."""
    target = _resolve(to_currency)
    return Money(convert(money.amount, money.currency, target, rate), target)
