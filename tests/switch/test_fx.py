"""Tests for corridor.switch.fx: rate sources, quote rounding, fees, and the quote book.

What they pin: ECB cross rates through EUR against the real file (JPY→CNY on a known day, and
consistency across CNY, JPY, KRW and USD); which side of a provider's bid/ask the customer
gets; the rounding rule, as properties checked in exact rational arithmetic (a target-fixed
quote's source always covers the target and is the smallest that does; a source-fixed quote's
target never exceeds what the source is worth); fees; and a quote's single use before expiry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.formats.ecb import EcbRates, load_ecb_csv, parse_ecb_csv
from corridor.switch.fx import (
    FEE_BPS_MAX,
    NO_FEES,
    NS_PER_S,
    QUOTE_RETENTION_S,
    QUOTE_TTL_S,
    RATE_PRECISION_DIGITS,
    SPREAD_BPS_MAX,
    EcbRateSource,
    FeeSchedule,
    FixedSide,
    FxError,
    FxProvider,
    PairPrice,
    ProviderRateSource,
    Quote,
    QuoteBook,
    quote_for_source,
    quote_for_target,
    sequential_ids,
)
from corridor.switch.money import AMOUNT_MAX_MINOR, Currency, Money, convert, currency

ECB_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fx" / "eurofxref-hist.csv"
needs_ecb_file = pytest.mark.skipif(not ECB_FILE.exists(), reason=f"{ECB_FILE} is absent")

CORRIDOR = ("CNY", "JPY", "KRW", "USD")
CNY, JPY, KRW, USD = (currency(code) for code in CORRIDOR)


def _ns(year: int, month: int, day: int, hour: int = 12) -> int:
    moment = dt.datetime(year, month, day, hour, tzinfo=dt.UTC)
    return int(moment.timestamp()) * NS_PER_S


FRIDAY_NS = _ns(2024, 3, 15)
SATURDAY_NS = _ns(2024, 3, 16)

# A small ECB file, so most tests run without the real one: 2024-03-15 as published.
SMALL_ECB = (
    "Date,USD,JPY,CNY,KRW,XAU,\n"
    "2024-03-15,1.0892,162.03,7.838,1448.71,N/A,\n"
    "2024-03-14,1.0925,161.7,7.8564,1441.24,N/A,\n"
)


class FixedRate:
    """A rate source with one rate for every pair (the properties draw it)."""

    def __init__(self, rate: Decimal) -> None:
        self._rate = rate

    def rate(self, source: Currency, target: Currency, at_ns: int) -> Decimal:
        return self._rate


@pytest.fixture(scope="module")
def history() -> EcbRates:
    return load_ecb_csv(ECB_FILE)


@pytest.fixture
def ecb() -> EcbRateSource:
    return EcbRateSource(parse_ecb_csv(SMALL_ECB))


@pytest.fixture
def provider(ecb: EcbRateSource) -> FxProvider:
    return FxProvider("fx-tokyo", ecb)


def _code(error: pytest.ExceptionInfo[FxError]) -> str:
    return error.value.code


def _covers(quote: Quote) -> bool:
    """source × rate ≥ target, exactly, in minor units."""
    scale = Fraction(10) ** (quote.target.currency.minor_units - quote.source.currency.minor_units)
    return quote.source.amount * Fraction(quote.rate) * scale >= quote.target.amount


# --- ECB cross rates -------------------------------------------------------------------


@needs_ecb_file
def test_ecb_cross_rate_jpy_to_cny_from_the_real_file(history: EcbRates) -> None:
    # 2024-03-15: 1 EUR = 162.03 JPY = 7.838 CNY, so 1 JPY = 7.838 / 162.03 CNY.
    rate = EcbRateSource(history).rate(JPY, CNY, FRIDAY_NS)
    assert rate == Decimal("0.04837375794605937172128618157")
    assert len(rate.as_tuple().digits) == RATE_PRECISION_DIGITS
    assert abs(Fraction(rate) - Fraction(7838, 162030)) < Fraction(1, 10**29)


@needs_ecb_file
def test_ecb_rates_on_a_weekend_are_fridays(history: EcbRates) -> None:
    source = EcbRateSource(history)
    assert source.rate(KRW, JPY, SATURDAY_NS) == source.rate(KRW, JPY, FRIDAY_NS)
    assert source.rate(CNY, KRW, SATURDAY_NS) == Decimal("1448.71") / Decimal("7.838")


@needs_ecb_file
@pytest.mark.parametrize(
    ("source", "target"), [(a, b) for a in CORRIDOR for b in CORRIDOR if a != b]
)
def test_ecb_cross_rates_are_symmetric(history: EcbRates, source: str, target: str) -> None:
    rates = EcbRateSource(history)
    there = rates.rate(currency(source), currency(target), FRIDAY_NS)
    back = rates.rate(currency(target), currency(source), FRIDAY_NS)
    assert abs(Fraction(there) * Fraction(back) - 1) < Fraction(1, 10**26)
    per_euro = history.rates_on(dt.date(2024, 3, 15)).rates
    assert abs(Fraction(there) - Fraction(per_euro[target]) / Fraction(per_euro[source])) < (
        Fraction(there) / 10**27
    )


@needs_ecb_file
@pytest.mark.parametrize(
    ("source", "target"), [(a, b) for a in CORRIDOR for b in CORRIDOR if a != b]
)
def test_ecb_quotes_cover_targets_between_corridor_currencies(
    history: EcbRates, source: str, target: str
) -> None:
    provider = FxProvider("fx-tokyo", EcbRateSource(history))
    for amount in (1, 99, 1_000, 123_457, 10**9):
        quote = quote_for_target(
            Money.of(amount, target), source, provider, quote_id="q", now_ns=FRIDAY_NS
        )
        assert _covers(quote)
        back = quote_for_source(quote.source, target, provider, quote_id="r", now_ns=FRIDAY_NS)
        assert back.target.amount >= amount


def test_ecb_euro_is_one(ecb: EcbRateSource) -> None:
    euro = currency("EUR")
    assert ecb.rate(euro, JPY, FRIDAY_NS) == Decimal("162.03")
    assert ecb.rate(USD, euro, FRIDAY_NS) == Decimal(1) / Decimal("1.0892")


def test_ecb_no_rate_before_the_first_day(ecb: EcbRateSource) -> None:
    with pytest.raises(FxError) as caught:
        ecb.rate(CNY, JPY, _ns(2024, 3, 13))
    assert _code(caught) == "no_rate"


def test_ecb_no_rate_for_a_currency_not_published(ecb: EcbRateSource) -> None:
    with pytest.raises(FxError) as caught:
        ecb.rate(currency("XAU"), JPY, FRIDAY_NS)  # N/A in the file
    assert _code(caught) == "no_rate"
    with pytest.raises(FxError) as caught:
        ecb.rate(currency("GBP"), JPY, FRIDAY_NS)  # no column at all
    assert _code(caught) == "no_rate"


def test_ecb_same_currency_is_refused(ecb: EcbRateSource) -> None:
    with pytest.raises(FxError) as caught:
        ecb.rate(JPY, JPY, FRIDAY_NS)
    assert _code(caught) == "same_currency"


# --- Provider bid/ask ------------------------------------------------------------------


def test_pair_price_from_mid_is_exact() -> None:
    price = PairPrice.from_mid("USD", "JPY", Decimal("150.25"), spread_bps=20)
    assert price.bid == Decimal("150.09975")  # 150.25 × (1 − 0.0010)
    assert price.ask == Decimal("150.40025")  # 150.25 × (1 + 0.0010)


def test_customer_selling_base_gets_the_bid() -> None:
    source = ProviderRateSource([PairPrice("USD", "JPY", Decimal("150.10"), Decimal("150.40"))])
    assert source.rate(USD, JPY, 0) == Decimal("150.10")


def test_customer_buying_base_pays_the_ask() -> None:
    source = ProviderRateSource([PairPrice("USD", "JPY", Decimal("150.10"), Decimal("150.40"))])
    rate = source.rate(JPY, USD, 0)
    assert len(rate.as_tuple().digits) == RATE_PRECISION_DIGITS
    assert Fraction(rate) <= Fraction(1) / Fraction(Decimal("150.40"))  # rounded down
    assert Fraction(1) / Fraction(Decimal("150.40")) - Fraction(rate) < Fraction(1, 10**29)


@given(
    mid=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(10**6), places=4),
    spread_bps=st.integers(1, SPREAD_BPS_MAX),
)
def test_the_customer_never_beats_the_mid(mid: Decimal, spread_bps: int) -> None:
    source = ProviderRateSource([PairPrice.from_mid("KRW", "JPY", mid, spread_bps)])
    assert source.rate(KRW, JPY, 0) < mid
    assert Fraction(source.rate(JPY, KRW, 0)) < 1 / Fraction(mid)


def test_provider_round_trip_costs_the_spread() -> None:
    provider = FxProvider(
        "fx-seoul",
        ProviderRateSource([PairPrice.from_mid("CNY", "KRW", Decimal("184.83"), 50)]),
    )
    start = Money.of(100_000, "CNY")
    there = quote_for_source(start, "KRW", provider, quote_id="a", now_ns=0)
    back = quote_for_source(there.target, "CNY", provider, quote_id="b", now_ns=0)
    assert back.target < start
    assert back.target.amount >= start.amount * (10_000 - 51) // 10_000


def test_provider_without_the_pair_has_no_rate() -> None:
    source = ProviderRateSource([PairPrice("USD", "JPY", Decimal("150"), Decimal("151"))])
    with pytest.raises(FxError) as caught:
        source.rate(CNY, JPY, 0)
    assert _code(caught) == "no_rate"


@pytest.mark.parametrize(
    ("bid", "ask"),
    [
        (Decimal("151"), Decimal("150")),  # crossed
        (Decimal("100"), Decimal("130")),  # 26% of the mid, beyond SPREAD_BPS_MAX
    ],
)
def test_invalid_spread(bid: Decimal, ask: Decimal) -> None:
    with pytest.raises(FxError) as caught:
        PairPrice("USD", "JPY", bid, ask)
    assert _code(caught) == "invalid_spread"


@pytest.mark.parametrize("spread_bps", [-1, SPREAD_BPS_MAX + 1, True])
def test_invalid_spread_bps(spread_bps: int) -> None:
    with pytest.raises(FxError) as caught:
        PairPrice.from_mid("USD", "JPY", Decimal("150"), spread_bps)
    assert _code(caught) == "invalid_spread"


def test_widest_spread_is_accepted() -> None:
    price = PairPrice.from_mid("USD", "JPY", Decimal("150.25"), SPREAD_BPS_MAX)
    assert price.bid < price.ask


def test_zero_spread_is_the_mid() -> None:
    price = PairPrice.from_mid("USD", "JPY", Decimal("150.25"), 0)
    assert price.bid == price.ask == Decimal("150.25")


@pytest.mark.parametrize("rate", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_invalid_rate(rate: Decimal) -> None:
    with pytest.raises(FxError) as caught:
        PairPrice("USD", "JPY", rate, Decimal(150))
    assert _code(caught) == "invalid_rate"


def test_float_rate_is_refused() -> None:
    with pytest.raises(FxError) as caught:
        PairPrice("USD", "JPY", 150.1, Decimal(151))  # type: ignore[arg-type]
    assert _code(caught) == "invalid_rate"


def test_pair_priced_twice_is_refused() -> None:
    with pytest.raises(FxError) as caught:
        ProviderRateSource(
            [
                PairPrice("USD", "JPY", Decimal("150"), Decimal("151")),
                PairPrice("JPY", "USD", Decimal("0.0066"), Decimal("0.0067")),
            ]
        )
    assert _code(caught) == "duplicate_pair"


def test_pair_of_one_currency_is_refused() -> None:
    with pytest.raises(FxError) as caught:
        PairPrice("JPY", "JPY", Decimal(1), Decimal(1))
    assert _code(caught) == "same_currency"


def test_pair_of_unknown_currency_is_refused() -> None:
    with pytest.raises(FxError) as caught:
        PairPrice("ABC", "JPY", Decimal(1), Decimal(1))
    assert _code(caught) == "unknown_currency"


# --- Quote rounding --------------------------------------------------------------------


def test_qr_amount_in_yen_paid_in_yuan(provider: FxProvider) -> None:
    # 1,000 JPY at 20.6723... JPY per CNY is 48.3739... CNY: the tourist pays 48.38.
    quote = quote_for_target(Money.of(1000, "JPY"), "CNY", provider, quote_id="q", now_ns=FRIDAY_NS)
    assert quote.source == Money.of(4838, "CNY")
    assert quote.target == Money.of(1000, "JPY")
    assert quote.rate == Decimal("162.03") / Decimal("7.838")
    assert quote.fixed_side is FixedSide.TARGET
    assert quote.provider_id == "fx-tokyo"
    # One fen less is worth 999.93 yen: short of the target, though half-even rounds it to
    # 1,000. That gap is what the provider would fund if the source were rounded half-even.
    assert Fraction(Decimal("48.37")) * Fraction(quote.rate) < 1000
    assert convert(4837, "CNY", "JPY", quote.rate) == 1000


def test_source_fixed_rounds_the_target_down(provider: FxProvider) -> None:
    # 100.00 CNY at 184.8315... KRW per CNY is 18,483.16 KRW: the merchant gets 18,483.
    quote = quote_for_source(
        Money.of(10_000, "CNY"), "KRW", provider, quote_id="q", now_ns=FRIDAY_NS
    )
    assert quote.target == Money.of(18_483, "KRW")
    assert quote.fixed_side is FixedSide.SOURCE


def test_target_rounds_down_even_past_half() -> None:
    rate_source = FixedRate(Decimal("1.9"))
    quote = quote_for_source(
        Money.of(1, "KRW"), "JPY", FxProvider("fx", rate_source), quote_id="q", now_ns=0
    )
    assert quote.target == Money.of(1, "JPY")  # 1.9 rounds down, never to 2


def test_source_rounds_up_even_below_half() -> None:
    quote = quote_for_target(
        Money.of(1001, "JPY"),
        "KRW",
        FxProvider("fx", FixedRate(Decimal("10"))),
        quote_id="q",
        now_ns=0,
    )
    assert quote.source == Money.of(101, "KRW")  # 100.1 rounds up, never to 100


_amounts = st.integers(1, 10**12)
_rates = st.builds(
    lambda digits, exponent: Decimal(digits).scaleb(exponent),
    st.integers(1, 10**28 - 1),
    st.integers(-40, -8),
).filter(lambda rate: Decimal("1e-6") <= rate <= Decimal("1e6"))
_pairs = st.sampled_from([(a, b) for a in CORRIDOR for b in CORRIDOR if a != b])


@given(_amounts, _rates, _pairs)
@settings(max_examples=500, deadline=None)
def test_target_quote_source_covers_the_target(
    amount: int, rate: Decimal, pair: tuple[str, str]
) -> None:
    source_code, target_code = pair
    provider = FxProvider("fx", FixedRate(rate))
    scale = Fraction(10) ** (currency(target_code).minor_units - currency(source_code).minor_units)
    try:
        quote = quote_for_target(
            Money.of(amount, target_code), source_code, provider, quote_id="q", now_ns=0
        )
    except FxError as error:
        assert error.code == "amount_too_large"
        assert Fraction(amount) / (Fraction(rate) * scale) > AMOUNT_MAX_MINOR
        return
    assert quote.target.amount == amount
    exact_value = quote.source.amount * Fraction(rate) * scale
    assert exact_value >= amount  # never short by rounding
    assert (quote.source.amount - 1) * Fraction(rate) * scale < amount  # and the smallest
    assert convert(quote.source.amount, source_code, target_code, rate) >= amount


@given(_amounts, _rates, _pairs)
@settings(max_examples=500, deadline=None)
def test_source_quote_target_never_exceeds_the_source(
    amount: int, rate: Decimal, pair: tuple[str, str]
) -> None:
    source_code, target_code = pair
    provider = FxProvider("fx", FixedRate(rate))
    scale = Fraction(10) ** (currency(target_code).minor_units - currency(source_code).minor_units)
    try:
        quote = quote_for_source(
            Money.of(amount, source_code), target_code, provider, quote_id="q", now_ns=0
        )
    except FxError as error:
        exact_value = amount * Fraction(rate) * scale
        if error.code == "invalid_amount":  # converts to less than one minor unit
            assert exact_value < 1
        else:
            assert error.code == "amount_too_large"
            assert exact_value >= AMOUNT_MAX_MINOR + 1
        return
    exact_value = amount * Fraction(rate) * scale
    assert quote.target.amount <= exact_value < quote.target.amount + 1
    assert quote.target.amount == math.floor(exact_value)


@given(st.integers(1, 10**9), _rates, _pairs)
@settings(max_examples=300, deadline=None)
def test_round_trips_never_favour_the_customer(
    amount: int, rate: Decimal, pair: tuple[str, str]
) -> None:
    source_code, target_code = pair
    provider = FxProvider("fx", FixedRate(rate))
    target = Money.of(amount, target_code)
    paid = quote_for_target(target, source_code, provider, quote_id="q", now_ns=0).source
    delivered = quote_for_source(paid, target_code, provider, quote_id="r", now_ns=0).target
    assert delivered >= target
    # And from the other side: what a source buys costs no more than that source.
    bought = quote_for_source(paid, target_code, provider, quote_id="s", now_ns=0).target
    again = quote_for_target(bought, source_code, provider, quote_id="t", now_ns=0).source
    assert again <= paid


# --- Quote refusals --------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1000])
def test_target_must_be_positive(provider: FxProvider, amount: int) -> None:
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(amount, "JPY"), "CNY", provider, quote_id="q", now_ns=0)
    assert _code(caught) == "invalid_amount"


def test_source_worth_less_than_a_minor_unit_is_refused(provider: FxProvider) -> None:
    with pytest.raises(FxError) as caught:  # 1 KRW is 0.54 fen
        quote_for_source(Money.of(1, "KRW"), "CNY", provider, quote_id="q", now_ns=FRIDAY_NS)
    assert _code(caught) == "invalid_amount"


def test_same_currency_quote_is_refused(provider: FxProvider) -> None:
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(1000, "JPY"), "JPY", provider, quote_id="q", now_ns=FRIDAY_NS)
    assert _code(caught) == "same_currency"


@pytest.mark.parametrize("code", ["ABC", "jpy", "", "JPYY"])
def test_unknown_currency_is_refused(provider: FxProvider, code: str) -> None:
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(1000, "JPY"), code, provider, quote_id="q", now_ns=FRIDAY_NS)
    assert _code(caught) == "unknown_currency"


def test_no_rate_reaches_the_quote(provider: FxProvider) -> None:
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(1000, "JPY"), "GBP", provider, quote_id="q", now_ns=FRIDAY_NS)
    assert _code(caught) == "no_rate"


def test_amount_too_large_is_refused() -> None:
    provider = FxProvider("fx", FixedRate(Decimal("0.0001")))
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(10**18, "JPY"), "KRW", provider, quote_id="q", now_ns=0)
    assert _code(caught) == "amount_too_large"


def test_rate_source_returning_float_is_refused() -> None:
    provider = FxProvider("fx", FixedRate(1.5))  # type: ignore[arg-type]
    with pytest.raises(FxError) as caught:
        quote_for_target(Money.of(100, "JPY"), "KRW", provider, quote_id="q", now_ns=0)
    assert _code(caught) == "invalid_rate"


@pytest.mark.parametrize("quote_id", ["", "x" * 65])
def test_invalid_quote_id(provider: FxProvider, quote_id: str) -> None:
    with pytest.raises(FxError) as caught:
        quote_for_target(
            Money.of(1000, "JPY"), "CNY", provider, quote_id=quote_id, now_ns=FRIDAY_NS
        )
    assert _code(caught) == "invalid_quote_id"


def test_quote_is_frozen(provider: FxProvider) -> None:
    quote = quote_for_target(Money.of(1000, "JPY"), "CNY", provider, quote_id="q", now_ns=FRIDAY_NS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quote.source = Money.of(1, "CNY")  # type: ignore[misc]


# --- Fees ------------------------------------------------------------------------------


def test_fee_is_fixed_plus_basis_points_on_top(ecb: EcbRateSource) -> None:
    fees = FeeSchedule(bps=30, fixed={"CNY": 100})
    quote = quote_for_target(
        Money.of(1000, "JPY"), "CNY", FxProvider("fx", ecb, fees), quote_id="q", now_ns=FRIDAY_NS
    )
    # 48.38 CNY × 0.30% = 0.14514 CNY → 15 fen; plus the fixed 1.00 CNY.
    assert quote.source == Money.of(4838, "CNY")
    assert quote.fee == Money.of(115, "CNY")
    assert quote.debit_total == Money.of(4953, "CNY")


@pytest.mark.parametrize(
    ("amount", "fee"),
    [(200, 0), (600, 2), (1000, 2), (1400, 4), (1399, 3), (1401, 4)],
)
def test_percentage_fee_rounds_half_even(amount: int, fee: int) -> None:
    # 25 bps: 200 → 0.5 → 0; 600 → 1.5 → 2; 1000 → 2.5 → 2; 1400 → 3.5 → 4.
    assert FeeSchedule(bps=25).fee_for(Money.of(amount, "JPY")) == Money.of(fee, "JPY")


def test_fixed_fee_applies_only_to_its_currency() -> None:
    fees = FeeSchedule(fixed={"CNY": 100})
    assert fees.fee_for(Money.of(5000, "KRW")) == Money.zero("KRW")
    assert fees.fee_for(Money.of(5000, "CNY")) == Money.of(100, "CNY")


def test_no_fees() -> None:
    assert NO_FEES.fee_for(Money.of(10**12, "KRW")) == Money.zero("KRW")


def test_fee_schedule_from_data() -> None:
    fees = FeeSchedule.from_mapping({"bps": 30, "fixed": {"CNY": "1.00", "KRW": "200"}})
    assert fees == FeeSchedule(bps=30, fixed={"CNY": 100, "KRW": 200})
    assert FeeSchedule.from_mapping({}) == NO_FEES


@pytest.mark.parametrize(
    "data",
    [
        {"bps": FEE_BPS_MAX + 1},
        {"bps": -1},
        {"bps": True},
        {"bps": "30"},
        {"bps": 1.5},
        {"fixed": {"CNY": "1.005"}},  # more decimals than the fen
        {"fixed": {"CNY": "-1.00"}},
        {"fixed": {"CNY": 100}},  # amounts are text in data
        {"fixed": ["CNY"]},
        {"percent": 1},
    ],
)
def test_invalid_fee_schedule(data: dict[str, object]) -> None:
    with pytest.raises(FxError) as caught:
        FeeSchedule.from_mapping(data)
    assert _code(caught) == "invalid_fee"


def test_fee_schedule_with_unknown_currency() -> None:
    with pytest.raises(FxError) as caught:
        FeeSchedule.from_mapping({"fixed": {"XYZ": "1"}})
    assert _code(caught) == "unknown_currency"


# --- Quote book: ids, expiry, single use -----------------------------------------------


def test_ids_are_deterministic(provider: FxProvider) -> None:
    book = QuoteBook()
    ids = [
        book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS).quote_id
        for _ in range(3)
    ]
    assert ids == ["quote-1", "quote-2", "quote-3"]
    custom = QuoteBook(next_id=sequential_ids("fx-tokyo-", start=100))
    quote = custom.quote_for_source(Money.of(5000, "CNY"), "JPY", provider, now_ns=FRIDAY_NS)
    assert quote.quote_id == "fx-tokyo-100"
    assert custom.get("fx-tokyo-100") == quote


def test_refused_quote_consumes_no_id(provider: FxProvider) -> None:
    book = QuoteBook()
    with pytest.raises(FxError):
        book.quote_for_target(Money.of(1000, "JPY"), "JPY", provider, now_ns=FRIDAY_NS)
    quote = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    assert quote.quote_id == "quote-1"
    assert len(book) == 1


def test_quote_expires_after_the_ttl(provider: FxProvider) -> None:
    quote = QuoteBook().quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    assert QUOTE_TTL_S == 60
    assert quote.created_at_ns == FRIDAY_NS
    assert quote.expires_at_ns == FRIDAY_NS + QUOTE_TTL_S * NS_PER_S


def test_use_once(provider: FxProvider) -> None:
    book = QuoteBook()
    quote = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    assert not book.is_used(quote.quote_id)
    assert book.use(quote.quote_id, FRIDAY_NS + 1) == quote
    assert book.is_used(quote.quote_id)
    with pytest.raises(FxError) as caught:
        book.use(quote.quote_id, FRIDAY_NS + 2)
    assert _code(caught) == "quote_used"


def test_use_at_the_expiry_instant_is_too_late(provider: FxProvider) -> None:
    book = QuoteBook()
    late = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    just_in_time = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    with pytest.raises(FxError) as caught:
        book.use(late.quote_id, late.expires_at_ns)
    assert _code(caught) == "quote_expired"
    assert not book.is_used(late.quote_id)  # a refused use changes nothing
    with pytest.raises(FxError) as caught:
        book.use(late.quote_id, late.expires_at_ns + 10 * NS_PER_S)
    assert _code(caught) == "quote_expired"
    assert book.use(just_in_time.quote_id, just_in_time.expires_at_ns - 1) == just_in_time


def test_used_then_expired_reports_used(provider: FxProvider) -> None:
    book = QuoteBook()
    quote = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    book.use(quote.quote_id, FRIDAY_NS)
    with pytest.raises(FxError) as caught:
        book.use(quote.quote_id, quote.expires_at_ns + 1)
    assert _code(caught) == "quote_used"


def test_unknown_quote(provider: FxProvider) -> None:
    book = QuoteBook()
    book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    with pytest.raises(FxError) as caught:
        book.get("quote-9")
    assert _code(caught) == "unknown_quote"
    with pytest.raises(FxError) as caught:
        book.use("quote-9", FRIDAY_NS)
    assert _code(caught) == "unknown_quote"


def test_quotes_are_forgotten_after_retention(provider: FxProvider) -> None:
    book = QuoteBook()
    old = book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    forget_at = old.expires_at_ns + QUOTE_RETENTION_S * NS_PER_S
    assert book.prune(forget_at - 1) == 0
    book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=forget_at)
    assert old.quote_id not in book
    with pytest.raises(FxError) as caught:
        book.use(old.quote_id, forget_at)
    assert _code(caught) == "unknown_quote"


def test_quote_book_full(provider: FxProvider) -> None:
    book = QuoteBook(quotes_max=2)
    for _ in range(2):
        book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    with pytest.raises(FxError) as caught:
        book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    assert _code(caught) == "quote_book_full"
    later = FRIDAY_NS + (QUOTE_TTL_S + QUOTE_RETENTION_S) * NS_PER_S
    assert book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=later)


def test_repeated_id_is_refused(provider: FxProvider) -> None:
    book = QuoteBook(next_id=lambda: "same")
    book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    with pytest.raises(FxError) as caught:
        book.quote_for_target(Money.of(1000, "JPY"), "CNY", provider, now_ns=FRIDAY_NS)
    assert _code(caught) == "duplicate_quote_id"


_operations = st.lists(
    st.one_of(
        st.tuples(st.just("issue"), st.integers(1, 10**6)),
        st.tuples(st.just("use"), st.integers(1, 12)),
        st.tuples(st.just("wait"), st.integers(0, 90 * NS_PER_S)),
    ),
    max_size=40,
)


@given(_operations)
@settings(max_examples=200, deadline=None)
def test_quote_book_matches_a_model(operations: list[tuple[str, int]]) -> None:
    """Against a model without retention: each use succeeds once, before expiry."""
    provider = FxProvider("fx", FixedRate(Decimal("0.0483")))
    book = QuoteBook(retention_s=10**6)
    expires: dict[str, int] = {}
    used: set[str] = set()
    now = FRIDAY_NS
    for operation, value in operations:
        if operation == "wait":
            now += value
        elif operation == "issue":
            quote = book.quote_for_target(Money.of(value, "CNY"), "JPY", provider, now_ns=now)
            assert quote.quote_id not in expires
            assert _covers(quote)
            expires[quote.quote_id] = quote.expires_at_ns
        else:
            quote_id = f"quote-{value}"
            expected = (
                "unknown_quote"
                if quote_id not in expires
                else "quote_used"
                if quote_id in used
                else "quote_expired"
                if now >= expires[quote_id]
                else None
            )
            if expected is None:
                assert book.use(quote_id, now).quote_id == quote_id
                used.add(quote_id)
            else:
                with pytest.raises(FxError) as caught:
                    book.use(quote_id, now)
                assert _code(caught) == expected
