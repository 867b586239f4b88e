"""Refunds of committed payments, full or partial, at the payment's original rate.

A merchant refunds part or all of what it was paid, in its own currency. The money goes back
the way it came, as one linked chain of posted ledger transfers (no hold: the merchant's
acquirer decides to refund, and the chain succeeds or fails as a whole):

====  ================================  ================================  =====================
leg   debit                             credit                            amount
====  ================================  ================================  =====================
1     acquirer liquidity (target ccy)   FX provider liquidity (target)    ``R`` (the refund)
2     FX provider liquidity (source)    wallet liquidity (source ccy)     ``S_R``
3     hub fees (source ccy)             wallet liquidity (source ccy)     ``F_R`` (left out if 0)
====  ================================  ================================  =====================

The FX rule
-----------
The payer is refunded at the payment's own rate, never at today's: a refund of ``R`` out of
the payment's target amount ``T`` returns ``S_R = round_half_even(S * R / T)`` of the source
amount ``S`` the FX provider received, and ``F_R = round_half_even(F * R / T)`` of the fee
``F``. The refund that brings the refunded total to ``T`` returns exactly what is left of
``S`` and ``F``, so that refunds of a payment always add up to what was paid, to the minor
unit, however it was split. The FX provider bears the exchange-rate movement since the
payment (it received ``S`` and paid ``T``; it gets ``T`` back and repays ``S``), as card
schemes and Alipay+ do for merchant refunds.

Limits: the refunds of a payment never exceed its target amount (``refund_exceeds_payment``);
only a COMMITTED payment can be refunded (``payment_not_committed``). The acquirer's liquidity
must cover the refund (``insufficient_liquidity``) and its net debit cap, if any, the debit
(``limit_exceeded``).

Idempotency: refund ids are chosen by the client, like payment ids. The request (payment id,
amount, currency) is hashed; the same refund id with the same request returns the stored
refund, with another it is ``modified_request``. Transfer ids are derived as for payments
(``SHA-256("corridor/refund-transfer/v1" ‖ 0x00 ‖ refund id ‖ 0x00 ‖ leg)``). The row is
written before the ledger chain (state ``received``, counting against what is left to
refund) and after it (``completed`` or ``failed``), so a crash leaves it one step behind the
ledger and a retry completes it without moving money twice.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

from corridor.ledger import ID_MAX, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection
from corridor.switch.directory import Directory, hub_fees_account_id, liquidity_account_id
from corridor.switch.errors import SwitchError
from corridor.switch.money import Money, format_amount
from corridor.switch.payments import Payment, PaymentService, PaymentState
from corridor.switch.positions import NetPositions, Posting

__all__ = [
    "REFUNDS_SCHEMA",
    "TRANSFER_CODE_REFUND_FEE",
    "TRANSFER_CODE_REFUND_SOURCE",
    "TRANSFER_CODE_REFUND_TARGET",
    "Refund",
    "RefundService",
    "refund_shares",
    "refund_transfer_id",
]

TRANSFER_CODE_REFUND_TARGET: Final = 13
TRANSFER_CODE_REFUND_SOURCE: Final = 14
TRANSFER_CODE_REFUND_FEE: Final = 15
REFUND_TRANSFER_DOMAIN: Final = b"corridor/refund-transfer/v1"
REFUND_ID_CHARS_MAX: Final = 64
_REFUND_ID: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{REFUND_ID_CHARS_MAX - 1}}}")

REFUNDS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS refunds (
    refund_id TEXT PRIMARY KEY,
    payment_id TEXT NOT NULL,
    request_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    target_amount INTEGER NOT NULL,
    source_amount INTEGER NOT NULL,
    fee_amount INTEGER NOT NULL,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    error_code TEXT,
    error_message TEXT
);

CREATE INDEX IF NOT EXISTS refunds_by_payment ON refunds (payment_id);
"""


@dataclass(frozen=True, slots=True)
class Refund:
    refund_id: str
    payment_id: str
    state: str
    """``received``, ``completed`` or ``failed``."""
    target: Money
    """What the merchant's acquirer gives back, in the merchant's currency."""
    source: Money
    """What the FX provider returns to the wallet, in the payer's currency."""
    fee: Money
    """What the hub returns to the wallet, in the payer's currency."""
    request_sha256: str
    created_ns: int
    updated_ns: int
    error_code: str | None
    error_message: str | None

    @property
    def credit_total(self) -> Money:
        """What the payer's wallet gets back."""
        return self.source + self.fee


