"""Tests for corridor.compliance.reports: large-value reports per jurisdiction, JSON and CSV.

One corridor database is built through the switch's own services (payments reserved and
committed at chosen times), then reported on. What the tests pin, per jurisdiction: rows just
below a figure are left out, rows at it are in for "at least" rules and out for "more than"
rules, rows above are in; day totals are per customer and per *local* calendar day;
domestic, uncommitted and out-of-range payments are left out; a USD figure is reached
through conversion rounded half-even; the JSON and CSV have their documented shape; bad
input is refused with a stable code.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from corridor.compliance.errors import ComplianceError
from corridor.compliance.reports import (
    CSV_COLUMNS,
    REPORT_DAYS_MAX,
    LargeValueReport,
    large_value_report,
    load_reporting_rules,
)
from corridor.switch.money import Money
from tests.compliance.corridor_world import corridor_world

CST = dt.timezone(dt.timedelta(hours=8))
KST = JST = dt.timezone(dt.timedelta(hours=9))


def cny(text: str) -> Money:
    return Money.of(int(Decimal(text) * 100), "CNY")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("reports") / "corridor.db"
    start = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    with corridor_world(path, start) as world:
        # A Chinese merchant settled in yen by a Chinese acquirer: a domestic payment that
        # still needs FX (the switch quotes only between two currencies).
        world.directory.register_participant(
            "pudong-acq", kind="acquirer", name="Pudong Acquiring", country="CN", currencies=["JPY"]
        )
        world.directory.register_merchant(
            "m-pudong-duty-free",
            acquirer_id="pudong-acq",
            name="Pudong Duty Free",
            mcc="5309",
            city="Shanghai",
            region="CN-SH",
            currency="JPY",
        )
        world.directory.register_merchant(
            "m-formula",
            acquirer_id="kyoto-acq",
            name='=HYPERLINK("http://x")',
            mcc="5999",
            city="Kyoto",
            region="JP-26",
            currency="JPY",
        )

        def wang(pid: str, at: dt.datetime, amount: str, merchant: str = "m-kyoto-tea") -> None:
            world.pay(pid, customer="c-wang", merchant=merchant, at=at, source=cny(amount))

        def li(pid: str, at: dt.datetime, amount: str) -> None:
            world.pay(pid, customer="c-li", merchant="m-kyoto-tea", at=at, source=cny(amount))

        # China, payer side, per customer and CST day, >= CNY 200,000.00 (or USD 10,000).
        wang("cn-below", dt.datetime(2024, 3, 11, 10, tzinfo=CST), "199999.99")
        wang("cn-at", dt.datetime(2024, 3, 12, 10, tzinfo=CST), "200000.00")
        wang("cn-above", dt.datetime(2024, 3, 13, 10, tzinfo=CST), "200000.01")
        li("cn-day-1", dt.datetime(2024, 3, 14, 9, tzinfo=CST), "100000.00")
        li("cn-day-2", dt.datetime(2024, 3, 14, 20, tzinfo=CST), "100000.00")
        # One UTC day (15:30 and 16:30 UTC), two CST days: no day reaches the figure.
        li("cn-late", dt.datetime(2024, 3, 15, 23, 30, tzinfo=CST), "150000.00")
        li("cn-early", dt.datetime(2024, 3, 16, 0, 30, tzinfo=CST), "60000.00")
        wang(
            "cn-domestic",
            dt.datetime(2024, 3, 17, 10, tzinfo=CST),
            "300000.00",
            "m-pudong-duty-free",
        )
        world.pay(
            "cn-reserved",
            customer="c-wang",
            merchant="m-kyoto-tea",
            at=dt.datetime(2024, 3, 18, 10, tzinfo=CST),
            source=cny("250000.00"),
            commit=False,
        )
        wang("cn-usd-edge", dt.datetime(2024, 3, 19, 10, tzinfo=CST), "199999.90")
        wang("cn-later", dt.datetime(2024, 3, 25, 10, tzinfo=CST), "300000.00")

        # Japan, both sides, per remittance, > JPY 1,000,000 (and > JPY 30,000,000).
        def kim_to_kyoto(
            pid: str, at: dt.datetime, jpy: int, merchant: str = "m-kyoto-tea"
        ) -> None:
            world.pay(pid, customer="c-kim", merchant=merchant, at=at, target=Money.of(jpy, "JPY"))

        def sato(pid: str, at: dt.datetime, jpy: int) -> None:
            world.pay(
                pid,
                customer="c-sato",
                merchant="m-shanghai-silk",
                at=at,
                source=Money.of(jpy, "JPY"),
            )

        kim_to_kyoto("jp-in-at", dt.datetime(2024, 4, 1, 10, tzinfo=JST), 1_000_000)
        kim_to_kyoto("jp-in-above", dt.datetime(2024, 4, 2, 10, tzinfo=JST), 1_000_001)
        sato("jp-out-at", dt.datetime(2024, 4, 3, 10, tzinfo=JST), 1_000_000)
        sato("jp-out-above", dt.datetime(2024, 4, 4, 10, tzinfo=JST), 1_000_001)
        kim_to_kyoto("jp-fea", dt.datetime(2024, 4, 5, 10, tzinfo=JST), 30_000_001)
        kim_to_kyoto("jp-formula", dt.datetime(2024, 4, 6, 10, tzinfo=JST), 2_000_000, "m-formula")

        # Korea, payer side, per customer and KST day, >= KRW 10,000,000.
        def kim(pid: str, at: dt.datetime, krw: int) -> None:
            world.pay(
                pid, customer="c-kim", merchant="m-kyoto-tea", at=at, source=Money.of(krw, "KRW")
            )

        kim("kr-below", dt.datetime(2024, 5, 1, 10, tzinfo=KST), 9_999_999)
        kim("kr-day-1", dt.datetime(2024, 5, 2, 9, tzinfo=KST), 6_000_000)
        kim("kr-day-2", dt.datetime(2024, 5, 2, 18, tzinfo=KST), 4_000_000)
        kim("kr-above", dt.datetime(2024, 5, 3, 10, tzinfo=KST), 10_000_001)
        kim("kr-late", dt.datetime(2024, 5, 4, 23, 59, tzinfo=KST), 5_000_000)
        kim("kr-early", dt.datetime(2024, 5, 5, 0, 1, tzinfo=KST), 5_000_000)
    yield path


def rates_at(cny_usd: str) -> object:
    def rates(source: str, target: str, day: dt.date) -> Decimal:
        assert (source, target) == ("CNY", "USD"), (source, target)
        return Decimal(cny_usd)

    return rates


# At 0.04 USD per CNY the USD figure (CNY 250,000) is never the first one reached.
LOW_RATE = rates_at("0.04")


def china(db: Path, rates: object = LOW_RATE) -> LargeValueReport:
    return large_value_report(
        db,
        jurisdiction="CN",
        start=dt.date(2024, 3, 11),
        end=dt.date(2024, 3, 20),
        rates=rates,  # type: ignore[arg-type]
    )


def japan(db: Path) -> LargeValueReport:
    return large_value_report(
        db, jurisdiction="JP", start=dt.date(2024, 4, 1), end=dt.date(2024, 4, 30)
    )


def korea(db: Path) -> LargeValueReport:
    return large_value_report(
        db, jurisdiction="KR", start=dt.date(2024, 5, 1), end=dt.date(2024, 5, 31)
    )


def reported(report: LargeValueReport) -> list[tuple[str, ...]]:
    return [row.payment_ids for row in report.rows]


# --- China -----------------------------------------------------------------------------


def test_china_reports_at_and_above_the_rmb_figure_not_just_below(db: Path) -> None:
    report = china(db)

    assert reported(report) == [("cn-at",), ("cn-above",), ("cn-day-1", "cn-day-2")]
    at = report.rows[0]
    assert (at.rule, at.side.value, at.date) == (
        "cn.large_value.cross_border_individual",
        "payer",
        dt.date(2024, 3, 12),
    )
    assert (at.threshold.currency, at.threshold.text(), at.observed.text()) == (
        "CNY",
        "200000.00",
        "200000.00",
    )


def test_china_adds_up_a_customers_payments_of_one_local_day(db: Path) -> None:
    row = china(db).rows[2]

    assert row.payment_ids == ("cn-day-1", "cn-day-2")
    assert (row.subject_type, row.participant_id, row.subject_id) == (
        "customer",
        "alipay-cn",
        "c-li",
    )
    assert (row.name, row.name_native, row.country, row.date_of_birth) == (
        "Li Hua",
        "李华",
        "CN",
        "1985-11-20",
    )
    assert [(f.currency, f.text()) for f in row.amounts] == [("CNY", "200000.00")]


def test_china_days_are_china_standard_time_days_not_utc_days(db: Path) -> None:
    # cn-late and cn-early are one UTC day (CNY 210,000) but two CST days.
    ids = {pid for row in china(db).rows for pid in row.payment_ids}
    assert not ids & {"cn-late", "cn-early"}


def test_china_leaves_out_domestic_uncommitted_and_out_of_range_payments(db: Path) -> None:
    ids = {pid for row in china(db).rows for pid in row.payment_ids}
    assert not ids & {"cn-domestic", "cn-reserved", "cn-later", "cn-below"}


def test_the_usd_figure_is_reached_through_half_even_conversion(db: Path) -> None:
    # CNY 199,999.90 × 0.05 = USD 9,999.995 = 999,999.5 cents → 1,000,000 (to even).
    report = china(db, rates_at("0.05"))

    edge = [row for row in report.rows if row.payment_ids == ("cn-usd-edge",)]
    assert len(edge) == 1
    assert (edge[0].threshold.currency, edge[0].threshold.text(), edge[0].observed.text()) == (
        "USD",
        "10000.00",
        "10000.00",
    )
    # CNY 199,999.99 × 0.05 = USD 9,999.9995 → 10,000.00 too: the day is reported in USD.
    assert ("cn-below",) in reported(report)


def test_just_below_the_usd_figure_is_not_reported(db: Path) -> None:
    # CNY 199,999.90 × 0.049999 = 999,979.50001 cents → 999,980: below USD 10,000.00.
    report = china(db, rates_at("0.049999"))
    assert ("cn-usd-edge",) not in reported(report)


def test_a_usd_figure_without_rates_is_refused(db: Path) -> None:
    with pytest.raises(ComplianceError) as error:
        china(db, rates=None)
    assert error.value.code == "no_rate"


# --- Japan -----------------------------------------------------------------------------


def test_japan_reports_only_more_than_one_million_yen_on_both_sides(db: Path) -> None:
    rows = [r for r in japan(db).rows if r.rule == "jp.overseas_remittance_statement"]

    assert [(r.payment_ids, r.side.value) for r in rows] == [
        (("jp-in-above",), "payee"),
        (("jp-out-above",), "payer"),
        (("jp-fea",), "payee"),
        (("jp-formula",), "payee"),
    ]
    inbound = rows[0]
    assert (inbound.subject_type, inbound.participant_id, inbound.subject_id) == (
        "merchant",
        "kyoto-acq",
        "m-kyoto-tea",
    )
    assert (inbound.name, inbound.name_native, inbound.country, inbound.date_of_birth) == (
        "Kyoto Tea House",
        "京都茶房",
        "JP",
        None,
    )
    assert (inbound.comparison.sign, inbound.observed.text()) == (">", "1000001")
    outbound = rows[1]
    assert (outbound.subject_type, outbound.participant_id, outbound.subject_id) == (
        "customer",
        "paypay-jp",
        "c-sato",
    )


def test_japan_reports_fea_payments_above_thirty_million_yen(db: Path) -> None:
    rows = [r for r in japan(db).rows if r.rule == "jp.fea_payment_report"]
    assert reported(japan(db))[-1:] == [("jp-fea",)]
    assert [r.payment_ids for r in rows] == [("jp-fea",)]


# --- Korea -----------------------------------------------------------------------------


def test_korea_reports_a_customers_day_at_or_above_ten_million_won(db: Path) -> None:
    report = korea(db)

    assert reported(report) == [("kr-day-1", "kr-day-2"), ("kr-above",)]
    day = report.rows[0]
    assert (day.date, day.observed.text(), day.threshold.text(), day.comparison.sign) == (
        dt.date(2024, 5, 2),
        "10000000",
        "10000000",
        ">=",
    )
    assert (day.participant_id, day.subject_id, day.name_native) == ("kakao-kr", "c-kim", "김민준")


def test_korea_days_split_at_local_midnight(db: Path) -> None:
    ids = {pid for row in korea(db).rows for pid in row.payment_ids}
    assert not ids & {"kr-late", "kr-early", "kr-below"}


# --- output ----------------------------------------------------------------------------


def test_the_json_report_has_the_documented_shape(db: Path) -> None:
    document = china(db).to_json()

    assert {k: document[k] for k in ("report", "jurisdiction", "from", "to", "utc_offset")} == {
        "report": "large_value",
        "jurisdiction": "CN",
        "from": "2024-03-11",
        "to": "2024-03-20",
        "utc_offset": "+08:00",
    }
    assert document["count"] == 3
    (rule,) = document["rules"]  # type: ignore[misc]
    assert rule["thresholds"] == [
        {"currency": "CNY", "amount": "200000.00"},
        {"currency": "USD", "amount": "10000.00"},
    ]
    assert "PBOC Order [2016] No. 3" in rule["source"]
    row = document["rows"][2]  # type: ignore[index]
    assert row == {
        "rule": "cn.large_value.cross_border_individual",
        "side": "payer",
        "date": "2024-03-14",
        "subject_type": "customer",
        "participant_id": "alipay-cn",
        "subject_id": "c-li",
        "name": "Li Hua",
        "name_native": "李华",
        "country": "CN",
        "date_of_birth": "1985-11-20",
        "payments": 2,
        "payment_ids": ["cn-day-1", "cn-day-2"],
        "amounts": [{"currency": "CNY", "amount": "200000.00"}],
        "threshold": {"currency": "CNY", "amount": "200000.00", "comparison": ">="},
        "observed": {"currency": "CNY", "amount": "200000.00"},
    }


def test_the_csv_report_has_a_header_and_one_line_per_row(db: Path) -> None:
    text = china(db).to_csv()

    lines = text.split("\r\n")
    assert lines[0] == ",".join(CSV_COLUMNS)
    assert lines[-1] == ""  # every record ends with CRLF
    records = list(csv.DictReader(io.StringIO(text)))
    assert [r["payment_ids"] for r in records] == ["cn-at", "cn-above", "cn-day-1 cn-day-2"]
    assert records[2] == {
        "rule": "cn.large_value.cross_border_individual",
        "side": "payer",
        "date": "2024-03-14",
        "subject_type": "customer",
        "participant_id": "alipay-cn",
        "subject_id": "c-li",
        "name": "Li Hua",
        "name_native": "李华",
        "country": "CN",
        "date_of_birth": "1985-11-20",
        "payments": "2",
        "payment_ids": "cn-day-1 cn-day-2",
        "amounts": "CNY 200000.00",
        "threshold_currency": "CNY",
        "comparison": ">=",
        "threshold_amount": "200000.00",
        "observed_amount": "200000.00",
    }


def test_csv_cells_that_would_run_as_formulas_are_quoted(db: Path) -> None:
    records = list(csv.DictReader(io.StringIO(japan(db).to_csv())))

    (formula,) = [r for r in records if r["subject_id"] == "m-formula"]
    assert formula["name"] == '\'=HYPERLINK("http://x")'
    json_row = next(r for r in japan(db).rows if r.subject_id == "m-formula")
    assert json_row.name == '=HYPERLINK("http://x")'  # JSON keeps the data as it is


def test_an_empty_report_has_only_the_header(db: Path) -> None:
    report = large_value_report(
        db, jurisdiction="KR", start=dt.date(2023, 1, 1), end=dt.date(2023, 1, 31)
    )
    assert report.rows == ()
    assert report.to_csv() == ",".join(CSV_COLUMNS) + "\r\n"
    assert report.to_json()["count"] == 0


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"jurisdiction": "US"}, "unknown_jurisdiction"),
        ({"end": dt.date(2024, 3, 10)}, "invalid_range"),
        ({"end": dt.date(2024, 3, 11) + dt.timedelta(days=REPORT_DAYS_MAX)}, "invalid_range"),
    ],
)
def test_bad_report_input_is_refused(db: Path, changes: dict[str, object], code: str) -> None:
    query: dict[str, object] = {
        "jurisdiction": "KR",
        "start": dt.date(2024, 3, 11),
        "end": dt.date(2024, 3, 12),
    }
    query.update(changes)
    with pytest.raises(ComplianceError) as error:
        large_value_report(db, **query)  # type: ignore[arg-type]
    assert error.value.code == code


def test_the_longest_range_is_accepted(db: Path) -> None:
    start = dt.date(2024, 1, 1)
    end = start + dt.timedelta(days=REPORT_DAYS_MAX - 1)
    report = large_value_report(db, jurisdiction="KR", start=start, end=end)
    # Over the year, c-kim's April payments to Kyoto count too (KRW 272,727,282 and
    # 18,181,819); KRW 9,090,910 and 9,090,919 do not.
    assert reported(report) == [
        ("jp-fea",),
        ("jp-formula",),
        ("kr-day-1", "kr-day-2"),
        ("kr-above",),
    ]


def test_a_database_without_switch_tables_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ComplianceError) as error:
        large_value_report(
            empty, jurisdiction="KR", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 2)
        )
    assert error.value.code == "no_payments"


def test_the_rules_file_has_the_three_jurisdictions() -> None:
    rules = load_reporting_rules()

    assert sorted(rules.jurisdictions) == ["CN", "JP", "KR"]
    figures = {
        rule.id: [(f.currency, f.text()) for f in rule.thresholds]
        for j in rules.jurisdictions.values()
        for rule in j.rules
    }
    assert figures == {
        "cn.large_value.cross_border_individual": [("CNY", "200000.00"), ("USD", "10000.00")],
        "jp.overseas_remittance_statement": [("JPY", "1000000")],
        "jp.fea_payment_report": [("JPY", "30000000")],
        "kr.currency_transaction_report": [("KRW", "10000000")],
    }


GOOD_RULE = """
version = 1
[jurisdictions.KR]
name = "Korea"
utc_offset = "+09:00"
[[jurisdictions.KR.rules]]
id = "kr.ctr"
description = "CTR"
sides = ["payer"]
cross_border = false
basis = "customer_day"
comparison = "at_least"
thresholds = [{ currency = "KRW", amount = "10000000" }]
source = "a source"
"""


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ('comparison = "at_least"', 'comparison = "above"', "comparison"),
        ('amount = "10000000"', "amount = 10000000", "amount"),
        ('amount = "10000000"', 'amount = "10000000.5"', "amount"),
        ('currency = "KRW"', 'currency = "WON"', "currency"),
        ('sides = ["payer"]', 'sides = ["payer", "payer"]', "sides"),
        ('sides = ["payer"]', 'sides = ["bank"]', "sides"),
        ("cross_border = false", 'cross_border = "no"', "cross_border"),
        ('basis = "customer_day"', 'basis = "month"', "basis"),
        ('utc_offset = "+09:00"', 'utc_offset = "KST"', "utc_offset"),
        ("[jurisdictions.KR]", "[jurisdictions.XK1]", "XK1"),
        ('source = "a source"', 'source = "a source"\nnote = "x"', "note"),
        ("version = 1", "version = 2", "version"),
        (
            'thresholds = [{ currency = "KRW", amount = "10000000" }]',
            'thresholds = [{ currency = "KRW", amount = "1" }, { currency = "KRW", amount = "2" }]',
            "twice",
        ),
    ],
)
def test_a_bad_rules_file_is_refused_naming_the_key(
    tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    assert old in GOOD_RULE
    path = tmp_path / "reporting.toml"
    path.write_text(GOOD_RULE.replace(old, new, 1))

    with pytest.raises(ComplianceError) as error:
        load_reporting_rules(path)

    assert error.value.code == "invalid_rules"
    assert fragment in str(error.value)


def test_the_good_rules_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "reporting.toml"
    path.write_text(GOOD_RULE)
    rules = load_reporting_rules(path)
    rule = rules.get("KR").rules[0]
    assert dataclasses.astuple(rule.thresholds[0]) == ("KRW", 10_000_000)


def test_the_figures_agree_with_the_jurisdiction_profiles() -> None:
    profiles = pytest.importorskip("corridor.compliance.profiles").default_profiles()
    theirs = {
        (profile.jurisdiction, tuple(sorted(t.amounts.items())), t.comparison)
        for profile in profiles
        for t in profile.reporting
    }
    for code, jurisdiction in load_reporting_rules().jurisdictions.items():
        for rule in jurisdiction.rules:
            ours = tuple(sorted((f.currency, f.amount) for f in rule.thresholds))
            assert (code, ours, rule.comparison.value) in theirs, rule.id


def test_a_missing_database_is_refused_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    with pytest.raises(ComplianceError) as error:
        large_value_report(
            missing, jurisdiction="KR", start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 2)
        )
    assert error.value.code == "database_not_found"
    assert not missing.exists()
