"""Jurisdiction profiles: the packaged figures, lookups, and every validation refusal."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from corridor.compliance.errors import ComplianceError
from corridor.compliance.profiles import (
    PROFILES_DIR,
    Profiles,
    default_profiles,
    format_minor,
    load_profile,
    load_profiles,
)
from corridor.compliance.types import PartyInfo, PaymentEvent


def _event(**amounts: int | str) -> PaymentEvent:
    party = PartyInfo("customer:w/c", "A", None, "CN", "individual")
    values: dict[str, int | str] = {
        "source_currency": "CNY",
        "source_amount": 100,
        "target_currency": "JPY",
        "target_amount": 2,
        "usd_cents": 14,
    }
    values.update(amounts)
    return PaymentEvent(
        payment_id="p-1",
        at_ns=0,
        payer=party,
        payee=party,
        wallet_id="w",
        acquirer_id="a",
        source_currency=str(values["source_currency"]),
        source_amount=int(values["source_amount"]),
        target_currency=str(values["target_currency"]),
        target_amount=int(values["target_amount"]),
        usd_cents=int(values["usd_cents"]),
    )


# --- the packaged figures --------------------------------------------------------------


def test_cn_tiers_carry_the_e_cny_wallet_figures() -> None:
    cn = default_profiles().get("CN")
    figures = {t.id: (t.balance, t.per_payment, t.daily, t.annual, t.currency) for t in cn.tiers}
    assert figures == {
        "T1": (50_000_000, 5_000_000, 10_000_000, 50_000_000, "CNY"),
        "T2": (1_000_000, 500_000, 1_000_000, 30_000_000, "CNY"),
        "T3": (200_000, 200_000, 200_000, 5_000_000, "CNY"),
        "T4": (100_000, 50_000, 100_000, 1_000_000, "CNY"),
    }
    assert cn.unknown_tier == "T4"


def test_jp_caps_are_the_payment_services_act_type_2_and_3_caps() -> None:
    jp = default_profiles().get("JP")
    assert jp.caps["psa_type2"].per_transfer == 1_000_000
    assert jp.caps["psa_type3"].per_transfer == 50_000
    assert {t.id: t.caps for t in jp.tiers} == {
        "T1": ("psa_type2",),
        "T2": ("psa_type2",),
        "T3": ("psa_type3",),
        "T4": ("psa_type3",),
    }


def test_kr_small_sum_remittance_cap_and_travel_rule() -> None:
    kr = default_profiles().get("KR")
    cap = kr.caps["small_sum_remittance"]
    assert (cap.currency, cap.per_transfer, cap.annual) == ("USD", 500_000, 10_000_000)
    assert all(t.caps == ("small_sum_remittance",) for t in kr.tiers)
    assert kr.travel_rule is not None
    assert dict(kr.travel_rule.amounts) == {"KRW": 1_000_000}
    assert kr.travel_rule.comparison == "at_least"


def test_reporting_thresholds_per_jurisdiction() -> None:
    profiles = default_profiles()
    cn = {r.id: (dict(r.amounts), r.comparison) for r in profiles.get("CN").reporting}
    assert cn["large_value_cross_border_individual"] == (
        {"CNY": 20_000_000, "USD": 1_000_000},
        "at_least",
    )
    jp = {r.id: (dict(r.amounts), r.comparison) for r in profiles.get("JP").reporting}
    assert jp["overseas_remittance_tax"] == ({"JPY": 1_000_000}, "more_than")
    assert jp["fea_payment_report"] == ({"JPY": 30_000_000}, "more_than")
    kr = {r.id: (dict(r.amounts), r.basis) for r in profiles.get("KR").reporting}
    assert kr["currency_transaction_report"] == ({"KRW": 10_000_000}, "day")


def test_fatf_default_travel_rule_is_usd_or_eur_1000() -> None:
    fatf = default_profiles().default
    assert fatf.jurisdiction == "FATF"
    assert fatf.travel_rule is not None
    assert dict(fatf.travel_rule.amounts) == {"USD": 100_000, "EUR": 100_000}


def test_every_figure_cites_a_checked_source_with_a_url() -> None:
    for profile in default_profiles():
        cited = [t.source for t in profile.tiers] + [c.source for c in profile.caps.values()]
        cited += [r.source for r in profile.reporting]
        if profile.travel_rule is not None:
            cited.append(profile.travel_rule.source)
        assert cited, profile.jurisdiction
        for source in cited:
            assert source.url.startswith(("http://", "https://"))
            assert source.title and source.article
            assert isinstance(source.checked, dt.date)


# --- lookups ---------------------------------------------------------------------------


def test_a_country_without_a_profile_gets_the_fatf_default() -> None:
    profiles = default_profiles()
    assert profiles.for_country("US").jurisdiction == "FATF"
    assert profiles.for_country("CN").jurisdiction == "CN"


def test_travel_rule_falls_back_to_the_default_where_a_profile_has_none() -> None:
    profiles = default_profiles()
    assert profiles.get("CN").travel_rule is None
    assert profiles.travel_rule("CN") is profiles.default.travel_rule
    assert profiles.travel_rule("KR") is profiles.get("KR").travel_rule


def test_tier_lookup_by_id_or_alias_ignoring_case() -> None:
    cn = default_profiles().get("CN")
    assert cn.tier("t3") == (cn.tier("T3")[0], False)
    tier, assumed = cn.tier("Anonymous")
    assert tier is not None and tier.id == "T4" and not assumed


@pytest.mark.parametrize("name", [None, "gold", ""])
def test_a_missing_or_unknown_tier_is_held_to_the_strictest(name: str | None) -> None:
    cn = default_profiles().get("CN")
    tier, assumed = cn.tier(name)
    assert tier is not None and tier.id == "T4" and assumed


def test_at_least_threshold_is_reached_at_the_figure() -> None:
    kr_travel = default_profiles().get("KR").travel_rule
    assert kr_travel is not None
    assert kr_travel.reached(1_000_000, "KRW")
    assert not kr_travel.reached(999_999, "KRW")


def test_more_than_threshold_is_not_reached_at_the_figure() -> None:
    tax = default_profiles().get("JP").reporting[0]
    assert not tax.reached(1_000_000, "JPY")
    assert tax.reached(1_000_001, "JPY")


def test_threshold_reached_in_any_currency_the_payment_is_priced_in() -> None:
    cn_report = default_profiles().get("CN").reporting[0]
    assert cn_report.reached_by(_event(usd_cents=1_000_000)) == ("USD", 1_000_000, 1_000_000)
    assert cn_report.reached_by(_event(source_amount=20_000_000)) == (
        "CNY",
        20_000_000,
        20_000_000,
    )
    assert cn_report.reached_by(_event(source_amount=19_999_999, usd_cents=999_999)) is None


def test_format_minor_writes_thousands_and_decimals() -> None:
    assert format_minor(195_000, "CNY") == "1,950.00"
    assert format_minor(1_000_000, "JPY") == "1,000,000"
    assert format_minor(5, "USD") == "0.05"


# --- validation ------------------------------------------------------------------------


def _copy(tmp_path: Path, name: str, old: str = "", new: str = "") -> Path:
    text = (PROFILES_DIR / name).read_text(encoding="utf-8")
    if old:
        assert old in text, old
        text = text.replace(old, new, 1)
    target = tmp_path / name
    target.write_text(text, encoding="utf-8")
    return target


def test_packaged_profiles_validate_from_a_copy(tmp_path: Path) -> None:
    for name in ("cn.toml", "jp.toml", "kr.toml", "fatf.toml"):
        _copy(tmp_path, name)
    assert {p.jurisdiction for p in load_profiles(tmp_path)} == {"CN", "JP", "KR", "FATF"}


@pytest.mark.parametrize(
    ("name", "old", "new", "key"),
    [
        ("cn.toml", 'per_payment = "2000.00"', 'per_payment = "2000.001"', "tiers[2].per_payment"),
        ("cn.toml", 'per_payment = "2000.00"', "per_payment = 2000", "tiers[2].per_payment"),
        ("cn.toml", 'per_payment = "2000.00"', 'per_payment = "0"', "tiers[2].per_payment"),
        ("cn.toml", 'per_payment = "2000.00"', 'per_payment = "-1"', "tiers[2].per_payment"),
        ("jp.toml", 'per_transfer = "50000"', 'per_transfer = "50000.5"', "caps[1].per_transfer"),
        ("cn.toml", 'daily = "2000.00"', 'dayly = "2000.00"', "tiers[2].dayly"),
        ("cn.toml", "schema = 1", "schema = 2", "schema"),
        ("cn.toml", 'jurisdiction = "CN"', 'jurisdiction = "JP"', "jurisdiction"),
        ("cn.toml", 'jurisdiction = "CN"', 'jurisdiction = "XX"', "jurisdiction"),
        ("cn.toml", 'currency = "CNY"\nunknown', 'currency = "XYZ"\nunknown', "currency"),
        ("cn.toml", 'unknown_tier = "T4"', 'unknown_tier = "T9"', "unknown_tier"),
        ("cn.toml", 'unknown_tier = "T4"', "", "unknown_tier"),
        ("cn.toml", 'aliases = ["3",', 'aliases = ["2",', "tiers[2]"),
        ("cn.toml", 'source = "pboc-2016-3"', 'source = "nowhere"', "reporting[0].source"),
        ("cn.toml", 'comparison = "at_least"', 'comparison = "above"', "reporting[0].comparison"),
        ("cn.toml", 'basis = "transaction_or_day"', 'basis = "week"', "reporting[0].basis"),
        ("cn.toml", 'CNY = "200000.00", ', 'ABC = "1", ', "reporting[0].thresholds.ABC"),
        (
            "cn.toml",
            "checked = 2026-11-22",
            'checked = "yesterday"',
            "sources.ccb-ecny-2020.checked",
        ),
        ("cn.toml", 'url = "https://www.xiguacaijing', 'url = "ftp://www.xiguacaijing', "url"),
        ("jp.toml", 'caps = ["psa_type3"]', 'caps = ["psa_type9"]', "tiers[2].caps"),
        (
            "kr.toml",
            'thresholds = { KRW = "1000000" }\nsource = "kr-travel-rule"',
            'thresholds = {}\nsource = "kr-travel-rule"',
            "travel_rule.thresholds",
        ),
        ("fatf.toml", 'title = "FATF', 'titel = "FATF', "sources.fatf-r16.titel"),
    ],
)
def test_a_bad_profile_is_refused_naming_file_and_key(
    tmp_path: Path, name: str, old: str, new: str, key: str
) -> None:
    path = _copy(tmp_path, name, old, new)
    with pytest.raises(ComplianceError) as caught:
        load_profile(path)
    assert caught.value.code == "invalid_profile"
    assert name in str(caught.value)
    assert key in str(caught.value)


def test_a_source_no_figure_cites_is_refused(tmp_path: Path) -> None:
    path = _copy(
        tmp_path,
        "fatf.toml",
        "[sources.fatf-r16]",
        '[sources.spare]\ntitle = "t"\narticle = "a"\nurl = "https://x.example"\n'
        "checked = 2026-01-01\n\n[sources.fatf-r16]",
    )
    with pytest.raises(ComplianceError, match=r"fatf\.toml: sources\.spare: is cited by no"):
        load_profile(path)


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cn.toml"
    path.write_text("schema = = 1\n", encoding="utf-8")
    with pytest.raises(ComplianceError, match=r"cn\.toml: not valid TOML") as caught:
        load_profile(path)
    assert caught.value.code == "invalid_profile"


def test_a_directory_without_the_fatf_default_is_refused(tmp_path: Path) -> None:
    _copy(tmp_path, "cn.toml")
    with pytest.raises(ComplianceError, match="FATF default") as caught:
        load_profiles(tmp_path)
    assert caught.value.code == "invalid_profile"


def test_profiles_map_is_required_to_hold_the_default() -> None:
    with pytest.raises(ComplianceError):
        Profiles({})


def test_unknown_jurisdiction_lookup_is_refused() -> None:
    with pytest.raises(ComplianceError) as caught:
        default_profiles().get("US")
    assert caught.value.code == "unknown_jurisdiction"
