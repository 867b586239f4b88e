"""Tests for corridor.switch.directory: participants, their ledger accounts, parties, QR lookup.

What they pin: registration creates each participant's liquidity accounts and the hub's
accounts with the documented ids, codes and flags; registering again with the same data is a
no-op and with other data a `duplicate_*`; every malformed field is refused with its code and
changes nothing (no rows, no ledger accounts); merchants are found by id and from an EMVCo QR
payload, with QR errors surfacing as ``invalid_qr``; regions are real ISO 3166-2 codes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from corridor.formats import emvqr
from corridor.ledger import ID_MAX, Account, AccountFlags, Ledger
from corridor.ledger.verify import verify
from corridor.switch.directory import (
    ACCOUNT_CODE_HUB_FEES,
    ACCOUNT_CODE_HUB_SETTLEMENT,
    ACCOUNT_CODE_LIQUIDITY,
    Directory,
    ParticipantKind,
    account_id,
    hub_fees_account_id,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError

NS = 1_000_000_000
NOW_NS = 1_717_200_000 * NS  # 2024-06-01 00:00:00 UTC


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW_NS

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "corridor.db"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger.open(path) as ledger:
        yield ledger


@pytest.fixture
def directory(ledger: Ledger) -> Iterator[Directory]:
    with Directory.open(ledger, clock=FakeClock()) as directory:
        yield directory


ALIPAY: dict[str, Any] = {
    "kind": "wallet",
    "name": "Alipay",
    "country": "CN",
    "currencies": ["CNY", "USD"],
    "net_debit_caps": {"CNY": 5_000_000_00},
}
KYOTO_ACQUIRER: dict[str, Any] = {
    "kind": "acquirer",
    "name": "Kyoto Acquiring",
    "country": "JP",
    "currencies": ["JPY"],
}
CUSTOMER: dict[str, Any] = {
    "wallet_id": "alipay-cn",
    "name_native": "王小明",
    "name_romanized": "Wang Xiaoming",
    "country": "CN",
    "date_of_birth": "1990-05-17",
    "kyc_tier": "T2",
}
MERCHANT: dict[str, Any] = {
    "acquirer_id": "kyoto-acq",
    "name": "Nishiki Sweets",
    "name_native": "錦スイーツ",
    "mcc": "5441",
    "city": "Kyoto",
    "region": "JP-26",
    "currency": "JPY",
}


def _setup_parties(directory: Directory) -> None:
    directory.register_participant("alipay-cn", **ALIPAY)
    directory.register_participant("kyoto-acq", **KYOTO_ACQUIRER)


def _rows(path: Path) -> dict[str, int]:
    """Row counts of the directory's tables and the ledger's accounts."""
    with closing(sqlite3.connect(path)) as db:
        tables = ["participants", "participant_currencies", "customers", "merchants", "accounts"]
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}


def _qr(merchant_id: str, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "merchant_category_code": "5441",
        "transaction_currency": "392",
        "country_code": "JP",
        "merchant_name": "Nishiki Sweets",
        "merchant_city": "Kyoto",
        "merchant_accounts": emvqr.corridor_account(merchant_id),
        "point_of_initiation": emvqr.POINT_OF_INITIATION_DYNAMIC,
        "transaction_amount": "1200",
    }
    fields.update(changes)
    return emvqr.encode(emvqr.MerchantQR(**fields))


# --- participants and their accounts ---------------------------------------------------


def test_registration_creates_liquidity_and_hub_accounts_with_their_flags(
    directory: Directory, ledger: Ledger, path: Path
) -> None:
    participant = directory.register_participant("alipay-cn", **ALIPAY)

    assert participant.kind is ParticipantKind.WALLET
    assert participant.currencies == ("CNY", "USD")
    assert participant.net_debit_cap("CNY") == 5_000_000_00
    assert participant.net_debit_cap("USD") is None
    for code, ledger_code in (("CNY", 156), ("USD", 840)):
        liquidity, settlement, fees = ledger.lookup_accounts(
            [
                liquidity_account_id("alipay-cn", code),
                hub_settlement_account_id(code),
                hub_fees_account_id(code),
            ]
        )
        assert (liquidity.ledger, settlement.ledger, fees.ledger) == (ledger_code,) * 3
        assert liquidity.code == ACCOUNT_CODE_LIQUIDITY
        assert liquidity.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
        assert settlement.code == ACCOUNT_CODE_HUB_SETTLEMENT
        assert settlement.flags == AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
        assert fees.code == ACCOUNT_CODE_HUB_FEES
        assert fees.flags == AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    assert _rows(path)["accounts"] == 6
    assert verify(path).ok


def test_hub_accounts_are_shared_by_participants_of_a_currency(
    directory: Directory, path: Path
) -> None:
    directory.register_participant("wechat-cn", **{**ALIPAY, "name": "WeChat Pay"})
    directory.register_participant("alipay-cn", **ALIPAY)

    # 2 currencies × (settlement + fees) + 2 participants × 2 liquidity accounts
    assert _rows(path)["accounts"] == 8


def test_registration_completes_after_an_interrupted_one_left_accounts_behind(
    directory: Directory, ledger: Ledger, path: Path
) -> None:
    # A registration that stopped after creating its accounts, before writing its row.
    leftover = Account(
        id=liquidity_account_id("alipay-cn", "CNY"),
        ledger=156,
        code=ACCOUNT_CODE_LIQUIDITY,
        flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    )
    assert [r.value for r in ledger.create_accounts([leftover])] == ["ok"]

    participant = directory.register_participant("alipay-cn", **ALIPAY)

    assert directory.participant("alipay-cn") == participant
    assert _rows(path)["accounts"] == 6


def test_a_foreign_account_at_a_derived_id_is_ledger_rejected(
    directory: Directory, ledger: Ledger, path: Path
) -> None:
    squatter = Account(id=liquidity_account_id("alipay-cn", "CNY"), ledger=156, code=1)
    assert [r.value for r in ledger.create_accounts([squatter])] == ["ok"]

    with pytest.raises(SwitchError) as raised:
        directory.register_participant("alipay-cn", **ALIPAY)

    assert raised.value.code == "ledger_rejected"
    assert _rows(path)["participants"] == 0


def test_account_ids_follow_the_documented_scheme() -> None:
    def expected(role: str, owner: str, code: str) -> int:
        message = b"corridor/ledger-account/v1\x00" + f"{role}\x00{owner}\x00{code}".encode()
        return int.from_bytes(hashlib.sha256(message).digest()[:16], "big")

    assert liquidity_account_id("alipay-cn", "JPY") == expected("liquidity", "alipay-cn", "JPY")
    assert hub_settlement_account_id("JPY") == expected("hub_settlement", "", "JPY")
    assert hub_fees_account_id("KRW") == expected("hub_fees", "", "KRW")
    ids = {
        account_id(role, owner, code)
        for role in ("liquidity", "hub_settlement", "hub_fees")
        for owner in ("", "alipay-cn", "kakao-kr")
        for code in ("CNY", "JPY", "KRW", "USD")
    }
    assert len(ids) == 36
    assert all(0 < i < ID_MAX for i in ids)


def test_re_registering_the_same_participant_returns_the_stored_record(
    directory: Directory, path: Path
) -> None:
    first = directory.register_participant("alipay-cn", **ALIPAY)
    rows = _rows(path)

    again = directory.register_participant("alipay-cn", **{**ALIPAY, "currencies": ["USD", "CNY"]})

    assert again == first
    assert again.created_ns == first.created_ns
    assert _rows(path) == rows


@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Alipay+"},
        {"kind": "bank"},
        {"country": "HK"},
        {"currencies": ["CNY"], "net_debit_caps": None},
        {"currencies": ["CNY", "USD", "JPY"]},
        {"net_debit_caps": {"CNY": 1}},
        {"net_debit_caps": None},
    ],
)
def test_re_registering_with_different_data_is_duplicate_participant(
    directory: Directory, path: Path, changes: dict[str, Any]
) -> None:
    directory.register_participant("alipay-cn", **ALIPAY)
    rows = _rows(path)

    with pytest.raises(SwitchError) as raised:
        directory.register_participant("alipay-cn", **{**ALIPAY, **changes})

    assert raised.value.code == "duplicate_participant"
    assert _rows(path) == rows


@pytest.mark.parametrize(
    ("participant_id", "changes"),
    [
        ("ab", {}),
        ("a" * 33, {}),
        ("Alipay-cn", {}),
        ("-alipay", {}),
        ("alipay-", {}),
        ("alipay_cn", {}),
        ("hub", {}),
        (42, {}),
        ("alipay-cn", {"kind": "merchant"}),
        ("alipay-cn", {"kind": None}),
        ("alipay-cn", {"name": ""}),
        ("alipay-cn", {"name": " Alipay"}),
        ("alipay-cn", {"name": "Ali\npay"}),
        ("alipay-cn", {"name": "A" * 129}),
        ("alipay-cn", {"country": "XX"}),
        ("alipay-cn", {"country": "cn"}),
        ("alipay-cn", {"country": "CHN"}),
        ("alipay-cn", {"currencies": []}),
        ("alipay-cn", {"currencies": "CNY"}),
        ("alipay-cn", {"currencies": ["EUR"]}),
        ("alipay-cn", {"currencies": ["cny"]}),
        ("alipay-cn", {"currencies": ["CNY", "CNY"]}),
        ("alipay-cn", {"net_debit_caps": {"JPY": 100}}),
        ("alipay-cn", {"net_debit_caps": {"CNY": -1}}),
        ("alipay-cn", {"net_debit_caps": {"CNY": True}}),
        ("alipay-cn", {"net_debit_caps": {"CNY": 1.5}}),
        ("alipay-cn", {"net_debit_caps": {"CNY": 1 << 63}}),
        ("alipay-cn", {"net_debit_caps": [("CNY", 1)]}),
    ],
)
def test_invalid_participant_fields_are_refused_and_change_nothing(
    directory: Directory, path: Path, participant_id: Any, changes: dict[str, Any]
) -> None:
    rows = _rows(path)

    with pytest.raises(SwitchError) as raised:
        directory.register_participant(participant_id, **{**ALIPAY, **changes})

    assert raised.value.code == "invalid_participant"
    assert _rows(path) == rows


def test_an_unknown_participant_is_refused(directory: Directory) -> None:
    with pytest.raises(SwitchError) as raised:
        directory.participant("nobody")
    assert raised.value.code == "unknown_participant"


def test_participants_are_listed_by_id_and_survive_reopening(path: Path) -> None:
    with Ledger.open(path) as ledger, Directory.open(ledger, clock=FakeClock()) as directory:
        _setup_parties(directory)
        before = directory.participants()

    with Ledger.open(path) as ledger, Directory.open(ledger) as directory:
        assert directory.participants() == before
        assert [p.id for p in before] == ["alipay-cn", "kyoto-acq"]


# --- customers -------------------------------------------------------------------------


def test_a_wallet_registers_a_customer(directory: Directory) -> None:
    _setup_parties(directory)

    customer = directory.register_customer("u-1001", **CUSTOMER)

    assert customer.date_of_birth == dt.date(1990, 5, 17)
    assert directory.customer("alipay-cn", "u-1001") == customer


def test_re_registering_the_same_customer_is_idempotent(directory: Directory) -> None:
    _setup_parties(directory)
    first = directory.register_customer("u-1001", **CUSTOMER)

    again = directory.register_customer(
        "u-1001", **{**CUSTOMER, "date_of_birth": dt.date(1990, 5, 17)}
    )

    assert again == first


def test_a_customer_id_with_other_data_is_duplicate_party(directory: Directory, path: Path) -> None:
    _setup_parties(directory)
    directory.register_customer("u-1001", **CUSTOMER)
    rows = _rows(path)

    with pytest.raises(SwitchError) as raised:
        directory.register_customer("u-1001", **{**CUSTOMER, "kyc_tier": "T1"})

    assert raised.value.code == "duplicate_party"
    assert _rows(path) == rows


@pytest.mark.parametrize(
    "changes",
    [
        {"customer_id": ""},
        {"customer_id": "u 1001"},
        {"customer_id": "x" * 65},
        {"name_native": ""},
        {"name_native": "王\t小明"},
        {"name_romanized": "王小明"},
        {"name_romanized": "Wang 小明"},
        {"name_romanized": ""},
        {"country": "ZZ"},
        {"date_of_birth": "1990-13-01"},
        {"date_of_birth": "19900517"},
        {"date_of_birth": "17/05/1990"},
        {"date_of_birth": "2030-01-01"},
        {"date_of_birth": "1899-12-31"},
        {"date_of_birth": dt.datetime(1990, 5, 17)},
        {"date_of_birth": None},
        {"kyc_tier": ""},
        {"kyc_tier": "tier two"},
    ],
)
def test_invalid_customer_fields_are_refused_and_change_nothing(
    directory: Directory, path: Path, changes: dict[str, Any]
) -> None:
    _setup_parties(directory)
    rows = _rows(path)
    fields = {"customer_id": "u-1001", **CUSTOMER, **changes}

    with pytest.raises(SwitchError) as raised:
        directory.register_customer(**fields)

    assert raised.value.code == "invalid_party"
    assert _rows(path) == rows


def test_a_romanized_name_with_macrons_and_apostrophes_is_accepted(directory: Directory) -> None:
    _setup_parties(directory)
    customer = directory.register_customer(
        "u-2", **{**CUSTOMER, "name_native": "佐藤 花子", "name_romanized": "Satō O'Hana-ko"}
    )
    assert customer.name_romanized == "Satō O'Hana-ko"


def test_customers_belong_to_wallets_only(directory: Directory) -> None:
    _setup_parties(directory)

    with pytest.raises(SwitchError) as raised:
        directory.register_customer("u-1", **{**CUSTOMER, "wallet_id": "kyoto-acq"})
    assert raised.value.code == "invalid_party"

    with pytest.raises(SwitchError) as raised:
        directory.register_customer("u-1", **{**CUSTOMER, "wallet_id": "nobody"})
    assert raised.value.code == "unknown_participant"


def test_an_unknown_customer_is_refused(directory: Directory) -> None:
    _setup_parties(directory)
    with pytest.raises(SwitchError) as raised:
        directory.customer("alipay-cn", "u-404")
    assert raised.value.code == "unknown_customer"


# --- merchants -------------------------------------------------------------------------


def test_an_acquirer_registers_a_merchant_in_a_kyoto_region(directory: Directory) -> None:
    _setup_parties(directory)

    merchant = directory.register_merchant("nishiki-42", **MERCHANT)

    assert merchant.region == "JP-26"
    assert merchant.country == "JP"
    assert directory.merchant("nishiki-42") == merchant


def test_a_region_that_is_not_iso_3166_2_is_refused(directory: Directory, path: Path) -> None:
    _setup_parties(directory)
    rows = _rows(path)

    with pytest.raises(SwitchError) as raised:
        directory.register_merchant("nishiki-42", **{**MERCHANT, "region": "JP-99"})

    assert raised.value.code == "invalid_party"
    assert _rows(path) == rows


def test_re_registering_the_same_merchant_is_idempotent(directory: Directory) -> None:
    _setup_parties(directory)
    first = directory.register_merchant("nishiki-42", **MERCHANT)
    assert directory.register_merchant("nishiki-42", **MERCHANT) == first


def test_a_merchant_id_with_other_data_is_duplicate_party(directory: Directory, path: Path) -> None:
    _setup_parties(directory)
    directory.register_merchant("nishiki-42", **MERCHANT)
    rows = _rows(path)

    with pytest.raises(SwitchError) as raised:
        directory.register_merchant("nishiki-42", **{**MERCHANT, "mcc": "5812"})

    assert raised.value.code == "duplicate_party"
    assert _rows(path) == rows


@pytest.mark.parametrize(
    "changes",
    [
        {"merchant_id": "nishiki 42"},
        {"merchant_id": "-nishiki"},
        {"name": ""},
        {"name": "N" * 129},
        {"name_native": ""},
        {"name_native": "錦\x00"},
        {"mcc": "544"},
        {"mcc": "54411"},
        {"mcc": "54a1"},
        {"city": ""},
        {"city": "K" * 65},
        {"region": "JP-99"},
        {"region": "jp-26"},
        {"region": "JP26"},
        {"region": "Kyoto"},
        {"currency": "EUR"},
        {"currency": "KRW"},  # the acquirer does not operate in KRW
        {"acquirer_id": "alipay-cn"},  # a wallet, not an acquirer
    ],
)
def test_invalid_merchant_fields_are_refused_and_change_nothing(
    directory: Directory, path: Path, changes: dict[str, Any]
) -> None:
    _setup_parties(directory)
    rows = _rows(path)
    fields = {"merchant_id": "nishiki-42", **MERCHANT, **changes}

    with pytest.raises(SwitchError) as raised:
        directory.register_merchant(**fields)

    assert raised.value.code == "invalid_party"
    assert _rows(path) == rows


def test_a_merchant_of_an_unknown_acquirer_is_refused(directory: Directory) -> None:
    with pytest.raises(SwitchError) as raised:
        directory.register_merchant("nishiki-42", **MERCHANT)
    assert raised.value.code == "unknown_participant"


def test_an_unknown_merchant_is_refused(directory: Directory) -> None:
    with pytest.raises(SwitchError) as raised:
        directory.merchant("nowhere-1")
    assert raised.value.code == "unknown_merchant"


# --- merchant lookup from a QR payload -------------------------------------------------


def test_a_scanned_qr_finds_its_merchant(directory: Directory) -> None:
    _setup_parties(directory)
    merchant = directory.register_merchant("nishiki-42", **MERCHANT)

    scanned = directory.merchant_from_qr(_qr("nishiki-42"))

    assert scanned.merchant == merchant
    assert scanned.qr.transaction_amount == "1200"


def test_a_qr_of_an_unknown_merchant_is_unknown_merchant(directory: Directory) -> None:
    with pytest.raises(SwitchError) as raised:
        directory.merchant_from_qr(_qr("nowhere-1"))
    assert raised.value.code == "unknown_merchant"


def test_a_corrupted_qr_is_invalid_qr_with_the_qr_error_code(directory: Directory) -> None:
    payload = _qr("nishiki-42")
    tampered = payload.replace("1200", "9200")

    with pytest.raises(SwitchError) as raised:
        directory.merchant_from_qr(tampered)

    assert raised.value.code == "invalid_qr"
    assert str(raised.value).startswith("bad_crc: ")


def test_a_qr_without_the_corridor_template_is_invalid_qr(directory: Directory) -> None:
    with pytest.raises(SwitchError) as raised:
        other_network = {"27": {"00": "com.example.pay", "01": "m-1"}}
        directory.merchant_from_qr(_qr("x", merchant_accounts=other_network))
    assert raised.value.code == "invalid_qr"
    assert str(raised.value).startswith("not_a_corridor_merchant: ")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"transaction_currency": "156", "transaction_amount": "12.00"}, "currency_mismatch"),
        ({"country_code": "KR"}, "country_mismatch"),
    ],
)
def test_a_qr_that_contradicts_the_directory_is_invalid_qr(
    directory: Directory, changes: dict[str, Any], reason: str
) -> None:
    _setup_parties(directory)
    directory.register_merchant("nishiki-42", **MERCHANT)

    with pytest.raises(SwitchError) as raised:
        directory.merchant_from_qr(_qr("nishiki-42", **changes))

    assert raised.value.code == "invalid_qr"
    assert str(raised.value).startswith(f"{reason}: ")
