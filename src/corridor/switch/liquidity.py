"""Participants' prefunded liquidity: deposits, withdrawals and balances.

A participant pays in the corridor only out of money it has deposited with the hub. When the
hub's settlement bank receives a participant's funds, the operator records a **deposit**: one
ledger transfer that debits the hub settlement account and credits the participant's
liquidity account in that currency. A **withdrawal** (funds paid back out to the participant)
is the reverse transfer. Account ids and sign conventions are described in
`corridor.switch.directory`.

Idempotency: the caller names every movement, either with a 128-bit `transfer_id` of its own
or with a `reference` (a bank statement line, an operator ticket...) from which the id is
derived, so that a retry after a lost answer never moves money twice::

    id = first 16 bytes, big-endian, of
         SHA-256("corridor/liquidity-transfer/v1" ‖ 0x00 ‖ participant id ‖ 0x00 ‖ reference)

(a reference is scoped to its participant; an id of 0 or 2¹²⁸−1 is re-hashed with a counter,
as for account ids). Repeating a movement with the same id and the same request answers with
``replayed=True`` and changes nothing; the same id with a different request (another amount,
a deposit where a withdrawal was made) is ``modified_request``. As in the ledger, only
successes are remembered: a withdrawal refused for ``insufficient_liquidity`` may be retried
with the same reference once funds have arrived.

Net debit caps: a participant's cap per currency is stored in the directory and reported by
`balance` (``net_debit_cap``). It limits how far a participant's net position may fall within
a settlement window, on top of prefunding; it is enforced where positions change, in the
payment service (when it reserves a payment), not here: deposits and withdrawals do not
change a net position.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass
from typing import Final

from corridor.ledger import ID_MAX, CreateTransferResult, Transfer
from corridor.switch.directory import (
    Directory,
    Participant,
    hub_settlement_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.money import Currency, Money, currency

__all__ = [
    "REFERENCE_CHARS_MAX",
    "TRANSFER_CODE_DEPOSIT",
    "TRANSFER_CODE_WITHDRAWAL",
    "TRANSFER_REFERENCE_DOMAIN",
    "Liquidity",
    "LiquidityBalance",
    "Movement",
    "MovementKind",
    "transfer_id_for_reference",
]

TRANSFER_CODE_DEPOSIT: Final = 1
"""Ledger transfer code of a deposit: hub settlement → participant liquidity."""
TRANSFER_CODE_WITHDRAWAL: Final = 2
"""Ledger transfer code of a withdrawal: participant liquidity → hub settlement."""

TRANSFER_REFERENCE_DOMAIN: Final = b"corridor/liquidity-transfer/v1"
"""Prefix of the hash input that turns a reference into a transfer id."""

REFERENCE_CHARS_MAX: Final = 128
"""Longest reference, in characters (printable ASCII)."""

_REFERENCE: Final = re.compile(
    rf"[\x21-\x7e](?:[\x20-\x7e]{{0,{REFERENCE_CHARS_MAX - 2}}}[\x21-\x7e])?"
)


class MovementKind(enum.StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


@dataclass(frozen=True, slots=True)
class Movement:
    """A deposit or withdrawal as the ledger holds it."""

    transfer_id: int
    participant_id: str
    kind: MovementKind
    amount: Money
    replayed: bool
    """True when this id was already applied by an identical request; nothing moved now."""


@dataclass(frozen=True, slots=True)
class LiquidityBalance:
    """A participant's liquidity in one currency, as committed in the ledger."""

    participant_id: str
    available: Money
    """credits_posted − debits_posted − debits_pending: what it can still pay or withdraw."""
    posted: Money
    """credits_posted − debits_posted: its balance once every hold is voided."""
    held: Money
    """debits_pending: reserved by its outgoing payments that are not yet committed."""
    incoming: Money
    """credits_pending: reserved for it by incoming payments not yet committed."""
    net_debit_cap: Money | None
    """The stored cap, enforced by payments (see the module docstring); None if uncapped."""


def transfer_id_for_reference(participant_id: str, reference: str) -> int:
    """The transfer id a `reference` of `participant_id` stands for (see module docstring)."""
    message = b"\x00".join([TRANSFER_REFERENCE_DOMAIN, participant_id.encode(), reference.encode()])
    digest = hashlib.sha256(message).digest()
    retry = 0
    while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
        retry += 1
        digest = hashlib.sha256(message + b"\x00" + str(retry).encode()).digest()
    return value


