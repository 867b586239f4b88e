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
  ``payment_expired``, aborting it returns it.
- **pay** / **pay_many** (the one-shot scan-and-pay path: quote + reserve + commit) make the
  same checks and move the same legs, but as one linked chain of *posted* transfers (flow
  ``direct``): the chain is atomic and durable, so reserving and committing happen in one
  ledger event with nothing held in between, RECEIVED → COMMITTED (or ABORTED with the
  ledger's refusal). The legs carry the same codes and reference; their ids use the action
  ``direct``. Holds (flow ``two_phase``, `reserve` then `commit`/`abort`) serve deposits,
  pre-authorizations and payments that compliance sends to review. `pay_many` batches many
  payments into one insert, one ledger request and one update.

Ledger transfer ids
-------------------

Ids are derived, never drawn at random, so that a retry computes the very same ids::

    id = first 16 bytes, big-endian, of
         SHA-256("corridor/payment-transfer/v1" ‖ 0x00 ‖ payment id ‖ 0x00 ‖ leg ‖ 0x00 ‖ action)

with UTF-8 strings, ``leg`` one of ``source``, ``target``, ``fee`` (legs 1-3 above) and
``action`` one of ``reserve`` (the pending transfer), ``post``, ``void`` and ``direct`` (the
posted leg of a one-shot payment). A digest giving 0
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

Refunds are `corridor.switch.refunds`; settlement windows `corridor.switch.settlement`; net
debit caps are checked here, through `corridor.switch.positions`, before anything reaches
the ledger (``limit_exceeded``).
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import enum
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Protocol

from corridor.compliance.types import Decision, PaymentEvent, Verdict
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
from corridor.switch.money import Money, format_amount
from corridor.switch.positions import Hold, NetPositions, Posting

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
_NS_PER_S: Final = 1_000_000_000
# Plain ints, not TransferFlags: the engine's bit tests on IntFlag values are slow.
_LINKED: Final = int(TransferFlags.LINKED)
_PENDING: Final = int(TransferFlags.PENDING)
_PENDING_LINKED: Final = int(TransferFlags.PENDING | TransferFlags.LINKED)
_POST: Final = int(TransferFlags.POST_PENDING_TRANSFER)
_VOID: Final = int(TransferFlags.VOID_PENDING_TRANSFER)

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
    error_message TEXT,
    flow TEXT NOT NULL DEFAULT 'two_phase'
);