def refund_transfer_id(refund_id: str, leg: str) -> int:
    message = b"\x00".join([REFUND_TRANSFER_DOMAIN, refund_id.encode(), leg.encode()])
    digest = hashlib.sha256(message).digest()
    retry = 0
    while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
        retry += 1
        digest = hashlib.sha256(message + b"\x00" + str(retry).encode()).digest()
    return value


def _half_even_share(whole: int, part: int, total: int) -> int:
    """round_half_even(whole * part / total), exactly, for non-negative ints."""
    quotient, remainder = divmod(whole * part, total)
    if remainder * 2 > total or (remainder * 2 == total and quotient % 2 == 1):
        quotient += 1
    return quotient


def refund_shares(
    *,
    source: int,
    fee: int,
    target: int,
    refunded_target: int,
    refunded_source: int,
    refunded_fee: int,
    amount: int,
) -> tuple[int, int]:
    """(S_R, F_R) for a refund of `amount` after earlier refunds (the FX rule above)."""
    assert 0 < amount <= target - refunded_target
    if refunded_target + amount == target:
        return source - refunded_source, fee - refunded_fee
    return (
        min(_half_even_share(source, amount, target), source - refunded_source),
        min(_half_even_share(fee, amount, target), fee - refunded_fee),
    )


class RefundService:
    """Refund committed payments. Thread-safe; close it when done."""

    def __init__(
        self,
        ledger: Ledger,
        directory: Directory,
        payments: PaymentService,
        *,
        positions: NetPositions | None = None,
        clock: Callable[[], int] = time.time_ns,
        on_refund: Callable[[Refund, Payment], None] | None = None,
    ) -> None:
        """`on_refund` is told of every completed refund (compliance monitoring)."""
        self._on_refund = on_refund
        self._ledger = ledger
        self._directory = directory
        self._payments = payments
        self._positions = positions
        self._clock = clock
        self._db = open_side_connection(
            ledger.store.path, REFUNDS_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
        )
        self._lock = threading.RLock()
        # One refund at a time per payment, so two cannot both take what is left.
        self._payment_locks: dict[str, threading.Lock] = {}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> RefundService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    @contextmanager
    def _serialized(self, payment_id: str) -> Iterator[None]:
        with self._lock:
            lock = self._payment_locks.setdefault(payment_id, threading.Lock())
        with lock:
            yield

    # -- reads ---------------------------------------------------------------------------

    def get(self, refund_id: str) -> Refund:
        """The refund with this id; ``unknown_refund`` if none."""
        found = self._find(refund_id) if isinstance(refund_id, str) else None
        if found is None:
            raise SwitchError("unknown_refund", f"no refund {refund_id!r}")
        return found

    def for_payment(self, payment_id: str) -> builtins.list[Refund]:
        """The refunds of a payment, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM refunds WHERE payment_id = ?"
                " ORDER BY created_ns, refund_id",
                (payment_id,),
            ).fetchall()
        return [self._refund(row) for row in rows]

    def _find(self, refund_id: str) -> Refund | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM refunds WHERE refund_id = ?", (refund_id,)
            ).fetchone()
        return None if row is None else self._refund(row)

    def _refund(self, row: Sequence[object]) -> Refund:
        (
            refund_id,
            payment_id,
            sha,
            state,
            target,
            source,
            fee,
            created,
            updated,
            code,
            message,
        ) = row
        payment = self._payments.get(str(payment_id))
        source_ccy = payment.source.currency
        return Refund(
            refund_id=str(refund_id),
            payment_id=str(payment_id),
            state=str(state),
            target=Money(int(str(target)), payment.target.currency),
            source=Money(int(str(source)), source_ccy),
            fee=Money(int(str(fee)), source_ccy),
            request_sha256=str(sha),
            created_ns=int(str(created)),
            updated_ns=int(str(updated)),
            error_code=None if code is None else str(code),
            error_message=None if message is None else str(message),
        )

    # -- refund --------------------------------------------------------------------------

    def refund(self, refund_id: str, *, payment_id: str, amount: Money) -> Refund:
        """Refund `amount` (in the merchant's currency) of a committed payment.

        Returns the refund ``completed``. Refusals change nothing: ``invalid_refund``,
        ``unknown_payment``, ``payment_not_committed``, ``refund_exceeds_payment``,
        ``limit_exceeded``; ``insufficient_liquidity`` and ``ledger_rejected`` are recorded
        on the refund (state ``failed``, replayed with the same id).
        """
        if not isinstance(refund_id, str) or _REFUND_ID.fullmatch(refund_id) is None:
            raise SwitchError(
                "invalid_refund",
                f"a refund id is 1-{REFUND_ID_CHARS_MAX} characters of A-Z a-z 0-9 . _ : -"
                f" starting with a letter or digit, not {refund_id!r}",
            )
        if not isinstance(amount, Money) or amount.amount <= 0:
            raise SwitchError("invalid_refund", f"a refund amount is a positive Money: {amount!r}")
        payment = self._payments.get(payment_id)
        if amount.currency != payment.target.currency:
            raise SwitchError(
                "invalid_refund",
                f"payment {payment.payment_id} was paid in {payment.target.currency.code}; "
                f"refund it in that currency, not {amount.currency.code}",
            )
        sha = hashlib.sha256(
            json.dumps(
                {
                    "amount": amount.amount,
                    "currency": amount.currency.code,
                    "payment_id": payment.payment_id,
                    "version": 1,
                },
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()
        with self._serialized(payment.payment_id):
            existing = self._find(refund_id)
            if existing is not None:
                if existing.request_sha256 != sha:
                    raise SwitchError(
                        "modified_request",
                        f"refund {refund_id} was already requested with another body",
                    )
                if existing.state == "received":
                    return self._submit(existing, payment)
                if existing.state == "failed":
                    raise SwitchError(
                        existing.error_code or "ledger_rejected", existing.error_message or ""
                    )
                return existing
            if payment.state is not PaymentState.COMMITTED:
                raise SwitchError(
                    "payment_not_committed",
                    f"payment {payment.payment_id} is {payment.state}; only a committed"
                    " payment can be refunded",
                )
            counted = [r for r in self.for_payment(payment.payment_id) if r.state != "failed"]
            refunded = sum(r.target.amount for r in counted)
            left = payment.target.amount - refunded
            if amount.amount > left:
                raise SwitchError(
                    "refund_exceeds_payment",
                    f"payment {payment.payment_id}: {format_amount(Money(left, amount.currency))}"
                    f" {amount.currency.code} is left to refund, not "
                    f"{format_amount(amount)}",
                )
            source, fee = refund_shares(
                source=payment.source.amount,
                fee=payment.fee.amount,
                target=payment.target.amount,
                refunded_target=refunded,
                refunded_source=sum(r.source.amount for r in counted),
                refunded_fee=sum(r.fee.amount for r in counted),
                amount=amount.amount,
            )
            self._check_cap(
                payment.acquirer_id,
                amount,
                payment.provider_id,
                Money(source, payment.source.currency),
            )
            now = self._clock()
            refund = Refund(
                refund_id=refund_id,
                payment_id=payment.payment_id,
                state="received",
                target=amount,
                source=Money(source, payment.source.currency),
                fee=Money(fee, payment.source.currency),
                request_sha256=sha,
                created_ns=now,
                updated_ns=now,
                error_code=None,
                error_message=None,
            )
            with self._write():
                inserted = self._db.execute(
                    f"INSERT INTO refunds ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (refund_id) DO NOTHING",
                    (
                        refund_id,
                        payment.payment_id,
                        sha,
                        "received",
                        amount.amount,
                        source,
                        fee,
                        now,
                        now,
                        None,
                        None,
                    ),
                ).rowcount
            if not inserted:
                return self.refund(refund_id, payment_id=payment_id, amount=amount)
            return self._submit(refund, payment)

    def _check_cap(self, acquirer_id: str, amount: Money, provider_id: str, source: Money) -> None:
        if self._positions is None:
            return
        caps: dict[tuple[str, str], int] = {}
        for participant_id, money in ((acquirer_id, amount), (provider_id, source)):
            cap = self._directory.participant(participant_id).net_debit_cap(money.currency.code)
            if cap is not None:
                caps[(participant_id, money.currency.code)] = cap
        debits = [
            Posting(acquirer_id, amount.currency.code, amount.amount),
            Posting(provider_id, source.currency.code, source.amount),
        ]
        refused = self._positions.check_debits(debits, caps, self._clock())
        if refused is not None:
            debit, cap, exposure = refused
            raise SwitchError(
                "limit_exceeded",
                f"{debit.participant_id} would owe "
                f"{format_amount(Money.of(exposure + debit.amount, debit.currency))} "
                f"{debit.currency} net in the open settlement window, beyond its net debit "
                f"cap of {format_amount(Money.of(cap, debit.currency))}",
            )

    def _chain(
        self, refund: Refund, acquirer_id: str, provider_id: str, wallet_id: str
    ) -> builtins.list[Transfer]:
        target_ccy = refund.target.currency
        source_ccy = refund.source.currency
        legs = [
            (
                "target",
                liquidity_account_id(acquirer_id, target_ccy.code),
                liquidity_account_id(provider_id, target_ccy.code),
                refund.target.amount,
                target_ccy.ledger,
                TRANSFER_CODE_REFUND_TARGET,
            ),
            (
                "source",
                liquidity_account_id(provider_id, source_ccy.code),
                liquidity_account_id(wallet_id, source_ccy.code),
                refund.source.amount,
                source_ccy.ledger,
                TRANSFER_CODE_REFUND_SOURCE,
            ),
            (
                "fee",
                hub_fees_account_id(source_ccy.code),
                liquidity_account_id(wallet_id, source_ccy.code),
                refund.fee.amount,
                source_ccy.ledger,
                TRANSFER_CODE_REFUND_FEE,
            ),
        ]
        legs = [leg for leg in legs if leg[3] > 0]
        last = len(legs) - 1
        return [
            Transfer(
                id=refund_transfer_id(refund.refund_id, leg),
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                ledger=ledger,
                code=code,
                flags=TransferFlags.LINKED if i < last else TransferFlags.NONE,
            )
            for i, (leg, debit, credit, amount, ledger, code) in enumerate(legs)
        ]

    def _submit(self, refund: Refund, payment: Payment) -> Refund:
        acquirer_id, provider_id = payment.acquirer_id, payment.provider_id
        wallet_id = payment.wallet_id
        chain = self._chain(refund, acquirer_id, provider_id, wallet_id)
        gate = self._positions.gate.shared() if self._positions else _nothing()
        with gate:
            results = self._ledger.create_transfers(chain)
            applied = all(r is CreateTransferResult.OK for r in results)
            if not applied and results[0] is CreateTransferResult.EXISTS:
                applied = len(self._ledger.lookup_transfers([t.id for t in chain])) == len(chain)
            elif applied and self._positions is not None:
                source, target = refund.source.currency.code, refund.target.currency.code
                self._positions.post(
                    [],
                    [
                        Posting(acquirer_id, target, -refund.target.amount),
                        Posting(provider_id, target, refund.target.amount),
                        Posting(provider_id, source, -refund.source.amount),
                        Posting(wallet_id, source, refund.credit_total.amount),
                    ],
                )
        now = self._clock()
        if applied:
            with self._write():
                self._db.execute(
                    "UPDATE refunds SET state = 'completed', updated_ns = ? WHERE refund_id = ?",
                    (now, refund.refund_id),
                )
            completed = dataclasses.replace(refund, state="completed", updated_ns=now)
            if self._on_refund is not None:
                self._on_refund(completed, payment)
            return completed
        failure = next(
            r
            for r in results
            if r not in (CreateTransferResult.OK, CreateTransferResult.LINKED_EVENT_FAILED)
        )
        if failure is CreateTransferResult.EXCEEDS_CREDITS:
            error = SwitchError(
                "insufficient_liquidity",
                f"refund {refund.refund_id}: the liquidity of {acquirer_id} or {provider_id}"
                " does not cover it",
            )
        else:
            error = SwitchError(
                "ledger_rejected",
                f"refund {refund.refund_id}: the ledger refused it: {failure.value}",
            )
        with self._write():
            self._db.execute(
                "UPDATE refunds SET state = 'failed', updated_ns = ?, error_code = ?,"
                " error_message = ? WHERE refund_id = ?",
                (now, error.code, str(error), refund.refund_id),
            )
        raise error


_COLUMNS: Final = (
    "refund_id, payment_id, request_sha256, state, target_amount, source_amount, fee_amount,"
    " created_ns, updated_ns, error_code, error_message"
)


@contextmanager
def _nothing() -> Iterator[None]:
    yield