class Liquidity:
    """Deposits, withdrawals and balances of participants' liquidity accounts."""

    def __init__(self, directory: Directory) -> None:
        self._directory = directory
        self._ledger = directory.ledger

    def deposit(
        self,
        participant_id: str,
        amount: Money,
        *,
        transfer_id: int | None = None,
        reference: str | None = None,
    ) -> Movement:
        """Credit `amount` to the participant's liquidity (funds received by the hub).

        Name the movement with exactly one of `transfer_id` and `reference`.
        """
        return self._move(MovementKind.DEPOSIT, participant_id, amount, transfer_id, reference)

    def withdraw(
        self,
        participant_id: str,
        amount: Money,
        *,
        transfer_id: int | None = None,
        reference: str | None = None,
    ) -> Movement:
        """Debit `amount` from the participant's liquidity (funds paid back to it).

        ``insufficient_liquidity`` when its available balance does not cover `amount`.
        """
        return self._move(MovementKind.WITHDRAWAL, participant_id, amount, transfer_id, reference)

    def balance(self, participant_id: str, currency_code: Currency | str) -> LiquidityBalance:
        """The participant's committed liquidity in `currency_code`."""
        participant = self._directory.participant(participant_id)
        unit = _participant_currency(participant, currency_code)
        accounts = self._ledger.lookup_accounts([liquidity_account_id(participant.id, unit.code)])
        if not accounts:
            raise SwitchError(
                "ledger_rejected",
                f"{participant.id} has no {unit.code} liquidity account in the ledger",
            )
        account = accounts[0]
        cap = participant.net_debit_cap(unit.code)
        posted = account.credits_posted - account.debits_posted
        return LiquidityBalance(
            participant_id=participant.id,
            available=Money(posted - account.debits_pending, unit),
            posted=Money(posted, unit),
            held=Money(account.debits_pending, unit),
            incoming=Money(account.credits_pending, unit),
            net_debit_cap=None if cap is None else Money(cap, unit),
        )

    def _move(
        self,
        kind: MovementKind,
        participant_id: str,
        amount: Money,
        transfer_id: int | None,
        reference: str | None,
    ) -> Movement:
        participant = self._directory.participant(participant_id)
        if not isinstance(amount, Money) or amount.amount <= 0:
            raise SwitchError("invalid_amount", f"a {kind.value} is a positive Money: {amount!r}")
        unit = _participant_currency(participant, amount.currency)
        id = _transfer_id(participant.id, transfer_id, reference)
        hub = hub_settlement_account_id(unit.code)
        liquidity = liquidity_account_id(participant.id, unit.code)
        deposit = kind is MovementKind.DEPOSIT
        transfer = Transfer(
            id=id,
            debit_account_id=hub if deposit else liquidity,
            credit_account_id=liquidity if deposit else hub,
            amount=amount.amount,
            ledger=unit.ledger,
            code=TRANSFER_CODE_DEPOSIT if deposit else TRANSFER_CODE_WITHDRAWAL,
        )
        (result,) = self._ledger.create_transfers([transfer])
        if result in (CreateTransferResult.OK, CreateTransferResult.EXISTS):
            replayed = result is CreateTransferResult.EXISTS
            return Movement(id, participant.id, kind, amount, replayed)
        if result.value.startswith("exists_with_different_"):
            raise SwitchError(
                "modified_request",
                f"transfer {id:032x} was already used for another request ({result.value})",
            )
        if result is CreateTransferResult.EXCEEDS_CREDITS and not deposit:
            raise SwitchError(
                "insufficient_liquidity",
                f"{participant.id} cannot withdraw {amount}: "
                f"{self.balance(participant.id, unit).available} available",
            )
        raise SwitchError(
            "ledger_rejected", f"the ledger refused {kind.value} {id:032x}: {result.value}"
        )


def _participant_currency(participant: Participant, value: Currency | str) -> Currency:
    code = value.code if isinstance(value, Currency) else value
    if code not in participant.currencies:
        raise SwitchError(
            "currency_not_supported",
            f"{participant.id} operates in {', '.join(participant.currencies)}, not {code!r}",
        )
    return currency(code)


def _transfer_id(participant_id: str, transfer_id: int | None, reference: str | None) -> int:
    if (transfer_id is None) == (reference is None):
        raise SwitchError(
            "invalid_transfer_id", "name the movement with exactly one of transfer_id, reference"
        )
    if reference is not None:
        if not isinstance(reference, str) or _REFERENCE.fullmatch(reference) is None:
            raise SwitchError(
                "invalid_transfer_id",
                f"a reference is 1-{REFERENCE_CHARS_MAX} printable ASCII characters, not "
                "starting or ending with a space",
            )
        return transfer_id_for_reference(participant_id, reference)
    if (
        not isinstance(transfer_id, int)
        or isinstance(transfer_id, bool)
        or not 0 < transfer_id < ID_MAX
    ):
        raise SwitchError(
            "invalid_transfer_id", f"a transfer id is 1..2**128-2, not {transfer_id!r}"
        )
    return transfer_id