CREATE INDEX IF NOT EXISTS payments_by_created ON payments (created_ns);
"""
"""The payment service's table, in the ledger's database file."""

_COLUMNS: Final = (
    "payment_id, request_sha256, state, wallet_id, customer_id, merchant_id, acquirer_id,"
    " provider_id, quote_id, source_currency, source_amount, target_currency, target_amount,"
    " fee_amount, rate, hold_timeout_s, source_transfer_id, target_transfer_id,"
    " fee_transfer_id, created_ns, updated_ns, error_code, error_message, flow"
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
    return _derived_ids(parts[0], (parts[1:],))[0]


_DOMAIN_HASH: Final = hashlib.sha256(PAYMENT_TRANSFER_DOMAIN + b"\x00")


def _derived_ids(payment_id: str, suffixes: Sequence[Sequence[str]]) -> builtins.list[int]:
    """The derived ids of one payment for each suffix (hashing its prefix once)."""
    prefix = _DOMAIN_HASH.copy()
    prefix.update(payment_id.encode())
    values = []
    for suffix in suffixes:
        tail = b"".join(b"\x00" + part.encode() for part in suffix)
        hasher = prefix.copy()
        hasher.update(tail)
        digest = hasher.digest()
        retry = 0
        while (value := int.from_bytes(digest[:16], "big")) in (0, ID_MAX):
            retry += 1
            hasher = prefix.copy()
            hasher.update(tail + b"\x00" + str(retry).encode())
            digest = hasher.digest()
        values.append(value)
    return values


def payment_transfer_id(payment_id: str, leg: str, action: str) -> int:
    """The ledger id of `leg` (source/target/fee) for `action` (reserve/post/void/direct)."""
    assert leg in _LEGS, leg
    assert action in ("reserve", "post", "void", "direct"), action
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
    flow: str = "two_phase"
    """``two_phase`` (holds, then post or void) or ``direct`` (one-shot: posted at once)."""

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
        flow,
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
        flow=str(flow),
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
class PaymentRequest:
    """One scan-and-pay request, for `PaymentService.pay_many`."""

    payment_id: str
    wallet_id: str
    customer_id: str
    merchant_id: str
    quote_id: str
    hold_timeout_s: int = HOLD_TIMEOUT_S_DEFAULT


PAY_BATCH_MAX: Final = 2048
"""Payments per `pay_many` call: 3 legs each, reserve and post, fit one ledger batch."""


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


def _checked_request(raw: object) -> _Request:
    if not isinstance(raw, PaymentRequest):
        raise SwitchError("invalid_payment", f"a payment request is a PaymentRequest, not {raw!r}")
    return _Request(
        payment_id=_check_payment_id(raw.payment_id),
        wallet_id=_check_text(raw.wallet_id, "wallet_id"),
        customer_id=_check_text(raw.customer_id, "customer_id"),
        merchant_id=_check_text(raw.merchant_id, "merchant_id"),
        quote_id=_check_text(raw.quote_id, "quote_id"),
        hold_timeout_s=_check_hold_timeout(raw.hold_timeout_s),
        sha256=request_sha256(
            wallet_id=raw.wallet_id,
            customer_id=raw.customer_id,
            merchant_id=raw.merchant_id,
            quote_id=raw.quote_id,
            hold_timeout_s=raw.hold_timeout_s,
        ),
    )


def _chain_failure(
    results: Sequence[CreateTransferResult],
) -> tuple[int, CreateTransferResult] | None:
    """None if every event of a linked chain succeeded, else the event that failed it."""
    if all(result is CreateTransferResult.OK for result in results):
        return None
    return next(
        (i, r)
        for i, r in enumerate(results)
        if r not in (CreateTransferResult.OK, CreateTransferResult.LINKED_EVENT_FAILED)
    )


def _replace_state(payment: Payment, state: PaymentState, now: int) -> Payment:
    p = payment
    return Payment(
        p.payment_id,
        state,
        p.wallet_id,
        p.customer_id,
        p.merchant_id,
        p.acquirer_id,
        p.provider_id,
        p.quote_id,
        p.source,
        p.target,
        p.fee,
        p.rate,
        p.hold_timeout_s,
        p.transfer_ids,
        p.request_sha256,
        p.created_ns,
        now,
        p.error_code,
        p.error_message,
        p.flow,
    )


Assessed = tuple[PaymentEvent, Decision]
"""A payment as compliance saw it, and its decision."""

REVIEW_HOLD_TIMEOUT_S: Final = 3 * 86_400
"""A payment held for compliance review keeps its holds at least this long (3 days)."""


class PaymentCompliance(Protocol):
    """What the payment service asks compliance (`corridor.switch.compliance_gate`)."""

    def assess(self, payments: Sequence[Payment]) -> builtins.list[Assessed]: ...

    def admitted(self, assessed: Sequence[Assessed]) -> None: ...

    def blocked(self, assessed: Sequence[Assessed]) -> None: ...

    def rejected(self, events: Sequence[PaymentEvent]) -> None: ...

    def under_review(self, payment_id: str) -> bool: ...

    def event(self, payment: Payment) -> PaymentEvent: ...


def blocked_error(payment_id: str, decision: Decision) -> SwitchError:
    """The error of a payment compliance blocked: every BLOCK reason, with its rule."""
    reasons = [r for r in decision.reasons if r.verdict is Verdict.BLOCK] or builtins.list(
        decision.reasons
    )
    text = "; ".join(f"[{r.rule}] {r.message}" for r in reasons)
    return SwitchError("compliance_blocked", f"payment {payment_id} blocked: {text}")


class PaymentService:
    """Reserve, commit and abort payments; one per database. Thread-safe; close it when done."""

    def __init__(
        self,
        ledger: Ledger,
        directory: Directory,
        quote_book: QuoteBook,
        *,
        clock: Callable[[], int] = time.time_ns,
        positions: NetPositions | None = None,
        compliance: PaymentCompliance | None = None,
    ) -> None:
        """Open the payments table in `ledger`'s file (creating it if missing).

        `clock` gives nanoseconds since the Unix epoch: for quote expiry and timestamps.
        `positions` tracks net positions for net debit caps (`corridor.switch.positions`);
        without it, caps are not enforced.
        """
        self._ledger = ledger
        self._directory = directory
        self._quotes = quote_book
        self._clock = clock
        self._positions = positions
        self._compliance = compliance
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

    @contextmanager
    def _serialized_many(self, payment_ids: builtins.list[str]) -> Iterator[None]:
        """Serialize with every call on these ids (stripes taken in order: no deadlock)."""
        with contextlib.ExitStack() as stack:
            for stripe in sorted({hash(i) % _LOCK_STRIPES for i in payment_ids}):
                stack.enter_context(self._stripes[stripe])
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
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
                    "two_phase",
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
        """The payment's legs as one linked chain: pending holds, or (direct) posted."""
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
        if payment.flow == "direct":
            linked, final, timeout = _LINKED, 0, 0
        else:
            linked, final, timeout = _PENDING_LINKED, _PENDING, payment.hold_timeout_s
        return [
            Transfer(
                id=transfer_id,
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                user_data_128=reference,
                timeout=timeout,
                ledger=ledger,
                code=code,
                flags=linked if i < last else final,
            )
            for i, (transfer_id, (debit, credit, amount, ledger, code)) in enumerate(
                zip(payment.transfer_ids, legs, strict=True)
            )
        ]

    def _resolve_chain(self, payment: Payment, action: str) -> list[Transfer]:
        flag = _POST if action == "post" else _VOID
        last = len(payment.transfer_ids) - 1
        ids = _derived_ids(payment.payment_id, [(leg, action) for leg in payment.legs])
        return [
            Transfer(
                id=transfer_id,
                pending_id=pending_id,
                flags=flag | _LINKED if i < last else flag,
            )
            for i, (transfer_id, pending_id) in enumerate(
                zip(ids, payment.transfer_ids, strict=True)
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
            self._release_holds([payment.payment_id])
            self._forget(payment)
            return self._transition(payment, PaymentState.EXPIRED, expired)
        if state is PaymentState.COMMITTED:
            # Posted by an earlier attempt whose process may have died before counting it.
            if self._positions is not None and self._positions.is_held(payment.payment_id):
                self._posted([payment])
            return self._transition(payment, state)
        if state is PaymentState.ABORTED:
            self._release_holds([payment.payment_id])
            self._forget(payment)
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
            outcomes: builtins.list[Payment | SwitchError | None] = [None]
            received = self._received(request, quote, acquirer_id, self._clock(), "two_phase")
            gated = self._gate_payments([(0, received)], outcomes)
            if not self._insert_many([p for _, p, _ in gated]):
                # Another process recorded this id first.
                existing = self._find(request.payment_id)
                assert existing is not None
                return self._replay(existing, request)
            (_, payment, _) = gated[0]
            if payment.state is PaymentState.RECEIVED:
                try:
                    outcomes[0] = self._submit_reserve(payment)
                except SwitchError as error:
                    outcomes[0] = error
            self._after_gate(gated, outcomes)
            (outcome,) = outcomes
            if isinstance(outcome, SwitchError):
                raise outcome
            assert outcome is not None
            return outcome

    def _replay(self, existing: Payment, request: _Request) -> Payment:
        if existing.request_sha256 != request.sha256:
            raise SwitchError(
                "modified_request",
                f"payment {existing.payment_id} was already requested with another body",
            )
        if existing.state is PaymentState.RECEIVED:
            if existing.flow == "direct":
                return self._submit_direct(existing)
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
        refused = self._take_hold(payment)
        if refused is not None:
            self._transition(payment, PaymentState.ABORTED, refused)
            raise refused
        outcome = self._apply(self._pending_chain(payment))
        if outcome is None:
            self._rearm_hold(payment)
            return self._transition(payment, PaymentState.RESERVED)
        self._release_holds([payment.payment_id])
        index, failure = outcome
        error = self._reserve_error(payment, index, failure)
        self._transition(payment, PaymentState.ABORTED, error)
        raise error

    def _reserve_error(
        self, payment: Payment, index: int, failure: CreateTransferResult
    ) -> SwitchError:
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
        return error

    # -- net positions -------------------------------------------------------------------

    def _hold(self, payment: Payment, now_ns: int, caps: Mapping[tuple[str, str], int]) -> Hold:
        debits = (
            Posting(payment.wallet_id, payment.source.currency.code, payment.debit_total.amount),
            Posting(payment.provider_id, payment.target.currency.code, payment.target.amount),
        )
        return Hold(
            payment.payment_id,
            tuple(d for d in debits if (d.participant_id, d.currency) in caps),
            now_ns + payment.hold_timeout_s * _NS_PER_S,
        )

    def _caps(self, payment: Payment) -> dict[tuple[str, str], int]:
        caps: dict[tuple[str, str], int] = {}
        for participant_id, code in (
            (payment.wallet_id, payment.source.currency.code),
            (payment.provider_id, payment.target.currency.code),
        ):
            cap = self._directory.participant(participant_id).net_debit_cap(code)
            if cap is not None:
                caps[(participant_id, code)] = cap
        return caps

    def _take_hold(self, payment: Payment) -> SwitchError | None:
        """Count the payment's debits in the net positions, unless a cap refuses them."""
        if self._positions is None:
            return None
        caps = self._caps(payment)
        if not caps:
            return None  # Only capped participants' positions are tracked.
        now = self._clock()
        refused = self._positions.try_hold(self._hold(payment, now, caps), caps, now)
        if refused is None:
            return None
        debit, cap, exposure = refused
        return SwitchError(
            "limit_exceeded",
            f"payment {payment.payment_id}: {debit.participant_id} would owe "
            f"{format_amount(Money.of(exposure + debit.amount, debit.currency))} "
            f"{debit.currency} net in the open settlement window, beyond its net debit cap "
            f"of {format_amount(Money.of(cap, debit.currency))}",
        )

    def _rearm_hold(self, payment: Payment) -> None:
        # The ledger's hold started before now: counting its timeout from now releases
        # the position late, never early.
        if self._positions is not None and self._positions.is_held(payment.payment_id):
            now = self._clock()
            self._positions.try_hold(self._hold(payment, now, self._caps(payment)), {}, now)

    def _release_holds(self, payment_ids: builtins.list[str]) -> None:
        if self._positions is not None:
            self._positions.release(payment_ids)

    @staticmethod
    def postings(payment: Payment) -> builtins.list[Posting]:
        """The payment's effect on each participant's net position once committed."""
        source = payment.source.currency.code
        target = payment.target.currency.code
        return [
            Posting(payment.wallet_id, source, -payment.debit_total.amount),
            Posting(payment.provider_id, source, payment.source.amount),
            Posting(payment.provider_id, target, -payment.target.amount),
            Posting(payment.acquirer_id, target, payment.target.amount),
        ]

    def _gate(self) -> contextlib.AbstractContextManager[None]:
        """Held from a post until positions count it, so a window close sees it once."""
        if self._positions is None:
            return contextlib.nullcontext()
        return self._positions.gate.shared()

    def _posted(self, payments: Sequence[Payment]) -> None:
        if self._positions is None:
            return
        capped = [p for p in payments if self._positions.is_held(p.payment_id)]
        if capped:
            self._positions.post(
                [p.payment_id for p in capped],
                [
                    posting
                    for p in capped
                    for posting in self.postings(p)
                    if self._directory.participant(posting.participant_id).net_debit_cap(
                        posting.currency
                    )
                    is not None
                ],
            )

    # -- commit / abort ------------------------------------------------------------------

    def _reserved_or_received(self, payment: Payment) -> Payment:
        """A RECEIVED payment whose holds are all in the ledger becomes RESERVED (a direct
        one, whose legs are all there, COMMITTED)."""
        if payment.state is PaymentState.RECEIVED and payment.flow == "direct":
            if len(self._ledger.lookup_transfers(builtins.list(payment.transfer_ids))) == len(
                payment.transfer_ids
            ):
                return self._transition(payment, PaymentState.COMMITTED)
            return payment
        if payment.state is PaymentState.RECEIVED and self._ledger_state(payment) is not None:
            return self._transition(payment, PaymentState.RESERVED)
        return payment

    def release_from_review(self, payment_id: str) -> Payment:
        """Commit a payment compliance held for review (its case released it)."""
        return self._commit(payment_id, released=True)

    def commit(self, payment_id: str) -> Payment:
        """Post every leg; returns the payment COMMITTED (unchanged if it already was).

        ``payment_expired`` if the holds expired (the payment is then EXPIRED);
        ``payment_not_reserved`` if it was aborted or its reservation never completed;
        ``payment_under_review`` while compliance holds it (its case releases it).
        """
        return self._commit(payment_id, released=False)

    def _commit(self, payment_id: str, *, released: bool) -> Payment:
        pid = _check_payment_id(payment_id)
        with self._serialized(pid):
            payment = self._reserved_or_received(self.get(pid))
            if payment.state is PaymentState.RESERVED:
                if (
                    not released
                    and self._compliance is not None
                    and self._compliance.under_review(pid)
                ):
                    raise SwitchError(
                        "payment_under_review",
                        f"payment {pid} is held for compliance review; its case releases it",
                    )
                with self._gate():
                    outcome = self._apply(self._resolve_chain(payment, "post"))
                    if outcome is None:
                        self._posted([payment])
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
                    self._release_holds([payment.payment_id])
                    self._forget(payment)
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
        """Scan-and-pay in one call: reserve, then commit. Idempotent like both."""
        request = PaymentRequest(
            payment_id, wallet_id, customer_id, merchant_id, quote_id, hold_timeout_s
        )
        (outcome,) = self.pay_many([request])
        if isinstance(outcome, SwitchError):
            raise outcome
        return outcome

    def pay_many(self, requests: Sequence[PaymentRequest]) -> builtins.list[Payment | SwitchError]:
        """Scan-and-pay for many payments at once; one outcome per request, in order.

        Each outcome is what `pay` would return or raise for that request alone. The work is
        batched: the new payments are recorded in one transaction, their holds go to the
        ledger as one batch of linked chains (each chain still succeeds or fails alone), the
        posts as a second batch, and the final states in one more transaction. The crash
        and retry rules of the module docstring hold unchanged: rows are written before and
        after the ledger, never in between. Requests that repeat a payment id (of this batch
        or of an earlier call) take the one-by-one path, which replays them.
        """
        if not isinstance(requests, Sequence) or len(requests) > PAY_BATCH_MAX:
            raise SwitchError(
                "invalid_payment", f"pay_many takes a sequence of at most {PAY_BATCH_MAX} requests"
            )
        outcomes: builtins.list[Payment | SwitchError | None] = [None] * len(requests)
        fresh: dict[str, tuple[int, _Request]] = {}
        later: builtins.list[int] = []
        for index, raw in enumerate(requests):
            try:
                request = _checked_request(raw)
            except SwitchError as error:
                outcomes[index] = error
                continue
            if request.payment_id in fresh:
                later.append(index)
            else:
                fresh[request.payment_id] = (index, request)
        received: builtins.list[tuple[int, Payment]] = []
        with self._serialized_many(builtins.list(fresh)):
            for payment_id in self._existing_ids(builtins.list(fresh)):
                later.append(fresh.pop(payment_id)[0])
            now = self._clock()
            for index, request in fresh.values():
                try:
                    quote, acquirer_id = self._use_quote(request)
                except SwitchError as error:
                    outcomes[index] = error
                    continue
                received.append((index, self._received(request, quote, acquirer_id, now, "direct")))
            gated = self._gate_payments(received, outcomes)
            inserted = self._insert_many([p for _, p, _ in gated])
        for index, payment, _ in gated:
            if payment.payment_id not in inserted:
                later.append(index)  # Another process recorded this id first.
        gated = [(i, p, a) for i, p, a in gated if p.payment_id in inserted]
        self._pay_direct_many(
            [(i, p) for i, p, _ in gated if p.state is PaymentState.RECEIVED], outcomes
        )
        self._after_gate(gated, outcomes)

        for index in sorted(later):
            raw = requests[index]
            try:
                self.reserve(
                    raw.payment_id,
                    wallet_id=raw.wallet_id,
                    customer_id=raw.customer_id,
                    merchant_id=raw.merchant_id,
                    quote_id=raw.quote_id,
                    hold_timeout_s=raw.hold_timeout_s,
                )
                outcomes[index] = self.commit(raw.payment_id)
            except SwitchError as error:
                outcomes[index] = error
        assert all(outcome is not None for outcome in outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def _submit_direct(self, payment: Payment) -> Payment:
        """Apply a RECEIVED direct payment's chain (again) and record the outcome."""
        outcomes: builtins.list[Payment | SwitchError | None] = [None]
        self._pay_direct_many([(0, payment)], outcomes)
        (outcome,) = outcomes
        if isinstance(outcome, SwitchError):
            raise outcome
        assert outcome is not None
        return outcome

    def _pay_direct_many(
        self,
        received: builtins.list[tuple[int, Payment]],
        outcomes: builtins.list[Payment | SwitchError | None],
    ) -> None:
        """Submit every received payment's chain in one ledger batch; record the outcomes.

        A direct payment is one linked chain of posted transfers (the three legs), so it is
        reserved and committed at once, atomically: RECEIVED → COMMITTED. A two-phase one
        (held for review) is a chain of pending transfers: RECEIVED → RESERVED. A refused
        chain leaves the payment ABORTED with the ledger's refusal. Net debit caps are
        checked first.
        """
        if not received:
            return
        admitted: builtins.list[tuple[int, Payment]] = []
        aborted: builtins.list[tuple[int, Payment, SwitchError]] = []
        for index, payment in received:
            refused = self._take_hold(payment)
            if refused is None:
                admitted.append((index, payment))
            else:
                aborted.append((index, payment, refused))
        committed: builtins.list[tuple[int, Payment]] = []
        with self._gate():
            chains = [self._pending_chain(p) for _, p in admitted]
            events = [t for chain in chains for t in chain]
            results = self._ledger.create_transfers(events) if events else []
            offset = 0
            for (index, payment), chain in zip(admitted, chains, strict=True):
                chain_results = results[offset : offset + len(chain)]
                offset += len(chain)
                failure = _chain_failure(chain_results)
                if failure is None:
                    committed.append((index, payment))
                    continue
                failed_at, code = failure
                # Only an earlier attempt (a crash, a concurrent retry) can have written
                # these ids; the chain is atomic, so it was applied iff all of them exist.
                if code is CreateTransferResult.EXISTS and len(
                    self._ledger.lookup_transfers([t.id for t in chain])
                ) == len(chain):
                    committed.append((index, payment))
                    continue
                aborted.append((index, payment, self._reserve_error(payment, failed_at, code)))
            self._posted([p for _, p in committed if p.flow == "direct"])
        self._release_holds([p.payment_id for _, p, _ in aborted])
        for _, payment in committed:
            if payment.flow != "direct":
                self._rearm_hold(payment)
        now = self._clock()
        ids = [p.payment_id for _, p in committed if p.flow == "direct"]
        held = [p.payment_id for _, p in committed if p.flow != "direct"]
        with self._write():
            changed = self._db.execute(
                "UPDATE payments SET state = ?, updated_ns = ? WHERE state = ? AND payment_id IN"
                " (SELECT value FROM json_each(?))",
                (PaymentState.COMMITTED.value, now, PaymentState.RECEIVED.value, json.dumps(ids)),
            ).rowcount
            if held:
                changed += self._db.execute(
                    "UPDATE payments SET state = ?, updated_ns = ? WHERE state = ? AND"
                    " payment_id IN (SELECT value FROM json_each(?))",
                    (
                        PaymentState.RESERVED.value,
                        now,
                        PaymentState.RECEIVED.value,
                        json.dumps(held),
                    ),
                ).rowcount
            if aborted:
                self._db.executemany(
                    "UPDATE payments SET state = ?, updated_ns = ?, error_code = ?,"
                    " error_message = ? WHERE payment_id = ? AND state = ?",
                    [
                        (
                            PaymentState.ABORTED.value,
                            now,
                            e.code,
                            str(e),
                            p.payment_id,
                            PaymentState.RECEIVED.value,
                        )
                        for _, p, e in aborted
                    ],
                )
        for index, _, error in aborted:
            outcomes[index] = error
        if changed == len(committed):
            for index, payment in committed:
                state = (
                    PaymentState.COMMITTED if payment.flow == "direct" else PaymentState.RESERVED
                )
                outcomes[index] = _replace_state(payment, state, now)
            return
        for index, payment in committed:  # Another call moved a row meanwhile: read back.
            stored = self.get(payment.payment_id)
            outcomes[index] = (
                stored
                if stored.state in (PaymentState.COMMITTED, PaymentState.RESERVED)
                else SwitchError(
                    stored.error_code or "ledger_rejected",
                    stored.error_message or f"payment {payment.payment_id} is {stored.state}",
                )
            )

    def _gate_payments(
        self,
        received: builtins.list[tuple[int, Payment]],
        outcomes: builtins.list[Payment | SwitchError | None],
    ) -> builtins.list[tuple[int, Payment, Assessed | None]]:
        """Ask compliance about each payment: BLOCK → recorded ABORTED with the reasons,
        REVIEW → held (two-phase) for review, ALLOW → as it is."""
        if self._compliance is None or not received:
            return [(i, p, None) for i, p in received]
        try:
            assessed: builtins.list[Assessed | SwitchError] = builtins.list(
                self._compliance.assess([p for _, p in received])
            )
        except SwitchError:
            assessed = [self._assess_one(p) for _, p in received]
        gated: builtins.list[tuple[int, Payment, Assessed | None]] = []
        for (index, payment), outcome in zip(received, assessed, strict=True):
            if isinstance(outcome, SwitchError):
                # Compliance could not decide: the payment is refused, and recorded so.
                outcomes[index] = outcome
                payment = dataclasses.replace(
                    payment,
                    state=PaymentState.ABORTED,
                    error_code=outcome.code,
                    error_message=str(outcome),
                )
                gated.append((index, payment, None))
                continue
            event, decision = outcome
            if decision.verdict is Verdict.BLOCK:
                error = blocked_error(payment.payment_id, decision)
                payment = dataclasses.replace(
                    payment,
                    state=PaymentState.ABORTED,
                    error_code=error.code,
                    error_message=str(error),
                )
                outcomes[index] = error
            elif decision.verdict is Verdict.REVIEW and payment.flow == "direct":
                legs = payment.legs
                payment = dataclasses.replace(
                    payment,
                    flow="two_phase",
                    hold_timeout_s=max(payment.hold_timeout_s, REVIEW_HOLD_TIMEOUT_S),
                    transfer_ids=tuple(
                        _derived_ids(payment.payment_id, [(leg, "reserve") for leg in legs])
                    ),
                )
            gated.append((index, payment, (event, decision)))
        return gated

    def _assess_one(self, payment: Payment) -> Assessed | SwitchError:
        assert self._compliance is not None
        try:
            (assessed,) = self._compliance.assess([payment])
        except SwitchError as error:
            return error
        return assessed

    def _after_gate(
        self,
        gated: builtins.list[tuple[int, Payment, Assessed | None]],
        outcomes: builtins.list[Payment | SwitchError | None],
    ) -> None:
        """Tell compliance what became of the payments it assessed."""
        if self._compliance is None:
            return
        went: builtins.list[Assessed] = []
        blocked: builtins.list[Assessed] = []
        failed: builtins.list[PaymentEvent] = []
        for index, _, assessed in gated:
            if assessed is None:
                continue
            if assessed[1].verdict is Verdict.BLOCK:
                blocked.append(assessed)
            elif isinstance(outcomes[index], Payment):
                went.append(assessed)
            else:
                failed.append(assessed[0])
        if went:
            self._compliance.admitted(went)
        if blocked:
            self._compliance.blocked(blocked)
        if failed:
            self._compliance.rejected(failed)

    def _forget(self, payment: Payment) -> None:
        """A held payment was aborted or expired: it no longer counts against limits."""
        if self._compliance is not None:
            self._compliance.rejected([self._compliance.event(payment)])

    def _existing_ids(self, payment_ids: builtins.list[str]) -> builtins.list[str]:
        if not payment_ids:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT payment_id FROM payments WHERE payment_id IN"
                " (SELECT value FROM json_each(?))",
                (json.dumps(payment_ids),),
            ).fetchall()
        return [str(row[0]) for row in rows]

    def _received(
        self, request: _Request, quote: Quote, acquirer_id: str, now: int, flow: str
    ) -> Payment:
        pid = request.payment_id
        legs = _LEGS if quote.fee.amount > 0 else _LEGS[:2]
        action = "direct" if flow == "direct" else "reserve"
        ids = _derived_ids(pid, [(leg, action) for leg in legs])
        return Payment(
            payment_id=pid,
            state=PaymentState.RECEIVED,
            wallet_id=request.wallet_id,
            customer_id=request.customer_id,
            merchant_id=request.merchant_id,
            acquirer_id=acquirer_id,
            provider_id=quote.provider_id,
            quote_id=quote.quote_id,
            source=quote.source,
            target=quote.target,
            fee=quote.fee,
            rate=quote.rate,
            hold_timeout_s=request.hold_timeout_s,
            transfer_ids=tuple(ids),
            request_sha256=request.sha256,
            created_ns=now,
            updated_ns=now,
            error_code=None,
            error_message=None,
            flow=flow,
        )

    def _insert_many(self, payments: builtins.list[Payment]) -> set[str]:
        """Insert RECEIVED rows; the ids inserted (not those another process wrote first)."""
        if not payments:
            return set()
        rows = [
            (
                p.payment_id,
                p.request_sha256,
                p.state.value,
                p.wallet_id,
                p.customer_id,
                p.merchant_id,
                p.acquirer_id,
                p.provider_id,
                p.quote_id,
                p.source.currency.code,
                p.source.amount,
                p.target.currency.code,
                p.target.amount,
                p.fee.amount,
                str(p.rate),
                p.hold_timeout_s,
                *(_hex(i) for i in p.transfer_ids[:2]),
                _hex(p.transfer_ids[2]) if len(p.transfer_ids) > 2 else None,
                p.created_ns,
                p.updated_ns,
                p.error_code,
                p.error_message,
                p.flow,
            )
            for p in payments
        ]
        with self._write():
            before = self._db.total_changes
            self._db.executemany(
                f"INSERT INTO payments ({_COLUMNS}) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (payment_id) DO NOTHING",
                rows,
            )
            if self._db.total_changes - before == len(rows):
                return {p.payment_id for p in payments}
            # Another process inserted some of these ids first: a row is ours if it has our
            # quote (a quote is used once) and our creation time.
            stored = self._db.execute(
                "SELECT payment_id, quote_id, created_ns FROM payments WHERE payment_id IN"
                " (SELECT value FROM json_each(?))",
                (json.dumps([p.payment_id for p in payments]),),
            ).fetchall()
        ours = {(p.payment_id, p.quote_id, p.created_ns) for p in payments}
        return {str(r[0]) for r in stored if (str(r[0]), str(r[1]), int(r[2])) in ours}

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

    def list_all(self, *, state: PaymentState) -> builtins.list[Payment]:
        """Every payment in `state` (for recovery: unresolved payments are few)."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM payments WHERE state = ?", (state.value,)
            ).fetchall()
        return [_payment(row) for row in rows]

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
