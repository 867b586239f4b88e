"""Tests for corridor.switch.money: currencies, exact amounts, and half-even conversion.

What they pin: the corridor currencies' codes and minor units (CLDR, checked against ISO
4217), that parsing and formatting round-trip exactly for every amount, that nothing goes
through float, every refusal's error code, and where `convert` rounds.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corridor.switch.money import (
    AMOUNT_MAX_MINOR,
    AMOUNT_TEXT_CHARS_MAX,
    CORRIDOR_CURRENCIES,
    RATE_DIGITS_MAX,
    Currency,
    Money,
    MoneyError,
    convert,
    convert_money,
    currency,
    currency_by_numeric,
    format_amount,
    parse_amount,
)

# ISO 4217 (the SIX list of current currencies): numeric code and minor units.
ISO_4217 = {"CNY": (156, 2), "JPY": (392, 0), "KRW": (410, 0), "USD": (840, 2)}


def _code(error: pytest.ExceptionInfo[MoneyError]) -> str:
    return error.value.code


# --- currencies -------------------------------------------------------------------------


@pytest.mark.parametrize("code", CORRIDOR_CURRENCIES)
def test_corridor_currency_codes_and_minor_units_match_iso_4217(code: str) -> None:
    numeric, minor_units = ISO_4217[code]
    assert currency(code) == Currency(code, numeric, minor_units)


@pytest.mark.parametrize("code", CORRIDOR_CURRENCIES)
def test_ledger_code_is_the_iso_numeric_code(code: str) -> None:
    assert currency(code).ledger == ISO_4217[code][0]


def test_lookup_by_numeric_code_finds_the_same_currency() -> None:
    assert currency_by_numeric(392) is currency("JPY")
    assert currency_by_numeric(410).code == "KRW"
    assert currency_by_numeric(156).code == "CNY"


def test_lookups_are_cached() -> None:
    assert currency("CNY") is currency("CNY")
    assert currency_by_numeric(840) is currency_by_numeric(840)


def test_currencies_outside_the_corridor_are_known_too() -> None:
    assert currency("EUR") == Currency("EUR", 978, 2)
    assert currency("BHD").minor_units == 3


@pytest.mark.parametrize("code", ["ZZZ", "jpy", "JP", "JPYY", "", "¥", "XJP"])
def test_unknown_alphabetic_code_is_refused(code: str) -> None:
    with pytest.raises(MoneyError) as error:
        currency(code)
    assert _code(error) == "unknown_currency"


@pytest.mark.parametrize("numeric", [0, 1, 100, 998, 1000, -392, True])
def test_unknown_numeric_code_is_refused(numeric: int) -> None:
    with pytest.raises(MoneyError) as error:
        currency_by_numeric(numeric)
    assert _code(error) == "unknown_currency"


def test_non_text_currency_code_is_refused() -> None:
    bad: Any = 392
    with pytest.raises(MoneyError) as error:
        currency(bad)
    assert _code(error) == "unknown_currency"


# --- parse and format -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "minor"),
    [
        ("12.34", "CNY", 1234),
        ("12.3", "CNY", 1230),
        ("12", "CNY", 1200),
        ("0.01", "USD", 1),
        ("0", "USD", 0),
        ("1000", "JPY", 1000),
        ("50000", "KRW", 50000),
        ("007", "JPY", 7),
        ("92233720368547758.07", "USD", AMOUNT_MAX_MINOR),
        ("9223372036854775807", "JPY", AMOUNT_MAX_MINOR),
    ],
)
def test_parse_amount_is_exact_minor_units(text: str, code: str, minor: int) -> None:
    assert parse_amount(text, code) == Money(minor, currency(code))


@pytest.mark.parametrize(
    ("minor", "code", "text"),
    [
        (1234, "CNY", "12.34"),
        (1230, "CNY", "12.30"),
        (5, "CNY", "0.05"),
        (-5, "CNY", "-0.05"),
        (0, "USD", "0.00"),
        (1000, "JPY", "1000"),
        (-1000, "KRW", "-1000"),
        (1234, "BHD", "1.234"),
    ],
)
def test_format_amount_writes_every_minor_digit(minor: int, code: str, text: str) -> None:
    assert format_amount(Money.of(minor, code)) == text


@settings(max_examples=300, deadline=None)
@given(
    code=st.sampled_from(CORRIDOR_CURRENCIES),
    minor=st.integers(min_value=-AMOUNT_MAX_MINOR, max_value=AMOUNT_MAX_MINOR),
)
def test_parse_of_format_round_trips(code: str, minor: int) -> None:
    money = Money.of(minor, code)
    assert parse_amount(format_amount(money), code, allow_negative=True) == money


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(CORRIDOR_CURRENCIES),
    whole=st.integers(min_value=0, max_value=10**15),
    fraction=st.text(alphabet="0123456789", max_size=2),
)
def test_format_of_parse_is_the_text_padded_to_all_decimals(
    code: str, whole: int, fraction: str
) -> None:
    exponent = currency(code).minor_units
    fraction = fraction[:exponent]
    text = f"{whole}.{fraction}" if fraction else str(whole)
    expected = f"{whole}.{fraction.ljust(exponent, '0')}" if exponent else str(whole)
    assert format_amount(parse_amount(text, code)) == expected


def test_decimal_sums_are_exact() -> None:
    total = parse_amount("0.1", "CNY") + parse_amount("0.2", "CNY")
    assert total == parse_amount("0.3", "CNY")
    assert format_amount(total) == "0.30"


def test_many_small_amounts_add_up_exactly() -> None:
    total = Money.zero("USD")
    for _ in range(1000):
        total += parse_amount("0.01", "USD")
    assert total == parse_amount("10", "USD")


def test_jpy_and_krw_have_no_decimals() -> None:
    assert currency("JPY").minor_units == 0
    assert currency("KRW").minor_units == 0
    assert format_amount(parse_amount("1000", "JPY")) == "1000"
    assert format_amount(parse_amount("1000", "KRW")) == "1000"


@pytest.mark.parametrize(
    ("text", "code"),
    [("1.5", "JPY"), ("1000.0", "JPY"), ("1.0", "KRW"), ("12.345", "CNY"), ("12.340", "CNY")],
)
def test_more_decimals_than_the_currency_has_are_refused(text: str, code: str) -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount(text, code)
    assert _code(error) == "too_many_decimals"


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "1 000",
        " 12.34",
        "12.34 ",
        "12.34\n",
        "1,000",
        "1_000",
        "1'000",
        "1e3",
        "1E3",
        "1.2e1",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "inf",
        "+12",
        "--1",
        ".5",
        "5.",
        "1.2.3",
        "12,34",
        "١٢",  # Arabic-Indic digits: Decimal() would take them
        "１２",  # fullwidth digits
        "0x10",
        "²",
    ],
)
def test_malformed_amount_text_is_refused(text: str) -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount(text, "CNY")
    assert _code(error) == "invalid_amount"


@pytest.mark.parametrize("value", [12.34, 12, Decimal("12.34"), None, b"12.34"])
def test_amount_that_is_not_text_is_refused(value: Any) -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount(value, "CNY")
    assert _code(error) == "invalid_amount"


def test_amount_text_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount("0" * (AMOUNT_TEXT_CHARS_MAX + 1), "JPY")
    assert _code(error) == "invalid_amount"


def test_negative_amount_is_refused_unless_allowed() -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount("-1.00", "USD")
    assert _code(error) == "negative_amount"
    assert parse_amount("-1.00", "USD", allow_negative=True) == Money.of(-100, "USD")


@pytest.mark.parametrize(
    ("text", "code"),
    [("9223372036854775808", "JPY"), ("92233720368547758.08", "USD"), ("1" + "0" * 30, "KRW")],
)
def test_amount_beyond_63_bits_of_minor_units_is_refused(text: str, code: str) -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount(text, code)
    assert _code(error) == "amount_too_large"


def test_parse_with_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError) as error:
        parse_amount("1", "XYZ")
    assert _code(error) == "unknown_currency"


# --- Money ------------------------------------------------------------------------------


def test_money_is_immutable() -> None:
    money = Money.of(100, "JPY")
    with pytest.raises(AttributeError):
        money.amount = 200  # type: ignore[misc]


def test_money_of_same_currency_adds_subtracts_and_compares() -> None:
    a, b = Money.of(150, "CNY"), Money.of(50, "CNY")
    assert a + b == Money.of(200, "CNY")
    assert a - b == Money.of(100, "CNY")
    assert b - a == Money.of(-100, "CNY")
    assert -a == Money.of(-150, "CNY")
    assert b < a and b <= a and a > b and a >= b


@pytest.mark.parametrize(
    "operation",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
        lambda a, b: a > b,
        lambda a, b: a >= b,
    ],
)
def test_money_of_different_currencies_does_not_combine(operation: Any) -> None:
    with pytest.raises(MoneyError) as error:
        operation(Money.of(100, "JPY"), Money.of(100, "KRW"))
    assert _code(error) == "currency_mismatch"


def test_money_of_different_currencies_is_never_equal() -> None:
    assert Money.of(100, "JPY") != Money.of(100, "KRW")


def test_money_does_not_mix_with_plain_numbers() -> None:
    money: Any = Money.of(100, "JPY")
    with pytest.raises(TypeError):
        money + 1
    with pytest.raises(TypeError):
        money + 0.5


def test_sum_beyond_63_bits_is_refused() -> None:
    with pytest.raises(MoneyError) as error:
        Money.of(AMOUNT_MAX_MINOR, "JPY") + Money.of(1, "JPY")
    assert _code(error) == "amount_too_large"


@pytest.mark.parametrize("amount", [1.0, Decimal(1), True, "1"])
def test_money_amount_must_be_an_int(amount: Any) -> None:
    with pytest.raises(MoneyError) as error:
        Money(amount, currency("JPY"))
    assert _code(error) == "invalid_amount"


def test_money_currency_must_be_a_currency() -> None:
    code: Any = "JPY"
    with pytest.raises(MoneyError) as error:
        Money(1, code)
    assert _code(error) == "unknown_currency"


def test_money_prints_with_its_currency_code() -> None:
    assert str(Money.of(1234, "CNY")) == "12.34 CNY"


# --- convert ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "yen"),
    [(1, 0), (3, 2), (5, 2), (7, 4), (-1, 0), (-3, -2), (-5, -2), (2, 1), (9, 4)],
)
def test_convert_rounds_half_to_even(cents: int, yen: int) -> None:
    # At 50 JPY per USD, a cent is half a yen: 0.5 → 0, 1.5 → 2, 2.5 → 2, 3.5 → 4.
    assert convert(cents, "USD", "JPY", Decimal("50")) == yen


def test_convert_rounds_to_nearest_when_not_a_half() -> None:
    assert convert(1, "USD", "JPY", Decimal("50.0001")) == 1
    assert convert(1, "USD", "JPY", Decimal("49.9999")) == 0


def test_convert_cny_to_jpy_at_a_realistic_rate() -> None:
    # 123.45 CNY at 20.512345 JPY/CNY = 2532.2489... JPY
    assert convert(12345, "CNY", "JPY", Decimal("20.512345")) == 2532


def test_convert_jpy_to_krw_and_back_keeps_the_minor_units_right() -> None:
    assert convert(1000, "JPY", "KRW", Decimal("9.2")) == 9200
    assert convert(9200, "KRW", "JPY", Decimal("0.108695652")) == 1000


def test_convert_into_a_currency_with_decimals_scales_up() -> None:
    # 1000 JPY at 0.0487 CNY/JPY = 48.70 CNY = 4870 fen
    assert convert(1000, "JPY", "CNY", Decimal("0.0487")) == 4870


def test_convert_money_returns_money_in_the_target_currency() -> None:
    assert convert_money(Money.of(1000, "JPY"), "CNY", Decimal("0.0487")) == Money.of(4870, "CNY")


def test_convert_is_exact_for_long_rates() -> None:
    rate = Decimal("1." + "0" * 32 + "1")  # 34 significant digits
    assert convert(AMOUNT_MAX_MINOR // 2, "JPY", "JPY", rate) == AMOUNT_MAX_MINOR // 2


@pytest.mark.parametrize(
    "rate",
    [
        Decimal(0),
        Decimal("-1.5"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("1." + "1" * RATE_DIGITS_MAX),
        Decimal("1E-2000000"),
        Decimal("1E+2000000"),
    ],
)
def test_convert_refuses_rates_that_are_not_positive_finite_decimals(rate: Decimal) -> None:
    with pytest.raises(MoneyError) as error:
        convert(100, "USD", "JPY", rate)
    assert _code(error) == "invalid_rate"


@pytest.mark.parametrize("rate", [150.5, 150, "150.5"])
def test_convert_refuses_rates_that_are_not_decimal(rate: Any) -> None:
    with pytest.raises(MoneyError) as error:
        convert(100, "USD", "JPY", rate)
    assert _code(error) == "invalid_rate"


def test_convert_refuses_results_beyond_63_bits() -> None:
    with pytest.raises(MoneyError) as error:
        convert(AMOUNT_MAX_MINOR, "USD", "KRW", Decimal("1400"))
    assert _code(error) == "amount_too_large"
    with pytest.raises(MoneyError) as error:
        convert(1, "JPY", "JPY", Decimal("1E+999999"))
    assert _code(error) == "amount_too_large"


def test_convert_refuses_a_result_that_rounds_past_the_limit() -> None:
    # 0.005 BHD at these rates is AMOUNT_MAX_MINOR + 0.4 and + 0.6 yen.
    assert convert(5, "BHD", "JPY", Decimal(200 * AMOUNT_MAX_MINOR + 80)) == AMOUNT_MAX_MINOR
    with pytest.raises(MoneyError) as error:
        convert(5, "BHD", "JPY", Decimal(200 * AMOUNT_MAX_MINOR + 120))
    assert _code(error) == "amount_too_large"


def test_convert_refuses_unknown_currencies_and_non_int_amounts() -> None:
    with pytest.raises(MoneyError) as error:
        convert(1, "USD", "XYZ", Decimal(1))
    assert _code(error) == "unknown_currency"
    amount: Any = 1.5
    with pytest.raises(MoneyError) as error:
        convert(amount, "USD", "JPY", Decimal(1))
    assert _code(error) == "invalid_amount"


@settings(max_examples=200, deadline=None)
@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    source=st.sampled_from(CORRIDOR_CURRENCIES),
    target=st.sampled_from(CORRIDOR_CURRENCIES),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(2000), places=6),
)
def test_convert_is_within_half_a_minor_unit_of_the_exact_value(
    minor: int, source: str, target: str, rate: Decimal
) -> None:
    exact = (
        Fraction(minor)
        / 10 ** currency(source).minor_units
        * Fraction(rate)
        * 10 ** currency(target).minor_units
    )
    assume(abs(exact) < 2**63 - 2)  # Beyond the ledger's range is refused (tested above).
    result = convert(minor, source, target, rate)
    assert abs(Fraction(result) - exact) <= Fraction(1, 2)
    if abs(Fraction(result) - exact) == Fraction(1, 2):
        assert result % 2 == 0
