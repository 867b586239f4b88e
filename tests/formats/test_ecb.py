"""Tests for corridor.formats.ecb: the ECB reference rates history CSV, loaded strictly.

Known answers come from the real file (``../shared/data/fx/eurofxref-hist.csv`` beside the
project; skipped when absent), read off its lines by hand. Then the lookup's fallback over
weekends and holidays, every malformation refused with its line number (files built in
tmp_path), and two properties: generated files round-trip exactly, and arbitrary text raises
nothing but `EcbFormatError`.
"""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.formats.ecb import (
    FALLBACK_DAYS_MAX,
    EcbDay,
    EcbError,
    EcbFormatError,
    EcbRates,
    load_ecb_csv,
    parse_ecb_csv,
)

ECB_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "fx" / "eurofxref-hist.csv"
needs_ecb_file = pytest.mark.skipif(not ECB_FILE.exists(), reason=f"{ECB_FILE} is absent")

LOAD_SECONDS_MAX = 2.0

HEADER = "Date,USD,JPY,CNY,KRW,"
GOOD_ROWS = [
    "2024-03-18,1.0892,162.51,7.8402,1452.75,",
    "2024-03-15,1.0892,162.03,7.838,1448.71,",
    "2024-03-14,1.0925,161.7,7.8564,1441.24,",
]


@pytest.fixture(scope="module")
def history() -> EcbRates:
    return load_ecb_csv(ECB_FILE)


def _csv(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def _refused(text: str) -> EcbFormatError:
    with pytest.raises(EcbFormatError) as caught:
        parse_ecb_csv(text)
    assert caught.value.code == "bad_ecb_file"
    assert str(caught.value).startswith(f"line {caught.value.line}: ")
    return caught.value


# --- The real file ---------------------------------------------------------------------


@needs_ecb_file
def test_real_file_spans_1999_to_2026(history: EcbRates) -> None:
    assert len(history) == 6983
    assert history.first_day == dt.date(1999, 1, 4)
    assert history.last_day == dt.date(2026, 4, 13)
    assert history.currencies[:3] == ("USD", "JPY", "BGN")
    assert {"CNY", "JPY", "KRW", "USD", "HKD"} <= set(history.currencies)


@needs_ecb_file
def test_real_file_rates_on_a_known_day(history: EcbRates) -> None:
    # eurofxref-hist.csv line 529: 2024-03-15,1.0892,162.03,...,7.838,...,1448.71,...
    day = history.rates_on(dt.date(2024, 3, 15))
    assert day.day == dt.date(2024, 3, 15)
    assert day.rates["JPY"] == Decimal("162.03")
    assert day.rates["KRW"] == Decimal("1448.71")
    assert day.rates["CNY"] == Decimal("7.838")
    assert day.rates["USD"] == Decimal("1.0892")


@needs_ecb_file
def test_real_file_rates_are_decimal_exactly_as_written(history: EcbRates) -> None:
    for day in (history.days[0], history.days[-1]):
        for rate in day.rates.values():
            assert type(rate) is Decimal
    assert str(history.rate("JPY", dt.date(2024, 3, 15))) == "162.03"
    assert str(history.rate("IDR", dt.date(2026, 4, 13))) == "20082.05"


@needs_ecb_file
def test_real_file_not_available_is_absent(history: EcbRates) -> None:
    # The ECB published CNY from 2005-04-01 (10.7255); the day before it is N/A.
    assert "CNY" not in history.rates_on(dt.date(2005, 3, 31)).rates
    with pytest.raises(EcbError) as caught:
        history.rate("CNY", dt.date(2005, 3, 31))
    assert caught.value.code == "no_rate"
    assert history.rate("CNY", dt.date(2005, 4, 1)) == Decimal("10.7255")
    assert history.rate("KRW", dt.date(2005, 3, 31)) == Decimal("1316.49")


@needs_ecb_file
def test_real_file_loads_fast() -> None:
    started = time.perf_counter()
    load_ecb_csv(ECB_FILE)
    assert time.perf_counter() - started < LOAD_SECONDS_MAX


# --- Lookup and fallback ---------------------------------------------------------------


@needs_ecb_file
def test_weekend_falls_back_to_friday(history: EcbRates) -> None:
    assert history.rates_on(dt.date(2024, 3, 16)).day == dt.date(2024, 3, 15)
    assert history.rates_on(dt.date(2024, 3, 17)).day == dt.date(2024, 3, 15)
    assert history.rates_on(dt.date(2024, 3, 18)).day == dt.date(2024, 3, 18)


@needs_ecb_file
def test_easter_falls_back_to_maundy_thursday(history: EcbRates) -> None:
    # TARGET closes on Good Friday and Easter Monday: 2024-03-29 to 2024-04-01.
    for holiday in (dt.date(2024, 3, 29), dt.date(2024, 3, 31), dt.date(2024, 4, 1)):
        assert history.rates_on(holiday).day == dt.date(2024, 3, 28)
    assert history.rate("JPY", dt.date(2024, 4, 1)) == Decimal("163.45")


@needs_ecb_file
def test_before_first_day_has_no_rate(history: EcbRates) -> None:
    with pytest.raises(EcbError) as caught:
        history.rates_on(dt.date(1999, 1, 3))
    assert caught.value.code == "no_rate"
    assert "1999-01-04" in str(caught.value)


@needs_ecb_file
def test_long_after_last_day_has_no_rate(history: EcbRates) -> None:
    last = history.last_day
    assert history.rates_on(last + dt.timedelta(days=FALLBACK_DAYS_MAX)).day == last
    with pytest.raises(EcbError) as caught:
        history.rates_on(last + dt.timedelta(days=FALLBACK_DAYS_MAX + 1))
    assert caught.value.code == "no_rate"
    wider = history.rates_on(last + dt.timedelta(days=30), fallback_days_max=30)
    assert wider.day == last


def test_fallback_on_a_small_file() -> None:
    rates = parse_ecb_csv(_csv(HEADER, *GOOD_ROWS))
    assert [day.day for day in rates.days] == [
        dt.date(2024, 3, 14),
        dt.date(2024, 3, 15),
        dt.date(2024, 3, 18),
    ]
    assert rates.rate("KRW", dt.date(2024, 3, 17)) == Decimal("1448.71")


def test_rates_on_refuses_datetime() -> None:
    rates = parse_ecb_csv(_csv(HEADER, *GOOD_ROWS))
    with pytest.raises(TypeError):
        rates.rates_on(dt.datetime(2024, 3, 15, 12, 0))


def test_empty_rates_have_no_rate() -> None:
    with pytest.raises(EcbError) as caught:
        EcbRates([], ["USD"]).rates_on(dt.date(2024, 1, 1))
    assert caught.value.code == "no_rate"


def test_rates_refuse_days_out_of_order() -> None:
    newer = EcbDay(dt.date(2024, 3, 15), MappingProxyType({}))
    older = EcbDay(dt.date(2024, 3, 14), MappingProxyType({}))
    with pytest.raises(ValueError):
        EcbRates([newer, older], [])


# --- Accepted variations ---------------------------------------------------------------


def test_without_trailing_column() -> None:
    text = _csv("Date,USD,JPY", "2024-03-15,1.0892,162.03", "2024-03-14,1.0925,161.7")
    assert parse_ecb_csv(text).rate("JPY", dt.date(2024, 3, 15)) == Decimal("162.03")


def test_crlf_and_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([HEADER, *GOOD_ROWS]) + "\r\n").encode())
    rates = load_ecb_csv(path)
    assert rates.rate("CNY", dt.date(2024, 3, 15)) == Decimal("7.838")
    assert rates.currencies == ("USD", "JPY", "CNY", "KRW")


