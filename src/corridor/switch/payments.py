"""Payments: reserve a quoted cross-border payment as ledger holds, then commit or abort it.

A tourist's wallet pays a merchant abroad (scan-and-pay). The wallet asked an FX provider for a
quote (`corridor.switch.fx`); the payment uses that quote once and moves the money in two
phases on the ledger, so that nothing is paid until every leg is secured and nothing is held
for ever:

``RECEIVED → RESERVED → COMMITTED``, or ``→ ABORTED``, or ``→ EXPIRED``.

- **reserve** checks the request (the payer is a wallet that has this customer, the merchant
  exists and is paid in the quote's target currency, the quote's provider is an FX provider
  operating in both currencies), uses the quote, records the payment as RECEIVED and submits
  ONE linked chain of pending ledger transfers, all with the same timeout (the hold):

  ====  ===============================  ==================================  ================
  leg   debit                            credit                              amount
  ====  ===============================  ==================================  ================
  1     wallet liquidity (source ccy)    FX provider liquidity (source ccy)  ``quote.source``
  2     FX provider liquidity (target)   acquirer liquidity (target ccy)     ``quote.target``
  3     wallet liquidity (source ccy)    hub fees (source ccy)               ``quote.fee``
  ====  ===============================  ==================================  ================

  Leg 3 is left out when the fee is 0 (the ledger never moves 0). The chain succeeds or fails
  as a whole: the wallet pays ``source + fee`` in its currency, the FX provider receives
  ``source`` in the source currency and pays exactly ``target`` in the target currency, the
  acquirer receives exactly ``target`` and the hub ``fee``. Each leg stays within one ledger,
  so every currency sums to zero on its own. A liquidity account cannot be overdrawn, pending
  holds included, so a short wallet or a short provider fails the whole chain
  (``insufficient_liquidity``); any other refusal is ``ledger_rejected`` with the ledger's
  result code in the message. A failed reserve leaves the payment ABORTED with the error
  recorded, and nothing reserved.
- **commit** posts every leg (a linked chain of ``post_pending_transfer`` events, amount 0 =
  the full pending amount); **abort** voids every leg. If the holds expired first (the ledger
  answers ``pending_transfer_expired``), the payment becomes EXPIRED: committing it is
  ``payment_expired``, aborting it returns it. `pay` is reserve then commit.

Ledger transfer ids
-------------------

Ids are derived, never drawn at random, so that a retry computes the very same ids::

    id = first 16 bytes, big-endian, of
         SHA-256("corridor/payment-transfer/v1" ‖ 0x00 ‖ payment id ‖ 0x00 ‖ leg ‖ 0x00 ‖ action)

with UTF-8 strings, ``leg`` one of ``source``, ``target``, ``fee`` (legs 1-3 above) and
``action`` one of ``reserve`` (the pending transfer), ``post`` and ``void``. A digest giving 0
or 2¹²⁸−1 (the ledger's reserved ids) is re-hashed with ``‖ 0x00 ‖ n`` appended (n = 1, 2, ...
in decimal), as for account ids. Every pending leg also carries, in ``user_data_128``, the
payment's reference ``payment_transfer_id(payment_id, "payment", "ref")`` (same scheme), so an
auditor can group the legs of one payment with SQL. Transfer codes name the leg
(`TRANSFER_CODE_PAYMENT_SOURCE`, `_TARGET`, `_FEE`). The version changes if the scheme does.

Idempotency and crashes
-----------------------

The payment id is chosen by the client. The request body (wallet, customer, merchant, quote,
hold timeout) is hashed (SHA-256 of canonical JSON: sorted keys, no spaces, UTF-8, with a
``version``) and stored with the payment. The same id with the same body returns the stored
payment, or raises the stored error of a failed reserve, and writes nothing new to the ledger;
the same id with another body is ``modified_request``. commit and abort are idempotent too.

Every step writes the payments table *before* and *after* the ledger, never in between, so a
crash (or an exception) can leave the row one step behind the ledger, never ahead of it:

1. The row is inserted as RECEIVED (with the quote's amounts and the derived ids) before the
   ledger chain is submitted. A retry that finds RECEIVED resubmits the same chain with the
   same ids: if the first attempt reached the ledger, the ledger answers ``exists`` (and
   ``linked_event_failed`` for the rest of the chain; the chain is atomic, so all its ids are
   then present, which is checked with a lookup) and this counts as success; if it did not,
   the chain is applied now. Either way the holds exist exactly once.
2. commit and abort submit the post (void) chain, then update the row. A retry of the same
   call gets ``exists`` and completes the update. A crash after posting followed by an abort
   gets ``pending_transfer_already_posted``: the service then reads what the ledger did to each
   pending leg (`SqliteStore.pending_status_code`) and brings the row in line (COMMITTED), so
   the state converges on the ledger, which is the source of truth.

Quotes live in memory (`QuoteBook`), so the quote is used just before the row is inserted: if
the process dies in between, the quote is lost with the book anyway, and a new quote (and a
new payment id) is needed. Calls on one payment id are serialized within the process (striped
locks); across processes the ledger's id idempotency still guarantees that nothing is applied
twice, and the guarded row updates (``WHERE state = ?``) that no state is skipped.

Storage: the ``payments`` table in the ledger's SQLite file, through a connection of its own
(like `corridor.switch.directory`), in short ``BEGIN IMMEDIATE`` transactions. 128-bit ids are
stored as 32 lowercase hex digits; amounts as integers of minor units; the rate as text.

Not here: refunds, settlement windows and net debit caps (a net position is a settlement
window's notion).
"""

