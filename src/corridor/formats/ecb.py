"""ECB euro foreign exchange reference rates: a strict loader for the history CSV, and lookup.

The European Central Bank publishes, for each TARGET business day, how many units of about
thirty currencies one euro buys (CNY, JPY, KRW, USD among them). The whole history since 1999
comes as one CSV file (``eurofxref-hist.csv``), which corridor uses as its reference rates:
the switch derives mid cross rates through EUR from it (`corridor.switch.fx`), and the sandbox
replays history with it. This module turns that file into an immutable `EcbRates` and answers
"which rates applied on this date". It is pure: text in, values out, no import from the layers
above.

The file, as the ECB writes it::

    Date,USD,JPY,BGN,...,ZAR,
    2026-04-13,1.1684,186.75,N/A,...,19.3849,
    ...
    1999-01-04,1.1789,133.73,N/A,...,6.9358,

Rules applied, all refused with an `EcbFormatError` (code ``bad_ecb_file``) naming the line:

- UTF-8 (a leading byte order mark is tolerated), lines end in LF or CRLF, at most
  `FILE_BYTES_MAX` bytes, no blank lines (a final line break is fine).
- The header is ``Date`` and then distinct three-letter upper-case codes. The codes are not
  checked against ISO 4217: the file keeps currencies the euro replaced (CYP, ROL, TRL) and
  those are not current ISO 4217 codes. A trailing empty column (the file's lines end in a
  comma) is allowed in the header, and then every row must have it, and empty.
- Each row has exactly the header's number of fields; its date is ``YYYY-MM-DD`` and a real
  calendar date; dates are strictly decreasing (newest first, as published), so a repeated
  date is refused (with the line it first appeared on).
- A rate is plain decimal text (``186.75``, ``13168``): digits with an optional fraction, no
  sign, exponent, spaces, thousands separators, ``NaN`` or ``Infinity``, and not zero. It
  becomes a `Decimal` exactly as written; nothing ever goes through float. ``N/A`` means the
  ECB published no rate for that currency that day and the currency is simply absent from
  that day's mapping. An empty field is not ``N/A`` and is refused.

Lookup: `EcbRates.rates_on` gives the latest business day on or before a date, so a weekend
or holiday uses the previous business day's rates. It looks back at most `FALLBACK_DAYS_MAX`
days (the file's longest gap is 5 days, Maundy Thursday to Easter Tuesday), so a date after the
last published day gets ``no_rate`` rather than silently stale rates; a date before the first
published day gets ``no_rate`` too.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Final

__all__ = [
    "CODE_BAD_FILE",
    "CODE_NO_RATE",
    "COLUMNS_MAX",
    "FALLBACK_DAYS_MAX",
    "FILE_BYTES_MAX",
    "RATE_CHARS_MAX",
    "EcbDay",
    "EcbError",
    "EcbFormatError",
    "EcbRates",
    "load_ecb_csv",
    "parse_ecb_csv",
]

FILE_BYTES_MAX: Final = 64 * 1024 * 1024
"""Largest file `load_ecb_csv` reads, in bytes (the 1999-2026 history is about 1.9 MB)."""

COLUMNS_MAX: Final = 256
"""Most columns in the header, the date and a trailing empty column included."""

RATE_CHARS_MAX: Final = 32
"""Longest rate text, in characters (the ECB's longest is 8, such as ``20082.05``)."""

FALLBACK_DAYS_MAX: Final = 7
"""Furthest `EcbRates.rates_on` looks back for a business day, in calendar days."""

CODE_BAD_FILE: Final = "bad_ecb_file"
CODE_NO_RATE: Final = "no_rate"

_DATE_COLUMN: Final = "Date"
_NOT_AVAILABLE: Final = "N/A"
_CURRENCY_CODE: Final = re.compile(r"[A-Z]{3}")
_DATE_TEXT: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RATE_TEXT: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_BYTE_ORDER_MARK: Final = "\ufeff"


class EcbError(Exception):
    """ECB rates are refused or missing; `code` says why and never changes.

    Codes: ``bad_ecb_file`` (an `EcbFormatError`), ``no_rate`` (no published rate applies).
    """

    code: str = "ecb_error"

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class EcbFormatError(EcbError):
    """The file is not a well-formed ECB history CSV; `line` is where (1-based)."""

    line: int

    def __init__(self, line: int, message: str) -> None:
        super().__init__(CODE_BAD_FILE, f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True, slots=True)
class EcbDay:
    """The reference rates of one business day: currency code → units of it per 1 EUR.

    A currency the ECB published as ``N/A`` that day is absent from `rates`. EUR itself is
    never in `rates` (one euro is one euro).
    """

    day: dt.date
    rates: Mapping[str, Decimal]

    def rate(self, code: str) -> Decimal:
        """Units of `code` per 1 EUR on this day; `EcbError` ``no_rate`` when not published."""
        try:
            return self.rates[code]
        except KeyError:
            raise EcbError(
                CODE_NO_RATE, f"the ECB published no {code} rate on {self.day}"
            ) from None


class EcbRates:
    """The ECB reference rates of many business days, oldest first, looked up by date."""

    __slots__ = ("_currencies", "_days", "_ordinals")

    def __init__(self, days: Iterable[EcbDay], currencies: Iterable[str]) -> None:
        """`days` in strictly increasing date order; `currencies` as in the file's header."""
        self._days: tuple[EcbDay, ...] = tuple(days)
        self._currencies: tuple[str, ...] = tuple(currencies)
        self._ordinals: tuple[int, ...] = tuple(day.day.toordinal() for day in self._days)
        if any(a >= b for a, b in zip(self._ordinals, self._ordinals[1:], strict=False)):
            raise ValueError("EcbRates days must be in strictly increasing date order")

    @property
    def days(self) -> tuple[EcbDay, ...]:
        """Every business day, oldest first."""
        return self._days

    @property
    def currencies(self) -> tuple[str, ...]:
        """The currency columns of the file, in the file's order (published or not)."""
        return self._currencies

    @property
    def first_day(self) -> dt.date:
        if not self._days:
            raise EcbError(CODE_NO_RATE, "no ECB rates loaded")
        return self._days[0].day

    @property
    def last_day(self) -> dt.date:
        if not self._days:
            raise EcbError(CODE_NO_RATE, "no ECB rates loaded")
        return self._days[-1].day

    def __len__(self) -> int:
        return len(self._days)

    def __repr__(self) -> str:
        if not self._days:
            return "EcbRates(empty)"
        return f"EcbRates({len(self._days)} days, {self.first_day} to {self.last_day})"

    def rates_on(self, day: dt.date, *, fallback_days_max: int = FALLBACK_DAYS_MAX) -> EcbDay:
        """The rates of the latest business day on or before `day`.

        A weekend or holiday gets the previous business day's rates, looking back at most
        `fallback_days_max` calendar days; `EcbError` ``no_rate`` when there is none in that
        window (before the first published day, or long after the last one).
        """
        if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
            raise TypeError(f"rates_on takes a datetime.date, not {type(day).__name__}")
        if fallback_days_max < 0:
            raise ValueError(f"fallback_days_max is a number of days >= 0: {fallback_days_max}")
        ordinal = day.toordinal()
        index = bisect.bisect_right(self._ordinals, ordinal) - 1
        if index < 0:
            first = f" (the first is {self._days[0].day})" if self._days else ""
            raise EcbError(CODE_NO_RATE, f"no ECB rates on or before {day}{first}")
        found = self._days[index]
        if ordinal - self._ordinals[index] > fallback_days_max:
            raise EcbError(
                CODE_NO_RATE,
                f"no ECB rates within {fallback_days_max} days before {day} "
                f"(the latest is {found.day})",
            )
        return found

    def rate(
        self, code: str, day: dt.date, *, fallback_days_max: int = FALLBACK_DAYS_MAX
    ) -> Decimal:
        """Units of `code` per 1 EUR on `day` (falling back as `rates_on` does)."""
        return self.rates_on(day, fallback_days_max=fallback_days_max).rate(code)


def _parse_header(text: str) -> tuple[tuple[str, ...], bool]:
    """The currency codes of the header and whether it ends in an empty column."""
    fields = text.split(",")
    if len(fields) > COLUMNS_MAX:
        raise EcbFormatError(1, f"the header has more than {COLUMNS_MAX} columns")
    if fields[0] != _DATE_COLUMN:
        raise EcbFormatError(1, f"the header must start with {_DATE_COLUMN!r}: {fields[0]!r}")
    trailing_empty = len(fields) > 1 and fields[-1] == ""
    codes = fields[1:-1] if trailing_empty else fields[1:]
    if not codes:
        raise EcbFormatError(1, "the header names no currency")
    seen: set[str] = set()
    for code in codes:
        if _CURRENCY_CODE.fullmatch(code) is None:
            raise EcbFormatError(1, f"not a three-letter currency code: {code!r}")
        if code in seen:
            raise EcbFormatError(1, f"currency {code} appears twice in the header")
        seen.add(code)
    return tuple(codes), trailing_empty


def _parse_date(text: str, line: int) -> dt.date:
    if _DATE_TEXT.fullmatch(text) is None:
        raise EcbFormatError(line, f"not a YYYY-MM-DD date: {text!r}")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise EcbFormatError(line, f"not a calendar date: {text!r}") from None


def _parse_rate(text: str, code: str, line: int) -> Decimal:
    if len(text) > RATE_CHARS_MAX or _RATE_TEXT.fullmatch(text) is None:
        shown = text if len(text) <= RATE_CHARS_MAX else text[:RATE_CHARS_MAX] + "…"
        raise EcbFormatError(line, f"{code}: not a plain decimal rate or N/A: {shown!r}")
    rate = Decimal(text)
    if not rate:
        raise EcbFormatError(line, f"{code}: a rate of zero: {text!r}")
    return rate


def parse_ecb_csv(text: str) -> EcbRates:
    """`EcbRates` from the text of an ECB history CSV; `EcbFormatError` for anything else.

    See the module docstring for what is accepted. Runs in well under a second for the full
    history (about 7,000 days by 41 currencies).
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_ecb_csv reads text, not {type(text).__name__}")
    text = text.removeprefix(_BYTE_ORDER_MARK)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the final line break ends the last line; it does not start another
    if not lines:
        raise EcbFormatError(1, "the file is empty")
    codes, trailing_empty = _parse_header(lines[0].removesuffix("\r"))
    width = len(codes) + 1 + trailing_empty
    # Rates repeat across days (pegged currencies, unchanged quotes): one Decimal per text.
    decimals: dict[str, Decimal] = {}
    first_line_of: dict[dt.date, int] = {}
    days: list[EcbDay] = []
    previous: dt.date | None = None
    for line, row in enumerate(lines[1:], start=2):
        fields = row.removesuffix("\r").split(",")
        if len(fields) != width:
            if row.strip() == "":
                raise EcbFormatError(line, "blank line")
            raise EcbFormatError(line, f"{len(fields)} fields where the header has {width}")
        day = _parse_date(fields[0], line)
        if day in first_line_of:
            raise EcbFormatError(line, f"date {day} repeated (first on line {first_line_of[day]})")
        if previous is not None and day > previous:
            raise EcbFormatError(line, f"date {day} is after {previous}: not newest first")
        first_line_of[day] = line
        previous = day
        if trailing_empty and fields[-1] != "":
            raise EcbFormatError(line, f"the trailing column must be empty: {fields[-1]!r}")
        rates: dict[str, Decimal] = {}
        for code, value in zip(codes, fields[1:], strict=False):
            if value == _NOT_AVAILABLE:
                continue
            rate = decimals.get(value)
            if rate is None:
                rate = decimals[value] = _parse_rate(value, code, line)
            rates[code] = rate
        days.append(EcbDay(day, MappingProxyType(rates)))
    days.reverse()
    return EcbRates(days, codes)


def load_ecb_csv(path: str | os.PathLike[str]) -> EcbRates:
    """`EcbRates` from an ECB history CSV file (``eurofxref-hist.csv``).

    `EcbFormatError` for a file that is too large, not UTF-8, or malformed; `OSError` from
    opening or reading the file passes through unchanged.
    """
    with open(path, "rb") as file:
        data = file.read(FILE_BYTES_MAX + 1)
    if len(data) > FILE_BYTES_MAX:
        raise EcbFormatError(1, f"the file is larger than {FILE_BYTES_MAX} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise EcbFormatError(line, f"not UTF-8 (byte {error.start})") from None
    return parse_ecb_csv(text)