def test_no_final_line_break() -> None:
    text = "\n".join([HEADER, *GOOD_ROWS])
    assert len(parse_ecb_csv(text)) == 3


def test_header_only_is_empty_history() -> None:
    assert len(parse_ecb_csv(_csv(HEADER))) == 0


def test_not_available_is_skipped() -> None:
    rates = parse_ecb_csv(_csv(HEADER, "2024-03-15,1.0892,N/A,7.838,N/A,"))
    assert dict(rates.rates_on(dt.date(2024, 3, 15)).rates) == {
        "USD": Decimal("1.0892"),
        "CNY": Decimal("7.838"),
    }


# --- Malformed files: the error names the line -----------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "date,USD,JPY,",  # the first column is "Date", exactly
        "Day,USD,JPY,",
        "Date,USD,JPY,USD,",  # a currency twice
        "Date,usd,JPY,",  # lower case
        "Date,US,JPY,",
        "Date,USD,,JPY,",  # an empty column inside
        "Date, USD,JPY,",
        "Date",  # no currency
        "Date,",
    ],
)
def test_bad_header(header: str) -> None:
    assert _refused(_csv(header, "2024-03-15,1.0892,162.03,")).line == 1


def test_empty_file() -> None:
    assert _refused("").line == 1
    assert _refused("\n").line == 1


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "1.2.3",
        "-1.5",
        "+1.5",
        "1.",
        ".5",
        "",  # empty is not N/A
        "n/a",
        "NA",
        " 162.03",
        "162.03 ",
        "1_000",
        '"162.03"',
        "0",
        "0.000",
        "9" * 40,
    ],
)
def test_bad_number(value: str) -> None:
    error = _refused(_csv(HEADER, GOOD_ROWS[0], f"2024-03-15,1.0892,{value},7.838,1448.71,"))
    assert error.line == 3
    assert "JPY" in str(error)