from __future__ import annotations

import builtins
import enum
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from corridor.ledger import ID_MAX, CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.store.sqlite import BUSY_TIMEOUT_MS
from corridor.store.transactions import immediate_transaction, open_side_connection
from corridor.switch.directory import (
    Directory,
    Participant,
    ParticipantKind,
    hub_fees_account_id,
    liquidity_account_id,
)
from corridor.switch.errors import SwitchError
from corridor.switch.fx import FxError, Quote, QuoteBook
from corridor.switch.money import Money

__all__ = [
    "HOLD_TIMEOUT_S_DEFAULT",
    "HOLD_TIMEOUT_S_MAX",
    "LIST_LIMIT_MAX",
    "PAYMENTS_SCHEMA",
    "PAYMENT_ID_CHARS_MAX",
    "PAYMENT_TRANSFER_DOMAIN",
    "TRANSFER_CODE_PAYMENT_FEE",
    "TRANSFER_CODE_PAYMENT_SOURCE",
    "TRANSFER_CODE_PAYMENT_TARGET",
    "Payment",
    "PaymentService",
    "PaymentState",
    "payment_reference",
    "payment_transfer_id",
    "request_sha256",
]

PAYMENT_TRANSFER_DOMAIN: Final = b"corridor/payment-transfer/v1"
"""Prefix of every derived payment transfer id's hash input."""

TRANSFER_CODE_PAYMENT_SOURCE: Final = 10
"""Leg 1: wallet liquidity → FX provider liquidity, source currency."""
TRANSFER_CODE_PAYMENT_TARGET: Final = 11
"""Leg 2: FX provider liquidity → acquirer liquidity, target currency."""
TRANSFER_CODE_PAYMENT_FEE: Final = 12
"""Leg 3: wallet liquidity → hub fees, source currency."""

HOLD_TIMEOUT_S_DEFAULT: Final = 300
"""How long a reservation holds, in seconds, unless the caller says otherwise."""
HOLD_TIMEOUT_S_MAX: Final = 30 * 86_400
"""Longest hold (30 days: lodging pre-authorizations); a hold never lasts for ever."""

PAYMENT_ID_CHARS_MAX: Final = 64
LIST_LIMIT_MAX: Final = 1000
REQUEST_VERSION: Final = 1
"""Version of the canonical request body that is hashed."""

_PAYMENT_ID: Final = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:-]{{0,{PAYMENT_ID_CHARS_MAX - 1}}}")
_LOCK_STRIPES: Final = 64

