"""Tests for corridor.compliance.travelrule: scope, refusals, the IVMS101 payload, storage.

What they pin: a payment is in scope from its payer's jurisdiction threshold, inclusive (FATF
default USD 1,000.00; Korea KRW 1,000,000), measured in the threshold's currency, converted
half-even when the payment is priced in neither currency; out of scope, nothing is checked
or stored; in scope, a payer without a name, or without any of address / national id / date
and place of birth / customer id, is refused with rule ``travel_rule.originator_incomplete``
naming what is missing; the payload carries both names, the ids and the participants as the
standard's fields; records are stored once, append-only, and a different payload for the
same payment is refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from corridor.compliance.errors import ComplianceError
from corridor.compliance.travelrule import (
    RULE_BENEFICIARY_INCOMPLETE,
    RULE_ORIGINATOR_INCOMPLETE,
    RULE_PAYLOAD_INVALID,
    TravelRule,
    Vasp,
    load_thresholds,
)
from corridor.compliance.types import PartyInfo, PaymentEvent, Reason, Verdict
from corridor.formats import ivms101
from corridor.ledger import Ledger
from corridor.switch.directory import Directory

NS = 1_000_000_000
AT_NS = int(dt.datetime(2024, 3, 15, 12, tzinfo=dt.UTC).timestamp()) * NS

PAYER = PartyInfo(
    party_id="customer:alipay-cn/c-wang",
    name="Wang Xiaoming",
    name_native="王小明",
    country="CN",
    kind="individual",
    kyc_tier="T2",
    date_of_birth="1990-05-01",
)
PAYEE = PartyInfo(
    party_id="merchant:m-kyoto-tea",
    name="Kyoto Tea House",
    name_native="京都のお茶屋",
    country="JP",
    kind="entity",
    region="JP-26",
    mcc="5812",
)
KR_PAYER = dataclasses.replace(
    PAYER,
    party_id="customer:kakao-kr/c-kim",
    name="Kim Minjun",
    name_native="김민준",
    country="KR",
)


class FakeVasps:
    """The participants a test knows (a collaborator standing in for the directory)."""

    def __init__(self) -> None:
        self.known = {
            "alipay-cn": Vasp("alipay-cn", "Alipay", "CN"),
            "kakao-kr": Vasp("kakao-kr", "Kakao Pay", "KR"),
            "kyoto-acq": Vasp("kyoto-acq", "Kyoto Acquiring", "JP"),
        }

    def vasp(self, participant_id: str) -> Vasp | None:
        return self.known.get(participant_id)


def event(
    payment_id: str = "pay-1",
    *,
    payer: PartyInfo = PAYER,
    payee: PartyInfo = PAYEE,
    usd_cents: int = 150_000,
    source: tuple[str, int] = ("CNY", 1_085_000),
    target: tuple[str, int] = ("JPY", 224_000),
    wallet_id: str = "alipay-cn",
) -> PaymentEvent:
    return PaymentEvent(
        payment_id=payment_id,
        at_ns=AT_NS,
        payer=payer,
        payee=payee,
        wallet_id=wallet_id,
        acquirer_id="kyoto-acq",
        source_currency=source[0],
        source_amount=source[1],
        target_currency=target[0],
        target_amount=target[1],
        usd_cents=usd_cents,
    )


def kr_event(krw: int, **changes: object) -> PaymentEvent:
    values: dict[str, object] = {
        "payer": KR_PAYER,
        "source": ("KRW", krw),
        "wallet_id": "kakao-kr",
        "usd_cents": 10_000,
    }
    values.update(changes)
    return event(**values)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "corridor.db"


@pytest.fixture
def rule(db: Path) -> Iterator[TravelRule]:
    with TravelRule.open(db, vasps=FakeVasps(), clock=lambda: AT_NS) as travel_rule:
        yield travel_rule


def only_reason(reasons: tuple[Reason, ...]) -> Reason:
    assert len(reasons) == 1, reasons
    return reasons[0]


# --- thresholds ------------------------------------------------------------------------


def test_the_thresholds_file_has_the_fatf_default_and_korea() -> None:
    thresholds = load_thresholds()

    assert (thresholds.default.currency, thresholds.default.amount) == ("USD", 100_000)
    assert thresholds.for_country("KR").describe() == "KRW 1,000,000"
    assert thresholds.for_country("CN") is thresholds.default
    assert thresholds.for_country("JP").describe() == "USD 1,000.00"
    assert "R.16" in thresholds.default.source


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('version = 1\n[default]\nname="x"\ncurrency="USD"\namount=1000.0\nsource="s"\n', "amount"),
        (
            'version = 1\n[default]\nname="x"\ncurrency="USD"\namount="10.001"\nsource="s"\n',
            "amount",
        ),
        ('version = 1\n[default]\nname="x"\ncurrency="XXQ"\namount="1"\nsource="s"\n', "currency"),
        ('version = 1\n[default]\nname="x"\ncurrency="USD"\namount="1"\n', "source"),
        ('version = 2\n[default]\nname="x"\ncurrency="USD"\namount="1"\nsource="s"\n', "version"),
        (
            'version = 1\n[default]\nname="x"\ncurrency="USD"\namount="1"\nsource="s"\n'
            '[jurisdictions.QQ]\nname="x"\ncurrency="USD"\namount="1"\nsource="s"\n',
            "QQ",
        ),
        (
            'version = 1\nextra = 1\n[default]\nname="x"\ncurrency="USD"\namount="1"\nsource="s"\n',
            "extra",
        ),
        ("version = ", "TOML"),
    ],
)
def test_a_bad_thresholds_file_is_refused_naming_the_key(
    tmp_path: Path, text: str, fragment: str
) -> None:
    path = tmp_path / "travel_rule.toml"
    path.write_text(text)

    with pytest.raises(ComplianceError) as error:
        load_thresholds(path)

    assert error.value.code == "invalid_rules"
    assert fragment in str(error.value)


# --- scope -----------------------------------------------------------------------------


def test_just_below_the_fatf_threshold_nothing_is_required(rule: TravelRule) -> None:
    below = event(usd_cents=99_999, payer=dataclasses.replace(PAYER, name=""))

    assert not rule.applies(below)
    assert rule.check(below) == ()
    assert rule.record(below) is None
    assert rule.get("pay-1") is None


def test_at_the_fatf_threshold_the_payload_is_required_and_stored(rule: TravelRule) -> None:
    at = event(usd_cents=100_000)

    assert rule.applies(at)
    assert rule.check(at) == ()
    payload = rule.record(at)

    assert payload is not None
    stored = rule.get("pay-1")
    assert stored is not None
    assert stored.payload == payload
    assert (stored.jurisdiction, stored.threshold_currency, stored.threshold_amount) == (
        "default",
        "USD",
        100_000,
    )
    assert stored.value_amount == 100_000
    assert (stored.originating_vasp, stored.beneficiary_vasp) == ("alipay-cn", "kyoto-acq")
    assert stored.recorded_ns == AT_NS
    assert json.loads(stored.payload_json) == ivms101.to_dict(payload)


def test_korea_uses_its_krw_threshold_just_below(rule: TravelRule) -> None:
    # Far above USD 1,000 in the switch's USD figure, but Korea's figure is in KRW.
    below = kr_event(999_999, usd_cents=500_000)

    assert not rule.applies(below)
    assert rule.record(below) is None


def test_korea_uses_its_krw_threshold_at(rule: TravelRule) -> None:
    at = kr_event(1_000_000)

    assert rule.applies(at)
    assert rule.record(at) is not None
    stored = rule.get("pay-1")
    assert stored is not None
    assert (stored.jurisdiction, stored.threshold_currency, stored.value_amount) == (
        "KR",
        "KRW",
        1_000_000,
    )


def test_the_target_currency_counts_when_the_threshold_is_in_it(rule: TravelRule) -> None:
    # A Korean payer paying from a CNY balance to a KRW merchant: the KRW leg is compared.
    payment = kr_event(0, source=("CNY", 500_000), target=("KRW", 1_000_000))

    assert rule.applies(payment)
    assert not rule.applies(dataclasses.replace(payment, target_amount=999_999))


def test_a_threshold_in_neither_currency_needs_rates(db: Path) -> None:
    payment = kr_event(0, source=("CNY", 526_316), target=("JPY", 10_000))
    with TravelRule.open(db, vasps=FakeVasps()) as without_rates:
        with pytest.raises(ComplianceError) as error:
            without_rates.check(payment)
        assert error.value.code == "no_rate"


def test_conversion_rounds_half_even_at_the_threshold(db: Path) -> None:
    calls: list[tuple[str, str, int]] = []

    def rates(source: str, target: str, at_ns: int) -> Decimal:
        calls.append((source, target, at_ns))
        return Decimal("190")

    with TravelRule.open(db, vasps=FakeVasps(), rates=rates) as rule:
        # CNY 5,263.15 × 190 = KRW 999,998.5 → 999,998 (half to even): below.
        below = kr_event(0, source=("CNY", 526_315), target=("JPY", 10_000))
        # CNY 5,263.16 × 190 = KRW 1,000,000.4 → 1,000,000: at.
        at = kr_event(0, source=("CNY", 526_316), target=("JPY", 10_000))

        assert rule.value(below, "KRW") == 999_998
        assert not rule.applies(below)
        assert rule.value(at, "KRW") == 1_000_000
        assert rule.applies(at)
    assert calls[0] == ("CNY", "KRW", AT_NS)


# --- refusals --------------------------------------------------------------------------


def test_a_payer_without_a_name_is_refused_at_the_threshold(rule: TravelRule) -> None:
    nameless = event(usd_cents=100_000, payer=dataclasses.replace(PAYER, name="  "))

    reason = only_reason(rule.check(nameless))

    assert reason.rule == RULE_ORIGINATOR_INCOMPLETE
    assert reason.verdict is Verdict.BLOCK
    assert reason.figures["missing"] == "name"
    assert reason.figures["threshold"] == "USD 1,000.00"
    assert reason.figures["value"] == "USD 1,000.00"
    assert "no name" in reason.message


def test_a_payer_without_any_identification_is_refused(rule: TravelRule) -> None:
    anonymous = dataclasses.replace(PAYER, party_id="customer:alipay-cn/", address=None)

    reason = only_reason(rule.check(event(payer=anonymous)))

    assert reason.rule == RULE_ORIGINATOR_INCOMPLETE
    assert reason.figures["missing"] == "identification"
    message = reason.message
    for alternative in ("address", "national identification", "date and place of birth"):
        assert alternative in message
    assert "a date of birth without a place of birth" in message


def test_both_missing_are_named_together(rule: TravelRule) -> None:
    bare = dataclasses.replace(PAYER, name="", party_id="wallet-user", date_of_birth=None)

    reason = only_reason(rule.check(event(payer=bare)))

    assert reason.figures["missing"] == "name,identification"
    assert "no date and place of birth" in reason.message


def test_an_address_with_a_town_completes_the_originator(rule: TravelRule) -> None:
    with_address = dataclasses.replace(
        PAYER, party_id="wallet-user", address="1 Nanjing Road, Huangpu, Shanghai"
    )

    assert rule.check(event(payer=with_address)) == ()
    payload = rule.record(event(payer=with_address))
    assert payload is not None
    person = payload.originator.originator_persons[0].natural_person
    assert person is not None
    (address,) = person.geographic_address
    assert (address.town_name, address.address_line, address.country) == (
        "Shanghai",
        ("1 Nanjing Road, Huangpu",),
        "CN",
    )
    assert person.customer_identification is None


def test_an_address_without_a_town_does_not_count(rule: TravelRule) -> None:
    townless = dataclasses.replace(PAYER, party_id="wallet-user", address="1 Nanjing Road")

    reason = only_reason(rule.check(event(payer=townless)))

    assert reason.figures["missing"] == "identification"
    assert "without a town" in reason.message


def test_a_refused_payment_is_not_recorded(rule: TravelRule) -> None:
    nameless = event(payer=dataclasses.replace(PAYER, name=""))

    with pytest.raises(ComplianceError) as error:
        rule.record(nameless)

    assert error.value.code == "travel_rule_refused"
    assert RULE_ORIGINATOR_INCOMPLETE in str(error.value)
    assert rule.get("pay-1") is None


def test_a_payee_without_a_name_is_refused(rule: TravelRule) -> None:
    reason = only_reason(rule.check(event(payee=dataclasses.replace(PAYEE, name=""))))

    assert reason.rule == RULE_BENEFICIARY_INCOMPLETE
    assert reason.verdict is Verdict.BLOCK


def test_a_name_beyond_ivms101_limits_makes_the_payload_invalid(rule: TravelRule) -> None:
    long_name = dataclasses.replace(PAYER, name="W" * 101)

    reason = only_reason(rule.check(event(payer=long_name)))

    assert reason.rule == RULE_PAYLOAD_INVALID
    assert reason.figures["field"].endswith("nameIdentifier[0].primaryIdentifier")


def test_an_unknown_participant_is_refused(rule: TravelRule) -> None:
    with pytest.raises(ComplianceError) as error:
        rule.check(event(wallet_id="ghost-wallet"))
    assert error.value.code == "unknown_participant"


# --- the payload -----------------------------------------------------------------------


def test_the_payload_names_both_parties_and_participants(rule: TravelRule) -> None:
    payload = rule.payload(event())
    assert payload is not None
    document = ivms101.to_dict(payload)

    originator = document["originator"]
    assert originator["accountNumber"] == ["customer:alipay-cn/c-wang"]  # type: ignore[index]
    person = originator["originatorPersons"][0]["naturalPerson"]  # type: ignore[index]
    assert person["name"] == {
        "nameIdentifier": [{"primaryIdentifier": "Wang Xiaoming", "nameIdentifierType": "LEGL"}],
        "localNameIdentifier": [{"primaryIdentifier": "王小明", "nameIdentifierType": "LEGL"}],
    }
    assert person["customerIdentification"] == "c-wang"
    assert person["countryOfResidence"] == "CN"
    assert "dateAndPlaceOfBirth" not in person  # no place of birth is known
    merchant = document["beneficiary"]["beneficiaryPersons"][0]["legalPerson"]  # type: ignore[index]
    assert merchant["name"]["nameIdentifier"][0]["legalPersonName"] == "Kyoto Tea House"
    assert merchant["name"]["localNameIdentifier"][0]["legalPersonName"] == "京都のお茶屋"
    assert merchant["customerNumber"] == "m-kyoto-tea"
    assert merchant["countryOfRegistration"] == "JP"
    wallet = document["originatingVASP"]["originatingVASP"]["legalPerson"]  # type: ignore[index]
    assert wallet["name"]["nameIdentifier"][0]["legalPersonName"] == "Alipay"
    acquirer = document["beneficiaryVASP"]["beneficiaryVASP"]["legalPerson"]  # type: ignore[index]
    assert acquirer["name"]["nameIdentifier"][0]["legalPersonName"] == "Kyoto Acquiring"
    assert document["payloadMetadata"] == {"transliterationMethod": ["hani", "kana"]}


def test_a_korean_name_is_marked_as_transliterated_from_hangul(rule: TravelRule) -> None:
    latin_payee = dataclasses.replace(PAYEE, name_native=None)
    payload = rule.payload(kr_event(1_000_000, payee=latin_payee))

    assert payload is not None
    assert payload.payload_metadata == ivms101.PayloadMetadata(
        transliteration_method=(ivms101.TransliterationMethod.KOREAN,)
    )


def test_below_the_threshold_there_is_no_payload(rule: TravelRule) -> None:
    assert rule.payload(event(usd_cents=1)) is None


# --- storage ---------------------------------------------------------------------------


def test_recording_again_returns_the_same_payload_and_stores_one_row(
    rule: TravelRule, db: Path
) -> None:
    first = rule.record(event())
    again = rule.record(event())

    assert first == again
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*) FROM travel_rule_records").fetchone() == (1,)


def test_another_payload_for_the_same_payment_is_refused(rule: TravelRule) -> None:
    rule.record(event())
    stored = rule.get("pay-1")

    with pytest.raises(ComplianceError) as error:
        rule.record(event(payer=dataclasses.replace(PAYER, name="Wang Xiaohong")))

    assert error.value.code == "travel_rule_conflict"
    assert rule.get("pay-1") == stored


def test_records_are_append_only(rule: TravelRule, db: Path) -> None:
    rule.record(event())

    with sqlite3.connect(db) as connection:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("UPDATE travel_rule_records SET payload = '{}'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            connection.execute("DELETE FROM travel_rule_records")


def test_participants_come_from_the_directory_by_default(db: Path) -> None:
    with Ledger.open(db) as ledger, Directory.open(ledger) as directory:
        directory.register_participant(
            "alipay-cn", kind="wallet", name="Alipay (Hangzhou)", country="CN", currencies=["CNY"]
        )
        directory.register_participant(
            "kyoto-acq", kind="acquirer", name="Kyoto Acquiring", country="JP", currencies=["JPY"]
        )
    with TravelRule.open(db) as rule:
        payload = rule.record(event())

    assert payload is not None
    assert payload.originating_vasp is not None
    wallet = payload.originating_vasp.originating_vasp.legal_person
    assert wallet is not None
    assert wallet.name.name_identifier[0].legal_person_name == "Alipay (Hangzhou)"
    assert wallet.country_of_registration == "CN"


def test_without_a_directory_participants_are_unknown(db: Path) -> None:
    with TravelRule.open(db) as rule, pytest.raises(ComplianceError) as error:
        rule.record(event())
    assert error.value.code == "unknown_participant"


def test_the_thresholds_agree_with_the_jurisdiction_profiles() -> None:
    profiles = pytest.importorskip("corridor.compliance.profiles").default_profiles()
    ours = load_thresholds()
    for country in ("CN", "JP", "KR", "US"):
        mine = ours.for_country(country)
        theirs = profiles.travel_rule(country)
        assert theirs.amounts.get(mine.currency) == mine.amount, country
        assert theirs.comparison == "at_least"


def test_many_payments_are_recorded_in_one_go(rule: TravelRule) -> None:
    events = [event(f"pay-{n}", usd_cents=100_000 + n) for n in range(3)]
    below = event("pay-small", usd_cents=10)

    results = rule.record_many([*events, below])

    assert [r is not None for r in results] == [True, True, True, False]
    assert all(rule.get(e.payment_id) is not None for e in events)
    assert rule.get("pay-small") is None


def test_one_refused_payment_stores_none_of_the_batch(rule: TravelRule) -> None:
    good = event("pay-good")
    bad = event("pay-bad", payer=dataclasses.replace(PAYER, name=""))

    with pytest.raises(ComplianceError) as error:
        rule.record_many([good, bad])

    assert error.value.code == "travel_rule_refused"
    assert "pay-bad" in str(error.value)
    assert rule.get("pay-good") is None


def test_one_conflicting_payment_stores_none_of_the_batch(rule: TravelRule) -> None:
    rule.record(event("pay-1"))
    changed = event("pay-1", payer=dataclasses.replace(PAYER, name="Wang Xiaohong"))

    with pytest.raises(ComplianceError) as error:
        rule.record_many([event("pay-2"), changed])

    assert error.value.code == "travel_rule_conflict"
    assert rule.get("pay-2") is None
