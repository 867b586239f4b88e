"""Tests for corridor.switch.liquidity: deposits, withdrawals and balances.

What they pin: a deposit and a withdrawal move exactly their amount between the hub settlement
account and the participant's liquidity account, and `ledger verify` stays clean; a
withdrawal beyond the available balance is ``insufficient_liquidity`` and changes nothing; a
retried movement (same reference or transfer id) applies once, and a reused one with another
request is ``modified_request``; pending holds reduce what is available; bad input gets its
code and changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corridor.ledger import ID_MAX, Ledger, Transfer, TransferFlags
from corridor.ledger.verify import verify
from corridor.switch.directory import (
    Directory,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.liquidity import (
    TRANSFER_CODE_DEPOSIT,
    TRANSFER_CODE_WITHDRAWAL,
    Liquidity,
    MovementKind,
    transfer_id_for_reference,
)
from corridor.switch.money import Money, currency

JPY = currency("JPY")
CNY = currency("CNY")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "corridor.db"


@pytest.fixture
def ledger(path: Path) -> Iterator[Ledger]:
    with Ledger.open(path) as ledger:
        yield ledger


@pytest.fixture
def directory(ledger: Ledger) -> Iterator[Directory]:
    with Directory.open(ledger) as directory:
        directory.register_participant(
            "alipay-cn",
            kind="wallet",
            name="Alipay",
            country="CN",
            currencies=["CNY", "JPY"],
            net_debit_caps={"JPY": 2_000_000},
        )
        directory.register_participant(
            "kyoto-acq", kind="acquirer", name="Kyoto Acquiring", country="JP", currencies=["JPY"]
        )
        yield directory


@pytest.fixture
def liquidity(directory: Directory) -> Liquidity:
    return Liquidity(directory)


def _hub_settlement_balance(ledger: Ledger, code: str) -> int:
    (account,) = ledger.lookup_accounts([hub_settlement_account_id(code)])
    return account.debits_posted - account.credits_posted


def _available(liquidity: Liquidity, participant: str = "alipay-cn") -> int:
    return liquidity.balance(participant, "JPY").available.amount


def test_a_deposit_moves_its_amount_from_hub_settlement_to_liquidity(
    liquidity: Liquidity, ledger: Ledger, path: Path
) -> None:
    movement = liquidity.deposit("alipay-cn", Money(1_000_000, JPY), reference="bank-0001")

    assert movement.kind is MovementKind.DEPOSIT
    assert not movement.replayed
    balance = liquidity.balance("alipay-cn", JPY)
    assert balance.available == Money(1_000_000, JPY)
    assert balance.posted == Money(1_000_000, JPY)
    assert _hub_settlement_balance(ledger, "JPY") == 1_000_000
    (transfer,) = ledger.lookup_transfers([movement.transfer_id])
    assert transfer.debit_account_id == hub_settlement_account_id("JPY")
    assert transfer.credit_account_id == liquidity_account_id("alipay-cn", "JPY")
    assert (transfer.ledger, transfer.code) == (392, TRANSFER_CODE_DEPOSIT)
    assert verify(path).ok


def test_a_withdrawal_moves_its_amount_back_to_hub_settlement(
    liquidity: Liquidity, ledger: Ledger, path: Path
) -> None:
    liquidity.deposit("alipay-cn", Money(1_000_000, JPY), reference="bank-0001")

    movement = liquidity.withdraw("alipay-cn", Money(300_000, JPY), reference="payout-0001")

    assert movement.kind is MovementKind.WITHDRAWAL
    assert _available(liquidity) == 700_000
    assert _hub_settlement_balance(ledger, "JPY") == 700_000
    (transfer,) = ledger.lookup_transfers([movement.transfer_id])
    assert transfer.code == TRANSFER_CODE_WITHDRAWAL
    assert verify(path).ok


def test_the_whole_balance_can_be_withdrawn(liquidity: Liquidity, path: Path) -> None:
    liquidity.deposit("alipay-cn", Money(5_000, JPY), reference="in")

    liquidity.withdraw("alipay-cn", Money(5_000, JPY), reference="out")

    assert _available(liquidity) == 0
    assert verify(path).ok


def test_a_withdrawal_beyond_the_balance_is_insufficient_liquidity(
    liquidity: Liquidity, ledger: Ledger, path: Path
) -> None:
    liquidity.deposit("alipay-cn", Money(5_000, JPY), reference="in")

    with pytest.raises(SwitchError) as raised:
        liquidity.withdraw("alipay-cn", Money(5_001, JPY), reference="out")

    assert raised.value.code == "insufficient_liquidity"
    assert _available(liquidity) == 5_000
    assert _hub_settlement_balance(ledger, "JPY") == 5_000
    assert verify(path).ok


def test_a_refused_withdrawal_may_be_retried_with_its_reference_once_funded(
    liquidity: Liquidity,
) -> None:
    with pytest.raises(SwitchError):
        liquidity.withdraw("alipay-cn", Money(5_000, JPY), reference="out")
    liquidity.deposit("alipay-cn", Money(8_000, JPY), reference="in")

    movement = liquidity.withdraw("alipay-cn", Money(5_000, JPY), reference="out")

    assert not movement.replayed
    assert _available(liquidity) == 3_000


def test_a_retried_deposit_with_the_same_reference_applies_once(
    liquidity: Liquidity, ledger: Ledger, path: Path
) -> None:
    first = liquidity.deposit("alipay-cn", Money(12_345, CNY), reference="bank-0001")

    retry = liquidity.deposit("alipay-cn", Money(12_345, CNY), reference="bank-0001")

    assert retry.replayed
    assert retry.transfer_id == first.transfer_id
    assert liquidity.balance("alipay-cn", "CNY").available == Money(12_345, CNY)
    assert _hub_settlement_balance(ledger, "CNY") == 12_345
    assert verify(path).ok


def test_a_retried_deposit_with_the_same_transfer_id_applies_once(liquidity: Liquidity) -> None:
    liquidity.deposit("alipay-cn", Money(100, JPY), transfer_id=7)
    retry = liquidity.deposit("alipay-cn", Money(100, JPY), transfer_id=7)

    assert retry.replayed
    assert retry.transfer_id == 7
    assert _available(liquidity) == 100


@pytest.mark.parametrize(
    "second",
    [
        ("deposit", "alipay-cn", Money(999, JPY)),
        ("withdraw", "alipay-cn", Money(1_000, JPY)),
        ("deposit", "alipay-cn", Money(1_000, CNY)),
    ],
)
def test_a_reference_reused_for_another_request_is_modified_request(
    liquidity: Liquidity, path: Path, second: tuple[str, str, Money]
) -> None:
    liquidity.deposit("alipay-cn", Money(1_000, JPY), reference="bank-0001")
    method, participant, amount = second

    with pytest.raises(SwitchError) as raised:
        getattr(liquidity, method)(participant, amount, reference="bank-0001")

    assert raised.value.code == "modified_request"
    assert _available(liquidity) == 1_000
    assert verify(path).ok


def test_references_are_scoped_to_their_participant(liquidity: Liquidity) -> None:
    liquidity.deposit("alipay-cn", Money(1_000, JPY), reference="2024-06-01")
    other = liquidity.deposit("kyoto-acq", Money(2_000, JPY), reference="2024-06-01")

    assert not other.replayed
    assert _available(liquidity, "kyoto-acq") == 2_000


def test_transfer_ids_from_references_follow_the_documented_scheme() -> None:
    message = b"corridor/liquidity-transfer/v1\x00alipay-cn\x00bank-0001"
    expected = int.from_bytes(hashlib.sha256(message).digest()[:16], "big")

    assert transfer_id_for_reference("alipay-cn", "bank-0001") == expected


def test_pending_holds_are_not_available(liquidity: Liquidity, ledger: Ledger, path: Path) -> None:
    liquidity.deposit("alipay-cn", Money(10_000, JPY), reference="in")
    hold = Transfer(
        id=99,
        debit_account_id=liquidity_account_id("alipay-cn", "JPY"),
        credit_account_id=liquidity_account_id("kyoto-acq", "JPY"),
        amount=4_000,
        ledger=392,
        code=10,
        flags=TransferFlags.PENDING,
    )
    assert [r.value for r in ledger.create_transfers([hold])] == ["ok"]

    payer = liquidity.balance("alipay-cn", "JPY")
    payee = liquidity.balance("kyoto-acq", "JPY")

    assert (payer.available.amount, payer.posted.amount, payer.held.amount) == (
        6_000,
        10_000,
        4_000,
    )
    assert payee.incoming.amount == 4_000
    assert payee.available.amount == 0
    with pytest.raises(SwitchError) as raised:
        liquidity.withdraw("alipay-cn", Money(6_001, JPY), reference="out")
    assert raised.value.code == "insufficient_liquidity"
    assert verify(path).ok


def test_the_balance_reports_the_stored_net_debit_cap(liquidity: Liquidity) -> None:
    assert liquidity.balance("alipay-cn", "JPY").net_debit_cap == Money(2_000_000, JPY)
    assert liquidity.balance("alipay-cn", "CNY").net_debit_cap is None


def test_liquidity_accounts_add_up_to_the_hub_settlement_account(
    liquidity: Liquidity, ledger: Ledger
) -> None:
    liquidity.deposit("alipay-cn", Money(7_000, JPY), reference="a1")
    liquidity.deposit("kyoto-acq", Money(3_000, JPY), reference="k1")
    liquidity.withdraw("alipay-cn", Money(2_500, JPY), reference="a2")

    total = _available(liquidity, "alipay-cn") + _available(liquidity, "kyoto-acq")

    assert total == _hub_settlement_balance(ledger, "JPY") == 7_500


@pytest.mark.parametrize(
    ("participant", "amount", "naming", "code"),
    [
        ("nobody", Money(100, JPY), {"reference": "r"}, "unknown_participant"),
        ("alipay-cn", Money(0, JPY), {"reference": "r"}, "invalid_amount"),
        ("alipay-cn", Money(-5, JPY), {"reference": "r"}, "invalid_amount"),
        ("alipay-cn", 100, {"reference": "r"}, "invalid_amount"),
        ("alipay-cn", Money.of(100, "KRW"), {"reference": "r"}, "currency_not_supported"),
        ("kyoto-acq", Money(100, CNY), {"reference": "r"}, "currency_not_supported"),
        ("alipay-cn", Money(100, JPY), {}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": "r", "transfer_id": 5}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": ""}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": " r"}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": "r\n"}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": "銀行"}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"reference": "r" * 129}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"transfer_id": 0}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"transfer_id": ID_MAX}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"transfer_id": -1}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"transfer_id": True}, "invalid_transfer_id"),
        ("alipay-cn", Money(100, JPY), {"transfer_id": "7"}, "invalid_transfer_id"),
    ],
)
@pytest.mark.parametrize("method", ["deposit", "withdraw"])
def test_bad_movements_are_refused_and_change_nothing(
    liquidity: Liquidity,
    ledger: Ledger,
    method: str,
    participant: str,
    amount: Any,
    naming: dict[str, Any],
    code: str,
) -> None:
    liquidity.deposit("alipay-cn", Money(1_000, JPY), reference="seed")

    with pytest.raises(SwitchError) as raised:
        getattr(liquidity, method)(participant, amount, **naming)

    assert raised.value.code == code
    assert _available(liquidity) == 1_000
    assert _hub_settlement_balance(ledger, "JPY") == 1_000


def test_the_balance_of_an_unused_currency_is_refused(liquidity: Liquidity) -> None:
    with pytest.raises(SwitchError) as raised:
        liquidity.balance("kyoto-acq", "CNY")
    assert raised.value.code == "currency_not_supported"