PAYMENTS_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS payments (
    payment_id TEXT PRIMARY KEY,
    request_sha256 TEXT NOT NULL,
    state TEXT NOT NULL,
    wallet_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    merchant_id TEXT NOT NULL,
    acquirer_id TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    quote_id TEXT NOT NULL,
    source_currency TEXT NOT NULL,
    source_amount INTEGER NOT NULL,
    target_currency TEXT NOT NULL,
    target_amount INTEGER NOT NULL,
    fee_amount INTEGER NOT NULL,
    rate TEXT NOT NULL,
    hold_timeout_s INTEGER NOT NULL,
    source_transfer_id TEXT NOT NULL,
    target_transfer_id TEXT NOT NULL,
    fee_transfer_id TEXT,
    created_ns INTEGER NOT NULL,
    updated_ns INTEGER NOT NULL,
    error_code TEXT,
    error_message TEXT
);

CREATE INDEX IF NOT EXISTS payments_by_created ON payments (created_ns);
"""
"""The payment service's table, in the ledger's database file."""

_COLUMNS: Final = (
    "payment_id, request_sha256, state, wallet_id, customer_id, merchant_id, acquirer_id,"
    " provider_id, quote_id, source_currency, source_amount, target_currency, target_amount,"
    " fee_amount, rate, hold_timeout_s, source_transfer_id, target_transfer_id,"
    " fee_transfer_id, created_ns, updated_ns, error_code, error_message"
)


class PaymentState(enum.StrEnum):
    RECEIVED = "received"
    """Recorded; the reservation is being (or was, before a crash) submitted to the ledger."""
    RESERVED = "reserved"
    """Every leg is held in the ledger as a pending transfer."""
    COMMITTED = "committed"
    """Every leg is posted: the merchant's acquirer is paid."""
    ABORTED = "aborted"
    """Every hold is voided, or the reservation failed (then `error_code` says why)."""
    EXPIRED = "expired"
    """The holds expired in the ledger before the payment was committed."""


_LEGS: Final = ("source", "target", "fee")


def _derived_id(*parts: str) -> int:
    message = b"\x00".join([PAYMENT_TRANSFER_DOMAIN, *(p.encode() for p in parts)])
    digest = hashlib.sha256(message).digest()
    retry = 0
    while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
        retry += 1
        digest = hashlib.sha256(message + b"\x00" + str(retry).encode()).digest()
    return value


def payment_transfer_id(payment_id: str, leg: str, action: str) -> int:
    """The ledger transfer id of `leg` (source/target/fee) for `action` (reserve/post/void)."""
    assert leg in _LEGS, leg
    assert action in ("reserve", "post", "void"), action
    return _derived_id(payment_id, leg, action)


def payment_reference(payment_id: str) -> int:
    """The 128-bit reference in ``user_data_128`` of every pending leg of the payment."""
    return _derived_id(payment_id, "payment", "ref")