@pytest.mark.parametrize(
    "value", ["1e3", "1.6203E2", "NaN", "nan", "Infinity", "inf", "-0", "0x1p3", "1.0e-3"]
)
def test_float_looking_garbage(value: str) -> None:
    error = _refused(_csv(HEADER, f"2024-03-15,{value},162.03,7.838,1448.71,"))
    assert error.line == 2
    assert "USD" in str(error)


def test_duplicate_date() -> None:
    error = _refused(_csv(HEADER, GOOD_ROWS[0], GOOD_ROWS[1], GOOD_ROWS[1]))
    assert error.line == 4
    assert "first on line 3" in str(error)


def test_date_out_of_order() -> None:
    error = _refused(_csv(HEADER, GOOD_ROWS[1], GOOD_ROWS[0]))
    assert error.line == 3
    assert "newest first" in str(error)


@pytest.mark.parametrize("date", ["2024-02-30", "2024/03/15", "20240315", "15-03-2024", ""])
def test_bad_date(date: str) -> None:
    assert _refused(_csv(HEADER, GOOD_ROWS[0], f"{date},1.0892,162.03,7.838,1448.71,")).line == 3


@pytest.mark.parametrize(
    "row",
    [
        "2024-03-15,1.0892,162.03,7.838,1448.71",  # the trailing column is missing
        "2024-03-15,1.0892,162.03,7.838,",
        "2024-03-15,1.0892,162.03,7.838,1448.71,,",
        "2024-03-15,1.0892,162.03,7.838,1448.71,5",  # the trailing column is not empty
    ],
)
def test_wrong_fields(row: str) -> None:
    assert _refused(_csv(HEADER, GOOD_ROWS[0], row)).line == 3


def test_blank_line() -> None:
    error = _refused(_csv(HEADER, GOOD_ROWS[0], "", GOOD_ROWS[1]))
    assert error.line == 3
    assert "blank" in str(error)
    assert _refused(_csv(HEADER, GOOD_ROWS[0]) + "\n").line == 3


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_bytes(_csv(HEADER, GOOD_ROWS[0]).encode() + b"2024-03-15,\xff\n")
    with pytest.raises(EcbFormatError) as caught:
        load_ecb_csv(path)
    assert caught.value.line == 3


def test_too_large(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import corridor.formats.ecb as ecb

    monkeypatch.setattr(ecb, "FILE_BYTES_MAX", 16)
    path = tmp_path / "rates.csv"
    path.write_text(_csv(HEADER, *GOOD_ROWS))
    with pytest.raises(EcbFormatError) as caught:
        load_ecb_csv(path)
    assert "larger than 16 bytes" in str(caught.value)


def test_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_ecb_csv(tmp_path / "absent.csv")


# --- Properties ------------------------------------------------------------------------

_rate_text = st.builds(
    lambda whole, fraction: f"{whole}.{fraction}" if fraction else str(whole),
    st.integers(1, 10**6),
    st.text("0123456789", max_size=6),
)


@st.composite
def _histories(draw: st.DrawFn) -> tuple[list[str], list[tuple[dt.date, dict[str, str]]]]:
    codes = draw(
        st.lists(st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=3, max_size=3), unique=True)
        .filter(bool)
        .map(lambda found: found[:8])
    )
    ordinals = draw(
        st.lists(st.integers(dt.date(1999, 1, 1).toordinal(), 740_000), unique=True, max_size=20)
    )
    rows = []
    for ordinal in sorted(ordinals, reverse=True):
        values = {code: draw(st.one_of(st.just("N/A"), _rate_text)) for code in codes}
        rows.append((dt.date.fromordinal(ordinal), values))
    return codes, rows


@given(_histories(), st.booleans())
@settings(max_examples=150, deadline=None)
def test_generated_files_round_trip_exactly(
    history: tuple[list[str], list[tuple[dt.date, dict[str, str]]]], trailing: bool
) -> None:
    codes, rows = history
    end = "," if trailing else ""
    lines = ["Date," + ",".join(codes) + end]
    for day, values in rows:
        lines.append(day.isoformat() + "," + ",".join(values[code] for code in codes) + end)
    rates = parse_ecb_csv(_csv(*lines))
    assert rates.currencies == tuple(codes)
    assert [day.day for day in rates.days] == [day for day, _ in reversed(rows)]
    for day, values in rows:
        published = rates.rates_on(day).rates
        expected = {code: Decimal(text) for code, text in values.items() if text != "N/A"}
        assert dict(published) == expected
        assert all(str(published[code]) == values[code] for code in expected)


@given(st.text(alphabet=st.sampled_from("Date,USDJPY0123456789.-N/A\n\r e"), max_size=120))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_raises_only_format_errors(text: str) -> None:
    try:
        parse_ecb_csv(text)
    except EcbFormatError as error:
        assert error.code == "bad_ecb_file"
        assert error.line >= 1