def request_sha256(
    *, wallet_id: str, customer_id: str, merchant_id: str, quote_id: str, hold_timeout_s: int
) -> str:
    """Hex SHA-256 of the canonical JSON of a reserve request (see the module docstring)."""
    body = {
        "customer_id": customer_id,
        "hold_timeout_s": hold_timeout_s,
        "merchant_id": merchant_id,
        "quote_id": quote_id,
        "version": REQUEST_VERSION,
        "wallet_id": wallet_id,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment as the payments table holds it."""

    payment_id: str
    state: PaymentState
    wallet_id: str
    customer_id: str
    merchant_id: str
    acquirer_id: str
    provider_id: str
    quote_id: str
    source: Money
    """What the FX provider receives, in the payer's currency."""
    target: Money
    """What the merchant's acquirer receives, in the merchant's currency."""
    fee: Money
    """What the hub receives, in the payer's currency."""
    rate: Decimal
    hold_timeout_s: int
    transfer_ids: tuple[int, ...]
    """The pending legs' ledger ids in chain order: source, target and, with a fee, fee."""
    request_sha256: str
    created_ns: int
    updated_ns: int
    error_code: str | None
    """Why the payment failed: a reserve error (ABORTED) or ``payment_expired`` (EXPIRED)."""
    error_message: str | None

    @property
    def debit_total(self) -> Money:
        """What the wallet pays: source plus fee."""
        return self.source + self.fee

    @property
    def legs(self) -> tuple[str, ...]:
        """The legs of this payment, in chain order."""
        return _LEGS[: len(self.transfer_ids)]


def _hex(value: int) -> str:
    return f"{value:032x}"


def _payment(row: Sequence[object]) -> Payment:
    (
        payment_id,
        sha,
        state,
        wallet_id,
        customer_id,
        merchant_id,
        acquirer_id,
        provider_id,
        quote_id,
        source_ccy,
        source_amount,
        target_ccy,
        target_amount,
        fee_amount,
        rate,
        hold_timeout_s,
        source_tid,
        target_tid,
        fee_tid,
        created_ns,
        updated_ns,
        error_code,
        error_message,
    ) = row
    ids = [int(str(t), 16) for t in (source_tid, target_tid, fee_tid) if t is not None]
    return Payment(
        payment_id=str(payment_id),
        state=PaymentState(str(state)),
        wallet_id=str(wallet_id),
        customer_id=str(customer_id),
        merchant_id=str(merchant_id),
        acquirer_id=str(acquirer_id),
        provider_id=str(provider_id),
        quote_id=str(quote_id),
        source=Money.of(int(str(source_amount)), str(source_ccy)),
        target=Money.of(int(str(target_amount)), str(target_ccy)),
        fee=Money.of(int(str(fee_amount)), str(source_ccy)),
        rate=Decimal(str(rate)),
        hold_timeout_s=int(str(hold_timeout_s)),
        transfer_ids=tuple(ids),
        request_sha256=str(sha),
        created_ns=int(str(created_ns)),
        updated_ns=int(str(updated_ns)),
        error_code=None if error_code is None else str(error_code),
        error_message=None if error_message is None else str(error_message),
    )


def _check_payment_id(payment_id: object) -> str:
    if not isinstance(payment_id, str) or _PAYMENT_ID.fullmatch(payment_id) is None:
        raise SwitchError(
            "invalid_payment",
            f"a payment id is 1-{PAYMENT_ID_CHARS_MAX} characters of A-Z a-z 0-9 . _ : -"
            f" starting with a letter or digit, not {payment_id!r}",
        )
    return payment_id


def _check_text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise SwitchError("invalid_payment", f"{what} is a non-empty string, not {value!r}")
    return value


def _check_hold_timeout(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= HOLD_TIMEOUT_S_MAX:
        raise SwitchError(
            "invalid_payment",
            f"hold_timeout_s is an int of 1 to {HOLD_TIMEOUT_S_MAX} seconds, not {value!r}",
        )
    return value


def _require_currency(participant: Participant, code: str, role: str) -> None:
    if code not in participant.currencies:
        raise SwitchError(
            "currency_not_supported",
            f"the {role} {participant.id} operates in {', '.join(participant.currencies)},"
            f" not {code}",
        )


@dataclass(frozen=True, slots=True)
class _Request:
    payment_id: str
    wallet_id: str
    customer_id: str
    merchant_id: str
    quote_id: str
    hold_timeout_s: int
    sha256: str


_SUCCESS: Final = frozenset({CreateTransferResult.OK})


class PaymentService:
    """Reserve, commit and abort payments; one per database. Thread-safe; close it when done."""

    def __init__(
        self,
        ledger: Ledger,
        directory: Directory,
        quote_book: QuoteBook,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        """Open the payments table in `ledger`'s file (creating it if missing).

        `clock` gives nanoseconds since the Unix epoch: for quote expiry and timestamps.
        """
        self._ledger = ledger
        self._directory = directory
        self._quotes = quote_book
        self._clock = clock
        self._db = open_side_connection(
            ledger.store.path, PAYMENTS_SCHEMA, busy_timeout_ms=BUSY_TIMEOUT_MS
        )
        self._lock = threading.RLock()
        self._stripes = tuple(threading.Lock() for _ in range(_LOCK_STRIPES))

    def close(self) -> None:
        """Close the service's connection (the ledger and directory stay open)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> PaymentService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- storage -------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock, immediate_transaction(self._db):
            yield

    @contextmanager
    def _serialized(self, payment_id: str) -> Iterator[None]:
        """Serialize calls on one payment id within the process."""
        with self._stripes[hash(payment_id) % _LOCK_STRIPES]:
            yield

    def _find(self, payment_id: str) -> Payment | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM payments WHERE payment_id = ?", (payment_id,)
            ).fetchone()
        return None if row is None else _payment(row)

    def _insert(self, request: _Request, quote: Quote, acquirer_id: str) -> bool:
        pid = request.payment_id
        now = self._clock()
        fee_tid = _hex(payment_transfer_id(pid, "fee", "reserve")) if quote.fee.amount > 0 else None
        with self._write():
            inserted = self._db.execute(
                f"INSERT INTO payments ({_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (payment_id) DO NOTHING",
                (
                    pid,
                    request.sha256,
                    PaymentState.RECEIVED.value,
                    request.wallet_id,
                    request.customer_id,
                    request.merchant_id,
                    acquirer_id,
                    quote.provider_id,
                    quote.quote_id,
                    quote.source.currency.code,
                    quote.source.amount,
                    quote.target.currency.code,
                    quote.target.amount,
                    quote.fee.amount,
                    str(quote.rate),
                    request.hold_timeout_s,
                    _hex(payment_transfer_id(pid, "source", "reserve")),
                    _hex(payment_transfer_id(pid, "target", "reserve")),
                    fee_tid,
                    now,
                    now,
                    None,
                    None,
                ),
            ).rowcount
        return bool(inserted)

    def _transition(
        self,
        payment: Payment,
        state: PaymentState,
        error: SwitchError | None = None,
    ) -> Payment:
        """Move `payment` from its state to `state` (guarded); returns the stored payment."""
        with self._write():
            self._db.execute(
                "UPDATE payments SET state = ?, updated_ns = ?, error_code = ?,"
                " error_message = ? WHERE payment_id = ? AND state = ?",
                (
                    state.value,
                    self._clock(),
                    None if error is None else error.code,
                    None if error is None else str(error),
                    payment.payment_id,
                    payment.state.value,
                ),
            )
        stored = self._find(payment.payment_id)
        assert stored is not None
        return stored

    # -- ledger --------------------------------------------------------------------------

    def _pending_chain(self, payment: Payment) -> list[Transfer]:
        source_ccy = payment.source.currency
        target_ccy = payment.target.currency
        wallet_source = liquidity_account_id(payment.wallet_id, source_ccy.code)
        legs = [
            (
                wallet_source,
                liquidity_account_id(payment.provider_id, source_ccy.code),
                payment.source.amount,
                source_ccy.ledger,
                TRANSFER_CODE_PAYMENT_SOURCE,
            ),
            (
                liquidity_account_id(payment.provider_id, target_ccy.code),
                liquidity_account_id(payment.acquirer_id, target_ccy.code),
                payment.target.amount,
                target_ccy.ledger,
                TRANSFER_CODE_PAYMENT_TARGET,
            ),
            (
                wallet_source,
                hub_fees_account_id(source_ccy.code),
                payment.fee.amount,
                source_ccy.ledger,
                TRANSFER_CODE_PAYMENT_FEE,
            ),
        ][: len(payment.transfer_ids)]
        reference = payment_reference(payment.payment_id)
        last = len(legs) - 1
        return [
            Transfer(
                id=transfer_id,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                user_data_128=reference,
                timeout=payment.hold_timeout_s,
                ledger=ledger,
                code=code,
                flags=TransferFlags.PENDING | (TransferFlags.LINKED if i < last else 0),
            )
            for i, (transfer_id, (debit, credit, amount, ledger, code)) in enumerate(
                zip(payment.transfer_ids, legs, strict=True)
            )
        ]

    def _resolve_chain(self, payment: Payment, action: str) -> list[Transfer]:
        flag = (
            TransferFlags.POST_PENDING_TRANSFER
            if action == "post"
            else TransferFlags.VOID_PENDING_TRANSFER
        )
        last = len(payment.transfer_ids) - 1
        return [
            Transfer(
                id=payment_transfer_id(payment.payment_id, leg, action),
                pending_id=pending_id,
                flags=flag | (TransferFlags.LINKED if i < last else 0),
            )
            for i, (leg, pending_id) in enumerate(
                zip(payment.legs, payment.transfer_ids, strict=True)
            )
        ]

    def _apply(self, chain: list[Transfer]) -> tuple[int, CreateTransferResult] | None:
        """Submit a linked chain; None once it is applied (now or by an earlier attempt).

        Otherwise the index and code of the event that failed the chain. A chain that was
        applied before answers ``exists`` on its first event (and ``linked_event_failed`` on the
        rest); since chains are atomic, it counts as applied when every id is in the ledger.
        """
        results = self._ledger.create_transfers(chain)
        if all(result in _SUCCESS for result in results):
            return None
        index, failure = next(
            (i, r)
            for i, r in enumerate(results)
            if r not in (CreateTransferResult.OK, CreateTransferResult.LINKED_EVENT_FAILED)
        )
        if failure is CreateTransferResult.EXISTS:
            found = self._ledger.lookup_transfers([t.id for t in chain])
            if len(found) == len(chain):
                return None
        return index, failure

    def _ledger_state(self, payment: Payment) -> PaymentState | None:
        """What the ledger did with the payment's holds; None if they are not all there."""
        statuses = [self._ledger.store.pending_status_code(i) for i in payment.transfer_ids]
        if None in statuses:
            return None
        if "posted" in statuses:
            return PaymentState.COMMITTED
        if "expired" in statuses:
            return PaymentState.EXPIRED
        if "voided" in statuses:
            return PaymentState.ABORTED
        return PaymentState.RESERVED

    def _catch_up(self, payment: Payment, failure: CreateTransferResult) -> Payment:
        """After a post or void chain failed, bring the row in line with the ledger.

        Raises ``ledger_rejected`` (recorded on the row) when the ledger still holds the
        payment as reserved and refused for another reason.
        """
        if failure is CreateTransferResult.PENDING_TRANSFER_EXPIRED:
            state: PaymentState | None = PaymentState.EXPIRED
        else:
            state = self._ledger_state(payment)
        if state is PaymentState.EXPIRED:
            expired = SwitchError(
                "payment_expired",
                f"the holds of payment {payment.payment_id} expired after "
                f"{payment.hold_timeout_s} s",
            )
            return self._transition(payment, PaymentState.EXPIRED, expired)
        if state in (PaymentState.COMMITTED, PaymentState.ABORTED):
            assert state is not None
            return self._transition(payment, state)
        error = SwitchError(
            "ledger_rejected",
            f"the ledger refused to resolve payment {payment.payment_id}: {failure.value}",
        )
        self._record_error(payment, error)
        raise error

    def _record_error(self, payment: Payment, error: SwitchError) -> None:
        with self._write():
            self._db.execute(
                "UPDATE payments SET error_code = ?, error_message = ?, updated_ns = ?"
                " WHERE payment_id = ?",
                (error.code, str(error), self._clock(), payment.payment_id),
            )

    # -- reserve -------------------------------------------------------------------------

    def reserve(
        self,
        payment_id: str,
        *,
        wallet_id: str,
        customer_id: str,
        merchant_id: str,
        quote_id: str,
        hold_timeout_s: int = HOLD_TIMEOUT_S_DEFAULT,
    ) -> Payment:
        """Hold the payment's legs in the ledger; returns the payment RESERVED.

        Refusals before anything is recorded (nothing changes, the quote stays usable unless
        it is the quote that is refused): ``invalid_payment``, ``unknown_participant``,
        ``unknown_customer``, ``unknown_merchant``, ``unknown_quote``, ``quote_mismatch``,
        ``currency_not_supported``, ``quote_expired``, ``quote_used``. Ledger refusals
        (``insufficient_liquidity``, ``ledger_rejected``) leave the payment ABORTED with the
        error recorded. A retry with the same body returns the stored payment (or raises
        the stored error); with another body it is ``modified_request``.
        """
        request = _Request(
            payment_id=_check_payment_id(payment_id),
            wallet_id=_check_text(wallet_id, "wallet_id"),
            customer_id=_check_text(customer_id, "customer_id"),
            merchant_id=_check_text(merchant_id, "merchant_id"),
            quote_id=_check_text(quote_id, "quote_id"),
            hold_timeout_s=_check_hold_timeout(hold_timeout_s),
            sha256=request_sha256(
                wallet_id=wallet_id,
                customer_id=customer_id,
                merchant_id=merchant_id,
                quote_id=quote_id,
                hold_timeout_s=hold_timeout_s,
            ),
        )
        with self._serialized(request.payment_id):
            existing = self._find(request.payment_id)
            if existing is not None:
                return self._replay(existing, request)
            quote, acquirer_id = self._use_quote(request)
            if not self._insert(request, quote, acquirer_id):
                # Another process recorded this id first.
                existing = self._find(request.payment_id)
                assert existing is not None
                return self._replay(existing, request)
            received = self._find(request.payment_id)
            assert received is not None
            return self._submit_reserve(received)

    def _replay(self, existing: Payment, request: _Request) -> Payment:
        if existing.request_sha256 != request.sha256:
            raise SwitchError(
                "modified_request",
                f"payment {existing.payment_id} was already requested with another body",
            )
        if existing.state is PaymentState.RECEIVED:
            return self._submit_reserve(existing)
        if existing.state is PaymentState.ABORTED and existing.error_code is not None:
            raise SwitchError(existing.error_code, existing.error_message or "")
        return existing

    def _use_quote(self, request: _Request) -> tuple[Quote, str]:
        wallet = self._directory.participant(request.wallet_id)
        if wallet.kind is not ParticipantKind.WALLET:
            raise SwitchError(
                "invalid_payment", f"the payer must be a wallet; {wallet.id} is a {wallet.kind}"
            )
        self._directory.customer(wallet.id, request.customer_id)
        merchant = self._directory.merchant(request.merchant_id)
        try:
            quote = self._quotes.get(request.quote_id)
        except FxError as error:
            raise SwitchError("unknown_quote", str(error)) from None
        if quote.target.currency.code != merchant.currency:
            raise SwitchError(
                "quote_mismatch",
                f"quote {quote.quote_id} pays {quote.target.currency.code}; merchant "
                f"{merchant.id} is paid in {merchant.currency}",
            )
        provider = self._directory.participant(quote.provider_id)
        if provider.kind is not ParticipantKind.FX_PROVIDER:
            raise SwitchError(
                "invalid_payment",
                f"quote {quote.quote_id} is from {provider.id}, a {provider.kind}, "
                "not an fx_provider",
            )
        acquirer = self._directory.participant(merchant.acquirer_id)
        _require_currency(wallet, quote.source.currency.code, "wallet")
        _require_currency(provider, quote.source.currency.code, "FX provider")
        _require_currency(provider, quote.target.currency.code, "FX provider")
        _require_currency(acquirer, quote.target.currency.code, "acquirer")
        try:
            self._quotes.use(request.quote_id, self._clock())
        except FxError as error:
            code = error.code if error.code in ("quote_expired", "quote_used") else "unknown_quote"
            raise SwitchError(code, str(error)) from None
        return quote, acquirer.id

    def _submit_reserve(self, payment: Payment) -> Payment:
        assert payment.state is PaymentState.RECEIVED
        outcome = self._apply(self._pending_chain(payment))
        if outcome is None:
            return self._transition(payment, PaymentState.RESERVED)
        index, failure = outcome
        leg = payment.legs[index]
        if failure is CreateTransferResult.EXCEEDS_CREDITS:
            if leg == "target":
                who = f"FX provider {payment.provider_id} ({payment.target.currency.code})"
            else:
                who = f"wallet {payment.wallet_id} ({payment.source.currency.code})"
            error = SwitchError(
                "insufficient_liquidity",
                f"payment {payment.payment_id}: the liquidity of {who} does not cover it",
            )
        else:
            error = SwitchError(
                "ledger_rejected",
                f"payment {payment.payment_id}: the ledger refused the {leg} leg: {failure.value}",
            )
        self._transition(payment, PaymentState.ABORTED, error)
        raise error

    # -- commit / abort ------------------------------------------------------------------

    def _reserved_or_received(self, payment: Payment) -> Payment:
        """A RECEIVED payment whose holds are all in the ledger becomes RESERVED."""
        if payment.state is PaymentState.RECEIVED and self._ledger_state(payment) is not None:
            return self._transition(payment, PaymentState.RESERVED)
        return payment

    def commit(self, payment_id: str) -> Payment:
        """Post every leg; returns the payment COMMITTED (unchanged if it already was).

        ``payment_expired`` if the holds expired (the payment is then EXPIRED);
        ``payment_not_reserved`` if it was aborted or its reservation never completed.
        """
        pid = _check_payment_id(payment_id)
        with self._serialized(pid):
            payment = self._reserved_or_received(self.get(pid))
            if payment.state is PaymentState.RESERVED:
                outcome = self._apply(self._resolve_chain(payment, "post"))
                if outcome is None:
                    return self._transition(payment, PaymentState.COMMITTED)
                payment = self._catch_up(payment, outcome[1])
            if payment.state is PaymentState.COMMITTED:
                return payment
            if payment.state is PaymentState.EXPIRED:
                raise SwitchError(
                    "payment_expired",
                    payment.error_message or f"the holds of payment {pid} expired",
                )
            raise SwitchError(
                "payment_not_reserved", f"payment {pid} is {payment.state}; it cannot be committed"
            )

    def abort(self, payment_id: str) -> Payment:
        """Void every hold; returns the payment ABORTED (or EXPIRED, if the holds expired).

        Aborting an aborted or expired payment returns it unchanged; a committed one is
        ``payment_not_reserved``. A payment whose reservation never reached the ledger is
        aborted without touching it.
        """
        pid = _check_payment_id(payment_id)
        with self._serialized(pid):
            payment = self._reserved_or_received(self.get(pid))
            if payment.state is PaymentState.RECEIVED:
                return self._transition(payment, PaymentState.ABORTED)
            if payment.state is PaymentState.RESERVED:
                outcome = self._apply(self._resolve_chain(payment, "void"))
                if outcome is None:
                    return self._transition(payment, PaymentState.ABORTED)
                payment = self._catch_up(payment, outcome[1])
            if payment.state in (PaymentState.ABORTED, PaymentState.EXPIRED):
                return payment
            raise SwitchError(
                "payment_not_reserved", f"payment {pid} is {payment.state}; it cannot be aborted"
            )

    def pay(
        self,
        payment_id: str,
        *,
        wallet_id: str,
        customer_id: str,
        merchant_id: str,
        quote_id: str,
        hold_timeout_s: int = HOLD_TIMEOUT_S_DEFAULT,
    ) -> Payment:
        """Scan-and-pay in one call: `reserve`, then `commit`. Idempotent like both."""
        self.reserve(
            payment_id,
            wallet_id=wallet_id,
            customer_id=customer_id,
            merchant_id=merchant_id,
            quote_id=quote_id,
            hold_timeout_s=hold_timeout_s,
        )
        return self.commit(payment_id)

    def sync(self, payment_id: str) -> Payment:
        """Bring a RESERVED payment in line with the ledger (e.g. EXPIRED after its holds
        expired there) and return it; other states are returned as stored."""
        pid = _check_payment_id(payment_id)
        with self._serialized(pid):
            payment = self.get(pid)
            if payment.state is not PaymentState.RESERVED:
                return payment
            state = self._ledger_state(payment)
            if state is None or state is PaymentState.RESERVED:
                return payment
            return self._catch_up(payment, CreateTransferResult.OK)

    # -- reads ---------------------------------------------------------------------------

    def get(self, payment_id: str) -> Payment:
        """The payment with this id; ``unknown_payment`` if none."""
        found = self._find(payment_id) if isinstance(payment_id, str) else None
        if found is None:
            raise SwitchError("unknown_payment", f"no payment {payment_id!r}")
        return found

    def list(
        self,
        *,
        state: PaymentState | str | None = None,
        wallet_id: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Payment]:
        """Payments, newest first (by creation time, then id), at most `limit` (1-1000)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= LIST_LIMIT_MAX:
            raise SwitchError("invalid_payment", f"limit is 1 to {LIST_LIMIT_MAX}, not {limit!r}")
        clauses: builtins.list[str] = []
        params: builtins.list[object] = []
        if state is not None:
            try:
                clauses.append("state = ?")
                params.append(PaymentState(state).value)
            except ValueError:
                raise SwitchError("invalid_payment", f"no payment state {state!r}") from None
        if wallet_id is not None:
            clauses.append("wallet_id = ?")
            params.append(wallet_id)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM payments{where}"
                " ORDER BY created_ns DESC, payment_id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [_payment(row) for row in rows]
